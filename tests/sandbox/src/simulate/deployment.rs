//! Deployment controller: one ReplicaSet per pod template (named by its pod-template-hash), old
//! ones scaled down once the new one's pods are ready, and the status kubectl's `rollout status`
//! reads: observedGeneration, replica counts, Progressing (ProgressDeadlineExceeded after the
//! deadline) and Available.

use super::replicaset::{is_ready, owned_by, owned_pods};
use super::{Simulation, deployments, replicasets};
use crate::events;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;

const REVISION: &str = "deployment.kubernetes.io/revision";

/// A stable 10-character hash of the pod template, in the alphabet upstream names use.
pub fn template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in normalized(template).to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (0..10)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize] as char;
            h /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// Nulls, false, empty strings, objects and lists dropped: clients that round-trip a template through typed
/// structs (`rollout undo`) add `creationTimestamp: null` and `resources: {}`, which must not
/// make it a different template.
fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), normalized(v)))
                .filter(|(_, v)| !omitted(v))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

/// What Go's `omitempty` leaves out when a client re-serialises a typed template.
fn omitted(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Number(_) => false,
    }
}

fn revision(o: &Value) -> i64 {
    o["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

pub fn reconcile(sim: &mut Simulation, ns: &str, name: &str) -> Option<Instant> {
    let dep = sim.cluster.store.get(&deployments(), ns, name)?;
    let desired = dep["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
    let hash = template_hash(&dep["spec"]["template"]);
    let new_name = format!("{name}-{hash}");
    let uid = dep["metadata"]["uid"].clone();
    let all_rs: Vec<_> = sim
        .cluster
        .store
        .list(&replicasets(), Some(ns))
        .into_iter()
        .filter(|r| owned_by(r, &uid))
        .collect();
    let max_rev = all_rs.iter().map(|r| revision(r)).max().unwrap_or(0);
    let new_rs = match all_rs
        .iter()
        .find(|r| r["metadata"]["name"] == new_name.as_str())
    {
        Some(r) => {
            // Going back to an older template reuses its ReplicaSet as the newest revision.
            let rev = if revision(r) < max_rev {
                max_rev + 1
            } else {
                revision(r)
            };
            match sim
                .cluster
                .store
                .update_with(&replicasets(), ns, &new_name, |cur| {
                    let mut next = cur.clone();
                    next["spec"]["replicas"] = json!(desired);
                    next["metadata"]["annotations"][REVISION] = json!(rev.to_string());
                    Ok(next)
                }) {
                Ok((updated, _)) => updated,
                Err(_) => r.clone(),
            }
        }
        None => {
            let rev = if all_rs.is_empty() { 1 } else { max_rev + 1 };
            match create_rs(sim, ns, &dep, &new_name, &hash, desired, rev) {
                Some(r) => std::sync::Arc::new(r),
                None => return None,
            }
        }
    };
    let new_pods = owned_pods(sim, ns, &new_rs);
    let new_ready = new_pods.iter().filter(|p| is_ready(p)).count();
    let mut total = new_pods.len();
    let mut ready = new_ready;
    for old in all_rs
        .iter()
        .filter(|r| r["metadata"]["name"] != new_name.as_str())
    {
        let old_name = old["metadata"]["name"].as_str().unwrap_or("");
        let old_replicas = old["spec"]["replicas"].as_u64().unwrap_or(0);
        if new_ready >= desired && old_replicas > 0 {
            let scaled = sim
                .cluster
                .store
                .update_with(&replicasets(), ns, old_name, |cur| {
                    let mut next = cur.clone();
                    next["spec"]["replicas"] = json!(0);
                    Ok(next)
                });
            if scaled.is_ok() {
                events::record(
                    &sim.cluster,
                    &dep,
                    "Normal",
                    "ScalingReplicaSet",
                    &format!("Scaled down replica set {old_name} from {old_replicas} to 0"),
                    "deployment-controller",
                );
            }
        }
        let pods = owned_pods(sim, ns, old);
        total += pods.len();
        ready += pods.iter().filter(|p| is_ready(p)).count();
    }
    let rev = revision(&new_rs).max(1);
    update_status(
        sim,
        ns,
        name,
        &dep,
        &new_name,
        desired,
        total,
        new_pods.len(),
        ready,
        rev,
    )
}

fn create_rs(
    sim: &Simulation,
    ns: &str,
    dep: &Value,
    rs_name: &str,
    hash: &str,
    replicas: usize,
    rev: i64,
) -> Option<Value> {
    let info = sim.cluster.registry.lookup("apps", "v1", "replicasets")?;
    let mut template = dep["spec"]["template"].clone();
    template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
    let mut selector = dep["spec"]["selector"].clone();
    selector["matchLabels"]["pod-template-hash"] = json!(hash);
    let mut labels = template["metadata"]["labels"].clone();
    labels["pod-template-hash"] = json!(hash);
    let rs = json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": rs_name,
            "namespace": ns,
            "labels": labels,
            "annotations": {
                "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                "deployment.kubernetes.io/max-replicas": (replicas + replicas.div_ceil(4)).to_string(),
                REVISION: rev.to_string(),
            },
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "Deployment", "name": dep["metadata"]["name"], "uid": dep["metadata"]["uid"],
                "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": { "replicas": replicas, "selector": selector, "template": template },
    });
    let mut rs = rs;
    if sim.seeding {
        rs["metadata"]["creationTimestamp"] = dep["metadata"]["creationTimestamp"].clone();
    }
    let created = crate::verbs::create_object(&sim.cluster, &info, ns, rs, false, false).ok()?;
    events::record(
        &sim.cluster,
        dep,
        "Normal",
        "ScalingReplicaSet",
        &format!("Scaled up replica set {rs_name} from 0 to {replicas}"),
        "deployment-controller",
    );
    Some(created)
}

fn condition(old: &Value, t: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    let prev = old["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == t))
        .cloned()
        .unwrap_or(Value::Null);
    let same_status = prev["status"] == status;
    let same = same_status && prev["reason"] == reason;
    let keep = |f: &str, cond: bool| {
        if cond {
            prev[f].as_str().unwrap_or(now).to_string()
        } else {
            now.to_string()
        }
    };
    json!({
        "type": t, "status": status, "reason": reason, "message": message,
        "lastUpdateTime": keep("lastUpdateTime", same),
        "lastTransitionTime": keep("lastTransitionTime", same_status),
    })
}

#[allow(clippy::too_many_arguments)]
fn update_status(
    sim: &Simulation,
    ns: &str,
    name: &str,
    dep: &Value,
    new_rs: &str,
    desired: usize,
    total: usize,
    updated: usize,
    ready: usize,
    rev: i64,
) -> Option<Instant> {
    let now_ts = crate::clock::now();
    let now = crate::clock::rfc3339(now_ts);
    let complete = updated == desired && total == desired && ready == desired;
    let deadline = dep["spec"]["progressDeadlineSeconds"]
        .as_i64()
        .unwrap_or(600);
    let prev_progress = dep["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Progressing"))
        .cloned()
        .unwrap_or(Value::Null);
    let done_msg = format!("ReplicaSet \"{new_rs}\" has successfully progressed.");
    // A scale of an already rolled-out template is not a new rollout: Progressing stays as it was.
    let scaled_only = prev_progress["reason"] == "NewReplicaSetAvailable"
        && prev_progress["message"] == done_msg.as_str();
    let progressing = if complete || scaled_only {
        condition(
            dep,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            &done_msg,
            &now,
        )
    } else {
        let started = if prev_progress["reason"] == "ReplicaSetUpdated"
            || prev_progress["reason"] == "ProgressDeadlineExceeded"
        {
            prev_progress["lastUpdateTime"]
                .as_str()
                .and_then(crate::clock::parse)
                .unwrap_or(now_ts)
        } else {
            now_ts
        };
        let elapsed = now_ts.duration_since(started).as_secs();
        if elapsed >= deadline {
            let mut c = condition(
                dep,
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                &format!("ReplicaSet \"{new_rs}\" has timed out progressing."),
                &now,
            );
            c["lastUpdateTime"] = json!(crate::clock::rfc3339(started));
            c
        } else {
            let mut c = condition(
                dep,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                &format!("ReplicaSet \"{new_rs}\" is progressing."),
                &now,
            );
            c["lastUpdateTime"] = json!(crate::clock::rfc3339(started));
            c
        }
    };
    let max_unavailable = desired / 4;
    let available = if ready + max_unavailable >= desired {
        condition(
            dep,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            &now,
        )
    } else {
        condition(
            dep,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            &now,
        )
    };
    let wake = (progressing["reason"] == "ReplicaSetUpdated").then(|| {
        let started = progressing["lastUpdateTime"]
            .as_str()
            .and_then(crate::clock::parse)
            .unwrap_or(now_ts);
        let left = deadline - now_ts.duration_since(started).as_secs();
        Instant::now() + Duration::from_secs(left.max(0) as u64) + Duration::from_millis(50)
    });
    let generation = dep["metadata"]["generation"].clone();
    let _ = sim
        .cluster
        .store
        .update_with(&deployments(), ns, name, |cur| {
            let mut next = cur.clone();
            let mut status = json!({
                "observedGeneration": generation,
                "replicas": total,
                "updatedReplicas": updated,
                "conditions": [available, progressing],
            });
            if ready > 0 {
                status["readyReplicas"] = json!(ready);
                status["availableReplicas"] = json!(ready);
            }
            if total > ready {
                status["unavailableReplicas"] = json!(total - ready);
            }
            next["status"] = status;
            next["metadata"]["annotations"][REVISION] = json!(rev.to_string());
            Ok(next)
        });
    wake
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hash_is_stable_and_sensitive() {
        let a = json!({"spec": {"containers": [{"name": "a", "image": "x:1"}]}});
        let b = json!({"spec": {"containers": [{"name": "a", "image": "x:2"}]}});
        assert_eq!(template_hash(&a), template_hash(&a.clone()));
        assert_ne!(template_hash(&a), template_hash(&b));
        assert_eq!(template_hash(&a).len(), 10);
        // What typed clients add when they round-trip a template does not make it another one.
        let round_tripped = json!({"metadata": {"creationTimestamp": null}, "spec": {"containers": [{"name": "a", "image": "x:1", "resources": {}, "env": []}]}});
        assert_eq!(template_hash(&a), template_hash(&round_tripped));
    }
}
