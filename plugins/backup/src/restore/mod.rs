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
use sealos_shared::connection::KubeFlags;
use sealos_shared::output::Out;
use sealos_shared::{Exit, Result};

use admit::{Admission, Verdict};
pub use options::{AllowKind, Existing, Options, RestoreArgs};
use report::{Allowed, ObjectResult, Outcome, Report};
use restorer::Restorer;

pub async fn run(args: &RestoreArgs, flags: &KubeFlags, out: &mut Out) -> Result<Exit> {
    let mut options = args.options()?;
    // kubectl's `-n NS` (without -A) narrows the restore as `--namespaces NS` does.
    if options.namespaces.is_empty()
        && !flags.all_namespaces
        && let Some(ns) = &flags.namespace
    {
        options.namespaces.insert(ns.clone());
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

    let kube = flags.connect().await?;
    let mut restorer = Restorer::new(&kube, &options, &audit, namespaces);
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
            "{conflicts} conflict(s) with objects the cluster holds: nothing was written (--host-map OLD=NEW moves external hosts; --allow-conflicts writes anyway)"
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
