//! memory-leak: pods whose istio-proxy *container* (not the pod total, unlike the guide) uses more
//! than --threshold are evicted one at a time through the Eviction API, so PodDisruptionBudgets
//! hold: a 429 refusal is reported, not retried. After each eviction the replacement must be
//! ready (and --pause pass) before the next.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use sealos_shared::Result;
use sealos_shared::connection::Kube;
use sealos_shared::list;
use sealos_shared::retry::{self, Backoff};

use super::precondition::{self, Precondition};
use super::{Action, Auditor, Outcome, Planned, RunArgs, Status, Stop, outcome};
use crate::connectivity::path::{self, SIDECAR};
use crate::finding::ObjectRef;
use crate::metrics;
use sealos_shared::output::counted;

/// The PodDisruptionBudget covering `labels`, and how many disruptions it allows now.
fn budget_for<'a>(
    budgets: &'a [PodDisruptionBudget],
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> Option<(&'a PodDisruptionBudget, i32)> {
    budgets
        .iter()
        .filter(|b| b.namespace().as_deref() == Some(namespace))
        .find(|b| {
            let selector = b
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .and_then(|s| s.match_labels.clone())
                .unwrap_or_default();
            path::selects(&selector, labels)
        })
        .map(|b| (b, b.status.as_ref().map_or(0, |s| s.disruptions_allowed)))
}

pub async fn plan(args: &RunArgs, kube: &Kube, scope: Option<&str>) -> Result<Planned> {
    let threshold = args.threshold()?;
    let mut planned = Planned::default();
    let usage = metrics::usage(&kube.client, scope, &mut planned.notes).await?;
    let pods: Vec<Pod> = sealos_shared::list::in_scope(&kube.client, scope, None).await?;
    let budgets: Vec<PodDisruptionBudget> =
        sealos_shared::list::in_scope(&kube.client, scope, None).await?;
    let mut over: Vec<_> = metrics::join(&usage, &pods, |_, c| c == SIDECAR)
        .into_iter()
        .filter(|u| u.memory_bytes > threshold.value())
        .collect();
    over.sort_by_key(|u| std::cmp::Reverse(u.memory_bytes));
    let by_name: BTreeMap<(String, String), &Pod> = pods
        .iter()
        .map(|p| ((p.namespace().unwrap_or_default(), p.name_any()), p))
        .collect();
    for u in over {
        let object = ObjectRef::new("Pod", Some(&u.namespace), &u.pod);
        let Some(pod) = by_name.get(&(u.namespace.clone(), u.pod.clone())) else {
            planned.leave_out(object, "no longer listed");
            continue;
        };
        if pod
            .owner_references()
            .iter()
            .all(|o| o.controller != Some(true))
        {
            planned.leave_out(
                object,
                "no controller owns it, so an eviction would delete it for good",
            );
            continue;
        }
        if planned.actions.len() >= args.max_pods {
            planned.leave_out(
                object,
                format!(
                    "above the threshold too ({}), beyond --max-pods {}",
                    metrics::bytes(u.memory_bytes),
                    args.max_pods
                ),
            );
            continue;
        }
        let limit = u
            .memory_limit_bytes
            .map(|l| {
                format!(
                    " ({} of its {} limit)",
                    metrics::share(u.memory_share),
                    metrics::bytes(l)
                )
            })
            .unwrap_or_default();
        let budget = match budget_for(&budgets, &u.namespace, pod.labels()) {
            Some((b, allowed)) => format!(
                "; PodDisruptionBudget {} allows {} now",
                b.name_any(),
                counted(
                    usize::try_from(allowed).unwrap_or(0),
                    "disruption",
                    "disruptions"
                )
            ),
            None => "; no PodDisruptionBudget".into(),
        };
        let rank = planned.actions.len() + 1;
        planned.take(
            Action {
                kind: "evict",
                object,
                // The pod measured, not another that took its name since (a StatefulSet's does).
                precondition: Precondition::uid(pod.uid()),
                detail: format!(
                    "{SIDECAR} uses {} > {}{limit}{budget}",
                    metrics::bytes(u.memory_bytes),
                    threshold.format_bytes(),
                ),
            },
            format!(
                "above --threshold {}: number {rank} by memory",
                threshold.format_bytes()
            ),
        );
    }
    Ok(planned)
}

