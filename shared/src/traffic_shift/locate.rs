//! Which Deployments are Sealos controllers, and which of their containers holds the traffic env
//! vars. Found, never assumed: the container is not always the first, nor named `controller`.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, EnvVar};

use super::setting::{MODE_VAR, PERCENT_VAR, Setting};

/// The namespace the Sealos controllers run in.
pub const NAMESPACE: &str = "sealos-system";

/// The guide's three controllers, always looked for.
pub const DEFAULT_CONTROLLERS: [&str; 3] = [
    "terminal-controller",
    "db-adminer-controller",
    "resources-controller",
];

/// Why no single container could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocateError {
    #[error("deployment {deployment:?} has no container named {container:?} (it has: {})", .found.join(", "))]
    NoSuchContainer {
        deployment: String,
        container: String,
        found: Vec<String>,
    },
    #[error(
        "deployment {deployment:?} has no container that declares {MODE_VAR} or {PERCENT_VAR}; name one with --container"
    )]
    NoTrafficContainer { deployment: String },
    #[error("in deployment {deployment:?} several containers declare {MODE_VAR} or {PERCENT_VAR} ({}); choose one with --container", .found.join(", "))]
    Ambiguous {
        deployment: String,
        found: Vec<String>,
    },
}

/// True when a Kubernetes object name is well formed (DNS-1123 subdomain), so a bad name is
/// refused before any request.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name
            .split('.')
            .all(|part| !part.is_empty() && !part.starts_with('-') && !part.ends_with('-'))
}

fn containers(deployment: &Deployment) -> &[Container] {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|s| s.containers.as_slice())
        .unwrap_or_default()
}

fn declares_traffic(container: &Container) -> bool {
    container
        .env
        .iter()
        .flatten()
        .any(|e| e.name == MODE_VAR || e.name == PERCENT_VAR)
}

/// True when a container of the Deployment declares `NETWORKING_MODE`.
pub fn declares_mode(deployment: &Deployment) -> bool {
    containers(deployment)
        .iter()
        .any(|c| c.env.iter().flatten().any(|e| e.name == MODE_VAR))
}

/// The container holding the traffic env vars: `wanted` by name, else the one container that
/// declares either var.
pub fn traffic_container<'a>(
    deployment: &'a Deployment,
    wanted: Option<&str>,
) -> Result<&'a Container, LocateError> {
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let all = containers(deployment);
    if let Some(wanted) = wanted {
        return all
            .iter()
            .find(|c| c.name == wanted)
            .ok_or_else(|| LocateError::NoSuchContainer {
                deployment: name,
                container: wanted.to_string(),
                found: all.iter().map(|c| c.name.clone()).collect(),
            });
    }
    let mut declaring = all.iter().filter(|c| declares_traffic(c));
    match (declaring.next(), declaring.next()) {
        (Some(one), None) => Ok(one),
        (None, _) => Err(LocateError::NoTrafficContainer { deployment: name }),
        (Some(_), Some(_)) => Err(LocateError::Ambiguous {
            deployment: name,
            found: all
                .iter()
                .filter(|c| declares_traffic(c))
                .map(|c| c.name.clone())
                .collect(),
        }),
    }
}

/// A literal env value; `None` when absent or set through `valueFrom`.
fn literal(env: &[EnvVar], name: &str) -> Option<String> {
    env.iter()
        .rev() // the last definition wins, as in the kubelet
        .find(|e| e.name == name)
        .and_then(|e| {
            e.value_from
                .is_none()
                .then(|| e.value.clone().unwrap_or_default())
        })
}

/// The two env values on `container`.
pub fn setting_of(container: &Container) -> Setting {
    let env = container.env.as_deref().unwrap_or_default();
    Setting {
        mode: literal(env, MODE_VAR),
        percentage: literal(env, PERCENT_VAR),
    }
}

/// The env var entries of `container` named `name` that take their value from elsewhere.
pub(crate) fn uses_value_from(container: &Container, name: &str) -> bool {
    container
        .env
        .iter()
        .flatten()
        .any(|e| e.name == name && e.value_from.is_some())
}

