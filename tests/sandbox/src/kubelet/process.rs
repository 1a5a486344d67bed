//! Starting a container's process and signalling it. Each process leads its own process group
//! (so a shell's children get the signals too). Where the machine allows it (root, util-linux
//! `unshare`), the process gets a private mount namespace in which the pod's files are
//! bind-mounted where a pod sees them; the crate forbids unsafe code, so the namespace is made
//! by the `unshare` program rather than by a `pre_exec` hook.

use rustix::process::{Pid, Signal, kill_process_group};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::{Child, Command};

/// Where a pod's service-account files appear (kube-rs and client-go read them there).
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The default `terminationMessagePath`.
pub const TERMINATION_LOG: &str = "/dev/termination-log";

/// Runs `mount --bind SRC DST` for each pair before `--`, then execs the rest.
const MOUNT_SCRIPT: &str = r#"while [ "$1" != "--" ]; do mount --bind "$1" "$2" || exit 126; shift 2; done; shift; exec "$@""#;

/// How pods' files reach their processes on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// A private mount namespace per process (`unshare --mount`), files bind-mounted in place.
    MountNamespace,
    /// No namespace: the files stay in the pod's directory, and `KUBECONFIG` points at a
    /// kubeconfig holding the same token, CA and namespace.
    Kubeconfig,
}

/// Whether `unshare --mount` and a bind mount work here (root with util-linux), and the mount
/// points exist or can be made.
pub fn probe_isolation(scratch: &Path) -> Isolation {
    if std::fs::create_dir_all(SERVICE_ACCOUNT_DIR).is_err() {
        return Isolation::Kubeconfig;
    }
    // The default termination-message path needs a file to mount over, as a runtime makes one.
    if !Path::new(TERMINATION_LOG).exists() {
        let _ = std::fs::write(TERMINATION_LOG, b"");
    }
    let src = scratch.join("probe-src");
    let dst = scratch.join("probe-dst");
    if std::fs::create_dir_all(&src).is_err() || std::fs::create_dir_all(&dst).is_err() {
        return Isolation::Kubeconfig;
    }
    let status = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
        .arg(MOUNT_SCRIPT)
        .arg("sandbox-kubelet")
        .arg(&src)
        .arg(&dst)
        .args(["--", "/bin/true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => Isolation::MountNamespace,
        _ => Isolation::Kubeconfig,
    }
}

/// What to start.
pub struct Launch<'a> {
    pub program: &'a Path,
    pub args: &'a [String],
    pub env: &'a [(String, String)],
    pub cwd: &'a Path,
    /// (source in the pod's directory, where the process sees it); only with a namespace.
    pub mounts: &'a [(PathBuf, PathBuf)],
    pub isolation: Isolation,
}

pub fn spawn(l: &Launch<'_>) -> std::io::Result<Child> {
    let mut cmd = if l.isolation == Isolation::MountNamespace && !l.mounts.is_empty() {
        let mut c = Command::new("unshare");
        c.args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
            .arg(MOUNT_SCRIPT)
            .arg("sandbox-kubelet");
        for (src, dst) in l.mounts {
            c.arg(src).arg(dst);
        }
        c.arg("--").arg(l.program).args(l.args);
        c
    } else {
        let mut c = Command::new(l.program);
        c.args(l.args);
        c
    };
    cmd.env_clear()
        .envs(l.env.iter().map(|(k, v)| (k, v)))
        .current_dir(l.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    cmd.spawn()
}

/// Signal a process group; false when it is already gone.
pub fn signal_group(pgid: u32, kill: bool) -> bool {
    let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    let sig = if kill { Signal::KILL } else { Signal::TERM };
    kill_process_group(pid, sig).is_ok()
}
