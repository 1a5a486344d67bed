//! Restricted tokens: refusals worded as upstream's 403, and SelfSubjectAccessReview /
//! SelfSubjectRulesReview agreeing with them, through kube-rs and the real `kubectl auth can-i`.
#![allow(clippy::unwrap_used)]

mod common;

use common::sandbox;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret};
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, Config};
use sealos_sandbox::auth;
use serde_json::{Value, json};
use std::path::PathBuf;

/// A kubeconfig like the sandbox's, carrying another token.
fn kubeconfig_for(sb: &sealos_sandbox::Sandbox, dir: &tempfile::TempDir, token: &str) -> PathBuf {
    let text = std::fs::read_to_string(sb.kubeconfig_path())
        .unwrap()
        .replace(sb.token(), token);
    let path = dir.path().join(format!("{token}.kubeconfig"));
    std::fs::write(&path, text).unwrap();
    path
}

async fn client_at(path: &PathBuf) -> Client {
    let kc = kube::config::Kubeconfig::read_from(path).unwrap();
    let mut config =
        Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    config.default_retry = false;
    Client::try_from(config).unwrap()
}

async fn kubectl(
    kubeconfig: &PathBuf,
    home: &tempfile::TempDir,
    args: &[&str],
) -> (i32, String, String) {
    let out = tokio::process::Command::new("kubectl")
        .args(args)
        .env("HOME", home.path())
        .env("KUBECONFIG", kubeconfig)
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn forbidden_message(err: kube::Error) -> (u16, String) {
    match err {
        kube::Error::Api(s) => (s.code, s.message),
        other => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_tokens_are_refused_with_upstream_wording() {
    let sb = sandbox().await;
    sb.add_token("viewer-token", "viewer", auth::read_only());
    sb.add_token("nosecrets-token", "nosecrets", auth::no_secrets());
    sb.add_token("team-token", "team", auth::one_namespace("ns-alice"));
    let dir = tempfile::tempdir().unwrap();

    let viewer = client_at(&kubeconfig_for(&sb, &dir, "viewer-token")).await;
    let pods: Api<Pod> = Api::namespaced(viewer.clone(), "istio-system");
    assert!(
        !pods
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let cms: Api<ConfigMap> = Api::namespaced(viewer, "default");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "x"}, "data": {"a": "b"}})).unwrap();
    assert_eq!(
        forbidden_message(cms.create(&PostParams::default(), &cm).await.unwrap_err()),
        (403, "configmaps is forbidden: User \"viewer\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"default\"".into())
    );
    assert!(sb.object("", "configmaps", "default", "x").is_none());

    let nosecrets = client_at(&kubeconfig_for(&sb, &dir, "nosecrets-token")).await;
    let secrets: Api<Secret> = Api::namespaced(nosecrets.clone(), "istio-system");
    let name = sb.objects("", "secrets", Some("istio-system"))[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        forbidden_message(secrets.get(&name).await.unwrap_err()),
        (
            403,
            format!(
                "secrets \"{name}\" is forbidden: User \"nosecrets\" cannot get resource \"secrets\" in API group \"\" in the namespace \"istio-system\""
            )
        )
    );
    let cms: Api<ConfigMap> = Api::namespaced(nosecrets, "default");
    cms.create(&PostParams::default(), &cm).await.unwrap();

    let team = client_at(&kubeconfig_for(&sb, &dir, "team-token")).await;
    let own: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(team.clone(), "ns-alice");
    own.list(&ListParams::default()).await.unwrap();
    let other: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(team.clone(), "sealos-system");
    assert_eq!(
        forbidden_message(other.list(&ListParams::default()).await.unwrap_err()),
        (403, "deployments.apps is forbidden: User \"team\" cannot list resource \"deployments\" in API group \"apps\" in the namespace \"sealos-system\"".into())
    );
    let nss: Api<Namespace> = Api::all(team);
    assert_eq!(
        forbidden_message(nss.list(&ListParams::default()).await.unwrap_err()),
        (403, "namespaces is forbidden: User \"team\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn can_i_and_rules_reviews_agree_with_the_refusals() {
    let sb = sandbox().await;
    sb.add_token("viewer-token", "viewer", auth::read_only());
    sb.add_token("team-token", "team", auth::one_namespace("ns-alice"));
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let viewer = kubeconfig_for(&sb, &dir, "viewer-token");
    let team = kubeconfig_for(&sb, &dir, "team-token");
    for (kc, args, want_yes) in [
        (
            &viewer,
            vec!["auth", "can-i", "list", "pods", "-n", "default"],
            true,
        ),
        (
            &viewer,
            vec!["auth", "can-i", "create", "configmaps", "-n", "default"],
            false,
        ),
        (
            &viewer,
            vec![
                "auth",
                "can-i",
                "patch",
                "deployments.apps",
                "-n",
                "sealos-system",
            ],
            false,
        ),
        (
            &team,
            vec!["auth", "can-i", "delete", "pods", "-n", "ns-alice"],
            true,
        ),
        (
            &team,
            vec!["auth", "can-i", "get", "secrets", "-n", "istio-system"],
            false,
        ),
    ] {
        let (code, out, err) = kubectl(kc, &home, &args).await;
        assert_eq!(
            (code == 0, out.trim()),
            (want_yes, if want_yes { "yes" } else { "no" }),
            "{args:?}: {err}"
        );
        // What can-i says is what the server does.
        let verb_ok = if args[2] == "create" {
            kubectl(kc, &home, &["create", "configmap", "probe", "-n", args[5]])
                .await
                .0
                == 0
        } else if args[2] == "get" {
            kubectl(kc, &home, &["get", args[3], "-n", args[5]]).await.0 == 0
        } else {
            continue;
        };
        assert_eq!(verb_ok, want_yes, "{args:?}");
    }
    let (code, _, err) = kubectl(
        &viewer,
        &home,
        &["create", "configmap", "probe", "-n", "default"],
    )
    .await;
    assert_eq!(code, 1);
    assert!(err.contains("configmaps is forbidden: User \"viewer\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"default\""), "{err}");

    // SelfSubjectRulesReview (JSON) lists the token's rules for the namespace.
    let c = client_at(&team).await;
    let body = serde_json::to_vec(&json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": "ns-alice"}})).unwrap();
    let text = c
        .request_text(
            http::Request::post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews")
                .header("content-type", "application/json")
                .body(body)
                .unwrap(),
        )
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["status"]["resourceRules"],
        json!([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}])
    );
    let body = serde_json::to_vec(&json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": "default"}})).unwrap();
    let text = c
        .request_text(
            http::Request::post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews")
                .header("content-type", "application/json")
                .body(body)
                .unwrap(),
        )
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["status"]["resourceRules"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_binary_accepts_a_token_file() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let admin_kc = dir.path().join("admin.kubeconfig");
    let tokens = dir.path().join("tokens.yaml");
    std::fs::write(
        &tokens,
        "- {token: viewer-token, user: viewer, preset: read-only}\n",
    )
    .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealos-sandbox"))
        .args(["serve", "--scenario", "empty", "--kubeconfig-out"])
        .arg(&admin_kc)
        .arg("--token-file")
        .arg(&tokens)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.next_line().await.unwrap().unwrap();
    assert!(ready.starts_with("sealos-sandbox ready: "), "{ready}");
    let text = std::fs::read_to_string(&admin_kc).unwrap();
    let admin_token = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap()
        .trim_matches('"')
        .to_string();
    let viewer = dir.path().join("viewer.kubeconfig");
    std::fs::write(&viewer, text.replace(&admin_token, "viewer-token")).unwrap();
    let home = tempfile::tempdir().unwrap();
    let (code, out, _) = kubectl(&viewer, &home, &["get", "ns", "-o", "name"]).await;
    assert_eq!((code, out.contains("namespace/default")), (0, true));
    let (code, out, _) = kubectl(&viewer, &home, &["auth", "can-i", "delete", "namespaces"]).await;
    assert_eq!((code, out.trim()), (1, "no"));
    let (code, _, err) = kubectl(&viewer, &home, &["delete", "ns", "default"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("namespaces \"default\" is forbidden: User \"viewer\" cannot delete resource \"namespaces\" in API group \"\" in the namespace \"default\""), "{err}");
    // (upstream names a Namespace object's own namespace, as here)
}