/// The controllers among `deployments`, in name order: the guide's three (when present) and every
/// Deployment whose containers declare `NETWORKING_MODE`.
pub fn controllers(deployments: &[Deployment]) -> Vec<&Deployment> {
    let mut found: Vec<&Deployment> = deployments
        .iter()
        .filter(|d| {
            let name = d.metadata.name.as_deref().unwrap_or_default();
            DEFAULT_CONTROLLERS.contains(&name) || declares_mode(d)
        })
        .collect();
    found.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    pub(crate) fn deployment(name: &str, containers: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {"spec": {"containers": containers}},
            },
        }))
        .unwrap()
    }

    fn sidecar() -> serde_json::Value {
        json!({"name": "istio-proxy", "image": "istio/proxyv2", "env": [{"name": "ISTIO_META_X", "value": "1"}]})
    }

    #[test]
    fn the_container_is_found_wherever_it_stands() {
        let d = deployment(
            "db-adminer-controller",
            json!([sidecar(), {"name": "manager", "env": [
                {"name": "NETWORKING_MODE", "value": "istio"},
                {"name": "ISTIO_PERCENTAGE", "value": "100"},
            ]}]),
        );
        let c = traffic_container(&d, None).unwrap();
        assert_eq!(c.name, "manager");
        assert_eq!(
            setting_of(c),
            Setting {
                mode: Some("istio".into()),
                percentage: Some("100".into())
            }
        );
        assert_eq!(
            traffic_container(&d, Some("istio-proxy")).unwrap().name,
            "istio-proxy"
        );
        let err = traffic_container(&d, Some("controller")).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"deployment "db-adminer-controller" has no container named "controller" (it has: istio-proxy, manager)"#
        );
    }

    #[test]
    fn none_or_several_candidates_are_refused() {
        let d = deployment("x", json!([sidecar()]));
        assert!(matches!(
            traffic_container(&d, None),
            Err(LocateError::NoTrafficContainer { .. })
        ));
        let d = deployment(
            "x",
            json!([
                {"name": "a", "env": [{"name": "NETWORKING_MODE", "value": "dual"}]},
                {"name": "b", "env": [{"name": "ISTIO_PERCENTAGE", "value": "5"}]},
            ]),
        );
        let err = traffic_container(&d, None).unwrap_err();
        assert!(err.to_string().contains("(a, b)"), "{err}");
    }

    #[test]
    fn value_from_and_duplicates_read_as_the_kubelet_would() {
        let d = deployment(
            "x",
            json!([{"name": "m", "env": [
                {"name": "NETWORKING_MODE", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
                {"name": "ISTIO_PERCENTAGE", "value": "10"},
                {"name": "ISTIO_PERCENTAGE", "value": "20"},
            ]}]),
        );
        let c = traffic_container(&d, None).unwrap();
        assert_eq!(setting_of(c).mode, None);
        assert_eq!(setting_of(c).percentage.as_deref(), Some("20"));
        assert!(uses_value_from(c, MODE_VAR));
        assert!(!uses_value_from(c, PERCENT_VAR));
    }

    #[test]
    fn controllers_are_the_defaults_and_whoever_declares_the_mode() {
        let with_mode =
            || json!([{"name": "m", "env": [{"name": "NETWORKING_MODE", "value": "dual"}]}]);
        let all = vec![
            deployment("webhook-controller", with_mode()),
            deployment("terminal-controller", json!([sidecar()])),
            deployment("unrelated", json!([sidecar()])),
            deployment("new-controller", with_mode()),
        ];
        let names: Vec<_> = controllers(&all)
            .iter()
            .map(|d| d.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "new-controller",
                "terminal-controller",
                "webhook-controller"
            ]
        );
    }

    #[test]
    fn names_are_checked_before_any_request() {
        for good in ["terminal-controller", "a", "a.b-c", "x1"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "",
            "Terminal",
            "a_b",
            "-a",
            "a-",
            "a..b",
            "a/b",
            &"x".repeat(254),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
