//! A minimal `/openapi/v3`: an index of group-versions whose documents declare, for every
//! resource, a PATCH operation (tagged with its GVK) taking `fieldValidation`. That is what
//! kubectl's query-parameter verifier looks for before `apply` lets the server validate.
//! No strategic-merge request body is declared, so kubectl computes apply patches from its
//! built-in types rather than from schemas this document does not carry.

use crate::cluster::Cluster;
use serde_json::{Value, json};

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn hash(s: &str) -> String {
    // FNV-1a: stable across runs so kubectl's cache keys stay meaningful.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016X}")
}

pub fn index(cluster: &Cluster) -> Value {
    let mut paths = serde_json::Map::new();
    for (g, versions) in cluster.registry.groups() {
        for v in versions {
            let p = gv_path(&g, &v);
            let doc = document(cluster, &g, &v)
                .map(|d| d.to_string())
                .unwrap_or_default();
            paths.insert(
                p.clone(),
                json!({ "serverRelativeURL": format!("/openapi/v3/{p}?hash={}", hash(&doc)) }),
            );
        }
    }
    json!({ "paths": paths })
}

/// The document for `api/v1` or `apis/G/V` (the path after `/openapi/v3/`).
pub fn document_at(cluster: &Cluster, rest: &str) -> Option<Value> {
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        ["api", v] => document(cluster, "", v),
        ["apis", g, v] => document(cluster, g, v),
        _ => None,
    }
}

fn document(cluster: &Cluster, group: &str, version: &str) -> Option<Value> {
    let infos: Vec<_> = cluster
        .registry
        .all()
        .into_iter()
        .filter(|i| i.group == group && i.version == version)
        .collect();
    if infos.is_empty() {
        return None;
    }
    let param = |name: &str| json!({ "name": name, "in": "query", "schema": { "type": "string", "uniqueItems": true } });
    let mut paths = serde_json::Map::new();
    for i in infos
        .iter()
        .filter(|i| i.verbs.iter().any(|v| v == "patch"))
    {
        let prefix = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let path = if i.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", i.plural)
        } else {
            format!("{prefix}/{}/{{name}}", i.plural)
        };
        let gvk = json!({ "group": group, "version": version, "kind": i.kind });
        paths.insert(
            path,
            json!({
                "get": { "x-kubernetes-action": "get", "x-kubernetes-group-version-kind": gvk, "responses": { "200": { "description": "OK" } } },
                "patch": {
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                    "parameters": [param("dryRun"), param("fieldManager"), param("fieldValidation"), param("force")],
                    "responses": { "200": { "description": "OK" } }
                },
                "parameters": [
                    { "name": "name", "in": "path", "required": true, "schema": { "type": "string", "uniqueItems": true } }
                ]
            }),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": "v1.32.3" },
        "paths": paths,
        "components": { "schemas": {} }
    }))
}
