//! `targets` and `run --from-cluster` against the sandbox cluster: the hosts VirtualServices
//! bind to the ingress gateway, requested through a gateway URL with the right Host header.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use kubectl_sealos_bench::targets::{ClusterFlags, discover};
use sealos_sandbox::{Sandbox, SandboxOptions};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-sealos-bench");
const HOSTS: [&str; 4] = [
    "app-test.cloud.sealos.io",
    "blog-test.cloud.sealos.io",
    "dbadmin-test.cloud.sealos.io",
    "terminal-test.cloud.sealos.io",
];

fn explain(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A stand-in gateway: answers 200 to everything and counts requests by Host header.
async fn gateway() -> (String, Arc<Mutex<BTreeMap<String, u64>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let hosts = Arc::new(Mutex::new(BTreeMap::new()));
    let seen = hosts.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        buf.drain(..end + 4);
                        let host = head
                            .lines()
                            .find_map(|l| l.strip_prefix("host: ").or(l.strip_prefix("Host: ")))
                            .unwrap_or_default()
                            .to_string();
                        *seen.lock().unwrap().entry(host).or_insert(0) += 1;
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (url, hosts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_are_the_hosts_bound_to_the_ingress_gateway() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sandbox = Sandbox::start(SandboxOptions::scenario("sealos"))
        .await
        .unwrap();
    let flags = ClusterFlags {
        kubeconfig: Some(sandbox.kubeconfig_path().to_path_buf()),
        ..ClusterFlags::default()
    };
    let kube = flags.kube_flags().connect().await.unwrap();
    let found = discover(&kube, Some("http://10.96.0.10/")).await.unwrap();
    let hosts: Vec<&str> = found.iter().map(|t| t.host.as_str()).collect();
    assert_eq!(hosts, HOSTS);
    assert_eq!(found[0].virtual_service, "ns-bob/app-test");
    assert_eq!(found[0].gateway, "istio-system/sealos-gateway");
    assert_eq!(
        found[0].host_header.as_deref(),
        Some("app-test.cloud.sealos.io")
    );

    // The binary, with --namespace narrowing the VirtualServices.
    let kubeconfig = sandbox.kubeconfig_path().to_str().unwrap().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args([
                "targets",
                "--kubeconfig",
                &kubeconfig,
                "--namespace",
                "ns-alice",
                "-o",
                "json",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hosts: Vec<&str> = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["host"].as_str().unwrap())
        .collect();
    assert_eq!(
        hosts,
        [
            "dbadmin-test.cloud.sealos.io",
            "terminal-test.cloud.sealos.io"
        ]
    );
    assert_eq!(
        doc["targets"][0]["url"],
        "http://dbadmin-test.cloud.sealos.io/"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_from_cluster_sends_each_host_through_the_gateway_url() {
    let sandbox = Sandbox::start(SandboxOptions::scenario("sealos"))
        .await
        .unwrap();
    let (gateway_url, seen) = gateway().await;
    let kubeconfig = sandbox.kubeconfig_path().to_str().unwrap().to_string();
    let url = gateway_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args([
                "run",
                "--from-cluster",
                "--gateway-url",
                &url,
                "--kubeconfig",
                &kubeconfig,
                "-c",
                "1,2",
                "-n",
                "25",
                "-o",
                "json",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 8);
    assert_eq!(steps[0]["service"], HOSTS[0]);
    assert_eq!(steps[0]["url"], gateway_url.as_str());
    let expected: BTreeMap<String, u64> = HOSTS.iter().map(|h| (h.to_string(), 50)).collect();
    assert_eq!(*seen.lock().unwrap(), expected);
}
