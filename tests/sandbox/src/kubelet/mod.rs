//! The kubelet that runs things: a Pod whose containers' images match a `--run-image
//! PATTERN=DIR` mapping is run as local processes (one per container, programs resolved in DIR),
//! with the environment, service-account files and lifecycle a kubelet gives it; its status,
//! logs and restarts are reported as the kubelet reports them. Pods whose images match no
//! mapping stay with the simulated kubelet (`simulate/pod.rs`).

mod env;
pub mod logbuf;
pub mod process;
mod worker;

use crate::cluster::Cluster;
use logbuf::ContainerLog;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use process::Isolation;

/// `PATTERN=DIR`: images matching the glob (`*` any run, `?` one character) run from DIR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunImage {
    pub pattern: String,
    pub dir: PathBuf,
}

impl std::str::FromStr for RunImage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (pattern, dir) = s
            .split_once('=')
            .ok_or_else(|| format!("--run-image {s:?}: expected PATTERN=DIR"))?;
        if pattern.is_empty() || dir.is_empty() {
            return Err(format!("--run-image {s:?}: expected PATTERN=DIR"));
        }
        let dir = PathBuf::from(dir);
        if !dir.is_dir() {
            return Err(format!(
                "--run-image {s:?}: {} is not a directory",
                dir.display()
            ));
        }
        Ok(RunImage {
            pattern: pattern.to_string(),
            dir,
        })
    }
}

/// Glob match of a whole image reference: `*` matches any run of characters, `?` one.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// How a pod worker is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    Run,
    /// SIGTERM, then SIGKILL after this many seconds.
    Graceful(u64),
    /// SIGKILL now (the sandbox is stopping).
    Kill,
}

struct PodHandle {
    stop: watch::Sender<Stop>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct State {
    /// Pod workers by pod uid.
    pods: HashMap<String, PodHandle>,
    /// Process groups alive now, so that even a dropped sandbox kills them.
    groups: HashSet<u32>,
    /// Logs by (namespace, pod, container), for the pod whose worker runs now.
    logs: HashMap<(String, String, String), Arc<ContainerLog>>,
    stopped: bool,
}

/// Where the API server is, as a pod's environment and kubeconfig name it.
#[derive(Debug, Clone)]
pub struct ApiEndpoint {
    pub host: String,
    pub port: u16,
    pub ca_pem: String,
}

pub struct Kubelet {
    images: Vec<RunImage>,
    api: Option<ApiEndpoint>,
    root: Option<tempfile::TempDir>,
    isolation: Isolation,
    state: Mutex<State>,
}

impl Kubelet {
    /// A kubelet that runs nothing (every pod stays simulated).
    pub fn disabled() -> Self {
        Kubelet {
            images: vec![],
            api: None,
            root: None,
            isolation: Isolation::Kubeconfig,
            state: Mutex::new(State::default()),
        }
    }

