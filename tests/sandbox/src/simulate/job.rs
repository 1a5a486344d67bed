//! Job controller (upstream's job_controller): pods from the template, owned by the Job, up to
//! `parallelism` at a time until `completions` succeed (`Indexed`: one success per index, the
//! index in the `batch.kubernetes.io/job-completion-index` annotation, label and the
//! `JOB_COMPLETION_INDEX` variable); failures past `backoffLimit` (container restarts count
//! under `OnFailure`) or a run past `activeDeadlineSeconds` fail it; `suspend` deletes its pods;
//! `ttlSecondsAfterFinished` deletes it. Failed pods are replaced after upstream's back-off
//! (10 s doubling, at most 6 min). Durations are read on the sandbox's
//! [`SimClock`](crate::clock::SimClock).

use super::{Simulation, ns_name, pods};
use crate::events;
use crate::registry::{ResKey, ResourceInfo};
use crate::status::ApiError;
use jiff::Timestamp;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
const COMPONENT: &str = "job-controller";

pub fn jobs() -> ResKey {
    ResKey::new("batch", "jobs")
}

/// A Job's pods may not restart forever: `Never` or `OnFailure`, as upstream validates.
pub fn validate_restart_policy(
    info: &ResourceInfo,
    name: &str,
    spec: &Value,
    prefix: &str,
) -> Result<(), ApiError> {
    match spec["restartPolicy"].as_str() {
        Some("Never") | Some("OnFailure") => Ok(()),
        Some(other) => Err(ApiError::invalid(
            &info.group,
            &info.kind,
            name,
            &format!("{prefix}.restartPolicy"),
            &format!("Unsupported value: \"{other}\": supported values: \"OnFailure\", \"Never\""),
        )),
        None => Err(ApiError::invalid(
            &info.group,
            &info.kind,
            name,
            &format!("{prefix}.restartPolicy"),
            "Required value: valid values: \"OnFailure\", \"Never\"",
        )),
    }
}

/// What the controller remembers between passes: pods already counted (status counters only
/// grow, even when pods are deleted later) and the failure back-off.
#[derive(Default)]
pub struct JobMemory {
    counted: BTreeSet<String>,
    /// Failures since the last success, and when the latest one was seen.
    backoff: std::collections::HashMap<(String, String), (u32, Instant)>,
}

fn condition_true(job: &Value, t: &str) -> bool {
    job["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == t && c["status"] == "True"))
}

fn phase(p: &Value) -> &str {
    p["status"]["phase"].as_str().unwrap_or("")
}

fn index_of(p: &Value) -> Option<u64> {
    p["metadata"]["annotations"][COMPLETION_INDEX]
        .as_str()
        .and_then(|s| s.parse().ok())
}

/// `0-2,4`: the form of `status.completedIndexes`.
pub fn format_indexes(set: &BTreeSet<u64>) -> String {
    let mut out: Vec<String> = vec![];
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        out.push(if end == start {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    out.join(",")
}

pub fn parse_indexes(s: &str) -> BTreeSet<u64> {
    let mut set = BTreeSet::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>()) {
                    set.extend(a..=b.min(a + 100_000));
                }
            }
            None => {
                if let Ok(i) = part.parse() {
                    set.insert(i);
                }
            }
        }
    }
    set
}

/// Simulated seconds since `since` (a real timestamp).
fn sim_elapsed(sim: &Simulation, since: Timestamp) -> f64 {
    let real = crate::clock::now().duration_since(since).as_secs_f64();
    real.max(0.0) * sim.cluster.settings.clock.scale()
}

