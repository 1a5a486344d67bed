//! PUT: replace an object, checking its resourceVersion (409 when stale). The status of a
//! resource with a status subresource is kept: only `/status` writes it.

use super::{after_write, decode_body, next_generation, scope_ns, versioned};
use crate::cluster::Cluster;
use crate::registry::ResourceInfo;
use crate::response::{self, Resp};
use crate::router::Target;
use crate::server::ApiRequest;
use crate::status::ApiError;
use crate::store::rv_of;
use serde_json::{Value, json};

pub fn update(
    cluster: &Cluster,
    req: &ApiRequest,
    t: &Target,
    name: &str,
) -> Result<Resp, ApiError> {
    let body = decode_body(req)?;
    crate::validate::shape(&t.info, &body)?;
    check_identity(&body, t, name)?;
    let info = &t.info;
    let (obj, _) = write_existing(
        cluster,
        info,
        scope_ns(t),
        name,
        req.query.dry_run(),
        |cur| {
            check_rv(&body, cur, info, name)?;
            let mut next = body.clone();
            next["apiVersion"] = cur["apiVersion"].clone();
            next["kind"] = json!(info.kind);
            if info.status {
                keep_field(&mut next, cur, "status");
            }
            next_generation(cur, &mut next);
            Ok(next)
        },
    )?;
    Ok(response::json(200, &versioned(&obj, info)))
}

/// The name (and namespace) in the body must be the ones in the URL.
pub fn check_identity(body: &Value, t: &Target, name: &str) -> Result<(), ApiError> {
    match body["metadata"]["name"].as_str() {
        Some(n) if !n.is_empty() && n != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        _ => {}
    }
    if t.info.namespaced
        && let Some(ns) = body["metadata"]["namespace"].as_str()
        && !ns.is_empty()
        && Some(ns) != t.namespace.as_deref()
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

/// A body carrying a resourceVersion must carry the current one.
pub fn check_rv(
    body: &Value,
    cur: &Value,
    info: &ResourceInfo,
    name: &str,
) -> Result<(), ApiError> {
    match body["metadata"]["resourceVersion"].as_str() {
        Some(rv) if !rv.is_empty() && rv.parse::<u64>().ok() != rv_of(cur) => {
            Err(ApiError::conflict(&info.group, &info.plural, name))
        }
        _ => Ok(()),
    }
}

pub fn keep_field(next: &mut Value, cur: &Value, field: &str) {
    if let Some(o) = next.as_object_mut() {
        match cur.get(field) {
            Some(v) => o.insert(field.to_string(), v.clone()),
            None => o.remove(field),
        };
    }
}

/// Compute the next state from the current one and store it (or, dry, only compute it).
/// Returns the resulting object and whether it changed.
pub fn write_existing<F>(
    cluster: &Cluster,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
    dry_run: bool,
    compute: F,
) -> Result<(Value, bool), ApiError>
where
    F: FnOnce(&Value) -> Result<Value, ApiError>,
{
    let key = info.key();
    let compute = |cur: &Value| {
        let mut next = compute(cur)?;
        crate::immutable::keep_allocated(info, cur, &mut next);
        crate::validate::validate(info, &next)?;
        crate::rbac::default(info, &mut next);
        crate::rbac::validate(info, &next)?;
        crate::immutable::check(info, cur, &next)?;
        Ok(next)
    };
    if dry_run {
        let cur = cluster
            .store
            .get(&key, ns, name)
            .ok_or_else(|| ApiError::not_found(&info.group, &info.plural, name))?;
        let mut next = compute(&cur)?;
        crate::store::obj_meta(&mut next).insert(
            "resourceVersion".into(),
            cur["metadata"]["resourceVersion"].clone(),
        );
        let changed = !crate::store::same_content(&cur, &next);
        return Ok((next, changed));
    }
    let (obj, changed) = cluster.store.update_with(&key, ns, name, compute)?;
    if changed {
        after_write(cluster, info);
    }
    Ok(((*obj).clone(), changed))
}
