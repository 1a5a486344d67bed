//! Envoy's admin API (port 15000 on the pod's localhost), reached as `istioctl proxy-config`
//! reaches it: a port-forward through the API server, then plain HTTP/1.1 over that stream.
//! `/clusters` says which upstream clusters the proxy knows and how healthy their hosts are.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use kube::{Api, Client};
use serde::Serialize;

/// The port Envoy's admin listener binds inside the pod.
pub const ADMIN_PORT: u16 = 15000;

/// GETs `path` from the admin API of pod `namespace/name`, within `timeout`.
pub async fn admin_get(
    client: &Client,
    namespace: &str,
    name: &str,
    path: &str,
    timeout: Duration,
) -> Result<String, String> {
    match tokio::time::timeout(timeout, fetch(client, namespace, name, path)).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "no answer from the admin port within {}",
            humantime::format_duration(timeout)
        )),
    }
}

async fn fetch(client: &Client, namespace: &str, name: &str, path: &str) -> Result<String, String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut forwarder = pods
        .portforward(name, &[ADMIN_PORT])
        .await
        .map_err(|e| format!("port-forward to {name}:{ADMIN_PORT}: {}", short_error(&e)))?;
    let stream = forwarder
        .take_stream(ADMIN_PORT)
        .ok_or_else(|| "the port-forward gave no stream".to_string())?;
    let exchange = async {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP over the port-forward: {e}"))?;
        let driver = tokio::spawn(connection);
        let request = http::Request::get(path)
            .header(http::header::HOST, "localhost")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("build request {path}: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("read {path}: {e}"))?
            .to_bytes();
        driver.abort();
        if !status.is_success() {
            return Err(format!("GET {path} answered {status}"));
        }
        String::from_utf8(body.to_vec()).map_err(|_| format!("GET {path}: the answer is not UTF-8"))
    };
    let mut exchange = std::pin::pin!(exchange);
    // The kubelet reports a refused port on the error channel; the data stream may stay open.
    let result = match forwarder.take_error(ADMIN_PORT) {
        Some(error) => {
            let mut error = std::pin::pin!(error);
            tokio::select! {
                result = &mut exchange => match result {
                    Ok(body) => Ok(body),
                    // The stream closing is the symptom; the kubelet's message says why.
                    Err(why) => match tokio::time::timeout(Duration::from_millis(500), &mut error).await {
                        Ok(Some(message)) => Err(format!("port-forward: {}", message.trim())),
                        _ => Err(why),
                    },
                },
                message = &mut error => match message {
                    Some(message) => Err(format!("port-forward: {}", message.trim())),
                    None => exchange.await,
                },
            }
        }
        None => exchange.await,
    };
    forwarder.abort();
    result
}

/// The first line of a kube error, without the chain.
fn short_error(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => {
            format!("{} ({})", status.message, status.code)
        }
        kube::Error::Api(status) => format!("the API server answered {}", status.code),
        other => other.to_string(),
    }
}

/// One upstream host of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    pub address: String,
    pub healthy: bool,
    /// Envoy's words for why it is not healthy (`failed_outlier_check`, `UNHEALTHY`...).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// One Envoy cluster (`outbound|80|v1|app-test.ns-bob.svc.cluster.local`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cluster {
    pub name: String,
    pub hosts: Vec<Host>,
}

impl Cluster {
    /// `(direction, port, subset, host)` of an Istio cluster name.
    pub fn parts(&self) -> Option<(&str, &str, &str, &str)> {
        let mut parts = self.name.splitn(4, '|');
        Some((parts.next()?, parts.next()?, parts.next()?, parts.next()?))
    }

    pub fn healthy_hosts(&self) -> usize {
        self.hosts.iter().filter(|h| h.healthy).count()
    }
}

/// Parses `/clusters?format=json`, or the plain text form when it is not JSON.
pub fn parse_clusters(body: &str) -> Result<Vec<Cluster>, String> {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(json) => parse_json(&json),
        Err(_) => parse_plain(body),
    }
}

fn parse_json(json: &serde_json::Value) -> Result<Vec<Cluster>, String> {
    let statuses = json["cluster_statuses"]
        .as_array()
        .ok_or_else(|| "the /clusters answer has no cluster_statuses".to_string())?;
    Ok(statuses
        .iter()
        .map(|c| Cluster {
            name: c["name"].as_str().unwrap_or_default().to_string(),
            hosts: c["host_statuses"]
                .as_array()
                .map(|hosts| hosts.iter().map(json_host).collect())
                .unwrap_or_default(),
        })
        .collect())
}

