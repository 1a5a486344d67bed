//! Objects cleaned so that they apply to a new cluster: what the server owns (status, uid,
//! resourceVersion, managedFields, generation, creation time, selfLink) and what only described
//! the old cluster (the last-applied annotation, owners that are not in the backup) are removed.

use serde_json::{Map, Value};

/// Metadata the API server sets: meaningless, or refused, on another cluster.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "managedFields",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Annotations that describe the old object rather than the configuration.
const DROPPED_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
];

/// Cleans `object` in place. `owner_kept(apiVersion, kind)` says whether objects of that kind are
/// in the backup: an owner reference to anything else would dangle on the new cluster (and get
/// the object garbage-collected), so it is removed.
pub fn clean(object: &mut Value, owner_kept: impl Fn(&str, &str) -> bool) {
    let Some(top) = object.as_object_mut() else {
        return;
    };
    top.remove("status");
    let Some(meta) = top.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    for key in SERVER_METADATA {
        meta.remove(*key);
    }
    if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
        for key in DROPPED_ANNOTATIONS {
            annotations.remove(*key);
        }
    }
    drop_if_empty(meta, "annotations");
    drop_if_empty(meta, "labels");
    if let Some(owners) = meta
        .get_mut("ownerReferences")
        .and_then(Value::as_array_mut)
    {
        owners.retain(|owner| {
            owner_kept(
                owner["apiVersion"].as_str().unwrap_or(""),
                owner["kind"].as_str().unwrap_or(""),
            )
        });
    }
    drop_if_empty(meta, "ownerReferences");
}

fn drop_if_empty(meta: &mut Map<String, Value>, key: &str) {
    let empty = match meta.get(key) {
        Some(Value::Object(map)) => map.is_empty(),
        Some(Value::Array(list)) => list.is_empty(),
        Some(Value::Null) => true,
        _ => false,
    };
    if empty {
        meta.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_fields_and_foreign_owners_go() {
        let mut obj = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {
                "name": "tls", "namespace": "ns", "uid": "u", "resourceVersion": "9",
                "generation": 2, "creationTimestamp": "2026-01-01T00:00:00Z", "selfLink": "/x",
                "managedFields": [{"manager": "kubectl"}],
                "labels": {"app": "x"},
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                    "cert-manager.io/certificate-name": "c"
                },
                "ownerReferences": [
                    {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "name": "c", "uid": "1"},
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "2"}
                ]
            },
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "QQ=="},
            "status": {"x": 1}
        });
        clean(&mut obj, |api, kind| {
            api == "cert-manager.io/v1" && kind == "Certificate"
        });
        assert_eq!(
            obj,
            json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {
                    "name": "tls", "namespace": "ns",
                    "labels": {"app": "x"},
                    "annotations": {"cert-manager.io/certificate-name": "c"},
                    "ownerReferences": [
                        {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "name": "c", "uid": "1"}
                    ]
                },
                "type": "kubernetes.io/tls",
                "data": {"tls.crt": "QQ=="}
            })
        );
    }

    #[test]
    fn emptied_maps_disappear() {
        let mut obj = json!({"metadata": {"name": "a", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": "{}"}, "labels": {},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet"}]}});
        clean(&mut obj, |_, _| false);
        assert_eq!(obj, json!({"metadata": {"name": "a"}}));
    }
}
