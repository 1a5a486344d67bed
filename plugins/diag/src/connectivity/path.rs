//! Pure judgements along the request path: pods, the Service and its Endpoints, how a
//! VirtualService's hosts and destinations resolve, Gateway host matching. No I/O here.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::ResourceExt;

/// The sidecar's container name.
pub const SIDECAR: &str = "istio-proxy";
/// Restarts from which a pod is worth a warning.
pub const RESTART_WARNING: i32 = 5;

pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub fn has_sidecar(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .is_some_and(|s| s.containers.iter().any(|c| c.name == SIDECAR))
}

/// `Some(ready)` for the sidecar's container status, `None` when it has none.
pub fn sidecar_ready(pod: &Pod) -> Option<bool> {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == SIDECAR))
        .map(|c| c.ready)
}

pub fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).sum())
        .unwrap_or(0)
}

/// True when every `key=value` of `selector` is among `labels` (an empty selector matches none,
/// as a Service without a selector selects no pods).
pub fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

pub fn service_selector(svc: &Service) -> BTreeMap<String, String> {
    svc.spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default()
}

/// `(port, targetPort)` pairs of a Service; the target as written (a number or a port name).
pub fn service_ports(svc: &Service) -> Vec<(i32, String)> {
    svc.spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .map(|ports| {
            ports
                .iter()
                .map(|p| {
                    let target = match &p.target_port {
                        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n)) => {
                            n.to_string()
                        }
                        Some(
                            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s),
                        ) => s.clone(),
                        None => p.port.to_string(),
                    };
                    (p.port, target)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `target` (a number or a name) is a port some non-sidecar container of `pod` declares;
/// `None` when the pod declares no ports at all (then nothing can be said).
pub fn pod_serves(pod: &Pod, target: &str) -> Option<bool> {
    let ports: Vec<_> = pod
        .spec
        .as_ref()
        .map(|s| {
            s.containers
                .iter()
                .filter(|c| c.name != SIDECAR)
                .flat_map(|c| c.ports.iter().flatten())
                .collect()
        })
        .unwrap_or_default();
    if ports.is_empty() {
        return None;
    }
    Some(
        ports
            .iter()
            .any(|p| p.container_port.to_string() == target || p.name.as_deref() == Some(target)),
    )
}

/// Ready addresses across the Endpoints' subsets.
pub fn ready_addresses(endpoints: &Endpoints) -> usize {
    endpoints
        .subsets
        .iter()
        .flatten()
        .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
        .sum()
}

/// The `(namespace, name)` of the Service a mesh host names, as Istio resolves short names
/// relative to the namespace of the object that wrote them; `None` for hosts outside the cluster.
pub fn resolve_host(host: &str, relative_to: &str) -> Option<(String, String)> {
    let host = host.trim_end_matches('.');
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [name] => Some((relative_to.to_string(), name.to_string())),
        [name, ns] | [name, ns, "svc"] | [name, ns, "svc", "cluster", "local"] => {
            Some((ns.to_string(), name.to_string()))
        }
        _ => None,
    }
}

/// The fully qualified name Envoy's clusters carry.
pub fn fqdn(namespace: &str, name: &str) -> String {
    format!("{name}.{namespace}.svc.cluster.local")
}

/// A Gateway reference of a VirtualService: `ns/name`, or `name` in the VirtualService's
/// namespace. `mesh` (the sidecars) is not a Gateway.
pub fn gateway_ref(reference: &str, vs_namespace: &str) -> Option<(String, String)> {
    if reference == "mesh" {
        return None;
    }
    match reference.split_once('/') {
        Some((ns, name)) => Some((ns.to_string(), name.to_string())),
        None => Some((vs_namespace.to_string(), reference.to_string())),
    }
}

/// Istio host matching: exact, or a `*.suffix` wildcard covering one or more labels, or `*`.
/// A server host may carry a `namespace/` prefix, which does not take part in matching.
pub fn host_covers(pattern: &str, host: &str) -> bool {
    let pattern = pattern
        .rsplit('/')
        .next()
        .unwrap_or(pattern)
        .to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    if pattern == "*" || pattern == host {
        return true;
    }
    match pattern.strip_prefix('*') {
        Some(suffix) if suffix.starts_with('.') => host.ends_with(suffix),
        _ => false,
    }
}

/// Hosts of a VirtualService that name a Service inside the cluster are mesh hosts, not what a
/// user types in a browser.
pub fn is_external_host(host: &str, namespace: &str) -> bool {
    !host.contains('*') && host.contains('.') && resolve_host(host, namespace).is_none()
}

/// `key=value,...` for a label selector query.
pub use sealos_shared::resources::istio::label_selector as selector_string;

pub fn pod_name(pod: &Pod) -> String {
    pod.name_any()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn hosts_resolve_like_istio() {
        assert_eq!(
            resolve_host("app-test.ns-bob.svc.cluster.local", "x"),
            Some(("ns-bob".into(), "app-test".into()))
        );
        assert_eq!(
            resolve_host("terminal-test", "ns-alice"),
            Some(("ns-alice".into(), "terminal-test".into()))
        );
        assert_eq!(
            resolve_host("blog.ns-carol", "x"),
            Some(("ns-carol".into(), "blog".into()))
        );
        assert_eq!(resolve_host("api.example.com", "x"), None);
        assert!(is_external_host("blog-test.cloud.sealos.io", "ns-carol"));
        assert!(!is_external_host("blog", "ns-carol"));
    }

    #[test]
    fn gateway_references() {
        assert_eq!(
            gateway_ref("istio-system/sealos-gateway", "ns-bob"),
            Some(("istio-system".into(), "sealos-gateway".into()))
        );
        assert_eq!(
            gateway_ref("gw", "ns-bob"),
            Some(("ns-bob".into(), "gw".into()))
        );
        assert_eq!(gateway_ref("mesh", "ns-bob"), None);
    }

    #[test]
    fn gateway_hosts_cover_like_istio() {
        assert!(host_covers("*.cloud.sealos.io", "app-test.cloud.sealos.io"));
        assert!(host_covers(
            "*.cloud.sealos.io",
            "www.app-test.cloud.sealos.io"
        ));
        assert!(!host_covers("*.cloud.sealos.io", "cloud.sealos.io"));
        assert!(host_covers("cloud.sealos.io", "Cloud.Sealos.io"));
        assert!(host_covers("ns-bob/*", "anything.example"));
        assert!(host_covers("./app.example.com", "app.example.com"));
        assert!(!host_covers("app.example.com", "other.example.com"));
    }

    #[test]
    fn selectors_need_every_label_and_empty_selects_nothing() {
        let pod = labels(&[("app", "a"), ("version", "v1")]);
        assert!(selects(&labels(&[("app", "a")]), &pod));
        assert!(!selects(&labels(&[("app", "a"), ("version", "v2")]), &pod));
        assert!(!selects(&BTreeMap::new(), &pod));
        assert_eq!(
            selector_string(&labels(&[("app", "a"), ("version", "v1")])),
            "app=a,version=v1"
        );
    }
}
