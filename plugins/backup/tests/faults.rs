//! API faults during `create`: 429 (with Retry-After), 500, an expired continue token. The
//! sandbox has no fault injection yet, so a small HTTP proxy in front of it (kube-rs forwards to
//! the sandbox) answers the faults. Every run ends in a complete, correct backup or in exit 2
//! with nothing marked complete.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sealos_sandbox::Sandbox;
use sealos_shared::Exit;
use sealos_shared::connection::KubeFlags;
use serde_json::{Value, json};
use support::*;

/// What the proxy does to list requests (GETs with `limit`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The first list of each resource gets 429 then 500; the first continued page gets 410.
    Transient,
    /// Every list of secrets fails with 500.
    SecretsBroken,
}

#[derive(Default)]
struct Seen {
    first_pages: BTreeSet<String>,
    errors: BTreeSet<String>,
    expired_once: bool,
    faults: usize,
}

fn status(code: u16, reason: &str, message: &str, retry_after: Option<u32>) -> (u16, Vec<u8>) {
    let mut body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code});
    if let Some(seconds) = retry_after {
        body["details"] = json!({"retryAfterSeconds": seconds});
    }
    (code, serde_json::to_vec(&body).unwrap())
}

fn fault(mode: Mode, seen: &Mutex<Seen>, path: &str, query: &str) -> Option<(u16, Vec<u8>)> {
    if !query.contains("limit=") {
        return None;
    }
    let mut seen = seen.lock().unwrap();
    let answer = match mode {
        Mode::SecretsBroken if path.ends_with("/secrets") => {
            Some(status(500, "InternalError", "etcd is on fire", None))
        }
        Mode::SecretsBroken => None,
        Mode::Transient if query.contains("continue=") => {
            if seen.expired_once {
                None
            } else {
                seen.expired_once = true;
                Some(status(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result.",
                    None,
                ))
            }
        }
        Mode::Transient => {
            if seen.first_pages.insert(path.to_string()) {
                Some(status(429, "TooManyRequests", "slow down", Some(1)))
            } else if seen.errors.insert(path.to_string()) {
                Some(status(500, "InternalError", "a passing failure", None))
            } else {
                None
            }
        }
    };
    if answer.is_some() {
        seen.faults += 1;
    }
    answer
}

/// Starts the proxy; returns its kubeconfig and the fault counter.
async fn proxy(sandbox: &Sandbox, mode: Mode, dir: &Path) -> (String, Arc<Mutex<Seen>>) {
    let kube = KubeFlags {
        kubeconfig: Some(sandbox.kubeconfig_path().to_path_buf()),
        ..Default::default()
    }
    .connect()
    .await
    .unwrap();
    let client = kube.client;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let client = client.clone();
            let state = state.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let client = client.clone();
                    let state = state.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        let query = req.uri().query().unwrap_or("").to_string();
                        let answer = match fault(mode, &state, &path, &query) {
                            Some(answer) => answer,
                            None => forward(&client, req).await,
                        };
                        Ok::<_, Infallible>(
                            hyper::Response::builder()
                                .status(answer.0)
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(answer.1)))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let kubeconfig = dir.join("proxy-kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: proxy\nclusters:\n- name: proxy\n  cluster: {{server: \"http://127.0.0.1:{port}\"}}\nusers:\n- name: proxy\n  user: {{token: unused}}\ncontexts:\n- name: proxy\n  context: {{cluster: proxy, user: proxy}}\n"
        ),
    )
    .unwrap();
    (kubeconfig.display().to_string(), seen)
}

async fn forward(
    client: &kube::Client,
    req: hyper::Request<hyper::body::Incoming>,
) -> (u16, Vec<u8>) {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    let mut out = http::Request::builder()
        .method(parts.method)
        .uri(parts.uri.path_and_query().unwrap().as_str());
    for name in ["content-type", "accept"] {
        if let Some(value) = parts.headers.get(name) {
            out = out.header(name, value);
        }
    }
    let response = client
        .send(out.body(kube::client::Body::from(body)).unwrap())
        .await
        .unwrap();
    let code = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (code, bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passing_faults_end_in_a_complete_and_correct_backup() {
    let source = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let clean_file = dir.path().join("clean.tar.gz").display().to_string();
    let (exit, _) = run_json(
        Some(&source),
        &["create", "--to", &clean_file, "-o", "json"],
    )
    .await;
    assert_eq!(exit, Exit::Ok);

    let (kubeconfig, seen) = proxy(&source, Mode::Transient, dir.path()).await;
    let faulty = dir.path().join("faulty.tar.gz").display().to_string();
    let argv = strings(&[
        "--kubeconfig",
        &kubeconfig,
        "create",
        "--to",
        &faulty,
        "--page-size",
        "2",
        "-o",
        "json",
    ]);
    let out = bin(argv.clone(), vec![]).await;
    assert_eq!(out.status.code(), Some(0), "{}", explain(&argv, &out));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (expired_once, faults) = {
        let seen = seen.lock().unwrap();
        (seen.expired_once, seen.faults)
    };
    assert!(expired_once, "no continue token was expired");
    assert!(faults > 10, "only {faults} faults");
    let notes = created["summary"]["notes"].to_string();
    assert!(notes.contains("continue token expired"), "{notes}");

    let (exit, verified) = run_json(None, &["verify", &faulty, "-o", "json"]).await;
    assert_eq!(exit, Exit::Ok, "{verified}");
    // The same objects as without faults: none lost, none twice.
    let mut clean = entry_names(Path::new(&clean_file));
    let mut got = entry_names(Path::new(&faulty));
    clean.sort();
    got.sort();
    assert_eq!(got, clean);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lasting_fault_exits_2_and_marks_nothing_complete() {
    let source = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let (kubeconfig, _) = proxy(&source, Mode::SecretsBroken, dir.path()).await;
    let backups = dir.path().join("backups");
    let backups_text = backups.display().to_string();
    let argv = strings(&["--kubeconfig", &kubeconfig, "create", "--to", &backups_text]);
    let out = bin(argv.clone(), vec![]).await;
    assert_eq!(out.status.code(), Some(2), "{}", explain(&argv, &out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: list secrets") && stderr.contains("etcd is on fire"),
        "{}",
        explain(&argv, &out)
    );
    let left: Vec<_> = std::fs::read_dir(&backups).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let (exit, listed) = run_json(None, &["list", "--dir", &backups_text, "-o", "json"]).await;
    assert_eq!(exit, Exit::Ok);
    assert_eq!(listed["backups"], json!([]));
}
