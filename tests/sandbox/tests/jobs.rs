//! batch/v1 Jobs and CronJobs through the real kubectl, their pods run by the sandbox's kubelet
//! as local processes (scripts from `common::workloads`).
#![allow(clippy::unwrap_used)]

mod common;

use common::workloads::{self, IMAGE};
use common::{Kubectl, header, wait_for};
use serde_json::{Value, json};

fn condition(obj: &Value, t: &str) -> Option<Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == t && c["status"] == "True")
        .cloned()
}

fn job(name: &str, spec: Value) -> String {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"}, "spec": spec})
        .to_string()
}

#[tokio::test]
async fn indexed_job_runs_each_index_exactly_once() {
    let dir = workloads::image_dir();
    let sb = workloads::sandbox(dir.path(), 1.0).await;
    let k = Kubectl::new(&sb);
    let manifest = job(
        "indexed",
        json!({"completions": 3, "parallelism": 2, "completionMode": "Indexed", "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "w", "image": IMAGE, "command": ["echo-index"]}]}}}),
    );
    k.ok_stdin(&["apply", "-f", "-"], &manifest).await;
    let done = wait_for("the indexed Job to complete", || {
        sb.object("batch", "jobs", "default", "indexed")
            .filter(|j| condition(j, "Complete").is_some())
    })
    .await;
    assert_eq!(done["status"]["succeeded"], 3, "{done}");
    assert_eq!(done["status"]["completedIndexes"], "0-2", "{done}");
    assert_eq!(
        condition(&done, "Complete").unwrap()["reason"],
        "CompletionsReached"
    );
    let pods = sb.objects("", "pods", Some("default"));
    assert_eq!(pods.len(), 3, "one pod per index, none repeated");
    let mut seen = vec![];
    for p in &pods {
        assert_eq!(p["status"]["phase"], "Succeeded", "{p}");
        let name = p["metadata"]["name"].as_str().unwrap();
        let out = k.ok(&["logs", name]).await;
        let index = workloads::number_after(&out, "index=").unwrap();
        assert_eq!(
            p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"],
            index.to_string()
        );
        assert!(name.starts_with(&format!("indexed-{index}-")), "{name}");
        seen.push(index);
    }
    seen.sort();
    assert_eq!(seen, vec![0, 1, 2]);
    let table = k.ok(&["get", "jobs"]).await;
    assert_eq!(
        header(&table),
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    );
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()[..3]
            == ["indexed", "Complete", "3/3"],
        "{table}"
    );
    // kubectl's default cascade takes the pods with the Job.
    k.ok(&["delete", "job", "indexed"]).await;
    wait_for("the Job's pods to go", || {
        sb.objects("", "pods", Some("default"))
            .is_empty()
            .then_some(())
    })
    .await;
    sb.shutdown().await;
}

#[tokio::test]
async fn failing_job_stops_at_its_backoff_limit() {
    let dir = workloads::image_dir();
    // Back-offs of 10 s and 20 s pass in a tenth and a fifth of a second.
    let sb = workloads::sandbox(dir.path(), 100.0).await;
    let k = Kubectl::new(&sb);
    let manifest = job(
        "flaky",
        json!({"backoffLimit": 2, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "w", "image": IMAGE, "command": ["fail"]}]}}}),
    );
    k.ok_stdin(&["apply", "-f", "-"], &manifest).await;
    let failed = wait_for("the Job to fail", || {
        sb.object("batch", "jobs", "default", "flaky")
            .filter(|j| condition(j, "Failed").is_some())
    })
    .await;
    let cond = condition(&failed, "Failed").unwrap();
    assert_eq!(cond["reason"], "BackoffLimitExceeded");
    assert_eq!(
        cond["message"],
        "Job has reached the specified backoff limit"
    );
    assert_eq!(
        failed["status"]["failed"], 3,
        "backoffLimit 2 allows 3 tries"
    );
    let pods = sb.objects("", "pods", Some("default"));
    assert_eq!(pods.len(), 3);
    for p in &pods {
        assert_eq!(p["status"]["phase"], "Failed");
        let term = &p["status"]["containerStatuses"][0]["state"]["terminated"];
        assert_eq!(term["exitCode"], 3, "{p}");
        assert_eq!(term["reason"], "Error");
    }
    let logs = k.ok(&["logs", "job/flaky"]).await;
    assert!(logs.contains("failing pid="), "{logs}");
    let table = k.ok(&["get", "job", "flaky"]).await;
    assert!(table.contains("Failed"), "{table}");
    sb.shutdown().await;
}

