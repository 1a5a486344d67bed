//! /version, /api, /apis (aggregated v2 and v2beta1 by content negotiation, or the plain forms),
//! and the per-version APIResourceLists.

use crate::cluster::Cluster;
use crate::registry::ResourceInfo;
use crate::response::{self, Resp};
use serde_json::{Value, json};

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.3",
        "gitCommit": "32cc146f75aad04beaaa245a7157eb35063a9f99",
        "gitTreeState": "clean",
        "buildDate": "2025-03-11T19:52:21Z",
        "goVersion": "go1.23.6",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// Which aggregated discovery version the client's Accept header asks for first, if any.
pub fn aggregated_version(accept: &str) -> Option<&'static str> {
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        let params: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).collect();
        let param = |k: &str| params.iter().find(|(pk, _)| *pk == k).map(|(_, v)| *v);
        if media == "application/json"
            && param("as") == Some("APIGroupDiscoveryList")
            && param("g") == Some("apidiscovery.k8s.io")
        {
            match param("v") {
                Some("v2") => return Some("v2"),
                Some("v2beta1") => return Some("v2beta1"),
                _ => continue,
            }
        }
        if media == "application/json" && params.is_empty()
            || media == "*/*"
            || media == "application/*"
        {
            return None;
        }
    }
    None
}

fn subresource_kind(info: &ResourceInfo, sub: &str) -> (String, String, String) {
    match sub {
        "scale" => ("autoscaling".into(), "v1".into(), "Scale".into()),
        "eviction" => ("policy".into(), "v1".into(), "Eviction".into()),
        "portforward" => ("".into(), "v1".into(), "PodPortForwardOptions".into()),
        "proxy" if info.plural == "pods" => ("".into(), "v1".into(), "PodProxyOptions".into()),
        "proxy" if info.plural == "services" => {
            ("".into(), "v1".into(), "ServiceProxyOptions".into())
        }
        "proxy" => ("".into(), "v1".into(), "NodeProxyOptions".into()),
        "exec" => ("".into(), "v1".into(), "PodExecOptions".into()),
        "binding" => ("".into(), "v1".into(), "Binding".into()),
        "token" => (
            "authentication.k8s.io".into(),
            "v1".into(),
            "TokenRequest".into(),
        ),
        _ => (info.group.clone(), info.version.clone(), info.kind.clone()),
    }
}

fn subresource_verbs(sub: &str) -> Vec<&'static str> {
    match sub {
        "status" | "scale" => vec!["get", "patch", "update"],
        "log" => vec!["get"],
        "eviction" | "binding" | "token" => vec!["create"],
        "portforward" | "exec" => vec!["create", "get"],
        "proxy" => vec!["create", "delete", "get", "patch", "update"],
        "finalize" => vec!["update"],
        _ => vec!["get"],
    }
}

fn subresources(info: &ResourceInfo) -> Vec<String> {
    let mut subs: Vec<String> = vec![];
    if info.status {
        subs.push("status".into());
    }
    if info.scale {
        subs.push("scale".into());
    }
    subs.extend(info.subresources.iter().cloned());
    subs
}

/// One resource in an aggregated discovery document.
fn aggregated_resource(info: &ResourceInfo) -> Value {
    let subs: Vec<Value> = subresources(info)
        .iter()
        .map(|s| {
            let (g, v, k) = subresource_kind(info, s);
            json!({ "subresource": s, "responseKind": { "group": g, "version": v, "kind": k }, "verbs": subresource_verbs(s) })
        })
        .collect();
    let mut r = json!({
        "resource": info.plural,
        "responseKind": { "group": info.group, "version": info.version, "kind": info.kind },
        "scope": if info.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": info.singular,
        "verbs": info.verbs,
    });
    if !info.short_names.is_empty() {
        r["shortNames"] = json!(info.short_names);
    }
    if !info.categories.is_empty() {
        r["categories"] = json!(info.categories);
    }
    if !subs.is_empty() {
        r["subresources"] = json!(subs);
    }
    r
}

/// APIGroupDiscoveryList for the core group (`/api`) or the named groups (`/apis`).
fn aggregated(cluster: &Cluster, core: bool, version: &str) -> Value {
    let all = cluster.registry.all();
    let items: Vec<Value> = cluster
        .registry
        .groups()
        .into_iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, versions)| {
            let vs: Vec<Value> = versions
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = all
                        .iter()
                        .filter(|i| i.group == g && &i.version == v)
                        .map(aggregated_resource)
                        .collect();
                    json!({ "version": v, "resources": resources, "freshness": "Current" })
                })
                .collect();
            json!({ "metadata": { "name": g, "creationTimestamp": null }, "versions": vs })
        })
        .collect();
    json!({ "kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{version}"), "metadata": {}, "items": items })
}

fn aggregated_response(doc: &Value, version: &str) -> Resp {
    let ct = format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
    response::with_type(200, &ct, serde_json::to_vec(doc).unwrap_or_default())
}

pub fn api(cluster: &Cluster, accept: &str) -> Resp {
    if let Some(v) = aggregated_version(accept) {
        return aggregated_response(&aggregated(cluster, true, v), v);
    }
    response::json(
        200,
        &json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": cluster.settings.server_address }],
        }),
    )
}

fn group_doc(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({ "groupVersion": format!("{name}/{v}"), "version": v }))
        .collect();
    json!({ "name": name, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or(Value::Null) })
}

pub fn apis(cluster: &Cluster, accept: &str) -> Resp {
    if let Some(v) = aggregated_version(accept) {
        return aggregated_response(&aggregated(cluster, false, v), v);
    }
    let groups: Vec<Value> = cluster
        .registry
        .groups()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, vs)| group_doc(&g, &vs))
        .collect();
    response::json(
        200,
        &json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups }),
    )
}

/// `/apis/G`: one APIGroup, or None when no such group.
pub fn group(cluster: &Cluster, name: &str) -> Option<Value> {
    let (g, vs) = cluster
        .registry
        .groups()
        .into_iter()
        .find(|(g, _)| g == name && !g.is_empty())?;
    let mut doc = group_doc(&g, &vs);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

/// `/api/v1` or `/apis/G/V`: an APIResourceList, or None when the group/version is not served.
pub fn resource_list(cluster: &Cluster, group: &str, version: &str) -> Option<Value> {
    let infos: Vec<ResourceInfo> = cluster
        .registry
        .all()
        .into_iter()
        .filter(|i| i.group == group && i.version == version)
        .collect();
    if infos.is_empty() {
        return None;
    }
    let mut resources = vec![];
    for info in &infos {
        let mut r = json!({
            "name": info.plural,
            "singularName": info.singular,
            "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": info.verbs,
        });
        if !info.short_names.is_empty() {
            r["shortNames"] = json!(info.short_names);
        }
        if !info.categories.is_empty() {
            r["categories"] = json!(info.categories);
        }
        resources.push(r);
        for s in subresources(info) {
            let (g, v, k) = subresource_kind(info, &s);
            let mut sr = json!({ "name": format!("{}/{s}", info.plural), "singularName": "", "namespaced": info.namespaced, "kind": k, "verbs": subresource_verbs(&s) });
            if g != info.group || v != info.version {
                sr["group"] = json!(g);
                sr["version"] = json!(v);
            }
            resources.push(sr);
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_picks_first_acceptable() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_version(kubectl), Some("v2"));
        assert_eq!(
            aggregated_version(
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
            ),
            Some("v2beta1")
        );
        assert_eq!(aggregated_version("application/json"), None);
        assert_eq!(aggregated_version(""), None);
    }
}
