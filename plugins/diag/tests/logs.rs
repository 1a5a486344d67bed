//! diag's log reading lists the pods it reads page by page: 1,200 pods behind one selector are
//! 1,200 logs, not the first 500.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use kubectl_sealos_diag::logs;
use sealos_sandbox::{Sandbox, SandboxOptions};
use sealos_shared::connection::Kube;
use serde_json::json;

const PODS: usize = 1_200;

#[tokio::test]
async fn logs_are_read_from_every_pod_past_the_first_page() {
    let sandbox = Sandbox::start(SandboxOptions::scenario("empty"))
        .await
        .unwrap();
    sandbox
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "big"}}))
        .unwrap();
    let now = jiff::Timestamp::now();
    for i in 0..PODS {
        let name = format!("istiod-{i:04}");
        let line = format!("{now}\terror\tads\tpush failed on {name}\n");
        sandbox
            .create(json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name,
                    "namespace": "big",
                    "labels": {"app": "istiod"},
                    "annotations": {"sandbox.sealos.io/logs": json!({"discovery": line}).to_string()},
                },
                "spec": {"containers": [{"name": "discovery", "image": "istio/pilot:1.24.2"}]},
                "status": {"phase": "Running"},
            }))
            .unwrap();
    }
    let kube = Kube::from_kubeconfig(sandbox.kubeconfig_path())
        .await
        .unwrap();
    let mark = sandbox.request_log().len();
    let mut notes = Vec::new();
    let read = logs::read(
        &kube.client,
        "big",
        "app=istiod",
        Duration::from_secs(3600),
        &mut notes,
    )
    .await
    .unwrap();
    assert!(notes.is_empty(), "{notes:#?}");
    let pods: BTreeSet<&str> = read.iter().map(|l| l.pod.as_str()).collect();
    assert_eq!(pods.len(), PODS, "every pod's log, once");
    assert!(
        read.iter()
            .all(|l| l.text.contains(&format!("push failed on {}", l.pod)))
    );
    let lists = sandbox
        .request_log()
        .since(mark)
        .into_iter()
        .filter(|r| r.path == "/api/v1/namespaces/big/pods")
        .count();
    assert_eq!(lists, 3, "1,200 pods are three pages of 500");
}
