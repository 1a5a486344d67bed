//! kube-rs `Api::<Pod>::evict` against PodDisruptionBudgets: refused with upstream's 429 while a
//! budget is at its minimum, allowed otherwise, the evicted Deployment pod recreated, and the
//! budget's status kept up to date.
#![allow(clippy::unwrap_used)]

mod common;

use common::{sandbox, wait_for};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, EvictParams, ListParams, Patch, PatchParams};
use kube::{Client, Config};
use serde_json::{Value, json};

/// Without kube-rs's default retries, which would retry a 429 for minutes.
async fn client(sb: &sealos_sandbox::Sandbox) -> Client {
    let kc = kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).unwrap();
    let mut config =
        Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    config.default_retry = false;
    Client::try_from(config).unwrap()
}

fn deployment(name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": name, "namespace": "default" },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{ "name": "web", "image": "nginx:1.27" }] },
            },
        },
    })
}

fn pdb(name: &str, app: &str, budget: (&str, Value)) -> Value {
    json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": { "name": name, "namespace": "default", "generation": 1 },
        "spec": { budget.0: budget.1, "selector": { "matchLabels": { "app": app } } },
    })
}

fn ready_pods(sb: &sealos_sandbox::Sandbox, app: &str) -> Vec<String> {
    sb.objects("", "pods", Some("default"))
        .into_iter()
        .filter(|p| {
            p["metadata"]["labels"]["app"] == app && p["metadata"]["deletionTimestamp"].is_null()
        })
        .filter(|p| {
            p["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        })
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

fn pdb_status(sb: &sealos_sandbox::Sandbox, name: &str) -> (i64, i64, i64, i64) {
    let s = sb
        .object("policy", "poddisruptionbudgets", "default", name)
        .unwrap()["status"]
        .clone();
    (
        s["currentHealthy"].as_i64().unwrap_or(-1),
        s["desiredHealthy"].as_i64().unwrap_or(-1),
        s["expectedPods"].as_i64().unwrap_or(-1),
        s["disruptionsAllowed"].as_i64().unwrap_or(-1),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_refused_by_a_budget_then_allowed_and_the_pod_recreated() {
    let sb = sandbox().await;
    sb.create(deployment("web", 2)).unwrap();
    sb.create(pdb("web", "web", ("minAvailable", json!(2))))
        .unwrap();
    let before = wait_for("two ready web pods", || {
        let p = ready_pods(&sb, "web");
        (p.len() == 2).then_some(p)
    })
    .await;
    wait_for("the budget's status", || {
        (pdb_status(&sb, "web") == (2, 2, 2, 0)).then_some(())
    })
    .await;

    let c = client(&sb).await;
    let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
    match pods.evict(&before[0], &EvictParams::default()).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 429);
            assert_eq!(s.reason, "TooManyRequests");
            assert_eq!(
                s.message,
                "Cannot evict pod as it would violate the pod's disruption budget."
            );
            let causes = s.details.unwrap().causes;
            assert_eq!(causes[0].reason, "DisruptionBudget");
            assert_eq!(
                causes[0].message,
                "The disruption budget web needs 2 healthy pods and has 2 currently"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        sb.object("", "pods", "default", &before[0]).is_some(),
        "a refused eviction deleted the pod"
    );

    // Loosen the budget: 50% of two pods may be unavailable.
    let budgets: Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> =
        Api::namespaced(c.clone(), "default");
    budgets
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"minAvailable": null, "maxUnavailable": "50%"}})),
        )
        .await
        .unwrap();
    wait_for("the loosened budget's status", || {
        (pdb_status(&sb, "web") == (2, 1, 2, 1)).then_some(())
    })
    .await;
    let ok = pods
        .evict(&before[0], &EvictParams::default())
        .await
        .unwrap();
    assert_eq!(ok.code, 201);
    assert!(sb.object("", "pods", "default", &before[0]).is_none());
    let after = wait_for("the evicted pod replaced", || {
        let p = ready_pods(&sb, "web");
        (p.len() == 2 && !p.contains(&before[0])).then_some(p)
    })
    .await;
    assert!(after.contains(&before[1]));
    wait_for("the budget healthy again", || {
        (pdb_status(&sb, "web") == (2, 1, 2, 1)).then_some(())
    })
    .await;
    let listed = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_of_a_missing_pod_is_404_and_dry_run_keeps_the_pod() {
    let sb = sandbox().await;
    sb.create(deployment("api", 1)).unwrap();
    let pod = wait_for("a ready api pod", || {
        ready_pods(&sb, "api").into_iter().next()
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(client(&sb).await, "default");
    match pods.evict("nope", &EvictParams::default()).await {
        Err(kube::Error::Api(s)) => assert_eq!(
            (s.code, s.message.as_str()),
            (404, "pods \"nope\" not found")
        ),
        other => panic!("{other:?}"),
    }
    let dry = EvictParams {
        post_options: kube::api::PostParams {
            dry_run: true,
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(pods.evict(&pod, &dry).await.unwrap().code, 201);
    assert!(sb.object("", "pods", "default", &pod).is_some());
}

/// An Eviction's `deleteOptions.preconditions` are enforced as upstream's store enforces them
/// (rest.BeforeDelete): a UID that is not the pod's is 409 with upstream's words, the pod kept;
/// the pod's own UID evicts it. The body is written out: kube 5's `evict` sends its options as
/// `delete_options`, which the Eviction type does not have, and so does not carry them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_preconditions_name_the_pod_and_a_stale_uid_is_409() {
    let sb = sandbox().await;
    sb.create(deployment("api", 1)).unwrap();
    let pod = wait_for("a ready api pod", || {
        ready_pods(&sb, "api").into_iter().next()
    })
    .await;
    let uid = sb.object("", "pods", "default", &pod).unwrap()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let pods: Api<Pod> = Api::namespaced(client(&sb).await, "default");
    let eviction = |precondition: Value| {
        json!({
            "apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": pod, "namespace": "default"},
            "deleteOptions": {"preconditions": precondition},
        })
    };
    let pp = kube::api::PostParams::default();
    let stale = pods
        .create_subresource::<_, Value>("eviction", &pod, &pp, &eviction(json!({"uid": "not-it"})))
        .await;
    match stale {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
            assert_eq!(
                s.message,
                format!(
                    "Operation cannot be fulfilled on Pod \"{pod}\": the UID in the precondition (not-it) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
                )
            );
        }
        other => panic!("{other:?}"),
    }
    let rv = pods
        .create_subresource::<_, Value>(
            "eviction",
            &pod,
            &pp,
            &eviction(json!({"resourceVersion": "1"})),
        )
        .await;
    match rv {
        Err(kube::Error::Api(s)) => assert!(
            s.code == 409 && s.message.contains("The object might have been modified"),
            "{s:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(sb.object("", "pods", "default", &pod).is_some());
    let done: Value = pods
        .create_subresource("eviction", &pod, &pp, &eviction(json!({"uid": uid})))
        .await
        .unwrap();
    assert_eq!(done["code"], 201);
    assert!(sb.object("", "pods", "default", &pod).is_none());
}
