//! certificate-expired: the certificates that are expired, critical (within `--crit-days`),
//! overdue for renewal, or failing issuance — in that order — are renewed as `cmctl renew` does (Issuing=True on the status subresource; nothing is deleted),
//! then watched until re-issued, failed, or the timeout.

use kube::{Api, ResourceExt};
use sealos_shared::Result;
use sealos_shared::certs::{self, Code, Thresholds, Triggered, Verdict, WaitOutcome, WaitTarget};
use sealos_shared::connection::Kube;
use sealos_shared::resources::certmanager::Certificate;
use sealos_shared::retry::Backoff;

use super::{Action, Auditor, Outcome, Planned, RunArgs, Status, Stop, outcome};
use crate::finding::ObjectRef;

/// Why a certificate is renewed, most urgent first: the order of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    /// Past its notAfter: clients fail now.
    Expired,
    /// Within `--crit-days` of expiry (the `cert check` CRITICAL rule).
    Critical,
    /// Its renewal time has passed and cert-manager has not renewed it.
    RenewalOverdue,
    /// Issuance is failing, or cert-manager does not call it Ready.
    Failing,
}

impl Urgency {
    /// The reason a certificate is in the plan, or `None` when it is not.
    pub fn of(a: &certs::Assessment) -> Option<Urgency> {
        if a.verdict == Verdict::Expired || a.has(Code::Expired) {
            Some(Urgency::Expired)
        } else if a.has(Code::ExpiringCritical) {
            Some(Urgency::Critical)
        } else if a.has(Code::RenewalOverdue) {
            Some(Urgency::RenewalOverdue)
        } else if a.has(Code::IssuanceFailing) || a.has(Code::NotReady) {
            Some(Urgency::Failing)
        } else {
            None
        }
    }

    fn label(self) -> &'static str {
        match self {
            Urgency::Expired => "expired",
            Urgency::Critical => "critical",
            Urgency::RenewalOverdue => "renewal overdue",
            Urgency::Failing => "failing",
        }
    }
}

/// The message of the finding that put it in the plan (else its worst).
fn reason(a: &certs::Assessment, urgency: Urgency) -> String {
    let code = match urgency {
        Urgency::Expired => Code::Expired,
        Urgency::Critical => Code::ExpiringCritical,
        Urgency::RenewalOverdue => Code::RenewalOverdue,
        Urgency::Failing if a.has(Code::IssuanceFailing) => Code::IssuanceFailing,
        Urgency::Failing => Code::NotReady,
    };
    a.findings
        .iter()
        .find(|f| f.code == code)
        .or(a.findings.first())
        .map(|f| f.message.clone())
        .unwrap_or_default()
}

/// Why a certificate the runbook does not renew is left out.
fn left_out_because(a: &certs::Assessment, crit_days: i64) -> String {
    let days = a
        .days_left
        .map(|d| format!("{d} days left"))
        .unwrap_or_else(|| "no expiry date".into());
    match a.findings.first() {
        None => format!("{days}, Ready, renewal not due: nothing to renew"),
        Some(f) => format!(
            "{days}, not within --crit-days {crit_days}, not overdue, not failing; {}: {} (renewing would not fix it)",
            a.verdict.label().to_lowercase(),
            f.message
        ),
    }
}

pub async fn plan(args: &RunArgs, kube: &Kube, scope: Option<&str>) -> Result<Planned> {
    // The same survey and thresholds as `cert check`: one judgement of what is critical.
    let thresholds = Thresholds {
        crit_days: args.crit_days,
        ..Thresholds::default()
    };
    let surveyed = certs::survey(
        &kube.client,
        scope,
        None,
        jiff::Timestamp::now(),
        thresholds,
    )
    .await?;
    let mut ranked: Vec<(Urgency, &certs::Surveyed)> = Vec::new();
    let mut planned = Planned::default();
    for s in &surveyed {
        let a = &s.assessment;
        match Urgency::of(a) {
            Some(urgency) => ranked.push((urgency, s)),
            None => planned.leave_out(
                ObjectRef::new(
                    "Certificate",
                    s.certificate.namespace().as_deref(),
                    &s.certificate.name_any(),
                ),
                left_out_because(a, args.crit_days),
            ),
        }
    }
    // Most urgent first; within a kind, the one closest to (or furthest past) expiry.
    ranked.sort_by_key(|(urgency, s)| {
        (
            *urgency,
            s.assessment.days_left.unwrap_or(i64::MAX),
            s.certificate.namespace(),
            s.certificate.name_any(),
        )
    });
    for (urgency, s) in ranked {
        let a = &s.assessment;
        let ns = s.certificate.namespace().unwrap_or_default();
        let name = s.certificate.name_any();
        if renewing(&s.certificate) {
            planned.notes.push(format!(
                "{ns}/{name} is already being issued: it is waited for, not triggered again"
            ));
        }
        if let Some(until) = a.backoff_until {
            planned.notes.push(format!(
                "{ns}/{name}: cert-manager backs off until {until}; the renewal may wait until then"
            ));
        }
        let why = reason(a, urgency);
        planned.take(
            Action {
                kind: "renew",
                object: ObjectRef::new("Certificate", Some(&ns), &name),
                precondition: None,
                detail: format!("{}: {why}", urgency.label()),
            },
            format!("{}: {why}", urgency.label()),
        );
    }
    Ok(planned)
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
