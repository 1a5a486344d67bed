//! Istio control plane: istiod and the ingress gateway Deployments available, their pods Ready,
//! restart counts below the limit.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use sealos_shared::output::Severity;

use super::collect::Snapshot;
use super::pods;
use super::{Area, CheckArgs, Finding, ObjectRef};

pub fn check(snapshot: &Snapshot, args: &CheckArgs) -> Vec<Finding> {
    let deployments = snapshot.istio_deployments.as_deref().unwrap_or_default();
    let all_pods = snapshot.istio_pods.as_deref().unwrap_or_default();
    let ns = args.istio_namespace.as_str();
    let mut out = Vec::new();
    for name in &args.control_plane {
        let object = ObjectRef::new("Deployment", Some(ns), name);
        match deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some(name.as_str()))
        {
            None => out.push(Finding::new(
                Area::ControlPlane,
                Severity::Fail,
                object,
                format!("Deployment {name:?} not found in {ns:?}: Istio's control plane is not installed there"),
            )),
            Some(deployment) => out.extend(judge_deployment(
                Area::ControlPlane,
                deployment,
                &pods::of_deployment(deployment, all_pods),
                object,
                args.max_restarts,
            )),
        }
    }
    out
}

/// Availability, pod readiness and restarts of one Deployment: problems, or one OK row.
pub fn judge_deployment(
    area: Area,
    deployment: &Deployment,
    pods: &[&Pod],
    object: ObjectRef,
    max_restarts: i32,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let (desired, available) = pods::replicas(deployment);
    if available < desired {
        let why = pods::stalled_reason(deployment)
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        out.push(Finding::new(
            area,
            Severity::Fail,
            object.clone(),
            format!("{available}/{desired} replicas available{why}"),
        ));
    }
    let ns = object.namespace.as_deref();
    for pod in pods {
        if !pods::is_ready(pod) {
            out.push(Finding::new(
                area,
                Severity::Fail,
                ObjectRef::new("Pod", ns, pods::name(pod)),
                format!("pod not Ready: {}", pods::not_ready_reason(pod)),
            ));
        }
        if let Some((container, restarts)) = pods::most_restarts(pod)
            && restarts >= max_restarts
        {
            out.push(Finding::new(
                area,
                Severity::Warn,
                ObjectRef::new("Pod", ns, pods::name(pod)),
                format!("container {container:?} restarted {restarts} times (limit {max_restarts}): check its logs"),
            ));
        }
    }
    if out.is_empty() {
        out.push(Finding::new(
            area,
            Severity::Ok,
            object,
            format!(
                "{available}/{desired} replicas available, {} pods Ready",
                pods.len()
            ),
        ));
    }
    out
}
