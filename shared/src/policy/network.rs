//! NetworkPolicy (networking.k8s.io/v1) as the API reference defines it: a pod is isolated
//! for a direction once any policy with that policyType selects it, and then only what some
//! rule of those policies admits gets through; both the source's egress and the destination's
//! ingress must admit a connection.

use std::net::IpAddr;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::selector::{display, matches};
use super::{Connection, Decider, Decision, Endpoint, Layer, Pod, Protocol, Ruling, World};

/// A rule's peers (`from`/`to`) and ports.
type Rule<'a> = (
    Option<&'a Vec<NetworkPolicyPeer>>,
    Option<&'a Vec<NetworkPolicyPort>>,
);

/// Which side of a connection a policy governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyDirection {
    Ingress,
    Egress,
}

impl PolicyDirection {
    fn type_name(self) -> &'static str {
        match self {
            PolicyDirection::Ingress => "Ingress",
            PolicyDirection::Egress => "Egress",
        }
    }

    fn field(self) -> &'static str {
        match self {
            PolicyDirection::Ingress => "ingress",
            PolicyDirection::Egress => "egress",
        }
    }
}

/// Whether the policy governs `dir`. Without policyTypes (the API server defaults them, but a
/// manifest may omit them): Ingress always, Egress when the policy has egress rules.
fn affects(policy: &NetworkPolicy, dir: PolicyDirection) -> bool {
    let Some(spec) = &policy.spec else {
        return false;
    };
    match spec.policy_types.as_deref() {
        Some(types) if !types.is_empty() => types.iter().any(|t| t == dir.type_name()),
        _ => match dir {
            PolicyDirection::Ingress => true,
            PolicyDirection::Egress => spec.egress.as_ref().is_some_and(|e| !e.is_empty()),
        },
    }
}

fn name_of(policy: &NetworkPolicy) -> (&str, &str) {
    (
        policy.metadata.namespace.as_deref().unwrap_or_default(),
        policy.metadata.name.as_deref().unwrap_or_default(),
    )
}

/// A policy's podSelector: absent or empty, every pod of its namespace.
pub fn selects(
    selector: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    selector.is_none_or(|s| matches(s, labels))
}

/// The policies in the pod's namespace whose podSelector selects it for `dir`.
pub fn selecting<'a>(world: &'a World, pod: &Pod, dir: PolicyDirection) -> Vec<&'a NetworkPolicy> {
    world
        .network_policies
        .iter()
        .filter(|p| name_of(p).0 == pod.namespace)
        .filter(|p| affects(p, dir))
        .filter(|p| {
            p.spec
                .as_ref()
                .is_some_and(|s| selects(s.pod_selector.as_ref(), &pod.labels))
        })
        .collect()
}

/// One layer of L3/L4: the source's egress or the destination's ingress.
pub fn evaluate(world: &World, conn: &Connection, dir: PolicyDirection) -> Ruling {
    let layer = match dir {
        PolicyDirection::Ingress => Layer::Ingress,
        PolicyDirection::Egress => Layer::Egress,
    };
    let (subject, other) = match dir {
        PolicyDirection::Egress => (&conn.from, &conn.to),
        PolicyDirection::Ingress => (&conn.to, &conn.from),
    };
    let Some(pod) = subject.pod() else {
        return Ruling::new(
            layer,
            Decision::Allowed,
            format!(
                "{} is outside the pod network: no NetworkPolicy applies",
                subject.display()
            ),
        );
    };
    let policies = selecting(world, pod, dir);
    if policies.is_empty() {
        return Ruling::new(
            layer,
            Decision::Allowed,
            format!(
                "no NetworkPolicy selects {} for {}: not isolated",
                subject.display(),
                dir.field()
            ),
        );
    }
    let mut admitting = Vec::new();
    for policy in &policies {
        let (ns, name) = name_of(policy);
        let rules: Vec<Rule> = match (dir, &policy.spec) {
            (PolicyDirection::Ingress, Some(spec)) => spec
                .ingress
                .iter()
                .flatten()
                .map(|r| (r.from.as_ref(), r.ports.as_ref()))
                .collect(),
            (PolicyDirection::Egress, Some(spec)) => spec
                .egress
                .iter()
                .flatten()
                .map(|r| (r.to.as_ref(), r.ports.as_ref()))
                .collect(),
            (_, None) => Vec::new(),
        };
        for (i, (peers, ports)) in rules.into_iter().enumerate() {
            let decider = || {
                Decider::new(
                    "NetworkPolicy",
                    ns,
                    name,
                    Some(format!("{}[{i}]", dir.field())),
                )
            };
            if peers_match(world, ns, peers, other) && ports_match(ports, conn) {
                admitting.push(decider());
            }
        }
    }
    let what = format!(
        "{} {} port {}/{}",
        match dir {
            PolicyDirection::Egress => "to",
            PolicyDirection::Ingress => "from",
        },
        other.display(),
        conn.port,
        conn.protocol.name()
    );
    if !admitting.is_empty() {
        return Ruling::new(
            layer,
            Decision::Allowed,
            format!("{} admitted {what}", dir.field()),
        )
        .by(admitting);
    }
    let isolating: Vec<Decider> = policies
        .iter()
        .map(|p| {
            let (ns, name) = name_of(p);
            Decider::new("NetworkPolicy", ns, name, None)
        })
        .collect();
    Ruling::new(
        layer,
        Decision::Refused,
        format!(
            "{} is isolated for {} and no rule admits traffic {what}",
            subject.display(),
            dir.field()
        ),
    )
    .by(isolating)
}

