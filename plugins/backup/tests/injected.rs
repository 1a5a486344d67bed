//! The dispatcher's seam: a command run with a client the test built (the sandbox's) and an
//! in-memory output, as `run` hands them over after connecting once.
#![allow(clippy::unwrap_used)]

use clap::Parser;
use kubectl_sealos_backup::{Args, execute};
use sealos_sandbox::{Sandbox, SandboxOptions};
use sealos_shared::Exit;
use sealos_shared::connection::Kube;
use sealos_shared::output::{Format, Out};

#[tokio::test]
async fn create_runs_on_the_client_it_is_given() {
    let sandbox = Sandbox::start(SandboxOptions::scenario("sealos"))
        .await
        .unwrap();
    let kube = Kube::from_kubeconfig(sandbox.kubeconfig_path())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dir_text = dir.path().display().to_string();
    let args =
        Args::try_parse_from(["kubectl-sealos-backup", "create", "--to", &dir_text]).unwrap();
    let (mut out, printed) = Out::memory(Format::Table);
    let exit = execute(&args, Some(&kube), &mut out).await.unwrap();
    assert_eq!(exit, Exit::Ok);
    let text = printed.text();
    assert!(text.starts_with("backup sealos-backup-"), "{text}");
    assert!(text.contains(" complete: "), "{text}");
    let archives: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tar.gz"))
        .collect();
    assert_eq!(archives.len(), 1, "one archive written");
}
