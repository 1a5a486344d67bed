//! What the checks ask of pods and Deployments: readiness, restarts, selectors, availability.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;

pub fn name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or("")
}

/// Running and its Ready condition True.
pub fn is_ready(pod: &Pod) -> bool {
    let Some(status) = &pod.status else {
        return false;
    };
    status.phase.as_deref() == Some("Running")
        && status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Why a pod is not ready, in words: its phase and the first waiting reason.
pub fn not_ready_reason(pod: &Pod) -> String {
    let Some(status) = &pod.status else {
        return "no status".into();
    };
    let phase = status.phase.as_deref().unwrap_or("Unknown");
    let waiting = status
        .container_statuses
        .iter()
        .flatten()
        .filter(|c| !c.ready)
        .find_map(|c| {
            let w = c.state.as_ref()?.waiting.as_ref()?;
            Some(format!(
                "{} {}",
                c.name,
                w.reason.as_deref().unwrap_or("waiting")
            ))
        });
    match waiting {
        Some(w) => format!("{phase}, {w}"),
        None => format!("{phase}, not Ready"),
    }
}

/// The container with the most restarts, and how many.
pub fn most_restarts(pod: &Pod) -> Option<(String, i32)> {
    pod.status
        .as_ref()?
        .container_statuses
        .iter()
        .flatten()
        .map(|c| (c.name.clone(), c.restart_count))
        .max_by_key(|(_, n)| *n)
}

pub fn labels(pod: &Pod) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    pod.metadata.labels.as_ref().unwrap_or(&EMPTY)
}

/// Every pair of `selector` is among `labels` (an empty selector matches nothing here: a
/// Deployment or Gateway without one selects no pods we can judge).
pub fn matches(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The pods a Deployment's `matchLabels` select.
pub fn of_deployment<'a>(deployment: &Deployment, pods: &'a [Pod]) -> Vec<&'a Pod> {
    let selector = deployment
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    pods.iter()
        .filter(|p| matches(&selector, labels(p)))
        .collect()
}

/// Desired replicas (default 1) and available ones.
pub fn replicas(deployment: &Deployment) -> (i32, i32) {
    let desired = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    let available = deployment
        .status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0);
    (desired, available)
}

/// `ProgressDeadlineExceeded` and similar: the Progressing condition when it is False.
pub fn stalled_reason(deployment: &Deployment) -> Option<String> {
    deployment
        .status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Progressing" && c.status == "False")
        .map(|c| {
            format!(
                "{}{}",
                c.reason.as_deref().unwrap_or("not progressing"),
                c.message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            )
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn readiness_needs_running_and_the_ready_condition() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "labels": {"app": "istiod"}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [{"name": "discovery", "ready": false, "restartCount": 7, "image": "i", "imageID": "",
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
        }))
        .unwrap();
        assert!(!is_ready(&pod));
        assert_eq!(
            not_ready_reason(&pod),
            "Running, discovery CrashLoopBackOff"
        );
        assert_eq!(most_restarts(&pod), Some(("discovery".into(), 7)));
        let sel: BTreeMap<String, String> = [("app".to_string(), "istiod".to_string())].into();
        assert!(matches(&sel, labels(&pod)));
        assert!(!matches(&BTreeMap::new(), labels(&pod)));
    }
}
