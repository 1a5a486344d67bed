//! PATCH: merge, JSON patch, strategic merge (built-ins only: 415 on custom resources) and
//! server-side apply (creating a missing object, 201; fields a manager stops applying are
//! removed, see `apply.rs`). A patch that changes nothing keeps the
//! resourceVersion and generation.

use super::apply;
use super::create::create_object;
use super::update::{check_rv, keep_field, write_existing};
use super::{decode_body, next_generation, scope_ns, versioned};
use crate::cluster::Cluster;
use crate::patch::{json_patch, merge_patch, strategic_merge_patch};
use crate::registry::ResourceInfo;
use crate::response::{self, Resp};
use crate::router::Target;
use crate::server::ApiRequest;
use crate::status::ApiError;
use serde_json::{Value, json};

const JSON_PATCH: &str = "application/json-patch+json";
const MERGE_PATCH: &str = "application/merge-patch+json";
const STRATEGIC: &str = "application/strategic-merge-patch+json";
const APPLY: &str = "application/apply-patch+yaml";

fn media(req: &ApiRequest) -> &str {
    req.content_type.split(';').next().unwrap_or("").trim()
}

fn accepted(info: &ResourceInfo) -> Vec<&'static str> {
    if info.custom {
        vec![JSON_PATCH, MERGE_PATCH, APPLY]
    } else {
        vec![JSON_PATCH, MERGE_PATCH, STRATEGIC, APPLY]
    }
}

fn patch_error(e: crate::patch::PatchError) -> ApiError {
    let status = e.status();
    let reason = match e.code() {
        400 => "BadRequest",
        422 => "Invalid",
        _ => "",
    };
    ApiError {
        code: e.code(),
        reason,
        message: status["message"].as_str().unwrap_or("").to_string(),
        details: status.get("details").cloned(),
    }
}

/// 409 `Conflict` with a `FieldManagerConflict` cause per field, as `NewApplyConflict`.
fn apply_conflict(conflicts: &[apply::Conflict]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|c| json!({ "reason": "FieldManagerConflict", "message": format!("conflict with {:?}", c.manager), "field": c.path() }))
        .collect();
    ApiError {
        code: 409,
        reason: "Conflict",
        message: apply::conflict_message(conflicts),
        details: Some(json!({ "causes": causes })),
    }
}

/// `cur` with the request's patch applied (any supported patch type).
pub fn patched(info: &ResourceInfo, cur: &Value, req: &ApiRequest) -> Result<Value, ApiError> {
    let kind = cur["kind"].as_str().unwrap_or(&info.kind).to_string();
    match media(req) {
        MERGE_PATCH => Ok(merge_patch(cur, &decode_body(req)?)),
        JSON_PATCH => json_patch(cur, &decode_body(req)?).map_err(patch_error),
        STRATEGIC if !info.custom => {
            strategic_merge_patch(cur, &decode_body(req)?, &kind).map_err(patch_error)
        }
        APPLY => {
            let applied = decode_body(req)?;
            let mut merged = if info.custom {
                merge_patch(cur, &applied)
            } else {
                strategic_merge_patch(cur, &applied, &kind).map_err(patch_error)?
            };
            let manager = req.query.value("fieldManager").unwrap_or("");
            let owned = apply::owned_fields(&applied, info.custom);
            let conflicts = apply::conflicts(cur, &applied, &owned, manager);
            if !conflicts.is_empty() {
                if !req.query.flag("force") {
                    return Err(apply_conflict(&conflicts));
                }
                apply::take_over(&mut merged, &conflicts);
            }
            if let Some(prev) = apply::previous(cur, manager) {
                apply::remove_dropped(&mut merged, &prev, &owned);
            }
            apply::record(&mut merged, manager, &info.api_version(), owned);
            Ok(merged)
        }
        _ => Err(ApiError::unsupported_patch(&accepted(info))),
    }
}

pub fn patch(
    cluster: &Cluster,
    req: &ApiRequest,
    t: &Target,
    name: &str,
) -> Result<Resp, ApiError> {
    let info = &t.info;
    let m = media(req);
    if !accepted(info).contains(&m) {
        return Err(ApiError::unsupported_patch(&accepted(info)));
    }
    let ns = scope_ns(t);
    if m == APPLY && cluster.store.get(&info.key(), ns, name).is_none() {
        return apply_create(cluster, req, t, name);
    }
    if m == APPLY && req.query.value("fieldManager").is_none() {
        return Err(ApiError::bad_request(
            "PATCH requests with apply-patch+yaml content type require a fieldManager to be set",
        ));
    }
    let (obj, _) = write_existing(cluster, info, ns, name, req.query.dry_run(), |cur| {
        let mut next = patched(info, cur, req)?;
        crate::validate::shape(info, &next)?;
        check_rv(&next, cur, info, name)?;
        next["apiVersion"] = cur["apiVersion"].clone();
        next["kind"] = json!(info.kind);
        if info.status {
            keep_field(&mut next, cur, "status");
        }
        next_generation(cur, &mut next);
        Ok(next)
    })?;
    Ok(response::json(200, &versioned(&obj, info)))
}

/// Server-side apply of an object that does not exist yet: create it.
fn apply_create(
    cluster: &Cluster,
    req: &ApiRequest,
    t: &Target,
    name: &str,
) -> Result<Resp, ApiError> {
    if req.query.value("fieldManager").is_none() {
        return Err(ApiError::bad_request(
            "PATCH requests with apply-patch+yaml content type require a fieldManager to be set",
        ));
    }
    let mut obj = decode_body(req)?;
    super::update::check_identity(&obj, t, name)?;
    let owned = apply::owned_fields(&obj, t.info.custom);
    let manager = req.query.value("fieldManager").unwrap_or("");
    apply::record(&mut obj, manager, &t.info.api_version(), owned);
    crate::store::obj_meta(&mut obj).insert("name".into(), json!(name));
    let created = create_object(
        cluster,
        &t.info,
        scope_ns(t),
        obj,
        false,
        req.query.dry_run(),
    )?;
    Ok(response::json(201, &versioned(&created, &t.info)))
}
