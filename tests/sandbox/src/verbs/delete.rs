//! DELETE of one object (owned objects follow, a namespace takes its contents with it, a CRD its
//! custom resources) and of a collection.

use super::list::Selectors;
use super::{after_write, scope_ns, versioned};
use crate::cluster::Cluster;
use crate::registry::{ResKey, ResourceInfo};
use crate::response::{self, Resp};
use crate::router::Target;
use crate::server::ApiRequest;
use crate::status::ApiError;
use crate::store::rv_of;
use serde_json::{Value, json};

/// DeleteOptions from the body (kubectl sends one, kube-rs may send none).
struct Options {
    dry_run: bool,
    uid: Option<String>,
    resource_version: Option<String>,
    propagation: Option<Propagation>,
}

/// What happens to the objects an object owns when it is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Dependents stay, their ownerReference to the deleted object removed.
    Orphan,
    Background,
    Foreground,
}

impl Propagation {
    /// The policy when the client names none: batch/v1 Jobs orphan their pods (upstream keeps
    /// that default for compatibility; kubectl always sends Background), the rest cascade.
    pub fn default_for(info: &ResourceInfo) -> Self {
        if info.group == "batch" && info.plural == "jobs" {
            Propagation::Orphan
        } else {
            Propagation::Background
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "Orphan" => Some(Propagation::Orphan),
            "Background" => Some(Propagation::Background),
            "Foreground" => Some(Propagation::Foreground),
            _ => None,
        }
    }
}

fn options(req: &ApiRequest) -> Options {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let body_dry = body["dryRun"]
        .as_array()
        .is_some_and(|a| a.iter().any(|v| v == "All"));
    let propagation = body["propagationPolicy"]
        .as_str()
        .or_else(|| req.query.value("propagationPolicy"))
        .and_then(Propagation::parse)
        .or_else(|| {
            let orphan = body["orphanDependents"]
                .as_bool()
                .or_else(|| req.query.value("orphanDependents").map(|v| v == "true"))?;
            Some(if orphan {
                Propagation::Orphan
            } else {
                Propagation::Background
            })
        });
    Options {
        dry_run: req.query.dry_run() || body_dry,
        uid: body["preconditions"]["uid"].as_str().map(String::from),
        resource_version: body["preconditions"]["resourceVersion"]
            .as_str()
            .map(String::from),
        propagation,
    }
}

pub fn delete(
    cluster: &Cluster,
    req: &ApiRequest,
    t: &Target,
    name: &str,
) -> Result<Resp, ApiError> {
    let info = &t.info;
    let ns = scope_ns(t);
    let opts = options(req);
    let cur = cluster
        .store
        .get(&info.key(), ns, name)
        .ok_or_else(|| ApiError::not_found(&info.group, &info.plural, name))?;
    check_preconditions(
        &cur,
        &info.group,
        &info.kind,
        name,
        opts.uid.as_deref(),
        opts.resource_version.as_deref(),
    )?;
    if opts.dry_run {
        return Ok(response::json(200, &versioned(&cur, info)));
    }
    // A pod whose processes run here is deleted gracefully: it turns Terminating and the
    // kubelet removes it once they have stopped (SIGTERM, SIGKILL after the grace period).
    let grace = req_grace(req).or_else(|| cur["spec"]["terminationGracePeriodSeconds"].as_u64());
    if info.group.is_empty()
        && info.plural == "pods"
        && grace.is_some_and(|g| g > 0)
        && cur["metadata"]["uid"]
            .as_str()
            .is_some_and(|uid| cluster.kubelet.is_running(uid))
    {
        let grace = grace.unwrap_or(30);
        let (terminating, _) = cluster.store.update_with(&info.key(), ns, name, |c| {
            let mut next = c.clone();
            if next["metadata"]["deletionTimestamp"].is_null() {
                let at = crate::clock::now()
                    .checked_add(jiff::SignedDuration::from_secs(grace as i64))
                    .unwrap_or_else(|_| crate::clock::now());
                let meta = crate::store::obj_meta(&mut next);
                meta.insert("deletionTimestamp".into(), json!(crate::clock::rfc3339(at)));
                meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
            }
            Ok(next)
        })?;
        return Ok(response::json(200, &versioned(&terminating, info)));
    }
    let policy = opts
        .propagation
        .unwrap_or_else(|| Propagation::default_for(info));
    let gone = delete_object_with(cluster, info, ns, name, policy)?;
    Ok(response::json(200, &versioned(&gone, info)))
}

/// DeleteOptions.gracePeriodSeconds (body or query).
fn req_grace(req: &ApiRequest) -> Option<u64> {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    body["gracePeriodSeconds"]
        .as_u64()
        .or_else(|| req.query.value("gracePeriodSeconds")?.parse().ok())
}

/// DeleteOptions.preconditions against the stored object, checked as `rest.BeforeDelete` does
/// (UID first, then resourceVersion), with its words.
pub fn check_preconditions(
    cur: &Value,
    group: &str,
    kind: &str,
    name: &str,
    uid: Option<&str>,
    resource_version: Option<&str>,
) -> Result<(), ApiError> {
    let meta = &cur["metadata"];
    let stored_uid = meta["uid"].as_str().unwrap_or("");
    if let Some(uid) = uid
        && uid != stored_uid
    {
        return Err(ApiError::precondition_failed(
            group,
            kind,
            name,
            &format!(
                "the UID in the precondition ({uid}) does not match the UID in record ({stored_uid}). The object might have been deleted and then recreated"
            ),
        ));
    }
    let stored_rv = rv_of(cur).map(|v| v.to_string()).unwrap_or_default();
    if let Some(rv) = resource_version
        && rv != stored_rv
    {
        return Err(ApiError::precondition_failed(
            group,
            kind,
            name,
            &format!(
                "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({stored_rv}). The object might have been modified"
            ),
        ));
    }
    Ok(())
}

