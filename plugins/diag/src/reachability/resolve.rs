//! FROM and TO as the user names them (a pod, `deployment/x`, `service/x`, `ingress-gateway`)
//! resolved to a pod of the workload and, for a Service, its target port.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod as K8sPod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Api, Client};
use sealos_shared::error::KubeContext;
use sealos_shared::list::in_scope;
use sealos_shared::policy::{Pod, load};
use sealos_shared::{Error, Result};

/// What the user named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Pod(String),
    Deployment(String),
    Service(String),
    IngressGateway,
}

impl Target {
    /// `pod/x` or `x`, `deployment/x` (`deploy/`), `service/x` (`svc/`), `ingress-gateway`.
    pub fn parse(s: &str) -> Result<Target> {
        let bad = || {
            Error::usage(format!(
                "{s:?} is not POD, deployment/NAME, service/NAME or ingress-gateway"
            ))
        };
        if s == "ingress-gateway" {
            return Ok(Target::IngressGateway);
        }
        let (kind, name) = s.split_once('/').unwrap_or(("pod", s));
        if name.is_empty() || name.contains('/') {
            return Err(bad());
        }
        match kind {
            "pod" | "pods" | "po" => Ok(Target::Pod(name.into())),
            "deployment" | "deployments" | "deploy" => Ok(Target::Deployment(name.into())),
            "service" | "services" | "svc" => Ok(Target::Service(name.into())),
            _ => Err(bad()),
        }
    }

    pub fn display(&self) -> String {
        match self {
            Target::Pod(n) => format!("pod/{n}"),
            Target::Deployment(n) => format!("deployment/{n}"),
            Target::Service(n) => format!("service/{n}"),
            Target::IngressGateway => "ingress-gateway".into(),
        }
    }
}

/// A resolved end: the pod judged, and the Service in front of it (for port translation).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub pod: Pod,
    pub service: Option<Service>,
}

