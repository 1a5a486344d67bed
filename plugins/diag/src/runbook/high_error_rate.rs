//! high-error-rate: every Sealos controller back to Ingress (through the shared traffic
//! shifting: audited, an Event on each Deployment, rollouts waited for), istiod's logs and the
//! recent events into a bundle, then an alert to Slack and syslog.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use sealos_shared::Result;
use sealos_shared::alert::{Alert, Syslog, SyslogFormat, Urgency};
use sealos_shared::connection::Kube;
use sealos_shared::retry::Backoff;
use sealos_shared::traffic_shift::{
    self, Change, Current, NAMESPACE, Outcome as RolloutOutcome, Percent, Quiet, Setting, Shifter,
};

use super::{Action, Auditor, Outcome, PLUGIN, Planned, RunArgs, Status, Stop, outcome};
use crate::bundle::{self, Plan};
use crate::finding::ObjectRef;
use sealos_shared::output::counted;

pub async fn plan(args: &RunArgs, kube: &Kube, _scope: Option<&str>) -> Result<Planned> {
    let api: Api<Deployment> = Api::namespaced(kube.client.clone(), NAMESPACE);
    let all = traffic_shift::list_deployments(&api, Backoff::default()).await?;
    let target = Setting::for_percent(Percent::ZERO);
    let mut planned = Planned::default();
    for deployment in traffic_shift::locate::controllers(&all) {
        let object = ObjectRef::new(
            "Deployment",
            Some(NAMESPACE),
            deployment.metadata.name.as_deref().unwrap_or_default(),
        );
        match Current::from_deployment(deployment.clone(), None) {
            Ok(current) if current.setting == target => {
                planned.leave_out(object, "already on ingress/0%");
            }
            Ok(current) => planned.take(
                Action {
                    kind: "shift",
                    object: ObjectRef::new("Deployment", Some(NAMESPACE), current.name()),
                    // The target is absolute (ingress, 0%) and the shift re-reads the Deployment
                    // when it writes: a change since the plan cannot make it do something else.
                    precondition: None,
                    detail: format!(
                        "{} → ingress/0% on container {:?}, then wait for the rollout",
                        current.setting.describe(),
                        current.container
                    ),
                },
                format!("on {}, not ingress", current.setting.describe()),
            ),
            Err(e) => planned.leave_out(object, format!("skipped: {e}")),
        }
    }
    let file = args
        .bundle_dir
        .join(bundle::default_name("sealos-high-error-rate"));
    planned.actions.push(Action {
        kind: "collect",
        object: ObjectRef::new("Bundle", None, &file.display().to_string()),
        precondition: None,
        detail: format!(
            "istiod logs and events of every namespace, last {}",
            humantime::format_duration(args.since)
        ),
    });
    let mut sinks = Vec::new();
    if args.slack.is_set() {
        sinks.push("slack".to_string());
    }
    if let Some(path) = &args.syslog {
        sinks.push(format!("syslog {}", path.display()));
    }
    sinks.push("stderr".into());
    planned.actions.push(Action {
        kind: "alert",
        object: ObjectRef::new("Alert", None, "high-error-rate"),
        precondition: None,
        detail: format!("critical alert to {}", sinks.join(", ")),
    });
    Ok(planned)
}

