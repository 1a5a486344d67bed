//! Network, judged by the shared policy evaluator as the API defines NetworkPolicy: can the
//! Sealos controllers resolve names (DNS in kube-system), reach the API server they watch, and
//! be reached by the ingress gateway? A namespaceSelector on a label nobody set (`name`,
//! instead of `kubernetes.io/metadata.name`) admits nothing, and is named.

use std::net::IpAddr;

use sealos_shared::output::Severity;
use sealos_shared::policy::{
    self, Connection, Decider, Decision, Endpoint, Layer, Pod, Protocol, Verdict, World, load,
};

use super::collect::Snapshot;
use super::security::{gateway, probe_port, representatives};
use super::{Area, CheckArgs, Finding, ObjectRef};

const FIX_CMD: &str = "kubectl sealos health policies --print";

/// The cluster DNS pods, or the pod kubeadm's CoreDNS would be when none is listed.
fn dns(snapshot: &Snapshot) -> Pod {
    snapshot
        .dns_pods
        .iter()
        .flatten()
        .next()
        .map(load::pod)
        .unwrap_or_else(|| Pod {
            namespace: "kube-system".into(),
            name: "coredns".into(),
            labels: [("k8s-app".to_string(), "kube-dns".to_string())].into(),
            service_account: "coredns".into(),
            ..Pod::default()
        })
}

/// The API server's address and port, from Endpoints `default/kubernetes`.
pub fn api_server(snapshot: &Snapshot) -> Option<(IpAddr, u16)> {
    let ep = snapshot
        .default_endpoints
        .iter()
        .flatten()
        .find(|e| e.metadata.name.as_deref() == Some("kubernetes"))?;
    let subset = ep.subsets.as_ref()?.first()?;
    let ip = subset.addresses.as_ref()?.first()?.ip.parse().ok()?;
    let port = subset.ports.as_ref()?.first()?.port;
    Some((ip, u16::try_from(port).ok()?))
}

/// The refusing NetworkPolicy of an L3/L4 verdict, if one refused.
fn refused_by(v: &Verdict) -> Option<Decider> {
    [Layer::Egress, Layer::Ingress]
        .iter()
        .filter_map(|l| v.step(*l))
        .find(|s| s.decision == Decision::Refused)
        .and_then(|s| s.deciders.first().cloned())
}

/// Only L3/L4: NetworkPolicies decide here, mTLS and authorization are the security area's.
fn l4(world: &World, conn: &Connection) -> Option<Decider> {
    let v = policy::evaluate(world, conn);
    refused_by(&v)
}

/// `namespaceSelector name=kube-system (egress[0]) matches no namespace` for a policy.
fn empty_selectors(world: &World, d: &Decider) -> String {
    let Some(p) = world.network_policies.iter().find(|p| {
        p.metadata.name.as_deref() == Some(d.name.as_str())
            && p.metadata.namespace.as_deref() == Some(d.namespace.as_str())
    }) else {
        return String::new();
    };
    let empty = policy::empty_namespace_selectors(p, world);
    if empty.is_empty() {
        return String::new();
    }
    let list: Vec<String> = empty
        .iter()
        .map(|(at, sel)| format!("namespaceSelector {sel} ({at})"))
        .collect();
    format!(" ({} matches no namespace)", list.join(", "))
}

struct Blocked<'a> {
    by: Decider,
    pods: Vec<&'a Pod>,
}

fn add<'a>(acc: &mut Vec<Blocked<'a>>, by: Decider, pod: &'a Pod) {
    let key = Decider { rule: None, ..by };
    match acc.iter_mut().find(|b| b.by == key) {
        Some(b) => b.pods.push(pod),
        None => acc.push(Blocked {
            by: key,
            pods: vec![pod],
        }),
    }
}

