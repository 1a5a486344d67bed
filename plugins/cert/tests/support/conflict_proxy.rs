//! A plain-HTTP proxy in front of the sandbox that keeps the bodies of status PUTs (the
//! sandbox's request log does not) and can make the first ones conflict for real: just before
//! forwarding one, another writer changes the Certificate, so the sandbox answers 409 on the
//! stale resourceVersion, as an API server does when cert-manager writes between a client's
//! read and its write.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use sealos_sandbox::Sandbox;
use sealos_shared::resources::certmanager::Certificate;
use serde_json::{Value, json};

pub struct ConflictProxy {
    pub kubeconfig: PathBuf,
    /// How many status PUTs came through (the first `conflicts` of them were made to conflict).
    pub status_puts: Arc<AtomicUsize>,
    /// Every status PUT's (path, JSON body), in order.
    pub status_bodies: Arc<Mutex<Vec<(String, Value)>>>,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ConflictProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the proxy; the first `conflicts` status PUTs are made to conflict.
pub async fn start(sandbox: &Sandbox, conflicts: usize) -> ConflictProxy {
    let client = super::client(sandbox).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: proxy\nclusters:\n- name: proxy\n  cluster: {{server: \"http://{addr}\"}}\nusers:\n- name: admin\n  user: {{token: \"{}\"}}\ncontexts:\n- name: proxy\n  context: {{cluster: proxy, user: admin, namespace: default}}\n",
            sandbox.token()
        ),
    )
    .unwrap();
    let status_puts = Arc::new(AtomicUsize::new(0));
    let count = status_puts.clone();
    let status_bodies = Arc::new(Mutex::new(Vec::new()));
    let bodies = status_bodies.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let client = client.clone();
            let count = count.clone();
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let client = client.clone();
                    let count = count.clone();
                    let bodies = bodies.clone();
                    async move {
                        Ok::<_, Infallible>(forward(client, req, count, bodies, conflicts).await)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    ConflictProxy {
        kubeconfig,
        status_puts,
        status_bodies,
        _dir: dir,
        task,
    }
}

async fn forward(
    client: Client,
    req: Request<hyper::body::Incoming>,
    count: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<(String, Value)>>>,
    conflicts: usize,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    let path = parts.uri.path().to_string();
    if parts.method == hyper::Method::PUT && path.ends_with("/status") {
        let json: Value = serde_json::from_slice(&body).unwrap();
        bodies.lock().unwrap().push((path.clone(), json));
    }
    if parts.method == hyper::Method::PUT
        && path.ends_with("/status")
        && count.fetch_add(1, Ordering::SeqCst) < conflicts
    {
        // .../namespaces/NS/certificates/NAME/status
        let segments: Vec<&str> = path.split('/').collect();
        let (ns, name) = (segments[segments.len() - 4], segments[segments.len() - 2]);
        let api: Api<Certificate> = Api::namespaced(client.clone(), ns);
        let bump = json!({"metadata": {"annotations": {"test.sealos.io/concurrent-writer": format!("{}", count.load(Ordering::SeqCst))}}});
        api.patch(name, &PatchParams::default(), &Patch::Merge(&bump))
            .await
            .unwrap();
    }
    let mut out = http::Request::builder().method(parts.method.clone()).uri(
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/"),
    );
    for (name, value) in &parts.headers {
        if name != http::header::HOST && name != http::header::AUTHORIZATION {
            out = out.header(name, value);
        }
    }
    let response = client
        .send(out.body(kube::client::Body::from(body)).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Response::from_parts(parts, Full::new(bytes))
}
