//! The restore's state between planning (`plan.rs`: what the cluster holds, read once) and
//! writing (`write.rs`: each write conditional on what the plan read).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kube::api::{Api, DynamicObject};
use kube::core::ApiResource;
use sealos_shared::archive::resolve::Resolver;
use sealos_shared::audit::AuditLog;
use sealos_shared::connection::Kube;
use sealos_shared::retry::Backoff;
use serde_json::Value;

use super::archive::Archived;
use super::options::Options;
use super::rewrite::Rewrite;

/// One admitted object and what the plan found for it.
pub struct Planned {
    /// As it will be written: in its target namespace, references rewritten.
    pub archived: Archived,
    pub rewrites: Vec<Rewrite>,
    /// Conflicts with objects the cluster holds (see `conflicts`).
    pub conflicts: Vec<String>,
    /// The `--allow-kind` that admitted it, if only a flag did.
    pub by_flag: Option<String>,
    pub(super) target_ns: Option<String>,
    pub(super) resource: ApiResource,
    /// The object as the cluster held it when planning; None: absent.
    pub(super) before: Option<Value>,
}

/// A target namespace, as the plan found it.
pub(super) struct PlannedNamespace {
    pub(super) source: String,
    pub(super) exists: bool,
}

pub struct Restorer<'a> {
    pub kube: &'a Kube,
    pub options: &'a Options,
    pub audit: &'a AuditLog,
    pub backoff: Backoff,
    /// The archive's Namespace objects, by name: a namespace is made from its own object.
    pub namespaces: BTreeMap<String, Value>,
    pub(super) resolver: Resolver,
    /// (resource, group) → the served resource, or why it is not served.
    pub(super) resources: HashMap<(String, String), std::result::Result<ApiResource, String>>,
    /// Target namespaces, in the order they are first needed.
    pub(super) targets: BTreeMap<String, PlannedNamespace>,
    /// Target namespaces a dry run would create: their objects cannot be checked by the server.
    pub(super) absent_in_dry_run: BTreeSet<String>,
}

impl<'a> Restorer<'a> {
    pub fn new(
        kube: &'a Kube,
        options: &'a Options,
        audit: &'a AuditLog,
        namespaces: BTreeMap<String, Value>,
    ) -> Restorer<'a> {
        Restorer {
            kube,
            options,
            audit,
            backoff: Backoff::default(),
            namespaces,
            resolver: Resolver::default(),
            resources: HashMap::new(),
            targets: BTreeMap::new(),
            absent_in_dry_run: BTreeSet::new(),
        }
    }
    pub(super) fn api(
        &self,
        resource: &ApiResource,
        namespace: Option<&str>,
    ) -> Api<DynamicObject> {
        sealos_shared::list::dynamic_api(&self.kube.client, namespace, resource)
    }
}

/// The API server's words for a failed request.
pub(super) fn describe(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}
