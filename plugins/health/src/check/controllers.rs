//! Sealos controllers: available replicas equal desired, and the traffic env vars
//! (`NETWORKING_MODE`, `ISTIO_PERCENTAGE`) agree with each other as the guide defines them.

use k8s_openapi::api::apps::v1::Deployment;
use sealos_shared::output::Severity;

use super::collect::Snapshot;
use super::pods;
use super::{Area, CheckArgs, Finding, ObjectRef};

/// Why the two env vars disagree, if they do (pure; the guide's rule: 0 → ingress, 100 → istio,
/// else dual).
pub fn env_disagreement(mode: Option<&str>, percentage: Option<&str>) -> Option<String> {
    let (mode, pct_text) = match (mode, percentage) {
        (None, None) => return None,
        (Some(m), None) => {
            return Some(format!(
                "NETWORKING_MODE={m:?} but ISTIO_PERCENTAGE is missing"
            ));
        }
        (None, Some(p)) => {
            return Some(format!(
                "ISTIO_PERCENTAGE={p:?} but NETWORKING_MODE is missing"
            ));
        }
        (Some(m), Some(p)) => (m, p),
    };
    let Ok(pct) = pct_text
        .trim()
        .parse::<u8>()
        .map_err(|_| ())
        .and_then(|p| if p <= 100 { Ok(p) } else { Err(()) })
    else {
        return Some(format!(
            "ISTIO_PERCENTAGE={pct_text:?} is not a whole number from 0 to 100"
        ));
    };
    let expected = match pct {
        0 => "ingress",
        100 => "istio",
        _ => "dual",
    };
    match mode {
        "ingress" | "dual" | "istio" if mode == expected => None,
        "ingress" | "dual" | "istio" => Some(format!(
            "NETWORKING_MODE={mode:?} disagrees with ISTIO_PERCENTAGE={pct} (which means {expected:?})"
        )),
        other => Some(format!(
            "NETWORKING_MODE={other:?} is not ingress, dual or istio"
        )),
    }
}

fn env_of(deployment: &Deployment) -> Option<(&str, Option<&str>, Option<&str>)> {
    let containers = &deployment.spec.as_ref()?.template.spec.as_ref()?.containers;
    containers.iter().find_map(|c| {
        let env = c.env.as_ref()?;
        let get = |n: &str| {
            env.iter()
                .find(|e| e.name == n)
                .and_then(|e| e.value.as_deref())
        };
        let mode = get("NETWORKING_MODE");
        let pct = get("ISTIO_PERCENTAGE");
        (mode.is_some() || pct.is_some()).then_some((c.name.as_str(), mode, pct))
    })
}

pub fn check(snapshot: &Snapshot, args: &CheckArgs) -> Vec<Finding> {
    let deployments = snapshot.sealos_deployments.as_deref().unwrap_or_default();
    let ns = args.sealos_namespace.as_str();
    let mut out = Vec::new();
    if deployments.is_empty() {
        out.push(Finding::new(
            Area::Controllers,
            Severity::Fail,
            ObjectRef::new("Namespace", None, ns),
            format!("no Deployment in {ns:?}: the Sealos controllers are missing"),
        ));
    }
    for deployment in deployments {
        let name = deployment.metadata.name.as_deref().unwrap_or("");
        let object = ObjectRef::new("Deployment", Some(ns), name);
        let mut mine = Vec::new();
        let (desired, available) = pods::replicas(deployment);
        if available < desired {
            let why = pods::stalled_reason(deployment)
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            mine.push(Finding::new(
                Area::Controllers,
                Severity::Fail,
                object.clone(),
                format!("{available}/{desired} replicas available{why}"),
            ));
        }
        let env = env_of(deployment);
        if let Some((container, mode, pct)) = env
            && let Some(why) = env_disagreement(mode, pct)
        {
            mine.push(Finding::new(
                Area::Controllers,
                Severity::Warn,
                object.clone(),
                format!("container {container:?}: {why}"),
            ));
        }
        if mine.is_empty() {
            let traffic = match env {
                Some((_, Some(mode), Some(pct))) => format!(", {mode} mode at {pct}% Istio"),
                _ => String::new(),
            };
            mine.push(Finding::new(
                Area::Controllers,
                Severity::Ok,
                object,
                format!("{available}/{desired} replicas available{traffic}"),
            ));
        }
        out.extend(mine);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_vars_must_agree() {
        assert_eq!(env_disagreement(Some("dual"), Some("50")), None);
        assert_eq!(env_disagreement(Some("ingress"), Some("0")), None);
        assert_eq!(env_disagreement(Some("istio"), Some("100")), None);
        assert_eq!(env_disagreement(None, None), None);
        assert!(
            env_disagreement(Some("dual"), Some("0"))
                .unwrap_or_default()
                .contains("means \"ingress\"")
        );
        assert!(env_disagreement(Some("istio"), Some("50")).is_some());
        assert!(
            env_disagreement(Some("dual"), Some("150"))
                .unwrap_or_default()
                .contains("0 to 100")
        );
        assert!(
            env_disagreement(Some("dual"), None)
                .unwrap_or_default()
                .contains("missing")
        );
        assert!(
            env_disagreement(Some("both"), Some("50"))
                .unwrap_or_default()
                .contains("not ingress")
        );
    }
}
