//! certificate-expired: the certificates that are expired, not Ready or failing issuance are
//! renewed as `cmctl renew` does (Issuing=True on the status subresource; nothing is deleted),
//! then watched until re-issued, failed, or the timeout.

use kube::{Api, ResourceExt};
use sealos_shared::Result;
use sealos_shared::certs::{self, Code, Thresholds, Triggered, Verdict, WaitOutcome, WaitTarget};
use sealos_shared::connection::Kube;
use sealos_shared::resources::certmanager::Certificate;
use sealos_shared::retry::Backoff;

use super::{Action, Auditor, Outcome, RunArgs, Status, Stop, outcome};
use crate::finding::ObjectRef;

/// Whether the runbook renews a certificate with this assessment.
pub fn needs_renewal(a: &certs::Assessment) -> bool {
    matches!(a.verdict, Verdict::Expired | Verdict::NotReady)
        || a.has(Code::Expired)
        || a.has(Code::IssuanceFailing)
        || a.has(Code::NotReady)
}

pub async fn plan(
    _args: &RunArgs,
    kube: &Kube,
    scope: Option<&str>,
) -> Result<(Vec<Action>, Vec<String>)> {
    let surveyed = certs::survey(
        &kube.client,
        scope,
        None,
        jiff::Timestamp::now(),
        Thresholds::default(),
    )
    .await?;
    let mut actions = Vec::new();
    let mut notes = Vec::new();
    for s in &surveyed {
        let a = &s.assessment;
        if !needs_renewal(a) {
            continue;
        }
        let ns = s.certificate.namespace().unwrap_or_default();
        let name = s.certificate.name_any();
        let why: Vec<String> = a.findings.iter().map(|f| f.message.clone()).collect();
        if renewing(&s.certificate) {
            notes.push(format!(
                "{ns}/{name} is already being issued: it is waited for, not triggered again"
            ));
        }
        if let Some(until) = a.backoff_until {
            notes.push(format!(
                "{ns}/{name}: cert-manager backs off until {until}; the renewal may wait until then"
            ));
        }
        actions.push(Action {
            kind: "renew",
            object: ObjectRef::new("Certificate", Some(&ns), &name),
            precondition: None,
            detail: format!(
                "{}: {}",
                a.verdict.label().to_lowercase(),
                why.first().cloned().unwrap_or_default()
            ),
        });
    }
    Ok((actions, notes))
}

fn renewing(cert: &Certificate) -> bool {
    certs::renew::is_issuing(cert)
}

pub async fn execute(
    args: &RunArgs,
    kube: &Kube,
    plan: &[Action],
    auditor: &Auditor,
    stop: &Stop,
) -> Vec<Outcome> {
    let since = jiff::Timestamp::now();
    let mut results = Vec::new();
    let mut waiting: Vec<(&Action, WaitTarget, Option<String>)> = Vec::new();
    for action in plan.iter().filter(|a| a.kind == "renew") {
        if stop.requested() {
            results.push(stop.skipped(action));
            continue;
        }
        let ns = action.object.namespace.clone().unwrap_or_default();
        let api: Api<Certificate> = Api::namespaced(kube.client.clone(), &ns);
        match certs::trigger(&api, &action.object.name, Backoff::default()).await {
            Ok(triggered) => {
                let after = match &triggered {
                    Triggered::Triggered { .. } => "Issuing=True (ManuallyTriggered)",
                    Triggered::AlreadyIssuing { .. } => "already issuing",
                };
                let note = auditor.record(
                    "renew",
                    &action.object,
                    serde_json::json!({"revision": triggered.revision()}),
                    serde_json::json!({"condition": after}),
                    "ok",
                );
                waiting.push((
                    action,
                    WaitTarget {
                        namespace: ns,
                        name: action.object.name.clone(),
                        revision_before: triggered.revision(),
                    },
                    note,
                ));
            }
            Err(e) => {
                let note = auditor.record(
                    "renew",
                    &action.object,
                    serde_json::Value::Null,
                    serde_json::Value::Null,
                    &e.to_string(),
                );
                results.push(outcome(action, Status::Failed, e.to_string(), note));
            }
        }
    }
    if waiting.is_empty() {
        return results;
    }
    let targets: Vec<WaitTarget> = waiting.iter().map(|(_, t, _)| t.clone()).collect();
    let outcomes =
        certs::wait_for_renewal(kube.client.clone(), &targets, since, args.timeout).await;
    for (action, target, note) in waiting {
        let (status, detail) = match outcomes.get(&target) {
            Some(WaitOutcome::Renewed { revision }) => (
                Status::Done,
                format!("re-issued: revision {revision}, Ready"),
            ),
            Some(WaitOutcome::Failed(why)) => (Status::Failed, format!("issuance failed: {why}")),
            Some(WaitOutcome::Deleted) => (Status::Failed, "deleted while waiting".into()),
            Some(WaitOutcome::TimedOut) | None => (
                Status::TimedOut,
                format!(
                    "not re-issued within {}",
                    humantime::format_duration(args.timeout)
                ),
            ),
        };
        results.push(outcome(action, status, detail, note));
    }
    results
}
