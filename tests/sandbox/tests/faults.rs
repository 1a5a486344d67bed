//! Fault injection seen by kube-rs and the real kubectl: error answers (429 with Retry-After, 500,
//! 503, 504), delays, the first N matches, and a seeded probability that replays identically.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Kubectl, sandbox};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams};
use kube::{Client, Config};
use sealos_sandbox::faults::{Fault, FaultAction, FaultMatch, FaultWhen};
use std::time::Duration;

async fn client(sb: &sealos_sandbox::Sandbox, retry: bool) -> Client {
    let kc = kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).unwrap();
    let mut config =
        Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    config.default_retry = retry;
    Client::try_from(config).unwrap()
}

fn on(verb: &str, resource: &str) -> FaultMatch {
    FaultMatch {
        verb: Some(verb.into()),
        resource: Some(resource.into()),
        namespace: Some("istio-system".into()),
        path_prefix: None,
    }
}

fn statuses(sb: &sealos_sandbox::Sandbox, mark: usize, path: &str) -> Vec<u16> {
    sb.request_log()
        .since(mark)
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| r.status)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_answers_reach_kube_rs_first_n_only() {
    let sb = sandbox().await;
    let pods: Api<Pod> = Api::namespaced(client(&sb, false).await, "istio-system");
    for (code, reason) in [
        (500, "InternalError"),
        (503, "ServiceUnavailable"),
        (504, "Timeout"),
    ] {
        sb.clear_faults();
        sb.add_fault(Fault {
            matches: on("list", "pods"),
            action: FaultAction::Status(code),
            when: FaultWhen::FirstN(1),
        });
        match pods.list(&ListParams::default()).await {
            Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (code, reason)),
            other => panic!("{code}: {other:?}"),
        }
        assert!(
            !pods
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .is_empty(),
            "only the first match fails"
        );
    }
    // A 429 carries Retry-After.
    sb.add_fault(Fault {
        matches: on("get", "pods"),
        action: FaultAction::TooManyRequests {
            retry_after_seconds: 3,
        },
        when: FaultWhen::FirstN(1),
    });
    let c = client(&sb, false).await;
    let name = sb.objects("", "pods", Some("istio-system"))[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = c
        .send(
            http::Request::get(format!("/api/v1/namespaces/istio-system/pods/{name}"))
                .body(kube::client::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_default_retries_ride_out_503s() {
    let sb = sandbox().await;
    sb.add_fault(Fault {
        matches: on("list", "configmaps"),
        action: FaultAction::Status(503),
        when: FaultWhen::FirstN(2),
    });
    let cms: Api<ConfigMap> = Api::namespaced(client(&sb, true).await, "istio-system");
    let mark = sb.request_log().len();
    assert!(
        !cms.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        statuses(&sb, mark, "/api/v1/namespaces/istio-system/configmaps"),
        vec![503, 503, 200]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delay_holds_the_answer_back() {
    let sb = sandbox().await;
    sb.add_fault(Fault {
        matches: on("list", "pods"),
        action: FaultAction::Delay(Duration::from_millis(300)),
        when: FaultWhen::FirstN(1),
    });
    let pods: Api<Pod> = Api::namespaced(client(&sb, false).await, "istio-system");
    let mark = sb.request_log().len();
    assert!(
        !pods
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let rec = sb
        .request_log()
        .since(mark)
        .into_iter()
        .find(|r| r.path == "/api/v1/namespaces/istio-system/pods")
        .unwrap();
    // A lower bound only: the server slept at least this long.
    assert!(rec.elapsed >= Duration::from_millis(300), "{rec:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_sees_each_error_and_retries_a_429() {
    let sb = sandbox().await;
    let kubectl = Kubectl::new(&sb);
    for (code, text) in [
        (500, "Error from server (InternalError)"),
        (503, "Error from server (ServiceUnavailable)"),
        (504, "Error from server (Timeout)"),
    ] {
        sb.clear_faults();
        sb.add_fault(Fault {
            matches: on("list", "configmaps"),
            action: FaultAction::Status(code),
            when: FaultWhen::FirstN(1),
        });
        let out = kubectl
            .run(&["get", "configmaps", "-n", "istio-system"])
            .await;
        assert_eq!(out.code, 1, "{}", out.describe());
        assert!(out.stderr.contains(text), "{}", out.describe());
    }
    // client-go honours Retry-After on a 429 and tries again.
    sb.clear_faults();
    sb.add_fault(Fault {
        matches: on("list", "configmaps"),
        action: FaultAction::TooManyRequests {
            retry_after_seconds: 1,
        },
        when: FaultWhen::FirstN(1),
    });
    let mark = sb.request_log().len();
    let out = kubectl
        .ok(&["get", "configmaps", "-n", "istio-system", "-o", "name"])
        .await;
    assert!(out.contains("configmap/istio"), "{out}");
    assert_eq!(
        statuses(&sb, mark, "/api/v1/namespaces/istio-system/configmaps"),
        vec![429, 200]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_probability_replays_identically() {
    let mut runs = vec![];
    for _ in 0..2 {
        let sb = sandbox().await;
        sb.add_fault(Fault {
            matches: on("list", "configmaps"),
            action: FaultAction::Status(500),
            when: FaultWhen::Probability { p: 0.5, seed: 42 },
        });
        let cms: Api<ConfigMap> = Api::namespaced(client(&sb, false).await, "istio-system");
        let mut outcome = vec![];
        for _ in 0..16 {
            outcome.push(cms.list(&ListParams::default()).await.is_ok());
        }
        let kubectl = Kubectl::new(&sb);
        for _ in 0..4 {
            outcome.push(
                kubectl
                    .run(&["get", "configmaps", "-n", "istio-system"])
                    .await
                    .code
                    == 0,
            );
        }
        runs.push(outcome);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&true) && runs[0].contains(&false),
        "{:?}",
        runs[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_binary_applies_a_faults_file_to_kubectl() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kc");
    let faults = dir.path().join("faults.yaml");
    std::fs::write(
        &faults,
        "- {verb: list, resource: namespaces, action: 503, first: 1}\n",
    )
    .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealos-sandbox"))
        .args(["serve", "--scenario", "empty", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .arg("--faults")
        .arg(&faults)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.next_line().await.unwrap().unwrap();
    assert!(ready.starts_with("sealos-sandbox ready: "), "{ready}");
    let home = tempfile::tempdir().unwrap();
    let run = || {
        tokio::process::Command::new("kubectl")
            .args(["get", "ns", "-o", "name"])
            .env("HOME", home.path())
            .env("KUBECONFIG", &kubeconfig)
            .output()
    };
    let first = run().await.unwrap();
    assert_eq!(first.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&first.stderr).contains("Error from server (ServiceUnavailable)")
    );
    let second = run().await.unwrap();
    assert!(String::from_utf8_lossy(&second.stdout).contains("namespace/default"));
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "- {action: 418}\n").unwrap();
    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealos-sandbox"))
        .args(["serve", "--scenario", "empty", "--faults"])
        .arg(&bad)
        .output()
        .await
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unknown action \"418\""));
}

/// Guard against a hang (a fault that did not fire would leave a watch open): not a timing.
async fn guarded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("the fault did not end the request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_and_cut_bodies_break_kube_rs_and_kubectl() {
    let sb = sandbox().await;
    let cms: Api<ConfigMap> = Api::namespaced(client(&sb, false).await, "istio-system");
    sb.add_fault(Fault {
        matches: on("list", "configmaps"),
        action: FaultAction::Reset,
        when: FaultWhen::FirstN(1),
    });
    let err = cms.list(&ListParams::default()).await.unwrap_err();
    assert!(
        !matches!(err, kube::Error::Api(_)),
        "a reset is no API answer: {err:?}"
    );
    assert!(
        !cms.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    sb.clear_faults();
    sb.add_fault(Fault {
        matches: on("list", "configmaps"),
        action: FaultAction::CutBody { after_bytes: 100 },
        when: FaultWhen::FirstN(1),
    });
    let err = cms.list(&ListParams::default()).await.unwrap_err();
    assert!(
        !matches!(err, kube::Error::Api(_)),
        "a cut body is no API answer: {err:?}"
    );

    let kubectl = Kubectl::new(&sb);
    for action in [
        FaultAction::Reset,
        FaultAction::CutBody { after_bytes: 100 },
    ] {
        sb.clear_faults();
        sb.add_fault(Fault {
            matches: on("list", "configmaps"),
            action: action.clone(),
            when: FaultWhen::FirstN(u64::MAX),
        });
        let out = kubectl
            .run(&["get", "configmaps", "-n", "istio-system", "-o", "json"])
            .await;
        assert_eq!(out.code, 1, "{action:?}\n{}", out.describe());
        // kubectl prints an empty List before the error; no ConfigMap gets through.
        assert!(
            !out.stdout.contains("\"kind\": \"ConfigMap\""),
            "{}",
            out.describe()
        );
        assert!(!out.stderr.is_empty(), "{}", out.describe());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_watch_ends_kube_rs_and_kubectl_watches_early() {
    let sb = sandbox().await;
    let cms: Api<ConfigMap> = Api::namespaced(client(&sb, false).await, "istio-system");
    let existing = sb.objects("", "configmaps", Some("istio-system")).len();
    assert!(existing > 2);
    sb.add_fault(Fault {
        matches: on("watch", "configmaps"),
        action: FaultAction::CloseWatch { after_events: 2 },
        when: FaultWhen::FirstN(1),
    });
    use futures::StreamExt;
    let stream = cms
        .watch(&kube::api::WatchParams::default().timeout(290), "0")
        .await
        .unwrap();
    let events: Vec<_> = guarded(stream.collect::<Vec<_>>()).await;
    assert_eq!(events.len(), 2, "{events:?}");

    sb.clear_faults();
    sb.add_fault(Fault {
        matches: on("watch", "configmaps"),
        action: FaultAction::CloseWatch { after_events: 0 },
        when: FaultWhen::FirstN(1),
    });
    let kubectl = Kubectl::new(&sb);
    let out = guarded(kubectl.run(&[
        "get",
        "configmaps",
        "-n",
        "istio-system",
        "--watch",
        "-o",
        "name",
    ]))
    .await;
    assert_eq!(out.code, 0, "{}", out.describe());
    assert!(out.stdout.contains("configmap/istio"), "{}", out.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_continue_tokens_answer_410() {
    let sb = sandbox().await;
    sb.add_fault(Fault {
        matches: FaultMatch {
            verb: Some("list".into()),
            resource: Some("configmaps".into()),
            ..Default::default()
        },
        action: FaultAction::ExpireContinue,
        when: FaultWhen::FirstN(u64::MAX),
    });
    let cms: Api<ConfigMap> = Api::all(client(&sb, false).await);
    let first = cms.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(first.items.len(), 2, "a first page has no token and passes");
    let token = first.metadata.continue_.unwrap();
    match cms
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
    {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (410, "Expired"));
            assert!(
                s.message
                    .starts_with("The provided continue parameter is too old"),
                "{}",
                s.message
            );
        }
        other => panic!("{other:?}"),
    }
    let kubectl = Kubectl::new(&sb);
    let out = kubectl
        .run(&["get", "configmaps", "-A", "--chunk-size=2", "-o", "name"])
        .await;
    let log = sb.request_log().since(0);
    assert!(
        log.iter().any(|r| r.path == "/api/v1/configmaps"
            && r.query.contains("continue=")
            && r.status == 410),
        "{}",
        out.describe()
    );
    assert!(
        out.code == 1 && out.stderr.contains("continue parameter is too old"),
        "{}",
        out.describe()
    );
}
