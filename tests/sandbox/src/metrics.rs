//! metrics.k8s.io/v1beta1 pods and nodes: usage from the pod's `sandbox.sealos.io/usage`
//! annotation (container → {cpu, memory}), or small plausible values derived from the names.

use crate::cluster::Cluster;
use crate::registry::ResKey;
use crate::response::{self, Resp};
use crate::router::Target;
use crate::server::ApiRequest;
use crate::status::ApiError;
use crate::verbs::Selectors;
use serde_json::{Value, json};

pub const USAGE_ANNOTATION: &str = "sandbox.sealos.io/usage";

fn seed(s: &str) -> u64 {
    s.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(1099511628211)
    })
}

fn pod_metrics(pod: &Value) -> Value {
    let meta = &pod["metadata"];
    let usage: Value = meta["annotations"][USAGE_ANNOTATION]
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null);
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["name"].as_str())
                .map(|c| {
                    let h = seed(&format!("{}/{}/{c}", meta["namespace"], meta["name"]));
                    let cpu = usage[c]["cpu"]
                        .as_str()
                        .map(String::from)
                        .unwrap_or_else(|| format!("{}m", 1 + h % 20));
                    let mem = usage[c]["memory"]
                        .as_str()
                        .map(String::from)
                        .unwrap_or_else(|| format!("{}Mi", 16 + (h >> 8) % 112));
                    json!({ "name": c, "usage": { "cpu": cpu, "memory": mem } })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": { "name": meta["name"], "namespace": meta["namespace"], "labels": meta["labels"], "creationTimestamp": crate::clock::now_rfc3339() },
        "timestamp": crate::clock::now_rfc3339(),
        "window": "15s",
        "containers": containers,
    })
}

fn node_metrics(node: &Value) -> Value {
    let meta = &node["metadata"];
    let h = seed(meta["name"].as_str().unwrap_or(""));
    json!({
        "kind": "NodeMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": { "name": meta["name"], "labels": meta["labels"], "creationTimestamp": crate::clock::now_rfc3339() },
        "timestamp": crate::clock::now_rfc3339(),
        "window": "20s",
        "usage": { "cpu": format!("{}m", 200 + h % 800), "memory": format!("{}Mi", 2048 + (h >> 8) % 4096) },
    })
}

pub fn handle(cluster: &Cluster, req: &ApiRequest, t: &Target) -> Result<Resp, ApiError> {
    let pods = t.info.plural == "pods";
    let key = if pods {
        ResKey::new("", "pods")
    } else {
        ResKey::new("", "nodes")
    };
    let render = if pods { pod_metrics } else { node_metrics };
    let ns = if pods { t.namespace.as_deref() } else { None };
    if let Some(name) = &t.name {
        let obj = cluster
            .store
            .get(&key, ns.unwrap_or(""), name)
            .filter(|o| !pods || o["status"]["phase"] == "Running")
            .ok_or_else(|| ApiError::not_found("metrics.k8s.io", &t.info.plural, name))?;
        return Ok(response::json(200, &render(&obj)));
    }
    let sel = Selectors::from_query(&req.query, &t.info)?;
    let items: Vec<Value> = cluster
        .store
        .list(&key, ns)
        .iter()
        .filter(|o| sel.matches(o) && (!pods || o["status"]["phase"] == "Running"))
        .map(|o| render(o))
        .collect();
    let kind = if pods {
        "PodMetricsList"
    } else {
        "NodeMetricsList"
    };
    Ok(response::json(
        200,
        &json!({ "kind": kind, "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items }),
    ))
}
