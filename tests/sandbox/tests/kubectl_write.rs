//! kubectl writes: patch (merge, strategic, JSON), apply (client-side, server-side, dry run),
//! delete (by name, by label), create namespace.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Kubectl, sandbox, wait_for};
use serde_json::Value;

fn env_of(dep: &Value, container: &str) -> Vec<(String, String)> {
    let c = dep["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == container)
        .unwrap();
    c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategic_patch_of_one_env_var_keeps_everything_else() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let before = sb
        .object(
            "apps",
            "deployments",
            "sealos-system",
            "terminal-controller",
        )
        .unwrap();
    let containers_before = before["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        containers_before.len() >= 2,
        "the scenario's controller has a sidecar"
    );
    let patch = r#"{"spec":{"template":{"spec":{"containers":[{"name":"manager","env":[{"name":"ISTIO_PERCENTAGE","value":"37"}]}]}}}}"#;
    let out = k
        .ok(&[
            "patch",
            "deployment",
            "terminal-controller",
            "-n",
            "sealos-system",
            "--type=strategic",
            "-p",
            patch,
        ])
        .await;
    assert_eq!(out.trim(), "deployment.apps/terminal-controller patched");
    let after = sb
        .object(
            "apps",
            "deployments",
            "sealos-system",
            "terminal-controller",
        )
        .unwrap();
    let containers_after = after["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers_after.len(), containers_before.len());
    for (a, b) in containers_after.iter().zip(&containers_before) {
        assert_eq!(a["name"], b["name"]);
        assert_eq!(a["image"], b["image"]);
        assert_eq!(a["ports"], b["ports"]);
    }
    let env_before = env_of(&before, "manager");
    let env_after = env_of(&after, "manager");
    assert!(env_after.contains(&("ISTIO_PERCENTAGE".into(), "37".into())));
    for (name, value) in env_before.iter().filter(|(n, _)| n != "ISTIO_PERCENTAGE") {
        assert!(
            env_after.contains(&(name.clone(), value.clone())),
            "lost env {name}"
        );
    }
    assert_eq!(
        after["metadata"]["generation"].as_i64().unwrap(),
        before["metadata"]["generation"].as_i64().unwrap() + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_and_json_patches_and_no_op() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let before = sb
        .object("apps", "deployments", "sealos-system", "webhook-controller")
        .unwrap();
    k.ok(&[
        "patch",
        "deployment",
        "webhook-controller",
        "-n",
        "sealos-system",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"traffic":"istio"}}}"#,
    ])
    .await;
    let merged = sb
        .object("apps", "deployments", "sealos-system", "webhook-controller")
        .unwrap();
    assert_eq!(merged["metadata"]["labels"]["traffic"], "istio");
    assert_eq!(
        merged["metadata"]["generation"], before["metadata"]["generation"],
        "metadata changes keep the generation"
    );

    k.ok(&[
        "patch",
        "deployment",
        "webhook-controller",
        "-n",
        "sealos-system",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":3}]"#,
    ])
    .await;
    let jsonp = sb
        .object("apps", "deployments", "sealos-system", "webhook-controller")
        .unwrap();
    assert_eq!(jsonp["spec"]["replicas"], 3);
    assert_eq!(
        jsonp["metadata"]["generation"].as_i64(),
        before["metadata"]["generation"].as_i64().map(|g| g + 1)
    );

    let rv = sb
        .object("", "configmaps", "istio-system", "istio")
        .unwrap()["metadata"]["resourceVersion"]
        .clone();
    let out = k
        .ok(&[
            "patch",
            "configmap",
            "istio",
            "-n",
            "istio-system",
            "--type=merge",
            "-p",
            r#"{"data":{}}"#,
        ])
        .await;
    assert_eq!(out.trim(), "configmap/istio patched (no change)");
    assert_eq!(
        sb.object("", "configmaps", "istio-system", "istio")
            .unwrap()["metadata"]["resourceVersion"],
        rv
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategic_patch_of_a_custom_resource_is_refused_with_415() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let vs = sb.objects("networking.istio.io", "virtualservices", None);
    let (ns, name) = (
        vs[0]["metadata"]["namespace"].as_str().unwrap(),
        vs[0]["metadata"]["name"].as_str().unwrap(),
    );
    let out = k
        .run(&[
            "patch",
            "virtualservice",
            name,
            "-n",
            ns,
            "--type=strategic",
            "-p",
            r#"{"metadata":{"labels":{"a":"b"}}}"#,
        ])
        .await;
    assert_eq!(out.code, 1, "{}", out.describe());
    assert!(
        out.stderr.contains("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"),
        "{}",
        out.describe()
    );
    assert!(sb.request_log().entries().iter().any(|r| r.status == 415));
    k.ok(&[
        "patch",
        "virtualservice",
        name,
        "-n",
        ns,
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"a":"b"}}}"#,
    ])
    .await;
}

const CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  namespace: ns-alice
data:
  mode: istio
";

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: ssa-app
  namespace: ns-bob
spec:
  replicas: 2
  selector:
    matchLabels: {app: ssa-app}
  template:
    metadata:
      labels: {app: ssa-app}
    spec:
      containers:
      - name: web
        image: nginx:1.27
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_client_side_then_changed_then_unchanged() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let out = k.ok_stdin(&["apply", "-f", "-"], CONFIGMAP).await;
    assert_eq!(out.trim(), "configmap/applied created");
    let out = k
        .ok_stdin(
            &["apply", "-f", "-"],
            &CONFIGMAP.replace("istio", "ingress"),
        )
        .await;
    assert_eq!(out.trim(), "configmap/applied configured");
    assert_eq!(
        sb.object("", "configmaps", "ns-alice", "applied").unwrap()["data"]["mode"],
        "ingress"
    );
    let out = k
        .ok_stdin(
            &["apply", "-f", "-"],
            &CONFIGMAP.replace("istio", "ingress"),
        )
        .await;
    assert_eq!(out.trim(), "configmap/applied unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_server_side_creates_and_pods_follow() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let out = k
        .ok_stdin(&["apply", "--server-side", "-f", "-"], DEPLOYMENT)
        .await;
    assert_eq!(out.trim(), "deployment.apps/ssa-app serverside-applied");
    let ready = wait_for("ssa-app pods", || {
        let pods: Vec<Value> = sb
            .objects("", "pods", Some("ns-bob"))
            .into_iter()
            .filter(|p| p["metadata"]["labels"]["app"] == "ssa-app")
            .collect();
        (pods.len() == 2 && pods.iter().all(|p| p["status"]["phase"] == "Running")).then_some(pods)
    })
    .await;
    for p in &ready {
        assert!(p["metadata"]["labels"]["pod-template-hash"].is_string());
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
        assert_eq!(p["spec"]["containers"][0]["image"], "nginx:1.27");
    }
    let out = k
        .ok_stdin(
            &["apply", "--server-side", "-f", "-"],
            &DEPLOYMENT.replace("replicas: 2", "replicas: 1"),
        )
        .await;
    assert_eq!(out.trim(), "deployment.apps/ssa-app serverside-applied");
    assert_eq!(
        sb.object("apps", "deployments", "ns-bob", "ssa-app")
            .unwrap()["spec"]["replicas"],
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_dry_run_server_writes_nothing() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let rv = sb.store().current_rv();
    let mark = sb.request_log().len();
    let out = k
        .ok_stdin(&["apply", "--dry-run=server", "-f", "-"], DEPLOYMENT)
        .await;
    assert_eq!(
        out.trim(),
        "deployment.apps/ssa-app created (server dry run)"
    );
    assert!(
        sb.object("apps", "deployments", "ns-bob", "ssa-app")
            .is_none()
    );
    let writes: Vec<_> = sb
        .request_log()
        .since(mark)
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert!(
        !writes.is_empty() && writes.iter().all(|r| r.is_dry_run()),
        "{writes:?}"
    );
    let existing = k
        .ok_stdin(
            &["apply", "--dry-run=server", "-f", "-"],
            &CONFIGMAP
                .replace("applied", "istio")
                .replace("ns-alice", "istio-system"),
        )
        .await;
    assert!(
        existing.contains("configmap/istio configured (server dry run)"),
        "{existing}"
    );
    assert_eq!(sb.store().current_rv(), rv, "a dry run changed the store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_by_name_and_by_label() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    k.ok_stdin(&["apply", "-f", "-"], CONFIGMAP).await;
    let out = k
        .ok(&["delete", "configmap", "applied", "-n", "ns-alice"])
        .await;
    assert_eq!(out.trim(), "configmap \"applied\" deleted");
    assert!(sb.object("", "configmaps", "ns-alice", "applied").is_none());

    let old: Vec<String> = sb
        .objects("", "pods", Some("istio-system"))
        .iter()
        .filter(|p| p["metadata"]["labels"]["app"] == "istio-ingressgateway")
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(!old.is_empty());
    let out = k
        .ok(&[
            "delete",
            "pods",
            "-n",
            "istio-system",
            "-l",
            "app=istio-ingressgateway",
        ])
        .await;
    for name in &old {
        assert!(out.contains(&format!("pod \"{name}\" deleted")), "{out}");
    }
    // The ReplicaSet recreates what was deleted, under new names.
    wait_for("recreated gateway pods", || {
        let now: Vec<String> = sb
            .objects("", "pods", Some("istio-system"))
            .iter()
            .filter(|p| p["metadata"]["labels"]["app"] == "istio-ingressgateway")
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        (now.len() == old.len() && now.iter().all(|n| !old.contains(n))).then_some(())
    })
    .await;
    let out = k
        .run(&["delete", "configmap", "applied", "-n", "ns-alice"])
        .await;
    assert_eq!(
        out.stderr.trim(),
        "Error from server (NotFound): configmaps \"applied\" not found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_namespace_then_use_it_then_delete_it() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    assert_eq!(
        k.ok(&["create", "namespace", "team-x"]).await.trim(),
        "namespace/team-x created"
    );
    assert_eq!(
        sb.object("", "namespaces", "", "team-x").unwrap()["status"]["phase"],
        "Active"
    );
    let missing = k
        .run_stdin(
            &["apply", "-f", "-"],
            Some(&CONFIGMAP.replace("ns-alice", "nope")),
        )
        .await;
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("namespaces \"nope\" not found"),
        "{}",
        missing.describe()
    );
    k.ok_stdin(
        &["apply", "-f", "-"],
        &CONFIGMAP.replace("ns-alice", "team-x"),
    )
    .await;
    k.ok(&["delete", "namespace", "team-x"]).await;
    assert!(sb.object("", "namespaces", "", "team-x").is_none());
    assert!(
        sb.object("", "configmaps", "team-x", "applied").is_none(),
        "namespace contents go with it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generators_sent_as_protobuf_create_working_objects() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let out = k
        .ok(&[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=2",
            "--port=80",
            "-n",
            "ns-bob",
        ])
        .await;
    assert_eq!(out.trim(), "deployment.apps/web created");
    k.ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        "ns-bob",
        "--timeout=60s",
    ])
    .await;
    let dep = sb.object("apps", "deployments", "ns-bob", "web").unwrap();
    assert_eq!(dep["spec"]["replicas"], 2);
    assert_eq!(
        dep["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        80
    );
    k.ok(&[
        "expose",
        "deployment",
        "web",
        "--port=8080",
        "--target-port=80",
        "-n",
        "ns-bob",
    ])
    .await;
    let svc = sb.object("", "services", "ns-bob", "web").unwrap();
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 80);
    assert_eq!(svc["spec"]["selector"]["app"], "web");
    k.ok(&[
        "run",
        "one",
        "--image=busybox",
        "--env=A=b",
        "-n",
        "ns-bob",
        "--restart=Never",
        "--",
        "sleep",
        "10",
    ])
    .await;
    let pod = sb.object("", "pods", "ns-bob", "one").unwrap();
    assert_eq!(pod["spec"]["containers"][0]["env"][0]["value"], "b");
    assert!(pod["metadata"]["creationTimestamp"].is_string());
    assert!(sb.request_log().entries().iter().any(|r| {
        r.method == "POST"
            && r.content_type
                .starts_with("application/vnd.kubernetes.protobuf")
            && r.status == 201
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_removes_what_the_manager_stopped_applying() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let with_env = DEPLOYMENT.replace(
        "        image: nginx:1.27\n",
        "        image: nginx:1.27\n        env:\n        - {name: A, value: \"1\"}\n        - {name: B, value: \"2\"}\n",
    );
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], &with_env)
        .await;
    k.ok(&[
        "label",
        "deployment",
        "ssa-app",
        "-n",
        "ns-bob",
        "owner=someone-else",
    ])
    .await;
    let without_b = with_env.replace("        - {name: B, value: \"2\"}\n", "");
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], &without_b)
        .await;
    let dep = sb
        .object("apps", "deployments", "ns-bob", "ssa-app")
        .unwrap();
    let env = &dep["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env, &serde_json::json!([{ "name": "A", "value": "1" }]));
    assert_eq!(
        dep["metadata"]["labels"]["owner"], "someone-else",
        "another manager's field stays"
    );
    let managers: Vec<&str> = dep["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"kubectl"), "{managers:?}");
}
