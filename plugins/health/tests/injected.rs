//! The dispatcher's seam: a command run with a client the test built (the sandbox's) and an
//! in-memory output, as `run` hands them over after connecting once.
#![allow(clippy::unwrap_used)]

use clap::Parser;
use kubectl_sealos_health::{Args, execute};
use sealos_sandbox::{Sandbox, SandboxOptions};
use sealos_shared::Exit;
use sealos_shared::connection::Kube;
use sealos_shared::output::{Format, Out};
use serde_json::Value;

#[tokio::test]
async fn check_runs_on_the_client_it_is_given() {
    let sandbox = Sandbox::start(SandboxOptions::scenario("sealos"))
        .await
        .unwrap();
    let kube = Kube::from_kubeconfig(sandbox.kubeconfig_path())
        .await
        .unwrap();
    let args =
        Args::try_parse_from(["kubectl-sealos-health", "--skip", "traffic", "-o", "json"]).unwrap();
    let (mut out, printed) = Out::memory(Format::Json);
    let exit = execute(&args, Some(&kube), &mut out).await.unwrap();
    let report: Value = serde_json::from_str(&printed.text()).unwrap();
    assert_eq!(report["status"], "FAIL", "{report:#}");
    let messages: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("certificate expires in 5 days")),
        "{messages:#?}"
    );
    assert_eq!(exit, Exit::Problem);
}
