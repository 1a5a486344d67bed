//! `schedule list`: the installed schedules (CronJobs with the suite's labels) and their runs
//! (the Jobs they own, scheduled or made with `kubectl create job --from=cronjob/NAME`), read
//! from the API server only: no pod is contacted, no log read. Everything read is data: a Job
//! counts as a run of a schedule only through its controller owner reference.

use std::collections::BTreeMap;

use clap::Args;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use sealos_shared::connection::Kube;
use sealos_shared::install::{COMPONENT_LABEL, MANAGED_BY, MANAGER};
use sealos_shared::output::{Format, Out, Severity, Table};
use sealos_shared::{Exit, Result};
use serde::Serialize;

use super::{COMPONENT, arg_value};

#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    /// Report format (wide: every run still kept, not only the newest).
    #[arg(short = 'o', long, default_value = "table", value_parser = sealos_shared::flags::format_parser("-o/--output is the report format"))]
    pub output: Format,
}

/// `schedule list`: the schedules in `namespace` (all with `None`) and their runs.
pub async fn list(
    args: &ListArgs,
    kube: &Kube,
    namespace: Option<&str>,
    out: &mut Out,
) -> Result<Exit> {
    let selector = format!("{MANAGED_BY}={MANAGER},{COMPONENT_LABEL}={COMPONENT}");
    let (cron_jobs, jobs) = tokio::try_join!(
        sealos_shared::list::in_scope::<CronJob>(&kube.client, namespace, Some(&selector)),
        sealos_shared::list::in_scope::<Job>(&kube.client, namespace, Some(&selector)),
    )?;
    let report = collect(&cron_jobs, &jobs);
    let failing = report.schedules.iter().any(Schedule::failing);
    if out.format.is_machine() {
        out.data(&report)?;
    } else {
        render(&report, args.output == Format::Wide, out)?;
    }
    Ok(Exit::problem_if(failing))
}

fn render(report: &Report, wide: bool, out: &mut Out) -> Result<()> {
    if report.schedules.is_empty() {
        return out.line("no backup schedules installed");
    }
    let dash = || "-".to_string();
    let mut table = Table::new([
        "namespace",
        "name",
        "schedule",
        "suspended",
        "destination",
        "keep",
        "last run",
        "status",
        "finished",
    ]);
    for s in &report.schedules {
        let schedule = match &s.time_zone {
            Some(zone) => format!("{} ({zone})", s.schedule),
            None => s.schedule.clone(),
        };
        let last = s.last_run();
        let status = last
            .map(|r| paint(out, r.status))
            .unwrap_or_else(|| "never run".into());
        table.row([
            s.namespace.clone(),
            s.name.clone(),
            schedule,
            if s.suspended { "yes" } else { "no" }.to_string(),
            s.destination.clone().unwrap_or_else(dash),
            s.keep.clone().unwrap_or_else(dash),
            last.map(|r| r.job.clone()).unwrap_or_else(dash),
            status,
            last.and_then(|r| r.finished.clone()).unwrap_or_else(dash),
        ]);
    }
    out.table(&table)?;
    let failed: Vec<&Run> = report
        .schedules
        .iter()
        .filter_map(|s| s.last_run().filter(|_| s.failing()))
        .collect();
    for run in failed {
        out.line(&format!(
            "{}: {}",
            run.job,
            run.reason.as_deref().unwrap_or("failed")
        ))?;
    }
    if wide {
        let mut runs = Table::new([
            "namespace",
            "schedule",
            "job",
            "trigger",
            "status",
            "created",
            "finished",
        ]);
        for s in &report.schedules {
            for r in &s.runs {
                runs.row([
                    s.namespace.clone(),
                    s.name.clone(),
                    r.job.clone(),
                    r.trigger.to_string(),
                    paint(out, r.status),
                    r.created.clone().unwrap_or_else(dash),
                    r.finished.clone().unwrap_or_else(dash),
                ]);
            }
        }
        out.line("")?;
        out.table(&runs)?;
    }
    Ok(())
}

