//! Traffic shifting for the Sealos controllers: each runs in `dual`, `ingress` or `istio` mode
//! with a share of its traffic through Istio, set by the `NETWORKING_MODE` and `ISTIO_PERCENTAGE`
//! env vars of one of its containers. Used by `rollout` and by `diag`'s runbooks.
//!
//! A shift reads the Deployment, finds the container, and sends a strategic merge patch that
//! touches only those two env vars and the history annotation, guarded by the resourceVersion it
//! read: a concurrent write makes it retry on a fresh read. Every change is audited and leaves an
//! Event on the Deployment. [`rollout::wait_rolled_out`] then waits as `kubectl rollout status`.

pub mod history;
pub mod locate;
pub mod patch;
pub mod record;
pub mod rollout;
pub mod setting;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use serde::Serialize;

use crate::audit::AuditLog;
use crate::connection::Kube;
use crate::error::{Error, KubeContext, Result};
use crate::retry::{self, Backoff};

pub use history::{Entry, HISTORY_ANNOTATION, History};
pub use locate::{DEFAULT_CONTROLLERS, NAMESPACE, valid_name};
pub use rollout::{Outcome, Progress, RolloutState};
pub use setting::{MODE_VAR, Mode, PERCENT_VAR, Percent, Setting};

/// The field manager of our patches (shown in `managedFields`).
pub const FIELD_MANAGER: &str = "kubectl-sealos";

/// A controller as read: the Deployment, the container holding the vars, their values, history.
#[derive(Debug, Clone)]
pub struct Current {
    pub deployment: Deployment,
    pub container: String,
    pub setting: Setting,
    pub history: History,
}

impl Current {
    /// Finds the traffic container of `deployment` (`wanted` by name, or the one declaring the vars).
    pub fn from_deployment(deployment: Deployment, wanted: Option<&str>) -> Result<Current> {
        let container = locate::traffic_container(&deployment, wanted).map_err(Error::usage)?;
        let setting = locate::setting_of(container);
        let container = container.name.clone();
        let history = History::of(&deployment);
        Ok(Current {
            deployment,
            container,
            setting,
            history,
        })
    }

    pub fn name(&self) -> &str {
        self.deployment.metadata.name.as_deref().unwrap_or_default()
    }

    pub fn namespace(&self) -> &str {
        self.deployment
            .metadata
            .namespace
            .as_deref()
            .unwrap_or_default()
    }

    pub fn generation(&self) -> i64 {
        self.deployment.metadata.generation.unwrap_or(0)
    }
}

/// What to set, and how the change is described in the history, audit log and Event.
#[derive(Debug, Clone)]
pub struct Change {
    pub percent: Percent,
    /// `set`, `rollback`, `plan`, or a runbook's name.
    pub action: String,
    pub reason: Option<String>,
}

/// The result of one shift.
#[derive(Debug, Clone, Serialize)]
pub struct Shifted {
    pub namespace: String,
    pub name: String,
    pub container: String,
    pub before: Setting,
    pub after: Setting,
    /// False when the controller already had this setting: nothing was written.
    pub changed: bool,
    /// The Deployment generation to wait for.
    pub generation: i64,
    /// Conflicts retried before the write went through.
    pub conflicts: u32,
    /// Side effects that failed without undoing the change (the Event, the audit line).
    pub warnings: Vec<String>,
}

/// Hooks into a shift's read-modify-write loop: the plugin reports retries, tests interpose writes.
pub trait Observer: Send + Sync {
    /// After attempt number `attempt` (from 1) has read `current`, before it writes.
    fn read(&self, _attempt: u32, _current: &Current) {}
    /// The write of attempt `attempt` met a 409 and will be retried on a fresh read.
    fn conflict(&self, _attempt: u32) {}
}

/// An observer that does nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// Every Deployment `api` sees, paginated, reads retried.
pub async fn list_deployments(api: &Api<Deployment>, backoff: Backoff) -> Result<Vec<Deployment>> {
    let what = crate::list::describe("deployments", api.namespace());
    crate::list::Pager::new(api, &ListParams::default(), &what)
        .backoff(backoff)
        .collect()
        .await
}

/// Reads controller `name` through `api`. A missing Deployment or container is bad input (exit 2).
pub async fn read(
    api: &Api<Deployment>,
    name: &str,
    container: Option<&str>,
    backoff: Backoff,
) -> Result<Current> {
    let namespace = api.namespace().unwrap_or_default().to_string();
    let deployment = retry::read(backoff, || api.get_opt(name))
        .await
        .kube_context(|| format!("get deployment {name:?} in {namespace:?}"))?
        .ok_or_else(|| {
            Error::usage(format!(
                "unknown component {name:?}: no deployment {name:?} in {namespace:?}"
            ))
        })?;
    Current::from_deployment(deployment, container)
}

/// Shifts the controllers of one namespace, recording each change in `audit`.
#[derive(Clone)]
pub struct Shifter {
    kube: Kube,
    namespace: String,
    plugin: String,
    audit: AuditLog,
    /// Retries of reads, and of the read-modify-write on conflicts.
    pub backoff: Backoff,
}

