//! Renewal the way `cmctl renew` does it: the `Issuing=True` condition with reason
//! `ManuallyTriggered`, written with a PUT of the whole object to the status subresource (a 409
//! re-reads and tries again). Nothing is ever deleted. Then a watch until each certificate's
//! `status.revision` has moved past the one it had and it is Ready again.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde::Serialize;

use crate::error::{KubeContext, Result};
use crate::resources::Condition;
use crate::resources::certmanager::Certificate;
use crate::resources::condition;
use crate::retry::{self, Backoff};

pub const MANUAL_REASON: &str = "ManuallyTriggered";
pub const MANUAL_MESSAGE: &str = "Certificate re-issuance manually triggered";

/// True when the certificate is already being issued (cmctl then leaves it alone).
pub fn is_issuing(cert: &Certificate) -> bool {
    cert.status
        .as_ref()
        .and_then(|s| condition(&s.conditions, "Issuing"))
        .is_some_and(|c| c.status == "True")
}

pub fn revision(cert: &Certificate) -> Option<i64> {
    cert.status.as_ref().and_then(|s| s.revision)
}

/// Sets `Issuing=True` (ManuallyTriggered) as cert-manager's `SetCertificateCondition` does: the
/// condition replaces any earlier `Issuing`, with the object's generation, and its transition
/// time moves only when the status changes.
pub fn mark_for_renewal(cert: &mut Certificate, now: Timestamp) {
    let generation = cert.metadata.generation;
    let status = cert.status.get_or_insert_with(Default::default);
    let now = Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string();
    let next = Condition {
        type_: "Issuing".into(),
        status: "True".into(),
        reason: Some(MANUAL_REASON.into()),
        message: Some(MANUAL_MESSAGE.into()),
        last_transition_time: Some(now),
        observed_generation: generation,
    };
    match status.conditions.iter_mut().find(|c| c.type_ == "Issuing") {
        Some(existing) => {
            let keep_time = existing.status == next.status;
            let time = existing.last_transition_time.clone();
            *existing = next;
            if keep_time && time.is_some() {
                existing.last_transition_time = time;
            }
        }
        None => status.conditions.push(next),
    }
}

/// How a trigger went.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum Triggered {
    /// `Issuing=True` was written; the revision it had then.
    Triggered { revision: Option<i64> },
    /// It was already being issued: nothing written (as cmctl).
    AlreadyIssuing { revision: Option<i64> },
}

impl Triggered {
    pub fn revision(&self) -> Option<i64> {
        match self {
            Triggered::Triggered { revision } | Triggered::AlreadyIssuing { revision } => *revision,
        }
    }
}

/// Triggers one renewal: read, set the condition, PUT `/status`; on 409 read again and retry.
pub async fn trigger(api: &Api<Certificate>, name: &str, backoff: Backoff) -> Result<Triggered> {
    let namespace = api_namespace(api);
    retry::on_conflict(backoff, || async {
        let mut cert = retry::read(backoff, || api.get(name)).await?;
        let revision = revision(&cert);
        if is_issuing(&cert) {
            return Ok(Triggered::AlreadyIssuing { revision });
        }
        mark_for_renewal(&mut cert, Timestamp::now());
        api.replace_status(name, &PostParams::default(), &cert)
            .await?;
        Ok(Triggered::Triggered { revision })
    })
    .await
    .kube_context(|| format!("renew certificate {name:?}{namespace}"))
}

fn api_namespace(api: &Api<Certificate>) -> String {
    api.namespace()
        .map(|ns| format!(" in {ns:?}"))
        .unwrap_or_default()
}

/// Where a renewal stands, judged from the object alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum Progress {
    Pending,
    /// Re-issued: the revision moved and it is Ready.
    Renewed {
        revision: i64,
    },
    /// cert-manager reported a failure after the trigger.
    Failed(String),
}

/// Judges one certificate against the revision it had and the moment it was triggered.
pub fn progress(cert: &Certificate, revision_before: Option<i64>, since: Timestamp) -> Progress {
    let Some(status) = cert.status.as_ref() else {
        return Progress::Pending;
    };
    let ready = condition(&status.conditions, "Ready").is_some_and(|c| c.status == "True");
    if let Some(revision) = status.revision
        && revision > revision_before.unwrap_or(0)
        && ready
        && !is_issuing(cert)
    {
        return Progress::Renewed { revision };
    }
    // Whole seconds on the wire: a failure in the trigger's own second counts as after it.
    let since = since.as_second();
    let after = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .is_some_and(|t| t.as_second() >= since)
    };
    if after(&status.last_failure_time) {
        let message = condition(&status.conditions, "Issuing")
            .and_then(|c| c.message.clone())
            .unwrap_or_else(|| "issuance failed".into());
        return Progress::Failed(message);
    }
    if let Some(issuing) = condition(&status.conditions, "Issuing")
        && issuing.status == "False"
        && issuing.reason.as_deref() == Some("Failed")
        && after(&issuing.last_transition_time)
    {
        return Progress::Failed(issuing.message.clone().unwrap_or_default());
    }
    Progress::Pending
}

/// A certificate to wait for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct WaitTarget {
    pub namespace: String,
    pub name: String,
    pub revision_before: Option<i64>,
}

/// The end of a wait for one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum WaitOutcome {
    Renewed { revision: i64 },
    Failed(String),
    Deleted,
    TimedOut,
}

