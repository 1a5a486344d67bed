//! The controllers and kubelet of the sandbox: Deployments make ReplicaSets, ReplicaSets make
//! Pods, Pods get a Running/Ready status. Driven by store events and timers on one tokio task,
//! so request handling never waits on it.

pub mod certificate;
pub mod cronjob;
mod deployment;
pub mod job;
mod pod;
mod replicaset;

use crate::cluster::Cluster;
use crate::registry::ResKey;
use crate::store::EventType;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::time::Instant;

/// Deployment knob: new pods never get ready.
pub const NEVER_READY: &str = "sandbox.sealos.io/never-ready";
/// Deployment knob: seconds a rollout takes.
pub const ROLLOUT_SECONDS: &str = "sandbox.sealos.io/rollout-seconds";
/// Pod knob: "false" keeps it unready.
pub const READY: &str = "sandbox.sealos.io/ready";
/// Pod knob: restart count to report.
pub const RESTARTS: &str = "sandbox.sealos.io/restarts";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Work {
    Deployment(String, String),
    ReplicaSet(String, String),
    Pod(String, String),
    /// A PodDisruptionBudget's status.
    Pdb(String, String),
    /// A Certificate that may want issuing; true when it was just created.
    Certificate(String, String, bool),
    Job(String, String),
    CronJob(String, String),
}

fn deployments() -> ResKey {
    ResKey::new("apps", "deployments")
}
fn replicasets() -> ResKey {
    ResKey::new("apps", "replicasets")
}
fn pods() -> ResKey {
    ResKey::new("", "pods")
}

fn ns_name(o: &Value) -> (String, String) {
    (
        o["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        o["metadata"]["name"].as_str().unwrap_or("").to_string(),
    )
}

fn annotation<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o["metadata"]["annotations"][key].as_str()
}

