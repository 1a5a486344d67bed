//! Monitoring: Prometheus, Grafana and Alertmanager each have a Ready pod.

use sealos_shared::output::Severity;

use super::collect::Snapshot;
use super::pods;
use super::{Area, CheckArgs, Finding, ObjectRef};

pub const COMPONENTS: [&str; 3] = ["prometheus", "grafana", "alertmanager"];

pub fn check(snapshot: &Snapshot, args: &CheckArgs) -> Vec<Finding> {
    let all = snapshot.monitoring_pods.as_deref().unwrap_or_default();
    let ns = args.monitoring_namespace.as_str();
    let mut out = Vec::new();
    for component in COMPONENTS {
        let mine: Vec<_> = all
            .iter()
            .filter(|p| {
                let labels = pods::labels(p);
                ["app", "app.kubernetes.io/name"]
                    .iter()
                    .any(|k| labels.get(*k).map(String::as_str) == Some(component))
                    || pods::name(p).starts_with(&format!("{component}-"))
            })
            .collect();
        let ready = mine.iter().filter(|p| pods::is_ready(p)).count();
        let object = ObjectRef::new("Pod", Some(ns), &format!("{component}-*"));
        if mine.is_empty() {
            out.push(Finding::new(
                Area::Monitoring,
                Severity::Fail,
                object.clone(),
                format!("no {component} pod in {ns:?}"),
            ));
            continue;
        }
        if ready == 0 {
            out.push(Finding::new(
                Area::Monitoring,
                Severity::Fail,
                object.clone(),
                format!("none of {} {component} pods is Ready", mine.len()),
            ));
        }
        for pod in mine.iter().filter(|p| !pods::is_ready(p)) {
            out.push(Finding::new(
                Area::Monitoring,
                if ready == 0 {
                    Severity::Fail
                } else {
                    Severity::Warn
                },
                ObjectRef::new("Pod", Some(ns), pods::name(pod)),
                format!("pod not Ready: {}", pods::not_ready_reason(pod)),
            ));
        }
        if ready == mine.len() {
            out.push(Finding::new(
                Area::Monitoring,
                Severity::Ok,
                object,
                format!("{ready}/{} {component} pods Ready", mine.len()),
            ));
        }
    }
    out
}
