//! The official Python client (PyPI `kubernetes`, installed by scripts/test) against the
//! sandbox: list, watch, patch and create, RBAC objects and a ServiceAccount token, and the 422
//! a real API server answers to a ConfigMap named `Bad_Name`.
#![allow(clippy::unwrap_used)]

mod common;

use common::sandbox_with;
use sealos_sandbox::SandboxOptions;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_lists_watches_patches_and_creates() {
    let sb = sandbox_with(SandboxOptions::default()).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/client.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .arg(sb.kubeconfig_path())
        .env("HOME", tempfile::tempdir().unwrap().path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python3 {script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();

    assert!(
        seen["namespaces"]
            .as_array()
            .unwrap()
            .contains(&json!("sealos-system")),
        "{seen}"
    );
    assert!(
        !seen["deployments"].as_array().unwrap().is_empty(),
        "{seen}"
    );
    let events = seen["events"].as_array().unwrap();
    assert_eq!(
        events.last().unwrap(),
        &json!(["MODIFIED", "py-cm", "2"]),
        "{seen}"
    );
    assert_eq!(seen["patched"], json!({"a": "2"}));
    assert_eq!(
        seen["bad_name"],
        json!({"status": 422, "message": "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"})
    );
    assert!(
        seen["sa_configmaps"]
            .as_array()
            .unwrap()
            .contains(&json!("py-cm")),
        "{seen}"
    );
    assert_eq!(
        seen["sa_pods"],
        json!({"status": 403, "message": "pods is forbidden: User \"system:serviceaccount:default:py-sa\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""})
    );
    assert_eq!(seen["roles"], json!(["py-cm-reader"]));
    // The client's writes reached the store.
    assert_eq!(
        sb.object("", "configmaps", "default", "py-cm").unwrap()["data"]["a"],
        "2"
    );
}
