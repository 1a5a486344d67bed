//! The suite's image runs in the cluster: the sandbox's kubelet runs `ghcr.io/labring/kubectl-sealos:*`
//! from the built binaries, a Job runs `kubectl-sealos-health check` with its ServiceAccount's
//! in-cluster credentials, and RBAC decides what it may read — as on a real cluster.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use sealos_e2e::{Output, bin_dir, run};
use sealos_sandbox::kubelet::RunImage;
use sealos_sandbox::{Sandbox, SandboxOptions};
use serde_json::Value;

const IMAGE: &str = "ghcr.io/labring/kubectl-sealos:0.1.0";

fn kubectl(sb: &Sandbox, args: &[&str]) -> Output {
    let home = sb.kubeconfig_path().parent().unwrap().to_path_buf();
    run(Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", sb.kubeconfig_path())
        .env("HOME", home))
}

fn condition(job: &Value, kind: &str) -> bool {
    job["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == kind && c["status"] == "True")
    })
}

/// Waits (bounded) until the Job has `Complete` or `Failed`; which one is the caller's to judge.
async fn finished(sb: &Sandbox, namespace: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(job) = sb.object("batch", "jobs", namespace, "hello")
            && (condition(&job, "Complete") || condition(&job, "Failed"))
        {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "the Job in {namespace} never finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A namespace whose `default` ServiceAccount may get/list `resources` cluster-wide.
fn account(sb: &Sandbox, namespace: &str, resources: &str) {
    kubectl(sb, &["create", "namespace", namespace]).expect_code(0);
    kubectl(
        sb,
        &["-n", namespace, "create", "serviceaccount", "default"],
    )
    .expect_code(0);
    kubectl(
        sb,
        &[
            "create",
            "clusterrole",
            namespace,
            "--verb=get,list,watch",
            &format!("--resource={resources}"),
        ],
    )
    .expect_code(0);
    kubectl(
        sb,
        &[
            "create",
            "clusterrolebinding",
            namespace,
            &format!("--clusterrole={namespace}"),
            &format!("--serviceaccount={namespace}:default"),
        ],
    )
    .expect_code(0);
    kubectl(
        sb,
        &[
            "-n",
            namespace,
            "create",
            "job",
            "hello",
            &format!("--image={IMAGE}"),
            "--",
            "kubectl-sealos-health",
            "check",
            "--only",
            "control-plane,controllers",
            "-o",
            "json",
        ],
    )
    .expect_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_check_runs_as_a_job_under_its_service_accounts_rbac() {
    let sb = Sandbox::start(SandboxOptions {
        run_images: vec![RunImage {
            pattern: "ghcr.io/labring/kubectl-sealos:*".into(),
            dir: bin_dir().to_path_buf(),
        }],
        // The Job's retry back-offs (10 s, 20 s, ...) pass a thousand times as fast.
        time_scale: 1000.0,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    account(&sb, "allowed", "deployments.apps,pods");
    account(&sb, "no-pods", "deployments.apps");

    let job = finished(&sb, "allowed").await;
    let logs = kubectl(&sb, &["-n", "allowed", "logs", "job/hello"]);
    assert!(condition(&job, "Complete"), "{job:#}\n{logs}");
    let report: Value =
        serde_json::from_str(&logs.stdout).unwrap_or_else(|e| panic!("{e}\n{logs}"));
    let findings = report["findings"].as_array().unwrap();
    assert!(findings.len() >= 6, "{report:#}");
    assert!(findings.iter().all(|f| f["status"] == "OK"), "{report:#}");

    let job = finished(&sb, "no-pods").await;
    let logs = kubectl(&sb, &["-n", "no-pods", "logs", "job/hello"]);
    assert!(condition(&job, "Failed"), "{job:#}\n{logs}");
    assert!(
        logs.stdout.contains(
            r#"User \"system:serviceaccount:no-pods:default\" cannot list resource \"pods\""#
        ) || logs.stdout.contains(
            r#"User "system:serviceaccount:no-pods:default" cannot list resource "pods""#
        ),
        "the plugin's 403 message is in the Job's logs\n{logs}"
    );
    sb.shutdown().await;
}
