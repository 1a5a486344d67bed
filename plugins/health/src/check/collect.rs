//! What the checks read, fetched at once: every list concurrently, each paginated, one list per
//! kind and namespace (never a request per object).

use std::collections::{BTreeMap, BTreeSet};

use futures::future::{OptionFuture, try_join_all};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Node, Pod, Secret, Service};
use kube::Client;
use kube::api::{Api, ListParams};
use sealos_shared::Result;
use sealos_shared::list::{in_scope, list_all};
use sealos_shared::policy::World;
use sealos_shared::quantity::Quantity;
use sealos_shared::resources::certmanager::Certificate;
use sealos_shared::resources::istio::{Gateway, VirtualService};

use super::{Area, CheckArgs};

/// The cluster state the checks judge. A `None` list was not needed by the chosen areas.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub istio_deployments: Option<Vec<Deployment>>,
    pub istio_pods: Option<Vec<Pod>>,
    pub gateways: Option<Vec<Gateway>>,
    /// Pods matching each distinct gateway selector (key: `k=v,...`), all namespaces.
    pub gateway_pods: BTreeMap<String, Vec<Pod>>,
    /// Secrets of the namespaces where gateway workloads run.
    pub gateway_secrets: BTreeMap<String, Vec<Secret>>,
    pub virtual_services: Option<Vec<VirtualService>>,
    pub services: Option<Vec<Service>>,
    pub sealos_deployments: Option<Vec<Deployment>>,
    pub certificates: Option<Vec<Certificate>>,
    pub monitoring_pods: Option<Vec<Pod>>,
    /// Namespaces and every NetworkPolicy, AuthorizationPolicy and PeerAuthentication
    /// (security, network).
    pub policy_world: Option<World>,
    /// Pods of the Sealos namespace (security, network).
    pub sealos_pods: Option<Vec<Pod>>,
    /// The cluster DNS pods, `k8s-app=kube-dns` in kube-system (network).
    pub dns_pods: Option<Vec<Pod>>,
    /// Endpoints of the `default` namespace, for `kubernetes`: the API server (network).
    pub default_endpoints: Option<Vec<Endpoints>>,
    /// ConfigMaps of the Istio namespace (tuning).
    pub istio_config_maps: Option<Vec<ConfigMap>>,
    /// Container usage from the metrics API, or why it could not be read (tuning).
    pub usage: Option<std::result::Result<Usage, String>>,
    /// ConfigMaps of every namespace, where a Fluent Bit configuration may live (logging).
    pub config_maps: Option<Vec<ConfigMap>>,
    pub nodes: Option<Vec<Node>>,
}

/// `(namespace, pod, container) → (cpu, memory)`.
pub type Usage = BTreeMap<(String, String, String), (Quantity, Quantity)>;

/// A label selector map as `k=v,...` (sorted, so equal selectors share one list).
pub use sealos_shared::resources::istio::label_selector as selector_string;

fn when<F: std::future::Future>(needed: bool, f: impl FnOnce() -> F) -> OptionFuture<F> {
    OptionFuture::from(needed.then(f))
}

