//! Container usage from the metrics API (`metrics.k8s.io/v1beta1` PodMetrics, what `kubectl top`
//! reads): `diag performance` and the memory-leak runbook rank it, `health` compares sidecars
//! with their limit.

use std::collections::BTreeMap;

use kube::api::{ApiResource, GroupVersionKind, ListParams};
use kube::{Client, ResourceExt};

use crate::Result;
use crate::list;
use crate::quantity::Quantity;

fn pod_metrics_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", "PodMetrics"),
        "pods",
    )
}

/// `(namespace, pod, container) → (cpu, memory)` from the metrics API; unparsable values are
/// reported in `notes` and skipped.
pub async fn usage(
    client: &Client,
    namespace: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<BTreeMap<(String, String, String), (Quantity, Quantity)>> {
    let resource = pod_metrics_resource();
    let api = list::dynamic_api(client, namespace, &resource);
    let items = list::list_all(
        &api,
        &ListParams::default(),
        "pods.metrics.k8s.io (is metrics-server installed?)",
    )
    .await?;
    let mut out = BTreeMap::new();
    for item in items {
        let ns = item.namespace().unwrap_or_default();
        let pod = item.name_any();
        for container in item.data["containers"].as_array().into_iter().flatten() {
            let name = container["name"].as_str().unwrap_or_default().to_string();
            let parse =
                |key: &str| Quantity::parse(container["usage"][key].as_str().unwrap_or_default());
            match (parse("cpu"), parse("memory")) {
                (Ok(cpu), Ok(memory)) => {
                    out.insert((ns.clone(), pod.clone(), name), (cpu, memory));
                }
                (Err(e), _) | (_, Err(e)) => {
                    notes.push(format!("{ns}/{pod} {name}: {e}"));
                }
            }
        }
    }
    Ok(out)
}
