//! The server itself: authentication, discovery negotiation, continue-token expiry, dry runs,
//! bookmarks, CRDs created at run time, file scenarios, and the `serve` binary.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Kubectl, sandbox, sandbox_with};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::{Client, Config};
use sealos_sandbox::{SandboxOptions, Scenario};
use serde_json::{Value, json};
use std::time::Duration;

async fn client(sb: &sealos_sandbox::Sandbox) -> Client {
    let kc = kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).unwrap();
    let config = Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

async fn get_with_accept(c: &Client, path: &str, accept: &str) -> Value {
    let req = http::Request::get(path)
        .header("Accept", accept)
        .body(Vec::new())
        .unwrap();
    serde_json::from_str(&c.request_text(req).await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_token_is_unauthorized() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let out = k.run(&["get", "pods", "--token=wrong"]).await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("error: You must be logged in to the server (the server has asked for the client to provide credentials)"), "{}", out.describe());
    assert!(sb.request_log().entries().iter().all(|r| r.status == 401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_follows_content_negotiation() {
    let sb = sandbox().await;
    let c = client(&sb).await;
    let v2 = get_with_accept(
        &c,
        "/apis",
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
    )
    .await;
    assert_eq!(v2["kind"], "APIGroupDiscoveryList");
    assert_eq!(v2["apiVersion"], "apidiscovery.k8s.io/v2");
    let groups: Vec<&str> = v2["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["metadata"]["name"].as_str().unwrap())
        .collect();
    for g in [
        "apps",
        "metrics.k8s.io",
        "networking.istio.io",
        "cert-manager.io",
        "authorization.k8s.io",
    ] {
        assert!(groups.contains(&g), "{g} missing from {groups:?}");
    }
    let beta = get_with_accept(&c, "/api", "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json").await;
    assert_eq!(beta["apiVersion"], "apidiscovery.k8s.io/v2beta1");
    let plain = get_with_accept(&c, "/apis", "application/json").await;
    assert_eq!(plain["kind"], "APIGroupList");
    let core = get_with_accept(&c, "/api/v1", "application/json").await;
    let names: Vec<&str> = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"pods/log") && names.contains(&"namespaces"));
    let version = get_with_accept(&c, "/version", "application/json").await;
    assert_eq!(version["minor"], "32");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_continue_token_answers_410() {
    let sb = sandbox().await;
    let c = client(&sb).await;
    let pods: Api<Pod> = Api::all(c);
    let first = pods.list(&ListParams::default().limit(2)).await.unwrap();
    let token = first.metadata.continue_.clone().unwrap();
    sb.store().expire_snapshots();
    match pods
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap_err()
    {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 410);
            assert_eq!(s.reason, "Expired");
        }
        other => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_writes_change_nothing() {
    let sb = sandbox().await;
    let c = client(&sb).await;
    let cms: Api<ConfigMap> = Api::namespaced(c, "istio-system");
    let rv = sb.store().current_rv();
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("dry".into());
    let created = cms
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &cm,
        )
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    let patched = cms
        .patch(
            "istio",
            &PatchParams {
                dry_run: true,
                ..Default::default()
            },
            &Patch::Merge(json!({ "data": { "x": "y" } })),
        )
        .await
        .unwrap();
    assert_eq!(patched.data.unwrap()["x"], "y");
    cms.delete(
        "istio",
        &DeleteParams {
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    cms.patch(
        "dry",
        &PatchParams::apply("t").dry_run(),
        &Patch::Apply(
            json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "dry" } }),
        ),
    )
    .await
    .unwrap();
    assert_eq!(sb.store().current_rv(), rv);
    assert!(sb.object("", "configmaps", "istio-system", "dry").is_none());
    assert!(
        sb.object("", "configmaps", "istio-system", "istio")
            .unwrap()["data"]["x"]
            .is_null()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_get_bookmarks() {
    let sb = sandbox_with(SandboxOptions {
        bookmark_interval: Duration::from_millis(100),
        ..Default::default()
    })
    .await;
    let c = client(&sb).await;
    let cms: Api<ConfigMap> = Api::namespaced(c, "ns-alice");
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = cms
        .watch(
            &WatchParams {
                bookmarks: true,
                ..WatchParams::default()
            }
            .timeout(30),
            &rv,
        )
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Bookmark(b) => assert!(!b.metadata.resource_version.is_empty()),
        other => panic!("{other:?}"),
    }
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.io
spec:
  group: example.io
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wg]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
    additionalPrinterColumns:
    - {name: Color, type: string, jsonPath: .spec.color}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_created_at_run_time_becomes_servable() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    k.ok_stdin(&["apply", "-f", "-"], CRD).await;
    let widget = "apiVersion: example.io/v1\nkind: Widget\nmetadata: {name: w1, namespace: ns-alice}\nspec: {color: blue}\n";
    assert_eq!(
        k.ok_stdin(&["apply", "-f", "-"], widget).await.trim(),
        "widget.example.io/w1 created"
    );
    let out = k.ok(&["get", "wg", "-n", "ns-alice"]).await;
    assert_eq!(common::header(&out), ["NAME", "COLOR", "AGE"]);
    assert!(
        out.lines().nth(1).unwrap().starts_with("w1") && out.contains("blue"),
        "{out}"
    );
    k.ok(&["delete", "crd", "widgets.example.io"]).await;
    assert!(sb.objects("example.io", "widgets", None).is_empty());
    let gone = k
        .run(&[
            "get",
            "--raw",
            "/apis/example.io/v1/namespaces/ns-alice/widgets",
        ])
        .await;
    assert_eq!(gone.code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_scenarios_load_in_dependency_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.yaml");
    // Deployment before its namespace: apply order fixes that.
    std::fs::write(
        &path,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx}]}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
    )
    .unwrap();
    let sb = sandbox_with(SandboxOptions {
        scenario: Scenario::Files(vec![path]),
        ..Default::default()
    })
    .await;
    assert_eq!(sb.objects("", "pods", Some("shop")).len(), 2);
    assert!(sb.object("", "namespaces", "", "default").is_some());
    let k = Kubectl::new(&sb);
    let out = k.ok(&["get", "deploy", "web", "-n", "shop"]).await;
    assert!(
        out.lines().nth(1).unwrap().split_whitespace().nth(1) == Some("2/2"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_binary_prints_ready_line_and_exits_zero_on_sigterm() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kc");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealos-sandbox"))
        .args(["serve", "--scenario", "empty", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.next_line().await.unwrap().unwrap();
    assert!(
        ready.starts_with("sealos-sandbox ready: url=https://127.0.0.1:"),
        "{ready}"
    );
    assert!(
        ready.ends_with(&format!("kubeconfig={}", kubeconfig.display())),
        "{ready}"
    );
    let home = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new("kubectl")
        .args(["get", "ns", "-o", "name"])
        .env("HOME", home.path())
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("namespace/default"));
    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_ends_at_timeout_seconds_and_deletecollection_removes_matches() {
    let sb = sandbox().await;
    let c = client(&sb).await;
    let cms: Api<ConfigMap> = Api::namespaced(c, "ns-carol");
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let stream = cms
        .watch(&WatchParams::default().timeout(1), &rv)
        .await
        .unwrap();
    let events: Vec<_> = stream.collect().await;
    assert!(
        events
            .iter()
            .all(|e| matches!(e, Ok(WatchEvent::Bookmark(_)))),
        "{events:?}"
    );
    for i in 0..3 {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some(format!("batch-{i}"));
        cm.metadata.labels = Some([("batch".to_string(), "yes".to_string())].into());
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    let before = cms.list(&ListParams::default()).await.unwrap().items.len();
    cms.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("batch=yes"),
    )
    .await
    .unwrap();
    assert_eq!(
        cms.list(&ListParams::default()).await.unwrap().items.len(),
        before - 3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_writes_are_seen_by_watchers() {
    let sb = sandbox().await;
    let c = client(&sb).await;
    let cms: Api<ConfigMap> = Api::namespaced(c, "ns-alice");
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = cms
        .watch(&WatchParams::default().timeout(30), &rv)
        .await
        .unwrap()
        .boxed();
    sb.create(json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "lib", "namespace": "ns-alice" }, "data": { "a": "1" } })).unwrap();
    let changed = sb
        .modify("", "configmaps", "ns-alice", "lib", |o| {
            o["data"]["a"] = json!("2")
        })
        .unwrap();
    assert_eq!(changed["data"]["a"], "2");
    let same = sb
        .modify("", "configmaps", "ns-alice", "lib", |_| {})
        .unwrap();
    assert_eq!(
        same["metadata"]["resourceVersion"],
        changed["metadata"]["resourceVersion"]
    );
    assert!(matches!(
        stream.try_next().await.unwrap().unwrap(),
        WatchEvent::Added(_)
    ));
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Modified(o) => assert_eq!(o.data.unwrap()["a"], "2"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_objects_are_refused_not_stored() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let bad = k
        .run(&[
            "patch",
            "deployment",
            "istiod",
            "-n",
            "istio-system",
            "--type=merge",
            "-p",
            r#"{"spec":{"template":"oops"}}"#,
        ])
        .await;
    assert_eq!(bad.code, 1, "{}", bad.describe());
    assert!(
        bad.stderr.contains("cannot be handled as a Deployment"),
        "{}",
        bad.describe()
    );
    let status = k
        .run(&[
            "patch",
            "namespace",
            "ns-bob",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":"x"}"#,
        ])
        .await;
    assert_eq!(status.code, 1, "{}", status.describe());
    k.ok(&["delete", "namespace", "ns-bob"]).await;
    assert_eq!(
        sb.object("apps", "deployments", "istio-system", "istiod")
            .unwrap()["spec"]["template"]["metadata"]["labels"]["app"],
        "istiod"
    );
}
