//! Security: the guide's STRICT PeerAuthentication and the AuthorizationPolicy that lets the
//! ingress gateway in, both in the Sealos namespace.

use sealos_shared::output::Severity;

use super::collect::Snapshot;
use super::{Area, CheckArgs, Finding, ObjectRef};

/// The principal the guide's `sealos-system-access` policy allows.
pub const GATEWAY_PRINCIPAL: &str =
    "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";

pub fn check(snapshot: &Snapshot, args: &CheckArgs) -> Vec<Finding> {
    let ns = args.sealos_namespace.as_str();
    let mut out = Vec::new();
    let peer = snapshot.peer_authentications.as_deref().unwrap_or_default();
    // Namespace-wide STRICT: no selector (a selector narrows it to some workloads).
    let strict = peer.iter().find(|p| {
        p.spec
            .selector
            .as_ref()
            .is_none_or(|s| s.match_labels.is_empty())
            && p.spec.mtls.as_ref().is_some_and(|m| m.mode == "STRICT")
    });
    match strict {
        Some(p) => out.push(Finding::new(
            Area::Security,
            Severity::Ok,
            ObjectRef::new("PeerAuthentication", Some(ns), p.metadata.name.as_deref().unwrap_or("")),
            "mTLS is STRICT for the whole namespace",
        )),
        None => out.push(Finding::new(
            Area::Security,
            Severity::Fail,
            ObjectRef::new("PeerAuthentication", Some(ns), "sealos-mtls"),
            format!(
                "no namespace-wide STRICT PeerAuthentication in {ns:?}{}: plain-text traffic is accepted",
                if peer.is_empty() { String::new() } else { format!(" ({} others exist)", peer.len()) }
            ),
        )),
    }
    let policies = snapshot
        .authorization_policies
        .as_deref()
        .unwrap_or_default();
    let allows_gateway = policies.iter().find(|p| {
        p.spec.action.as_deref().unwrap_or("ALLOW") == "ALLOW"
            && p.spec
                .rules
                .iter()
                .any(|r| r.to_string().contains(GATEWAY_PRINCIPAL))
    });
    match (allows_gateway, policies.is_empty()) {
        (Some(p), _) => out.push(Finding::new(
            Area::Security,
            Severity::Ok,
            ObjectRef::new("AuthorizationPolicy", Some(ns), p.metadata.name.as_deref().unwrap_or("")),
            "allows the ingress gateway's service account",
        )),
        (None, true) => out.push(Finding::new(
            Area::Security,
            Severity::Fail,
            ObjectRef::new("AuthorizationPolicy", Some(ns), "sealos-system-access"),
            format!("no AuthorizationPolicy in {ns:?}: the guide prescribes one that admits only the ingress gateway"),
        )),
        (None, false) => out.push(Finding::new(
            Area::Security,
            Severity::Warn,
            ObjectRef::new("AuthorizationPolicy", Some(ns), "sealos-system-access"),
            format!(
                "{} AuthorizationPolicies in {ns:?}, none allowing the ingress gateway principal {GATEWAY_PRINCIPAL}",
                policies.len()
            ),
        )),
    }
    out
}