fn paint(out: &Out, status: RunStatus) -> String {
    let severity = match status {
        RunStatus::Succeeded => Severity::Ok,
        RunStatus::Running => Severity::Info,
        RunStatus::Failed => Severity::Fail,
    };
    out.theme.paint(status.as_str(), severity)
}

/// A run's state, from the Job's conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// `Failed=True`: back-off limit or deadline reached.
    Failed,
    /// Neither condition yet.
    Running,
    /// `Complete=True`.
    Succeeded,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Failed => "failed",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
        }
    }
}

/// One Job of a schedule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub job: String,
    /// `scheduled` by the CronJob controller, or `manual` (`kubectl create job --from`).
    pub trigger: &'static str,
    pub status: RunStatus,
    /// When the Job was created (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// When it completed or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// The `Failed` condition's reason and message (`BackoffLimitExceeded: ...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One installed schedule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub namespace: String,
    pub name: String,
    pub schedule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    pub suspended: bool,
    /// The `--s3` the backup writes to, as the CronJob's container says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// `--prune-keep`, as the CronJob's container says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_successful_time: Option<String>,
    /// Its Jobs still there (the history limits keep a few), newest first.
    pub runs: Vec<Run>,
}

impl Schedule {
    /// The newest run, if any is left.
    pub fn last_run(&self) -> Option<&Run> {
        self.runs.first()
    }

    /// Whether the newest run failed: what makes `list` exit 1.
    pub fn failing(&self) -> bool {
        self.last_run()
            .is_some_and(|r| r.status == RunStatus::Failed)
    }
}

/// `schedule list -o json`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Failing first (their newest run failed), then by namespace and name.
    pub schedules: Vec<Schedule>,
}

/// The report from what the lists gave: CronJobs of the backup-schedule component, and Jobs.
pub fn collect(cron_jobs: &[CronJob], jobs: &[Job]) -> Report {
    let mut by_owner: BTreeMap<&str, Vec<Run>> = BTreeMap::new();
    for job in jobs {
        let owner = job
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true) && o.kind == "CronJob");
        if let Some(owner) = owner {
            by_owner.entry(&owner.uid).or_default().push(run(job));
        }
    }
    let mut schedules: Vec<Schedule> = cron_jobs
        .iter()
        .filter(|c| is_backup_schedule(c))
        .map(|c| {
            let uid = c.metadata.uid.as_deref().unwrap_or_default();
            let mut runs = by_owner.remove(uid).unwrap_or_default();
            // RFC 3339 in UTC sorts as text; a Job without a time sorts last.
            runs.sort_by(|a, b| b.created.cmp(&a.created).then(b.job.cmp(&a.job)));
            schedule(c, runs)
        })
        .collect();
    schedules.sort_by(|a, b| {
        b.failing()
            .cmp(&a.failing())
            .then_with(|| a.namespace.cmp(&b.namespace))
            .then_with(|| a.name.cmp(&b.name))
    });
    Report { schedules }
}

fn is_backup_schedule(cron_job: &CronJob) -> bool {
    cron_job
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(COMPONENT_LABEL))
        .is_some_and(|c| c == COMPONENT)
}

fn schedule(cron_job: &CronJob, runs: Vec<Run>) -> Schedule {
    let spec = cron_job.spec.as_ref();
    let status = cron_job.status.as_ref();
    let args = spec
        .and_then(|s| s.job_template.spec.as_ref())
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.first())
        .and_then(|c| c.args.clone())
        .unwrap_or_default();
    let time = |t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
        t.map(|t| t.0.to_string())
    };
    Schedule {
        namespace: cron_job.metadata.namespace.clone().unwrap_or_default(),
        name: cron_job.metadata.name.clone().unwrap_or_default(),
        schedule: spec.map(|s| s.schedule.clone()).unwrap_or_default(),
        time_zone: spec.and_then(|s| s.time_zone.clone()),
        suspended: spec.and_then(|s| s.suspend).unwrap_or(false),
        destination: arg_value(&args, "--s3"),
        keep: arg_value(&args, "--prune-keep"),
        last_schedule_time: time(status.and_then(|s| s.last_schedule_time.as_ref())),
        last_successful_time: time(status.and_then(|s| s.last_successful_time.as_ref())),
        runs,
    }
}

