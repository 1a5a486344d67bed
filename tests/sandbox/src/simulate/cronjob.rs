//! CronJob controller (upstream's cronjob_controllerv2): at each time the schedule names (in
//! `spec.timeZone`, else UTC) a Job `NAME-<minutes since the epoch>` made from the jobTemplate,
//! unless `suspend`, a missed `startingDeadlineSeconds`, or `concurrencyPolicy: Forbid` with a
//! Job still running says otherwise (`Replace` deletes the running ones first); finished Jobs
//! beyond the history limits are deleted; status `active`, `lastScheduleTime` and
//! `lastSuccessfulTime`. Times are read from the sandbox's [`SimClock`](crate::clock::SimClock).

use super::{Simulation, ns_name};
use crate::events;
use crate::registry::{ResKey, ResourceInfo};
use crate::status::ApiError;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::time::Instant;

pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

pub fn cronjobs() -> ResKey {
    ResKey::new("batch", "cronjobs")
}

/// A parsed schedule with the zone its fields are read in.
pub struct Schedule {
    cron: Cron,
    tz: TimeZone,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ScheduleError {
    Schedule(String),
    TimeZone(String),
}

impl Schedule {
    /// Five fields or a `@descriptor`, as robfig/cron's standard parser reads them.
    pub fn parse(schedule: &str, time_zone: Option<&str>) -> Result<Schedule, ScheduleError> {
        let tz = match time_zone {
            None => TimeZone::UTC,
            Some(name) => jiff::tz::db()
                .get(name)
                .map_err(|_| ScheduleError::TimeZone(name.to_string()))?,
        };
        let pattern = match schedule.trim() {
            p if p.eq_ignore_ascii_case("@midnight") => "0 0 * * *",
            p => p,
        };
        if pattern.split_whitespace().count() != 5 && !pattern.starts_with('@') {
            return Err(ScheduleError::Schedule(format!(
                "expected exactly 5 fields, found {}: {schedule}",
                pattern.split_whitespace().count()
            )));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(pattern)
            .map_err(|e| ScheduleError::Schedule(e.to_string()))?;
        Ok(Schedule { cron, tz })
    }

    /// The first scheduled time strictly after `t`.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let z = t.to_zoned(self.tz.clone());
        self.cron
            .find_next_occurrence(&z, false)
            .ok()
            .map(|z| z.timestamp())
    }

    /// The latest scheduled time in `(after, now]`, and how many there were (capped).
    pub fn most_recent(&self, after: Timestamp, now: Timestamp) -> Option<(Timestamp, usize)> {
        let mut t = after;
        let mut last = None;
        let mut count = 0;
        while let Some(next) = self.next_after(t) {
            if next > now {
                break;
            }
            count += 1;
            last = Some(next);
            t = next;
            if count >= 1000 {
                // Far behind: jump to the recent past instead of walking every minute.
                let near = now
                    .checked_sub(jiff::SignedDuration::from_hours(24 * 8))
                    .unwrap_or(now);
                if t < near {
                    t = near;
                }
            }
            if count > 100_000 {
                break;
            }
        }
        last.map(|l| (l, count))
    }

