//! kube-rs 5 clients against the sandbox: typed and dynamic get/list/watch (watcher() and
//! streaming lists), a patch of every kind, and the status subresource's 409.
#![allow(clippy::unwrap_used)]

mod common;

use common::sandbox;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{
    Api, DynamicObject, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::discovery::{ApiResource, Discovery, Scope};
use kube::runtime::watcher;
use kube::{Client, Config};
use serde_json::json;

async fn client(sb: &sealos_sandbox::Sandbox) -> Client {
    let kc = kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).unwrap();
    let config = Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_get_and_paged_list() {
    let sb = sandbox().await;
    let c = client(&sb).await;
    let deps: Api<Deployment> = Api::namespaced(c.clone(), "sealos-system");
    let d = deps.get("terminal-controller").await.unwrap();
    assert!(d.spec.unwrap().template.spec.unwrap().containers.len() >= 2);
    let err = deps.get("nope").await.unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 404);
            assert_eq!(s.message, "deployments.apps \"nope\" not found");
        }
        other => panic!("{other}"),
    }
    let pods: Api<Pod> = Api::all(c.clone());
    let total = sb.objects("", "pods", None).len();
    let mut seen = 0;
    let mut token: Option<String> = None;
    let mut rvs = vec![];
    loop {
        let mut lp = ListParams::default().limit(3);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = pods.list(&lp).await.unwrap();
        seen += page.items.len();
        rvs.push(page.metadata.resource_version.clone().unwrap());
        token = page.metadata.continue_.clone().filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, total);
    assert!(
        rvs.windows(2).all(|w| w[0] == w[1]),
        "one resourceVersion across pages: {rvs:?}"
    );
    let running = pods
        .list(&ListParams::default().fields("status.phase=Running"))
        .await
        .unwrap();
    assert_eq!(running.items.len(), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_discovery_and_list_of_custom_resources() {
    let sb = sandbox().await;
    let c = client(&sb).await;
    let discovery = Discovery::new(c.clone()).run().await.unwrap();
    let (ar, caps) = discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .find(|(ar, _)| ar.group == "networking.istio.io" && ar.plural == "virtualservices")
        .expect("virtualservices discovered");
    assert_eq!(caps.scope, Scope::Namespaced);
    let api: Api<DynamicObject> = Api::all_with(c.clone(), &ar);
    let list = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        list.items.len(),
        sb.objects("networking.istio.io", "virtualservices", None)
            .len()
    );
    assert!(
        list.items
            .iter()
            .all(|o| o.metadata.resource_version.is_some())
    );
    let first = &list.items[0];
    let ns_api: Api<DynamicObject> =
        Api::namespaced_with(c, first.metadata.namespace.as_deref().unwrap(), &ar);
    let got = ns_api
        .get(first.metadata.name.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(got.data["spec"], first.data["spec"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_watch_sees_a_create_and_old_versions_expire() {
    let sb = sealos_sandbox::Sandbox::start(sealos_sandbox::SandboxOptions {
        limits: sealos_sandbox::store::StoreLimits {
            history: 64,
            snapshots: 4,
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let c = client(&sb).await;
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "ns-alice");
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
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("watched".into());
    cms.create(&PostParams::default(), &cm).await.unwrap();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Added(o) => assert_eq!(o.metadata.name.as_deref(), Some("watched")),
        other => panic!("{other:?}"),
    }
    // Push the history window past `rv`: a watch from it now gets 410 Expired.
    for i in 0..80 {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some(format!("filler-{i}"));
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    let mut old = cms
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .unwrap()
        .boxed();
    match old.try_next().await.unwrap().unwrap() {
        WatchEvent::Error(e) => {
            assert_eq!(e.code, 410);
            assert_eq!(e.reason, "Expired");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_and_streaming_lists_see_state_then_changes() {
    let sb = sandbox().await;
    let c = client(&sb).await;
    for config in [
        watcher::Config::default(),
        watcher::Config::default().streaming_lists(),
    ] {
        let expected = sb.objects("", "configmaps", Some("istio-system")).len();
        let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "istio-system");
        let mut stream = watcher(cms.clone(), config).boxed();
        let mut initial = 0;
        loop {
            match stream.try_next().await.unwrap().unwrap() {
                watcher::Event::Init => {}
                watcher::Event::InitApply(_) => initial += 1,
                watcher::Event::InitDone => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(initial, expected);
        let name = format!("w-{}", fastrand::u32(..));
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some(name.clone());
        cms.create(&PostParams::default(), &cm).await.unwrap();
        match stream.try_next().await.unwrap().unwrap() {
            watcher::Event::Apply(o) => assert_eq!(o.metadata.name.as_deref(), Some(name.as_str())),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        sb.request_log()
            .entries()
            .iter()
            .any(|r| r.query.contains("sendInitialEvents=true"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_of_every_kind() {
    let sb = sandbox().await;
    let c = client(&sb).await;
    let discovery = Discovery::new(c.clone()).run().await.unwrap();
    let kinds = [
        ("", "namespaces"),
        ("", "pods"),
        ("", "services"),
        ("", "endpoints"),
        ("", "configmaps"),
        ("", "secrets"),
        ("", "events"),
        ("", "serviceaccounts"),
        ("", "nodes"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("networking.k8s.io", "networkpolicies"),
        ("networking.k8s.io", "ingresses"),
        ("policy", "poddisruptionbudgets"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("networking.istio.io", "gateways"),
        ("networking.istio.io", "virtualservices"),
        ("networking.istio.io", "destinationrules"),
        ("security.istio.io", "authorizationpolicies"),
        ("security.istio.io", "peerauthentications"),
        ("cert-manager.io", "certificates"),
        ("cert-manager.io", "issuers"),
        ("cert-manager.io", "clusterissuers"),
        ("cert-manager.io", "certificaterequests"),
        ("monitoring.coreos.com", "prometheusrules"),
    ];
    for (group, plural) in kinds {
        let (ar, caps): (ApiResource, _) = discovery
            .groups()
            .flat_map(|g| g.recommended_resources())
            .find(|(ar, _)| ar.group == group && ar.plural == plural)
            .unwrap_or_else(|| panic!("{plural} not discovered"));
        let obj = &sb.objects(group, plural, None)[0];
        let name = obj["metadata"]["name"].as_str().unwrap();
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => Api::namespaced_with(
                c.clone(),
                obj["metadata"]["namespace"].as_str().unwrap(),
                &ar,
            ),
            Scope::Cluster => Api::all_with(c.clone(), &ar),
        };
        let patched = api
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "metadata": { "labels": { "patched-by": "kube-rs" } } })),
            )
            .await
            .unwrap();
        assert_eq!(
            patched.metadata.labels.unwrap()["patched-by"],
            "kube-rs",
            "{plural}"
        );
    }
    // Server-side apply creates what is missing, and strategic merge works on built-ins.
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "ns-bob");
    let applied = cms.patch("ssa", &PatchParams::apply("kube-rs-test"), &Patch::Apply(json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "ssa" }, "data": { "a": "1" } }))).await.unwrap();
    assert_eq!(applied.data.unwrap()["a"], "1");
    let deps: Api<Deployment> = Api::namespaced(c, "sealos-system");
    let p = json!({ "spec": { "template": { "spec": { "containers": [{ "name": "manager", "env": [{ "name": "NETWORKING_MODE", "value": "istio" }] }] } } } });
    let d = deps
        .patch(
            "webhook-controller",
            &PatchParams::default(),
            &Patch::Strategic(p),
        )
        .await
        .unwrap();
    assert!(d.spec.unwrap().template.spec.unwrap().containers.len() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_subresource_update_conflicts_on_stale_version() {
    let sb = sandbox().await;
    let c = client(&sb).await;
    let discovery = Discovery::new(c.clone()).run().await.unwrap();
    let (ar, _) = discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .find(|(ar, _)| ar.group == "cert-manager.io" && ar.plural == "certificates")
        .unwrap();
    let first = &sb.objects("cert-manager.io", "certificates", None)[0];
    let (ns, name) = (
        first["metadata"]["namespace"].as_str().unwrap(),
        first["metadata"]["name"].as_str().unwrap(),
    );
    let api: Api<DynamicObject> = Api::namespaced_with(c, ns, &ar);
    let mut cert = api.get_status(name).await.unwrap();
    let stale = cert.clone();
    cert.data["status"]["conditions"] = json!([{ "type": "Issuing", "status": "True", "reason": "ManuallyTriggered", "message": "renew" }]);
    let updated = api
        .replace_status(name, &PostParams::default(), &cert)
        .await
        .unwrap();
    assert_eq!(updated.data["status"]["conditions"][0]["type"], "Issuing");
    assert_ne!(
        updated.metadata.resource_version,
        stale.metadata.resource_version
    );
    assert_eq!(
        updated.metadata.generation, stale.metadata.generation,
        "status writes keep the generation"
    );
    match api
        .replace_status(name, &PostParams::default(), &stale)
        .await
        .unwrap_err()
    {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 409);
            assert_eq!(s.reason, "Conflict");
        }
        other => panic!("{other}"),
    }
    // A main-resource write does not touch the status (which the cert-manager simulation may
    // have moved on from Issuing to a re-issued Ready meanwhile, but never empties).
    let mut main = api.get(name).await.unwrap();
    main.data["status"] = json!({});
    let after = api
        .replace(name, &PostParams::default(), &main)
        .await
        .unwrap();
    let kind = after.data["status"]["conditions"][0]["type"].clone();
    assert!(kind == "Issuing" || kind == "Ready", "{after:?}");
}
