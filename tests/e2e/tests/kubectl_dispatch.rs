//! The real kubectl finds and dispatches the plugins, by their own names and by krew's link names.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use sealos_e2e::{PLUGINS, bin_dir, plugin_bin, run};

/// kubectl with an isolated HOME (no cache, no kubeconfig) and `dir` first on PATH.
fn kubectl(home: &Path, dir: &Path) -> Command {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(&path));
    let mut command = Command::new("kubectl");
    command
        .env("HOME", home)
        .env("PATH", std::env::join_paths(paths).unwrap())
        .env_remove("KUBECONFIG");
    command
}

#[test]
fn plugin_list_finds_all_six_on_the_target_directory() {
    let home = tempfile::tempdir().unwrap();
    let out = run(kubectl(home.path(), bin_dir()).args(["plugin", "list", "--name-only"]));
    for plugin in PLUGINS {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.trim() == format!("kubectl-sealos-{plugin}")),
            "{plugin} not listed\n{out}"
        );
    }
    // Cargo leaves `kubectl-sealos-<verb>.d` dep-info files beside the binaries; kubectl lists
    // them too and exits 1 because they are not executable. Nothing else may be wrong.
    if out.code != Some(0) {
        out.expect_code(1);
        let warnings: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.contains("warning:"))
            .collect();
        assert!(!warnings.is_empty(), "exit 1 without warnings\n{out}");
        for warning in warnings {
            assert!(
                warning.contains(".d identified as a kubectl plugin, but it is not executable"),
                "unexpected warning {warning:?}\n{out}"
            );
        }
    }
}

#[test]
fn kubectl_sealos_verb_dispatches() {
    let home = tempfile::tempdir().unwrap();
    for plugin in PLUGINS {
        run(kubectl(home.path(), bin_dir()).args(["sealos", plugin, "--help"]))
            .expect_code(0)
            .expect_stdout_contains(&format!("Usage: kubectl sealos {plugin}"));
    }
    // Exit codes pass through kubectl unchanged.
    run(kubectl(home.path(), bin_dir()).args(["sealos", "health", "--no-such-flag"]))
        .expect_code(2);
}

#[test]
fn krew_link_names_dispatch() {
    // krew links kubectl-sealos_health → kubectl sealos-health.
    let home = tempfile::tempdir().unwrap();
    let krew_bin = home.path().join(".krew/bin");
    std::fs::create_dir_all(&krew_bin).unwrap();
    for plugin in PLUGINS {
        std::os::unix::fs::symlink(
            plugin_bin(plugin),
            krew_bin.join(format!("kubectl-sealos_{plugin}")),
        )
        .unwrap();
    }
    let out = run(kubectl(home.path(), &krew_bin).args(["plugin", "list", "--name-only"]));
    out.expect_code(0);
    for plugin in PLUGINS {
        assert!(
            out.stdout.contains(&format!("kubectl-sealos_{plugin}")),
            "{out}"
        );
        run(kubectl(home.path(), &krew_bin).args([&format!("sealos-{plugin}"), "--version"]))
            .expect_code(0)
            .expect_stdout_contains(&format!("kubectl-sealos-{plugin} 0.1.0"));
    }
}
