//! `kubectl sealos version`: this binary's version and each plugin's, as each reports it.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::{sibling, suite};

/// One plugin as found beside this binary.
pub struct Found {
    pub verb: &'static str,
    /// `--version`'s first line without the binary name; None when the binary is missing.
    pub version: Option<String>,
}

pub fn survey(dir: &Path) -> Vec<Found> {
    suite::PLUGINS
        .iter()
        .map(|p| Found {
            verb: p.verb,
            version: sibling::find(dir, p.verb).and_then(|path| reported_version(&path)),
        })
        .collect()
}

/// What `BIN --version` prints (`kubectl-sealos-health 0.1.0 (...)`), without the name.
fn reported_version(path: &Path) -> Option<String> {
    let out = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next()?.trim();
    let version = line.split_once(' ').map_or(line, |(_, v)| v).trim();
    (out.status.success() && !version.is_empty()).then(|| version.to_string())
}

pub fn render_text(found: &[Found]) -> String {
    let mut out = format!("kubectl-sealos {}\n", env!("CARGO_PKG_VERSION"));
    for f in found {
        let version = f.version.as_deref().unwrap_or("not installed");
        out.push_str(&format!("  {:<8} {version}\n", f.verb));
    }
    out
}

pub fn render_json(found: &[Found]) -> String {
    let plugins: Vec<Value> = found
        .iter()
        .map(|f| json!({ "name": f.verb, "installed": f.version.is_some(), "version": f.version }))
        .collect();
    let doc = json!({ "version": env!("CARGO_PKG_VERSION"), "plugins": plugins });
    format!("{doc:#}\n")
}
