//! The state every request handler and simulation task shares.

use crate::auth::Tokens;
use crate::registry::{Registry, ResKey};
use crate::request_log::RequestLog;
use crate::store::Store;
use std::time::Duration;

/// Timings the simulation and watches use.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a Deployment rollout takes unless its `sandbox.sealos.io/rollout-seconds` says otherwise.
    pub rollout: Duration,
    /// How often a watch that allows bookmarks gets one.
    pub bookmark_interval: Duration,
    /// `host:port` the server listens on (for discovery's serverAddressByClientCIDRs).
    pub server_address: String,
    /// The clock controllers' timers run on (see `SandboxOptions::time_scale`).
    pub clock: crate::clock::SimClock,
}

pub struct Cluster {
    pub store: Store,
    pub registry: Registry,
    pub log: RequestLog,
    pub tokens: Tokens,
    /// Faults injected into matching requests.
    pub faults: crate::faults::Faults,
    pub settings: Settings,
    /// Runs the pods whose images are mapped to local programs.
    pub kubelet: crate::kubelet::Kubelet,
}

impl Cluster {
    /// Re-read the CRDs in the store into the registry (after any CRD write).
    pub fn refresh_crds(&self) {
        let crds = self.store.list(
            &ResKey::new("apiextensions.k8s.io", "customresourcedefinitions"),
            None,
        );
        self.registry.set_crds(crds.iter().map(|c| c.as_ref()));
    }
}
