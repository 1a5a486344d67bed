//! The audit log: one JSON line per mutating action, appended, readable only by its owner.
//!
//! Default `$XDG_STATE_HOME/kubectl-sealos/audit.jsonl` (else `~/.local/state/...`), overridable
//! with `--audit-log PATH`. Records carry summaries chosen by the plugin, never Secret data.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// The object an action touched.
pub use crate::resources::ObjectRef;

/// One mutating action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub time: String,
    pub context: String,
    pub user: String,
    pub plugin: String,
    pub action: String,
    pub object: ObjectRef,
    pub before: Value,
    pub after: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub dry_run: bool,
    /// "ok" or the error that stopped the action.
    pub outcome: String,
}

impl Record {
    /// A record stamped with the current time.
    pub fn now(plugin: &str, action: &str, object: ObjectRef) -> Record {
        Record {
            time: jiff::Timestamp::now().to_string(),
            context: String::new(),
            user: String::new(),
            plugin: plugin.to_string(),
            action: action.to_string(),
            object,
            before: Value::Null,
            after: Value::Null,
            reason: None,
            dry_run: false,
            outcome: "ok".to_string(),
        }
    }
}

/// An append-only JSON-lines file.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    /// The log at `path`, or the default place. Creates nothing until the first record.
    pub fn new(path: Option<&Path>) -> Result<AuditLog> {
        let path = match path {
            Some(path) => path.to_path_buf(),
            None => default_path(std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME"))
                .ok_or_else(|| {
                    Error::Config(
                        "no place for the audit log: set --audit-log, XDG_STATE_HOME or HOME"
                            .into(),
                    )
                })?,
        };
        Ok(AuditLog { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as a single write, so concurrent writers never interleave a line.
    pub fn record(&self, record: &Record) -> Result<()> {
        let context = || format!("write audit log {}", self.path.display());
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(context(), e))?;
        }
        let mut line =
            serde_json::to_vec(record).map_err(|e| Error::failed(format!("{}: {e}", context())))?;
        line.push(b'\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(|e| Error::io(context(), e))?;
        file.write_all(&line).map_err(|e| Error::io(context(), e))
    }

    /// Every record in the log, oldest first.
    pub fn read_all(&self) -> Result<Vec<Record>> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| Error::io(format!("read audit log {}", self.path.display()), e))?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|e| Error::failed(format!("bad audit record: {e}")))
            })
            .collect()
    }
}

fn default_path(
    xdg_state_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    let state = match xdg_state_home.filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(home.filter(|v| !v.is_empty())?)
            .join(".local")
            .join("state"),
    };
    Some(state.join("kubectl-sealos").join("audit.jsonl"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn default_path_follows_xdg_then_home() {
        assert_eq!(
            default_path(Some("/state".into()), Some("/home/u".into())),
            Some(PathBuf::from("/state/kubectl-sealos/audit.jsonl"))
        );
        assert_eq!(
            default_path(None, Some("/home/u".into())),
            Some(PathBuf::from(
                "/home/u/.local/state/kubectl-sealos/audit.jsonl"
            ))
        );
        assert_eq!(default_path(Some("".into()), None), None);
    }

    #[test]
    fn records_append_as_private_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(Some(&dir.path().join("nested/audit.jsonl"))).unwrap();
        let object = ObjectRef {
            kind: "Deployment".into(),
            namespace: Some("sealos-system".into()),
            name: "x".into(),
        };
        let mut first = Record::now("rollout", "set", object.clone());
        first.before = serde_json::json!({"ISTIO_PERCENTAGE": "0"});
        first.after = serde_json::json!({"ISTIO_PERCENTAGE": "50"});
        first.reason = Some("canary".into());
        log.record(&first).unwrap();
        log.record(&Record::now("rollout", "rollback", object))
            .unwrap();
        let records = log.read_all().unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0], first);
        assert_eq!(records[1].action, "rollback");
        let mode = std::fs::metadata(log.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
