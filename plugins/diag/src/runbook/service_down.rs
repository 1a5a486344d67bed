//! service-down: the Sealos controllers whose ready replicas fall short are restarted as
//! `kubectl rollout restart` does (the restartedAt annotation on the pod template), the rollout
//! is waited for as `kubectl rollout status` does, and readiness is checked again.

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{Patch, PatchParams};
use sealos_shared::Result;
use sealos_shared::connection::Kube;
use sealos_shared::retry::{self, Backoff};
use sealos_shared::traffic_shift::{self, FIELD_MANAGER, NAMESPACE, Outcome as RolloutOutcome};
use serde_json::json;

use super::precondition::{self, Precondition};
use super::{Action, Auditor, Outcome, Planned, RunArgs, Status, Stop, outcome};
use crate::finding::ObjectRef;

/// The annotation `kubectl rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// `(ready, desired)` replicas.
pub fn readiness(d: &Deployment) -> (i32, i32) {
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let ready = d
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    (ready, desired)
}

/// The restart patch: only the pod template's annotation changes; with a resourceVersion, the
/// server applies it only to that version of the Deployment (409 otherwise).
pub fn restart_patch(now: &str, resource_version: Option<&str>) -> serde_json::Value {
    let mut patch =
        json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}});
    if let Some(rv) = resource_version {
        patch["metadata"] = json!({"resourceVersion": rv});
    }
    patch
}

pub async fn plan(_args: &RunArgs, kube: &Kube, _scope: Option<&str>) -> Result<Planned> {
    let api: Api<Deployment> = Api::namespaced(kube.client.clone(), NAMESPACE);
    let all = traffic_shift::list_deployments(&api, Backoff::default()).await?;
    let mut planned = Planned::default();
    let controllers = traffic_shift::locate::controllers(&all);
    for name in traffic_shift::DEFAULT_CONTROLLERS {
        if !controllers
            .iter()
            .any(|d| d.metadata.name.as_deref() == Some(name))
        {
            planned.leave_out(
                ObjectRef::new("Deployment", Some(NAMESPACE), name),
                "does not exist",
            );
        }
    }
    for d in controllers {
        let name = d.metadata.name.clone().unwrap_or_default();
        let (ready, desired) = readiness(d);
        let object = ObjectRef::new("Deployment", Some(NAMESPACE), &name);
        if ready >= desired {
            planned.leave_out(object, format!("ready ({ready}/{desired})"));
            continue;
        }
        planned.take(
            Action {
                kind: "restart",
                object,
                detail: format!("{ready}/{desired} ready: rollout restart, wait, verify"),
                // Restart what was judged unready: if it recovered, or someone else restarted or
                // changed it meanwhile, the restart is refused rather than done blind.
                precondition: Precondition::resource_version(d.metadata.resource_version.clone()),
            },
            format!("not ready ({ready}/{desired})"),
        );
    }
    Ok(planned)
}

pub async fn execute(
    args: &RunArgs,
    kube: &Kube,
    plan: &[Action],
    auditor: &Auditor,
    stop: &Stop,
) -> Vec<Outcome> {
    let api: Api<Deployment> = Api::namespaced(kube.client.clone(), NAMESPACE);
    let mut results = Vec::new();
    for action in plan.iter().filter(|a| a.kind == "restart") {
        if stop.requested() {
            results.push(stop.skipped(action));
            continue;
        }
        let name = &action.object.name;
        let now = jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .unwrap_or_else(|_| jiff::Timestamp::now())
            .to_string();
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        let rv = action
            .precondition
            .as_ref()
            .and_then(|p| p.resource_version.as_deref());
        let patched = api
            .patch(name, &params, &Patch::Strategic(restart_patch(&now, rv)))
            .await;
        let written = match patched {
            Ok(d) => d,
            Err(e) if precondition::stale(&e, "").is_some() => {
                let why = precondition::stale(&e, &format!("deployment {name:?} in {NAMESPACE:?}"))
                    .unwrap_or_default();
                let note = auditor.record(
                    "restart",
                    &action.object,
                    serde_json::Value::Null,
                    serde_json::Value::Null,
                    &format!("stale: {why}"),
                );
                results.push(outcome(action, Status::Stale, why, note));
                continue;
            }
            Err(e) => {
                let text = format!("patch deployment {name:?} in {NAMESPACE:?}: {e}");
                let note = auditor.record(
                    "restart",
                    &action.object,
                    serde_json::Value::Null,
                    json!({RESTARTED_AT: now}),
                    &text,
                );
                results.push(outcome(action, Status::Failed, text, note));
                continue;
            }
        };
        let note = auditor.record(
            "restart",
            &action.object,
            serde_json::Value::Null,
            json!({RESTARTED_AT: now}),
            "ok",
        );
        let generation = written.metadata.generation.unwrap_or(0);
        let waited =
            traffic_shift::rollout::wait_rolled_out(&api, name, generation, args.timeout, |_| {})
                .await;
        let verified = retry::read(Backoff::default(), || api.get(name)).await;
        let (status, detail) = match (waited, verified) {
            (RolloutOutcome::Complete, Ok(d)) => {
                let (ready, desired) = readiness(&d);
                if ready >= desired {
                    (
                        Status::Done,
                        format!("restarted at {now}; {ready}/{desired} ready"),
                    )
                } else {
                    (
                        Status::Failed,
                        format!("restarted at {now}, rolled out, but only {ready}/{desired} ready"),
                    )
                }
            }
            (RolloutOutcome::Complete, Err(e)) => (
                Status::Failed,
                format!("rolled out, but could not verify: {e}"),
            ),
            (RolloutOutcome::Failed(why), _) => (Status::Failed, format!("rollout failed: {why}")),
            (RolloutOutcome::TimedOut(why), _) => (Status::TimedOut, why),
        };
        results.push(outcome(action, status, detail, note));
    }
    results
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn readiness_and_the_restart_patch() {
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "x"},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"readyReplicas": 1},
        }))
        .unwrap();
        assert_eq!(readiness(&d), (1, 2));
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "x"},
            "spec": {"selector": {}, "template": {}},
        }))
        .unwrap();
        assert_eq!(readiness(&d), (0, 1));
        assert_eq!(
            restart_patch("2026-11-25T19:00:00Z", None),
            json!({"spec": {"template": {"metadata": {"annotations": {
                "kubectl.kubernetes.io/restartedAt": "2026-11-25T19:00:00Z"}}}}})
        );
        assert_eq!(
            restart_patch("2026-11-25T19:00:00Z", Some("42"))["metadata"],
            json!({"resourceVersion": "42"})
        );
    }
}
