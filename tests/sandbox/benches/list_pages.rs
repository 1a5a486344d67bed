//! Lists 50,000 ConfigMaps in pages of 500 through kube-rs, and watches while writing, and
//! prints the figures (client wall time and the server's own time per request). Not a test:
//! `cargo bench -p sealos-sandbox --bench list_pages`.
#![allow(clippy::unwrap_used)]

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use sealos_sandbox::{Sandbox, SandboxOptions, Scenario};
use serde_json::json;
use std::time::{Duration, Instant};

const OBJECTS: usize = 50_000;
const NAMESPACES: usize = 50;

fn objects() -> Vec<serde_json::Value> {
    let mut v: Vec<serde_json::Value> = (0..NAMESPACES).map(|n| json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": format!("bench-{n}") } })).collect();
    v.extend((0..OBJECTS).map(|i| {
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": { "name": format!("cm-{i:06}"), "namespace": format!("bench-{}", i % NAMESPACES), "labels": { "app": format!("app-{}", i % 7) } },
            "data": { "config.yaml": "mode: istio\npercentage: 50\n".repeat(4) },
        })
    }));
    v
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seed_start = Instant::now();
    let sb = Sandbox::start(SandboxOptions {
        scenario: Scenario::Objects(objects()),
        ..Default::default()
    })
    .await
    .unwrap();
    println!(
        "seeded {OBJECTS} configmaps in {:.0} ms",
        millis(seed_start.elapsed())
    );
    let kc = kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let api: Api<ConfigMap> = Api::all(client.clone());

    for round in 0..3 {
        let mark = sb.request_log().len();
        let start = Instant::now();
        let (mut seen, mut pages, mut token) = (0, 0, None::<String>);
        loop {
            let mut lp = ListParams::default().limit(500);
            if let Some(t) = &token {
                lp = lp.continue_token(t);
            }
            let page = api.list(&lp).await.unwrap();
            seen += page.items.len();
            pages += 1;
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        let wall = start.elapsed();
        let server: Duration = sb.request_log().since(mark).iter().map(|r| r.elapsed).sum();
        assert_eq!(seen, OBJECTS);
        println!(
            "round {round}: listed {seen} in {pages} pages: client wall {:.0} ms, server {:.0} ms ({:.2} ms/page)",
            millis(wall),
            millis(server),
            millis(server) / pages as f64
        );
    }

    // Watch latency under load: one watcher, 2,000 creates, time from create answer to event.
    let ns_api: Api<ConfigMap> = Api::namespaced(client, "bench-0");
    let rv = ns_api
        .list(&ListParams::default().limit(1))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = ns_api
        .watch(&WatchParams::default().timeout(120), &rv)
        .await
        .unwrap()
        .boxed();
    let start = Instant::now();
    let mut worst = Duration::ZERO;
    for i in 0..2_000 {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some(format!("watched-{i}"));
        let sent = Instant::now();
        ns_api.create(&PostParams::default(), &cm).await.unwrap();
        loop {
            match stream.next().await.unwrap().unwrap() {
                WatchEvent::Added(o) if o.metadata.name == cm.metadata.name => break,
                _ => {}
            }
        }
        worst = worst.max(sent.elapsed());
    }
    println!(
        "watch: 2000 create→event round trips in {:.0} ms, worst {:.2} ms",
        millis(start.elapsed()),
        millis(worst)
    );
    sb.shutdown().await;
}
