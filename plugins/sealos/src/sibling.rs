//! Where a plugin's binary is: beside this one. krew links only `kubectl-sealos` into its bin
//! directory and keeps the archive's other binaries in its store, so the real path of this
//! executable (links resolved) is where the siblings are. `cargo install` and the release archive
//! put all seven in one directory too.

use std::path::{Path, PathBuf};

/// The directory holding this executable, links resolved.
pub fn home() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let real = exe
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", exe.display()))?;
    real.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{} has no parent directory", real.display()))
}

/// The file name of a plugin's binary on this platform.
pub fn file_name(verb: &str) -> String {
    format!("kubectl-sealos-{verb}{}", std::env::consts::EXE_SUFFIX)
}

/// The plugin's binary in `dir`, if it is there.
pub fn find(dir: &Path, verb: &str) -> Option<PathBuf> {
    let path = dir.join(file_name(verb));
    path.is_file().then_some(path)
}
