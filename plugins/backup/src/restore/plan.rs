//! Planning: which resource serves each admitted object (discovery, never archive words), the
//! object as it will be written (its served version, its target namespace, references
//! rewritten), what the cluster holds for it now, and its conflicts with the cluster.

use kube::api::ListParams;
use kube::core::ApiResource;
use kube::discovery::Scope;
use sealos_shared::Result;
use sealos_shared::archive::catalog;
use sealos_shared::archive::path::EntryPath;
use sealos_shared::archive::resolve::fixed;
use sealos_shared::error::KubeContext;
use sealos_shared::list::Pager;
use sealos_shared::retry;
use serde_json::{Value, json};

use super::archive::Archived;
use super::conflicts::{self, Candidate, Claimed};
use super::options::Existing;
use super::report::{ObjectResult, Outcome};
use super::restorer::{Planned, PlannedNamespace, Restorer, describe};
use super::rewrite::{Rewrite, Rewriter};
use super::version;

impl Restorer<'_> {
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
        let objects = Pager::new(&api, &ListParams::default(), &resource.plural)
            .backoff(self.backoff)
            .collect()
            .await?;
        Ok(objects
            .into_iter()
            .filter_map(|o| serde_json::to_value(o).ok())
            .collect())
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
}
