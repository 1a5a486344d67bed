//! Writing the plan: the missing namespaces first, then each object in dependency order, each
//! write conditional on what the plan read, each change audited.

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use sealos_shared::archive::catalog;
use sealos_shared::archive::clean::clean;
use sealos_shared::archive::resolve::fixed;
use sealos_shared::audit::{ObjectRef, Record};
use sealos_shared::retry;
use serde_json::{Value, json};

use super::archive::Archived;
use super::options::{Existing, valid_version};
use super::report::{ObjectResult, Outcome};
use super::restorer::{Planned, Restorer, describe};
use crate::MANAGER;

impl Restorer<'_> {
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
        // What the server sets (uid, resourceVersion, status, ...) is never sent: backup cleans it
        // away, and an archive that still carries it would turn a create into a refusal or make
        // its own precondition.
        clean(&mut object, |_, _| true);
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
