//! From Kubernetes objects to the evaluator's plain data, and the lists it needs, fetched at
//! once (cluster-wide: root-namespace policies and namespace labels decide across namespaces).

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace as K8sNamespace, Pod as K8sPod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Client;
use kube::api::{Api, ListParams};

use crate::Result;
use crate::list::{in_scope, list_all};
use crate::resources::istio::{AuthorizationPolicy, PeerAuthentication};

use super::{NamedPort, Namespace, Pod, Protocol, World};

/// The container Istio's injector adds (also the gateway's only container).
pub const PROXY_CONTAINER: &str = "istio-proxy";

pub fn namespace(n: &K8sNamespace) -> Namespace {
    Namespace {
        name: n.metadata.name.clone().unwrap_or_default(),
        labels: n.metadata.labels.clone().unwrap_or_default(),
    }
}

/// The pod as the policies see it: labels, IP, service account, whether an Envoy handles its
/// traffic (an `istio-proxy` container, or a native sidecar init container of that name), and
/// its named container ports.
pub fn pod(p: &K8sPod) -> Pod {
    let spec = p.spec.as_ref();
    let containers = spec.map(|s| s.containers.as_slice()).unwrap_or_default();
    let init = spec
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or_default();
    let sidecar = containers.iter().any(|c| c.name == PROXY_CONTAINER)
        || init
            .iter()
            .any(|c| c.name == PROXY_CONTAINER && c.restart_policy.as_deref() == Some("Always"));
    let ports = containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|port| {
            Some(NamedPort {
                name: port.name.clone()?,
                port: u16::try_from(port.container_port).ok()?,
                protocol: Protocol::parse(port.protocol.as_deref())?,
            })
        })
        .collect();
    Pod {
        namespace: p.metadata.namespace.clone().unwrap_or_default(),
        name: p.metadata.name.clone().unwrap_or_default(),
        labels: p.metadata.labels.clone().unwrap_or_default(),
        ip: p
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse::<IpAddr>().ok()),
        service_account: spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_else(|| "default".to_string()),
        sidecar,
        ports,
    }
}

/// Namespaces, NetworkPolicies, AuthorizationPolicies and PeerAuthentications of the whole
/// cluster, concurrently, each list paginated.
pub async fn world(client: &Client, root_namespace: &str) -> Result<World> {
    let all_namespaces = Api::all(client.clone());
    let params = ListParams::default();
    let (namespaces, network_policies, authorization_policies, peer_authentications) = futures::try_join!(
        list_all::<K8sNamespace>(&all_namespaces, &params, "namespaces"),
        in_scope::<NetworkPolicy>(client, None, None),
        in_scope::<AuthorizationPolicy>(client, None, None),
        in_scope::<PeerAuthentication>(client, None, None),
    )?;
    Ok(World {
        namespaces: namespaces.iter().map(namespace).collect(),
        network_policies,
        authorization_policies,
        peer_authentications,
        root_namespace: root_namespace.to_string(),
    })
}
