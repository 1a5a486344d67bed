//! `health monitor status`: the in-cluster monitor, read from the cluster alone (never from the
//! pod): the Deployment's readiness, its pods' last failure, and the state ConfigMap's firing
//! alerts. Exit 1 when it is not installed, not ready, or an alert is firing.

use clap::Args;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::Api;
use sealos_shared::alert::Phase;
use sealos_shared::connection::Kube;
use sealos_shared::error::KubeContext;
use sealos_shared::output::{Format, Out, Table};
use sealos_shared::{Exit, Result};
use serde::Serialize;

use super::install::{NAME, STATE_CONFIGMAP, workload};
use super::state_store::{CONFIGMAP_KEY, StateLocation, decode};

#[derive(Args, Debug, Clone)]
pub struct StatusArgs {
    /// table, or json/yaml (the `Status` document).
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

/// What `status` reports (`-o json`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub namespace: String,
    /// Whether the Deployment exists.
    pub installed: bool,
    pub replicas: i32,
    pub ready_replicas: i32,
    pub ready: bool,
    pub image: Option<String>,
    /// When the monitor last wrote its state (it writes when an alert or a delivery changes).
    pub state_saved_at: Option<Timestamp>,
    /// Consecutive rounds in which Prometheus could not be queried.
    pub consecutive_failures: u32,
    pub firing: Vec<FiringAlert>,
    /// The pod's last failure as the kubelet reports it, or the state's read error.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FiringAlert {
    pub key: String,
    pub title: String,
    pub since: Timestamp,
}

impl Status {
    pub fn exit(&self) -> Exit {
        Exit::problem_if(!self.ready || !self.firing.is_empty())
    }
}

pub async fn collect(kube: &Kube, namespace: &str) -> Result<Status> {
    let deployments: Api<Deployment> = Api::namespaced(kube.client.clone(), namespace);
    let configmaps: Api<ConfigMap> = Api::namespaced(kube.client.clone(), namespace);
    let selector = workload(namespace).selector();
    let (deployment, state, pods) = futures::try_join!(
        async {
            deployments
                .get_opt(NAME)
                .await
                .kube_context(|| format!("get deployment {NAME:?} in {namespace:?}"))
        },
        async {
            configmaps
                .get_opt(STATE_CONFIGMAP)
                .await
                .kube_context(|| format!("get configmap {STATE_CONFIGMAP:?} in {namespace:?}"))
        },
        async {
            sealos_shared::list::in_scope::<Pod>(&kube.client, Some(namespace), Some(&selector))
                .await
        },
    )?;
    let mut status = Status {
        namespace: namespace.to_string(),
        installed: deployment.is_some(),
        replicas: 0,
        ready_replicas: 0,
        ready: false,
        image: None,
        state_saved_at: None,
        consecutive_failures: 0,
        firing: Vec::new(),
        last_error: None,
    };
    if let Some(d) = &deployment {
        let s = d.status.clone().unwrap_or_default();
        status.replicas = s.replicas.unwrap_or(0);
        status.ready_replicas = s.ready_replicas.unwrap_or(0);
        let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        status.ready = wanted > 0 && status.ready_replicas >= wanted;
        status.image = d
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone());
    }
    status.last_error = pods.iter().find_map(pod_failure);
    let location = StateLocation::ConfigMap {
        namespace: namespace.to_string(),
        name: STATE_CONFIGMAP.to_string(),
    };
    if let Some(text) = state
        .as_ref()
        .and_then(|cm| cm.data.as_ref()?.get(CONFIGMAP_KEY))
    {
        match decode(text.as_bytes(), &location) {
            Ok(saved) => {
                status.state_saved_at = saved.saved_at;
                status.consecutive_failures = saved.consecutive_failures;
                status.firing = saved
                    .alerts
                    .iter()
                    .filter(|e| e.alert.phase == Phase::Firing)
                    .map(|e| FiringAlert {
                        key: e.alert.key.clone(),
                        title: e.alert.title.clone(),
                        since: e.since,
                    })
                    .collect();
            }
            Err(e) => status.last_error = Some(e.to_string()),
        }
    }
    Ok(status)
}

/// The pod's trouble, as `kubectl describe` would show it: waiting with a reason other than
/// creating, or the last run's termination.
fn pod_failure(pod: &Pod) -> Option<String> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses.iter().find_map(|c| {
        let waiting = c
            .state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .filter(|w| w.reason.as_deref() != Some("ContainerCreating"));
        if let Some(w) = waiting {
            return Some(format!(
                "{}: {}",
                w.reason.as_deref().unwrap_or("Waiting"),
                w.message.as_deref().unwrap_or("")
            ));
        }
        let last = c.last_state.as_ref()?.terminated.as_ref()?;
        Some(format!(
            "exited {} ({}): {}",
            last.exit_code,
            last.reason.as_deref().unwrap_or(""),
            last.message.as_deref().unwrap_or("").trim()
        ))
    })
}

pub fn render(out: &mut Out, status: &Status) -> Result<()> {
    if out.format.is_machine() {
        return out.data(status);
    }
    let mut table = Table::new([
        "MONITOR",
        "NAMESPACE",
        "READY",
        "STATE SAVED",
        "FAILURES",
        "FIRING",
    ]);
    table.row([
        NAME.to_string(),
        status.namespace.clone(),
        if status.installed {
            format!("{}/{}", status.ready_replicas, status.replicas.max(1))
        } else {
            "not installed".to_string()
        },
        status
            .state_saved_at
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into()),
        status.consecutive_failures.to_string(),
        status.firing.len().to_string(),
    ]);
    out.table(&table)?;
    for alert in &status.firing {
        out.line(&format!(
            "firing: {} ({}) since {}",
            alert.title, alert.key, alert.since
        ))?;
    }
    if let Some(e) = &status.last_error {
        out.line(&format!("last error: {e}"))?;
    }
    Ok(())
}

pub async fn run(_args: &StatusArgs, namespace: &str, kube: &Kube, out: &mut Out) -> Result<Exit> {
    let status = collect(kube, namespace).await?;
    render(out, &status)?;
    Ok(status.exit())
}