pub async fn execute(
    args: &RunArgs,
    kube: &Kube,
    plan: &[Action],
    auditor: &Auditor,
    stop: &Stop,
) -> Vec<Outcome> {
    let shifter = Shifter::new(kube, NAMESPACE, PLUGIN, auditor.log().clone());
    let change = Change {
        percent: Percent::ZERO,
        action: "rollback".into(),
        reason: Some(args.reason()),
    };
    let mut results = Vec::new();
    // Every controller is shifted first, then the rollouts are waited for: the rollback of the
    // last does not wait for the first's pods.
    let mut shifted = Vec::new();
    for action in plan.iter().filter(|a| a.kind == "shift") {
        if stop.requested() {
            results.push(stop.skipped(action));
            continue;
        }
        match shifter
            .shift(&action.object.name, None, &change, &Quiet)
            .await
        {
            Ok(s) => shifted.push((action, s)),
            Err(e) => results.push(outcome(action, Status::Failed, e.to_string(), None)),
        }
    }
    let mut rolled_back = Vec::new();
    for (action, s) in shifted {
        let note = (!s.warnings.is_empty()).then(|| s.warnings.join("; "));
        if !s.changed {
            results.push(outcome(
                action,
                Status::Unchanged,
                "already on ingress".into(),
                note,
            ));
            continue;
        }
        let waited = shifter
            .wait(&action.object.name, s.generation, args.timeout, |_| {})
            .await;
        let change = format!("{} → {}", s.before.describe(), s.after.describe());
        let (status, detail) = match waited {
            RolloutOutcome::Complete => (Status::Done, format!("{change}, rolled out")),
            RolloutOutcome::Failed(why) => {
                (Status::Failed, format!("{change}, rollout failed: {why}"))
            }
            RolloutOutcome::TimedOut(why) => (Status::TimedOut, format!("{change}, {why}")),
        };
        rolled_back.push(action.object.name.clone());
        results.push(outcome(action, status, detail, note));
    }

    let mut bundle_path = String::new();
    if let Some(action) = plan.iter().find(|a| a.kind == "collect") {
        bundle_path = action.object.name.clone();
        let collect = Plan {
            namespaces: Vec::new(),
            since: args.since,
            max_bytes: 200 << 20,
            log_limit: 10 << 20,
            max_envoy_pods: 0,
            envoy_timeout: Duration::from_secs(5),
            objects: false,
            all_events: true,
            logs: vec![("istio-system".into(), "app=istiod".into())],
        };
        // The same redaction as `diag bundle`: this bundle is made to be passed on too.
        let result = match bundle::Rules::new(&[], true, true) {
            Ok(rules) => {
                bundle::collect(kube, &collect, &rules, std::path::Path::new(&bundle_path)).await
            }
            Err(e) => Err(sealos_shared::Error::failed(e)),
        };
        let (status, detail, outcome_text) = match result {
            Ok(summary) => (
                Status::Done,
                format!(
                    "{} written to {bundle_path}",
                    counted(summary.files.len() + 1, "file", "files")
                ),
                "ok".to_string(),
            ),
            Err(e) => (Status::Failed, e.to_string(), e.to_string()),
        };
        let note = auditor.record(
            "collect",
            &action.object,
            serde_json::Value::Null,
            serde_json::json!({"file": bundle_path}),
            &outcome_text,
        );
        results.push(outcome(action, status, detail, note));
    }

    if let Some(action) = plan.iter().find(|a| a.kind == "alert") {
        let message = format!(
            "{}. Rolled back to ingress: {}. Diagnostics: {}.",
            args.reason(),
            if rolled_back.is_empty() {
                "none (already there)".to_string()
            } else {
                rolled_back.join(", ")
            },
            if bundle_path.is_empty() {
                "-"
            } else {
                &bundle_path
            }
        );
        let alert = Alert::firing(
            "runbook/high-error-rate",
            "High error rate: emergency rollback to Ingress",
            &message,
            Urgency::Critical,
        );
        eprintln!("{}", alert.line());
        let mut failures = Vec::new();
        let mut sent = vec!["stderr".to_string()];
        match args.slack.webhook() {
            Ok(Some(slack)) => match slack.send(&alert).await {
                Ok(()) => sent.push("slack".into()),
                Err(e) => failures.push(e.to_string()),
            },
            Ok(None) => {}
            Err(e) => failures.push(e.to_string()),
        }
        if let Some(path) = &args.syslog {
            match Syslog::new(path, SyslogFormat::Rfc3164).send(&alert).await {
                Ok(()) => sent.push(format!("syslog {}", path.display())),
                Err(e) => failures.push(e.to_string()),
            }
        }
        let (status, detail) = if failures.is_empty() {
            (Status::Done, format!("sent to {}", sent.join(", ")))
        } else {
            (
                Status::Failed,
                format!(
                    "sent to {}; failed: {}",
                    sent.join(", "),
                    failures.join("; ")
                ),
            )
        };
        let note = auditor.record(
            "alert",
            &action.object,
            serde_json::Value::Null,
            serde_json::json!({"title": alert.title, "message": alert.message, "sent": sent}),
            if failures.is_empty() { "ok" } else { "partial" },
        );
        results.push(outcome(action, status, detail, note));
    }
    results
}
