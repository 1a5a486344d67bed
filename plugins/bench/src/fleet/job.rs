//! The Indexed Job that runs the workers: one pod per index, no API credentials, the restricted
//! Pod Security profile, spread across nodes when asked, labelled with the run, and cleaned up
//! by TTL should the coordinator die before it deletes the Job itself.

use k8s_openapi::api::batch::v1::Job;
use sealos_shared::install::pod;
use serde_json::json;

/// The label every object of a run carries, valued with the run's id.
pub const RUN_LABEL: &str = "bench.sealos.io/run";
/// The container's name in each worker pod.
pub const CONTAINER: &str = "worker";
/// Where each worker writes its result (the kubelet's default `terminationMessagePath`).
pub const MESSAGE_PATH: &str = "/dev/termination-log";
/// How long a finished Job stays if the coordinator did not delete it (it died, or lost the
/// API server): long enough to read the results by hand, short enough to leave nothing behind.
pub const TTL_SECONDS: i32 = 600;
/// Seconds a deleted worker has to stop its load and write what it measured.
pub const GRACE_SECONDS: i64 = 10;

/// What the Job is made of.
pub struct JobSpec<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub run: &'a str,
    pub image: &'a str,
    pub workers: u32,
    pub node_spread: bool,
    /// The worker's command line after the program name.
    pub args: Vec<String>,
}

/// The Job's name for a run id.
pub fn job_name(run: &str) -> String {
    format!("sealos-bench-{run}")
}

pub fn job(spec: &JobSpec<'_>) -> Result<Job, String> {
    let labels = json!({
        "app.kubernetes.io/name": "kubectl-sealos-bench",
        "app.kubernetes.io/component": "load-worker",
        "app.kubernetes.io/managed-by": "kubectl-sealos",
        RUN_LABEL: spec.run,
    });
    let mut pod = json!({
        "restartPolicy": "Never",
        // The workers only send HTTP: no token, no service links, nothing to read the API with.
        "automountServiceAccountToken": false,
        "enableServiceLinks": false,
        "terminationGracePeriodSeconds": GRACE_SECONDS,
        "securityContext": pod::pod_security_context(),
        "containers": [{
            "name": CONTAINER,
            "image": spec.image,
            "command": ["kubectl-sealos-bench"],
            "args": spec.args,
            "terminationMessagePath": MESSAGE_PATH,
            // A worker that dies before writing its result leaves its last log lines instead.
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "securityContext": pod::container_security_context(),
        }],
    });
    if spec.node_spread {
        pod["topologySpreadConstraints"] = json!([{
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": { "matchLabels": { RUN_LABEL: spec.run } },
        }]);
    }
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": spec.name,
            "namespace": spec.namespace,
            "labels": labels,
        },
        "spec": {
            "completionMode": "Indexed",
            "completions": spec.workers,
            "parallelism": spec.workers,
            // A failed worker is reported by the coordinator, not retried: a replacement would
            // start after the agreed instant and could only refuse to run. The limit is high so
            // that failures do not fail the Job, which would stop the healthy workers too.
            "backoffLimit": spec.workers.saturating_mul(2).saturating_add(6),
            "ttlSecondsAfterFinished": TTL_SECONDS,
            "template": {
                "metadata": { "labels": labels },
                "spec": pod,
            },
        },
    });
    serde_json::from_value(job).map_err(|e| format!("build the Job: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_job_is_indexed_tokenless_restricted_and_labelled() {
        let spec = JobSpec {
            name: "sealos-bench-abc",
            namespace: "load",
            run: "abc",
            image: "ghcr.io/labring/kubectl-sealos:0.1.0",
            workers: 3,
            node_spread: true,
            args: vec!["run".into(), "http://x/".into()],
        };
        let job = serde_json::to_value(job(&spec).unwrap()).unwrap();
        let s = &job["spec"];
        assert_eq!(s["completionMode"], "Indexed");
        assert_eq!(s["completions"], 3);
        assert_eq!(s["parallelism"], 3);
        assert_eq!(s["ttlSecondsAfterFinished"], TTL_SECONDS);
        let pod = &s["template"]["spec"];
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        let c = &pod["containers"][0];
        assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
        assert_eq!(c["terminationMessagePolicy"], "FallbackToLogsOnError");
        assert_eq!(c["args"][1], "http://x/");
        assert_eq!(
            pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"][RUN_LABEL],
            "abc"
        );
        assert_eq!(s["template"]["metadata"]["labels"][RUN_LABEL], "abc");
        let spread = JobSpec {
            node_spread: false,
            ..spec
        };
        let built = serde_json::to_value(super::job(&spread).unwrap()).unwrap();
        assert!(built["spec"]["template"]["spec"]["topologySpreadConstraints"].is_null());
    }
}
