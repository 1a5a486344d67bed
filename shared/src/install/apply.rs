//! Writing an install to the cluster (server-side apply) and taking it out again (delete by
//! label). Every object is one audit record, written whether the request succeeded or not.

use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::Value;

use super::manifest::object_ref;
use super::{FIELD_MANAGER, Kind, MANAGED_BY, MANAGER, Manifest, Workload};
use crate::audit::{AuditLog, ObjectRef, Record};
use crate::connection::Kube;
use crate::error::{Error, KubeContext, Result};
use crate::list::{dynamic_api, list_all};

/// One object written or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub kind: Kind,
    pub object: ObjectRef,
    /// `serverside-applied` or `deleted`, as kubectl says it.
    pub action: &'static str,
}

impl Applied {
    /// As kubectl prints it: `deployment.apps/name serverside-applied`.
    pub fn line(&self, dry_run: bool) -> String {
        format!(
            "{}/{} {}{}",
            self.kind.resource_label(),
            self.object.name,
            self.action,
            if dry_run { " (dry run)" } else { "" }
        )
    }
}

fn record(kube: &Kube, plugin: &str, action: &str, object: &ObjectRef) -> Record {
    let mut record = Record::now(plugin, action, object.clone());
    record.context = kube.context.clone();
    record.user = kube.user.clone();
    record
}

/// What an object was before the change, for the audit record: its spec-like fields, without
/// server bookkeeping or a ConfigMap's data (the workload's own state, not install's).
fn summary(object: &DynamicObject) -> Value {
    let mut data = object.data.clone();
    if let Some(map) = data.as_object_mut() {
        map.remove("status");
        map.remove("data");
    }
    data
}

/// Server-side applies each object in order (field manager `kubectl-sealos`, forced: install
/// owns these fields). Stops at the first failure, which is audited and returned.
pub async fn apply(
    kube: &Kube,
    manifest: &Manifest,
    audit: &AuditLog,
    plugin: &str,
) -> Result<Vec<Applied>> {
    let mut applied = Vec::new();
    for object in &manifest.objects {
        let (kind, reference) = object_ref(object)?;
        let api = dynamic_api(
            &kube.client,
            reference.namespace.as_deref(),
            &kind.api_resource(),
        );
        let what = || format!("apply {}", reference.display());
        let before = api.get_opt(&reference.name).await.kube_context(what)?;
        let body: DynamicObject = serde_json::from_value(object.clone())
            .map_err(|e| Error::failed(format!("{}: {e}", what())))?;
        let result = api
            .patch(
                &reference.name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&body),
            )
            .await
            .kube_context(what);
        let mut rec = record(kube, plugin, "install", &reference);
        rec.before = before.as_ref().map(summary).unwrap_or(Value::Null);
        rec.after = object.clone();
        if let Err(e) = &result {
            rec.outcome = e.to_string();
        }
        audit.record(&rec)?;
        result?;
        applied.push(Applied {
            kind,
            object: reference,
            action: "serverside-applied",
        });
    }
    Ok(applied)
}

/// Deletes every object of the kinds install writes that carries all of the workload's labels
/// (managed-by, name, component, instance), in any namespace; `dry_run` only lists them.
/// Objects without all of them are never touched, whoever made them.
pub async fn uninstall(
    kube: &Kube,
    workload: &Workload,
    audit: &AuditLog,
    plugin: &str,
    dry_run: bool,
) -> Result<Vec<Applied>> {
    let selector = workload.selector();
    let mut deleted = Vec::new();
    for kind in Kind::ALL {
        let resource = kind.api_resource();
        let api = dynamic_api(&kube.client, None, &resource);
        let what = format!("{} with labels {selector:?}", resource.plural);
        let found = list_all(&api, &ListParams::default().labels(&selector), &what).await?;
        for object in found {
            // The server filtered on the selector; checked again so that nothing unlabelled
            // is ever deleted, whatever answered the list.
            let labels = object.metadata.labels.clone().unwrap_or_default();
            let ours = labels.get(MANAGED_BY).map(String::as_str) == Some(MANAGER)
                && workload
                    .labels()
                    .iter()
                    .all(|(k, v)| labels.get(k) == Some(v));
            let Some(name) = object.metadata.name.clone().filter(|_| ours) else {
                continue;
            };
            let namespace = object.metadata.namespace.clone();
            let reference = ObjectRef::new(kind.name(), namespace.as_deref(), &name);
            let mut rec = record(kube, plugin, "uninstall", &reference);
            rec.before = summary(&object);
            rec.dry_run = dry_run;
            if !dry_run {
                let api = dynamic_api(&kube.client, namespace.as_deref(), &resource);
                let result = api
                    .delete(&name, &DeleteParams::background())
                    .await
                    .kube_context(|| format!("delete {}", reference.display()));
                // Gone already (a cascade, another uninstall) is what was asked for.
                let result = match result {
                    Err(e) if e.status_code() == Some(404) => Ok(()),
                    other => other.map(|_| ()),
                };
                if let Err(e) = &result {
                    rec.outcome = e.to_string();
                }
                audit.record(&rec)?;
                result?;
            } else {
                audit.record(&rec)?;
            }
            deleted.push(Applied {
                kind,
                object: reference,
                action: "deleted",
            });
        }
    }
    Ok(deleted)
}
