//! The kubelet: pods get scheduled to a node and a Running status, Ready unless a knob (or a
//! rollout still in progress) says otherwise.

use super::{
    NEVER_READY, READY, RESTARTS, Simulation, annotation, deployments, owner, pods, replicasets,
};
use crate::events;
use crate::registry::ResKey;
use serde_json::{Value, json};
use tokio::time::Instant;

fn seed(s: &str) -> u64 {
    s.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(1099511628211)
    })
}

/// Whether the pod's Deployment says its pods never get ready.
fn never_ready(sim: &Simulation, ns: &str, pod: &Value) -> bool {
    let Some(rs) =
        owner(pod, "ReplicaSet").and_then(|r| sim.cluster.store.get(&replicasets(), ns, &r))
    else {
        return false;
    };
    let Some(dep) =
        owner(&rs, "Deployment").and_then(|d| sim.cluster.store.get(&deployments(), ns, &d))
    else {
        return false;
    };
    annotation(&dep, NEVER_READY) == Some("true")
}

pub fn reconcile(sim: &mut Simulation, ns: &str, name: &str) -> Option<Instant> {
    let pod = sim.cluster.store.get(&pods(), ns, name)?;
    if sim.cluster.kubelet.runs(&pod) {
        sim.cluster.kubelet.ensure(&sim.cluster, &pod);
        return None;
    }
    let key = (ns.to_string(), name.to_string());
    let pending = sim.ready_at.get(&key).copied();
    let managed = pending.is_some() || pod["status"]["phase"].as_str().is_none();
    if !managed {
        return None;
    }
    let now = Instant::now();
    let waiting = pending.is_some_and(|t| t > now);
    let ready = !waiting && annotation(&pod, READY) != Some("false") && !never_ready(sim, ns, &pod);
    if !waiting {
        sim.ready_at.remove(&key);
    }
    let first = pod["status"]["phase"].as_str().is_none();
    let node = pod["spec"]["nodeName"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| pick_node(sim, name));
    let result = sim.cluster.store.update_with(&pods(), ns, name, |cur| {
        let mut next = cur.clone();
        next["spec"]["nodeName"] = json!(node);
        next["status"] = status(cur, &node, ready);
        Ok(next)
    });
    if first && result.is_ok() {
        events::record(
            &sim.cluster,
            &pod,
            "Normal",
            "Scheduled",
            &format!("Successfully assigned {ns}/{name} to {node}"),
            "default-scheduler",
        );
        events::record(
            &sim.cluster,
            &pod,
            "Normal",
            "Started",
            "Started container",
            "kubelet",
        );
    }
    if waiting { pending } else { None }
}

fn pick_node(sim: &Simulation, pod: &str) -> String {
    let nodes = sim.cluster.store.list(&ResKey::new("", "nodes"), None);
    if nodes.is_empty() {
        return "sandbox-node-1".into();
    }
    let i = (seed(pod) % nodes.len() as u64) as usize;
    nodes[i]["metadata"]["name"]
        .as_str()
        .unwrap_or("sandbox-node-1")
        .to_string()
}

/// The status a running pod reports; times already set are kept so re-running changes nothing.
fn status(cur: &Value, node: &str, ready: bool) -> Value {
    let old = &cur["status"];
    // A pod seeded with an old creationTimestamp started then; a new one starts now.
    let now = match cur["metadata"]["creationTimestamp"].as_str() {
        Some(created) if old["startTime"].is_null() => created.to_string(),
        _ => crate::clock::now_rfc3339(),
    };
    let start = old["startTime"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| now.clone());
    let h = seed(cur["metadata"]["name"].as_str().unwrap_or(""));
    let pod_ip = old["podIP"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| format!("10.244.{}.{}", (h >> 8) % 250 + 1, h % 250 + 2));
    let host_ip = old["hostIP"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| format!("192.168.0.{}", seed(node) % 250 + 2));
    let restarts: i64 = annotation(cur, RESTARTS)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let flag = |b: bool| if b { "True" } else { "False" };
    let cond = |t: &str, s: &str| {
        let prev = old["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == t && c["status"] == s));
        let at = prev
            .and_then(|c| c["lastTransitionTime"].as_str())
            .map(String::from)
            .unwrap_or_else(|| now.clone());
        json!({ "type": t, "status": s, "lastProbeTime": null, "lastTransitionTime": at })
    };
    let statuses: Vec<Value> = cur["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let cname = c["name"].as_str().unwrap_or("");
                    let mut s = json!({
                        "name": cname, "image": c["image"], "imageID": format!("docker.io/{}@sha256:{:016x}", c["image"].as_str().unwrap_or(""), seed(cname)),
                        "containerID": format!("containerd://{:016x}{:016x}", h, seed(cname)),
                        "ready": ready, "started": true, "restartCount": restarts,
                        "state": { "running": { "startedAt": start } },
                    });
                    if restarts > 0 {
                        s["lastState"] = json!({ "terminated": { "exitCode": 1, "reason": "Error", "startedAt": start, "finishedAt": start } });
                    }
                    s
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "phase": "Running",
        "conditions": [cond("PodReadyToStartContainers", "True"), cond("Initialized", "True"), cond("Ready", flag(ready)), cond("ContainersReady", flag(ready)), cond("PodScheduled", "True")],
        "hostIP": host_ip, "hostIPs": [{ "ip": host_ip }],
        "podIP": pod_ip, "podIPs": [{ "ip": pod_ip }],
        "startTime": start,
        "containerStatuses": statuses,
        "qosClass": "BestEffort",
    })
}
