//! kube-rs `Api::<Pod>::portforward` (WebSocket, v4.channel.k8s.io) through the sandbox to a
//! stand-in Envoy admin server started by the test.
#![allow(clippy::unwrap_used)]

mod common;

use common::sandbox;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::{Client, Config};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn client(sb: &sealos_sandbox::Sandbox) -> Client {
    let kc = kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).unwrap();
    let config = Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// An HTTP/1.1 server on 127.0.0.1:0 answering every request with its request line echoed.
async fn admin_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut req = vec![];
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = conn.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&buf[..n]);
                }
                let line = String::from_utf8_lossy(&req)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                let body = format!("{{\"configs\":[],\"request\":\"{line}\"}}");
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                conn.write_all(resp.as_bytes()).await.unwrap();
                conn.shutdown().await.unwrap();
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portforward_reaches_a_real_admin_server_and_reports_unmapped_ports() {
    let sb = sandbox().await;
    let port = admin_server().await;
    sb.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "envoy-standin", "namespace": "default",
            "annotations": { sealos_sandbox::portforward::ANNOTATION: format!("{{\"15000\":\"127.0.0.1:{port}\"}}") },
        },
        "spec": { "containers": [{ "name": "istio-proxy", "image": "istio/proxyv2:1.24" }] },
    }))
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(client(&sb).await, "default");
    let mut pf = pods
        .portforward("envoy-standin", &[15000, 15001])
        .await
        .unwrap();
    let mut stream = pf.take_stream(15000).unwrap();
    stream
        .write_all(b"GET /config_dump HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = vec![];
    stream.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(
        text.ends_with("{\"configs\":[],\"request\":\"GET /config_dump HTTP/1.1\"}"),
        "{text}"
    );

    let err = pf.take_error(15001).unwrap().await.unwrap();
    assert!(
        err.starts_with("error forwarding port 15001 to pod ")
            && err.contains("dial tcp4 127.0.0.1:15001: connect: connection refused"),
        "{err}"
    );
    let log = sb.request_log().since(0);
    assert!(
        log.iter().any(
            |r| r.path == "/api/v1/namespaces/default/pods/envoy-standin/portforward"
                && r.status == 101
        ),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portforward_to_a_missing_pod_is_404() {
    let sb = sandbox().await;
    let pods: Api<Pod> = Api::namespaced(client(&sb).await, "default");
    match pods.portforward("nope", &[15000]).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 404);
            assert_eq!(s.message, "pods \"nope\" not found");
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a missing pod was forwarded to"),
    }
}
