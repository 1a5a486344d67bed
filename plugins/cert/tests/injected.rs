//! The dispatcher's seam: a command run with a client the test built (the sandbox's) and an
//! in-memory output, as `run` hands them over after connecting once.
#![allow(clippy::unwrap_used)]

use clap::Parser;
use kubectl_sealos_cert::{Args, on_cluster};
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
    let mut kube = Kube::from_kubeconfig(sandbox.kubeconfig_path())
        .await
        .unwrap();
    kube.all_namespaces = true;
    let args = Args::try_parse_from(["kubectl-sealos-cert", "check", "-o", "json"]).unwrap();
    let (mut out, printed) = Out::memory(Format::Json);
    let exit = on_cluster(&args.command, &kube, &mut out).await.unwrap();
    let report: Value = serde_json::from_str(&printed.text()).unwrap();
    let row = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["namespace"] == "ns-alice" && r["name"] == "terminal-test-tls")
        .unwrap_or_else(|| panic!("no ns-alice/terminal-test-tls in {report:#}"));
    // Five days left: critical, so the command exits 1.
    assert_eq!(row["verdict"], "critical", "{row:#}");
    assert_eq!(exit, Exit::Problem);
}
