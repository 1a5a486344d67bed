//! Tiny programs the sandbox's kubelet runs in tests: shell scripts in a directory that
//! `--run-image suite.local/*=DIR` maps the images to.
#![allow(dead_code, clippy::unwrap_used)]

use sealos_sandbox::kubelet::RunImage;
use sealos_sandbox::{Sandbox, SandboxOptions};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub const IMAGE: &str = "suite.local/work:1";

const SCRIPTS: &[(&str, &str)] = &[
    // Prints its completion index and pid, then exits 0.
    (
        "echo-index",
        "echo \"index=$JOB_COMPLETION_INDEX pid=$$\"\n",
    ),
    // Prints and fails.
    ("fail", "echo \"failing pid=$$\"\nexit 3\n"),
    // Prints its pid and runs until signalled; SIGTERM is noted in $NOTE (when set).
    (
        "serve",
        "echo \"started pid=$$\"\ntrap 'echo term >> \"${NOTE:-/dev/null}\"; exit 0' TERM\nwhile :; do sleep 0.05; done\n",
    ),
    // Ignores SIGTERM: only SIGKILL ends it.
    (
        "stubborn",
        "trap '' TERM\necho \"stubborn pid=$$\"\nwhile :; do sleep 0.05; done\n",
    ),
    // Fails at once, every time.
    ("crash", "echo \"crash pid=$$\"\nexit 1\n"),
    // Prints, waits until $RELEASE exists, prints again and ends.
    (
        "wait-file",
        "echo \"hello pid=$$\"\nwhile [ ! -e \"$RELEASE\" ]; do sleep 0.05; done\necho bye\n",
    ),
    // Writes its termination message and ends.
    (
        "leave-message",
        "echo 'all done' > /dev/termination-log\necho leaving\n",
    ),
    // Shows what a pod sees: its variables and service-account files.
    (
        "show-env",
        "env | sort\nd=/var/run/secrets/kubernetes.io/serviceaccount\necho \"token=$(cat $d/token)\"\necho \"namespace=$(cat $d/namespace)\"\necho \"ca=$(head -1 $d/ca.crt)\"\necho \"kubeconfig=$KUBECONFIG\"\n",
    ),
];

/// A directory holding the scripts, executable.
pub fn image_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in SCRIPTS {
        write_script(dir.path(), name, body);
    }
    dir
}

pub fn write_script(dir: &Path, name: &str, body: &str) {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// An empty-scenario sandbox that runs `suite.local/*` from `dir`, its clock `scale` times
/// as fast as real time.
pub async fn sandbox(dir: &Path, scale: f64) -> Sandbox {
    Sandbox::start(SandboxOptions {
        run_images: vec![RunImage {
            pattern: "suite.local/*".into(),
            dir: dir.to_path_buf(),
        }],
        time_scale: scale,
        ..SandboxOptions::scenario("empty")
    })
    .await
    .unwrap()
}

/// Whether a process is gone (or a zombie nobody will run again).
pub fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// The number after `key=` in a line of `text`.
pub fn number_after(text: &str, key: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.split(key).nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}