impl Shifter {
    pub fn new(kube: &Kube, namespace: &str, plugin: &str, audit: AuditLog) -> Shifter {
        Shifter {
            kube: kube.clone(),
            namespace: namespace.to_string(),
            plugin: plugin.to_string(),
            audit,
            backoff: Backoff {
                attempts: 8,
                ..Backoff::default()
            },
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn api(&self) -> Api<Deployment> {
        Api::namespaced(self.kube.client.clone(), &self.namespace)
    }

    /// Every Deployment of the namespace (paginated).
    pub async fn list_deployments(&self) -> Result<Vec<Deployment>> {
        list_deployments(&self.api(), self.backoff).await
    }

    /// The controllers of the namespace: the guide's three when present, and every Deployment
    /// declaring `NETWORKING_MODE`, by name.
    pub async fn controllers(&self) -> Result<Vec<Deployment>> {
        let all = self.list_deployments().await?;
        Ok(locate::controllers(&all).into_iter().cloned().collect())
    }

    /// Reads controller `name`. A missing Deployment or container is bad input (exit 2).
    pub async fn read(&self, name: &str, container: Option<&str>) -> Result<Current> {
        read(&self.api(), name, container, self.backoff).await
    }

    /// Sets controller `name` to `change.percent` (and the guide's mode for it), retrying on
    /// conflicts with a fresh read; records the change. Writes nothing when already there.
    pub async fn shift(
        &self,
        name: &str,
        container: Option<&str>,
        change: &Change,
        observer: &dyn Observer,
    ) -> Result<Shifted> {
        let attempts = AtomicU32::new(0);
        let target = Setting::for_percent(change.percent);
        // The outer error is the PATCH's (a 409 repeats the loop); the inner one (a failed read,
        // bad input) ends it at once.
        let result = retry::on_conflict(self.backoff, || async {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            if attempt > 1 {
                observer.conflict(attempt - 1);
            }
            let current = match self.read(name, container).await {
                Ok(current) => current,
                Err(e) => return Ok(Err(e)),
            };
            observer.read(attempt, &current);
            if current.setting == target {
                return Ok(Ok((current, None)));
            }
            let entry = Entry::now(
                &self.kube.user,
                &change.action,
                change.reason.as_deref(),
                current.setting.clone(),
                target.clone(),
            );
            let container_spec =
                locate::traffic_container(&current.deployment, Some(&current.container))
                    .map_err(Error::usage);
            let container_spec = match container_spec {
                Ok(c) => c,
                Err(e) => return Ok(Err(e)),
            };
            let body = patch::traffic_patch(
                container_spec,
                change.percent,
                &current.history.appended(entry),
                current
                    .deployment
                    .metadata
                    .resource_version
                    .as_deref()
                    .unwrap_or_default(),
            );
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.to_string()),
                ..PatchParams::default()
            };
            let written = self
                .api()
                .patch(name, &params, &Patch::Strategic(&body))
                .await?;
            Ok(Ok((current, Some(written))))
        })
        .await;
        let conflicts = attempts.load(Ordering::SeqCst).saturating_sub(1);
        let (current, written) = match result {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => return Err(e),
            Err(e) => {
                let err = Error::Kube {
                    context: format!("patch deployment {name:?} in {:?}", self.namespace),
                    source: e,
                };
                // The attempt is recorded too: an operator reading the log sees what was tried.
                if let Ok(current) = self.read(name, container).await {
                    let record = record::audit_record(
                        &self.kube,
                        &self.plugin,
                        &change.action,
                        &self.namespace,
                        name,
                        &current.container,
                        &current.setting,
                        &target,
                        change.reason.as_deref(),
                        &err.to_string(),
                    );
                    let _ = self.audit.record(&record);
                }
                return Err(err);
            }
        };
        let mut shifted = Shifted {
            namespace: self.namespace.clone(),
            name: name.to_string(),
            container: current.container.clone(),
            before: current.setting.clone(),
            after: target.clone(),
            changed: written.is_some(),
            generation: current.generation(),
            conflicts,
            warnings: Vec::new(),
        };
        let Some(written) = written else {
            return Ok(shifted);
        };
        shifted.generation = written.metadata.generation.unwrap_or(shifted.generation);
        let record = record::audit_record(
            &self.kube,
            &self.plugin,
            &change.action,
            &self.namespace,
            name,
            &current.container,
            &current.setting,
            &target,
            change.reason.as_deref(),
            "ok",
        );
        if let Err(e) = self.audit.record(&record) {
            shifted.warnings.push(e.to_string());
        }
        let rollback = change.action == "rollback";
        let mut message = format!(
            "{MODE_VAR} {} → {}, {PERCENT_VAR} {} → {} on container {:?} by {} ({})",
            current.setting.mode.as_deref().unwrap_or("-"),
            change.percent.mode(),
            current.setting.percentage.as_deref().unwrap_or("-"),
            change.percent,
            current.container,
            if self.kube.user.is_empty() {
                "unknown"
            } else {
                &self.kube.user
            },
            change.action,
        );
        if let Some(reason) = &change.reason {
            message.push_str(&format!(": {reason}"));
        }
        let event = record::EventText {
            namespace: &self.namespace,
            name,
            uid: written.metadata.uid.clone(),
            reason: if rollback {
                "TrafficRolledBack"
            } else {
                "TrafficShifted"
            },
            type_: if rollback { "Warning" } else { "Normal" },
            message,
            action: &change.action,
        };
        if let Err(e) = record::post_event(&self.kube, event).await {
            shifted.warnings.push(e.to_string());
        }
        Ok(shifted)
    }

    /// Waits for controller `name`'s rollout of `generation`, as `kubectl rollout status`.
    pub async fn wait(
        &self,
        name: &str,
        generation: i64,
        timeout: Duration,
        on_state: impl FnMut(&RolloutState),
    ) -> Outcome {
        rollout::wait_rolled_out(&self.api(), name, generation, timeout, on_state).await
    }
}
