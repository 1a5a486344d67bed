//! Planning and writing: which resource serves each admitted object, what the cluster holds now
//! (read once, when planning), then the writes in dependency order, each conditional on what the
//! plan read — a create only if still absent, an update only over the version the plan saw.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use sealos_shared::Result;
use sealos_shared::archive::catalog;
use sealos_shared::archive::clean::clean;
use sealos_shared::archive::path::EntryPath;
use sealos_shared::archive::resolve::{Resolver, fixed};
use sealos_shared::audit::{AuditLog, ObjectRef, Record};
use sealos_shared::connection::Kube;
use sealos_shared::error::KubeContext;
use sealos_shared::retry::{self, Backoff};
use serde_json::{Value, json};

use super::archive::Archived;
use super::conflicts::{self, Candidate, Claimed};
use super::options::{Existing, Options, valid_version};
use super::report::{ObjectResult, Outcome};
use super::rewrite::{Rewrite, Rewriter};
use super::version;
use crate::MANAGER;

/// One admitted object and what the plan found for it.
pub struct Planned {
    /// As it will be written: in its target namespace, references rewritten.
    pub archived: Archived,
    pub rewrites: Vec<Rewrite>,
    /// Conflicts with objects the cluster holds (see `conflicts`).
    pub conflicts: Vec<String>,
    /// The `--allow-kind` that admitted it, if only a flag did.
    pub by_flag: Option<String>,
    target_ns: Option<String>,
    resource: ApiResource,
    /// The object as the cluster held it when planning; None: absent.
    before: Option<Value>,
}

/// A target namespace, as the plan found it.
struct PlannedNamespace {
    source: String,
    exists: bool,
}