fn run(job: &Job) -> Run {
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let holds = |kind: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == kind && c.status == "True")
    };
    let manual = job
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("cronjob.kubernetes.io/instantiate"))
        .is_some_and(|v| v == "manual");
    let (status, finished, reason) = if let Some(failed) = holds("Failed") {
        let reason = [failed.reason.clone(), failed.message.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": ");
        (
            RunStatus::Failed,
            failed
                .last_transition_time
                .as_ref()
                .map(|t| t.0.to_string()),
            Some(reason).filter(|r| !r.is_empty()),
        )
    } else if let Some(complete) = holds("Complete") {
        let at = job
            .status
            .as_ref()
            .and_then(|s| s.completion_time.as_ref())
            .or(complete.last_transition_time.as_ref());
        (RunStatus::Succeeded, at.map(|t| t.0.to_string()), None)
    } else {
        (RunStatus::Running, None, None)
    };
    Run {
        job: job.metadata.name.clone().unwrap_or_default(),
        trigger: if manual { "manual" } else { "scheduled" },
        status,
        created: job
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string()),
        finished,
        reason,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn cron_job(name: &str, uid: &str) -> CronJob {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "backups", "uid": uid,
                "labels": {"app.kubernetes.io/component": "backup-schedule"}},
            "spec": {"schedule": "0 3 * * *", "timeZone": "Asia/Shanghai",
                "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "backup",
                    "args": ["create", "--s3", "s3://b/p/", "--prune-keep", "7"]}]}}}}},
            "status": {"lastScheduleTime": "2026-12-06T03:00:00Z"}
        }))
        .unwrap()
    }

    fn job(name: &str, owner: &str, created: &str, condition: Option<&str>) -> Job {
        let mut job = json!({
            "metadata": {"name": name, "namespace": "backups", "creationTimestamp": created,
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "x",
                    "uid": owner, "controller": true}]},
            "status": {}
        });
        if let Some(kind) = condition {
            job["status"]["conditions"] = json!([{"type": kind, "status": "True",
                "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit",
                "lastTransitionTime": "2026-12-06T03:01:00Z"}]);
        }
        if name.starts_with("manual") {
            job["metadata"]["annotations"] = json!({"cronjob.kubernetes.io/instantiate": "manual"});
        }
        serde_json::from_value(job).unwrap()
    }

    #[test]
    fn runs_belong_to_their_owner_newest_first_and_failing_schedules_lead() {
        let cron_jobs = [cron_job("a-nightly", "u1"), cron_job("b-hourly", "u2")];
        let jobs = [
            job("a-1", "u1", "2026-12-05T03:00:00Z", Some("Complete")),
            job("manual", "u1", "2026-12-06T09:00:00Z", None),
            job("b-1", "u2", "2026-12-06T03:00:00Z", Some("Failed")),
            job("stranger", "u9", "2026-12-06T03:00:00Z", Some("Failed")),
        ];
        let report = collect(&cron_jobs, &jobs);
        let names: Vec<&str> = report.schedules.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["b-hourly", "a-nightly"]);
        let b = &report.schedules[0];
        assert!(b.failing());
        assert_eq!(
            b.runs[0].reason.as_deref(),
            Some("BackoffLimitExceeded: Job has reached the specified backoff limit")
        );
        let a = &report.schedules[1];
        assert_eq!(a.destination.as_deref(), Some("s3://b/p/"));
        assert_eq!(a.keep.as_deref(), Some("7"));
        assert_eq!(a.time_zone.as_deref(), Some("Asia/Shanghai"));
        let runs: Vec<(&str, &str, RunStatus)> = a
            .runs
            .iter()
            .map(|r| (r.job.as_str(), r.trigger, r.status))
            .collect();
        assert_eq!(
            runs,
            [
                ("manual", "manual", RunStatus::Running),
                ("a-1", "scheduled", RunStatus::Succeeded)
            ]
        );
        assert!(!a.failing());
    }
}
