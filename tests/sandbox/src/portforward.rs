//! `pods/NAME/portforward` over WebSocket, as kube-rs speaks it (`v4.channel.k8s.io`, or
//! `portforward.k8s.io`): per requested port a data channel (2i) and an error channel (2i+1), each
//! opened by a frame holding the port (u16, little endian). Bytes go to the real local address the
//! pod's `sandbox.sealos.io/portforward` annotation names for that port; a port it does not name
//! gets the connection-refused message a kubelet sends on the error channel.

use crate::cluster::Cluster;
use crate::registry::ResKey;
use crate::response::{self, Resp};
use crate::status::ApiError;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Message, Role};

/// The pod annotation mapping a pod port to a real local address.
pub const ANNOTATION: &str = "sandbox.sealos.io/portforward";

/// Subprotocols the server accepts, best first (kube-rs offers v5 then v4; v5 is not served).
const PROTOCOLS: &[&str] = &["v4.channel.k8s.io", "portforward.k8s.io"];

/// `(namespace, pod)` when the path is a pod's portforward subresource.
pub fn target(path: &str) -> Option<(String, String)> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match segs.as_slice() {
        [
            "",
            "api",
            "v1",
            "namespaces",
            ns,
            "pods",
            name,
            "portforward",
        ] => Some((ns.to_string(), name.to_string())),
        _ => None,
    }
}

/// The pod's port → local address map (empty without the annotation or when it is not JSON).
pub fn addresses(pod: &Value) -> HashMap<u16, String> {
    pod["metadata"]["annotations"][ANNOTATION]
        .as_str()
        .and_then(|s| serde_json::from_str::<HashMap<String, String>>(s).ok())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| k.trim().parse().ok().map(|p| (p, v)))
        .collect()
}

/// The text a kubelet puts on the error channel when nothing listens on the pod's port.
pub fn refused_message(pod: &Value, port: u16) -> String {
    let uid = pod["metadata"]["uid"].as_str().unwrap_or("");
    format!(
        "error forwarding port {port} to pod {uid}, uid : failed to execute portforward in network \
         namespace \"/var/run/netns/cni-{uid}\": failed to connect to localhost:{port} inside \
         namespace \"{uid}\", IPv4: dial tcp4 127.0.0.1:{port}: connect: connection refused IPv6 \
         dial tcp6 [::1]:{port}: connect: connection refused "
    )
}

fn header_str(req: &Request<Incoming>, name: header::HeaderName) -> &str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// True for a WebSocket upgrade request.
pub fn is_websocket(req: &Request<Incoming>) -> bool {
    header_str(req, header::UPGRADE).eq_ignore_ascii_case("websocket")
}

fn requested_ports(raw_query: &str) -> Result<Vec<u16>, ApiError> {
    let q = crate::query::Query::parse(Some(raw_query));
    let mut ports = vec![];
    for p in q
        .get("ports")
        .unwrap_or("")
        .split(',')
        .filter(|p| !p.is_empty())
    {
        let n: u16 = p
            .trim()
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid port {p:?}")))?;
        if n == 0 {
            return Err(ApiError::bad_request("port 0 cannot be forwarded"));
        }
        ports.push(n);
    }
    if ports.is_empty() {
        return Err(ApiError::bad_request(
            "at least 1 port must be specified for port forwarding",
        ));
    }
    Ok(ports)
}

/// Answer the upgrade (101) and run the forwarding session on the upgraded connection.
pub fn upgrade(cluster: &Arc<Cluster>, req: Request<Incoming>, ns: &str, name: &str) -> Resp {
    let Some(pod) = cluster.store.get(&ResKey::new("", "pods"), ns, name) else {
        return response::error(&ApiError::not_found("", "pods", name));
    };
    let ports = match requested_ports(req.uri().query().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return response::error(&e),
    };
    let key = header_str(&req, header::SEC_WEBSOCKET_KEY).to_string();
    if key.is_empty() {
        return response::error(&ApiError::bad_request(
            "unable to upgrade connection: missing Sec-WebSocket-Key",
        ));
    }
    let offered: Vec<String> = header_str(&req, header::SEC_WEBSOCKET_PROTOCOL)
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    let protocol = PROTOCOLS
        .iter()
        .find(|p| offered.iter().any(|o| o == *p))
        .copied();
    if protocol.is_none() && !offered.is_empty() {
        return response::error(&ApiError::bad_request(format!(
            "unable to upgrade connection: none of the offered subprotocols {offered:?} is supported"
        )));
    }
    let pod = (*pod).clone();
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        session(ws, &pod, &ports).await;
    });
    let mut r = Response::new(
        Empty::new()
            .map_err(|never: std::convert::Infallible| match never {})
            .boxed(),
    );
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(
        header::UPGRADE,
        header::HeaderValue::from_static("websocket"),
    );
    h.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("Upgrade"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    if let Some(p) = protocol {
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            header::HeaderValue::from_static(p),
        );
    }
    r
}

