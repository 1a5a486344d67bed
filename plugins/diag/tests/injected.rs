//! The dispatcher's seam: a command run with a client the test built (the sandbox's) and an
//! in-memory output, as `run` hands them over after connecting once.
#![allow(clippy::unwrap_used)]

use clap::Parser;
use kubectl_sealos_diag::{Args, execute};
use sealos_sandbox::{Sandbox, SandboxOptions};
use sealos_shared::Exit;
use sealos_shared::connection::Kube;
use sealos_shared::output::{Format, Out};
use serde_json::Value;

#[tokio::test]
async fn certificates_run_on_the_client_they_are_given() {
    let sandbox = Sandbox::start(SandboxOptions::scenario("sealos"))
        .await
        .unwrap();
    let kube = Kube::from_kubeconfig(sandbox.kubeconfig_path())
        .await
        .unwrap();
    let args = Args::try_parse_from(["kubectl-sealos-diag", "certificates", "-o", "json"]).unwrap();
    let (mut out, printed) = Out::memory(Format::Json);
    let exit = execute(&args.command, &kube, &mut out).await.unwrap();
    let report: Value = serde_json::from_str(&printed.text()).unwrap();
    let problem = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["namespace"] == "ns-alice" && p["name"] == "terminal-test-tls")
        .unwrap_or_else(|| panic!("no ns-alice/terminal-test-tls in {report:#}"));
    assert_eq!(problem["verdict"], "critical", "{problem:#}");
    assert_eq!(exit, Exit::Problem);
}
