//! sealos-sandbox: an emulated Kubernetes API server that the real `kubectl` and kube-rs clients
//! work against, seeded with a Sealos + Istio cluster. Test infrastructure, not a product.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sealos_sandbox::SandboxError> {
//! let sandbox = sealos_sandbox::Sandbox::start(sealos_sandbox::SandboxOptions::default()).await?;
//! println!("{} {}", sandbox.url(), sandbox.kubeconfig_path().display());
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod authorize;
pub mod clock;
pub mod cluster;
pub mod crds;
mod defaults;
pub mod discovery;
pub mod disruption;
pub mod events;
pub mod faults;
pub mod immutable;
pub mod impersonate;
pub mod kubeconfig;
pub mod kubelet;
pub mod logs;
pub mod metrics;
pub mod names;
pub mod openapi;
pub mod patch;
pub mod pki;
pub mod portforward;
pub mod protobuf;
pub mod proxy;
pub mod query;
pub mod rbac;
pub mod registry;
pub mod request_log;
pub mod response;
pub mod router;
pub mod scale;
pub mod scenario;
mod seed;
pub mod selector;
pub mod server;
pub mod simulate;
pub mod ssar;
pub mod status;
pub mod store;
pub mod table;
pub mod tokenrequest;
pub mod validate;
pub mod verbs;
pub mod watch;

use cluster::{Cluster, Settings};
use registry::{Registry, ResKey};
use request_log::RequestLog;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use store::{Store, StoreLimits};
use tokio::sync::watch as signal;
use tokio::task::JoinHandle;

/// What the cluster starts with.
#[derive(Debug, Clone)]
pub enum Scenario {
    /// A built-in scenario: "sealos" or "empty".
    Builtin(String),
    /// YAML/JSON files (multi-document, `*List` flattened), applied in dependency order.
    Files(Vec<PathBuf>),
    /// Objects given directly, applied in dependency order.
    Objects(Vec<Value>),
}

#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub scenario: Scenario,
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Where to write the kubeconfig; None writes it into a temporary directory the sandbox owns.
    pub kubeconfig_out: Option<PathBuf>,
    /// The kubeconfig context's default namespace.
    pub namespace: String,
    /// How long a Deployment rollout takes (its `sandbox.sealos.io/rollout-seconds` overrides).
    pub rollout: Duration,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    pub limits: StoreLimits,
    /// The bearer token; None makes a random one.
    pub token: Option<String>,
    /// Images run as local processes (`PATTERN=DIR`); pods of other images stay simulated.
    pub run_images: Vec<kubelet::RunImage>,
    /// How much faster than real time the controllers' clock runs (cron schedules, deadlines,
    /// TTLs, back-offs): 60 makes a minute of schedule pass in a second. 1.0 is real time.
    pub time_scale: f64,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            scenario: Scenario::Builtin("sealos".into()),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            kubeconfig_out: None,
            namespace: "default".into(),
            rollout: Duration::from_secs(1),
            bookmark_interval: Duration::from_secs(10),
            limits: StoreLimits::default(),
            token: None,
            run_images: vec![],
            time_scale: 1.0,
        }
    }
}

