//! The dispatcher's seam: a command run with a client the test built (the sandbox's) and an
//! in-memory output, as `run` hands them over after connecting once.
#![allow(clippy::unwrap_used)]

use clap::Parser;
use kubectl_sealos_bench::{Args, execute};
use sealos_sandbox::{Sandbox, SandboxOptions};
use sealos_shared::Exit;
use sealos_shared::connection::Kube;
use sealos_shared::output::{Format, Out};
use serde_json::Value;

#[tokio::test]
async fn targets_run_on_the_client_they_are_given() {
    let sandbox = Sandbox::start(SandboxOptions::scenario("sealos"))
        .await
        .unwrap();
    let mut kube = Kube::from_kubeconfig(sandbox.kubeconfig_path())
        .await
        .unwrap();
    kube.all_namespaces = true;
    let args = Args::try_parse_from([
        "kubectl-sealos-bench",
        "targets",
        "--gateway-url",
        "http://10.96.0.10/",
        "-o",
        "json",
    ])
    .unwrap();
    let (mut out, printed) = Out::memory(Format::Json);
    let exit = execute(&args.command, Some(&kube), &mut out).await.unwrap();
    assert_eq!(exit, Exit::Ok);
    let report: Value = serde_json::from_str(&printed.text()).unwrap();
    assert_eq!(report["kind"], "BenchTargets");
    let found = report["targets"].as_array().unwrap();
    assert!(
        found
            .iter()
            .any(|t| t["virtual_service"] == "ns-bob/app-test" && t["host_header"].is_string()),
        "{report:#}"
    );
}
