//! The dispatcher's seam: a command run with a client the test built (the sandbox's) and an
//! in-memory output, as `run` hands them over after connecting once.
#![allow(clippy::unwrap_used)]

use clap::Parser;
use kubectl_sealos_rollout::{Args, execute};
use sealos_sandbox::{Sandbox, SandboxOptions};
use sealos_shared::Exit;
use sealos_shared::connection::Kube;
use sealos_shared::output::{Format, Out};
use serde_json::Value;

#[tokio::test]
async fn status_runs_on_the_client_it_is_given() {
    let sandbox = Sandbox::start(SandboxOptions::scenario("sealos"))
        .await
        .unwrap();
    let kube = Kube::from_kubeconfig(sandbox.kubeconfig_path())
        .await
        .unwrap();
    let args = Args::try_parse_from(["kubectl-sealos-rollout", "status", "-o", "json"]).unwrap();
    let (mut out, printed) = Out::memory(Format::Json);
    let exit = execute(&args.command, &kube, &mut out).await.unwrap();
    assert_eq!(exit, Exit::Ok);
    let report: Value = serde_json::from_str(&printed.text()).unwrap();
    assert_eq!(report["namespace"], "sealos-system", "{report:#}");
    let names: Vec<&str> = report["controllers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(names.contains(&"terminal-controller"), "{names:?}");
}