pub async fn collect(client: &Client, args: &CheckArgs, areas: &[Area]) -> Result<Snapshot> {
    let has = |a: Area| areas.contains(&a);
    let istio_ns = args.istio_namespace.as_str();
    let sealos_ns = args.sealos_namespace.as_str();
    let mon_ns = args.monitoring_namespace.as_str();
    let policy = has(Area::Security) || has(Area::Network);
    let nodes_api: Api<Node> = Api::all(client.clone());
    let list_params = ListParams::default();

    let (
        istio_deployments,
        istio_pods,
        gateways,
        virtual_services,
        services,
        sealos_deployments,
        certificates,
        monitoring_pods,
        policy_world,
        sealos_pods,
        dns_pods,
        default_endpoints,
        istio_config_maps,
        usage,
        config_maps,
        nodes,
    ) = futures::join!(
        when(has(Area::ControlPlane), || in_scope::<Deployment>(
            client,
            Some(istio_ns),
            None
        )),
        when(
            has(Area::ControlPlane) || has(Area::Security) || has(Area::Network),
            || in_scope::<Pod>(client, Some(istio_ns), None)
        ),
        when(has(Area::Gateways) || has(Area::VirtualServices), || {
            in_scope::<Gateway>(client, None, None)
        }),
        when(has(Area::VirtualServices), || in_scope::<VirtualService>(
            client, None, None
        )),
        when(has(Area::VirtualServices), || in_scope::<Service>(
            client, None, None
        )),
        when(has(Area::Controllers), || in_scope::<Deployment>(
            client,
            Some(sealos_ns),
            None
        )),
        when(has(Area::Certificates), || in_scope::<Certificate>(
            client, None, None
        )),
        when(has(Area::Monitoring), || in_scope::<Pod>(
            client,
            Some(mon_ns),
            None
        )),
        when(policy, || sealos_shared::policy::load::world(
            client, istio_ns
        )),
        when(policy, || in_scope::<Pod>(client, Some(sealos_ns), None)),
        when(has(Area::Network), || in_scope::<Pod>(
            client,
            Some("kube-system"),
            Some("k8s-app=kube-dns")
        )),
        when(has(Area::Network), || in_scope::<Endpoints>(
            client,
            Some("default"),
            None
        )),
        when(has(Area::Tuning), || in_scope::<ConfigMap>(
            client,
            Some(istio_ns),
            None
        )),
        when(has(Area::Tuning), || async {
            let mut notes = Vec::new();
            // A cluster without metrics-server (404: the API is not served) is a finding;
            // any other failure is the check's, as for every other list.
            match sealos_shared::pod_metrics::usage(client, None, &mut notes).await {
                Ok(usage) => Ok(Ok(usage)),
                Err(e) if matches!(e.status_code(), Some(404)) => Ok(Err(e.to_string())),
                Err(e) => Err(e),
            }
        }),
        when(has(Area::Logging), || in_scope::<ConfigMap>(
            client, None, None
        )),
        when(has(Area::Logging), || list_all::<Node>(
            &nodes_api,
            &list_params,
            "nodes"
        )),
    );
    let mut snapshot = Snapshot {
        istio_deployments: istio_deployments.transpose()?,
        istio_pods: istio_pods.transpose()?,
        gateways: gateways.transpose()?,
        virtual_services: virtual_services.transpose()?,
        services: services.transpose()?,
        sealos_deployments: sealos_deployments.transpose()?,
        certificates: certificates.transpose()?,
        monitoring_pods: monitoring_pods.transpose()?,
        policy_world: policy_world.transpose()?,
        sealos_pods: sealos_pods.transpose()?,
        dns_pods: dns_pods.transpose()?,
        default_endpoints: default_endpoints.transpose()?,
        istio_config_maps: istio_config_maps.transpose()?,
        usage: usage.transpose()?,
        config_maps: config_maps.transpose()?,
        nodes: nodes.transpose()?,
        ..Snapshot::default()
    };
    if has(Area::Gateways) {
        collect_gateway_workloads(client, &mut snapshot).await?;
    }
    Ok(snapshot)
}

/// Second step for gateways: the pods of each distinct selector, then the Secrets of the
/// namespaces those pods (or, without pods, the Gateways) live in.
async fn collect_gateway_workloads(client: &Client, snapshot: &mut Snapshot) -> Result<()> {
    let gateways = snapshot.gateways.as_deref().unwrap_or_default();
    let selectors: BTreeSet<String> = gateways
        .iter()
        .filter(|g| !g.spec.selector.is_empty())
        .map(|g| selector_string(&g.spec.selector))
        .collect();
    let pods = try_join_all(selectors.into_iter().map(|selector| async move {
        let pods = in_scope::<Pod>(client, None, Some(selector.as_str())).await?;
        Ok::<_, sealos_shared::Error>((selector, pods))
    }))
    .await?;
    snapshot.gateway_pods = pods.into_iter().collect();
    let mut namespaces = BTreeSet::new();
    for gateway in gateways {
        if !gateway
            .spec
            .servers
            .iter()
            .any(|s| s.tls.as_ref().is_some_and(|t| t.credential_name.is_some()))
        {
            continue;
        }
        namespaces.extend(super::gateways::workload_namespaces(
            gateway,
            &snapshot.gateway_pods,
        ));
    }
    let secrets = try_join_all(namespaces.into_iter().map(|ns| async move {
        let secrets = in_scope::<Secret>(client, Some(ns.as_str()), None).await?;
        Ok::<_, sealos_shared::Error>((ns, secrets))
    }))
    .await?;
    snapshot.gateway_secrets = secrets.into_iter().collect();
    Ok(())
}
