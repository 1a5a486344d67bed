//! A namespace cloned beside its original, judged by `health` (issue 22): `backup restore
//! --namespace-map ns-alice=ns-alice2 --host-map ...` into the same cluster leaves no host claimed
//! twice on a gateway and no destination pointing nowhere.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use sealos_e2e::{Output, plugin_bin, run};
use sealos_sandbox::{Sandbox, SandboxOptions};
use serde_json::{Value, json};

fn plugin(sandbox: &Sandbox, home: &std::path::Path, name: &str, args: &[&str]) -> Output {
    let mut command = Command::new(plugin_bin(name));
    command
        .args(args)
        .env("HOME", home)
        .env("KUBECONFIG", sandbox.kubeconfig_path())
        .env("NO_COLOR", "1")
        .env("XDG_STATE_HOME", home.join("state"));
    tokio::task::block_in_place(|| run(&mut command))
}

/// The app itself is not configuration: backup never takes Services. The operator deploys it
/// in the new namespace first, as they would before moving its traffic configuration.
fn deploy_app_copy(sandbox: &Sandbox, from: &str, to: &str) {
    sandbox
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": to}}))
        .unwrap();
    for service in sandbox.objects("", "services", Some(from)) {
        let mut spec = service["spec"].clone();
        if let Some(spec) = spec.as_object_mut() {
            spec.remove("clusterIP");
            spec.remove("clusterIPs");
        }
        sandbox
            .create(json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": service["metadata"]["name"], "namespace": to,
                             "labels": service["metadata"]["labels"]},
                "spec": spec,
            }))
            .unwrap();
    }
}

fn findings_about(report: &Value, namespace: &str) -> Vec<Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["object"]["namespace"] == namespace && f["status"] != "OK")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_clone_claims_no_host_twice_and_routes_to_itself() {
    let sandbox = Sandbox::start(SandboxOptions::scenario("sealos"))
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let archive = home.path().join("alice.tar.gz");
    let archive = archive.to_str().unwrap();

    let before = plugin(
        &sandbox,
        home.path(),
        "health",
        &["check", "--only", "virtual-services", "-o", "json"],
    );
    let before: Value = serde_json::from_str(&before.stdout).unwrap();
    assert!(findings_about(&before, "ns-alice").is_empty(), "{before:#}");

    plugin(
        &sandbox,
        home.path(),
        "backup",
        &["create", "-n", "ns-alice", "--to", archive],
    )
    .expect_code(0);
    deploy_app_copy(&sandbox, "ns-alice", "ns-alice2");
    let restored = plugin(
        &sandbox,
        home.path(),
        "backup",
        &[
            "restore",
            archive,
            "-n",
            "ns-alice",
            "--namespace-map",
            "ns-alice=ns-alice2",
            "--host-map",
            "cloud.sealos.io=clone.sealos.io",
            "-o",
            "json",
        ],
    );
    restored.expect_code(0);
    let clones = sandbox.objects("networking.istio.io", "virtualservices", Some("ns-alice2"));
    assert!(!clones.is_empty(), "{restored}");

    let after = plugin(
        &sandbox,
        home.path(),
        "health",
        &["check", "--only", "virtual-services", "-o", "json"],
    );
    let report: Value = serde_json::from_str(&after.stdout).unwrap();
    for namespace in ["ns-alice", "ns-alice2"] {
        assert!(
            findings_about(&report, namespace).is_empty(),
            "{namespace}: {:#}",
            Value::Array(findings_about(&report, namespace))
        );
    }
    after.expect_code(exit_code(&before));

    // The judge is not blind to the clone: take one of its Services away and the VirtualService
    // routing to it is reported dangling.
    let service = sandbox.objects("", "services", Some("ns-alice2"))[0].clone();
    let name = service["metadata"]["name"].as_str().unwrap();
    sandbox
        .cluster()
        .store
        .delete(
            &sealos_sandbox::registry::ResKey::new("", "services"),
            "ns-alice2",
            name,
        )
        .unwrap();
    let broken = plugin(
        &sandbox,
        home.path(),
        "health",
        &["check", "--only", "virtual-services", "-o", "json"],
    );
    let broken: Value = serde_json::from_str(&broken.stdout).unwrap();
    let dangling = findings_about(&broken, "ns-alice2");
    assert!(
        dangling
            .iter()
            .any(|f| f["message"].as_str().unwrap_or("").contains(name)),
        "{broken:#}"
    );
}

/// The exit code a report's status stands for (`health` exits by its worst finding).
fn exit_code(report: &Value) -> i32 {
    if report["status"] == "FAIL" { 1 } else { 0 }
}