fn names(pods: &[&Pod]) -> String {
    pods.iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn check(snapshot: &Snapshot, args: &CheckArgs) -> Vec<Finding> {
    let ns = args.sealos_namespace.as_str();
    let Some(world) = &snapshot.policy_world else {
        return Vec::new();
    };
    let pods = representatives(snapshot.sealos_pods.as_deref().unwrap_or_default());
    let dns = dns(snapshot);
    let api = api_server(snapshot);
    let gw = gateway(snapshot, args);
    let (mut no_dns, mut no_api, mut no_gw) = (Vec::new(), Vec::new(), Vec::new());
    for pod in &pods {
        let to = |to: Endpoint, port: u16, protocol: Protocol| Connection {
            from: Endpoint::Pod(pod.clone()),
            to,
            port,
            protocol,
            http: None,
        };
        // DNS is UDP first, TCP for large answers: both must pass.
        for protocol in [Protocol::Udp, Protocol::Tcp] {
            if let Some(by) = l4(world, &to(Endpoint::Pod(dns.clone()), 53, protocol)) {
                add(&mut no_dns, by, pod);
                break;
            }
        }
        if let Some((ip, port)) = api
            && let Some(by) = l4(world, &to(Endpoint::Address { ip }, port, Protocol::Tcp))
        {
            add(&mut no_api, by, pod);
        }
        let inbound = Connection {
            from: Endpoint::Pod(gw.clone()),
            to: Endpoint::Pod(pod.clone()),
            port: probe_port(pod),
            protocol: Protocol::Tcp,
            http: None,
        };
        if let Some(by) = l4(world, &inbound) {
            add(&mut no_gw, by, pod);
        }
    }
    let mut out = Vec::new();
    // Each refusal is a failure on the policy that decided it, with its code and fix.
    let blocked = |d: &Decider, message: String, code: &'static str, fix: String| {
        let object = ObjectRef::new(&d.kind, Some(&d.namespace), &d.name);
        Finding::new(Area::Network, Severity::Fail, object, message).coded(code, fix)
    };
    for b in &no_dns {
        out.push(blocked(
            &b.by,
            format!(
                "egress from {ns} allows no DNS: {} cannot reach {}/{} on 53{}",
                names(&b.pods),
                dns.namespace,
                dns.labels.get("k8s-app").map(String::as_str).unwrap_or("kube-dns"),
                empty_selectors(world, &b.by)
            ),
            "NET_DNS_EGRESS_BLOCKED",
            format!("allow egress to namespaceSelector kubernetes.io/metadata.name=kube-system, podSelector k8s-app=kube-dns, UDP and TCP 53 ({FIX_CMD})"),
        ));
    }
    for b in &no_api {
        let (ip, port) = api.map(|(i, p)| (i.to_string(), p)).unwrap_or_default();
        out.push(blocked(
            &b.by,
            format!(
                "no egress to the API server {ip}:{port}: {} cannot watch or update their objects (leader election and reconciles stop)",
                names(&b.pods)
            ),
            "NET_APISERVER_EGRESS_BLOCKED",
            format!("allow egress to ipBlock {ip}/32 on TCP {port} (the endpoints of service default/kubernetes) ({FIX_CMD})"),
        ));
    }
    for b in &no_gw {
        out.push(blocked(
            &b.by,
            format!(
                "the ingress gateway {}/{} cannot reach {}{}",
                gw.namespace,
                gw.name,
                names(&b.pods),
                empty_selectors(world, &b.by)
            ),
            "NET_GATEWAY_INGRESS_BLOCKED",
            format!(
                "allow ingress from namespaceSelector kubernetes.io/metadata.name={} ({FIX_CMD})",
                gw.namespace
            ),
        ));
    }
    // Selectors that match nothing and did not already explain a refusal.
    let mentioned: Vec<&Decider> = no_dns.iter().chain(&no_gw).map(|b| &b.by).collect();
    for p in world
        .network_policies
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns))
    {
        let name = p.metadata.name.as_deref().unwrap_or_default();
        if mentioned.iter().any(|d| d.name == name) {
            continue;
        }
        for (at, sel) in policy::empty_namespace_selectors(p, world) {
            out.push(
                Finding::new(
                    Area::Network,
                    Severity::Warn,
                    ObjectRef::new("NetworkPolicy", Some(ns), name),
                    format!("{at}: namespaceSelector {sel} matches no namespace, so the peer admits nothing"),
                )
                .coded(
                    "NET_SELECTOR_MATCHES_NOTHING",
                    "select namespaces by kubernetes.io/metadata.name, which every namespace carries",
                ),
            );
        }
    }
    let isolated = pods.iter().any(|p| {
        world.network_policies.iter().any(|np| {
            np.metadata.namespace.as_deref() == Some(p.namespace.as_str())
                && np.spec.as_ref().is_some_and(|s| {
                    policy::pod_selector_selects(s.pod_selector.as_ref(), &p.labels)
                })
        })
    });
    if !isolated && !pods.is_empty() {
        out.push(
            Finding::new(
                Area::Network,
                Severity::Warn,
                ObjectRef::new("Namespace", None, ns),
                format!(
                    "no NetworkPolicy selects the pods of {ns}: any pod of the cluster reaches them"
                ),
            )
            .coded(
                "NET_NOT_ISOLATED",
                format!("apply the corrected sealos-system-isolation ({FIX_CMD})"),
            ),
        );
    }
    if out.is_empty() && !pods.is_empty() {
        out.push(Finding::new(
            Area::Network,
            Severity::Ok,
            ObjectRef::new("Namespace", None, ns),
            format!(
                "{} workloads reach DNS and the API server, and the ingress gateway reaches them",
                pods.len()
            ),
        ));
    }
    out
}