/// Watches (one watch over the namespace, or the cluster when the targets span several) until
/// every target is renewed or failed, or `timeout` passes. Returns one outcome per target.
pub async fn wait_for_renewal(
    client: Client,
    targets: &[WaitTarget],
    since: Timestamp,
    timeout: Duration,
) -> BTreeMap<WaitTarget, WaitOutcome> {
    let mut pending: BTreeMap<(String, String), &WaitTarget> = targets
        .iter()
        .map(|t| ((t.namespace.clone(), t.name.clone()), t))
        .collect();
    let mut done: BTreeMap<WaitTarget, WaitOutcome> = BTreeMap::new();
    let namespaces: std::collections::BTreeSet<&str> =
        targets.iter().map(|t| t.namespace.as_str()).collect();
    let api: Api<Certificate> = match namespaces.iter().next() {
        Some(ns) if namespaces.len() == 1 => Api::namespaced(client, ns),
        _ => Api::all(client),
    };
    let watch = async {
        let mut stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        while !pending.is_empty() {
            let Some(event) = stream.next().await else {
                break;
            };
            // Transient watch errors are retried by the backoff; the timeout bounds the wait.
            let Ok(event) = event else { continue };
            let (cert, deleted) = match event {
                watcher::Event::Apply(c) | watcher::Event::InitApply(c) => (c, false),
                watcher::Event::Delete(c) => (c, true),
                watcher::Event::Init | watcher::Event::InitDone => continue,
            };
            let key = (cert.namespace().unwrap_or_default(), cert.name_any());
            let Some(target) = pending.get(&key).copied() else {
                continue;
            };
            let outcome = if deleted {
                Some(WaitOutcome::Deleted)
            } else {
                match progress(&cert, target.revision_before, since) {
                    Progress::Pending => None,
                    Progress::Renewed { revision } => Some(WaitOutcome::Renewed { revision }),
                    Progress::Failed(why) => Some(WaitOutcome::Failed(why)),
                }
            };
            if let Some(outcome) = outcome {
                pending.remove(&key);
                done.insert(target.clone(), outcome);
            }
        }
    };
    let _ = tokio::time::timeout(timeout, watch).await;
    for target in targets {
        done.entry(target.clone()).or_insert(WaitOutcome::TimedOut);
    }
    done
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn cert(status: serde_json::Value) -> Certificate {
        serde_json::from_value(json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "a", "namespace": "ns", "generation": 4},
            "spec": {"secretName": "a", "issuerRef": {"name": "ca"}},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn marking_sets_issuing_like_cmctl_and_keeps_the_rest() {
        let mut c = cert(json!({
            "revision": 3,
            "conditions": [
                {"type": "Issuing", "status": "False", "reason": "Failed", "lastTransitionTime": "2026-01-01T00:00:00Z"},
                {"type": "Ready", "status": "True", "reason": "Ready"}],
            "notAfter": "2026-12-01T00:00:00Z"}));
        assert!(!is_issuing(&c));
        let now: Timestamp = "2026-11-25T10:00:00.7Z".parse().unwrap();
        mark_for_renewal(&mut c, now);
        assert!(is_issuing(&c));
        let status = c.status.as_ref().unwrap();
        assert_eq!(status.conditions.len(), 2);
        let issuing = condition(&status.conditions, "Issuing").unwrap();
        assert_eq!(issuing.reason.as_deref(), Some(MANUAL_REASON));
        assert_eq!(issuing.observed_generation, Some(4));
        assert_eq!(
            issuing.last_transition_time.as_deref(),
            Some("2026-11-25T10:00:00Z")
        );
        assert_eq!(status.not_after.as_deref(), Some("2026-12-01T00:00:00Z"));
        assert_eq!(
            condition(&status.conditions, "Ready").unwrap().status,
            "True"
        );

        let mut fresh = cert(json!(null));
        mark_for_renewal(&mut fresh, now);
        assert_eq!(fresh.status.unwrap().conditions.len(), 1);
    }

    #[test]
    fn progress_needs_a_new_revision_and_ready() {
        let since: Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
        let ready = |rev: i64, issuing: &str| {
            cert(json!({"revision": rev, "conditions": [
                {"type": "Ready", "status": "True"}, {"type": "Issuing", "status": issuing}]}))
        };
        assert_eq!(
            progress(&ready(3, "True"), Some(3), since),
            Progress::Pending
        );
        assert_eq!(
            progress(&ready(4, "True"), Some(3), since),
            Progress::Pending
        );
        assert_eq!(
            progress(&ready(4, "False"), Some(3), since),
            Progress::Renewed { revision: 4 }
        );
        assert_eq!(
            progress(&ready(1, "False"), None, since),
            Progress::Renewed { revision: 1 }
        );

        let failed = cert(json!({"revision": 3, "failedIssuanceAttempts": 3,
            "lastFailureTime": "2026-11-25T10:00:00Z",
            "conditions": [{"type": "Ready", "status": "False"},
                           {"type": "Issuing", "status": "False", "reason": "Failed", "message": "denied"}]}));
        assert_eq!(
            progress(&failed, Some(3), since),
            Progress::Failed("denied".into())
        );
        // A failure from before the trigger is history, not news.
        let earlier: Timestamp = "2026-11-25T10:00:01Z".parse().unwrap();
        assert_eq!(progress(&failed, Some(3), earlier), Progress::Pending);
    }
}
