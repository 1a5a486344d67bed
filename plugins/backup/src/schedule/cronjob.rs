//! The CronJob of a schedule: `kubectl-sealos-backup create --s3 ... --prune-keep N` in the
//! suite's image, restricted, under the schedule's own ServiceAccount.

use sealos_shared::install::pod::{self, Resources};
use serde_json::{Value, json};

use super::install::Plan;

/// The container's name, as `kubectl logs -c` takes it.
pub const CONTAINER: &str = "backup";
/// The binary the container runs (on the image's PATH).
pub const PROGRAM: &str = "kubectl-sealos-backup";

/// A backup streams the archive to S3 a part at a time (8 MiB parts): memory does not grow with
/// the cluster, but parts and the gzip and age buffers need more than the kit's default.
fn resources() -> Resources {
    Resources {
        cpu_request: "50m".into(),
        memory_request: "64Mi".into(),
        cpu_limit: "1".into(),
        memory_limit: "256Mi".into(),
    }
}

pub fn cron_job(plan: &Plan) -> Value {
    let workload = &plan.workload;
    let mut container = pod::container(
        CONTAINER,
        &plan.image,
        PROGRAM,
        &plan.command,
        Vec::new(),
        &resources(),
    );
    // Every key of the Secret becomes a variable: the AWS chain reads them, install never does.
    container["envFrom"] = json!([{"secretRef": {"name": plan.secret}}]);
    let mut spec = json!({
        "schedule": plan.schedule,
        // Two runs at once would only race each other's prune.
        "concurrencyPolicy": "Forbid",
        "suspend": plan.suspend,
        "successfulJobsHistoryLimit": plan.history,
        "failedJobsHistoryLimit": plan.history,
        "jobTemplate": {
            "metadata": {"labels": workload.labels()},
            "spec": {
                "backoffLimit": plan.retries,
                "activeDeadlineSeconds": plan.active_deadline_seconds,
                "template": pod::pod_template(workload, container, "Never"),
            }
        }
    });
    if let Some(zone) = &plan.time_zone {
        spec["timeZone"] = json!(zone);
    }
    json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": workload.metadata(&workload.name, Some(&workload.namespace)),
        "spec": spec,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::install::{InstallArgs, create_args, manifest};
    use clap::Parser;
    use sealos_shared::install::MANAGED_BY;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        install: InstallArgs,
    }

    /// `install nightly` with the required flags, `extra` replacing them where it names them.
    fn plan(extra: &[&str]) -> sealos_shared::Result<super::Plan> {
        let mut argv = vec!["x", "nightly"];
        for (flag, value) in [
            ("--schedule", "0 3 * * *"),
            ("--s3", "s3://sealos-backups/prod"),
            ("--s3-secret", "backup-s3"),
        ] {
            if !extra.contains(&flag) {
                argv.extend([flag, value]);
            }
        }
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().install.plan("backups")
    }

    #[test]
    fn the_cron_job_is_forbid_bounded_restricted_and_names_no_credential() {
        let plan = plan(&[
            "--time-zone",
            "UTC",
            "--keep",
            "5",
            "--include",
            "istio,certificates",
            "--exclude-secrets",
        ])
        .unwrap();
        let m = manifest(&plan).unwrap();
        let kinds: Vec<&str> = m
            .objects
            .iter()
            .map(|o| o["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "ServiceAccount",
                "Role",
                "RoleBinding",
                "ClusterRole",
                "ClusterRoleBinding",
                "CronJob"
            ]
        );
        assert!(
            m.objects
                .iter()
                .all(|o| o["metadata"]["labels"][MANAGED_BY] == "kubectl-sealos")
        );
        let cj = m.objects.last().unwrap();
        let spec = &cj["spec"];
        assert_eq!(spec["schedule"], "0 3 * * *");
        assert_eq!(spec["timeZone"], "UTC");
        assert_eq!(spec["concurrencyPolicy"], "Forbid");
        assert_eq!(spec["successfulJobsHistoryLimit"], 3);
        let job = &spec["jobTemplate"]["spec"];
        assert_eq!(job["activeDeadlineSeconds"], 3600);
        assert_eq!(job["backoffLimit"], 1);
        assert_eq!(
            spec["jobTemplate"]["metadata"]["labels"][MANAGED_BY],
            "kubectl-sealos"
        );
        let pod = &job["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], "nightly");
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        let c = &pod["containers"][0];
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(c["command"][0], "kubectl-sealos-backup");
        assert!(
            c["image"]
                .as_str()
                .unwrap()
                .starts_with("ghcr.io/labring/kubectl-sealos:")
        );
        assert_eq!(c["envFrom"][0]["secretRef"]["name"], "backup-s3");
        assert!(c.get("env").is_none());
        let text = serde_json::to_string(&m.to_list()).unwrap();
        assert!(!text.contains("AWS_SECRET_ACCESS_KEY"), "{text}");
        // The pod's arguments parse back to the same backup.
        let args: Vec<String> = serde_json::from_value(c["args"].clone()).unwrap();
        let create = create_args(&args).unwrap();
        assert_eq!(create.s3.as_deref(), Some("s3://sealos-backups/prod/"));
        assert_eq!(create.prune_keep, Some(5));
        assert!(create.selection.exclude_secrets);
        assert_eq!(create.selection.include.len(), 2);
    }

    #[test]
    fn bad_input_is_refused_before_anything_is_sent() {
        for (extra, why) in [
            (
                &["--schedule", "61 * * * *"][..],
                "--schedule \"61 * * * *\": minute",
            ),
            (&["--time-zone", "Local"], "--time-zone \"Local\""),
            (&["--s3", "bucket/prefix"], "not an s3://BUCKET/PREFIX URL"),
            (
                &["--s3-secret", "A_B"],
                "--s3-secret \"A_B\" is not a Secret name",
            ),
            (&["--namespaces", "Bad_NS"], "--namespaces \"Bad_NS\""),
            (&["--resources", "orders"], "never backed up"),
            (&["--encrypt-to", "age1nope"], "age1nope"),
        ] {
            let err = plan(extra).unwrap_err().to_string();
            assert!(err.contains(why), "{extra:?}: {err}");
        }
        let long = "x".repeat(53);
        let err = Cli::try_parse_from([
            "x",
            long.as_str(),
            "--schedule",
            "@daily",
            "--s3",
            "s3://b",
            "--s3-secret",
            "s",
        ])
        .unwrap()
        .install
        .plan("backups")
        .unwrap_err();
        assert!(err.to_string().contains("at most 52"), "{err}");
        assert!(
            Cli::try_parse_from([
                "x",
                "--schedule",
                "@daily",
                "--s3",
                "s3://b",
                "--s3-secret",
                "s",
                "--keep",
                "0"
            ])
            .is_err()
        );
    }
}
