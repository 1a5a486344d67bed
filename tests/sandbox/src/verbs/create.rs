//! POST to a collection: create an object (201), or with dryRun=All show what would be stored.

use super::{after_write, check_namespace, decode_body, scope_ns, versioned};
use crate::cluster::Cluster;
use crate::defaults::prepare_create;
use crate::registry::ResourceInfo;
use crate::response::{self, Resp};
use crate::router::Target;
use crate::server::ApiRequest;
use crate::status::ApiError;
use serde_json::{Value, json};

pub fn create(cluster: &Cluster, req: &ApiRequest, t: &Target) -> Result<Resp, ApiError> {
    let obj = decode_body(req)?;
    let ns = scope_ns(t).to_string();
    if t.info.namespaced {
        match obj["metadata"]["namespace"].as_str() {
            Some(body_ns) if !body_ns.is_empty() && body_ns != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {}
        }
    }
    let created = create_object(cluster, &t.info, &ns, obj, false, req.query.dry_run())?;
    Ok(response::json(201, &versioned(&created, &t.info)))
}

/// The create path every writer shares (clients, server-side apply, the simulation, seeding).
pub fn create_object(
    cluster: &Cluster,
    info: &ResourceInfo,
    ns: &str,
    mut obj: Value,
    keep_status: bool,
    dry_run: bool,
) -> Result<Value, ApiError> {
    check_namespace(cluster, info, ns)?;
    prepare_create(info, &mut obj, ns, keep_status)?;
    crate::names::check(info, obj["metadata"]["name"].as_str().unwrap_or(""))?;
    crate::validate::validate(info, &obj)?;
    crate::rbac::default(info, &mut obj);
    crate::rbac::validate(info, &obj)?;
    if dry_run {
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        if cluster
            .store
            .get(&info.key(), if info.namespaced { ns } else { "" }, &name)
            .is_some()
        {
            return Err(ApiError::already_exists(&info.group, &info.plural, &name));
        }
        let meta = crate::store::obj_meta(&mut obj);
        let uid = json!(format!("dry-run-{}", crate::defaults::random_suffix(8)));
        for (field, fresh) in [
            ("uid", uid),
            ("creationTimestamp", json!(crate::clock::now_rfc3339())),
        ] {
            if meta.get(field).is_none_or(|v| !v.is_string()) {
                meta.insert(field.into(), fresh);
            }
        }
        return Ok(obj);
    }
    let created = cluster.store.create(&info.key(), obj)?;
    after_write(cluster, info);
    Ok((*created).clone())
}
