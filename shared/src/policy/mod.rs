//! Who may talk to whom: an exact evaluator of Kubernetes NetworkPolicies (L3/L4), Istio
//! PeerAuthentication against sidecar presence (mTLS) and Istio AuthorizationPolicies (L7).
//!
//! Plain data in ([`World`], a [`Connection`]), a [`Verdict`] out that names the objects and
//! rules that decided it. Nothing here talks to a cluster: `health` and `diag reachability`
//! collect the objects and call [`evaluate`].
//!
//! What is modelled, and what is not (an honest "cannot judge" beats a guess):
//! - NetworkPolicy: the v1 API as documented (policyTypes and their defaults, empty vs absent
//!   selectors and rule lists, namespaceSelector ∧ podSelector in one peer, ipBlock/except,
//!   protocol, numeric and named ports, endPort). ipBlock is matched against the address the
//!   policy sees; whether pod IPs match ipBlocks is plugin-defined upstream, we match them.
//! - mTLS: a client sidecar originates mutual TLS to a server with a sidecar unless the
//!   server's mode is DISABLE (Istio's auto mTLS); DestinationRule TLS overrides are not read.
//! - AuthorizationPolicy: CUSTOM (cannot judge: an external authorizer decides), DENY, ALLOW,
//!   AUDIT (never decides); `targetRef(s)` policies are not applied to sidecars. The request
//!   carries no JWT; `when` keys on headers or JWT claims make a rule "cannot judge".

mod authz;
pub mod load;
mod mtls;
mod network;
mod selector;
mod verdict;

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde::Serialize;

use crate::resources::istio::{AuthorizationPolicy, PeerAuthentication};

pub use authz::{AuthzRule, rule_admits_any_caller};
pub use mtls::{MtlsMode, Transport, effective_mode};
pub use network::{PolicyDirection, empty_namespace_selectors, selects as pod_selector_selects};
pub use selector::{display as selector_display, istio_string, matches as selector_matches};
pub use verdict::{Decider, Decision, Layer, Ruling, Verdict};

/// Istio's default root namespace: its policies without a selector apply mesh-wide.
pub const ROOT_NAMESPACE: &str = "istio-system";
/// Istio's default trust domain (principals are `cluster.local/ns/NS/sa/SA`).
pub const TRUST_DOMAIN: &str = "cluster.local";

/// A namespace and its labels (what a namespaceSelector sees).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Namespace {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// A container port with a name, for resolving named ports on the target pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedPort {
    pub name: String,
    pub port: u16,
    pub protocol: Protocol,
}

/// L4 protocol as NetworkPolicy spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Protocol {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "SCTP")]
    Sctp,
}

impl Protocol {
    /// `TCP`, `UDP`, `SCTP`; the API's default (TCP) when absent.
    pub fn parse(s: Option<&str>) -> Option<Protocol> {
        match s.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// A pod: what the policies select on and what the request carries from it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub ip: Option<IpAddr>,
    pub service_account: String,
    /// Whether an Envoy (a sidecar, or the gateway's own proxy) handles its traffic.
    pub sidecar: bool,
    pub ports: Vec<NamedPort>,
}

impl Pod {
    /// The SPIFFE-less principal Istio authorization matches: `cluster.local/ns/NS/sa/SA`.
    pub fn principal(&self) -> String {
        format!(
            "{TRUST_DOMAIN}/ns/{}/sa/{}",
            self.namespace, self.service_account
        )
    }
}

/// One end of a connection: a pod, or an address outside the pod network (the API server,
/// a client on the internet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Endpoint {
    Pod(Pod),
    Address { ip: IpAddr },
}

impl Endpoint {
    pub fn pod(&self) -> Option<&Pod> {
        match self {
            Endpoint::Pod(p) => Some(p),
            Endpoint::Address { .. } => None,
        }
    }

    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Endpoint::Pod(p) => p.ip,
            Endpoint::Address { ip } => Some(*ip),
        }
    }

    /// `ns/name` or the address.
    pub fn display(&self) -> String {
        match self {
            Endpoint::Pod(p) => format!("{}/{}", p.namespace, p.name),
            Endpoint::Address { ip } => ip.to_string(),
        }
    }
}

/// The HTTP request, when the port speaks HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    /// The Host/:authority header, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// A connection attempt to a port of the destination (the pod's port: after Service
/// translation, as NetworkPolicy sees it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connection {
    pub from: Endpoint,
    pub to: Endpoint,
    pub port: u16,
    pub protocol: Protocol,
    /// None: plain TCP (HTTP-only authorization fields then apply as Istio applies them to TCP).
    pub http: Option<HttpRequest>,
}

/// Everything the policies are evaluated against.
#[derive(Debug, Clone, Default)]
pub struct World {
    pub namespaces: Vec<Namespace>,
    pub network_policies: Vec<NetworkPolicy>,
    pub authorization_policies: Vec<AuthorizationPolicy>,
    pub peer_authentications: Vec<PeerAuthentication>,
    /// Istio's root namespace (`istio-system` unless meshConfig.rootNamespace says otherwise).
    pub root_namespace: String,
}

impl World {
    pub fn namespace_labels(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        self.namespaces
            .iter()
            .find(|n| n.name == name)
            .map(|n| &n.labels)
    }

    fn root(&self) -> &str {
        if self.root_namespace.is_empty() {
            ROOT_NAMESPACE
        } else {
            &self.root_namespace
        }
    }
}

/// Walks every layer (the source's egress, the destination's ingress, mTLS, authorization) and
/// combines them: refused if any layer refuses, cannot judge if any cannot, else allowed.
pub fn evaluate(world: &World, conn: &Connection) -> Verdict {
    let mut steps = vec![
        network::evaluate(world, conn, PolicyDirection::Egress),
        network::evaluate(world, conn, PolicyDirection::Ingress),
    ];
    let (mtls_step, peer) = mtls::evaluate(world, conn);
    steps.push(mtls_step);
    steps.push(authz::evaluate(world, conn, peer.as_ref()));
    Verdict::of(steps)
}

#[cfg(test)]
mod tests;
