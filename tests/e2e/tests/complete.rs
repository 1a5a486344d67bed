//! Completion through the real kubectl (1.26+ plugin completion): after `completion install
//! --dir D` with D on PATH, `kubectl __complete sealos <verb> ...` runs our
//! `kubectl_complete-sealos-<verb>` and shows its candidates, read from the cluster.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use sealos_e2e::{Output, PLUGINS, bin_dir, plugin_bin, run};
use sealos_sandbox::{Sandbox, SandboxOptions};
use serde_json::Value;

/// PATH with the completion directory and the plugins first.
fn path(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf(), bin_dir().to_path_buf()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

fn command(program: &Path, home: &Path, dir: &Path, sandbox: &Sandbox) -> Command {
    let mut command = Command::new(program);
    command
        .env("HOME", home)
        .env("PATH", path(dir))
        .env("KUBECONFIG", sandbox.kubeconfig_path())
        .env("NO_COLOR", "1");
    command
}

/// The candidates of `kubectl __complete WORDS...`, without descriptions and the directive.
fn candidates(out: &Output) -> Vec<String> {
    out.expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines.last().is_some_and(|l| l.starts_with(':')),
        "no directive line\n{out}"
    );
    lines[..lines.len() - 1]
        .iter()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_completes_the_plugins_from_the_cluster() {
    bin_dir();
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (home, dir) = (home.path(), dir.path());
    for plugin in PLUGINS {
        let dir_text = dir.to_string_lossy().to_string();
        let out = run(command(&plugin_bin(plugin), home, dir, &sandbox).args([
            "completion",
            "install",
            "--dir",
            &dir_text,
        ]));
        out.expect_code(0)
            .expect_stdout_contains(&format!("kubectl_complete-sealos-{plugin} -> "));
        assert!(
            dir.join(format!("kubectl_complete-sealos-{plugin}"))
                .exists()
        );
        // krew's link form (`kubectl sealos-<verb>`) too.
        assert!(
            dir.join(format!("kubectl_complete-sealos_{plugin}"))
                .exists()
        );
    }
    // The umbrella's, since kubectl-sealos is beside the plugins.
    assert!(dir.join("kubectl_complete-sealos").exists());
    let kubectl = |words: &[&str]| {
        let mut cmd = command(Path::new("kubectl"), home, dir, &sandbox);
        cmd.arg("__complete").args(words);
        run(&mut cmd)
    };

    // `kubectl sealos rollout set <TAB>`: the seeded controllers, as `rollout status` finds them.
    let status =
        run(command(&plugin_bin("rollout"), home, dir, &sandbox).args(["status", "-o", "json"]));
    let report: Value =
        serde_json::from_str(&status.stdout).unwrap_or_else(|e| panic!("{e}\n{status}"));
    let mut controllers: Vec<String> = report["controllers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    controllers.sort();
    assert!(
        controllers.contains(&"terminal-controller".to_string()),
        "{status}"
    );
    let out = kubectl(&["sealos", "rollout", "set", ""]);
    let mut offered = candidates(&out);
    offered.sort();
    assert_eq!(offered, controllers, "{out}");
    assert!(
        out.stdout.ends_with(":4\n"),
        "no file completion for names\n{out}"
    );

    // `kubectl sealos cert inspect -n ns-alice <TAB>`: that namespace's Certificates (and its
    // TLS Secrets, as secret/NAME).
    let listed = run(command(Path::new("kubectl"), home, dir, &sandbox).args([
        "get",
        "certificates",
        "-n",
        "ns-alice",
        "-o",
        "name",
    ]));
    let certificates: Vec<String> = listed
        .stdout
        .lines()
        .map(|l| {
            l.trim_start_matches("certificate.cert-manager.io/")
                .to_string()
        })
        .collect();
    assert!(!certificates.is_empty(), "{listed}");
    let out = kubectl(&["sealos", "cert", "inspect", "-n", "ns-alice", ""]);
    let offered = candidates(&out);
    let offered_certificates: Vec<String> = offered
        .iter()
        .filter(|c| !c.starts_with("secret/"))
        .cloned()
        .collect();
    assert_eq!(offered_certificates, certificates, "{out}");
    // The words in the order complete the last one, -n's value: namespaces.
    let out = kubectl(&["sealos", "cert", "inspect", "", "-n", "ns-al"]);
    assert_eq!(candidates(&out), ["ns-alice"], "{out}");

    // `kubectl sealos health --only <TAB>`: the areas.
    let out = kubectl(&["sealos", "health", "--only", ""]);
    let areas = candidates(&out);
    for area in ["certificates", "controllers", "gateways"] {
        assert!(areas.iter().any(|a| a == area), "{area} missing\n{out}");
    }
    // Subcommands and flags come from the same tree.
    assert!(candidates(&kubectl(&["sealos", "rollout", ""])).contains(&"set".to_string()));
    assert!(
        candidates(&kubectl(&["sealos", "rollout", "set", "--dry"]))
            .contains(&"--dry-run".to_string())
    );
    // kubectl lists the verbs itself; the umbrella's answer adds `version`.
    let verbs = candidates(&kubectl(&["sealos", ""]));
    assert!(
        verbs.contains(&"health".to_string()) && verbs.contains(&"version".to_string()),
        "{verbs:?}"
    );

    // No cluster: no candidates, no message, still a directive.
    let mut cmd = command(Path::new("kubectl"), home, dir, &sandbox);
    cmd.env("KUBECONFIG", dir.join("missing-kubeconfig")).args([
        "__complete",
        "sealos",
        "rollout",
        "set",
        "",
    ]);
    let out = run(&mut cmd);
    assert!(candidates(&out).is_empty(), "{out}");
}