fn json_host(host: &serde_json::Value) -> Host {
    let socket = &host["address"]["socket_address"];
    let address = format!(
        "{}:{}",
        socket["address"].as_str().unwrap_or_default(),
        socket["port_value"].as_u64().unwrap_or_default()
    );
    let health = &host["health_status"];
    let mut problems: Vec<String> = health
        .as_object()
        .map(|flags| {
            flags
                .iter()
                .filter(|(k, v)| k.starts_with("failed_") && v.as_bool() == Some(true))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    // HEALTHY and DEGRADED still take traffic; anything else does not.
    let eds = health["eds_health_status"].as_str().unwrap_or("HEALTHY");
    if !matches!(eds, "HEALTHY" | "DEGRADED" | "UNKNOWN") {
        problems.insert(0, eds.to_string());
    }
    Host {
        address,
        healthy: problems.is_empty(),
        detail: problems.join(","),
    }
}

/// Lines such as `outbound|80||x.ns.svc.cluster.local::10.0.0.1:8080::health_flags::healthy`.
fn parse_plain(body: &str) -> Result<Vec<Cluster>, String> {
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut any = false;
    for line in body.lines() {
        let mut fields = line.split("::");
        let (Some(name), Some(address), Some(key), Some(value)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        any = true;
        if clusters.last().is_none_or(|c| c.name != name) {
            clusters.push(Cluster {
                name: name.to_string(),
                hosts: Vec::new(),
            });
        }
        if key != "health_flags" {
            continue;
        }
        let Some(cluster) = clusters.last_mut() else {
            continue;
        };
        let flags: Vec<&str> = value
            .split('/')
            .filter(|f| !f.is_empty() && *f != "healthy")
            .collect();
        cluster.hosts.push(Host {
            address: address.to_string(),
            healthy: flags.is_empty(),
            detail: flags.join(","),
        });
    }
    if !any && !body.trim().is_empty() {
        return Err("the /clusters answer is neither JSON nor Envoy's text form".into());
    }
    Ok(clusters)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn json_clusters_and_host_health() {
        let body = serde_json::json!({"cluster_statuses": [
            {"name": "outbound|80|v1|app-test.ns-bob.svc.cluster.local", "host_statuses": [
                {"address": {"socket_address": {"address": "10.0.0.1", "port_value": 8080}},
                 "health_status": {"eds_health_status": "HEALTHY"}},
                {"address": {"socket_address": {"address": "10.0.0.2", "port_value": 8080}},
                 "health_status": {"eds_health_status": "HEALTHY", "failed_outlier_check": true}},
            ]},
            {"name": "outbound|80|v2|app-test.ns-bob.svc.cluster.local", "host_statuses": [
                {"address": {"socket_address": {"address": "10.0.0.3", "port_value": 8080}},
                 "health_status": {"eds_health_status": "UNHEALTHY"}},
            ]},
            {"name": "BlackHoleCluster"},
        ]})
        .to_string();
        let clusters = parse_clusters(&body).unwrap();
        assert_eq!(clusters.len(), 3);
        assert_eq!(
            clusters[0].parts(),
            Some(("outbound", "80", "v1", "app-test.ns-bob.svc.cluster.local"))
        );
        assert_eq!(clusters[0].healthy_hosts(), 1);
        assert_eq!(clusters[0].hosts[1].detail, "failed_outlier_check");
        assert_eq!(clusters[1].hosts[0].detail, "UNHEALTHY");
        assert_eq!(clusters[2].parts(), None);
        assert!(clusters[2].hosts.is_empty());
    }

    #[test]
    fn plain_text_clusters() {
        let body = "outbound|80||blog.ns-carol.svc.cluster.local::observability_name::outbound|80||blog.ns-carol.svc.cluster.local\n\
outbound|80||blog.ns-carol.svc.cluster.local::10.1.0.4:2368::cx_active::0\n\
outbound|80||blog.ns-carol.svc.cluster.local::10.1.0.4:2368::health_flags::healthy\n\
outbound|80||blog.ns-carol.svc.cluster.local::10.1.0.5:2368::health_flags::/failed_outlier_check/failed_active_hc\n";
        let clusters = parse_clusters(body).unwrap();
        assert_eq!(clusters.len(), 1);
        let hosts = &clusters[0].hosts;
        assert_eq!(hosts.len(), 2);
        assert!(hosts[0].healthy);
        assert!(!hosts[1].healthy);
        assert_eq!(hosts[1].detail, "failed_outlier_check,failed_active_hc");
        assert!(parse_clusters("<html>nope</html>").is_err());
        assert!(parse_clusters("{\"x\": 1}").is_err());
    }
}
