//! What the sandbox's integration tests share: a started sandbox, the real kubectl run with its
//! own HOME, and waiting on conditions.
#![allow(dead_code, clippy::unwrap_used)]

pub mod workloads;

use sealos_sandbox::{Sandbox, SandboxOptions};
use std::path::PathBuf;
use std::time::Duration;

pub async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions::default()).await.unwrap()
}

pub async fn sandbox_with(opts: SandboxOptions) -> Sandbox {
    Sandbox::start(opts).await.unwrap()
}

/// The real kubectl, pointed at one sandbox, with a HOME (and so a discovery cache) of its own.
pub struct Kubectl {
    home: tempfile::TempDir,
    kubeconfig: PathBuf,
}

#[derive(Debug)]
pub struct Output {
    pub command: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn describe(&self) -> String {
        format!(
            "$ {}\nexit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

impl Kubectl {
    pub fn new(sandbox: &Sandbox) -> Self {
        Kubectl {
            home: tempfile::tempdir().unwrap(),
            kubeconfig: sandbox.kubeconfig_path().to_path_buf(),
        }
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_stdin(args, None).await
    }

    pub async fn run_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use tokio::io::AsyncWriteExt;
        let mut cmd = tokio::process::Command::new("kubectl");
        cmd.args(args)
            .env("HOME", self.home.path())
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("KUBECTL_EXTERNAL_DIFF")
            .stdin(if stdin.is_some() {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("run kubectl");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(input.as_bytes()).await.unwrap();
            drop(pipe);
        }
        let out = child.wait_with_output().await.unwrap();
        Output {
            command: format!("kubectl {}", args.join(" ")),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Run and require exit 0; returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert_eq!(out.code, 0, "{}", out.describe());
        out.stdout
    }

    pub async fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_stdin(args, Some(stdin)).await;
        assert_eq!(out.code, 0, "{}", out.describe());
        out.stdout
    }
}

/// Poll `check` until it returns Some, failing after a generous limit (a guard, not a timing).
pub async fn wait_for<T, F: FnMut() -> Option<T>>(what: &str, mut check: F) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The header line of a kubectl table, split into column names.
pub fn header(table: &str) -> Vec<String> {
    table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// First column of each data row.
pub fn names(table: &str) -> Vec<String> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}
