//! `services/NAME:PORT/proxy/...` and `pods/NAME:PORT/proxy/...` through the sandbox to a real
//! local HTTP server, with kube-rs `request_text` and the real `kubectl get --raw`.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Kubectl, sandbox};
use kube::{Client, Config};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A kube-rs client without its default retries of 429/503/504 (they would hide the answer).
async fn client(sb: &sealos_sandbox::Sandbox) -> Client {
    let kc = kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).unwrap();
    let mut config =
        Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    config.default_retry = false;
    Client::try_from(config).unwrap()
}

/// A stand-in Prometheus: answers every request with JSON naming its method, target and body;
/// a POST answers 201, a path ending in `/teapot` 418.
async fn echo_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut req = vec![];
                let mut buf = [0u8; 4096];
                let head_end = loop {
                    if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    let n = conn.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&buf[..n]);
                };
                let head = String::from_utf8_lossy(&req[..head_end]).to_string();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                while req.len() < head_end + len {
                    let n = conn.read(&mut buf).await.unwrap();
                    req.extend_from_slice(&buf[..n]);
                }
                let line: Vec<&str> = head.lines().next().unwrap().split(' ').collect();
                let body = String::from_utf8_lossy(&req[head_end..head_end + len]).to_string();
                let status = if line[0] == "POST" {
                    "201 Created"
                } else if line[1].ends_with("/teapot") {
                    "418 I'm a teapot"
                } else {
                    "200 OK"
                };
                let out = json!({ "method": line[0], "target": line[1], "body": body }).to_string();
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{out}",
                    out.len()
                );
                conn.write_all(resp.as_bytes()).await.unwrap();
                conn.shutdown().await.unwrap();
            });
        }
    });
    port
}

fn service(name: &str, upstream: Option<String>) -> Value {
    let mut annotations = json!({});
    if let Some(u) = upstream {
        annotations[sealos_sandbox::proxy::UPSTREAM_ANNOTATION] = json!(u);
    }
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": name, "namespace": "default", "annotations": annotations },
        "spec": { "selector": { "app": name }, "ports": [{ "name": "web", "port": 9090, "targetPort": 9090 }] },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_proxy_passes_method_query_body_and_status_with_kube_rs() {
    let sb = sandbox().await;
    let port = echo_server().await;
    sb.create(service("prom", Some(format!("http://127.0.0.1:{port}"))))
        .unwrap();
    let c = client(&sb).await;
    let base = "/api/v1/namespaces/default/services/prom:9090/proxy";
    let text = c
        .request_text(
            http::Request::get(format!("{base}/api/v1/query?query=up%7Bjob%3D%22x%22%7D"))
                .body(vec![])
                .unwrap(),
        )
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["method"], "GET");
    assert_eq!(v["target"], "/api/v1/query?query=up%7Bjob%3D%22x%22%7D");
    let text = c
        .request_text(
            http::Request::post(format!("{base}/api/v1/query"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(b"query=up".to_vec())
                .unwrap(),
        )
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (v["method"].as_str(), v["body"].as_str()),
        (Some("POST"), Some("query=up"))
    );
    let log = sb.request_log().since(0);
    assert!(
        log.iter().any(|r| r.method == "POST"
            && r.path == format!("{base}/api/v1/query")
            && r.status == 201),
        "{log:?}"
    );
    // A status the upstream chose comes back as it is.
    let teapot = c
        .send(
            http::Request::get(format!("{base}/teapot"))
                .body(kube::client::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(teapot.status().as_u16(), 418);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_answers_503_when_nothing_answers() {
    let sb = sandbox().await;
    // A port that was just free: nothing listens there.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    sb.create(service(
        "gone",
        Some(format!("http://127.0.0.1:{dead_port}")),
    ))
    .unwrap();
    sb.create(service("bare", None)).unwrap();
    let c = client(&sb).await;
    for (name, want) in [
        (
            "gone",
            format!(
                "error trying to reach service: dial tcp 127.0.0.1:{dead_port}: connect: connection refused"
            ),
        ),
        (
            "bare",
            "no endpoints available for service \"bare\"".to_string(),
        ),
    ] {
        let err = c
            .request_text(
                http::Request::get(format!(
                    "/api/v1/namespaces/default/services/{name}:9090/proxy/"
                ))
                .body(vec![])
                .unwrap(),
            )
            .await
            .unwrap_err();
        match err {
            kube::Error::Api(s) => {
                assert_eq!(s.code, 503);
                assert_eq!(s.reason, "ServiceUnavailable");
                assert_eq!(s.message, want);
            }
            other => panic!("{other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_raw_through_service_and_pod_proxies() {
    let sb = sandbox().await;
    let port = echo_server().await;
    sb.create(service("prom", Some(format!("http://127.0.0.1:{port}"))))
        .unwrap();
    sb.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "envoy-standin", "namespace": "default",
            "annotations": { sealos_sandbox::portforward::ANNOTATION: format!("{{\"15000\":\"127.0.0.1:{port}\"}}") },
        },
        "spec": { "containers": [{ "name": "istio-proxy", "image": "istio/proxyv2:1.24" }] },
    }))
    .unwrap();
    let kubectl = Kubectl::new(&sb);
    let out = kubectl
        .ok(&[
            "get",
            "--raw",
            "/api/v1/namespaces/default/services/prom:web/proxy/api/v1/query?query=up",
        ])
        .await;
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["target"], "/api/v1/query?query=up");
    let out = kubectl
        .ok(&[
            "get",
            "--raw",
            "/api/v1/namespaces/default/pods/envoy-standin:15000/proxy/clusters",
        ])
        .await;
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["target"], "/clusters");
    let failed = kubectl
        .run(&[
            "get",
            "--raw",
            "/api/v1/namespaces/monitoring/services/prometheus:9090/proxy/api/v1/query?query=up",
        ])
        .await;
    assert_eq!(failed.code, 1, "{}", failed.describe());
    assert!(
        failed
            .stderr
            .contains("no endpoints available for service \\\"prometheus\\\"")
            || failed
                .stderr
                .contains("no endpoints available for service \"prometheus\""),
        "{}",
        failed.describe()
    );
}
