//! Gateways: each selector matches running gateway pods; each TLS server's `credentialName`
//! Secret exists where the gateway workload runs and holds a certificate that is not expired.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Pod, Secret};
use sealos_shared::output::Severity;
use sealos_shared::resources::istio::Gateway;

use super::certificates::{expiry_finding, leaf_not_after};
use super::collect::{Snapshot, selector_string};
use super::pods;
use super::{Area, CheckArgs, Finding, ObjectRef};

/// Where a gateway's workload runs: the namespaces of its pods, or (no pods) the Gateway's own.
pub fn workload_namespaces(
    gateway: &Gateway,
    gateway_pods: &BTreeMap<String, Vec<Pod>>,
) -> BTreeSet<String> {
    let selected = gateway_pods
        .get(&selector_string(&gateway.spec.selector))
        .map(Vec::as_slice)
        .unwrap_or_default();
    gateway.credential_namespaces(
        selected
            .iter()
            .filter_map(|p| p.metadata.namespace.as_deref()),
    )
}

pub fn check(snapshot: &Snapshot, args: &CheckArgs, now: jiff::Timestamp) -> Vec<Finding> {
    let mut out = Vec::new();
    for gateway in snapshot.gateways.as_deref().unwrap_or_default() {
        out.extend(check_one(gateway, snapshot, args, now));
    }
    out
}

fn check_one(
    gateway: &Gateway,
    snapshot: &Snapshot,
    args: &CheckArgs,
    now: jiff::Timestamp,
) -> Vec<Finding> {
    let ns = gateway.metadata.namespace.as_deref();
    let name = gateway.metadata.name.as_deref().unwrap_or("");
    let object = ObjectRef::new("Gateway", ns, name);
    let mut out = Vec::new();
    let selector = selector_string(&gateway.spec.selector);
    if gateway.spec.selector.is_empty() {
        out.push(Finding::new(
            Area::Gateways,
            Severity::Fail,
            object.clone(),
            "no selector: the Gateway binds to no gateway pods",
        ));
    } else {
        let selected = snapshot
            .gateway_pods
            .get(&selector)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let running = selected.iter().filter(|p| pods::is_ready(p)).count();
        if running == 0 {
            out.push(Finding::new(
                Area::Gateways,
                Severity::Fail,
                object.clone(),
                if selected.is_empty() {
                    format!("selector {selector} matches no pod: no gateway serves it")
                } else {
                    format!(
                        "selector {selector} matches {} pods, none Running and Ready",
                        selected.len()
                    )
                },
            ));
        }
    }
    let workload_ns = workload_namespaces(gateway, &snapshot.gateway_pods);
    let mut credentials = BTreeSet::new();
    for server in &gateway.spec.servers {
        if let Some(credential) = server
            .tls
            .as_ref()
            .and_then(|t| t.credential_name.as_deref())
        {
            credentials.insert(credential.to_string());
        }
    }
    for credential in &credentials {
        for wns in &workload_ns {
            let secret = snapshot.gateway_secrets.get(wns).and_then(|list| {
                list.iter()
                    .find(|s| s.metadata.name.as_deref() == Some(credential))
            });
            out.extend(judge_credential(
                gateway, name, wns, credential, secret, args, now,
            ));
        }
    }
    if out.is_empty() {
        out.push(Finding::new(
            Area::Gateways,
            Severity::Ok,
            object,
            format!(
                "selector matches running pods; {} TLS credential{} valid",
                credentials.len(),
                if credentials.len() == 1 { "" } else { "s" }
            ),
        ));
    }
    out
}

fn judge_credential(
    gateway: &Gateway,
    gateway_name: &str,
    namespace: &str,
    credential: &str,
    secret: Option<&Secret>,
    args: &CheckArgs,
    now: jiff::Timestamp,
) -> Option<Finding> {
    let object = ObjectRef::new(
        "Gateway",
        gateway.metadata.namespace.as_deref(),
        gateway_name,
    );
    let Some(secret) = secret else {
        return Some(Finding::new(
            Area::Gateways,
            Severity::Fail,
            object,
            format!(
                "TLS credentialName {credential:?}: Secret not found in {namespace:?} (where the gateway pods run): HTTPS on this gateway fails"
            ),
        ));
    };
    let data = secret.data.as_ref();
    let pem = data
        .and_then(|d| d.get("tls.crt").or_else(|| d.get("cert")))
        .map(|b| b.0.as_slice());
    let Some(pem) = pem else {
        return Some(Finding::new(
            Area::Gateways,
            Severity::Fail,
            object,
            format!("TLS credential Secret {namespace}/{credential} has no tls.crt"),
        ));
    };
    match leaf_not_after(pem) {
        Err(e) => Some(Finding::new(
            Area::Gateways,
            Severity::Fail,
            object,
            format!("TLS credential Secret {namespace}/{credential}: {e}"),
        )),
        Ok(not_after) => Some(expiry_finding(
            Area::Gateways,
            object,
            &format!("certificate in Secret {namespace}/{credential}"),
            not_after,
            now,
            args,
        ))
        .filter(|f| f.status != Severity::Ok),
    }
}
