//! Security, judged by the shared policy evaluator as Istio would decide: whether the Sealos
//! pods enforce STRICT mTLS (and have the sidecar that does it), whether the ingress gateway
//! gets in, and whether a caller from any other namespace is refused. A rule's text is never
//! enough: the guide's policy names the gateway's principal, yet its second rule admits anyone.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod as K8sPod;
use sealos_shared::output::Severity;
use sealos_shared::policy::{
    self, Connection, Decider, Decision, Endpoint, HttpRequest, Layer, MtlsMode, Pod, Protocol,
    World, load,
};

use super::collect::Snapshot;
use super::{Area, CheckArgs, Finding, ObjectRef};

const GATEWAY_SERVICE_ACCOUNT: &str = "istio-ingressgateway-service-account";
/// The methods of the guide's rule, each probed.
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const FIX: &str = "one ALLOW rule with both `from` (the gateway's principal) and `to` (the methods); see `kubectl sealos health policies --print`";

/// One pod per distinct label set: the replicas of a workload are judged once.
pub fn representatives(pods: &[K8sPod]) -> Vec<Pod> {
    let mut seen = BTreeMap::new();
    for p in pods.iter().map(load::pod) {
        seen.entry(p.labels.clone()).or_insert(p);
    }
    seen.into_values().collect()
}

/// The ingress gateway's pod from the Istio namespace (labelled `istio=ingressgateway`), or the
/// pod it would be, with the guide's service account, when none runs.
pub fn gateway(snapshot: &Snapshot, args: &CheckArgs) -> Pod {
    snapshot
        .istio_pods
        .iter()
        .flatten()
        .find(|p| {
            p.metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.get("istio").map(String::as_str) == Some("ingressgateway"))
        })
        .map(load::pod)
        .unwrap_or_else(|| Pod {
            namespace: args.istio_namespace.clone(),
            name: "istio-ingressgateway".into(),
            labels: [("istio".to_string(), "ingressgateway".to_string())].into(),
            service_account: GATEWAY_SERVICE_ACCOUNT.into(),
            sidecar: true,
            ..Pod::default()
        })
}

/// A meshed caller from a namespace nobody allowed: what an attacker in a tenant pod is.
fn outsider() -> Pod {
    Pod {
        namespace: "sealos-health-probe".into(),
        name: "outsider".into(),
        service_account: "default".into(),
        sidecar: true,
        ip: "10.255.255.254".parse().ok(),
        ..Pod::default()
    }
}

/// The port a probe calls: the metrics/HTTP port 8080 when declared, else the first one.
pub fn probe_port(pod: &Pod) -> u16 {
    pod.ports
        .iter()
        .find(|p| p.port == 8080)
        .or(pod.ports.first())
        .map(|p| p.port)
        .unwrap_or(8080)
}

pub fn request(from: &Pod, to: &Pod, port: u16, method: &str) -> Connection {
    Connection {
        from: Endpoint::Pod(from.clone()),
        to: Endpoint::Pod(to.clone()),
        port,
        protocol: Protocol::Tcp,
        http: Some(HttpRequest {
            method: method.into(),
            path: "/".into(),
            host: None,
        }),
    }
}

fn object(d: &Decider) -> ObjectRef {
    ObjectRef::new(&d.kind, Some(&d.namespace), &d.name)
}

pub fn check(snapshot: &Snapshot, args: &CheckArgs) -> Vec<Finding> {
    let ns = args.sealos_namespace.as_str();
    let Some(world) = &snapshot.policy_world else {
        return Vec::new();
    };
    let pods = representatives(snapshot.sealos_pods.as_deref().unwrap_or_default());
    let mut out = mtls(world, &pods, ns);
    out.extend(authorization(world, &pods, &gateway(snapshot, args), ns));
    out
}