/// Whether `rs` has its replicas ready, counted from its pods rather than its status: the status
/// lags an eviction (the controller has not seen the pod go yet), and trusting it let the next
/// eviction run while the replacement was still starting, which the budget then refused.
fn replicas_ready(rs: &ReplicaSet, pods: &[Pod], evicted: &str) -> bool {
    let want = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let ready = pods
        .iter()
        .filter(|p| p.name_any() != evicted && p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.owner_references()
                .iter()
                .any(|o| o.controller == Some(true) && o.uid == rs.uid().unwrap_or_default())
        })
        .filter(|p| path::is_ready(p))
        .count();
    i32::try_from(ready).unwrap_or(i32::MAX) >= want
}

/// Waits until the pod is gone and its ReplicaSet has all its replicas ready again.
async fn replacement_ready(
    kube: &Kube,
    namespace: &str,
    pod: &str,
    owner: Option<&str>,
    timeout: Duration,
) -> bool {
    let pods: Api<Pod> = Api::namespaced(kube.client.clone(), namespace);
    let sets: Api<ReplicaSet> = Api::namespaced(kube.client.clone(), namespace);
    let check = async {
        loop {
            let gone = matches!(
                retry::read(Backoff::default(), || pods.get_opt(pod)).await,
                Ok(None)
            );
            let ready = match owner {
                Some(owner) if gone => {
                    match retry::read(Backoff::default(), || sets.get_opt(owner)).await {
                        Ok(Some(rs)) => {
                            let selector = rs
                                .spec
                                .as_ref()
                                .and_then(|s| s.selector.match_labels.as_ref())
                                .map(|labels| {
                                    labels
                                        .iter()
                                        .map(|(k, v)| format!("{k}={v}"))
                                        .collect::<Vec<_>>()
                                        .join(",")
                                })
                                .unwrap_or_default();
                            let params = ListParams::default().labels(&selector);
                            match list::list_all(&pods, &params, "pods").await {
                                Ok(items) => replicas_ready(&rs, &items, pod),
                                Err(_) => false,
                            }
                        }
                        _ => false,
                    }
                }
                Some(_) => false,
                None => true,
            };
            if gone && ready {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    tokio::time::timeout(timeout, check).await.is_ok()
}

pub async fn execute(
    args: &RunArgs,
    kube: &Kube,
    plan: &[Action],
    auditor: &Auditor,
    stop: &Stop,
) -> Vec<Outcome> {
    let mut results = Vec::new();
    let evictions: Vec<&Action> = plan.iter().filter(|a| a.kind == "evict").collect();
    let mut halt: Option<String> = None;
    for (i, action) in evictions.iter().enumerate() {
        if stop.requested() {
            results.push(stop.skipped(action));
            continue;
        }
        if let Some(why) = &halt {
            results.push(outcome(
                action,
                Status::Skipped,
                format!("not attempted: {why}"),
                None,
            ));
            continue;
        }
        let ns = action.object.namespace.clone().unwrap_or_default();
        let name = &action.object.name;
        let pods: Api<Pod> = Api::namespaced(kube.client.clone(), &ns);
        let owner = match retry::read(Backoff::default(), || pods.get_opt(name)).await {
            Ok(Some(pod)) => pod
                .owner_references()
                .iter()
                .find(|o| o.kind == "ReplicaSet")
                .map(|o| o.name.clone()),
            Ok(None) => {
                results.push(outcome(
                    action,
                    Status::Unchanged,
                    "already gone".into(),
                    None,
                ));
                continue;
            }
            Err(e) => {
                results.push(outcome(
                    action,
                    Status::Failed,
                    format!("get pod: {e}"),
                    None,
                ));
                continue;
            }
        };
        match precondition::evict(&pods, &ns, name, action.precondition.as_ref()).await {
            Ok(_) => {
                let note = auditor.record(
                    "evict",
                    &action.object,
                    serde_json::json!({"detail": action.detail}),
                    serde_json::json!({"evicted": true}),
                    "ok",
                );
                if replacement_ready(kube, &ns, name, owner.as_deref(), args.timeout).await {
                    results.push(outcome(
                        action,
                        Status::Done,
                        "evicted; its replacement is ready".into(),
                        note,
                    ));
                    if i + 1 < evictions.len() && !args.pause.is_zero() {
                        stop.sleep(args.pause).await;
                    }
                } else {
                    let why = format!(
                        "the replacement of {ns}/{name} was not ready within {}",
                        humantime::format_duration(args.timeout)
                    );
                    results.push(outcome(
                        action,
                        Status::TimedOut,
                        format!("evicted; {why}"),
                        note,
                    ));
                    halt = Some(why);
                }
            }
            Err(kube::Error::Api(status)) if status.code == 429 => {
                let why = format!("refused (429): {}", status.message);
                let note = auditor.record(
                    "evict",
                    &action.object,
                    serde_json::Value::Null,
                    serde_json::Value::Null,
                    &format!("blocked: {}", status.message),
                );
                results.push(outcome(
                    action,
                    Status::Blocked,
                    format!("{why}; the budget holds, not retried"),
                    note,
                ));
            }
            Err(e) if precondition::stale(&e, "").is_some() => {
                let why = precondition::stale(&e, &format!("pod {ns}/{name}")).unwrap_or_default();
                let note = auditor.record(
                    "evict",
                    &action.object,
                    serde_json::Value::Null,
                    serde_json::Value::Null,
                    &format!("stale: {why}"),
                );
                results.push(outcome(action, Status::Stale, why, note));
            }
            Err(e) => {
                let why = match &e {
                    kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
                    other => other.to_string(),
                };
                let note = auditor.record(
                    "evict",
                    &action.object,
                    serde_json::Value::Null,
                    serde_json::Value::Null,
                    &why,
                );
                results.push(outcome(
                    action,
                    Status::Failed,
                    format!("evict: {why}"),
                    note,
                ));
            }
        }
    }
    results
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_budget_is_found_by_its_selector_in_the_pods_namespace() {
        let budget: PodDisruptionBudget = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "app-test", "namespace": "ns-bob"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "app-test", "version": "v1"}}},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 2, "expectedPods": 2},
        }))
        .unwrap();
        let labels: BTreeMap<String, String> = [("app", "app-test"), ("version", "v1"), ("x", "y")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let budgets = [budget];
        let (b, allowed) = budget_for(&budgets, "ns-bob", &labels).unwrap();
        assert_eq!((b.name_any().as_str(), allowed), ("app-test", 0));
        assert!(budget_for(&budgets, "ns-alice", &labels).is_none());
    }

    fn pod(name: &str, owner_uid: &str, ready: bool, deleting: bool) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": name,
                "deletionTimestamp": if deleting { Some("2026-01-01T00:00:00Z") } else { None },
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                     "uid": owner_uid, "controller": true}],
            },
            "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
        }))
        .unwrap()
    }

    #[test]
    fn replicas_are_counted_from_ready_pods_not_the_lagging_status() {
        // The status still says 2 ready: the controller has not seen the eviction yet.
        let rs: ReplicaSet = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "rs", "uid": "u1"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "a"}}},
            "status": {"replicas": 2, "readyReplicas": 2},
        }))
        .unwrap();
        let mut pods = vec![
            pod("evicted", "u1", true, false),
            pod("kept", "u1", true, false),
            pod("starting", "u1", false, false),
            pod("leaving", "u1", true, true),
            pod("stranger", "u2", true, false),
        ];
        assert!(!replicas_ready(&rs, &pods, "evicted"));
        pods.push(pod("replacement", "u1", true, false));
        assert!(replicas_ready(&rs, &pods, "evicted"));
    }
}
