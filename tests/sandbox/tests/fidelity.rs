//! What a real API server refuses, refused in its words: names per kind (DNS-1123 subdomain,
//! DNS-1123 label for Namespaces, DNS-1035 label for Services) and fields an update may not
//! change.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Kubectl, sandbox_with};
use http_body_util::BodyExt;
use sealos_sandbox::SandboxOptions;
use serde_json::{Value, json};

const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

async fn send(
    client: &kube::Client,
    method: &str,
    path: &str,
    ct: &str,
    body: Value,
) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", ct)
        .body(kube::client::Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let resp = client.send(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn client(sb: &sealos_sandbox::Sandbox) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    config.default_retry = false;
    kube::Client::try_from(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_validated_per_kind() {
    let sb = sandbox_with(SandboxOptions::scenario("empty")).await;
    let c = client(&sb).await;
    let post = |path: &'static str, body: Value| {
        let c = c.clone();
        async move { send(&c, "POST", path, "application/json", body).await }
    };
    let (code, status) = post(
        "/api/v1/namespaces/default/configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(
        status["message"],
        format!(
            "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": {SUBDOMAIN}"
        )
    );
    assert_eq!(status["details"]["causes"][0]["field"], "metadata.name");
    assert!(sb.object("", "configmaps", "default", "Bad_Name").is_none());

    let (code, status) = post(
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team.a"}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        status["message"],
        format!(
            "Namespace \"team.a\" is invalid: metadata.name: Invalid value: \"team.a\": {LABEL}"
        )
    );
    let (code, status) = post(
        "/api/v1/namespaces/default/services",
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1web"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        status["message"],
        format!("Service \"1web\" is invalid: metadata.name: Invalid value: \"1web\": {DNS1035}")
    );
    let long = "a".repeat(254);
    let (code, status) = send(
        &c,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        "application/json",
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": long},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        status["message"],
        format!(
            "Deployment.apps \"{long}\" is invalid: metadata.name: Invalid value: \"{long}\": must be no more than 253 characters"
        )
    );
    // kubectl shows the same words.
    let k = Kubectl::new(&sb);
    let out = k.run(&["create", "configmap", "Bad_Name"]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(&format!(
            "metadata.name: Invalid value: \"Bad_Name\": {SUBDOMAIN}"
        )),
        "{}",
        out.describe()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immutable_fields_are_refused_as_upstream() {
    let sb = sandbox_with(SandboxOptions::scenario("empty")).await;
    let k = Kubectl::new(&sb);
    k.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: v1
kind: Secret
metadata: {name: tls, namespace: default}
type: kubernetes.io/tls
data: {tls.crt: "", tls.key: ""}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {clusterIP: 10.96.7.7, ports: [{port: 80}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: frozen, namespace: default}
immutable: true
data: {a: "1"}
"#,
    )
    .await;
    let c = client(&sb).await;
    let merge = "application/merge-patch+json";
    let cases = [
        (
            "/apis/apps/v1/namespaces/default/deployments/web",
            json!({"spec": {"selector": {"matchLabels": {"app": "web2"}}, "template": {"metadata": {"labels": {"app": "web2"}}}}}),
            "Deployment.apps \"web\" is invalid: spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]string{app: web2,},MatchExpressions:[]LabelSelectorRequirement{},}: field is immutable",
        ),
        (
            "/api/v1/namespaces/default/secrets/tls",
            json!({"type": "Opaque"}),
            "Secret \"tls\" is invalid: type: Invalid value: \"Opaque\": field is immutable",
        ),
        (
            "/api/v1/namespaces/default/services/web",
            json!({"spec": {"clusterIP": "10.96.8.8"}}),
            "Service \"web\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"10.96.8.8\"}: may not change once set",
        ),
        (
            "/api/v1/namespaces/default/configmaps/frozen",
            json!({"data": {"a": "2"}}),
            "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set",
        ),
    ];
    for (path, patch, want) in cases {
        let (code, status) = send(&c, "PATCH", path, merge, patch).await;
        assert_eq!(
            (code, status["message"].as_str().unwrap_or("")),
            (422, want),
            "{path}"
        );
    }
    assert_eq!(
        sb.object("", "services", "default", "web").unwrap()["spec"]["clusterIP"],
        "10.96.7.7"
    );
    // What may change still does; a replace that leaves the cluster IP out keeps it.
    let (code, _) = send(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/secrets/tls",
        merge,
        json!({"metadata": {"labels": {"a": "b"}}}),
    )
    .await;
    assert_eq!(code, 200);
    let svc = sb.object("", "services", "default", "web").unwrap();
    let mut replaced = svc.clone();
    replaced["spec"]
        .as_object_mut()
        .unwrap()
        .remove("clusterIP");
    replaced["spec"]
        .as_object_mut()
        .unwrap()
        .remove("clusterIPs");
    let (code, body) = send(
        &c,
        "PUT",
        "/api/v1/namespaces/default/services/web",
        "application/json",
        replaced,
    )
    .await;
    assert_eq!(
        (code, &body["spec"]["clusterIP"]),
        (200, &json!("10.96.7.7")),
        "{body}"
    );
    // kubectl words a 422 its own way, around the same causes.
    let out = k
        .run(&[
            "patch",
            "secret",
            "tls",
            "--type=merge",
            "-p",
            r#"{"type":"Opaque"}"#,
        ])
        .await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("type: Invalid value: \"Opaque\": field is immutable"),
        "{}",
        out.describe()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_conflicts_between_managers() {
    let sb = sandbox_with(SandboxOptions::scenario("empty")).await;
    let k = Kubectl::new(&sb);
    let cm = |data: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: shared, namespace: default}}\ndata: {data}\n"
        )
    };
    let apply = |manager: &str, force: bool| {
        let mut args = vec![
            "apply".to_string(),
            "--server-side".into(),
            format!("--field-manager={manager}"),
        ];
        if force {
            args.push("--force-conflicts".into());
        }
        args.extend(["-f".into(), "-".into()]);
        args
    };
    let run = |args: Vec<String>, stdin: String| {
        let k = &k;
        async move {
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            k.run_stdin(&argv, Some(&stdin)).await
        }
    };
    let out = run(apply("team-a", false), cm("{a: \"1\", mine: x}")).await;
    assert_eq!(out.code, 0, "{}", out.describe());
    // Applying the value another manager holds is not a conflict.
    let out = run(apply("team-c", false), cm("{a: \"1\", c: \"3\"}")).await;
    assert_eq!(out.code, 0, "{}", out.describe());
    let out = run(apply("team-c", false), cm("{a: \"2\", c: \"3\"}")).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("error: Apply failed with 1 conflict: conflict with \"team-a\": .data.a\n"),
        "{}",
        out.describe()
    );
    assert_eq!(
        sb.object("", "configmaps", "default", "shared").unwrap()["data"]["a"],
        "1"
    );
    // --force-conflicts takes the field over; what team-a alone holds stays its own.
    let out = run(apply("team-c", true), cm("{a: \"2\", c: \"3\"}")).await;
    assert_eq!(out.code, 0, "{}", out.describe());
    let live = sb.object("", "configmaps", "default", "shared").unwrap();
    assert_eq!(live["data"], json!({"a": "2", "c": "3", "mine": "x"}));
    let owners = |field: &str| -> Vec<String> {
        live["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["fieldsV1"]["f:data"].get(field).is_some())
            .map(|e| e["manager"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(owners("f:a"), ["team-c"]);
    assert_eq!(owners("f:mine"), ["team-a"]);
}