fn names(pods: &[&Pod]) -> String {
    pods.iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn mtls(world: &World, pods: &[Pod], ns: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let (meshed, bare): (Vec<&Pod>, Vec<&Pod>) = pods.iter().partition(|p| p.sidecar);
    for pod in bare {
        out.push(
            Finding::new(
                Area::Security,
                Severity::Warn,
                ObjectRef::new("Pod", Some(ns), &pod.name),
                format!(
                    "pod {} has no sidecar: STRICT mTLS does not protect it, nothing authorizes its callers, and its own calls to meshed pods are plaintext, refused under STRICT",
                    pod.name
                ),
            )
            .coded(
                "SEC_NO_SIDECAR",
                format!("label namespace {ns} istio-injection=enabled and restart the pod's workload"),
            ),
        );
    }
    // Non-STRICT ports, grouped by the object that sets their mode.
    let mut loose: BTreeMap<Option<Decider>, (MtlsMode, Vec<String>)> = BTreeMap::new();
    let mut strict_by = None;
    for pod in &meshed {
        let ports: Vec<u16> = if pod.ports.is_empty() {
            vec![probe_port(pod)]
        } else {
            pod.ports.iter().map(|p| p.port).collect()
        };
        for port in ports {
            let (mode, by) = policy::effective_mode(world, pod, port);
            if mode == MtlsMode::Strict {
                strict_by = strict_by.or(by);
            } else {
                let entry = loose.entry(by).or_insert((mode, Vec::new()));
                entry.1.push(format!("{}:{port}", pod.name));
            }
        }
    }
    for (by, (mode, where_)) in &loose {
        let object = by
            .as_ref()
            .map(object)
            .unwrap_or_else(|| ObjectRef::new("PeerAuthentication", Some(ns), "sealos-mtls"));
        let set_by = match by {
            Some(d) => format!("set by {}", d.display()),
            None => "no PeerAuthentication: Istio's default".into(),
        };
        out.push(
            Finding::new(
                Area::Security,
                Severity::Fail,
                object,
                format!(
                    "mTLS is {} ({set_by}) on {} ports of {} pods (first {}): plaintext callers are accepted",
                    mode.name(),
                    where_.len(),
                    {
                        let mut pods: Vec<&str> = where_.iter().filter_map(|w| w.split(':').next()).collect();
                        pods.dedup();
                        pods.len()
                    },
                    where_.first().map(String::as_str).unwrap_or_default()
                ),
            )
            .coded(
                "SEC_MTLS_NOT_STRICT",
                format!("apply a PeerAuthentication with mtls.mode STRICT in {ns} and no weaker port-level mode"),
            ),
        );
    }
    if loose.is_empty() && !meshed.is_empty() {
        let object = strict_by
            .as_ref()
            .map(object)
            .unwrap_or_else(|| ObjectRef::new("Namespace", None, ns));
        out.push(Finding::new(
            Area::Security,
            Severity::Ok,
            object,
            format!(
                "mTLS is STRICT on every port of {} meshed pods",
                meshed.len()
            ),
        ));
    }
    out
}

fn authorization(world: &World, pods: &[Pod], gateway: &Pod, ns: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let outsider = outsider();
    // (policy, rule) → (methods it admits the outsider for, pods reached).
    let mut open: BTreeMap<Decider, (Vec<&str>, Vec<&Pod>)> = BTreeMap::new();
    let mut unguarded: Vec<&Pod> = Vec::new();
    let mut refused_gateway: Vec<(&Pod, Vec<Decider>)> = Vec::new();
    let mut guarding: Vec<Decider> = Vec::new();
    for pod in pods.iter().filter(|p| p.sidecar) {
        let port = probe_port(pod);
        let authz = |conn: &Connection| {
            policy::evaluate(world, conn)
                .step(Layer::Authorization)
                .cloned()
        };
        if let Some(step) = authz(&request(gateway, pod, port, "GET")) {
            match step.decision {
                Decision::Allowed => guarding.extend(step.deciders),
                _ => refused_gateway.push((pod, step.deciders)),
            }
        }
        for method in METHODS {
            let Some(step) = authz(&request(&outsider, pod, port, method)) else {
                continue;
            };
            if step.decision != Decision::Allowed {
                continue;
            }
            if step.deciders.is_empty() {
                if !unguarded.iter().any(|p| p.name == pod.name) {
                    unguarded.push(pod);
                }
                continue;
            }
            for d in step.deciders {
                let entry = open.entry(d).or_default();
                if !entry.0.contains(&method) {
                    entry.0.push(method);
                }
                if !entry.1.iter().any(|p| p.name == pod.name) {
                    entry.1.push(pod);
                }
            }
        }
    }
    for (rule, (methods, reached)) in &open {
        let index = rule
            .rule
            .as_deref()
            .and_then(|r| {
                r.strip_prefix("rules[")?
                    .strip_suffix(']')?
                    .parse::<usize>()
                    .ok()
            })
            .map(|i| format!("rule {}", i + 1))
            .unwrap_or_else(|| "a rule".into());
        out.push(
            Finding::new(
                Area::Security,
                Severity::Fail,
                object(rule),
                format!(
                    "{index} admits any caller for {}: a pod of any namespace reaches {} (an ALLOW policy admits a request matching any one rule)",
                    methods.join("/"),
                    names(reached)
                ),
            )
            .coded("SEC_AUTHZ_OPEN_RULE", FIX),
        );
    }
    if !unguarded.is_empty() {
        out.push(
            Finding::new(
                Area::Security,
                Severity::Fail,
                ObjectRef::new("AuthorizationPolicy", Some(ns), "sealos-system-access"),
                format!(
                    "no ALLOW AuthorizationPolicy applies to {}: any meshed caller gets in",
                    names(&unguarded)
                ),
            )
            .coded("SEC_AUTHZ_MISSING", FIX),
        );
    }
    for (pod, deciders) in &refused_gateway {
        let by = deciders
            .iter()
            .map(Decider::display)
            .collect::<Vec<_>>()
            .join(", ");
        out.push(
            Finding::new(
                Area::Security,
                Severity::Fail,
                ObjectRef::new("Pod", Some(ns), &pod.name),
                format!(
                    "the ingress gateway ({}) is refused by {by}: users cannot reach {}",
                    gateway.principal(),
                    pod.name
                ),
            )
            .coded(
                "SEC_GATEWAY_REFUSED",
                format!(
                    "allow principal {} in the namespace's ALLOW policy",
                    gateway.principal()
                ),
            ),
        );
    }
    if out.is_empty() && pods.iter().any(|p| p.sidecar) {
        guarding.sort();
        guarding.dedup_by(|a, b| a.name == b.name && a.namespace == b.namespace);
        let object = guarding
            .first()
            .map(object)
            .unwrap_or_else(|| ObjectRef::new("Namespace", None, ns));
        out.push(Finding::new(
            Area::Security,
            Severity::Ok,
            object,
            format!(
                "admits the ingress gateway ({}) and refuses callers from other namespaces",
                gateway.principal()
            ),
        ));
    }
    out
}