fn cronjob(name: &str, policy: &str, command: &str, extra_env: Value) -> String {
    json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": "default"},
        "spec": {"schedule": "* * * * *", "concurrencyPolicy": policy, "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "w", "image": IMAGE, "command": [command], "env": extra_env}]}}}}}})
    .to_string()
}

fn minute_of(job: &Value) -> u64 {
    job["metadata"]["name"]
        .as_str()
        .and_then(|n| n.rsplit('-').next())
        .and_then(|m| m.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn cronjob_runs_on_the_accelerated_clock_and_keeps_its_history() {
    let dir = workloads::image_dir();
    // A minute of schedule every half second.
    let sb = workloads::sandbox(dir.path(), 120.0).await;
    let k = Kubectl::new(&sb);
    k.ok_stdin(
        &["apply", "-f", "-"],
        &cronjob("tick", "Allow", "echo-index", json!([])),
    )
    .await;
    // Five schedules have passed once lastScheduleTime is four minutes after the first Job's.
    let first = wait_for("the first scheduled Job", || {
        sb.objects("batch", "jobs", Some("default"))
            .first()
            .cloned()
    })
    .await;
    let first_minute = minute_of(&first);
    let cj = wait_for("five schedules", || {
        sb.object("batch", "cronjobs", "default", "tick")
            .filter(|c| {
                c["status"]["lastScheduleTime"]
                    .as_str()
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    .is_some_and(|t| t.as_second() as u64 / 60 >= first_minute + 4)
            })
    })
    .await;
    let last: jiff::Timestamp = cj["status"]["lastScheduleTime"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(last.as_second() % 60, 0, "schedules fall on the minute");
    let jobs = wait_for("finished Jobs beyond the history limit to go", || {
        let jobs = sb.objects("batch", "jobs", Some("default"));
        let complete = jobs
            .iter()
            .filter(|j| condition(j, "Complete").is_some())
            .count();
        (complete <= 3 && jobs.len() >= 2).then_some(jobs)
    })
    .await;
    for j in &jobs {
        assert_eq!(j["metadata"]["ownerReferences"][0]["kind"], "CronJob");
        let stamp = j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
            .as_str()
            .unwrap();
        let t: jiff::Timestamp = stamp.parse().unwrap();
        assert_eq!(t.as_second() as u64 / 60, minute_of(j), "{stamp}");
    }
    assert!(
        !jobs.iter().any(|j| minute_of(j) == first_minute),
        "the oldest Job went with the history limit"
    );
    let table = k.ok(&["get", "cronjobs"]).await;
    assert_eq!(
        header(&table),
        [
            "NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"
        ]
    );
    assert!(table.contains("* * * * *"), "{table}");
    // Both kinds in one request, as `kubectl get jobs,cronjobs` asks.
    let both = k.ok(&["get", "jobs,cronjobs"]).await;
    assert!(both.contains("cronjob.batch/tick"), "{both}");
    assert!(both.contains("job.batch/tick-"), "{both}");
    sb.shutdown().await;
}

#[tokio::test]
async fn forbid_waits_for_the_running_job() {
    let dir = workloads::image_dir();
    let release = dir.path().join("release");
    let sb = workloads::sandbox(dir.path(), 120.0).await;
    let k = Kubectl::new(&sb);
    let env = json!([{"name": "RELEASE", "value": release.display().to_string()}]);
    k.ok_stdin(
        &["apply", "-f", "-"],
        &cronjob("serial", "Forbid", "wait-file", env),
    )
    .await;
    let first = wait_for("the first Job", || {
        sb.objects("batch", "jobs", Some("default"))
            .first()
            .cloned()
    })
    .await;
    // The controller looks again at every schedule and declines while the first one runs.
    wait_for("two schedules declined", || {
        let declined = sb
            .objects("", "events", Some("default"))
            .iter()
            .filter(|e| e["reason"] == "JobAlreadyActive")
            .count();
        (declined >= 2).then_some(())
    })
    .await;
    assert_eq!(
        sb.objects("batch", "jobs", Some("default")).len(),
        1,
        "Forbid starts nothing while a Job runs"
    );
    let cj = sb.object("batch", "cronjobs", "default", "serial").unwrap();
    assert_eq!(cj["status"]["active"][0]["name"], first["metadata"]["name"]);
    std::fs::write(&release, b"").unwrap();
    let second = wait_for("the next Job after the first finished", || {
        let jobs = sb.objects("batch", "jobs", Some("default"));
        (jobs.len() >= 2).then_some(jobs)
    })
    .await;
    let done = sb
        .object(
            "batch",
            "jobs",
            "default",
            first["metadata"]["name"].as_str().unwrap(),
        )
        .unwrap();
    assert!(condition(&done, "Complete").is_some(), "{done}");
    assert!(second.iter().map(minute_of).max() > Some(minute_of(&first)));
    sb.shutdown().await;
}

#[tokio::test]
async fn create_job_from_cronjob() {
    let dir = workloads::image_dir();
    let sb = workloads::sandbox(dir.path(), 1.0).await;
    let k = Kubectl::new(&sb);
    let mut cj: Value =
        serde_json::from_str(&cronjob("nightly", "Forbid", "echo-index", json!([]))).unwrap();
    cj["spec"]["suspend"] = json!(true);
    cj["spec"]["schedule"] = json!("30 2 * * *");
    cj["spec"]["timeZone"] = json!("Asia/Shanghai");
    k.ok_stdin(&["apply", "-f", "-"], &cj.to_string()).await;
    let out = k
        .ok(&["create", "job", "by-hand", "--from=cronjob/nightly"])
        .await;
    assert!(out.contains("job.batch/by-hand created"), "{out}");
    let job = wait_for("the manual Job to complete", || {
        sb.object("batch", "jobs", "default", "by-hand")
            .filter(|j| condition(j, "Complete").is_some())
    })
    .await;
    assert_eq!(
        job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
        "manual"
    );
    assert_eq!(job["metadata"]["ownerReferences"][0]["name"], "nightly");
    let logs = k.ok(&["logs", "job/by-hand"]).await;
    assert!(logs.contains("pid="), "{logs}");
    let table = k.ok(&["get", "cronjob", "nightly"]).await;
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        row[..8],
        ["nightly", "30", "2", "*", "*", "*", "Asia/Shanghai", "True"]
    );
    // kubectl's own generator (sent as protobuf) makes the same kind of object.
    let out = k
        .ok(&[
            "create",
            "cronjob",
            "hourly",
            &format!("--image={IMAGE}"),
            "--schedule=0 * * * *",
            "--",
            "echo-index",
        ])
        .await;
    assert!(out.contains("cronjob.batch/hourly created"), "{out}");
    let hourly = sb.object("batch", "cronjobs", "default", "hourly").unwrap();
    assert_eq!(hourly["spec"]["schedule"], "0 * * * *");
    assert_eq!(
        hourly["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"],
        json!(["echo-index"])
    );
    // A schedule the API server cannot read is refused.
    let bad = k
        .run_stdin(
            &["apply", "-f", "-"],
            Some(&cronjob("broken", "Allow", "x", json!([])).replace("* * * * *", "61 * * * *")),
        )
        .await;
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr.contains("spec.schedule: Invalid value"),
        "{}",
        bad.stderr
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn deadlines_suspension_and_ttl() {
    let dir = workloads::image_dir();
    // 100 simulated seconds pass in one real second.
    let sb = workloads::sandbox(dir.path(), 100.0).await;
    let k = Kubectl::new(&sb);
    let spec = |command: &str, extra: Value| {
        let mut s = json!({"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "w", "image": IMAGE, "command": [command]}]}}});
        for (key, v) in extra.as_object().unwrap() {
            s[key] = v.clone();
        }
        s
    };
    k.ok_stdin(
        &["apply", "-f", "-"],
        &job("slow", spec("serve", json!({"activeDeadlineSeconds": 100}))),
    )
    .await;
    k.ok_stdin(
        &["apply", "-f", "-"],
        &job(
            "brief",
            spec("echo-index", json!({"ttlSecondsAfterFinished": 100})),
        ),
    )
    .await;
    k.ok_stdin(
        &["apply", "-f", "-"],
        &job("paused", spec("echo-index", json!({"suspend": true}))),
    )
    .await;
    let slow = wait_for("the deadline to fail the Job", || {
        sb.object("batch", "jobs", "default", "slow")
            .filter(|j| condition(j, "Failed").is_some())
    })
    .await;
    assert_eq!(
        condition(&slow, "Failed").unwrap()["reason"],
        "DeadlineExceeded"
    );
    wait_for("the Job's running pod to be deleted", || {
        sb.objects("", "pods", Some("default"))
            .iter()
            .all(|p| p["metadata"]["labels"]["job-name"] != "slow")
            .then_some(())
    })
    .await;
    wait_for("the finished Job to expire", || {
        sb.object("batch", "jobs", "default", "brief")
            .is_none()
            .then_some(())
    })
    .await;
    let paused = sb.object("batch", "jobs", "default", "paused").unwrap();
    assert_eq!(
        condition(&paused, "Suspended").unwrap()["reason"],
        "JobSuspended"
    );
    assert!(
        sb.objects("", "pods", Some("default"))
            .iter()
            .all(|p| p["metadata"]["labels"]["job-name"] != "paused"),
        "a suspended Job runs nothing"
    );
    let table = k.ok(&["get", "job", "paused"]).await;
    assert!(table.contains("Suspended"), "{table}");
    k.ok(&[
        "patch",
        "job",
        "paused",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ])
    .await;
    let resumed = wait_for("the resumed Job to complete", || {
        sb.object("batch", "jobs", "default", "paused")
            .filter(|j| condition(j, "Complete").is_some())
    })
    .await;
    let suspended = resumed["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Suspended")
        .unwrap();
    assert_eq!(suspended["status"], "False");
    assert_eq!(suspended["reason"], "JobResumed");
    sb.shutdown().await;
}

#[tokio::test]
async fn replace_deletes_the_running_job() {
    let dir = workloads::image_dir();
    let sb = workloads::sandbox(dir.path(), 120.0).await;
    let k = Kubectl::new(&sb);
    k.ok_stdin(
        &["apply", "-f", "-"],
        &cronjob("latest", "Replace", "serve", json!([])),
    )
    .await;
    let first = wait_for("the first Job", || {
        sb.objects("batch", "jobs", Some("default"))
            .first()
            .cloned()
    })
    .await;
    let first_name = first["metadata"]["name"].as_str().unwrap().to_string();
    let next = wait_for("a later Job in place of the first", || {
        let jobs = sb.objects("batch", "jobs", Some("default"));
        (jobs.len() == 1 && jobs[0]["metadata"]["name"] != first_name.as_str())
            .then(|| jobs[0].clone())
    })
    .await;
    assert!(minute_of(&next) > minute_of(&first));
    assert!(
        sb.objects("", "events", Some("default")).iter().any(|e| {
            e["reason"] == "SuccessfulDelete" && e["message"] == format!("Deleted job {first_name}")
        }),
        "the replaced Job's deletion is recorded"
    );
    sb.shutdown().await;
}
