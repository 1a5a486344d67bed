//! core/v1 Events recording what the sandbox does, as the controllers and kubelet would.

use crate::cluster::Cluster;
use crate::registry::ResKey;
use serde_json::{Value, json};

pub fn record(
    cluster: &Cluster,
    involved: &Value,
    type_: &str,
    reason: &str,
    message: &str,
    component: &str,
) {
    let meta = &involved["metadata"];
    let ns = meta["namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
        .unwrap_or("default");
    let name = meta["name"].as_str().unwrap_or("");
    let now = crate::clock::now();
    let ts = crate::clock::rfc3339(now);
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": { "name": format!("{name}.{:x}", now.as_nanosecond() as u64 ^ fastrand::u64(..) & 0xffff), "namespace": ns },
        "involvedObject": {
            "kind": involved["kind"], "namespace": meta["namespace"], "name": name, "uid": meta["uid"],
            "apiVersion": involved["apiVersion"], "resourceVersion": meta["resourceVersion"],
        },
        "reason": reason,
        "message": message,
        "source": { "component": component },
        "firstTimestamp": ts,
        "lastTimestamp": ts,
        "count": 1,
        "type": type_,
        "eventTime": null,
        "reportingComponent": component,
        "reportingInstance": "",
    });
    // An event that cannot be stored (namespace gone) is not worth failing the action for.
    let _ = cluster.store.create(&ResKey::new("", "events"), event);
}