/// What the port tasks hand to the single WebSocket writer.
enum Out {
    Frame(Vec<u8>),
    /// A port's connection is over (closed by the server or never opened).
    PortDone,
}

fn frame(channel: usize, data: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(data.len() + 1);
    f.push(channel as u8);
    f.extend_from_slice(data);
    f
}

async fn session<S>(ws: WebSocketStream<S>, pod: &Value, ports: &[u16])
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut incoming) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Out>(64);
    let total = ports.len();
    let writer = tokio::spawn(async move {
        let mut done = 0;
        while let Some(out) = rx.recv().await {
            match out {
                Out::Frame(f) => {
                    if sink.send(Message::binary(f)).await.is_err() {
                        return;
                    }
                }
                Out::PortDone => {
                    done += 1;
                    if done == total {
                        let _ = sink.send(Message::Close(None)).await;
                        return;
                    }
                }
            }
        }
    });
    let map = addresses(pod);
    let mut to_pod: Vec<Option<OwnedWriteHalf>> = Vec::with_capacity(total);
    for (i, port) in ports.iter().enumerate() {
        let prefix = port.to_le_bytes();
        let _ = tx.send(Out::Frame(frame(2 * i, &prefix))).await;
        let _ = tx.send(Out::Frame(frame(2 * i + 1, &prefix))).await;
        let conn = match map.get(port) {
            Some(addr) => tokio::net::TcpStream::connect(addr.as_str()).await.ok(),
            None => None,
        };
        let Some(conn) = conn else {
            let msg = refused_message(pod, *port);
            let _ = tx.send(Out::Frame(frame(2 * i + 1, msg.as_bytes()))).await;
            let _ = tx.send(Out::PortDone).await;
            to_pod.push(None);
            continue;
        };
        let (mut read, write) = conn.into_split();
        to_pod.push(Some(write));
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(Out::Frame(frame(2 * i, &buf[..n]))).await.is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = tx.send(Out::PortDone).await;
        });
    }
    drop(tx);
    while let Some(Ok(msg)) = incoming.next().await {
        match msg {
            Message::Binary(b) if b.len() > 1 => {
                let ch = b[0] as usize;
                // Only data channels carry bytes to the pod; error channels are read-only.
                if ch.is_multiple_of(2)
                    && let Some(Some(w)) = to_pod.get_mut(ch / 2)
                    && w.write_all(&b[1..]).await.is_err()
                {
                    to_pod[ch / 2] = None;
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    writer.abort();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_annotations() {
        assert_eq!(
            target("/api/v1/namespaces/istio-system/pods/istiod-1/portforward"),
            Some(("istio-system".into(), "istiod-1".into()))
        );
        assert_eq!(target("/api/v1/namespaces/a/pods/b/log"), None);
        let pod = json!({"metadata": {"uid": "u1", "annotations": {ANNOTATION: "{\"15000\":\"127.0.0.1:4000\"}"}}});
        assert_eq!(
            addresses(&pod).get(&15000).map(String::as_str),
            Some("127.0.0.1:4000")
        );
        assert!(addresses(&json!({"metadata": {}})).is_empty());
        assert!(
            refused_message(&pod, 15001)
                .contains("dial tcp4 127.0.0.1:15001: connect: connection refused")
        );
        assert_eq!(
            requested_ports("ports=15000%2C15001").unwrap(),
            vec![15000, 15001]
        );
        assert!(requested_ports("").is_err());
    }
}
