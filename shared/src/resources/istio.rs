//! Istio `networking.istio.io/v1` and `security.istio.io/v1` resources.

use std::collections::{BTreeMap, BTreeSet};

use kube::CustomResource;
use serde::{Deserialize, Serialize};

use super::Extra;

/// A Gateway: which proxies (by selector) listen on which ports for which hosts.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "networking.istio.io",
    version = "v1",
    kind = "Gateway",
    namespaced,
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<Server>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `key=value,...`: a label map as a list query's `labelSelector`.
pub fn label_selector(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl Gateway {
    /// The `labelSelector` of the gateway's workload pods (in every namespace, as Istio matches
    /// them); `None` when the selector is empty, which must not become "every pod".
    pub fn workload_selector(&self) -> Option<String> {
        (!self.spec.selector.is_empty()).then(|| label_selector(&self.spec.selector))
    }

    /// The namespaces whose Secrets serve this Gateway's `credentialName`s: Istio reads them
    /// where the gateway's workload pods run, so the namespaces of `workload_pod_namespaces` (the
    /// pods its selector matched), or the Gateway's own namespace when no pod matched.
    pub fn credential_namespaces<'a>(
        &self,
        workload_pod_namespaces: impl IntoIterator<Item = &'a str>,
    ) -> BTreeSet<String> {
        let mut namespaces: BTreeSet<String> = workload_pod_namespaces
            .into_iter()
            .map(str::to_string)
            .collect();
        if namespaces.is_empty()
            && let Some(ns) = &self.metadata.namespace
        {
            namespaces.insert(ns.clone());
        }
        namespaces
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Server {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<ServerPort>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ServerTls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServerPort {
    pub number: u32,
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub name: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServerTls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The TLS Secret, looked up in the gateway workload's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_redirect: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A VirtualService: routes for hosts, bound to gateways (or the mesh).
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "networking.istio.io",
    version = "v1",
    kind = "VirtualService",
    namespaced,
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualServiceSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// `namespace/name` or `name` (same namespace); `mesh` means the sidecars.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<Route>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tcp: Vec<Route>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<Route>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// An HTTP, TCP or TLS route: the part the suite needs is where it sends traffic.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<RouteDestination>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteDestination {
    pub destination: Destination,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSelector>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
pub struct PortSelector {
    pub number: u32,
}

/// A DestinationRule: subsets (by pod labels) and traffic policy for a host.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "networking.istio.io",
    version = "v1",
    kind = "DestinationRule",
    namespaced,
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct DestinationRuleSpec {
    pub host: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsets: Vec<Subset>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
pub struct Subset {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A workload selector as Istio's security resources spell it.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
}

#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "security.istio.io",
    version = "v1",
    kind = "AuthorizationPolicy",
    namespaced,
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationPolicySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<WorkloadSelector>,
    /// ALLOW (the default), DENY, AUDIT or CUSTOM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<serde_json::Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "security.istio.io",
    version = "v1",
    kind = "PeerAuthentication",
    namespaced,
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct PeerAuthenticationSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<WorkloadSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls: Option<Mtls>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
pub struct Mtls {
    /// UNSET, DISABLE, PERMISSIVE or STRICT.
    #[serde(default)]
    pub mode: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use kube::Resource;
    use serde_json::json;

    #[test]
    fn api_coordinates_match_upstream() {
        assert_eq!(Gateway::api_version(&()), "networking.istio.io/v1");
        assert_eq!(VirtualService::plural(&()), "virtualservices");
        assert_eq!(DestinationRule::plural(&()), "destinationrules");
        assert_eq!(
            AuthorizationPolicy::api_version(&()),
            "security.istio.io/v1"
        );
        assert_eq!(PeerAuthentication::plural(&()), "peerauthentications");
    }

    #[test]
    fn virtual_service_round_trips_without_loss() {
        let doc = json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "terminal", "namespace": "sealos-system"},
            "spec": {
                "hosts": ["terminal.cloud.sealos.io"],
                "gateways": ["istio-system/sealos-gateway"],
                "http": [{"match": [{"uri": {"prefix": "/"}}], "timeout": "30s",
                          "route": [{"destination": {"host": "terminal", "port": {"number": 8080}, "subset": "v1"}, "weight": 100}]}]
            }
        });
        let vs: VirtualService = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(
            vs.spec.http[0].route[0]
                .destination
                .port
                .as_ref()
                .unwrap()
                .number,
            8080
        );
        assert_eq!(vs.spec.http[0].extra["timeout"], "30s");
        assert_eq!(serde_json::to_value(&vs).unwrap()["spec"], doc["spec"]);
    }

    #[test]
    fn gateway_reads_credential_names() {
        let gw: Gateway = serde_json::from_value(json!({
            "apiVersion": "networking.istio.io/v1", "kind": "Gateway",
            "metadata": {"name": "g", "namespace": "istio-system"},
            "spec": {"selector": {"istio": "ingressgateway"}, "servers": [
                {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": ["*"],
                 "tls": {"mode": "SIMPLE", "credentialName": "wildcard-tls"}}]}
        }))
        .unwrap();
        assert_eq!(
            gw.spec.servers[0]
                .tls
                .as_ref()
                .unwrap()
                .credential_name
                .as_deref(),
            Some("wildcard-tls")
        );
        assert_eq!(gw.spec.selector["istio"], "ingressgateway");
    }

    #[test]
    fn credentials_live_where_the_workload_runs() {
        let gw: Gateway = serde_json::from_value(json!({
            "apiVersion": "networking.istio.io/v1", "kind": "Gateway",
            "metadata": {"name": "g", "namespace": "apps"},
            "spec": {"selector": {"istio": "ingressgateway", "app": "gw"}}
        }))
        .unwrap();
        assert_eq!(
            gw.workload_selector().as_deref(),
            Some("app=gw,istio=ingressgateway")
        );
        let found = gw.credential_namespaces(["istio-system", "edge", "istio-system"]);
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["edge", "istio-system"]
        );
        // No pod matched: the Gateway's own namespace.
        let fallback = gw.credential_namespaces([]);
        assert_eq!(fallback.into_iter().collect::<Vec<_>>(), ["apps"]);
        let unselective = Gateway::new("u", GatewaySpec::default());
        assert_eq!(unselective.workload_selector(), None);
    }
}
