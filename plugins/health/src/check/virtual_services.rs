//! VirtualServices: every referenced gateway exists, every route destination is a Service (and
//! port) in the cluster, and no host is claimed twice on the same gateway.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Service;
use sealos_shared::output::Severity;
use sealos_shared::resources::istio::VirtualService;

use super::collect::Snapshot;
use super::{Area, Finding, ObjectRef};

/// `ns/name` of a gateway reference, relative to the VirtualService's namespace; `None` for `mesh`.
pub fn gateway_key(reference: &str, vs_namespace: &str) -> Option<String> {
    if reference == "mesh" {
        return None;
    }
    Some(match reference.split_once('/') {
        Some((ns, name)) => format!("{ns}/{name}"),
        // The legacy FQDN form `name.ns.svc.cluster.local`.
        None => match reference.split('.').collect::<Vec<_>>().as_slice() {
            [name, ns, ..] => format!("{ns}/{name}"),
            _ => format!("{vs_namespace}/{reference}"),
        },
    })
}

/// The Service `ns/name` a destination host means, or `None` for a host outside the cluster
/// (an external name or a ServiceEntry, not judged here).
pub fn service_key(host: &str, vs_namespace: &str) -> Option<String> {
    if host.contains('*') {
        return None;
    }
    let short = host
        .strip_suffix(".svc.cluster.local")
        .or_else(|| host.strip_suffix(".svc"))
        .unwrap_or(host);
    match short.split('.').collect::<Vec<_>>().as_slice() {
        [name] => Some(format!("{vs_namespace}/{name}")),
        // Istio reads a two-label host as `name.namespace`.
        [name, ns] => Some(format!("{ns}/{name}")),
        _ => None,
    }
}

fn key_of(ns: Option<&str>, name: Option<&str>) -> String {
    format!("{}/{}", ns.unwrap_or(""), name.unwrap_or(""))
}

pub fn check(snapshot: &Snapshot) -> Vec<Finding> {
    let gateways: BTreeSet<String> = snapshot
        .gateways
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|g| key_of(g.metadata.namespace.as_deref(), g.metadata.name.as_deref()))
        .collect();
    let services: BTreeMap<String, &Service> = snapshot
        .services
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|s| {
            (
                key_of(s.metadata.namespace.as_deref(), s.metadata.name.as_deref()),
                s,
            )
        })
        .collect();
    let virtual_services = snapshot.virtual_services.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    let mut claims: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for vs in virtual_services {
        out.extend(check_one(vs, &gateways, &services, &mut claims));
    }
    for ((gateway, host), owners) in claims {
        if owners.len() > 1 {
            let (first_ns, first_name) = owners[0].split_once('/').unwrap_or(("", &owners[0]));
            out.push(Finding::new(
                Area::VirtualServices,
                Severity::Warn,
                ObjectRef::new("VirtualService", Some(first_ns), first_name),
                format!(
                    "host {host:?} is claimed on gateway {gateway} by {} VirtualServices ({}): their routes merge unpredictably",
                    owners.len(),
                    owners.join(", ")
                ),
            ));
        }
    }
    if out.is_empty() {
        out.push(Finding::new(
            Area::VirtualServices,
            Severity::Ok,
            ObjectRef::new("VirtualService", None, "*"),
            format!(
                "all {} VirtualServices bind to existing gateways and route to existing Services",
                virtual_services.len()
            ),
        ));
    }
    out
}

fn check_one(
    vs: &VirtualService,
    gateways: &BTreeSet<String>,
    services: &BTreeMap<String, &Service>,
    claims: &mut BTreeMap<(String, String), Vec<String>>,
) -> Vec<Finding> {
    let ns = vs.metadata.namespace.as_deref().unwrap_or("");
    let name = vs.metadata.name.as_deref().unwrap_or("");
    let object = || ObjectRef::new("VirtualService", Some(ns), name);
    let mut out = Vec::new();
    for reference in &vs.spec.gateways {
        let Some(key) = gateway_key(reference, ns) else {
            continue;
        };
        if !gateways.contains(&key) {
            out.push(Finding::new(
                Area::VirtualServices,
                Severity::Fail,
                object(),
                format!(
                    "gateway {reference:?} ({key}) does not exist: hosts {:?} are not served",
                    vs.spec.hosts
                ),
            ));
        }
        for host in &vs.spec.hosts {
            claims
                .entry((key.clone(), host.clone()))
                .or_default()
                .push(format!("{ns}/{name}"));
        }
    }
    let mut seen = BTreeSet::new();
    let destinations = vs
        .spec
        .http
        .iter()
        .chain(&vs.spec.tcp)
        .chain(&vs.spec.tls)
        .flat_map(|r| &r.route)
        .map(|r| &r.destination);
    for destination in destinations {
        let port = destination.port.as_ref().map(|p| p.number);
        if !seen.insert((destination.host.clone(), port)) {
            continue;
        }
        let Some(key) = service_key(&destination.host, ns) else {
            continue;
        };
        match services.get(&key) {
            None => out.push(Finding::new(
                Area::VirtualServices,
                Severity::Fail,
                object(),
                format!(
                    "route destination {:?}: Service {key} does not exist (requests get 503)",
                    destination.host
                ),
            )),
            Some(service) => {
                if let Some(number) = port {
                    let ports = service.spec.as_ref().and_then(|s| s.ports.as_ref());
                    let has = ports.is_some_and(|ps| {
                        ps.iter()
                            .any(|p| u32::try_from(p.port).ok() == Some(number))
                    });
                    if !has {
                        out.push(Finding::new(
                            Area::VirtualServices,
                            Severity::Fail,
                            object(),
                            format!(
                                "route destination {:?} port {number}: Service {key} has no such port",
                                destination.host
                            ),
                        ));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_references_resolve_like_istio() {
        assert_eq!(gateway_key("mesh", "a"), None);
        assert_eq!(
            gateway_key("istio-system/sealos-gateway", "a").as_deref(),
            Some("istio-system/sealos-gateway")
        );
        assert_eq!(gateway_key("gw", "apps").as_deref(), Some("apps/gw"));
        assert_eq!(
            gateway_key("gw.istio-system.svc.cluster.local", "apps").as_deref(),
            Some("istio-system/gw")
        );
    }

    #[test]
    fn destination_hosts_resolve_to_services() {
        assert_eq!(
            service_key("terminal", "sealos-system").as_deref(),
            Some("sealos-system/terminal")
        );
        assert_eq!(
            service_key("terminal.sealos-system", "x").as_deref(),
            Some("sealos-system/terminal")
        );
        assert_eq!(
            service_key("terminal.sealos-system.svc.cluster.local", "x").as_deref(),
            Some("sealos-system/terminal")
        );
        assert_eq!(service_key("api.example.com", "x"), None);
        assert_eq!(service_key("*.example.com", "x"), None);
    }
}
