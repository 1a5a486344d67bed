//! Container usage from the metrics API (`metrics.k8s.io/v1beta1` PodMetrics, what `kubectl top`
//! reads) joined with the pods' specs for limits. Quantities are parsed exactly, in every unit.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use sealos_shared::quantity::Quantity;
use serde::Serialize;

/// One container's usage and limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerUsage {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub memory_bytes: i128,
    pub cpu_millis: i128,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_limit_bytes: Option<i128>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_limit_millis: Option<i128>,
    /// Usage over limit (1.0 = at the limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_share: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_share: Option<f64>,
}

/// `(namespace, pod, container) → (cpu, memory)` from the metrics API (now shared with `health`).
pub use sealos_shared::pod_metrics::usage;

/// Limits of each container of `pod`: `(cpu, memory)`.
pub fn limits(pod: &Pod) -> BTreeMap<String, (Option<Quantity>, Option<Quantity>)> {
    pod.spec
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| {
            let limits = c.resources.as_ref().and_then(|r| r.limits.as_ref());
            let get = |key: &str| {
                limits
                    .and_then(|l| l.get(key))
                    .and_then(|q| Quantity::try_from(q).ok())
            };
            (c.name.clone(), (get("cpu"), get("memory")))
        })
        .collect()
}

/// Joins usage with the pods' limits, for the containers `keep` accepts.
pub fn join(
    usage: &BTreeMap<(String, String, String), (Quantity, Quantity)>,
    pods: &[Pod],
    keep: impl Fn(&str, &str) -> bool,
) -> Vec<ContainerUsage> {
    let by_pod: BTreeMap<(String, String), &Pod> = pods
        .iter()
        .map(|p| ((p.namespace().unwrap_or_default(), p.name_any()), p))
        .collect();
    usage
        .iter()
        .filter(|((ns, _, container), _)| keep(ns, container))
        .map(|((ns, pod, container), (cpu, memory))| {
            let (cpu_limit, memory_limit) = by_pod
                .get(&(ns.clone(), pod.clone()))
                .and_then(|p| limits(p).get(container).cloned())
                .unwrap_or((None, None));
            ContainerUsage {
                namespace: ns.clone(),
                pod: pod.clone(),
                container: container.clone(),
                memory_bytes: memory.value(),
                cpu_millis: cpu.millis(),
                memory_limit_bytes: memory_limit.map(Quantity::value),
                cpu_limit_millis: cpu_limit.map(Quantity::millis),
                memory_share: memory_limit.and_then(|l| memory.ratio(l)),
                cpu_share: cpu_limit.and_then(|l| cpu.ratio(l)),
            }
        })
        .collect()
}

/// `312Mi` from bytes.
pub fn bytes(b: i128) -> String {
    Quantity::from_value(b).format_bytes()
}

/// `35m` from millicores.
pub fn cpu(m: i128) -> String {
    Quantity::from_millis(m).format_cpu()
}

/// `122%`, or `-` without a limit.
pub fn share(s: Option<f64>) -> String {
    s.map(|s| format!("{:.0}%", s * 100.0))
        .unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn usage_joins_limits_per_container() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns-bob"},
            "spec": {"containers": [
                {"name": "app", "resources": {"limits": {"memory": "512Mi"}}},
                {"name": "istio-proxy", "resources": {"limits": {"cpu": "200m", "memory": "256Mi"}}},
            ]},
        }))
        .unwrap();
        let mut usage = BTreeMap::new();
        usage.insert(
            ("ns-bob".into(), "p".into(), "istio-proxy".into()),
            (
                Quantity::parse("35m").unwrap(),
                Quantity::parse("319488Ki").unwrap(),
            ),
        );
        usage.insert(
            ("ns-bob".into(), "p".into(), "app".into()),
            (
                Quantity::parse("0.025").unwrap(),
                Quantity::parse("0.05Gi").unwrap(),
            ),
        );
        let rows = join(&usage, &[pod], |_, c| c == "istio-proxy");
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.memory_bytes, 312 << 20);
        assert_eq!(row.memory_limit_bytes, Some(256 << 20));
        assert!((row.memory_share.unwrap() - 1.21875).abs() < 1e-9);
        assert_eq!(share(row.cpu_share), "18%");
        assert_eq!(bytes(row.memory_bytes), "312Mi");
        let all = join(&usage, &[], |_, _| true);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].cpu_millis, 25);
        assert_eq!(all[0].memory_limit_bytes, None);
        assert_eq!(share(all[0].memory_share), "-");
    }
}
