//! PodDisruptionBudgets: their status as the disruption controller computes it, and the
//! `pods/NAME/eviction` subresource that honours them (429 when a budget would be broken).

use crate::cluster::Cluster;
use crate::registry::ResKey;
use crate::response::{self, Resp};
use crate::selector::LabelSelector;
use crate::server::ApiRequest;
use crate::status::ApiError;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn pdbs() -> ResKey {
    ResKey::new("policy", "poddisruptionbudgets")
}

fn pods() -> ResKey {
    ResKey::new("", "pods")
}

/// The message upstream's eviction answers with when a budget would be broken.
pub const VIOLATION: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

fn matches(pdb: &Value, pod: &Value) -> bool {
    LabelSelector::from_spec(&pdb["spec"]["selector"])
        .map(|s| s.matches(pod["metadata"].get("labels")))
        .unwrap_or(false)
}

fn is_ready(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
        && pod["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// `n` or `n%` of `total`, percentages rounded up (as `GetScaledValueFromIntOrPercent(.., true)`).
fn scaled(v: &Value, total: i64) -> Option<i64> {
    if let Some(n) = v.as_i64() {
        return Some(n);
    }
    let pct: i64 = v.as_str()?.strip_suffix('%')?.trim().parse().ok()?;
    Some((pct * total + 99) / 100)
}

/// How many pods the budget's controllers want: the scale of each distinct owning Deployment
/// (or ReplicaSet), a pod without a controller counting as one.
fn expected_from_controllers(cluster: &Cluster, ns: &str, matching: &[Arc<Value>]) -> i64 {
    let mut scales: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut loose = 0;
    for pod in matching {
        let rs_name = pod["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["kind"] == "ReplicaSet")
            .and_then(|r| r["name"].as_str());
        let Some(rs_name) = rs_name else {
            loose += 1;
            continue;
        };
        let Some(rs) = cluster
            .store
            .get(&ResKey::new("apps", "replicasets"), ns, rs_name)
        else {
            loose += 1;
            continue;
        };
        let dep = rs["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["kind"] == "Deployment")
            .and_then(|r| r["name"].as_str())
            .and_then(|d| {
                cluster
                    .store
                    .get(&ResKey::new("apps", "deployments"), ns, d)
            });
        match dep {
            Some(d) => scales.insert(
                (
                    "Deployment".into(),
                    d["metadata"]["name"].as_str().unwrap_or("").into(),
                ),
                d["spec"]["replicas"].as_i64().unwrap_or(1),
            ),
            None => scales.insert(
                ("ReplicaSet".into(), rs_name.into()),
                rs["spec"]["replicas"].as_i64().unwrap_or(1),
            ),
        };
    }
    scales.values().sum::<i64>() + loose
}

/// The numbers the disruption controller keeps in a budget's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub current_healthy: i64,
    pub desired_healthy: i64,
    pub expected_pods: i64,
    pub disruptions_allowed: i64,
}

/// Compute a budget from the pods it selects now.
pub fn budget(cluster: &Cluster, pdb: &Value) -> Budget {
    let ns = pdb["metadata"]["namespace"].as_str().unwrap_or("");
    let matching: Vec<Arc<Value>> = cluster
        .store
        .list(&pods(), Some(ns))
        .into_iter()
        .filter(|p| matches(pdb, p))
        .collect();
    let current_healthy = matching.iter().filter(|p| is_ready(p)).count() as i64;
    let spec = &pdb["spec"];
    let (expected_pods, desired_healthy) = if let Some(max) = spec.get("maxUnavailable") {
        let expected = expected_from_controllers(cluster, ns, &matching);
        (
            expected,
            (expected - scaled(max, expected).unwrap_or(0)).max(0),
        )
    } else {
        let min = spec.get("minAvailable").cloned().unwrap_or(json!(1));
        if min.is_i64() {
            (matching.len() as i64, min.as_i64().unwrap_or(1))
        } else {
            let expected = expected_from_controllers(cluster, ns, &matching);
            (expected, scaled(&min, expected).unwrap_or(expected))
        }
    };
    Budget {
        current_healthy,
        desired_healthy,
        expected_pods,
        disruptions_allowed: (current_healthy - desired_healthy).max(0),
    }
}

/// The status a budget should have, keeping the old condition's transition time when unchanged.
pub fn status_of(pdb: &Value, b: Budget) -> Value {
    let allowed = b.disruptions_allowed > 0;
    let cond_status = if allowed { "True" } else { "False" };
    let old = pdb["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "DisruptionAllowed");
    let since = match old {
        Some(c) if c["status"] == cond_status => c["lastTransitionTime"].clone(),
        _ => json!(crate::clock::now_rfc3339()),
    };
    let generation = pdb["metadata"]["generation"].as_i64().unwrap_or(1);
    let mut status = json!({
        "observedGeneration": generation,
        "currentHealthy": b.current_healthy,
        "desiredHealthy": b.desired_healthy,
        "expectedPods": b.expected_pods,
        "disruptionsAllowed": b.disruptions_allowed,
        "conditions": [{
            "type": "DisruptionAllowed",
            "status": cond_status,
            "reason": if allowed { "SufficientPods" } else { "InsufficientPods" },
            "message": "",
            "observedGeneration": generation,
            "lastTransitionTime": since,
        }],
    });
    if let Some(d) = pdb["status"].get("disruptedPods").filter(|d| !d.is_null()) {
        status["disruptedPods"] = d.clone();
    }
    status
}

/// Bring one budget's status up to date (no write when nothing changed).
pub fn refresh(cluster: &Cluster, ns: &str, name: &str) {
    let Some(pdb) = cluster.store.get(&pdbs(), ns, name) else {
        return;
    };
    let next = status_of(&pdb, budget(cluster, &pdb));
    if pdb["status"] == next {
        return;
    }
    // The closure runs under the store's lock: it must not read the store itself.
    let _ = cluster.store.update_with(&pdbs(), ns, name, |cur| {
        let mut o = cur.clone();
        o["status"] = next.clone();
        Ok(o)
    });
}

fn too_many_requests(pdb: &Value, b: Budget) -> ApiError {
    ApiError {
        details: Some(json!({
            "causes": [{
                "reason": "DisruptionBudget",
                "message": format!(
                    "The disruption budget {} needs {} healthy pods and has {} currently",
                    pdb["metadata"]["name"].as_str().unwrap_or(""),
                    b.desired_healthy,
                    b.current_healthy
                ),
            }],
        })),
        ..ApiError::new(429, "TooManyRequests", VIOLATION)
    }
}

/// `POST pods/NAME/eviction`: delete the pod unless a budget forbids it.
pub fn evict(cluster: &Cluster, req: &ApiRequest, ns: &str, name: &str) -> Result<Resp, ApiError> {
    let mut eviction = Value::Null;
    if !req.body.is_empty() {
        eviction = crate::verbs::decode_body(req)?;
        if let Some(n) = eviction["metadata"]["name"].as_str()
            && n != name
        {
            return Err(ApiError::bad_request(
                "name in URL does not match name in Eviction object",
            ));
        }
    }
    let pod = cluster
        .store
        .get(&pods(), ns, name)
        .ok_or_else(|| ApiError::not_found("", "pods", name))?;
    let phase = pod["status"]["phase"].as_str().unwrap_or("");
    // Pods that are not running disrupt nothing: upstream evicts them without a budget check.
    let guarded = !matches!(phase, "Succeeded" | "Failed" | "Pending");
    if guarded {
        let covering: Vec<Arc<Value>> = cluster
            .store
            .list(&pdbs(), Some(ns))
            .into_iter()
            .filter(|b| matches(b, &pod))
            .collect();
        if covering.len() > 1 {
            return Err(ApiError::internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ));
        }
        if let Some(pdb) = covering.first() {
            let b = budget(cluster, pdb);
            // IfHealthyBudget: an unready pod may go while the budget is met.
            let unhealthy_ok = !is_ready(&pod) && b.current_healthy >= b.desired_healthy;
            if !unhealthy_ok && b.disruptions_allowed <= 0 {
                return Err(too_many_requests(pdb, b));
            }
        }
    }
    // The budget is checked first, then the delete enforces the Eviction's DeleteOptions
    // preconditions (upstream's eviction REST hands them to the store's Delete).
    let preconditions = &eviction["deleteOptions"]["preconditions"];
    crate::verbs::check_preconditions(
        &pod,
        "",
        "Pod",
        name,
        preconditions["uid"].as_str(),
        preconditions["resourceVersion"].as_str(),
    )?;
    if req.query.get("dryRun") != Some("All") {
        let info = cluster
            .registry
            .lookup("", "v1", "pods")
            .ok_or_else(|| ApiError::internal("pods are not served"))?;
        crate::verbs::delete_object(cluster, &info, ns, name)?;
        crate::events::record(
            cluster,
            &pod,
            "Normal",
            "Evicted",
            "Evicted by the eviction API",
            "sandbox",
        );
    }
    Ok(response::json(
        201,
        &json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201 }),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&json!("50%"), 3), Some(2));
        assert_eq!(scaled(&json!("25%"), 4), Some(1));
        assert_eq!(scaled(&json!(2), 10), Some(2));
        assert_eq!(scaled(&json!("x"), 10), None);
    }

    #[test]
    fn status_keeps_transition_time_when_unchanged() {
        let pdb = json!({"metadata": {"generation": 2}, "status": {"conditions": [{"type": "DisruptionAllowed", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
        let b = Budget {
            current_healthy: 3,
            desired_healthy: 2,
            expected_pods: 3,
            disruptions_allowed: 1,
        };
        let s = status_of(&pdb, b);
        assert_eq!(
            s["conditions"][0]["lastTransitionTime"],
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(s["observedGeneration"], 2);
        let s = status_of(
            &pdb,
            Budget {
                disruptions_allowed: 0,
                ..b
            },
        );
        assert_eq!(s["conditions"][0]["reason"], "InsufficientPods");
        assert_ne!(
            s["conditions"][0]["lastTransitionTime"],
            "2026-01-01T00:00:00Z"
        );
    }
}
