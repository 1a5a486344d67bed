//! ReplicaSet controller: keep `spec.replicas` pods made from the template, and report status.

use super::{Simulation, pods, replicasets};
use crate::events;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::time::Instant;

pub fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

pub fn owned_by(o: &Value, uid: &Value) -> bool {
    o["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == *uid))
}

/// Pods (not being deleted) that a ReplicaSet owns.
pub fn owned_pods(sim: &Simulation, ns: &str, rs: &Value) -> Vec<Arc<Value>> {
    let uid = &rs["metadata"]["uid"];
    sim.cluster
        .store
        .list(&pods(), Some(ns))
        .into_iter()
        .filter(|p| owned_by(p, uid) && p["metadata"]["deletionTimestamp"].is_null())
        .collect()
}

pub fn reconcile(sim: &mut Simulation, ns: &str, name: &str) -> Option<Instant> {
    let rs = sim.cluster.store.get(&replicasets(), ns, name)?;
    let desired = rs["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
    let mut owned = owned_pods(sim, ns, &rs);
    if owned.len() < desired {
        let dep = super::owner(&rs, "Deployment")
            .and_then(|d| sim.cluster.store.get(&super::deployments(), ns, &d));
        let delay = sim.rollout_delay(dep.as_deref());
        for _ in owned.len()..desired {
            if let Some(p) = create_pod(sim, ns, &rs) {
                if !delay.is_zero() {
                    let (pns, pname) = super::ns_name(&p);
                    sim.ready_at.insert((pns, pname), Instant::now() + delay);
                }
                owned.push(Arc::new(p));
            }
        }
    } else if owned.len() > desired {
        // Unready pods go first, then the newest.
        owned.sort_by_key(|p| {
            (
                is_ready(p),
                std::cmp::Reverse(
                    p["metadata"]["creationTimestamp"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                ),
            )
        });
        let extra: Vec<Arc<Value>> = owned.drain(..owned.len() - desired).collect();
        for p in extra {
            let (pns, pname) = super::ns_name(&p);
            if sim.cluster.store.delete(&pods(), &pns, &pname).is_ok() {
                events::record(
                    &sim.cluster,
                    &rs,
                    "Normal",
                    "SuccessfulDelete",
                    &format!("Deleted pod: {pname}"),
                    "replicaset-controller",
                );
            }
        }
    }
    let ready = owned.iter().filter(|p| is_ready(p)).count();
    let generation = rs["metadata"]["generation"].clone();
    let _ = sim.cluster.store.update_with(&replicasets(), ns, name, |cur| {
        let mut next = cur.clone();
        let mut status = json!({ "replicas": owned.len(), "fullyLabeledReplicas": owned.len(), "observedGeneration": generation });
        if ready > 0 {
            status["readyReplicas"] = json!(ready);
            status["availableReplicas"] = json!(ready);
        }
        next["status"] = status;
        Ok(next)
    });
    None
}

fn create_pod(sim: &Simulation, ns: &str, rs: &Value) -> Option<Value> {
    let info = sim.cluster.registry.lookup("", "v1", "pods")?;
    let template = &rs["spec"]["template"];
    let rs_name = rs["metadata"]["name"].as_str().unwrap_or("");
    let mut meta = json!({
        "name": format!("{rs_name}-{}", crate::defaults::random_suffix(5)),
        "generateName": format!("{rs_name}-"),
        "namespace": ns,
        "ownerReferences": [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name, "uid": rs["metadata"]["uid"],
            "controller": true, "blockOwnerDeletion": true,
        }],
    });
    for f in ["labels", "annotations"] {
        if template["metadata"][f].is_object() {
            meta[f] = template["metadata"][f].clone();
        }
    }
    // Seeded pods are as old as their ReplicaSet, as on a cluster that has been running.
    if sim.seeding {
        meta["creationTimestamp"] = rs["metadata"]["creationTimestamp"].clone();
    }
    let pod = json!({ "apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"].clone() });
    let created = crate::verbs::create_object(&sim.cluster, &info, ns, pod, false, false).ok()?;
    let pname = created["metadata"]["name"].as_str().unwrap_or("");
    events::record(
        &sim.cluster,
        rs,
        "Normal",
        "SuccessfulCreate",
        &format!("Created pod: {pname}"),
        "replicaset-controller",
    );
    Some(created)
}
