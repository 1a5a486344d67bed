//! PeerAuthentication against sidecar presence: which mTLS mode the destination's proxy
//! enforces on a port (workload, then namespace, then mesh level; port-level modes on a
//! workload policy win; UNSET inherits), and whether the source can speak it.

use serde::Serialize;

use crate::resources::istio::PeerAuthentication;

use super::{Connection, Decider, Decision, Layer, Pod, Ruling, World};

/// The mode a proxy enforces on inbound traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MtlsMode {
    Strict,
    Permissive,
    Disable,
}

impl MtlsMode {
    fn parse(s: &str) -> Option<MtlsMode> {
        match s {
            "STRICT" => Some(MtlsMode::Strict),
            "PERMISSIVE" => Some(MtlsMode::Permissive),
            "DISABLE" => Some(MtlsMode::Disable),
            // UNSET, empty or unknown: inherit from the parent level.
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MtlsMode::Strict => "STRICT",
            MtlsMode::Permissive => "PERMISSIVE",
            MtlsMode::Disable => "DISABLE",
        }
    }
}

/// What the source presents to the destination's proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport {
    /// Mutual TLS: the source's principal and namespace are known to authorization.
    pub mtls: bool,
}

fn meta(p: &PeerAuthentication) -> (&str, &str) {
    (
        p.metadata.namespace.as_deref().unwrap_or_default(),
        p.metadata.name.as_deref().unwrap_or_default(),
    )
}

fn has_selector(p: &PeerAuthentication) -> bool {
    p.spec
        .selector
        .as_ref()
        .is_some_and(|s| !s.match_labels.is_empty())
}

/// Oldest first, then by name: when two policies compete at one level, Istio takes the oldest.
fn oldest_first(mut v: Vec<&PeerAuthentication>) -> Vec<&PeerAuthentication> {
    v.sort_by(|a, b| {
        a.metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0)
            .cmp(&b.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .then(meta(a).1.cmp(meta(b).1))
    });
    v
}

fn port_level(p: &PeerAuthentication, port: u16) -> Option<MtlsMode> {
    let modes = p.spec.extra.get("portLevelMtls")?.as_object()?;
    let mode = modes.get(&port.to_string())?.get("mode")?.as_str()?;
    MtlsMode::parse(mode)
}

fn mode_of(p: &PeerAuthentication) -> Option<MtlsMode> {
    p.spec.mtls.as_ref().and_then(|m| MtlsMode::parse(&m.mode))
}

/// The mode enforced on `port` of `pod`, and the object (and port entry) that set it; without
/// any policy Istio's default, PERMISSIVE.
pub fn effective_mode(world: &World, pod: &Pod, port: u16) -> (MtlsMode, Option<Decider>) {
    let decider = |p: &PeerAuthentication, rule: Option<String>| {
        let (ns, name) = meta(p);
        Some(Decider::new("PeerAuthentication", ns, name, rule))
    };
    let in_ns = |ns: &str| -> Vec<&PeerAuthentication> {
        world
            .peer_authentications
            .iter()
            .filter(|p| meta(p).0 == ns)
            .collect()
    };
    let workload = oldest_first(
        in_ns(&pod.namespace)
            .into_iter()
            .filter(|p| has_selector(p))
            .filter(|p| {
                p.spec.selector.as_ref().is_some_and(|s| {
                    s.match_labels
                        .iter()
                        .all(|(k, v)| pod.labels.get(k) == Some(v))
                })
            })
            .collect(),
    );
    if let Some(p) = workload.first() {
        if let Some(mode) = port_level(p, port) {
            return (mode, decider(p, Some(format!("portLevelMtls[{port}]"))));
        }
        if let Some(mode) = mode_of(p) {
            return (mode, decider(p, None));
        }
    }
    for ns in [pod.namespace.as_str(), world.root()] {
        let level = oldest_first(in_ns(ns).into_iter().filter(|p| !has_selector(p)).collect());
        if let Some((p, mode)) = level.iter().find_map(|p| mode_of(p).map(|m| (*p, m))) {
            return (mode, decider(p, None));
        }
    }
    (MtlsMode::Permissive, None)
}

pub fn evaluate(world: &World, conn: &Connection) -> (Ruling, Option<Transport>) {
    let Some(dst) = conn.to.pod().filter(|p| p.sidecar) else {
        return (
            Ruling::new(
                Layer::Mtls,
                Decision::Allowed,
                format!(
                    "{} has no sidecar: plaintext is accepted, Istio policy is not enforced there",
                    conn.to.display()
                ),
            ),
            None,
        );
    };
    let (mode, by) = effective_mode(world, dst, conn.port);
    let deciders: Vec<Decider> = by.into_iter().collect();
    let src_sidecar = conn.from.pod().is_some_and(|p| p.sidecar);
    // Auto mTLS: a client proxy originates mutual TLS to a meshed server unless it disabled it.
    let mtls = src_sidecar && mode != MtlsMode::Disable;
    let ruling = match (mode, mtls) {
        (MtlsMode::Strict, false) => Ruling::new(
            Layer::Mtls,
            Decision::Refused,
            format!(
                "{} requires STRICT mTLS on port {}; {} has no sidecar and sends plaintext",
                dst.name,
                conn.port,
                conn.from.display()
            ),
        ),
        (_, true) => Ruling::new(
            Layer::Mtls,
            Decision::Allowed,
            format!(
                "mutual TLS ({} on port {}): {} is authenticated",
                mode.name(),
                conn.port,
                conn.from.display()
            ),
        ),
        (_, false) => Ruling::new(
            Layer::Mtls,
            Decision::Allowed,
            format!(
                "plaintext accepted ({} on port {}): the source has no identity",
                mode.name(),
                conn.port
            ),
        ),
    };
    (ruling.by(deciders), Some(Transport { mtls }))
}