/// The controller owner (kind, name) of an object, from its ownerReferences.
fn owner(o: &Value, kind: &str) -> Option<String> {
    o["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["kind"] == kind)
        .and_then(|r| r["name"].as_str())
        .map(String::from)
}

pub struct Simulation {
    cluster: Arc<Cluster>,
    /// When a pod the simulation created may turn ready.
    ready_at: HashMap<(String, String), Instant>,
    /// While seeding everything is instant.
    seeding: bool,
    queue: BTreeSet<Work>,
    timers: Vec<(Instant, Work)>,
    /// Subscribed when seeding ends, so that nothing written after `Sandbox::start` returns is
    /// missed even before `run` is first polled.
    events: Option<broadcast::Receiver<Arc<crate::store::StoreEvent>>>,
    jobs: job::JobMemory,
}

impl Simulation {
    pub fn new(cluster: Arc<Cluster>) -> Self {
        Simulation {
            cluster,
            ready_at: HashMap::new(),
            seeding: true,
            queue: BTreeSet::new(),
            timers: vec![],
            events: None,
            jobs: job::JobMemory::default(),
        }
    }

    fn enqueue_all(&mut self) {
        for (key, mk) in [
            (pods(), Work::Pod as fn(String, String) -> Work),
            (replicasets(), Work::ReplicaSet),
            (deployments(), Work::Deployment),
            (crate::disruption::pdbs(), Work::Pdb),
            (job::jobs(), Work::Job),
            (cronjob::cronjobs(), Work::CronJob),
        ] {
            for o in self.cluster.store.list(&key, None) {
                let (ns, n) = ns_name(&o);
                self.queue.insert(mk(ns, n));
            }
        }
    }

    /// Bring the seeded objects to a settled state at once (pods Running and Ready).
    pub fn settle(&mut self) {
        self.seeding = true;
        for _ in 0..8 {
            self.enqueue_all();
            let before = self.cluster.store.current_rv();
            self.drain();
            if self.cluster.store.current_rv() == before {
                break;
            }
        }
        self.timers.clear();
        self.seeding = false;
        self.events = Some(self.cluster.store.subscribe());
    }

    fn drain(&mut self) {
        let mut rounds = 0;
        while let Some(w) = self.queue.pop_first() {
            rounds += 1;
            if rounds > 100_000 {
                self.queue.clear();
                break;
            }
            let next = match &w {
                Work::Deployment(ns, n) => deployment::reconcile(self, ns, n),
                Work::ReplicaSet(ns, n) => replicaset::reconcile(self, ns, n),
                Work::Pod(ns, n) => pod::reconcile(self, ns, n),
                Work::Certificate(ns, n, created) => {
                    certificate::reconcile(&self.cluster, ns, n, *created);
                    None
                }
                Work::Pdb(ns, n) => {
                    crate::disruption::refresh(&self.cluster, ns, n);
                    None
                }
                Work::Job(ns, n) => job::reconcile(self, ns, n),
                Work::CronJob(ns, n) => cronjob::reconcile(self, ns, n),
            };
            if let Some(at) = next {
                // The pass just computed when it next wants to look: that replaces older wishes.
                self.timers.retain(|(_, x)| *x != w);
                self.timers.push((at, w));
            }
        }
    }

    fn on_event(&mut self, key: &ResKey, kind: EventType, obj: &Value) {
        let (ns, name) = ns_name(obj);
        if *key == pods() || *key == deployments() {
            // Budgets count pods and their controllers' scale.
            for pdb in self
                .cluster
                .store
                .list(&crate::disruption::pdbs(), Some(&ns))
            {
                self.queue.insert(Work::Pdb(ns.clone(), ns_name(&pdb).1));
            }
        } else if *key == certificate::certificates() && kind != EventType::Deleted {
            let created = kind == EventType::Added;
            if certificate::wants_issuance(obj, created) {
                self.queue
                    .insert(Work::Certificate(ns.clone(), name.clone(), created));
            }
        } else if *key == crate::disruption::pdbs() && kind != EventType::Deleted {
            self.queue.insert(Work::Pdb(ns.clone(), name.clone()));
        }
        if *key == pods() {
            if kind != EventType::Deleted {
                self.queue.insert(Work::Pod(ns.clone(), name.clone()));
            } else {
                self.ready_at.remove(&(ns.clone(), name.clone()));
            }
            if let Some(job) = owner(obj, "Job") {
                self.queue.insert(Work::Job(ns.clone(), job));
            }
            if kind == EventType::Deleted || !obj["metadata"]["deletionTimestamp"].is_null() {
                self.cluster.kubelet.forget(obj);
            }
            if let Some(rs) = owner(obj, "ReplicaSet") {
                self.queue.insert(Work::ReplicaSet(ns, rs));
            }
        } else if *key == job::jobs() {
            if let Some(cj) = owner(obj, "CronJob") {
                self.queue.insert(Work::CronJob(ns.clone(), cj));
            }
            if kind != EventType::Deleted {
                self.queue.insert(Work::Job(ns, name));
            }
        } else if *key == cronjob::cronjobs() && kind != EventType::Deleted {
            self.queue.insert(Work::CronJob(ns, name));
        } else if *key == replicasets() {
            if let Some(d) = owner(obj, "Deployment") {
                self.queue.insert(Work::Deployment(ns.clone(), d));
            }
            if kind != EventType::Deleted {
                self.queue.insert(Work::ReplicaSet(ns, name));
            }
        } else if *key == deployments() && kind != EventType::Deleted {
            self.queue.insert(Work::Deployment(ns, name));
        }
    }

    /// Run until the store closes: react to changes, fire timers.
    pub async fn run(mut self) {
        let mut rx = match self.events.take() {
            Some(rx) => rx,
            None => self.cluster.store.subscribe(),
        };
        self.enqueue_all();
        self.drain();
        loop {
            let next_timer = self.timers.iter().map(|(t, _)| *t).min();
            let sleep = async {
                match next_timer {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ev = rx.recv() => match ev {
                    Ok(ev) => self.on_event(&ev.key, ev.kind, &ev.object),
                    Err(broadcast::error::RecvError::Lagged(_)) => self.enqueue_all(),
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = sleep => {
                    let now = Instant::now();
                    let (due, later): (Vec<_>, Vec<_>) = self.timers.drain(..).partition(|(t, _)| *t <= now);
                    self.timers = later;
                    self.queue.extend(due.into_iter().map(|(_, w)| w));
                }
            }
            // Take whatever else is already waiting before reconciling, so bursts coalesce.
            while let Ok(ev) = rx.try_recv() {
                self.on_event(&ev.key, ev.kind, &ev.object);
            }
            self.drain();
        }
    }

    fn rollout_delay(&self, dep: Option<&Value>) -> Duration {
        if self.seeding {
            return Duration::ZERO;
        }
        dep.and_then(|d| annotation(d, ROLLOUT_SECONDS))
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(self.cluster.settings.rollout)
    }
}