fn selector(labels: &std::collections::BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A running pod of the selector (else any), in `ns`.
async fn pod_of(client: &Client, ns: &str, sel: &str, what: &str) -> Result<K8sPod> {
    let pods: Vec<K8sPod> = in_scope(client, Some(ns), Some(sel)).await?;
    let running = pods
        .iter()
        .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"));
    running
        .or(pods.first())
        .cloned()
        .ok_or_else(|| Error::failed(format!("{what} in {ns:?} has no pod (selector {sel})")))
}

pub async fn resolve(
    client: &Client,
    ns: &str,
    istio_ns: &str,
    target: &Target,
) -> Result<Resolved> {
    match target {
        Target::Pod(name) => {
            let api: Api<K8sPod> = Api::namespaced(client.clone(), ns);
            let pod = api
                .get(name)
                .await
                .kube_context(|| format!("get pod {name:?} in {ns:?}"))?;
            Ok(Resolved {
                pod: load::pod(&pod),
                service: None,
            })
        }
        Target::Deployment(name) => {
            let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
            let d = api
                .get(name)
                .await
                .kube_context(|| format!("get deployment {name:?} in {ns:?}"))?;
            let labels = d
                .spec
                .as_ref()
                .and_then(|s| s.selector.match_labels.clone())
                .unwrap_or_default();
            if labels.is_empty() {
                return Err(Error::failed(format!(
                    "deployment {name:?} in {ns:?} selects by expressions only: name a pod"
                )));
            }
            let pod = pod_of(client, ns, &selector(&labels), &target.display()).await?;
            Ok(Resolved {
                pod: load::pod(&pod),
                service: None,
            })
        }
        Target::Service(name) => {
            let api: Api<Service> = Api::namespaced(client.clone(), ns);
            let svc = api
                .get(name)
                .await
                .kube_context(|| format!("get service {name:?} in {ns:?}"))?;
            let labels = svc
                .spec
                .as_ref()
                .and_then(|s| s.selector.clone())
                .unwrap_or_default();
            if labels.is_empty() {
                return Err(Error::failed(format!(
                    "service {name:?} in {ns:?} has no selector: name the pod behind it"
                )));
            }
            let pod = pod_of(client, ns, &selector(&labels), &target.display()).await?;
            Ok(Resolved {
                pod: load::pod(&pod),
                service: Some(svc),
            })
        }
        Target::IngressGateway => {
            let pod = pod_of(
                client,
                istio_ns,
                "istio=ingressgateway",
                "the ingress gateway",
            )
            .await?;
            Ok(Resolved {
                pod: load::pod(&pod),
                service: None,
            })
        }
    }
}

/// The pod port a request to `port` of the destination reaches: a Service port translated to
/// its targetPort (a named targetPort resolved on the pod), else the port as given.
pub fn target_port(to: &Resolved, port: u16) -> Result<(u16, Option<String>)> {
    let Some(svc) = &to.service else {
        let name = to
            .pod
            .ports
            .iter()
            .find(|p| p.port == port)
            .map(|p| p.name.clone());
        return Ok((port, name));
    };
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    let Some(sp) = ports.iter().find(|p| i64::from(p.port) == i64::from(port)) else {
        let known: Vec<String> = ports.iter().map(|p| p.port.to_string()).collect();
        return Err(Error::usage(format!(
            "service has no port {port} (ports: {})",
            known.join(", ")
        )));
    };
    let name = sp.name.clone();
    match &sp.target_port {
        None => Ok((port, name)),
        Some(IntOrString::Int(n)) => Ok((
            u16::try_from(*n).map_err(|_| Error::failed(format!("targetPort {n} out of range")))?,
            name,
        )),
        Some(IntOrString::String(named)) => to
            .pod
            .ports
            .iter()
            .find(|p| &p.name == named)
            .map(|p| (p.port, Some(named.clone())))
            .ok_or_else(|| {
                Error::failed(format!(
                    "targetPort {named:?} is declared by no container of pod {}",
                    to.pod.name
                ))
            }),
    }
}

/// Every workload of a namespace, one pod per distinct label set (for the matrix).
pub async fn workloads(client: &Client, ns: &str) -> Result<Vec<Pod>> {
    let pods: Vec<K8sPod> = in_scope(client, Some(ns), None).await?;
    let mut seen = std::collections::BTreeMap::new();
    for p in pods.iter().map(load::pod) {
        seen.entry(p.labels.clone()).or_insert(p);
    }
    Ok(seen.into_values().collect())
}

/// The name Istio reads a pod port's protocol from: the port of a Service selecting the pod
/// whose targetPort is that port (Istio's inbound listener takes it from the Service), else
/// the container port's own name.
pub async fn port_name(client: &Client, pod: &Pod, port: u16) -> Result<Option<String>> {
    let services: Vec<Service> = in_scope(client, Some(&pod.namespace), None).await?;
    for svc in &services {
        let Some(spec) = &svc.spec else { continue };
        let selects = spec.selector.as_ref().is_some_and(|sel| {
            !sel.is_empty() && sel.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
        });
        if !selects {
            continue;
        }
        for sp in spec.ports.iter().flatten() {
            let target = match &sp.target_port {
                None => u16::try_from(sp.port).ok(),
                Some(IntOrString::Int(n)) => u16::try_from(*n).ok(),
                Some(IntOrString::String(name)) => {
                    pod.ports.iter().find(|p| &p.name == name).map(|p| p.port)
                }
            };
            if target == Some(port) && sp.name.is_some() {
                return Ok(sp.name.clone());
            }
        }
    }
    Ok(pod
        .ports
        .iter()
        .find(|p| p.port == port)
        .map(|p| p.name.clone()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_parse_like_kubectl() {
        assert_eq!(
            Target::parse("deploy/x").unwrap(),
            Target::Deployment("x".into())
        );
        assert_eq!(Target::parse("svc/x").unwrap(), Target::Service("x".into()));
        assert_eq!(Target::parse("x").unwrap(), Target::Pod("x".into()));
        assert_eq!(
            Target::parse("ingress-gateway").unwrap(),
            Target::IngressGateway
        );
        let e = Target::parse("configmap/x").unwrap_err().to_string();
        assert!(e.contains("is not POD, deployment/NAME"), "{e}");
        assert!(Target::parse("deployment/").is_err());
    }
}