    /// `t` as RFC 3339 in the schedule's zone (the scheduled-timestamp annotation).
    pub fn local_rfc3339(&self, t: Timestamp) -> String {
        t.to_zoned(self.tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
            .replace("+00:00", "Z")
    }
}

/// 422s for what upstream's validation refuses in a CronJob's spec.
pub fn validate(info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    let spec = &obj["spec"];
    let schedule = spec["schedule"].as_str().unwrap_or("");
    if schedule.is_empty() {
        return Err(ApiError::invalid(
            &info.group,
            &info.kind,
            name,
            "spec.schedule",
            "Required value",
        ));
    }
    if schedule.contains("TZ") {
        return Err(ApiError::invalid(
            &info.group,
            &info.kind,
            name,
            "spec.schedule",
            &format!(
                "Invalid value: \"{schedule}\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
            ),
        ));
    }
    match Schedule::parse(schedule, spec["timeZone"].as_str()) {
        Ok(_) => Ok(()),
        Err(ScheduleError::Schedule(why)) => Err(ApiError::invalid(
            &info.group,
            &info.kind,
            name,
            "spec.schedule",
            &format!("Invalid value: \"{schedule}\": {why}"),
        )),
        Err(ScheduleError::TimeZone(tz)) => Err(ApiError::invalid(
            &info.group,
            &info.kind,
            name,
            "spec.timeZone",
            &format!("Invalid value: \"{tz}\": unknown time zone {tz}"),
        )),
    }
}

fn finished(job: &Value) -> Option<&'static str> {
    let conds = job["status"]["conditions"].as_array()?;
    for c in conds {
        if c["status"] == "True" {
            if c["type"] == "Complete" {
                return Some("Complete");
            }
            if c["type"] == "Failed" {
                return Some("Failed");
            }
        }
    }
    None
}

fn job_ref(job: &Value) -> Value {
    json!({
        "kind": "Job", "namespace": job["metadata"]["namespace"], "name": job["metadata"]["name"],
        "uid": job["metadata"]["uid"], "apiVersion": "batch/v1",
        "resourceVersion": job["metadata"]["resourceVersion"],
    })
}

fn ts(v: &Value) -> Option<Timestamp> {
    v.as_str().and_then(crate::clock::parse)
}

fn delete_job(sim: &Simulation, cj: &Value, job: &Value) {
    let (ns, name) = ns_name(job);
    let Some(info) = sim.cluster.registry.lookup("batch", "v1", "jobs") else {
        return;
    };
    let policy = crate::verbs::Propagation::Background;
    if crate::verbs::delete_object_with(&sim.cluster, &info, &ns, &name, policy).is_ok() {
        events::record(
            &sim.cluster,
            cj,
            "Normal",
            "SuccessfulDelete",
            &format!("Deleted job {name}"),
            "cronjob-controller",
        );
    }
}

/// Delete the oldest finished Jobs of one outcome beyond `limit`.
fn trim_history(sim: &Simulation, cj: &Value, jobs: &[Arc<Value>], outcome: &str, limit: usize) {
    let mut done: Vec<&Arc<Value>> = jobs
        .iter()
        .filter(|j| finished(j) == Some(outcome))
        .collect();
    if done.len() <= limit {
        return;
    }
    done.sort_by_key(|j| {
        (
            ts(&j["status"]["startTime"]).or_else(|| ts(&j["metadata"]["creationTimestamp"])),
            j["metadata"]["name"].as_str().unwrap_or("").to_string(),
        )
    });
    let extra = done.len() - limit;
    for j in done.into_iter().take(extra) {
        delete_job(sim, cj, j);
    }
}

pub fn reconcile(sim: &mut Simulation, ns: &str, name: &str) -> Option<Instant> {
    let cj = sim.cluster.store.get(&cronjobs(), ns, name)?;
    let uid = cj["metadata"]["uid"].clone();
    let owned = |sim: &Simulation| -> Vec<Arc<Value>> {
        sim.cluster
            .store
            .list(&super::job::jobs(), Some(ns))
            .into_iter()
            .filter(|j| super::replicaset::owned_by(j, &uid))
            .collect()
    };
    let mut jobs = owned(sim);
    let spec = &cj["spec"];
    let limit = |f: &str, d: u64| spec[f].as_u64().unwrap_or(d) as usize;
    trim_history(
        sim,
        &cj,
        &jobs,
        "Complete",
        limit("successfulJobsHistoryLimit", 3),
    );
    trim_history(
        sim,
        &cj,
        &jobs,
        "Failed",
        limit("failedJobsHistoryLimit", 1),
    );
    let mut last_success = ts(&cj["status"]["lastSuccessfulTime"]);
    for j in &jobs {
        if finished(j) == Some("Complete")
            && let Some(done) = ts(&j["status"]["completionTime"])
            && last_success.is_none_or(|l| done > l)
        {
            last_success = Some(done);
        }
    }
    let mut last_schedule = ts(&cj["status"]["lastScheduleTime"]);
    let clock = sim.cluster.settings.clock;
    let now = clock.now();
    let mut wake = None;
    let schedule = Schedule::parse(
        spec["schedule"].as_str().unwrap_or(""),
        spec["timeZone"].as_str(),
    );
    match (&schedule, spec["suspend"].as_bool().unwrap_or(false)) {
        (_, true) => {}
        (Err(e), false) => {
            let (reason, msg) = match e {
                ScheduleError::Schedule(why) => (
                    "UnparseableSchedule",
                    format!("unparseable schedule: {why}"),
                ),
                ScheduleError::TimeZone(tz) => {
                    ("UnknownTimeZone", format!("invalid timeZone: {tz:?}"))
                }
            };
            events::record(
                &sim.cluster,
                &cj,
                "Warning",
                reason,
                &msg,
                "cronjob-controller",
            );
        }
        (Ok(sched), false) => {
            let created = ts(&cj["metadata"]["creationTimestamp"]).unwrap_or(now);
            let mut earliest = last_schedule.unwrap_or(created);
            let deadline = spec["startingDeadlineSeconds"].as_i64();
            if let Some(d) = deadline
                && let Ok(cut) = now.checked_sub(jiff::SignedDuration::from_secs(d))
                && cut > earliest
            {
                earliest = cut;
            }
            if let Some((t, _)) = sched.most_recent(earliest, now) {
                let active: Vec<&Arc<Value>> =
                    jobs.iter().filter(|j| finished(j).is_none()).collect();
                let policy = spec["concurrencyPolicy"].as_str().unwrap_or("Allow");
                if policy == "Forbid" && !active.is_empty() {
                    events::record(
                        &sim.cluster,
                        &cj,
                        "Normal",
                        "JobAlreadyActive",
                        "Not starting job because prior execution is running and concurrency policy is Forbid",
                        "cronjob-controller",
                    );
                } else {
                    if policy == "Replace" {
                        for j in active {
                            delete_job(sim, &cj, j);
                        }
                    }
                    if create_job(sim, &cj, sched, t) {
                        last_schedule = Some(t);
                    }
                    jobs = owned(sim);
                }
            }
            wake = sched.next_after(now).map(|n| clock.instant_at(n));
        }
    }
    let active: Vec<Value> = jobs
        .iter()
        .filter(|j| finished(j).is_none())
        .map(|j| job_ref(j))
        .collect();
    let _ = sim.cluster.store.update_with(&cronjobs(), ns, name, |cur| {
        let mut next = cur.clone();
        let mut status = json!({});
        if !active.is_empty() {
            status["active"] = json!(active);
        }
        if let Some(t) = last_schedule {
            status["lastScheduleTime"] = json!(crate::clock::rfc3339(t));
        }
        if let Some(t) = last_success {
            status["lastSuccessfulTime"] = json!(crate::clock::rfc3339(t));
        }
        next["status"] = status;
        Ok(next)
    });
    // A little after the minute turns, so the schedule is surely due when we look.
    wake.map(|w: Instant| w + std::time::Duration::from_millis(5))
}

/// Create the Job for scheduled time `t`; true when it exists afterwards.
fn create_job(sim: &Simulation, cj: &Value, sched: &Schedule, t: Timestamp) -> bool {
    let Some(info) = sim.cluster.registry.lookup("batch", "v1", "jobs") else {
        return false;
    };
    let (ns, cj_name) = ns_name(cj);
    let name = format!("{cj_name}-{}", t.as_second() / 60);
    let template = &cj["spec"]["jobTemplate"];
    let mut meta = json!({
        "name": name,
        "namespace": ns,
        "labels": template["metadata"]["labels"].clone(),
        "annotations": template["metadata"]["annotations"].clone(),
        "ownerReferences": [{
            "apiVersion": "batch/v1", "kind": "CronJob", "name": cj_name, "uid": cj["metadata"]["uid"],
            "controller": true, "blockOwnerDeletion": true,
        }],
    });
    if !meta["labels"].is_object() {
        meta["labels"] = json!({});
    }
    if !meta["annotations"].is_object() {
        meta["annotations"] = json!({});
    }
    meta["annotations"][SCHEDULED_TIMESTAMP] = json!(sched.local_rfc3339(t));
    let mut spec = template["spec"].clone();
    // The template's selector names no Job yet: the new Job gets its own.
    if spec["manualSelector"] != true
        && let Some(o) = spec.as_object_mut()
    {
        o.remove("selector");
    }
    let job = json!({ "apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec });
    match crate::verbs::create_object(&sim.cluster, &info, &ns, job, false, false) {
        Ok(_) => {
            events::record(
                &sim.cluster,
                cj,
                "Normal",
                "SuccessfulCreate",
                &format!("Created job {name}"),
                "cronjob-controller",
            );
            true
        }
        Err(e) if e.code == 409 => true,
        Err(e) => {
            events::record(
                &sim.cluster,
                cj,
                "Warning",
                "FailedCreate",
                &format!("Error creating job: {}", e.message),
                "cronjob-controller",
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn schedules_follow_their_zone() {
        let s = Schedule::parse("30 9 * * *", Some("Asia/Shanghai")).unwrap();
        // 09:30 in Shanghai is 01:30 UTC.
        assert_eq!(
            s.next_after(t("2026-12-06T00:00:00Z")),
            Some(t("2026-12-06T01:30:00Z"))
        );
        assert_eq!(
            s.local_rfc3339(t("2026-12-06T01:30:00Z")),
            "2026-12-06T09:30:00+08:00"
        );
        let utc = Schedule::parse("*/15 * * * *", None).unwrap();
        assert_eq!(
            utc.most_recent(t("2026-12-06T00:00:00Z"), t("2026-12-06T00:50:00Z")),
            Some((t("2026-12-06T00:45:00Z"), 3))
        );
        assert_eq!(
            utc.most_recent(t("2026-12-06T00:45:00Z"), t("2026-12-06T00:50:00Z")),
            None
        );
    }

    #[test]
    fn bad_schedules_and_zones_are_refused() {
        assert!(matches!(
            Schedule::parse("* * * *", None),
            Err(ScheduleError::Schedule(_))
        ));
        assert!(matches!(
            Schedule::parse("0 0 0 * * *", None),
            Err(ScheduleError::Schedule(_))
        ));
        assert!(matches!(
            Schedule::parse("* * * * *", Some("Mars/Olympus")),
            Err(ScheduleError::TimeZone(_))
        ));
        assert!(Schedule::parse("@hourly", None).is_ok());
        assert!(Schedule::parse("@midnight", None).is_ok());
    }
}
