//! A plan is read at one moment and acted on later, after a person typed "yes": the pod it
//! names may have been replaced by another of the same name, the Deployment changed by someone
//! else. A write that could act on what the plan never saw carries what the plan read (the
//! UID, the resourceVersion), and the server refuses it with 409 when the object changed.

use kube::api::{Api, PostParams};
use serde::Serialize;
use serde_json::{Value, json};

/// What the plan read of an object, for the server to check on write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Precondition {
    /// The object is this one, not another of the same name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The object has not changed at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

impl Precondition {
    pub fn uid(uid: Option<String>) -> Option<Precondition> {
        uid.map(|uid| Precondition {
            uid: Some(uid),
            resource_version: None,
        })
    }

    pub fn resource_version(rv: Option<String>) -> Option<Precondition> {
        rv.map(|rv| Precondition {
            uid: None,
            resource_version: Some(rv),
        })
    }

    /// The `DeleteOptions.preconditions` of this precondition.
    fn delete_options(&self) -> Value {
        let mut p = serde_json::Map::new();
        if let Some(uid) = &self.uid {
            p.insert("uid".into(), uid.clone().into());
        }
        if let Some(rv) = &self.resource_version {
            p.insert("resourceVersion".into(), rv.clone().into());
        }
        json!({ "preconditions": p })
    }
}

/// The `policy/v1` Eviction of `name`, with `precondition` in its DeleteOptions.
///
/// Written here rather than through `Api::evict`: kube 5 sends its DeleteOptions as
/// `delete_options`, a field the Eviction type does not have, so a real API server drops them
/// and the precondition would silently not apply.
pub fn eviction(namespace: &str, name: &str, precondition: Option<&Precondition>) -> Value {
    let mut body = json!({
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": namespace},
    });
    if let Some(p) = precondition {
        body["deleteOptions"] = p.delete_options();
    }
    body
}

/// POSTs the Eviction of `name` (see [`eviction`]).
pub async fn evict(
    api: &Api<k8s_openapi::api::core::v1::Pod>,
    namespace: &str,
    name: &str,
    precondition: Option<&Precondition>,
) -> Result<Value, kube::Error> {
    let body = eviction(namespace, name, precondition);
    api.create_subresource("eviction", name, &PostParams::default(), &body)
        .await
}

/// The message for a write refused because the object changed since the plan (409), or None
/// for any other error.
pub fn stale(error: &kube::Error, what: &str) -> Option<String> {
    match error {
        kube::Error::Api(status) if status.code == 409 => Some(format!(
            "{what} changed since the plan was made, so nothing was done to it ({}); run the runbook again to re-plan",
            status.message
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eviction_names_the_pods_uid_in_its_delete_options() {
        let body = eviction(
            "ns-bob",
            "app-1",
            Precondition::uid(Some("u-1".into())).as_ref(),
        );
        assert_eq!(
            body,
            json!({
                "apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": "app-1", "namespace": "ns-bob"},
                "deleteOptions": {"preconditions": {"uid": "u-1"}},
            })
        );
        assert!(eviction("ns", "p", None).get("deleteOptions").is_none());
        let rv = Precondition::resource_version(Some("42".into())).unwrap_or_default();
        assert_eq!(
            rv.delete_options(),
            json!({"preconditions": {"resourceVersion": "42"}})
        );
        assert_eq!(Precondition::uid(None), None);
    }
}
