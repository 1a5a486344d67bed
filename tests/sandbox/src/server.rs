//! HTTPS listener: TLS with the sandbox's serving certificate, HTTP/1.1 (upgrades allowed, for
//! port-forward later), bearer-token authentication, the request log, then the router.

use crate::auth::User;
use crate::cluster::Cluster;
use crate::query::Query;
use crate::request_log::RequestRecord;
use crate::response::{self, Resp};
use crate::router;
use crate::status::ApiError;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, header};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// A request as handlers see it: decoded query, the few headers that matter, the whole body.
pub struct ApiRequest {
    pub method: hyper::Method,
    pub path: String,
    pub query: Query,
    pub content_type: String,
    pub accept: String,
    pub body: Bytes,
    pub user: User,
}

pub fn tls_acceptor(cert_pem: &str, key_pem: &str) -> Result<TlsAcceptor, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("serving certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| format!("serving key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls config: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accept connections until `shutdown` turns true; then drop every open connection (watches too).
pub async fn serve(
    listener: TcpListener,
    tls: TlsAcceptor,
    cluster: Arc<Cluster>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else { continue };
                let tls = tls.clone();
                let cluster = cluster.clone();
                conns.spawn(async move {
                    let Ok(stream) = tls.accept(tcp).await else { return };
                    let svc = service_fn(move |req| {
                        let cluster = cluster.clone();
                        async move { handle(cluster, req).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}

fn header_str(req: &Request<Incoming>, name: header::HeaderName) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Who a request acted as, for the request log.
#[derive(Debug, Default)]
struct Who {
    user: String,
    impersonator: Option<String>,
}

/// A fault asked for the connection to be dropped without an answer.
#[derive(Debug)]
pub struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by an injected fault")
    }
}

impl std::error::Error for Reset {}

async fn handle(cluster: Arc<Cluster>, req: Request<Incoming>) -> Result<Resp, Reset> {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let content_type = header_str(&req, header::CONTENT_TYPE);
    let accept = header_str(&req, header::ACCEPT);
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let record = |status: u16, who: &Who| RequestRecord {
        method: method.to_string(),
        path: path.clone(),
        query: raw_query.clone(),
        content_type: content_type.clone(),
        accept: accept.clone(),
        status,
        elapsed: started.elapsed(),
        user: who.user.clone(),
        impersonator: who.impersonator.clone(),
    };
    let mut who = Who::default();
    let Some(mut user) = cluster.tokens.authenticate(auth.as_deref()) else {
        cluster.log.push(record(401, &who));
        return Ok(response::error(&ApiError::unauthorized()));
    };
    if let Some(bound) = cluster.tokens.binding(auth.as_deref())
        && !crate::tokenrequest::still_valid(&cluster, &bound)
    {
        cluster.log.push(record(401, &who));
        return Ok(response::error(&ApiError::unauthorized()));
    }
    who.user = user.name.clone();
    let parsed = Query::parse(Some(&raw_query));
    let asked = crate::impersonate::Asked::from_headers(req.headers());
    if !asked.is_empty() {
        match crate::impersonate::resolve(&cluster, &user, &asked) {
            Ok(as_user) => {
                who = Who {
                    user: as_user.name.clone(),
                    impersonator: Some(user.name.clone()),
                };
                user = as_user;
            }
            Err(e) => {
                cluster.log.push(record(e.code, &who));
                return Ok(response::error(&e));
            }
        }
    }
    if let Err(e) = crate::authorize::check(&cluster, &user, method.as_str(), &path, &parsed) {
        cluster.log.push(record(403, &who));
        return Ok(response::error(&e));
    }
    let facts = crate::faults::RequestFacts {
        method: method.as_str(),
        path: &path,
        watch: parsed.flag("watch"),
        has_continue: parsed.get("continue").is_some_and(|c| !c.is_empty()),
    };
    let fault = cluster.faults.fire(&facts);
    match &fault {
        Some(crate::faults::FaultAction::Delay(d)) => tokio::time::sleep(*d).await,
        Some(crate::faults::FaultAction::Reset) => {
            cluster.log.push(record(0, &who));
            return Err(Reset);
        }
        Some(action) => {
            if let Some(resp) = crate::faults::answer(action) {
                cluster.log.push(record(resp.status().as_u16(), &who));
                return Ok(resp);
            }
        }
        None => {}
    }
    if crate::portforward::is_websocket(&req)
        && let Some((ns, name)) = crate::portforward::target(&path)
    {
        let resp = crate::portforward::upgrade(&cluster, req, &ns, &name);
        cluster.log.push(record(resp.status().as_u16(), &who));
        return Ok(resp);
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let r = response::error(&ApiError::bad_request(format!("reading request body: {e}")));
            cluster.log.push(record(400, &who));
            return Ok(r);
        }
    };
    if let Some(target) = crate::proxy::target(&path) {
        let forwarded = crate::proxy::Forwarded {
            method: &method,
            raw_query: &raw_query,
            content_type: &content_type,
            accept: &accept,
            body,
        };
        let resp = crate::proxy::forward(&cluster, &target, forwarded).await;
        cluster.log.push(record(resp.status().as_u16(), &who));
        return Ok(resp);
    }
    let api = ApiRequest {
        method: method.clone(),
        path: path.clone(),
        query: Query::parse(Some(&raw_query)),
        content_type: content_type.clone(),
        accept: accept.clone(),
        body,
        user,
    };
    let resp = router::route(&cluster, api).await;
    cluster.log.push(record(resp.status().as_u16(), &who));
    Ok(match &fault {
        Some(action) => crate::faults::shape(action, resp),
        None => resp,
    })
}
