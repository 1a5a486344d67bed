//! One krew install, six plugins: with only krew's link to `kubectl-sealos` on PATH (the other
//! binaries in krew's store beside its target), the real kubectl falls back to it for
//! `kubectl sealos VERB`, and it runs the sibling with the arguments and exit code intact.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use sealos_e2e::{PLUGINS, bin_dir, plugin_bin, run};

/// krew's layout: `store/` holds the archive's binaries, `bin/kubectl-sealos` links into it.
struct Krew {
    _dir: tempfile::TempDir,
    home: PathBuf,
    store: PathBuf,
    bin: PathBuf,
}

fn krew(plugins: &[&str]) -> Krew {
    let dir = tempfile::tempdir().unwrap();
    let (home, store, bin) = (
        dir.path().join("home"),
        dir.path().join("store/sealos/v0.1.0"),
        dir.path().join("bin"),
    );
    for d in [&home, &store, &bin] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::copy(
        bin_dir().join("kubectl-sealos"),
        store.join("kubectl-sealos"),
    )
    .unwrap();
    for plugin in plugins {
        let name = format!("kubectl-sealos-{plugin}");
        std::fs::copy(plugin_bin(plugin), store.join(&name)).unwrap();
    }
    symlink(store.join("kubectl-sealos"), bin.join("kubectl-sealos")).unwrap();
    Krew {
        _dir: dir,
        home,
        store,
        bin,
    }
}

/// kubectl with only krew's bin directory and the system's on PATH.
fn kubectl(krew: &Krew) -> Command {
    let mut command = Command::new("kubectl");
    command
        .env("HOME", &krew.home)
        .env(
            "PATH",
            std::env::join_paths([
                krew.bin.as_path(),
                Path::new("/usr/local/bin"),
                Path::new("/usr/bin"),
                Path::new("/bin"),
            ])
            .unwrap(),
        )
        .env_remove("KUBECONFIG");
    command
}

#[test]
fn kubectl_reaches_every_plugin_through_the_one_link() {
    let krew = krew(&PLUGINS);
    for plugin in PLUGINS {
        run(kubectl(&krew).args(["sealos", plugin, "--help"]))
            .expect_code(0)
            .expect_stdout_contains(&format!("Usage: kubectl sealos {plugin}"));
    }
    let list = run(kubectl(&krew).arg("sealos"));
    list.expect_code(0);
    for plugin in PLUGINS {
        assert!(
            list.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(plugin)),
            "{plugin} not listed\n{list}"
        );
    }
    assert!(!list.stdout.contains("not installed"), "{list}");

    let version = run(kubectl(&krew).args(["sealos", "version", "-o", "json"]));
    version.expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&version.stdout).unwrap();
    assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
    let plugins = doc["plugins"].as_array().unwrap();
    assert_eq!(plugins.len(), 6);
    for p in plugins {
        assert_eq!(p["installed"], true, "{p}");
        assert!(
            p["version"]
                .as_str()
                .unwrap()
                .starts_with(env!("CARGO_PKG_VERSION")),
            "{p}"
        );
    }
}

#[test]
fn arguments_and_exit_codes_pass_through_unchanged() {
    let krew = krew(&["health"]);
    // A stand-in bench that shows what it was given and exits with a code of its own.
    let fake = krew.store.join("kubectl-sealos-bench");
    std::fs::write(
        &fake,
        "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\nexit 7\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = run(kubectl(&krew).args(["sealos", "bench", "run", "a b", "--", "-c 1"]));
    out.expect_code(7);
    assert_eq!(out.stdout, "[run]\n[a b]\n[--]\n[-c 1]\n", "{out}");
}

#[test]
fn a_missing_plugin_or_an_unknown_verb_is_exit_2() {
    let krew = krew(&["health"]);
    let missing = run(kubectl(&krew).args(["sealos", "cert", "check"]));
    missing.expect_code(2);
    assert!(
        missing
            .stderr
            .contains("kubectl-sealos-cert is not installed beside kubectl-sealos"),
        "{missing}"
    );
    let list = run(kubectl(&krew).arg("sealos"));
    assert!(list.stdout.contains("(not installed)"), "{list}");

    let unknown = run(kubectl(&krew).args(["sealos", "../../../bin/sh"]));
    unknown.expect_code(2);
    assert!(
        unknown
            .stderr
            .contains("unknown command \"../../../bin/sh\" for \"kubectl sealos\""),
        "{unknown}"
    );
}