/// The real instant at which `secs` simulated seconds will have passed since `since`.
fn wake_after(sim: &Simulation, since: Timestamp, secs: f64) -> Instant {
    let left = (secs - sim_elapsed(sim, since)).max(0.0);
    Instant::now()
        + sim
            .cluster
            .settings
            .clock
            .real(Duration::from_secs_f64(left))
        + Duration::from_millis(20)
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn condition(t: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({ "type": t, "status": "True", "reason": reason, "message": message,
            "lastProbeTime": now, "lastTransitionTime": now })
}

pub fn reconcile(sim: &mut Simulation, ns: &str, name: &str) -> Option<Instant> {
    let job = sim.cluster.store.get(&jobs(), ns, name)?;
    let uid = job["metadata"]["uid"].clone();
    let owned: Vec<Arc<Value>> = sim
        .cluster
        .store
        .list(&pods(), Some(ns))
        .into_iter()
        .filter(|p| super::replicaset::owned_by(p, &uid))
        .collect();
    let spec = &job["spec"];
    let now_ts = crate::clock::now();
    let now = crate::clock::rfc3339(now_ts);
    let done = condition_true(&job, "Complete") || condition_true(&job, "Failed");
    if done {
        for p in owned
            .iter()
            .filter(|p| !matches!(phase(p), "Succeeded" | "Failed"))
        {
            delete_pod(sim, &job, p);
        }
        return ttl(sim, &job, ns, name);
    }
    let indexed = spec["completionMode"] == "Indexed";
    let completions = spec["completions"].as_u64();
    let parallelism = spec["parallelism"].as_u64().unwrap_or(1);
    let backoff_limit = spec["backoffLimit"].as_u64().unwrap_or(6);
    let status = &job["status"];
    let mut succeeded = status["succeeded"].as_u64().unwrap_or(0);
    let mut failed = status["failed"].as_u64().unwrap_or(0);
    let mut completed = parse_indexes(status["completedIndexes"].as_str().unwrap_or(""));
    let key = (ns.to_string(), name.to_string());
    for p in &owned {
        let puid = p["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let ph = phase(p);
        if !matches!(ph, "Succeeded" | "Failed") || sim.jobs.counted.contains(&puid) {
            continue;
        }
        sim.jobs.counted.insert(puid);
        if ph == "Succeeded" {
            match (indexed, index_of(p)) {
                (true, Some(i)) if completions.is_none_or(|c| i < c) => {
                    completed.insert(i);
                }
                (true, _) => {}
                (false, _) => succeeded += 1,
            }
            sim.jobs.backoff.remove(&key);
        } else {
            failed += 1;
            let entry = sim
                .jobs
                .backoff
                .entry(key.clone())
                .or_insert((0, Instant::now()));
            *entry = (entry.0 + 1, Instant::now());
        }
    }
    if indexed {
        succeeded = completed.len() as u64;
    }
    let active: Vec<&Arc<Value>> = owned
        .iter()
        .filter(|p| !matches!(phase(p), "Succeeded" | "Failed"))
        .collect();
    let restarts: u64 = if spec["template"]["spec"]["restartPolicy"] == "OnFailure" {
        active
            .iter()
            .flat_map(|p| {
                p["status"]["containerStatuses"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|c| c["restartCount"].as_u64().unwrap_or(0))
            .sum()
    } else {
        0
    };
    let mut conditions: Vec<Value> = status["conditions"].as_array().cloned().unwrap_or_default();
    let mut start = status["startTime"].as_str().and_then(crate::clock::parse);
    let suspended = spec["suspend"].as_bool().unwrap_or(false);
    let was_suspended = condition_true(&job, "Suspended");
    let mut wake = None;
    let mut completion_time = None;
    let mut finished = false;
    if suspended {
        for p in &active {
            delete_pod(sim, &job, p);
        }
        if !was_suspended {
            conditions.retain(|c| c["type"] != "Suspended");
            conditions.push(condition(
                "Suspended",
                "JobSuspended",
                "Job suspended",
                &now,
            ));
            events::record(
                &sim.cluster,
                &job,
                "Normal",
                "Suspended",
                "Job suspended",
                COMPONENT,
            );
        }
        start = None;
    } else {
        if was_suspended {
            for c in conditions.iter_mut().filter(|c| c["type"] == "Suspended") {
                *c = json!({ "type": "Suspended", "status": "False", "reason": "JobResumed",
                    "message": "Job resumed", "lastProbeTime": now, "lastTransitionTime": now });
            }
            events::record(
                &sim.cluster,
                &job,
                "Normal",
                "Resumed",
                "Job resumed",
                COMPONENT,
            );
        }
        let started = *start.get_or_insert(now_ts);
        let deadline = spec["activeDeadlineSeconds"].as_f64();
        let past_deadline = deadline.is_some_and(|d| sim_elapsed(sim, started) >= d);
        let complete = match completions {
            Some(c) => succeeded >= c,
            None => succeeded > 0 && active.is_empty(),
        };
        let failure = if failed + restarts > backoff_limit {
            Some((
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ))
        } else if past_deadline && !complete {
            Some((
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            ))
        } else {
            None
        };
        if let Some((reason, message)) = failure {
            for p in &active {
                delete_pod(sim, &job, p);
            }
            conditions.push(condition("FailureTarget", reason, message, &now));
            conditions.push(condition("Failed", reason, message, &now));
            events::record(&sim.cluster, &job, "Warning", reason, message, COMPONENT);
            finished = true;
        } else if complete {
            conditions.push(condition(
                "SuccessCriteriaMet",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                &now,
            ));
            conditions.push(condition(
                "Complete",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                &now,
            ));
            completion_time = Some(now.clone());
            events::record(
                &sim.cluster,
                &job,
                "Normal",
                "Completed",
                "Job completed",
                COMPONENT,
            );
            finished = true;
        } else {
            if let Some(d) = deadline {
                wake = Some(wake_after(sim, started, d));
            }
            let backoff_until = sim.jobs.backoff.get(&key).map(|(n, at)| {
                let secs = (10u64 << (n.saturating_sub(1)).min(6)).min(360);
                *at + sim.cluster.settings.clock.real(Duration::from_secs(secs))
            });
            match backoff_until {
                Some(t) if t > Instant::now() => wake = earliest(wake, Some(t)),
                _ => create_pods(sim, &job, &active, &completed, succeeded, parallelism),
            }
        }
    }
    // Pods just created or deleted are seen on the next pass (their events enqueue this Job).
    let ready = active
        .iter()
        .filter(|p| super::replicaset::is_ready(p))
        .count();
    let active_n = if finished || suspended {
        0
    } else {
        active.len()
    };
    let _ = sim.cluster.store.update_with(&jobs(), ns, name, |cur| {
        let mut next = cur.clone();
        let mut st = json!({ "ready": if finished || suspended { 0 } else { ready }, "terminating": 0,
            "uncountedTerminatedPods": {} });
        if !conditions.is_empty() {
            st["conditions"] = json!(conditions);
        }
        if let Some(s) = start {
            st["startTime"] = json!(crate::clock::rfc3339(s));
        }
        if let Some(c) = &completion_time {
            st["completionTime"] = json!(c);
        }
        for (k, v) in [("active", active_n as u64), ("succeeded", succeeded), ("failed", failed)] {
            if v > 0 {
                st[k] = json!(v);
            }
        }
        if indexed && !completed.is_empty() {
            st["completedIndexes"] = json!(format_indexes(&completed));
        }
        next["status"] = st;
        Ok(next)
    });
    if finished {
        sim.jobs.backoff.remove(&key);
        return earliest(wake, ttl(sim, &job, ns, name));
    }
    wake
}

/// A finished Job with `ttlSecondsAfterFinished` is deleted (with its pods) when it expires.
fn ttl(sim: &Simulation, job: &Value, ns: &str, name: &str) -> Option<Instant> {
    let cur = sim.cluster.store.get(&jobs(), ns, name)?;
    let secs = job["spec"]["ttlSecondsAfterFinished"].as_f64()?;
    let finished_at = cur["status"]["completionTime"]
        .as_str()
        .or_else(|| {
            cur["status"]["conditions"]
                .as_array()?
                .iter()
                .find(|c| c["type"] == "Failed" && c["status"] == "True")?["lastTransitionTime"]
                .as_str()
        })
        .and_then(crate::clock::parse)?;
    if sim_elapsed(sim, finished_at) >= secs {
        if let Some(info) = sim.cluster.registry.lookup("batch", "v1", "jobs") {
            let policy = crate::verbs::Propagation::Background;
            let _ = crate::verbs::delete_object_with(&sim.cluster, &info, ns, name, policy);
        }
        return None;
    }
    Some(wake_after(sim, finished_at, secs))
}

fn delete_pod(sim: &Simulation, job: &Value, p: &Value) {
    let (pns, pname) = ns_name(p);
    if sim.cluster.store.delete(&pods(), &pns, &pname).is_ok() {
        events::record(
            &sim.cluster,
            job,
            "Normal",
            "SuccessfulDelete",
            &format!("Deleted pod: {pname}"),
            COMPONENT,
        );
    }
}

fn create_pods(
    sim: &Simulation,
    job: &Value,
    active: &[&Arc<Value>],
    completed: &BTreeSet<u64>,
    succeeded: u64,
    parallelism: u64,
) {
    let spec = &job["spec"];
    let completions = spec["completions"].as_u64();
    let running = active.len() as u64;
    if spec["completionMode"] == "Indexed" {
        let Some(total) = completions else { return };
        let busy: BTreeSet<u64> = active.iter().filter_map(|p| index_of(p)).collect();
        let room = parallelism.saturating_sub(running);
        let todo = (0..total)
            .filter(|i| !completed.contains(i) && !busy.contains(i))
            .take(room as usize);
        for i in todo {
            create_pod(sim, job, Some(i));
        }
        return;
    }
    let want = match completions {
        Some(c) => c.saturating_sub(succeeded).min(parallelism),
        // A work queue: once one pod succeeded no new ones start.
        None if succeeded > 0 => running,
        None => parallelism,
    };
    for _ in running..want {
        create_pod(sim, job, None);
    }
}

fn create_pod(sim: &Simulation, job: &Value, index: Option<u64>) {
    let Some(info) = sim.cluster.registry.lookup("", "v1", "pods") else {
        return;
    };
    let (ns, job_name) = ns_name(job);
    let template = &job["spec"]["template"];
    let prefix = match index {
        Some(i) => format!("{job_name}-{i}-"),
        None => format!("{job_name}-"),
    };
    let mut meta = json!({
        "name": format!("{prefix}{}", crate::defaults::random_suffix(5)),
        "generateName": prefix,
        "namespace": ns,
        "labels": template["metadata"]["labels"].clone(),
        "annotations": template["metadata"]["annotations"].clone(),
        "ownerReferences": [{
            "apiVersion": "batch/v1", "kind": "Job", "name": job_name, "uid": job["metadata"]["uid"],
            "controller": true, "blockOwnerDeletion": true,
        }],
    });
    for f in ["labels", "annotations"] {
        if !meta[f].is_object() {
            meta[f] = json!({});
        }
    }
    let mut spec = template["spec"].clone();
    if let Some(i) = index {
        meta["labels"][COMPLETION_INDEX] = json!(i.to_string());
        meta["annotations"][COMPLETION_INDEX] = json!(i.to_string());
        spec["hostname"] = json!(format!("{job_name}-{i}"));
        if let Some(cs) = spec["containers"].as_array_mut() {
            for c in cs {
                if !c["env"].is_array() {
                    c["env"] = json!([]);
                }
                if let Some(env) = c["env"].as_array_mut() {
                    env.push(
                        json!({ "name": "JOB_COMPLETION_INDEX", "valueFrom": { "fieldRef": {
                        "apiVersion": "v1",
                        "fieldPath": format!("metadata.labels['{COMPLETION_INDEX}']") } } }),
                    );
                }
            }
        }
    }
    let pod = json!({ "apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec });
    match crate::verbs::create_object(&sim.cluster, &info, &ns, pod, false, false) {
        Ok(created) => {
            let pname = created["metadata"]["name"].as_str().unwrap_or("");
            events::record(
                &sim.cluster,
                job,
                "Normal",
                "SuccessfulCreate",
                &format!("Created pod: {pname}"),
                COMPONENT,
            );
        }
        Err(e) => events::record(
            &sim.cluster,
            job,
            "Warning",
            "FailedCreate",
            &format!("Error creating: {}", e.message),
            COMPONENT,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_indexes_round_trip_as_ranges() {
        let set: BTreeSet<u64> = [0, 1, 2, 4, 6, 7].into_iter().collect();
        assert_eq!(format_indexes(&set), "0-2,4,6-7");
        assert_eq!(parse_indexes("0-2,4,6-7"), set);
        assert!(parse_indexes("").is_empty());
    }
}
