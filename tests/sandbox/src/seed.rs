//! Loading a scenario's objects into the store, as they are (statuses kept), in apply order,
//! after what every cluster has: the default namespaces and the bootstrap RBAC policy.

use crate::cluster::Cluster;
use crate::registry::ResKey;
use crate::verbs::create_object;
use serde_json::{Value, json};

const DEFAULT_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Store every object; the default namespaces exist even if the scenario leaves them out.
pub fn seed(cluster: &Cluster, objects: Vec<Value>) -> Result<(), String> {
    let ns_info = cluster
        .registry
        .lookup("", "v1", "namespaces")
        .ok_or("no namespaces resource")?;
    let declared: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "Namespace")
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    for ns in DEFAULT_NAMESPACES.iter().filter(|n| !declared.contains(n)) {
        if cluster
            .store
            .get(&ResKey::new("", "namespaces"), "", ns)
            .is_none()
        {
            create_object(
                cluster,
                &ns_info,
                "",
                json!({ "metadata": { "name": ns } }),
                false,
                false,
            )
            .map_err(|e| e.message)?;
        }
    }
    let declares = |kind: &str, name: &str| {
        objects
            .iter()
            .any(|o| o["kind"] == kind && o["metadata"]["name"] == name)
    };
    let bootstrap: Vec<Value> = crate::rbac::bootstrap_objects()
        .into_iter()
        .filter(|o| {
            !declares(
                o["kind"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    for obj in bootstrap.into_iter().chain(objects) {
        let api_version = obj["apiVersion"].as_str().unwrap_or("").to_string();
        let kind = obj["kind"].as_str().unwrap_or("").to_string();
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        let info = cluster
            .registry
            .lookup_kind(&api_version, &kind)
            .ok_or_else(|| format!("{kind} {name}: no resource serves {api_version} {kind}"))?;
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or("default")
            .to_string();
        create_object(cluster, &info, &ns, obj, true, false)
            .map_err(|e| format!("{kind} {ns}/{name}: {}", e.message))?;
    }
    Ok(())
}
