//! `backup schedule` against the sandbox, in-process: a dry run writes nothing, install applies
//! the ServiceAccount, read-only RBAC and CronJob, `list` reads the Jobs' status (schema-checked,
//! exit 1 when the newest run failed), uninstall removes exactly what install made.
#![allow(clippy::unwrap_used)]

mod support;

use sealos_shared::Exit;
use serde_json::{Value, json};
use support::*;

const INSTALL: [&str; 10] = [
    "schedule",
    "install",
    "nightly",
    "-n",
    "backups",
    "--schedule",
    "0 3 * * *",
    "--s3",
    "s3://sealos-backups/prod",
    "--s3-secret=backup-s3",
];

fn labelled(sandbox: &sealos_sandbox::Sandbox) -> Vec<String> {
    let mut found = Vec::new();
    for (group, plural) in [
        ("", "serviceaccounts"),
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"),
        ("batch", "cronjobs"),
    ] {
        for o in sandbox.objects(group, plural, None) {
            if o["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubectl-sealos" {
                found.push(format!(
                    "{plural}/{}/{}",
                    o["metadata"]["namespace"].as_str().unwrap_or(""),
                    o["metadata"]["name"].as_str().unwrap()
                ));
            }
        }
    }
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_list_uninstall() {
    let sb = sandbox("sealos").await;
    sb.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "backups"}}))
        .unwrap();

    // A dry run prints the manifest and sends no write.
    let mark = sb.request_log().len();
    let mut dry = INSTALL.to_vec();
    dry.extend(["--dry-run", "-o", "json"]);
    let (exit, list) = run_json(Some(&sb), &dry).await;
    assert_eq!(exit, Exit::Ok);
    assert_eq!(list["kind"], "List");
    assert!(
        sb.request_log()
            .since(mark)
            .iter()
            .all(|r| r.method == "GET")
    );
    assert!(labelled(&sb).is_empty());

    let audit = tempfile::tempdir().unwrap();
    let audit_log = audit.path().join("audit.jsonl");
    let mut install = INSTALL.to_vec();
    let flag = format!("--audit-log={}", audit_log.display());
    install.push(&flag);
    let (result, out) = run(Some(&sb), &install).await;
    assert_eq!(result.unwrap(), Exit::Ok, "{out}");
    assert!(
        out.contains("cronjob.batch/nightly serverside-applied"),
        "{out}"
    );
    let made = labelled(&sb);
    assert_eq!(
        made,
        [
            "clusterrolebindings//kubectl-sealos:backups:nightly",
            "clusterroles//kubectl-sealos:backups:nightly",
            "cronjobs/backups/nightly",
            "rolebindings/istio-system/kubectl-sealos:backups:nightly",
            "rolebindings/sealos-system/kubectl-sealos:backups:nightly",
            "roles/istio-system/kubectl-sealos:backups:nightly",
            "roles/sealos-system/kubectl-sealos:backups:nightly",
            "serviceaccounts/backups/nightly",
        ]
    );
    let audited = std::fs::read_to_string(&audit_log).unwrap();
    assert_eq!(audited.lines().count(), made.len());

    // Runs as the controllers would leave them: a manual one that failed, an older success.
    let cron_job = sb
        .object("batch", "cronjobs", "backups", "nightly")
        .unwrap();
    let uid = cron_job["metadata"]["uid"].as_str().unwrap();
    for (name, created, condition, manual) in [
        (
            "nightly-29000000",
            "2026-12-05T03:00:00Z",
            "Complete",
            false,
        ),
        ("nightly-manual", "2026-12-06T09:00:00Z", "Failed", true),
    ] {
        let mut job = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "backups",
                "labels": cron_job["spec"]["jobTemplate"]["metadata"]["labels"].clone(),
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly",
                    "uid": uid, "controller": true}]},
            "spec": cron_job["spec"]["jobTemplate"]["spec"].clone(),
            "status": {"conditions": [{"type": condition, "status": "True",
                "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit",
                "lastTransitionTime": created}]}
        });
        if manual {
            job["metadata"]["annotations"] = json!({"cronjob.kubernetes.io/instantiate": "manual"});
        }
        let stored = sb.create(job).unwrap();
        // Creation time is the server's; set it as the controllers' history would have it.
        sb.modify("batch", "jobs", "backups", name, |j| {
            j["metadata"]["creationTimestamp"] = json!(created);
        })
        .unwrap();
        assert!(stored["metadata"]["uid"].is_string());
    }
    let (exit, report) = run_json(
        Some(&sb),
        &["schedule", "list", "-n", "backups", "-o", "json"],
    )
    .await;
    assert_eq!(exit, Exit::Problem, "the newest run failed: {report:#}");
    assert_schema("schedule-list", &report);
    let schedule = &report["schedules"][0];
    assert_eq!(schedule["destination"], "s3://sealos-backups/prod/");
    assert_eq!(schedule["keep"], "14");
    let runs: Vec<(&str, &str, &str)> = schedule["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["job"].as_str().unwrap(),
                r["trigger"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        runs,
        [
            ("nightly-manual", "manual", "failed"),
            ("nightly-29000000", "scheduled", "succeeded")
        ]
    );
    let (result, table) = run(Some(&sb), &["schedule", "list", "-A"]).await;
    assert_eq!(result.unwrap(), Exit::Problem);
    assert!(
        table.contains("nightly-manual: BackoffLimitExceeded"),
        "{table}"
    );

    // Uninstall: what install made goes; the Namespace and everything else stay.
    let before: Value = json!(sb.objects("", "secrets", None).len());
    let (result, out) = run(
        Some(&sb),
        &["schedule", "uninstall", "nightly", "-n", "backups", &flag],
    )
    .await;
    assert_eq!(result.unwrap(), Exit::Ok, "{out}");
    assert_eq!(out.lines().count(), made.len(), "{out}");
    assert!(labelled(&sb).is_empty(), "{:?}", labelled(&sb));
    assert_eq!(json!(sb.objects("", "secrets", None).len()), before);
    assert!(sb.object("", "namespaces", "", "backups").is_some());
}
