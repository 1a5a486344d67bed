//! `services/NAME[:PORT]/proxy/PATH` and `pods/NAME[:PORT]/proxy/PATH`: forwarded to the real local
//! HTTP server a Service's `sandbox.sealos.io/upstream` annotation names (a URL, or a JSON map from
//! port name or number to URL), or a pod's `sandbox.sealos.io/portforward` address for the port.
//! Method, query, body, status and content type pass through; nothing answering is a 503 worded as
//! the API server's proxy words it.

use crate::cluster::Cluster;
use crate::registry::ResKey;
use crate::response::{self, Resp};
use crate::status::ApiError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, header};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::HashMap;

/// The Service annotation naming the real server behind it.
pub const UPSTREAM_ANNOTATION: &str = "sandbox.sealos.io/upstream";

/// What a proxy path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyTarget {
    /// `services` or `pods`.
    pub plural: String,
    pub namespace: String,
    pub name: String,
    /// The port (name or number) after `NAME:`, if any (a `scheme:` prefix is dropped).
    pub port: Option<String>,
    /// The path after `/proxy`, starting with `/` (or empty).
    pub path: String,
}

/// Parse `/api/v1/namespaces/NS/{services|pods}/NAME[:PORT]/proxy[/PATH]`.
pub fn target(path: &str) -> Option<ProxyTarget> {
    let rest = path.strip_prefix("/api/v1/namespaces/")?;
    let mut it = rest.splitn(4, '/');
    let ns = it.next()?;
    let plural = it.next()?;
    let name_port = it.next()?;
    let tail = it.next()?;
    if plural != "services" && plural != "pods" {
        return None;
    }
    let sub_path = if tail == "proxy" {
        ""
    } else {
        tail.strip_prefix("proxy/")
            .map(|_| &tail["proxy".len()..])?
    };
    let parts: Vec<&str> = name_port.split(':').collect();
    let (name, port) = match parts.as_slice() {
        [n] => (*n, None),
        [n, p] => (*n, Some(p.to_string())),
        [_, n, p] if !p.is_empty() => (*n, Some(p.to_string())),
        [_, n, _] => (*n, None),
        _ => return None,
    };
    Some(ProxyTarget {
        plural: plural.to_string(),
        namespace: ns.to_string(),
        name: name.to_string(),
        port: port.filter(|p| !p.is_empty()),
        path: sub_path.to_string(),
    })
}

/// Where the proxied request goes: `http://host:port` plus a base path.
fn upstream_of(cluster: &Cluster, t: &ProxyTarget) -> Result<String, ApiError> {
    let obj = cluster
        .store
        .get(&ResKey::new("", &t.plural), &t.namespace, &t.name)
        .ok_or_else(|| ApiError::not_found("", &t.plural, &t.name))?;
    if t.plural == "pods" {
        let map = crate::portforward::addresses(&obj);
        let port = pod_port(&obj, t.port.as_deref());
        return match port.and_then(|p| map.get(&p).map(|a| (p, a))) {
            Some((_, addr)) => Ok(format!("http://{addr}")),
            None => Err(unreachable(&format!(
                "dial tcp {}:{}: connect: connection refused",
                obj["status"]["podIP"].as_str().unwrap_or("127.0.0.1"),
                port.unwrap_or(80)
            ))),
        };
    }
    let no_endpoints = || {
        ApiError::new(
            503,
            "ServiceUnavailable",
            format!("no endpoints available for service \"{}\"", t.name),
        )
    };
    let ann = obj["metadata"]["annotations"][UPSTREAM_ANNOTATION]
        .as_str()
        .ok_or_else(no_endpoints)?;
    if !ann.trim_start().starts_with('{') {
        return Ok(ann.trim().trim_end_matches('/').to_string());
    }
    let map: HashMap<String, String> = serde_json::from_str(ann).map_err(|_| no_endpoints())?;
    let wanted = t.port.clone().or_else(|| {
        obj["spec"]["ports"][0]["port"]
            .as_i64()
            .map(|p| p.to_string())
    });
    let by_name = |p: &str| {
        obj["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|sp| {
                sp["name"] == p || sp["port"].as_i64().map(|n| n.to_string()).as_deref() == Some(p)
            })
            .map(|sp| {
                (
                    sp["name"].as_str().unwrap_or("").to_string(),
                    sp["port"]
                        .as_i64()
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                )
            })
    };
    let url = wanted.as_deref().and_then(|w| {
        map.get(w).cloned().or_else(|| {
            by_name(w).and_then(|(name, num)| map.get(&name).or_else(|| map.get(&num)).cloned())
        })
    });
    url.map(|u| u.trim().trim_end_matches('/').to_string())
        .ok_or_else(no_endpoints)
}

