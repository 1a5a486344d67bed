//! `targets`: the hosts that VirtualServices bind to the ingress gateway, and how to reach each
//! one (through `--gateway-url` with the host as the Host header, or the host itself).

use std::path::PathBuf;
use std::time::Duration;

use sealos_shared::connection::{Kube, KubeFlags};
use sealos_shared::list;
use sealos_shared::output::{Out, Table};
use sealos_shared::resources::istio::{Gateway, VirtualService};
use sealos_shared::{Exit, Result};
use serde::Serialize;

/// kubectl's connection flags, except `-n` (in `run` it is the request count): the namespace
/// is `--namespace` only. Without it, VirtualServices in all namespaces are considered.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ClusterFlags {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Only VirtualServices in this namespace (default: all namespaces).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// How long one API request may take (0 waits for ever): "30s", "1m", or seconds.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = sealos_shared::number::duration_or_zero)]
    pub request_timeout: Duration,
}

impl ClusterFlags {
    pub fn kube_flags(&self) -> KubeFlags {
        KubeFlags {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            namespace: self.namespace.clone(),
            all_namespaces: self.namespace.is_none(),
            request_timeout: self.request_timeout,
            ..KubeFlags::default()
        }
    }
}

/// A host served through the ingress gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub host: String,
    /// `namespace/name` of the VirtualService that binds it.
    pub virtual_service: String,
    /// `namespace/name` of the ingress Gateway.
    pub gateway: String,
    /// What `run --from-cluster` requests.
    pub url: String,
    /// The Host header sent to `url` (the host itself when going through the gateway URL).
    pub host_header: Option<String>,
}

/// The `targets -o json` document.
#[derive(Debug, Clone, Serialize)]
pub struct TargetsReport {
    pub kind: &'static str,
    pub gateway_url: Option<String>,
    pub targets: Vec<Target>,
}

/// True for a Gateway that runs on the Istio ingress gateway pods.
fn is_ingress(gateway: &Gateway) -> bool {
    let selector = &gateway.spec.selector;
    selector.get("istio").map(String::as_str) == Some("ingressgateway")
        || selector.get("app").map(String::as_str) == Some("istio-ingressgateway")
}

/// Lists Gateways and VirtualServices and returns the targets, sorted by host.
pub async fn discover(kube: &Kube, gateway_url: Option<&str>) -> Result<Vec<Target>> {
    let gateways: Vec<Gateway> = list::in_scope(&kube.client, None, None).await?;
    let ingress: Vec<(String, String)> = gateways
        .iter()
        .filter(|g| is_ingress(g))
        .filter_map(|g| Some((g.metadata.namespace.clone()?, g.metadata.name.clone()?)))
        .collect();
    let services: Vec<VirtualService> = list::in_scope(&kube.client, kube.scope(), None).await?;
    Ok(targets(&ingress, &services, gateway_url))
}

/// `targets`: the hosts, as a report or a table.
pub async fn run(args: &crate::TargetsArgs, kube: &Kube, out: &mut Out) -> Result<Exit> {
    let found = discover(kube, args.gateway_url.as_deref()).await?;
    if out.format.is_machine() {
        out.data(&TargetsReport {
            kind: "BenchTargets",
            gateway_url: args.gateway_url.clone(),
            targets: found,
        })?;
    } else if found.is_empty() {
        eprintln!("no VirtualService binds a host to the ingress gateway");
    } else {
        out.table(&table(&found))?;
    }
    Ok(Exit::Ok)
}

/// The pure part of `discover`: wildcard hosts cannot be requested and are skipped; a host
/// bound by several VirtualServices appears once.
pub fn targets(
    ingress: &[(String, String)],
    services: &[VirtualService],
    gateway_url: Option<&str>,
) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    for vs in services {
        let (Some(ns), Some(name)) = (&vs.metadata.namespace, &vs.metadata.name) else {
            continue;
        };
        let bound = vs.spec.gateways.iter().find_map(|reference| {
            let (gw_ns, gw_name) = reference
                .split_once('/')
                .unwrap_or((ns.as_str(), reference.as_str()));
            ingress
                .iter()
                .find(|(n, g)| n == gw_ns && g == gw_name)
                .map(|(n, g)| format!("{n}/{g}"))
        });
        let Some(gateway) = bound else { continue };
        for host in &vs.spec.hosts {
            if host.contains('*') || out.iter().any(|t| &t.host == host) {
                continue;
            }
            let (url, host_header) = match gateway_url {
                Some(url) => (url.to_string(), Some(host.clone())),
                None => (format!("http://{host}/"), None),
            };
            out.push(Target {
                host: host.clone(),
                virtual_service: format!("{ns}/{name}"),
                gateway: gateway.clone(),
                url,
                host_header,
            });
        }
    }
    out.sort_by(|a, b| a.host.cmp(&b.host));
    out
}

pub fn table(targets: &[Target]) -> Table {
    let mut table = Table::new(["host", "virtualservice", "gateway", "url"]);
    for t in targets {
        table.row([
            t.host.clone(),
            t.virtual_service.clone(),
            t.gateway.clone(),
            t.url.clone(),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sealos_shared::resources::istio::VirtualServiceSpec;

    fn vs(ns: &str, name: &str, hosts: &[&str], gateways: &[&str]) -> VirtualService {
        let mut vs = VirtualService::new(
            name,
            VirtualServiceSpec {
                hosts: hosts.iter().map(|h| h.to_string()).collect(),
                gateways: gateways.iter().map(|g| g.to_string()).collect(),
                ..VirtualServiceSpec::default()
            },
        );
        vs.metadata.namespace = Some(ns.into());
        vs
    }

    #[test]
    fn only_hosts_bound_to_the_ingress_gateway_count() {
        let ingress = [("istio-system".to_string(), "sealos-gateway".to_string())];
        let services = [
            vs(
                "a",
                "web",
                &["web.example.com"],
                &["istio-system/sealos-gateway"],
            ),
            vs("a", "mesh", &["mesh.a.svc"], &["mesh"]),
            vs(
                "istio-system",
                "short",
                &["short.example.com", "*.wild.example.com"],
                &["sealos-gateway"],
            ),
            vs(
                "b",
                "dup",
                &["web.example.com"],
                &["istio-system/sealos-gateway"],
            ),
            vs(
                "b",
                "other",
                &["other.example.com"],
                &["istio-system/private-gateway"],
            ),
        ];
        let found = targets(&ingress, &services, Some("http://10.0.0.1:8080/"));
        let hosts: Vec<&str> = found.iter().map(|t| t.host.as_str()).collect();
        assert_eq!(hosts, ["short.example.com", "web.example.com"]);
        assert_eq!(found[1].virtual_service, "a/web");
        assert_eq!(found[1].url, "http://10.0.0.1:8080/");
        assert_eq!(found[1].host_header.as_deref(), Some("web.example.com"));
        let direct = targets(&ingress, &services, None);
        assert_eq!(direct[0].url, "http://short.example.com/");
        assert_eq!(direct[0].host_header, None);
    }
}