/// Absent or empty `from`/`to`: every peer, inside the cluster or not.
fn peers_match(
    world: &World,
    policy_ns: &str,
    peers: Option<&Vec<NetworkPolicyPeer>>,
    other: &Endpoint,
) -> bool {
    match peers {
        None => true,
        Some(peers) if peers.is_empty() => true,
        Some(peers) => peers
            .iter()
            .any(|p| peer_matches(world, policy_ns, p, other)),
    }
}

fn peer_matches(
    world: &World,
    policy_ns: &str,
    peer: &NetworkPolicyPeer,
    other: &Endpoint,
) -> bool {
    if let Some(block) = &peer.ip_block {
        return other.ip().is_some_and(|ip| in_block(block, ip));
    }
    // podSelector and namespaceSelector select pods only, never addresses outside the cluster.
    let Some(pod) = other.pod() else {
        return false;
    };
    if peer.pod_selector.is_none() && peer.namespace_selector.is_none() {
        return false;
    }
    let namespace_ok = match &peer.namespace_selector {
        // Without a namespaceSelector, the policy's own namespace.
        None => pod.namespace == policy_ns,
        Some(sel) => {
            let empty = Default::default();
            matches(
                sel,
                world.namespace_labels(&pod.namespace).unwrap_or(&empty),
            )
        }
    };
    let pod_ok = peer
        .pod_selector
        .as_ref()
        .is_none_or(|sel| matches(sel, &pod.labels));
    namespace_ok && pod_ok
}

fn in_block(block: &IPBlock, ip: IpAddr) -> bool {
    cidr_contains(&block.cidr, ip) == Some(true)
        && !block
            .except
            .iter()
            .flatten()
            .any(|e| cidr_contains(e, ip) == Some(true))
}

/// Whether `ip` is inside `cidr` (`10.0.0.0/8`, `2001:db8::/32`); None when it does not parse.
pub fn cidr_contains(cidr: &str, ip: IpAddr) -> Option<bool> {
    let (addr, bits) = cidr.split_once('/')?;
    let net: IpAddr = addr.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            Some(u32::from(n) & mask == u32::from(i) & mask)
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            Some(u128::from(n) & mask == u128::from(i) & mask)
        }
        (IpAddr::V4(_), IpAddr::V6(_)) | (IpAddr::V6(_), IpAddr::V4(_)) => Some(false),
        _ => None,
    }
}

/// Absent or empty `ports`: every port and protocol.
fn ports_match(ports: Option<&Vec<NetworkPolicyPort>>, conn: &Connection) -> bool {
    match ports {
        None => true,
        Some(ports) if ports.is_empty() => true,
        Some(ports) => ports.iter().any(|p| port_matches(p, conn)),
    }
}

fn port_matches(p: &NetworkPolicyPort, conn: &Connection) -> bool {
    if Protocol::parse(p.protocol.as_deref()) != Some(conn.protocol) {
        return false;
    }
    let port = i64::from(conn.port);
    match &p.port {
        // A protocol alone: every port of it.
        None => true,
        Some(IntOrString::Int(n)) => match p.end_port {
            Some(end) => i64::from(*n) <= port && port <= i64::from(end),
            None => i64::from(*n) == port,
        },
        // A named port is resolved on the pod traffic goes to, never on the policy's pod; a
        // pod that does not declare the name matches nothing.
        Some(IntOrString::String(name)) => match &conn.to {
            Endpoint::Pod(pod) => pod
                .ports
                .iter()
                .any(|np| &np.name == name && np.protocol == conn.protocol && np.port == conn.port),
            Endpoint::Address { .. } => false,
        },
    }
}

/// namespaceSelectors of the policy that match no namespace in `world`: `(egress[0], "name=kube-system")`.
/// Such a peer admits nothing, the usual sign of a `name` label nobody set.
pub fn empty_namespace_selectors(policy: &NetworkPolicy, world: &World) -> Vec<(String, String)> {
    let Some(spec) = &policy.spec else {
        return Vec::new();
    };
    let ingress = spec
        .ingress
        .iter()
        .flatten()
        .enumerate()
        .flat_map(|(i, r)| {
            r.from
                .iter()
                .flatten()
                .map(move |p| (format!("ingress[{i}]"), p))
        });
    let egress = spec.egress.iter().flatten().enumerate().flat_map(|(i, r)| {
        r.to.iter()
            .flatten()
            .map(move |p| (format!("egress[{i}]"), p))
    });
    ingress
        .chain(egress)
        .filter_map(|(at, peer)| {
            let sel = peer.namespace_selector.as_ref()?;
            let any = world.namespaces.iter().any(|n| matches(sel, &n.labels));
            (!any).then(|| (at, display(sel)))
        })
        .collect()
}
