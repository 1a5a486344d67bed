//! The plugin binaries. Cargo only sets `CARGO_BIN_EXE_*` for a test's own package, so these
//! tests build them once per test process into the same target directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const PLUGINS: [&str; 6] = ["health", "rollout", "cert", "diag", "backup", "bench"];

/// The workspace root (this crate is at tests/e2e).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("../.."))
}

/// The directory holding the plugin binaries, built on first use with the test's own profile.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // target/<profile>/deps/<test> → target/<profile>
        let exe = std::env::current_exe().unwrap_or_default();
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let target_dir = profile_dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("debug");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let mut build = Command::new(cargo);
        build
            .current_dir(workspace_root())
            .arg("build")
            .arg("--target-dir")
            .arg(&target_dir);
        if profile == "release" {
            build.arg("--release");
        }
        // The whole workspace with its examples, so that dev-dependencies are resolved as
        // `cargo test --workspace` resolves them: the same features, the same artifacts, nothing
        // rebuilt. `-p` per plugin resolved other features (hyper's server, regex's DFA) and built a
        // second copy of kube, aws-sdk-s3 and the shared crate, which filled CI's disk.
        build.args(["--workspace", "--bins", "--examples"]);
        // Cargo runs tests with the package's own variables set (CARGO_MANIFEST_DIR, CARGO_PKG_*,
        // ...). Passed on, they count as a changed environment for build scripts that watch them
        // (ring's watches CARGO_MANIFEST_DIR), and ring and all above it would be rebuilt here,
        // then again by the next `cargo test`.
        for (name, _) in std::env::vars_os() {
            if name.to_str().is_some_and(set_by_cargo_for_tests) {
                build.env_remove(&name);
            }
        }
        let status = build.status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "building the plugins failed: {status:?}"
        );
        profile_dir
    })
}

/// The variables cargo sets for a test process of one package, which are not the user's.
fn set_by_cargo_for_tests(name: &str) -> bool {
    const EXACT: [&str; 7] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "OUT_DIR",
    ];
    EXACT.contains(&name) || name.starts_with("CARGO_PKG_") || name.starts_with("CARGO_BIN_EXE_")
}

/// The path of `kubectl-sealos-<plugin>`.
pub fn plugin_bin(plugin: &str) -> PathBuf {
    bin_dir().join(format!("kubectl-sealos-{plugin}"))
}
