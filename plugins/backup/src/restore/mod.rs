//! `restore`: read the archive once and verify that copy (`archive`), refuse malformed archives
//! (`wellformed`), keep only what `backup create` makes or the operator names (`admit`), read what
//! the cluster holds (the plan), then write in dependency order (namespaces on demand, Secrets
//! and ConfigMaps, issuers, certificates, gateways, destination rules, virtual services, security
//! policies, deployments), each write conditional on the plan (`apply`); each object reported as
//! refused / failed / conflict / created / updated / unchanged / skipped (`report`).

pub mod admit;
pub mod archive;
pub mod conflicts;
pub mod options;
pub mod plan;
pub mod report;
pub mod restorer;
pub mod rewrite;
pub mod version;
pub mod wellformed;
pub mod write;

use std::collections::{BTreeMap, BTreeSet};

use sealos_shared::archive::catalog::{self, Part};
use sealos_shared::audit::AuditLog;
use sealos_shared::connection::Kube;
use sealos_shared::output::Out;
use sealos_shared::{Exit, Result};

use admit::{Admission, Verdict};
pub use options::{AllowKind, Existing, Options, RestoreArgs};
use report::{Allowed, ObjectResult, Outcome, Report};
use restorer::Restorer;
use sealos_shared::output::counted;

/// What a restore knows before it reads the cluster: its options, the verified copy of the
/// archive and what that copy admits. A bad or malformed archive is refused here, cluster or not.
pub struct Prepared {
    options: Options,
    audit: AuditLog,
    copy: archive::Verified,
    namespaces: BTreeMap<String, serde_json::Value>,
    admitted: Vec<(archive::Archived, Option<String>)>,
    results: Vec<ObjectResult>,
    allowed_kinds: Vec<Allowed>,
    notes: Vec<String>,
}

/// Reads and verifies, then restores: what a test calls with its own client.
pub async fn run(args: &RestoreArgs, kube: &Kube, out: &mut Out) -> Result<Exit> {
    let prepared = prepare(args, kube.requested_scope()).await?;
    apply(prepared, kube, out).await
}

/// Options, the archive read once and verified, and the admission of each object; `scope` is
/// `-n` (without `-A`), which narrows the restore as `--namespaces` does.
pub async fn prepare(args: &RestoreArgs, scope: Option<&str>) -> Result<Prepared> {
    let mut options = args.options()?;
    if options.namespaces.is_empty()
        && let Some(ns) = scope
    {
        options.namespaces.insert(ns.to_string());
    }
    let audit = AuditLog::new(args.audit_log.as_deref())?;
    let copy = archive::read(
        &args.archive,
        args.decrypt_key.as_deref(),
        args.trusted_signers.as_deref(),
    )
    .await?;

    let admission = Admission::new(&options, &copy.index, &copy.objects);
    let mut results: Vec<ObjectResult> = Vec::new();
    let mut namespaces = BTreeMap::new();
    let mut admitted = Vec::new();
    let mut unselected_cluster = BTreeSet::new();
    for archived in &copy.objects {
        if catalog::by_resource(&archived.path.resource, &archived.path.group)
            == Some(&catalog::NAMESPACE)
        {
            // Kept aside: a namespace is made, from its own object, only when an object needs it.
            namespaces.insert(archived.path.name.clone(), archived.object.clone());
            continue;
        }
        match admission.judge(archived) {
            Verdict::Admit(by_flag) => admitted.push((archived.clone(), by_flag)),
            Verdict::Refuse(why) => results.push(
                ObjectResult::new(
                    archived.kind(),
                    archived.path.namespace.as_deref(),
                    &archived.path.name,
                    Outcome::Refused,
                )
                .with(why),
            ),
            Verdict::Unselected => {
                if archived.path.namespace.is_none() {
                    unselected_cluster.insert(archived.kind().to_string());
                }
            }
        }
    }
    // Dependencies first; within a phase, archive order.
    admitted.sort_by_key(|(a, _)| phase_of(&a.path.resource, &a.path.group));
    let allowed_kinds = allowed(&options, &admitted);
    let mut notes = Vec::new();
    if !options.namespaces.is_empty() && !unselected_cluster.is_empty() {
        notes.push(format!(
            "cluster-scoped {} left alone: -n/--namespaces restores only those namespaces (--include {} restores ClusterIssuers too)",
            unselected_cluster.into_iter().collect::<Vec<_>>().join(", "),
            Part::Certificates.as_str()
        ));
    }
    Ok(Prepared {
        options,
        audit,
        copy,
        namespaces,
        admitted,
        results,
        allowed_kinds,
        notes,
    })
}

/// Plans against what the cluster holds, then writes (or, on conflicts, holds everything).
pub async fn apply(prepared: Prepared, kube: &Kube, out: &mut Out) -> Result<Exit> {
    let Prepared {
        options,
        audit,
        copy,
        namespaces,
        admitted,
        mut results,
        allowed_kinds,
        mut notes,
    } = prepared;
    let mut restorer = Restorer::new(kube, &options, &audit, namespaces);
    let progress = sealos_shared::progress::spinner("planning the restore");
    let planned = restorer.plan(admitted).await;
    progress.finish_and_clear();
    let (mut planned, failed) = planned?;
    results.extend(failed);
    let claimed = restorer.claimed(&planned).await?;
    let conflicts = restorer.find_conflicts(&mut planned, &claimed);
    if conflicts > 0 && !options.allow_conflicts {
        // Nothing is written: a partial clone beside the original is worse than none.
        notes.push(format!(
            "{} with objects the cluster holds: nothing was written (--host-map OLD=NEW moves external hosts; --allow-conflicts writes anyway)",
            counted(conflicts, "conflict", "conflicts")
        ));
        results.extend(restorer.hold(planned));
    } else {
        results.extend(restorer.apply(planned).await);
    }

    results.sort_by_key(|r| r.result);
    let report = Report {
        archive: copy.display,
        backup: copy.index.head.name.clone(),
        dry_run: options.dry_run,
        summary: report::count(&results),
        allowed_kinds,
        notes,
        objects: results,
    };
    report::render(&report, out)?;
    Ok(Exit::problem_if(report.problems()))
}

fn phase_of(resource: &str, group: &str) -> u8 {
    catalog::by_resource(resource, group).map_or(9, |k| k.phase)
}

/// What each `--allow-kind` admitted.
fn allowed(options: &Options, admitted: &[(archive::Archived, Option<String>)]) -> Vec<Allowed> {
    options
        .allow_kinds
        .iter()
        .map(|allow| {
            let mine: Vec<&archive::Archived> = admitted
                .iter()
                .filter(|(_, by)| by.as_deref() == Some(allow.flag.as_str()))
                .map(|(a, _)| a)
                .collect();
            let kinds: BTreeSet<String> = mine
                .iter()
                .map(|a| {
                    if a.path.group.is_empty() {
                        a.kind().to_string()
                    } else {
                        format!("{}.{}", a.kind(), a.path.group)
                    }
                })
                .collect();
            Allowed {
                flag: allow.flag.clone(),
                kinds: kinds.into_iter().collect(),
                objects: mine.len() as u64,
            }
        })
        .collect()
}