impl SandboxOptions {
    /// The defaults with a built-in scenario by name.
    pub fn scenario(name: &str) -> Self {
        SandboxOptions {
            scenario: Scenario::Builtin(name.into()),
            ..Default::default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("unknown scenario {0:?} (known: sealos, empty)")]
    UnknownScenario(String),
    #[error("scenario: {0}")]
    Scenario(#[from] scenario::ScenarioError),
    #[error("seed the store: {0}")]
    Seed(String),
    #[error("certificates: {0}")]
    Pki(#[from] pki::PkiError),
    #[error("tls: {0}")]
    Tls(String),
    #[error("listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("kubelet: {0}")]
    Kubelet(std::io::Error),
    #[error("write kubeconfig {}: {source}", path.display())]
    Kubeconfig {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A running sandbox cluster. Dropping it stops the server.
pub struct Sandbox {
    cluster: Arc<Cluster>,
    url: String,
    addr: SocketAddr,
    token: String,
    ca_pem: String,
    kubeconfig_path: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    shutdown: signal::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

fn scenario_objects(s: &Scenario) -> Result<Vec<Value>, SandboxError> {
    match s {
        Scenario::Builtin(name) => scenario::builtin(name, clock::now())
            .ok_or_else(|| SandboxError::UnknownScenario(name.clone()))?
            .map_err(Into::into),
        Scenario::Files(paths) => Ok(scenario::apply_order(scenario::load_files(paths)?)),
        Scenario::Objects(objs) => Ok(scenario::apply_order(objs.clone())),
    }
}

impl Sandbox {
    pub async fn start(opts: SandboxOptions) -> Result<Sandbox, SandboxError> {
        let objects = scenario_objects(&opts.scenario)?;
        let listener = tokio::net::TcpListener::bind(opts.addr)
            .await
            .map_err(|source| SandboxError::Listen {
                addr: opts.addr,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SandboxError::Listen {
                addr: opts.addr,
                source,
            })?;
        let now = clock::now();
        let ca = pki::Ca::new("sealos-sandbox-ca")?;
        let mut ips = vec![std::net::IpAddr::from([127, 0, 0, 1])];
        if !ips.contains(&addr.ip()) && !addr.ip().is_unspecified() {
            ips.push(addr.ip());
        }
        let leaf = ca.issue(&pki::LeafRequest {
            common_name: Some("kube-apiserver".into()),
            dns_names: [
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            ips,
            not_before: now
                .checked_sub(jiff::SignedDuration::from_hours(1))
                .unwrap_or(now),
            not_after: now
                .checked_add(jiff::SignedDuration::from_hours(24 * 365))
                .unwrap_or(now),
        })?;
        let tls = server::tls_acceptor(&leaf.cert_pem, &leaf.key_pem).map_err(SandboxError::Tls)?;
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        let url = format!("https://{host}:{}", addr.port());
        let token = opts.token.clone().unwrap_or_else(auth::random_token);
        let kubelet = kubelet::Kubelet::new(
            opts.run_images.clone(),
            kubelet::ApiEndpoint {
                host: host.clone(),
                port: addr.port(),
                ca_pem: ca.cert_pem().to_string(),
            },
        )
        .map_err(SandboxError::Kubelet)?;
        let cluster = Arc::new(Cluster {
            store: Store::new(opts.limits),
            registry: Registry::default(),
            log: RequestLog::default(),
            tokens: auth::Tokens::default(),
            faults: faults::Faults::default(),
            settings: Settings {
                rollout: opts.rollout,
                bookmark_interval: opts.bookmark_interval,
                server_address: format!("{host}:{}", addr.port()),
                clock: clock::SimClock::new(opts.time_scale),
            },
            kubelet,
        });
        cluster.tokens.add(
            &token,
            auth::User {
                name: "sandbox-admin".into(),
                groups: vec!["system:masters".into(), "system:authenticated".into()],
            },
        );
        seed::seed(&cluster, objects).map_err(SandboxError::Seed)?;
        let mut sim = simulate::Simulation::new(cluster.clone());
        sim.settle();

        let (tmp, kubeconfig_path) = match &opts.kubeconfig_out {
            Some(p) => (None, p.clone()),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("sealos-sandbox-")
                    .tempdir()
                    .map_err(|source| SandboxError::Kubeconfig {
                        path: std::env::temp_dir(),
                        source,
                    })?;
                let p = dir.path().join("kubeconfig");
                (Some(dir), p)
            }
        };
        let yaml = kubeconfig::render(&url, ca.cert_pem(), &token, &opts.namespace);
        kubeconfig::write(&kubeconfig_path, &yaml).map_err(|source| SandboxError::Kubeconfig {
            path: kubeconfig_path.clone(),
            source,
        })?;

        let (shutdown, rx) = signal::channel(false);
        let tasks = vec![
            tokio::spawn(server::serve(listener, tls, cluster.clone(), rx)),
            tokio::spawn(sim.run()),
        ];
        Ok(Sandbox {
            cluster,
            url,
            addr,
            token,
            ca_pem: ca.cert_pem().to_string(),
            kubeconfig_path,
            _tmp: tmp,
            shutdown,
            tasks,
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// The CA that signed the serving certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    pub fn request_log(&self) -> &RequestLog {
        &self.cluster.log
    }

    pub fn store(&self) -> &Store {
        &self.cluster.store
    }

    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// One stored object by group, plural, namespace ("" for cluster-scoped) and name.
    pub fn object(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.cluster
            .store
            .get(&ResKey::new(group, plural), namespace, name)
            .map(|o| (*o).clone())
    }

    /// Every stored object of a resource, in one namespace or all.
    pub fn objects(&self, group: &str, plural: &str, namespace: Option<&str>) -> Vec<Value> {
        self.cluster
            .store
            .list(&ResKey::new(group, plural), namespace)
            .into_iter()
            .map(|o| (*o).clone())
            .collect()
    }

    /// Store an object as a scenario would (its status kept), by its apiVersion and kind.
    pub fn create(&self, obj: Value) -> Result<Value, status::ApiError> {
        let api_version = obj["apiVersion"].as_str().unwrap_or("").to_string();
        let kind = obj["kind"].as_str().unwrap_or("").to_string();
        let info = self
            .cluster
            .registry
            .lookup_kind(&api_version, &kind)
            .ok_or_else(|| {
                status::ApiError::bad_request(format!("no resource serves {api_version} {kind}"))
            })?;
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or("default")
            .to_string();
        verbs::create_object(&self.cluster, &info, &ns, obj, true, false)
    }

    /// Change a stored object in place (status included), as a controller would; a change
    /// that changes nothing keeps the resourceVersion.
    pub fn modify(
        &self,
        group: &str,
        plural: &str,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value),
    ) -> Result<Value, status::ApiError> {
        let (obj, _) = self.cluster.store.update_with(
            &ResKey::new(group, plural),
            namespace,
            name,
            |cur| {
                let mut next = cur.clone();
                change(&mut next);
                Ok(next)
            },
        )?;
        Ok((*obj).clone())
    }

    /// Add a token whose user (named `user`, in `system:authenticated`) may do only what `rules`
    /// allow (see `auth::read_only`, `auth::no_secrets`, `auth::one_namespace`).
    pub fn add_token(&self, token: &str, user: &str, rules: Vec<auth::Rule>) {
        self.cluster.tokens.add_restricted(
            token,
            auth::User {
                name: user.into(),
                groups: vec!["system:authenticated".into()],
            },
            rules,
        );
    }

    /// Add generated objects (`scale::parse("pods=20000,configmaps=20000")`) across namespaces
    /// `scale-0..`; returns how many were stored.
    pub fn add_generated(&self, counts: &[(String, usize)]) -> Result<usize, status::ApiError> {
        let mut stored = 0;
        for obj in scale::objects(counts) {
            match self.create(obj) {
                Ok(_) => stored += 1,
                Err(e) if e.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(stored)
    }

    /// Inject a fault into matching requests (see `faults`).
    pub fn add_fault(&self, fault: faults::Fault) {
        self.cluster.faults.add(fault);
    }

    /// Remove every injected fault.
    pub fn clear_faults(&self) {
        self.cluster.faults.clear();
    }

    /// The kubelet that runs mapped images (its processes, logs, isolation).
    pub fn kubelet(&self) -> &kubelet::Kubelet {
        &self.cluster.kubelet
    }

    /// Stop serving (open watches end), stop the simulation, and kill every process the
    /// kubelet runs (waiting until each is reaped).
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
        self.cluster.kubelet.shutdown().await;
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for t in &self.tasks {
            t.abort();
        }
        self.cluster.kubelet.kill_all();
    }
}
