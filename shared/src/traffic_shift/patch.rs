//! The one change a shift makes: a strategic merge patch that sets the two env vars on one
//! container (merged by name, so the image, other env vars, other containers and volumes stay as
//! they are), appends to the history annotation, and carries the resourceVersion it was computed
//! from, so a concurrent write makes it fail with 409 instead of being overwritten.

use k8s_openapi::api::core::v1::Container;
use serde_json::{Value, json};

use super::history::HISTORY_ANNOTATION;
use super::locate::uses_value_from;
use super::setting::{MODE_VAR, PERCENT_VAR, Percent};

/// The patch setting `container` to `percent` (and its mode), with `history` as the new
/// annotation value, valid only against `resource_version`.
pub fn traffic_patch(
    container: &Container,
    percent: Percent,
    history: &str,
    resource_version: &str,
) -> Value {
    let var = |name: &str, value: String| {
        let mut entry = json!({ "name": name, "value": value });
        // A var set through valueFrom would keep its source and be rejected as having both.
        if uses_value_from(container, name) {
            entry["valueFrom"] = Value::Null;
        }
        entry
    };
    json!({
        "metadata": {
            "resourceVersion": resource_version,
            "annotations": { HISTORY_ANNOTATION: history },
        },
        "spec": { "template": { "spec": { "containers": [{
            "name": container.name,
            "env": [
                var(MODE_VAR, percent.mode().to_string()),
                var(PERCENT_VAR, percent.to_string()),
            ],
        }]}}},
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_patch_names_one_container_and_two_vars() {
        let container: Container = serde_json::from_value(json!({
            "name": "manager",
            "image": "ghcr.io/labring/sealos-terminal-controller:v5.0.1",
            "env": [{"name": "DOMAIN", "value": "cloud.sealos.io"}, {"name": "NETWORKING_MODE", "value": "ingress"}],
        }))
        .unwrap();
        let patch = traffic_patch(&container, Percent::new(25).unwrap(), "[]", "42");
        assert_eq!(
            patch,
            json!({
                "metadata": {"resourceVersion": "42", "annotations": {"traffic.sealos.io/history": "[]"}},
                "spec": {"template": {"spec": {"containers": [{
                    "name": "manager",
                    "env": [
                        {"name": "NETWORKING_MODE", "value": "dual"},
                        {"name": "ISTIO_PERCENTAGE", "value": "25"},
                    ],
                }]}}},
            })
        );
    }

    #[test]
    fn a_value_from_source_is_removed_with_the_new_value() {
        let container: Container = serde_json::from_value(json!({
            "name": "manager",
            "env": [{"name": "ISTIO_PERCENTAGE", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "p"}}}],
        }))
        .unwrap();
        let patch = traffic_patch(&container, Percent::FULL, "[]", "1");
        let env = &patch["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(env[0], json!({"name": "NETWORKING_MODE", "value": "istio"}));
        assert_eq!(
            env[1],
            json!({"name": "ISTIO_PERCENTAGE", "value": "100", "valueFrom": null})
        );
    }
}