/// Delete one object and everything that follows from it, with the kind's default policy.
pub fn delete_object(
    cluster: &Cluster,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
) -> Result<Value, ApiError> {
    delete_object_with(cluster, info, ns, name, Propagation::default_for(info))
}

/// Delete one object; its dependents go (or are orphaned) as `policy` says.
pub fn delete_object_with(
    cluster: &Cluster,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
    policy: Propagation,
) -> Result<Value, ApiError> {
    if info.group.is_empty() && info.plural == "namespaces" {
        return delete_namespace(cluster, name);
    }
    let gone = cluster.store.delete(&info.key(), ns, name)?;
    if let Some(uid) = gone["metadata"]["uid"].as_str() {
        match policy {
            Propagation::Orphan => orphan_dependents(cluster, ns, uid),
            Propagation::Background | Propagation::Foreground => delete_cascade(cluster, ns, uid),
        }
    }
    if info.group == "apiextensions.k8s.io" && info.plural == "customresourcedefinitions" {
        let (group, plural) = (
            gone["spec"]["group"].as_str().unwrap_or(""),
            gone["spec"]["names"]["plural"].as_str().unwrap_or(""),
        );
        let key = ResKey::new(group, plural);
        for o in cluster.store.list(&key, None) {
            let m = &o["metadata"];
            let _ = cluster.store.delete(
                &key,
                m["namespace"].as_str().unwrap_or(""),
                m["name"].as_str().unwrap_or(""),
            );
        }
    }
    after_write(cluster, info);
    Ok((*gone).clone())
}

/// Orphaning: dependents lose their ownerReference to `uid`.
fn orphan_dependents(cluster: &Cluster, ns: &str, uid: &str) {
    for key in cluster.store.keys() {
        for o in cluster.store.list(&key, Some(ns)) {
            let owned = o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid));
            if owned && let Some(name) = o["metadata"]["name"].as_str() {
                let _ = cluster.store.update_with(&key, ns, name, |cur| {
                    let mut next = cur.clone();
                    if let Some(refs) = next["metadata"]["ownerReferences"].as_array_mut() {
                        refs.retain(|r| r["uid"] != uid);
                        if refs.is_empty()
                            && let Some(m) = next["metadata"].as_object_mut()
                        {
                            m.remove("ownerReferences");
                        }
                    }
                    Ok(next)
                });
            }
        }
    }
}

/// Garbage collection: delete (recursively) what names `uid` as an owner in `ns`.
pub fn delete_cascade(cluster: &Cluster, ns: &str, uid: &str) {
    for key in cluster.store.keys() {
        for o in cluster.store.list(&key, Some(ns)) {
            let owned = o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid));
            if owned
                && let Some(name) = o["metadata"]["name"].as_str()
                && let Ok(gone) = cluster.store.delete(&key, ns, name)
                && let Some(child) = gone["metadata"]["uid"].as_str()
            {
                delete_cascade(cluster, ns, child);
            }
        }
    }
}

/// The namespace turns Terminating, its contents go, then it goes; the answer shows it Terminating.
fn delete_namespace(cluster: &Cluster, name: &str) -> Result<Value, ApiError> {
    let key = ResKey::new("", "namespaces");
    let (terminating, _) = cluster.store.update_with(&key, "", name, |cur| {
        let mut next = cur.clone();
        next["status"]["phase"] = json!("Terminating");
        crate::store::obj_meta(&mut next).insert(
            "deletionTimestamp".into(),
            json!(crate::clock::now_rfc3339()),
        );
        Ok(next)
    })?;
    for k in cluster.store.keys() {
        for o in cluster.store.list(&k, Some(name)) {
            if let Some(n) = o["metadata"]["name"].as_str() {
                let _ = cluster.store.delete(&k, name, n);
            }
        }
    }
    let _ = cluster.store.delete(&key, "", name);
    Ok((*terminating).clone())
}

pub fn delete_collection(
    cluster: &Cluster,
    req: &ApiRequest,
    t: &Target,
) -> Result<Resp, ApiError> {
    let info = &t.info;
    let sel = Selectors::from_query(&req.query, info)?;
    let ns = if info.namespaced {
        t.namespace.as_deref()
    } else {
        None
    };
    let opts = options(req);
    let mut items = vec![];
    for o in cluster.store.list(&info.key(), ns) {
        if !sel.matches(&o) {
            continue;
        }
        let m = &o["metadata"];
        let (ons, name) = (
            m["namespace"].as_str().unwrap_or(""),
            m["name"].as_str().unwrap_or(""),
        );
        let policy = opts
            .propagation
            .unwrap_or_else(|| Propagation::default_for(info));
        let gone = if opts.dry_run {
            (*o).clone()
        } else {
            delete_object_with(cluster, info, ons, name, policy)?
        };
        items.push(versioned(&gone, info));
    }
    Ok(response::json(
        200,
        &json!({ "kind": info.list_kind(), "apiVersion": info.api_version(), "metadata": {}, "items": items }),
    ))
}
