//! `kubectl rollout status` / `rollout restart` against the simulated Deployment controller.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Kubectl, sandbox, wait_for};
use serde_json::Value;

fn pod_names(sb: &sealos_sandbox::Sandbox, ns: &str, app: &str) -> Vec<String> {
    sb.objects("", "pods", Some(ns))
        .iter()
        .filter(|p| p["metadata"]["labels"]["app"] == app)
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_change_rolls_out_and_status_succeeds() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let old = pod_names(&sb, "istio-system", "istiod");
    k.ok(&["patch", "deployment", "istiod", "-n", "istio-system", "--type=json", "-p", r#"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"docker.io/istio/pilot:1.99.0"}]"#]).await;
    let out = k
        .ok(&[
            "rollout",
            "status",
            "deployment/istiod",
            "-n",
            "istio-system",
            "--timeout=60s",
        ])
        .await;
    assert!(
        out.trim_end()
            .ends_with("deployment \"istiod\" successfully rolled out"),
        "{out}"
    );
    let dep = sb
        .object("apps", "deployments", "istio-system", "istiod")
        .unwrap();
    assert_eq!(
        dep["status"]["observedGeneration"],
        dep["metadata"]["generation"]
    );
    let conds = dep["status"]["conditions"].as_array().unwrap();
    assert!(
        conds
            .iter()
            .any(|c| c["type"] == "Progressing" && c["reason"] == "NewReplicaSetAvailable")
    );
    assert!(
        conds
            .iter()
            .any(|c| c["type"] == "Available" && c["status"] == "True")
    );
    let pods: Vec<Value> = sb
        .objects("", "pods", Some("istio-system"))
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["app"] == "istiod")
        .collect();
    assert!(!pods.is_empty());
    for p in &pods {
        assert!(
            !old.contains(&p["metadata"]["name"].as_str().unwrap().to_string()),
            "old pod survived"
        );
        assert_eq!(
            p["spec"]["containers"][0]["image"],
            "docker.io/istio/pilot:1.99.0"
        );
    }
    let events = sb.objects("", "events", Some("istio-system"));
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "ScalingReplicaSet" && e["involvedObject"]["name"] == "istiod")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_rolls_the_pods() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let old = pod_names(&sb, "sealos-system", "terminal-controller");
    assert!(!old.is_empty());
    let out = k
        .ok(&[
            "rollout",
            "restart",
            "deployment/terminal-controller",
            "-n",
            "sealos-system",
        ])
        .await;
    assert_eq!(out.trim(), "deployment.apps/terminal-controller restarted");
    let dep = sb
        .object(
            "apps",
            "deployments",
            "sealos-system",
            "terminal-controller",
        )
        .unwrap();
    assert!(
        dep["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string()
    );
    k.ok(&[
        "rollout",
        "status",
        "deployment/terminal-controller",
        "-n",
        "sealos-system",
        "--timeout=60s",
    ])
    .await;
    wait_for("old pods gone", || {
        let now = pod_names(&sb, "sealos-system", "terminal-controller");
        (now.len() == old.len() && now.iter().all(|n| !old.contains(n))).then_some(())
    })
    .await;
}

const SLOW: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: slow
  namespace: ns-carol
  annotations:
    sandbox.sealos.io/rollout-seconds: \"600\"
spec:
  replicas: 1
  selector:
    matchLabels: {app: slow}
  template:
    metadata:
      labels: {app: slow}
    spec:
      containers:
      - name: web
        image: nginx:1.27
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_times_out_on_a_slow_rollout() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    k.ok_stdin(&["apply", "-f", "-"], SLOW).await;
    let out = k
        .run(&[
            "rollout",
            "status",
            "deployment/slow",
            "-n",
            "ns-carol",
            "--timeout=3s",
        ])
        .await;
    assert_eq!(out.code, 1, "{}", out.describe());
    assert!(
        out.stderr.contains("timed out waiting for the condition"),
        "{}",
        out.describe()
    );
    assert!(
        out.stdout
            .contains("Waiting for deployment \"slow\" rollout to finish"),
        "{}",
        out.describe()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_ready_pods_exceed_the_progress_deadline() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let manifest = SLOW
        .replace("name: slow", "name: stuck")
        .replace("app: slow", "app: stuck")
        .replace(
            "sandbox.sealos.io/rollout-seconds: \"600\"",
            "sandbox.sealos.io/never-ready: \"true\"",
        )
        .replace(
            "  replicas: 1\n",
            "  replicas: 1\n  progressDeadlineSeconds: 1\n",
        );
    k.ok_stdin(&["apply", "-f", "-"], &manifest).await;
    let out = k
        .run(&[
            "rollout",
            "status",
            "deployment/stuck",
            "-n",
            "ns-carol",
            "--timeout=60s",
        ])
        .await;
    assert_eq!(out.code, 1, "{}", out.describe());
    assert!(
        out.stderr
            .contains("error: deployment \"stuck\" exceeded its progress deadline"),
        "{}",
        out.describe()
    );
    let dep = sb
        .object("apps", "deployments", "ns-carol", "stuck")
        .unwrap();
    let progressing = dep["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .unwrap()
        .clone();
    assert_eq!(progressing["status"], "False");
    assert_eq!(progressing["reason"], "ProgressDeadlineExceeded");
    let pods: Vec<Value> = sb
        .objects("", "pods", Some("ns-carol"))
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["app"] == "stuck")
        .collect();
    assert!(pods.iter().all(|p| p["status"]["phase"] == "Running"
        && p["status"]["containerStatuses"][0]["ready"] == false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_returns_to_the_previous_replicaset() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let rs_of = |sb: &sealos_sandbox::Sandbox| -> Vec<(String, i64, String)> {
        let mut v: Vec<_> = sb
            .objects("apps", "replicasets", Some("istio-system"))
            .iter()
            .filter(|r| r["metadata"]["labels"]["app"] == "istiod")
            .map(|r| {
                (
                    r["metadata"]["name"].as_str().unwrap().to_string(),
                    r["spec"]["replicas"].as_i64().unwrap(),
                    r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let original = rs_of(&sb);
    assert_eq!(original.len(), 1);
    k.ok(&[
        "set",
        "image",
        "deployment/istiod",
        "-n",
        "istio-system",
        "discovery=docker.io/istio/pilot:1.99.0",
    ])
    .await;
    k.ok(&[
        "rollout",
        "status",
        "deployment/istiod",
        "-n",
        "istio-system",
        "--timeout=60s",
    ])
    .await;
    assert_eq!(rs_of(&sb).len(), 2);
    k.ok(&["rollout", "undo", "deployment/istiod", "-n", "istio-system"])
        .await;
    k.ok(&[
        "rollout",
        "status",
        "deployment/istiod",
        "-n",
        "istio-system",
        "--timeout=60s",
    ])
    .await;
    let after = rs_of(&sb);
    assert_eq!(after.len(), 2, "undo reuses the old ReplicaSet: {after:?}");
    let back = after.iter().find(|(n, _, _)| *n == original[0].0).unwrap();
    assert!(back.1 >= 1, "{after:?}");
    assert_eq!(
        back.2, "3",
        "the reused ReplicaSet becomes the newest revision"
    );
    let history = k
        .ok(&[
            "rollout",
            "history",
            "deployment/istiod",
            "-n",
            "istio-system",
        ])
        .await;
    assert!(
        history.contains("\n2 ") && history.contains("\n3 "),
        "{history}"
    );
}
