//! Every verb on a resource path: dispatch by method, name and subresource, and what the
//! verbs share (decoding bodies, namespace checks, versioned output).

mod apply;
mod create;
mod delete;
mod list;
mod patch;
mod subresource;
mod update;

use crate::cluster::Cluster;
use crate::registry::{ResKey, ResourceInfo};
use crate::response::{self, Resp};
use crate::router::Target;
use crate::server::ApiRequest;
use crate::status::ApiError;
use crate::{logs, metrics, ssar};
use hyper::Method;
use serde_json::{Value, json};
use std::sync::Arc;

pub use create::create_object;
pub use delete::{
    Propagation, check_preconditions, delete_cascade, delete_object, delete_object_with,
};
pub use list::Selectors;

pub async fn handle(cluster: &Arc<Cluster>, req: &ApiRequest, t: Target) -> Resp {
    match dispatch(cluster, req, &t).await {
        Ok(r) => r,
        Err(e) => response::error(&e),
    }
}

async fn dispatch(cluster: &Arc<Cluster>, req: &ApiRequest, t: &Target) -> Result<Resp, ApiError> {
    let info = &t.info;
    if info.group == "authorization.k8s.io" {
        return match req.method {
            Method::POST => ssar::handle(cluster, req, info),
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    if info.group == "authentication.k8s.io" {
        return match req.method {
            Method::POST => Ok(ssar::whoami(req)),
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    if info.group == "metrics.k8s.io" {
        return match req.method {
            Method::GET => metrics::handle(cluster, req, t),
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    if let Some(sub) = t.subresource.as_deref() {
        let name = t.name.as_deref().unwrap_or("");
        return match sub {
            "log" if info.plural == "pods" && req.method == Method::GET => {
                logs::handle(cluster, req, t.namespace.as_deref().unwrap_or(""), name)
            }
            "eviction" if info.group.is_empty() && info.plural == "pods" => match req.method {
                Method::POST => crate::disruption::evict(
                    cluster,
                    req,
                    t.namespace.as_deref().unwrap_or(""),
                    name,
                ),
                _ => Err(ApiError::method_not_allowed()),
            },
            "token" if info.group.is_empty() && info.plural == "serviceaccounts" => {
                match req.method {
                    Method::POST => crate::tokenrequest::create(
                        cluster,
                        req,
                        t.namespace.as_deref().unwrap_or(""),
                        name,
                    ),
                    _ => Err(ApiError::method_not_allowed()),
                }
            }
            "status" if info.status => subresource::status(cluster, req, t),
            "scale" if info.scale => subresource::scale(cluster, req, t),
            _ if info.subresources.iter().any(|s| s == sub)
                || sub == "status"
                || sub == "scale" =>
            {
                Err(ApiError::method_not_allowed())
            }
            _ => Err(ApiError::no_route()),
        };
    }
    match (&req.method, t.name.as_deref()) {
        (&Method::GET, Some(_)) if req.query.flag("watch") => {
            Ok(crate::watch::serve(cluster, req, t))
        }
        (&Method::GET, Some(name)) => get(cluster, req, t, name),
        (&Method::GET, None) if req.query.flag("watch") => Ok(crate::watch::serve(cluster, req, t)),
        (&Method::GET, None) => list::list(cluster, req, t),
        (&Method::POST, None) => create::create(cluster, req, t),
        (&Method::PUT, Some(name)) => update::update(cluster, req, t, name),
        (&Method::PATCH, Some(name)) => patch::patch(cluster, req, t, name),
        (&Method::DELETE, Some(name)) => delete::delete(cluster, req, t, name),
        (&Method::DELETE, None) => delete::delete_collection(cluster, req, t),
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn get(cluster: &Cluster, req: &ApiRequest, t: &Target, name: &str) -> Result<Resp, ApiError> {
    let ns = scope_ns(t);
    let obj = cluster
        .store
        .get(&t.info.key(), ns, name)
        .ok_or_else(|| ApiError::not_found(&t.info.group, &t.info.plural, name))?;
    let obj = versioned(&obj, &t.info);
    if wants_table(&req.accept) {
        let table = list::table_of(
            cluster,
            req,
            &t.info,
            std::slice::from_ref(&obj),
            &json!({ "resourceVersion": obj["metadata"]["resourceVersion"] }),
        );
        return Ok(response::json(200, &table));
    }
    Ok(response::json(200, &obj))
}

/// The namespace a target lives in ("" for cluster-scoped resources).
pub fn scope_ns(t: &Target) -> &str {
    if t.info.namespaced {
        t.namespace.as_deref().unwrap_or("")
    } else {
        ""
    }
}

pub fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

/// The stored object as the requested version presents it (apiVersion only: versions share a schema here).
pub fn versioned(obj: &Value, info: &ResourceInfo) -> Value {
    let mut o = obj.clone();
    o["apiVersion"] = json!(info.api_version());
    o["kind"] = json!(info.kind);
    o
}

/// Decode a JSON (or, for apply, YAML) body into an object.
pub fn decode_body(req: &ApiRequest) -> Result<Value, ApiError> {
    if req.content_type.starts_with("application/apply-patch+yaml") {
        let text = std::str::from_utf8(&req.body)
            .map_err(|e| ApiError::bad_request(format!("body is not UTF-8: {e}")))?;
        return serde_saphyr::from_str::<Value>(text)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")));
    }
    if req
        .content_type
        .starts_with("application/vnd.kubernetes.protobuf")
    {
        return crate::protobuf::decode_object(&req.body)
            .ok_or_else(|| ApiError::unsupported_patch(&["application/json", "application/yaml"]));
    }
    serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("the object provided is unrecognized: {e}")))
}

/// Namespaced writes need an existing namespace that is not being deleted.
pub fn check_namespace(cluster: &Cluster, info: &ResourceInfo, ns: &str) -> Result<(), ApiError> {
    if !info.namespaced {
        return Ok(());
    }
    match cluster.store.get(&ResKey::new("", "namespaces"), "", ns) {
        None => Err(ApiError::not_found("", "namespaces", ns)),
        Some(n) if n["status"]["phase"] == "Terminating" => {
            Err(ApiError::namespace_terminating(ns))
        }
        Some(_) => Ok(()),
    }
}

/// After a write: CRD changes alter what the server serves.
pub fn after_write(cluster: &Cluster, info: &ResourceInfo) {
    if info.group == "apiextensions.k8s.io" && info.plural == "customresourcedefinitions" {
        cluster.refresh_crds();
    }
}

/// A spec change (anything outside metadata and status) bumps metadata.generation.
pub fn next_generation(old: &Value, new: &mut Value) {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("metadata");
            o.remove("status");
        }
        v
    };
    let old_gen = old["metadata"]["generation"].as_i64();
    let g = match old_gen {
        Some(g) if strip(old) != strip(new) => Some(g + 1),
        other => other,
    };
    if let Some(g) = g {
        crate::store::obj_meta(new).insert("generation".into(), json!(g));
    } else {
        crate::store::obj_meta(new).remove("generation");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_moves_on_spec_changes_only() {
        let old = json!({ "metadata": { "generation": 4, "labels": { "a": "1" } }, "spec": { "replicas": 1 }, "status": { "x": 1 } });
        let mut labels_only = json!({ "metadata": { "labels": { "a": "2" } }, "spec": { "replicas": 1 }, "status": { "x": 2 } });
        next_generation(&old, &mut labels_only);
        assert_eq!(labels_only["metadata"]["generation"], 4);
        let mut spec = json!({ "metadata": {}, "spec": { "replicas": 2 } });
        next_generation(&old, &mut spec);
        assert_eq!(spec["metadata"]["generation"], 5);
        let mut cm = json!({ "metadata": {}, "data": { "a": "b" } });
        next_generation(&json!({ "metadata": {}, "data": {} }), &mut cm);
        assert!(
            cm["metadata"].get("generation").is_none(),
            "kinds without a generation keep none"
        );
    }

    #[test]
    fn table_is_asked_for_by_the_first_media_range() {
        assert!(wants_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!wants_table("application/json"));
    }
}
