//! Waiting for a Deployment's rollout as `kubectl rollout status` does: the new generation
//! observed, every replica updated, old ones gone, the updated ones available; a
//! `ProgressDeadlineExceeded` condition is a failure, not something to wait out.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::Serialize;

/// Replica counts, for a progress bar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub desired: i32,
    pub updated: i32,
    pub available: i32,
}

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutState {
    /// Still going; the message is kubectl's.
    Waiting {
        message: String,
        progress: Progress,
    },
    Complete {
        progress: Progress,
    },
    /// It will not finish by itself.
    Failed {
        reason: String,
    },
}

/// How a wait ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    Complete,
    Failed(String),
    /// The timeout passed; the detail is the last thing it was waiting for.
    TimedOut(String),
}

impl Outcome {
    pub fn is_complete(&self) -> bool {
        matches!(self, Outcome::Complete)
    }
}

/// The rollout state of `d`, once the spec at `generation` (or later) has been written.
pub fn rollout_state(d: &Deployment, generation: i64) -> RolloutState {
    let name = d.metadata.name.as_deref().unwrap_or_default();
    let spec_generation = d.metadata.generation.unwrap_or(0).max(generation);
    let status = d.status.clone().unwrap_or_default();
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let progress = Progress {
        desired,
        updated: status.updated_replicas.unwrap_or(0),
        available: status.available_replicas.unwrap_or(0),
    };
    if status.observed_generation.unwrap_or(0) < spec_generation {
        return RolloutState::Waiting {
            message: "waiting for deployment spec update to be observed".to_string(),
            progress,
        };
    }
    if let Some(progressing) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Progressing")
        && progressing.reason.as_deref() == Some("ProgressDeadlineExceeded")
    {
        let detail = progressing.message.as_deref().unwrap_or_default();
        let mut reason = format!("deployment {name:?} exceeded its progress deadline");
        if !detail.is_empty() {
            reason.push_str(&format!(" ({detail})"));
        }
        return RolloutState::Failed { reason };
    }
    let replicas = status.replicas.unwrap_or(0);
    let waiting = |message: String| RolloutState::Waiting { message, progress };
    if progress.updated < desired {
        return waiting(format!(
            "waiting for deployment {name:?} rollout to finish: {} out of {desired} new replicas have been updated",
            progress.updated
        ));
    }
    if replicas > progress.updated {
        return waiting(format!(
            "waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination",
            replicas - progress.updated
        ));
    }
    if progress.available < progress.updated {
        return waiting(format!(
            "waiting for deployment {name:?} rollout to finish: {} of {} updated replicas are available",
            progress.available, progress.updated
        ));
    }
    RolloutState::Complete { progress }
}

/// Watches Deployment `name` until its rollout of `generation` completes, fails, or `timeout`
/// passes (zero: no limit, as kubectl's `--timeout=0`). `on_state` sees every state on the way.
pub async fn wait_rolled_out(
    api: &Api<Deployment>,
    name: &str,
    generation: i64,
    timeout: Duration,
    mut on_state: impl FnMut(&RolloutState),
) -> Outcome {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    // Backed off between restarts, so an API server in trouble is not hammered.
    let mut events = std::pin::pin!(watcher::watcher(api.clone(), config).default_backoff());
    let mut last = "waiting for the first status".to_string();
    let mut listed = false;
    let watch = async {
        while let Some(event) = events.next().await {
            let deployment = match event {
                Ok(Event::Apply(d) | Event::InitApply(d)) => {
                    listed = true;
                    d
                }
                Ok(Event::Init) => {
                    listed = false;
                    continue;
                }
                Ok(Event::InitDone) if !listed => {
                    return Outcome::Failed(format!("deployment {name:?} not found"));
                }
                Ok(Event::InitDone) => continue,
                Ok(Event::Delete(_)) => {
                    return Outcome::Failed(format!("deployment {name:?} was deleted"));
                }
                Err(e) => {
                    // The watcher starts over on its own; remember why, for the timeout message.
                    last = format!("watch failed: {e}");
                    continue;
                }
            };
            let state = rollout_state(&deployment, generation);
            on_state(&state);
            match state {
                RolloutState::Complete { .. } => return Outcome::Complete,
                RolloutState::Failed { reason } => return Outcome::Failed(reason),
                RolloutState::Waiting { message, .. } => last = message,
            }
        }
        Outcome::Failed("the watch ended".to_string())
    };
    if timeout.is_zero() {
        return watch.await;
    }
    let outcome = tokio::time::timeout(timeout, watch).await;
    outcome.unwrap_or_else(|_| {
        Outcome::TimedOut(format!(
            "timed out after {}: {last}",
            humantime::format_duration(timeout)
        ))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn deployment(generation: i64, replicas: i32, status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "terminal-controller", "generation": generation},
            "spec": {
                "replicas": replicas,
                "selector": {},
                "template": {},
            },
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn follows_kubectl_rollout_status() {
        let d = deployment(
            3,
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert!(matches!(
            rollout_state(&d, 3),
            RolloutState::Waiting { message, .. } if message.contains("spec update to be observed")
        ));
        let d = deployment(
            3,
            2,
            json!({"observedGeneration": 3, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 2}),
        );
        assert!(matches!(
            rollout_state(&d, 3),
            RolloutState::Waiting { message, progress } if message.ends_with("1 out of 2 new replicas have been updated")
                && progress == Progress { desired: 2, updated: 1, available: 2 }
        ));
        let d = deployment(
            3,
            2,
            json!({"observedGeneration": 3, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert!(matches!(
            rollout_state(&d, 3),
            RolloutState::Waiting { message, .. } if message.ends_with("1 old replicas are pending termination")
        ));
        let d = deployment(
            3,
            2,
            json!({"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}),
        );
        assert!(matches!(
            rollout_state(&d, 3),
            RolloutState::Waiting { message, .. } if message.ends_with("1 of 2 updated replicas are available")
        ));
        let d = deployment(
            3,
            2,
            json!({"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert!(matches!(
            rollout_state(&d, 3),
            RolloutState::Complete { .. }
        ));
        // A generation we wrote but the object we hold predates it is not complete.
        assert!(matches!(rollout_state(&d, 4), RolloutState::Waiting { .. }));
    }

    #[test]
    fn a_progress_deadline_is_a_failure() {
        let d = deployment(
            5,
            1,
            json!({"observedGeneration": 5, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                 "message": "ReplicaSet \"x-1\" has timed out progressing."},
            ]}),
        );
        assert_eq!(
            rollout_state(&d, 5),
            RolloutState::Failed {
                reason: "deployment \"terminal-controller\" exceeded its progress deadline (ReplicaSet \"x-1\" has timed out progressing.)".into()
            }
        );
    }
}
