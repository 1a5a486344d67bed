//! `/status` and `/scale`: get, update (409 on a stale resourceVersion) and patch.

use super::update::{check_rv, write_existing};
use super::{decode_body, scope_ns, versioned};
use crate::cluster::Cluster;
use crate::response::{self, Resp};
use crate::router::Target;
use crate::server::ApiRequest;
use crate::status::ApiError;
use hyper::Method;
use serde_json::{Value, json};

pub fn status(cluster: &Cluster, req: &ApiRequest, t: &Target) -> Result<Resp, ApiError> {
    let info = &t.info;
    let name = t.name.as_deref().unwrap_or("");
    let ns = scope_ns(t);
    let (obj, _) = match req.method {
        Method::GET => {
            let o = cluster
                .store
                .get(&info.key(), ns, name)
                .ok_or_else(|| ApiError::not_found(&info.group, &info.plural, name))?;
            ((*o).clone(), false)
        }
        Method::PUT => {
            let body = decode_body(req)?;
            write_existing(cluster, info, ns, name, req.query.dry_run(), |cur| {
                check_rv(&body, cur, info, name)?;
                let mut next = cur.clone();
                next["status"] = body.get("status").cloned().unwrap_or(json!({}));
                crate::validate::shape(info, &next)?;
                Ok(next)
            })?
        }
        Method::PATCH => write_existing(cluster, info, ns, name, req.query.dry_run(), |cur| {
            let patched = super::patch::patched(info, cur, req)?;
            check_rv(&patched, cur, info, name)?;
            let mut next = cur.clone();
            next["status"] = patched.get("status").cloned().unwrap_or(json!({}));
            crate::validate::shape(info, &next)?;
            Ok(next)
        })?,
        _ => return Err(ApiError::method_not_allowed()),
    };
    Ok(response::json(200, &versioned(&obj, info)))
}

fn scale_view(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let selector = obj["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": { "replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1) },
        "status": { "replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector },
    })
}

pub fn scale(cluster: &Cluster, req: &ApiRequest, t: &Target) -> Result<Resp, ApiError> {
    let info = &t.info;
    let name = t.name.as_deref().unwrap_or("");
    let ns = scope_ns(t);
    let apply = |cur: &Value, new_scale: &Value| -> Result<Value, ApiError> {
        check_rv(new_scale, cur, info, name)?;
        let replicas = new_scale["spec"]["replicas"]
            .as_i64()
            .ok_or_else(|| ApiError::bad_request("spec.replicas is required"))?;
        let mut next = cur.clone();
        next["spec"]["replicas"] = json!(replicas);
        super::next_generation(cur, &mut next);
        Ok(next)
    };
    let obj = match req.method {
        Method::GET => cluster
            .store
            .get(&info.key(), ns, name)
            .map(|o| (*o).clone())
            .ok_or_else(|| ApiError::not_found(&info.group, &info.plural, name))?,
        Method::PUT => {
            let body = decode_body(req)?;
            write_existing(cluster, info, ns, name, req.query.dry_run(), |cur| {
                apply(cur, &body)
            })?
            .0
        }
        Method::PATCH => {
            write_existing(cluster, info, ns, name, req.query.dry_run(), |cur| {
                let view = scale_view(cur);
                let scale_info = crate::registry::ResourceInfo {
                    kind: "Scale".into(),
                    ..info.clone()
                };
                let patched = super::patch::patched(&scale_info, &view, req)?;
                apply(cur, &patched)
            })?
            .0
        }
        _ => return Err(ApiError::method_not_allowed()),
    };
    Ok(response::json(200, &scale_view(&obj)))
}
