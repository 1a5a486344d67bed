//! `completion install [--dir DIR]`: the `kubectl_complete-*` links kubectl looks for on PATH.
//!
//! kubectl names the executable after the command path: `kubectl sealos rollout` (binary
//! `kubectl-sealos-rollout`) → `kubectl_complete-sealos-rollout`; `kubectl sealos-rollout` (krew's
//! link `kubectl-sealos_rollout`) → `kubectl_complete-sealos_rollout`. Both are written, as links
//! to this binary, which answers when started under such a name.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One link written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub link: PathBuf,
    pub target: PathBuf,
}

/// Where links go without `--dir`: beside the binary as kubectl started it (krew's bin
/// directory, which is on PATH), else beside the binary itself.
pub fn default_dir() -> Result<PathBuf> {
    let invoked = std::env::args_os().next().map(PathBuf::from);
    if let Some(dir) = invoked
        .as_deref()
        .filter(|p| p.components().count() > 1)
        .and_then(Path::parent)
    {
        return Ok(dir.to_path_buf());
    }
    let exe = current_exe()?;
    exe.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| Error::failed("find the directory of this binary"))
}

fn current_exe() -> Result<PathBuf> {
    std::env::current_exe().map_err(|e| Error::io("find this binary", e))
}

/// The completion executables' names for the plugin binary `binary` (`kubectl-sealos-rollout`).
pub fn link_names(binary: &str) -> Vec<String> {
    let Some(plugin) = binary.strip_prefix("kubectl-") else {
        return Vec::new();
    };
    let mut names = vec![format!("kubectl_complete-{plugin}")];
    // krew's form: `kubectl-sealos_rollout` is the command `sealos-rollout`.
    if let Some((suite, verb)) = plugin.split_once('-') {
        names.push(format!("kubectl_complete-{suite}_{verb}"));
    }
    names
}

/// Links `dir/<name>` → this binary for each of `binary`'s names, and `kubectl_complete-sealos`
/// → the umbrella `kubectl-sealos` when it is beside this binary.
pub fn install(binary: &str, dir: &Path) -> Result<Vec<Written>> {
    if !dir.is_dir() {
        return Err(Error::usage(format!(
            "--dir {}: not a directory",
            dir.display()
        )));
    }
    let exe = current_exe()?;
    let mut written = Vec::new();
    for name in link_names(binary) {
        written.push(link(&exe, &dir.join(name))?);
    }
    let umbrella = exe.with_file_name("kubectl-sealos");
    if binary != "kubectl-sealos" && umbrella.is_file() {
        written.push(link(&umbrella, &dir.join("kubectl_complete-sealos"))?);
    }
    Ok(written)
}

/// Replaces a link at `at` (ours from an earlier install, or a stale one); never a file.
fn link(target: &Path, at: &Path) -> Result<Written> {
    match std::fs::symlink_metadata(at) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::remove_file(at)
            .map_err(|e| Error::io(format!("replace {}", at.display()), e))?,
        Ok(_) => {
            return Err(Error::usage(format!(
                "{} exists and is not a link: remove it first",
                at.display()
            )));
        }
        Err(_) => {}
    }
    symlink(target, at).map_err(|e| Error::io(format!("link {}", at.display()), e))?;
    Ok(Written {
        link: at.to_path_buf(),
        target: target.to_path_buf(),
    })
}

#[cfg(unix)]
fn symlink(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(not(unix))]
fn symlink(target: &Path, at: &Path) -> std::io::Result<()> {
    std::fs::copy(target, at).map(drop)
}

/// True when `dir` is one of PATH's directories: kubectl looks nowhere else.
pub fn on_path(dir: &Path) -> bool {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|p| p.canonicalize().unwrap_or(p) == dir)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_follow_kubectl_for_both_install_forms() {
        assert_eq!(
            link_names("kubectl-sealos-rollout"),
            [
                "kubectl_complete-sealos-rollout",
                "kubectl_complete-sealos_rollout"
            ]
        );
        assert_eq!(link_names("kubectl-sealos"), ["kubectl_complete-sealos"]);
        assert!(link_names("other").is_empty());
    }

    #[test]
    fn a_file_in_the_way_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("kubectl_complete-sealos-x");
        std::fs::write(&at, "mine").unwrap();
        let err = link(Path::new("/bin/true"), &at).unwrap_err();
        assert!(err.to_string().contains("is not a link"), "{err}");
        assert_eq!(std::fs::read_to_string(&at).unwrap(), "mine");
        // A link is replaced.
        let other = dir.path().join("kubectl_complete-sealos-y");
        symlink(Path::new("/nonexistent"), &other).unwrap();
        link(Path::new("/bin/true"), &other).unwrap();
        assert_eq!(std::fs::read_link(&other).unwrap(), Path::new("/bin/true"));
    }
}