/// The pod port asked for: a number, a named container port, or the only mapped one.
fn pod_port(pod: &Value, port: Option<&str>) -> Option<u16> {
    match port {
        Some(p) => p.parse().ok().or_else(|| {
            pod["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                .find(|cp| cp["name"] == p)
                .and_then(|cp| cp["containerPort"].as_u64())
                .and_then(|n| u16::try_from(n).ok())
        }),
        None => {
            let map = crate::portforward::addresses(pod);
            (map.len() == 1)
                .then(|| map.keys().next().copied())
                .flatten()
        }
    }
}

fn unreachable(why: &str) -> ApiError {
    ApiError::new(
        503,
        "ServiceUnavailable",
        format!("error trying to reach service: {why}"),
    )
}

/// Split `http://host:port/base` into the address and the base path.
fn split_url(url: &str) -> Result<(String, String), ApiError> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        unreachable(&format!(
            "unsupported upstream {url:?}: only http:// is proxied"
        ))
    })?;
    let (hostport, base) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    Ok((hostport, base.to_string()))
}

/// The headers a proxied request carries on (besides Host).
pub struct Forwarded<'a> {
    pub method: &'a Method,
    pub raw_query: &'a str,
    pub content_type: &'a str,
    pub accept: &'a str,
    pub body: Bytes,
}

/// Forward one request and stream the answer back.
pub async fn forward(cluster: &Cluster, t: &ProxyTarget, req: Forwarded<'_>) -> Resp {
    match try_forward(cluster, t, req).await {
        Ok(r) => r,
        Err(e) => response::error(&e),
    }
}

async fn try_forward(
    cluster: &Cluster,
    t: &ProxyTarget,
    req: Forwarded<'_>,
) -> Result<Resp, ApiError> {
    let url = upstream_of(cluster, t)?;
    let (addr, base) = split_url(&url)?;
    let tcp = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| unreachable(&dial_error(&addr, &e)))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| unreachable(&e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut uri = format!("{base}{}", t.path);
    if !uri.starts_with('/') {
        uri.insert(0, '/');
    }
    if !req.raw_query.is_empty() {
        uri.push('?');
        uri.push_str(req.raw_query);
    }
    let mut builder = Request::builder()
        .method(req.method.clone())
        .uri(uri)
        .header(header::HOST, addr.as_str());
    if !req.content_type.is_empty() {
        builder = builder.header(header::CONTENT_TYPE, req.content_type);
    }
    if !req.accept.is_empty() {
        builder = builder.header(header::ACCEPT, req.accept);
    }
    let request = builder
        .body(Full::new(req.body))
        .map_err(|e| ApiError::bad_request(format!("proxy request: {e}")))?;
    let answer = sender
        .send_request(request)
        .await
        .map_err(|e| unreachable(&e.to_string()))?;
    let (parts, body) = answer.into_parts();
    let mut resp = hyper::Response::new(body.map_err(std::io::Error::other).boxed());
    *resp.status_mut() = parts.status;
    for (k, v) in parts.headers.iter() {
        if k != header::CONNECTION && k != header::TRANSFER_ENCODING && k.as_str() != "keep-alive" {
            resp.headers_mut().append(k.clone(), v.clone());
        }
    }
    Ok(resp)
}

/// Go's wording for a failed dial.
fn dial_error(addr: &str, e: &std::io::Error) -> String {
    let why = match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".to_string(),
        _ => e.to_string(),
    };
    format!("dial tcp {addr}: {why}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn proxy_paths() {
        let t = target("/api/v1/namespaces/monitoring/services/prometheus:9090/proxy/api/v1/query")
            .unwrap();
        assert_eq!(
            (
                t.plural.as_str(),
                t.name.as_str(),
                t.port.as_deref(),
                t.path.as_str()
            ),
            ("services", "prometheus", Some("9090"), "/api/v1/query")
        );
        let t = target("/api/v1/namespaces/a/pods/p/proxy").unwrap();
        assert_eq!((t.port, t.path.as_str()), (None, ""));
        let t = target("/api/v1/namespaces/a/services/https:web:443/proxy/").unwrap();
        assert_eq!(
            (t.name.as_str(), t.port.as_deref(), t.path.as_str()),
            ("web", Some("443"), "/")
        );
        assert!(target("/api/v1/namespaces/a/services/web").is_none());
        assert!(target("/api/v1/namespaces/a/configmaps/web/proxy/x").is_none());
        assert_eq!(
            split_url("http://127.0.0.1:9090/base").unwrap(),
            ("127.0.0.1:9090".into(), "/base".into())
        );
        assert!(split_url("https://x").is_err());
    }
}