    pub fn new(images: Vec<RunImage>, api: ApiEndpoint) -> std::io::Result<Self> {
        if images.is_empty() {
            return Ok(Kubelet::disabled());
        }
        let root = tempfile::Builder::new()
            .prefix("sealos-sandbox-kubelet-")
            .tempdir()?;
        let isolation = process::probe_isolation(root.path());
        Ok(Kubelet {
            images,
            api: Some(api),
            root: Some(root),
            isolation,
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// The directory an image runs from, if a mapping matches it.
    pub fn image_dir(&self, image: &str) -> Option<&Path> {
        self.images
            .iter()
            .find(|m| glob_match(&m.pattern, image))
            .map(|m| m.dir.as_path())
    }

    /// Whether this kubelet runs the pod: some container's image matches a mapping.
    pub fn runs(&self, pod: &Value) -> bool {
        !self.images.is_empty()
            && pod["spec"]["containers"].as_array().is_some_and(|cs| {
                cs.iter().any(|c| {
                    c["image"]
                        .as_str()
                        .is_some_and(|i| self.image_dir(i).is_some())
                })
            })
    }

    /// Start a worker for the pod unless one runs (or the pod has finished already).
    pub fn ensure(&self, cluster: &Arc<Cluster>, pod: &Value) {
        let Some(uid) = pod["metadata"]["uid"].as_str() else {
            return;
        };
        if matches!(
            pod["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        ) || !pod["metadata"]["deletionTimestamp"].is_null()
        {
            return;
        }
        let (Some(root), Some(api)) = (self.root.as_ref(), self.api.clone()) else {
            return;
        };
        let mut g = self.lock();
        if g.stopped || g.pods.contains_key(uid) {
            return;
        }
        let (tx, rx) = watch::channel(Stop::Run);
        let dir = root.path().join(uid);
        let task = tokio::spawn(worker::run_pod(
            cluster.clone(),
            Arc::new(pod.clone()),
            dir,
            api,
            rx,
        ));
        g.pods.insert(uid.to_string(), PodHandle { stop: tx, task });
    }

    /// The pod was deleted: its processes get SIGTERM, and SIGKILL after the grace period.
    pub fn forget(&self, pod: &Value) {
        let Some(uid) = pod["metadata"]["uid"].as_str() else {
            return;
        };
        let grace = pod["metadata"]["deletionGracePeriodSeconds"]
            .as_u64()
            .or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_u64())
            .unwrap_or(30);
        let g = self.lock();
        if let Some(h) = g.pods.get(uid) {
            let _ = h.stop.send(Stop::Graceful(grace));
        }
    }

    /// Whether a worker runs the pod with this uid now.
    pub fn is_running(&self, uid: &str) -> bool {
        self.lock().pods.contains_key(uid)
    }

    pub(crate) fn worker_done(&self, uid: &str) {
        self.lock().pods.remove(uid);
    }

    pub(crate) fn track_group(&self, pgid: u32, alive: bool) {
        let mut g = self.lock();
        if alive {
            g.groups.insert(pgid);
        } else {
            g.groups.remove(&pgid);
        }
    }

    /// The log of one container of a pod this kubelet runs (created when asked by its worker).
    pub(crate) fn log_for(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        create: bool,
    ) -> Option<Arc<ContainerLog>> {
        let mut g = self.lock();
        let key = (ns.to_string(), pod.to_string(), container.to_string());
        if create {
            return Some(g.logs.entry(key).or_default().clone());
        }
        g.logs.get(&key).cloned()
    }

    /// Whether logs of this pod are the kubelet's (it ran here).
    pub fn has_logs(&self, ns: &str, pod: &str) -> bool {
        self.lock().logs.keys().any(|(n, p, _)| n == ns && p == pod)
    }

    pub fn log(&self, ns: &str, pod: &str, container: &str) -> Option<Arc<ContainerLog>> {
        self.log_for(ns, pod, container, false)
    }

    pub(crate) fn drop_logs(&self, ns: &str, pod: &str) {
        self.lock()
            .logs
            .retain(|(n, p, _), _| !(n == ns && p == pod));
    }

    /// The pids (= process groups) of every process running now.
    pub fn running_pids(&self) -> Vec<u32> {
        self.lock().groups.iter().copied().collect()
    }

    /// Kill every process (SIGKILL to each group) and wait for the workers to reap them.
    pub async fn shutdown(&self) {
        let tasks: Vec<JoinHandle<()>> = {
            let mut g = self.lock();
            g.stopped = true;
            for h in g.pods.values() {
                let _ = h.stop.send(Stop::Kill);
            }
            g.pods.drain().map(|(_, h)| h.task).collect()
        };
        for t in tasks {
            let _ = t.await;
        }
        self.kill_all();
    }

    /// SIGKILL every process group still alive (also from `Drop`, where nothing can be awaited).
    pub fn kill_all(&self) {
        let mut g = self.lock();
        g.stopped = true;
        for pgid in g.groups.drain() {
            process::signal_group(pgid, true);
        }
        for h in g.pods.values() {
            let _ = h.stop.send(Stop::Kill);
        }
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.kill_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_globs_match_whole_references() {
        assert!(glob_match(
            "ghcr.io/labring/kubectl-sealos:*",
            "ghcr.io/labring/kubectl-sealos:v0.3.0"
        ));
        assert!(!glob_match(
            "ghcr.io/labring/kubectl-sealos:*",
            "ghcr.io/labring/other:v1"
        ));
        assert!(glob_match("busybox:1.3?", "busybox:1.36"));
        assert!(glob_match("*", "anything"));
        assert!(!glob_match("a*b", "acd"));
    }

    #[test]
    fn run_image_needs_pattern_and_directory() {
        assert!("no-equals".parse::<RunImage>().is_err());
        assert!("x=/definitely/not/here".parse::<RunImage>().is_err());
        let ok: RunImage = format!("img:*={}", std::env::temp_dir().display())
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.pattern, "img:*");
    }
}