pub struct Restorer<'a> {
    pub kube: &'a Kube,
    pub options: &'a Options,
    pub audit: &'a AuditLog,
    pub backoff: Backoff,
    /// The archive's Namespace objects, by name: a namespace is made from its own object.
    pub namespaces: BTreeMap<String, Value>,
    resolver: Resolver,
    /// (resource, group) → the served resource, or why it is not served.
    resources: HashMap<(String, String), std::result::Result<ApiResource, String>>,
    /// Target namespaces, in the order they are first needed.
    targets: BTreeMap<String, PlannedNamespace>,
    /// Target namespaces a dry run would create: their objects cannot be checked by the server.
    absent_in_dry_run: BTreeSet<String>,
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

    /// Reads what the cluster holds for every admitted object (in restore order). Objects whose
    /// resource the cluster does not serve come back as failures.
    pub async fn plan(
        &mut self,
        admitted: Vec<(Archived, Option<String>)>,
    ) -> Result<(Vec<Planned>, Vec<ObjectResult>)> {
        let mut planned = Vec::new();
        let mut failed = Vec::new();
        for (mut archived, by_flag) in admitted {
            let target_ns = archived
                .path
                .namespace
                .as_deref()
                .map(|ns| self.options.target_ns(ns));
            let fail = |archived: &Archived, why: String| {
                ObjectResult::new(
                    archived.kind(),
                    target_ns.as_deref(),
                    &archived.path.name,
                    Outcome::Failed,
                )
                .with(why)
            };
            let resource = match self.served(&archived).await? {
                Ok(resource) => resource,
                Err(why) => {
                    failed.push(fail(&archived, why));
                    continue;
                }
            };
            let converted = match version::to_served(&mut archived.object, &resource) {
                Ok(converted) => converted,
                Err(why) => {
                    failed.push(fail(&archived, why));
                    continue;
                }
            };
            if let (Some(source), Some(target)) = (&archived.path.namespace, &target_ns) {
                self.plan_namespace(source, target).await?;
            }
            let before = if target_ns
                .as_ref()
                .is_some_and(|ns| self.targets.get(ns).is_some_and(|t| !t.exists))
            {
                None
            } else {
                let api = self.api(&resource, target_ns.as_deref());
                match retry::read(self.backoff, || api.get_opt(&archived.path.name)).await {
                    Ok(found) => found.and_then(|b| serde_json::to_value(b).ok()),
                    Err(e) => {
                        failed.push(fail(&archived, describe(&e)));
                        continue;
                    }
                }
            };
            if let Some(ns) = &target_ns {
                archived.object["metadata"]["namespace"] = json!(ns);
            }
            let rewriter = Rewriter {
                namespaces: &self.options.map,
                hosts: &self.options.hosts,
            };
            let kind = archived.kind().to_string();
            let mut rewrites: Vec<Rewrite> = converted.into_iter().collect();
            rewrites.extend(rewriter.rewrite(&archived.path.group, &kind, &mut archived.object));
            planned.push(Planned {
                archived,
                rewrites,
                conflicts: Vec::new(),
                by_flag,
                target_ns,
                resource,
                before,
            });
        }
        Ok((planned, failed))
    }

    /// The resource that serves an object: the catalogue's kinds as their group is discovered,
    /// other (operator-admitted) kinds by discovery alone — never a URL made from archive words.
    async fn served(
        &mut self,
        archived: &Archived,
    ) -> Result<std::result::Result<ApiResource, String>> {
        let path = &archived.path;
        let key = (path.resource.clone(), path.group.clone());
        if let Some(found) = self.resources.get(&key) {
            return Ok(found.clone());
        }
        let api_version = archived.object["apiVersion"].as_str().unwrap_or("");
        let version = api_version.rsplit_once('/').map_or(api_version, |(_, v)| v);
        let kind = archived.kind();
        let unserved = || {
            format!(
                "the cluster does not serve {} (install its CRD first)",
                EntryPath::resource_dir(&path.resource, &path.group)
            )
        };
        let found = match catalog::by_resource(&path.resource, &path.group) {
            Some(known) => match self.resolver.resolve(&self.kube.client, known).await? {
                // The version discovery recommends; `version::to_served` converts the object.
                Some(served) => Ok(served),
                None => Err(unserved()),
            },
            None => {
                let group = match kube::discovery::group(&self.kube.client, &path.group).await {
                    Ok(group) => Some(group),
                    Err(kube::Error::Discovery(_)) => None,
                    Err(e) => {
                        return Err(e)
                            .kube_context(|| format!("discover API group {:?}", path.group));
                    }
                };
                match group.and_then(|g| {
                    g.versioned_resources(version)
                        .into_iter()
                        .find(|(r, _)| r.kind == kind && !r.plural.contains('/'))
                }) {
                    None => Err(format!("the cluster does not serve {kind} {api_version}")),
                    Some((_, caps))
                        if (caps.scope == Scope::Namespaced) != path.namespace.is_some() =>
                    {
                        Err(format!(
                            "the cluster serves {kind} as {}, the archive has it otherwise",
                            if caps.scope == Scope::Namespaced {
                                "namespaced"
                            } else {
                                "cluster-scoped"
                            }
                        ))
                    }
                    Some((resource, _)) => Ok(resource),
                }
            }
        };
        self.resources.insert(key, found.clone());
        Ok(found)
    }

    /// The cluster's VirtualServices, Certificates and Gateways, listed only when the plan
    /// writes objects of that kind.
    pub async fn claimed(&mut self, planned: &[Planned]) -> Result<Claimed> {
        let mut claimed = Claimed::default();
        for (kind, list) in [
            (&catalog::VIRTUAL_SERVICE, &mut claimed.virtual_services),
            (&catalog::CERTIFICATE, &mut claimed.certificates),
            (&catalog::GATEWAY, &mut claimed.gateways),
        ] {
            let wanted = planned.iter().any(|p| {
                catalog::by_resource(&p.archived.path.resource, &p.archived.path.group)
                    == Some(kind)
            });
            if !wanted {
                continue;
            }
            let Some(resource) = self.resolver.resolve(&self.kube.client, kind).await? else {
                continue;
            };
            *list = self.list_all(&resource).await?;
        }
        Ok(claimed)
    }

    /// Every object of a resource in every namespace, paged, reads retried.
    async fn list_all(&self, resource: &ApiResource) -> Result<Vec<Value>> {
        let api = self.api(resource, None);
        let mut params = ListParams::default().limit(500);
        let mut items = Vec::new();
        loop {
            let page = retry::read(self.backoff, || api.list(&params))
                .await
                .kube_context(|| format!("list {}", resource.plural))?;
            items.extend(
                page.items
                    .into_iter()
                    .filter_map(|o| serde_json::to_value(o).ok()),
            );
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => return Ok(items),
            }
        }
    }

    async fn plan_namespace(&mut self, source: &str, target: &str) -> Result<()> {
        if self.targets.contains_key(target) {
            return Ok(());
        }
        let api = self.api(&fixed(&catalog::NAMESPACE), None);
        let exists = retry::read(self.backoff, || api.get_opt(target))
            .await
            .kube_context(|| format!("get namespace {target:?}"))?
            .is_some();
        self.targets.insert(
            target.to_string(),
            PlannedNamespace {
                source: source.to_string(),
                exists,
            },
        );
        Ok(())
    }

    fn api(&self, resource: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) => Api::namespaced_with(self.kube.client.clone(), ns, resource),
            None => Api::all_with(self.kube.client.clone(), resource),
        }
    }

    /// The plan's conflicts with what the cluster holds, recorded on each object; how many.
    pub fn find_conflicts(&self, planned: &mut [Planned], claimed: &Claimed) -> usize {
        let mut found = 0;
        for p in planned.iter_mut() {
            if p.before.is_some() && self.options.existing == Existing::Skip {
                continue; // left as it is: nothing to conflict
            }
            let candidate = Candidate {
                group: &p.archived.path.group,
                kind: p.archived.kind(),
                namespace: p.target_ns.as_deref().unwrap_or(""),
                name: &p.archived.path.name,
                object: &p.archived.object,
            };
            p.conflicts = conflicts::find(&candidate, claimed);
            found += p.conflicts.len();
        }
        found
    }

    /// The plan, not written because of conflicts: each conflicting object named, the rest held.
    pub fn hold(&self, planned: Vec<Planned>) -> Vec<ObjectResult> {
        planned
            .into_iter()
            .map(|p| {
                let ns = p.target_ns.as_deref();
                let mut result = if p.conflicts.is_empty() {
                    ObjectResult::new(p.archived.kind(), ns, &p.archived.path.name, Outcome::Skipped)
                        .with("not written: the restore found conflicts (see them; --host-map or --allow-conflicts)")
                } else {
                    ObjectResult::new(p.archived.kind(), ns, &p.archived.path.name, Outcome::Conflict)
                        .with(p.conflicts.join("; "))
                };
                result.rewrites = p.rewrites;
                result
            })
            .collect()
    }

    /// Writes the plan: the missing namespaces, then every object in order.
    pub async fn apply(&mut self, planned: Vec<Planned>) -> Vec<ObjectResult> {
        let mut results = Vec::new();
        let missing: Vec<(String, String)> = self
            .targets
            .iter()
            .filter(|(_, t)| !t.exists)
            .map(|(name, t)| (name.clone(), t.source.clone()))
            .collect();
        for (target, source) in missing {
            results.push(self.create_namespace(&source, &target).await);
        }
        for planned in planned {
            results.push(self.apply_one(planned).await);
        }
        results
    }

    async fn create_namespace(&mut self, source: &str, target: &str) -> ObjectResult {
        let mut object =
            self.namespaces.get(source).cloned().unwrap_or_else(
                || json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {}}),
            );
        object["metadata"]["name"] = json!(target);
        if let Some(labels) = object["metadata"]["labels"].as_object_mut()
            && labels.contains_key("kubernetes.io/metadata.name")
        {
            labels.insert("kubernetes.io/metadata.name".into(), json!(target));
        }
        let api = self.api(&fixed(&catalog::NAMESPACE), None);
        let result = self.create(&api, "Namespace", None, target, &object).await;
        if self.options.dry_run && result.result == Outcome::Created {
            self.absent_in_dry_run.insert(target.to_string());
        }
        result
    }

    async fn apply_one(&self, planned: Planned) -> ObjectResult {
        let Planned {
            archived,
            rewrites,
            conflicts,
            by_flag,
            target_ns,
            resource,
            before,
        } = planned;
        let Archived { path, mut object } = archived;
        let kind = object["kind"].as_str().unwrap_or("").to_string();
        let ns = target_ns.as_deref();
        let mut result = if let Some(ns) = ns
            && self.absent_in_dry_run.contains(ns)
        {
            ObjectResult::new(&kind, Some(ns), &path.name, Outcome::Created)
                .with("namespace does not exist yet: not checked by the server's dry run")
        } else {
            let api = self.api(&resource, ns);
            match before {
                None => {
                    self.fix_owners(&mut object, ns).await;
                    self.create(&api, &kind, ns, &path.name, &object).await
                }
                Some(_) if self.options.existing == Existing::Skip => {
                    ObjectResult::new(&kind, ns, &path.name, Outcome::Skipped)
                        .with("exists (--existing update overwrites)")
                }
                Some(before) => {
                    self.fix_owners(&mut object, ns).await;
                    self.update(&api, &kind, ns, &path.name, object, before)
                        .await
                }
            }
        };
        result.rewrites = rewrites;
        let notes = by_flag
            .map(|flag| format!("admitted by --allow-kind {flag}"))
            .into_iter()
            .chain((!conflicts.is_empty()).then(|| {
                format!(
                    "conflict allowed (--allow-conflicts): {}",
                    conflicts.join("; ")
                )
            }))
            .chain(result.message.take());
        let message = notes.collect::<Vec<_>>().join("; ");
        result.message = (!message.is_empty()).then_some(message);
        result
    }

    /// Creates an object the plan found absent. A POST, not an apply: it fails (409) rather than
    /// overwrite an object someone made since the plan.
    async fn create(
        &self,
        api: &Api<DynamicObject>,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        object: &Value,
    ) -> ObjectResult {
        let result = ObjectResult::new(kind, namespace, name, Outcome::Failed);
        let body: DynamicObject = match serde_json::from_value(object.clone()) {
            Ok(body) => body,
            Err(e) => return result.with(format!("not an object: {e}")),
        };
        let params = PostParams {
            dry_run: self.options.dry_run,
            field_manager: Some(MANAGER.to_string()),
        };
        match retry::read(self.backoff, || api.create(&params, &body)).await {
            Ok(_) => self.audited(ObjectResult {
                result: Outcome::Created,
                ..result
            }),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                // A retried POST may find its own first attempt: that one is ours.
                let ours = api
                    .get_opt(name)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|o| o.metadata.managed_fields)
                    .is_some_and(|fields| {
                        fields.iter().all(|f| f.manager.as_deref() == Some(MANAGER))
                    });
                if ours {
                    self.audited(ObjectResult {
                        result: Outcome::Created,
                        ..result
                    })
                } else {
                    ObjectResult {
                        result: Outcome::Conflict,
                        ..result
                    }
                    .with("created by someone else since the plan read it: left alone")
                }
            }
            Err(e) => result.with(describe(&e)),
        }
    }

    /// Applies over the version the plan read. Server-side apply has no preconditions object (only
    /// DELETE has one), but it honours `metadata.resourceVersion` in the applied configuration as
    /// one: a stale version is a 409 Conflict and nothing is written. A UID there would only be
    /// refused as an immutable-field change (422), and an object deleted and made again has a new
    /// resourceVersion anyway, so the resourceVersion alone is the precondition. `force` then only
    /// takes over fields other managers own, on the version the plan saw.
    async fn update(
        &self,
        api: &Api<DynamicObject>,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        mut object: Value,
        mut before: Value,
    ) -> ObjectResult {
        let result = ObjectResult::new(kind, namespace, name, Outcome::Failed);
        let seen = before["metadata"]["resourceVersion"].clone();
        if let Some(meta) = object["metadata"].as_object_mut() {
            meta.remove("uid");
            meta.insert("resourceVersion".into(), seen.clone());
        }
        let mut params = PatchParams::apply(MANAGER).force();
        if self.options.dry_run {
            params = params.dry_run();
        }
        let patch = Patch::Apply(&object);
        // Idempotent, so retried like a read; a retry after a write that went through meets
        // the new version and reports a conflict, never a silent overwrite.
        let after = match retry::read(self.backoff, || api.patch(name, &params, &patch)).await {
            Ok(after) => after,
            Err(kube::Error::Api(status)) if status.code == 409 => {
                return ObjectResult { result: Outcome::Conflict, ..result }.with(format!(
                    "changed since the plan read it (resourceVersion {}): not overwritten; run restore again",
                    seen.as_str().unwrap_or("?")
                ));
            }
            Err(e) => return result.with(describe(&e)),
        };
        let mut after = serde_json::to_value(&after).unwrap_or(Value::Null);
        clean(&mut before, |_, _| true);
        clean(&mut after, |_, _| true);
        let outcome = if before == after {
            Outcome::Unchanged
        } else {
            Outcome::Updated
        };
        self.audited(ObjectResult {
            result: outcome,
            ..result
        })
    }

    /// Records a write that changed something (not in a dry run).
    fn audited(&self, mut result: ObjectResult) -> ObjectResult {
        if self.options.dry_run || !matches!(result.result, Outcome::Created | Outcome::Updated) {
            return result;
        }
        let mut record = Record::now(
            "backup",
            "restore",
            ObjectRef {
                kind: result.kind.clone(),
                namespace: result.namespace.clone(),
                name: result.name.clone(),
            },
        );
        record.context = self.kube.context.clone();
        record.user = self.kube.user.clone();
        record.after = json!({"result": result.result});
        if let Err(e) = self.audit.record(&record) {
            result.message = Some(format!("applied, but the audit log failed: {e}"));
        }
        result
    }

    /// Owner references point at the owner's new uid, or go if the owner is not there.
    async fn fix_owners(&self, object: &mut Value, namespace: Option<&str>) {
        let Some(owners) = object["metadata"]["ownerReferences"].as_array().cloned() else {
            return;
        };
        let mut kept = Vec::new();
        for mut owner in owners {
            let api_version = owner["apiVersion"].as_str().unwrap_or("");
            let kind = owner["kind"].as_str().unwrap_or("");
            let name = owner["name"].as_str().unwrap_or("");
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            let Some(known) = catalog::by_kind(group, kind).filter(|_| valid_version(version))
            else {
                continue;
            };
            let resource = ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(group, version, kind),
                known.plural,
            );
            let api = self.api(&resource, namespace.filter(|_| known.namespaced));
            if let Ok(Some(found)) = api.get_opt(name).await
                && let Some(uid) = found.metadata.uid
            {
                owner["uid"] = json!(uid);
                kept.push(owner);
            }
        }
        if kept.is_empty() {
            if let Some(meta) = object["metadata"].as_object_mut() {
                meta.remove("ownerReferences");
            }
        } else {
            object["metadata"]["ownerReferences"] = Value::Array(kept);
        }
    }
}

/// The API server's words for a failed request.
fn describe(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}
