//! logs, top, auth can-i, events.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Kubectl, sandbox};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_a_deployment_since_ten_minutes() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let mark = sb.request_log().len();
    let out = k
        .ok(&[
            "logs",
            "-n",
            "istio-system",
            "deployment/istiod",
            "--since=10m",
        ])
        .await;
    assert!(!out.is_empty());
    let cutoff = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_secs(601))
        .unwrap();
    for line in out.lines() {
        if let Some(t) = line
            .split_whitespace()
            .next()
            .and_then(|w| w.parse::<jiff::Timestamp>().ok())
        {
            assert!(t >= cutoff, "line older than 10m: {line}");
        }
    }
    assert!(
        out.to_lowercase().contains("error"),
        "the scenario's istiod logs carry error lines: {out}"
    );
    let log_req = sb
        .request_log()
        .since(mark)
        .into_iter()
        .find(|r| r.path.ends_with("/log"))
        .unwrap();
    assert!(log_req.query.contains("sinceSeconds=600"), "{log_req:?}");
    let all = k
        .ok(&["logs", "-n", "istio-system", "deployment/istiod"])
        .await;
    assert!(all.lines().count() >= out.lines().count());
    let tail = k
        .ok(&[
            "logs",
            "-n",
            "istio-system",
            "deployment/istiod",
            "--tail=1",
        ])
        .await;
    assert_eq!(tail.lines().count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_pods_with_containers_reports_the_usage_knob() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let out = k.ok(&["top", "pods", "-A", "--containers"]).await;
    assert_eq!(
        common::header(&out),
        ["NAMESPACE", "POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    );
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().nth(2) == Some("istio-proxy")),
        "{out}"
    );
    // A pod whose template carries the usage knob reports exactly that.
    let pods = sb.objects("", "pods", None);
    let with_knob = pods
        .iter()
        .find(|p| p["metadata"]["annotations"]["sandbox.sealos.io/usage"].is_string())
        .expect("a pod with the usage knob");
    let usage: serde_json::Value = serde_json::from_str(
        with_knob["metadata"]["annotations"]["sandbox.sealos.io/usage"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let (container, u) = usage.as_object().unwrap().iter().next().unwrap();
    let name = with_knob["metadata"]["name"].as_str().unwrap();
    let row = out
        .lines()
        .find(|l| {
            l.split_whitespace().nth(1) == Some(name)
                && l.split_whitespace().nth(2) == Some(container.as_str())
        })
        .unwrap();
    let cpu = u["cpu"].as_str().unwrap();
    assert!(row.contains(cpu), "{row} vs {cpu}");
    let nodes = k.ok(&["top", "nodes", "--no-headers"]).await;
    assert_eq!(
        nodes.lines().count(),
        sb.objects("", "nodes", None).len(),
        "{nodes}"
    );
    let sorted = k.ok(&["top", "pods", "-A", "--sort-by=memory"]).await;
    assert!(sorted.lines().count() > 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_can_i_answers_yes_over_protobuf() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let mark = sb.request_log().len();
    assert_eq!(
        k.ok(&[
            "auth",
            "can-i",
            "patch",
            "deployments",
            "-n",
            "sealos-system"
        ])
        .await
        .trim(),
        "yes"
    );
    let review = sb
        .request_log()
        .since(mark)
        .into_iter()
        .find(|r| r.path.ends_with("selfsubjectaccessreviews"))
        .unwrap();
    assert_eq!(review.status, 201);
    assert!(
        review
            .content_type
            .starts_with("application/vnd.kubernetes.protobuf"),
        "{review:?}"
    );
    let rules = k.ok(&["auth", "can-i", "--list", "-n", "ns-bob"]).await;
    assert!(rules.lines().any(|l| l.starts_with("*.*")), "{rules}");
    let me = k.ok(&["auth", "whoami"]).await;
    assert!(me.contains("sandbox-admin"), "{me}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_record_what_the_sandbox_did() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let out = k.ok(&["get", "events", "-A"]).await;
    assert_eq!(
        common::header(&out)[..3],
        ["NAMESPACE".to_string(), "LAST".into(), "SEEN".into()]
    );
    assert!(
        out.contains("Scheduled") && out.contains("SuccessfulCreate"),
        "{out}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &k.ok(&["get", "events", "-n", "istio-system", "-o", "json"])
            .await,
    )
    .unwrap();
    assert!(
        json["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["involvedObject"]["namespace"] == "istio-system")
    );
}

const POD: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: flaky
  namespace: ns-alice
  annotations:
    sandbox.sealos.io/ready: "false"
    sandbox.sealos.io/restarts: "3"
    sandbox.sealos.io/logs: '{"app":"2020-01-01T00:00:00Z old line\nnew line","app/previous":"crashed: boom"}'
spec:
  containers:
  - name: app
    image: busybox:1.36
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_pods_honour_ready_and_restart_knobs() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    k.ok_stdin(&["apply", "-f", "-"], POD).await;
    common::wait_for("flaky running", || {
        sb.object("", "pods", "ns-alice", "flaky")
            .filter(|p| p["status"]["phase"] == "Running")
    })
    .await;
    let out = k.ok(&["get", "pod", "flaky", "-n", "ns-alice"]).await;
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..4], ["flaky", "0/1", "Running", "3"], "{out}");
    let plain = POD
        .replace("name: flaky", "name: steady")
        .replace("    sandbox.sealos.io/ready: \"false\"\n", "");
    k.ok_stdin(&["apply", "-f", "-"], &plain).await;
    common::wait_for("steady ready", || {
        sb.object("", "pods", "ns-alice", "steady")
            .filter(|p| p["status"]["containerStatuses"][0]["ready"] == true)
    })
    .await;
    assert_eq!(
        k.ok(&["logs", "flaky", "-n", "ns-alice", "--since=1h"])
            .await,
        "new line\n"
    );
    assert_eq!(
        k.ok(&["logs", "flaky", "-n", "ns-alice", "--previous"])
            .await,
        "crashed: boom\n"
    );
    let none = k
        .run(&["logs", "flaky", "-n", "ns-alice", "-c", "nope"])
        .await;
    assert_eq!(none.code, 1);
    assert!(
        none.stderr
            .contains("container nope is not valid for pod flaky"),
        "{}",
        none.describe()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_goes_through_the_scale_subresource() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let mark = sb.request_log().len();
    assert_eq!(
        k.ok(&[
            "scale",
            "deployment",
            "grafana",
            "-n",
            "monitoring",
            "--replicas=3"
        ])
        .await
        .trim(),
        "deployment.apps/grafana scaled"
    );
    assert!(
        sb.request_log()
            .since(mark)
            .iter()
            .any(|r| r.path.ends_with("/deployments/grafana/scale") && r.method == "PATCH")
    );
    k.ok(&[
        "rollout",
        "status",
        "deployment/grafana",
        "-n",
        "monitoring",
        "--timeout=60s",
    ])
    .await;
    let pods = sb
        .objects("", "pods", Some("monitoring"))
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["app"] == "grafana")
        .count();
    assert_eq!(pods, 3);
    k.ok(&["delete", "deployment", "grafana", "-n", "monitoring"])
        .await;
    assert!(
        sb.objects("", "pods", Some("monitoring"))
            .iter()
            .all(|p| p["metadata"]["labels"]["app"] != "grafana"),
        "owned pods go with their deployment"
    );
    assert!(
        sb.objects("apps", "replicasets", Some("monitoring"))
            .iter()
            .all(|r| r["metadata"]["labels"]["app"] != "grafana")
    );
}
