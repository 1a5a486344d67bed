//! `restore`: verify the archive, then server-side apply its objects phase by phase in
//! dependency order (namespaces on demand, Secrets and ConfigMaps, issuers, certificates,
//! gateways, destination rules, virtual services, security policies, deployments), each object
//! reported as created / updated / unchanged / skipped / failed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use sealos_shared::archive::catalog::{self, Part};
use sealos_shared::archive::clean::clean;
use sealos_shared::archive::crypt::Identity;
use sealos_shared::archive::index::Index;
use sealos_shared::archive::path::EntryPath;
use sealos_shared::archive::resolve::Resolver;
use sealos_shared::archive::{crypt, reader};
use sealos_shared::audit::{AuditLog, ObjectRef, Record};
use sealos_shared::connection::{Kube, KubeFlags};
use sealos_shared::error::KubeContext;
use sealos_shared::output::{Format, Out, Severity, Table};
use sealos_shared::retry::{self, Backoff};
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::MANAGER;

/// What to do with an object that already exists.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Existing {
    /// Leave it as it is (reported as skipped).
    #[default]
    Skip,
    /// Apply the backed-up fields over it (server-side apply, forced).
    Update,
}

#[derive(Args, Debug, Clone)]
pub struct RestoreArgs {
    /// The archive: a path, or s3://BUCKET/PREFIX/NAME.tar.gz.
    #[arg(value_name = "ARCHIVE|s3://...")]
    pub archive: String,
    /// Use the server's dry run: validate every object, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only these parts of the configuration.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub include: Vec<Part>,
    /// Only objects from these namespaces, as named in the backup (`-n NS` means the same).
    #[arg(long, value_delimiter = ',', value_name = "NS,...")]
    pub namespaces: Vec<String>,
    /// Restore namespace A's objects into B (repeatable).
    #[arg(long, value_delimiter = ',', value_name = "A=B")]
    pub namespace_map: Vec<String>,
    /// Objects that already exist: skip them, or update them.
    #[arg(long, value_enum, default_value_t)]
    pub existing: Existing,
    /// The age identity file for an encrypted archive.
    #[arg(long, value_name = "FILE")]
    pub decrypt_key: Option<PathBuf>,
    /// Restore only an archive signed by a key in this allowed_signers file (see `verify`);
    /// anything else is refused before any object is applied.
    #[arg(long, value_name = "FILE")]
    pub trusted_signers: Option<PathBuf>,
    /// The audit log (default: $XDG_STATE_HOME/kubectl-sealos/audit.jsonl).
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
    /// Report format.
    #[arg(short = 'o', long = "format", value_enum, default_value_t)]
    pub format: Format,
}

/// One object's fate. Ordered worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Failed,
    Created,
    Updated,
    Unchanged,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectResult {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub result: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub skipped: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub archive: String,
    pub backup: String,
    pub dry_run: bool,
    pub summary: Counts,
    pub objects: Vec<ObjectResult>,
}

/// The validated options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub map: BTreeMap<String, String>,
    pub namespaces: BTreeSet<String>,
    pub parts: BTreeSet<Part>,
    pub existing: Existing,
    pub dry_run: bool,
}

impl RestoreArgs {
    pub fn options(&self) -> Result<Options> {
        let mut map = BTreeMap::new();
        for pair in &self.namespace_map {
            let (from, to) = pair
                .split_once('=')
                .filter(|(a, b)| valid_ns(a) && valid_ns(b))
                .ok_or_else(|| {
                    Error::usage(format!(
                        "--namespace-map {pair:?}: expected FROM=TO namespaces"
                    ))
                })?;
            if map.insert(from.to_string(), to.to_string()).is_some() {
                return Err(Error::usage(format!(
                    "--namespace-map: {from:?} is mapped twice"
                )));
            }
        }
        for ns in &self.namespaces {
            if !valid_ns(ns) {
                return Err(Error::usage(format!(
                    "--namespaces {ns:?}: not a namespace"
                )));
            }
        }
        Ok(Options {
            map,
            namespaces: self.namespaces.iter().cloned().collect(),
            parts: self.include.iter().copied().collect(),
            existing: self.existing,
            dry_run: self.dry_run,
        })
    }
}

fn valid_ns(ns: &str) -> bool {
    !ns.is_empty()
        && ns.len() <= 63
        && ns
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Which part of the configuration an object belongs to.
pub fn part_of(path: &EntryPath, object: &Value) -> Option<Part> {
    let ns = path.namespace.as_deref().unwrap_or("");
    match path.group.as_str() {
        "networking.istio.io" | "security.istio.io" => Some(Part::Istio),
        "cert-manager.io" => Some(Part::Certificates),
        _ if path.resource == "secrets"
            && (object["type"].as_str() == Some("kubernetes.io/tls")
                && ns != "istio-system"
                && ns != "sealos-system") =>
        {
            Some(Part::Certificates)
        }
        _ if ns == "istio-system" => Some(Part::Istio),
        _ if ns == "sealos-system" => Some(Part::Sealos),
        _ if path.resource == "secrets" => Some(Part::Certificates),
        _ => None,
    }
}

impl Options {
    fn wants(&self, path: &EntryPath, object: &Value) -> bool {
        let ns_ok = match &path.namespace {
            Some(ns) => self.namespaces.is_empty() || self.namespaces.contains(ns),
            None => true,
        };
        let part_ok =
            self.parts.is_empty() || part_of(path, object).is_some_and(|p| self.parts.contains(&p));
        ns_ok && part_ok
    }

    fn target_ns(&self, ns: &str) -> String {
        self.map.get(ns).cloned().unwrap_or_else(|| ns.to_string())
    }

    /// The object as it goes to the new namespace: its namespace, and the `ns/gateway`
    /// references of a VirtualService.
    fn remap(&self, path: &EntryPath, object: &mut Value) {
        if let Some(ns) = &path.namespace {
            object["metadata"]["namespace"] = json!(self.target_ns(ns));
        }
        if path.resource == "virtualservices"
            && let Some(gateways) = object["spec"]["gateways"].as_array_mut()
        {
            for gateway in gateways {
                if let Some((ns, name)) = gateway.as_str().and_then(|g| g.split_once('/'))
                    && let Some(to) = self.map.get(ns)
                {
                    *gateway = json!(format!("{to}/{name}"));
                }
            }
        }
    }
}

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
    let (verified, index, fetched) =
        crate::verify::check(&args.archive, args.decrypt_key.as_deref()).await?;
    sealos_shared::archive::signing::require_trusted(args.trusted_signers.as_deref(), &fetched)?;
    let index = match index {
        Some(index) if verified.ok => index,
        _ => {
            let shown: Vec<&str> = verified
                .problems
                .iter()
                .take(5)
                .map(String::as_str)
                .collect();
            return Err(Error::failed(format!(
                "{} failed verification, nothing was restored: {}{}",
                verified.archive,
                shown.join("; "),
                if verified.problems.len() > 5 {
                    format!(" (and {} more)", verified.problems.len() - 5)
                } else {
                    String::new()
                }
            )));
        }
    };
    let identities = args
        .decrypt_key
        .as_deref()
        .map(crypt::read_identities)
        .transpose()?;
    let kube = flags.connect().await?;
    let progress = sealos_shared::progress::bar(index.head.objects, "restoring");
    let mut restorer = Restorer {
        kube: &kube,
        options: &options,
        audit: &audit,
        resources: HashMap::new(),
        namespaces: BTreeMap::new(),
        ensured: BTreeSet::new(),
        absent_in_dry_run: BTreeSet::new(),
        results: Vec::new(),
        backoff: Backoff::default(),
    };
    let outcome = restorer
        .restore(&fetched.path, identities.as_deref(), &index, &progress)
        .await;
    progress.finish_and_clear();
    outcome?;
    let mut results = restorer.results;
    results.sort_by_key(|r| r.result);
    let mut summary = Counts::default();
    for r in &results {
        match r.result {
            Outcome::Created => summary.created += 1,
            Outcome::Updated => summary.updated += 1,
            Outcome::Unchanged => summary.unchanged += 1,
            Outcome::Skipped => summary.skipped += 1,
            Outcome::Failed => summary.failed += 1,
        }
    }
    let report = Report {
        archive: verified.archive,
        backup: index.head.name.clone(),
        dry_run: options.dry_run,
        summary,
        objects: results,
    };
    render(&report, out)?;
    Ok(Exit::problem_if(report.summary.failed > 0))
}

fn render(report: &Report, out: &mut Out) -> Result<()> {
    if out.format.is_machine() {
        return out.data(report);
    }
    let mut table = Table::new(["result", "kind", "namespace", "name", "message"]);
    for r in &report.objects {
        let severity = match r.result {
            Outcome::Failed => Severity::Fail,
            Outcome::Skipped => Severity::Info,
            _ => Severity::Ok,
        };
        let word = serde_json::to_value(r.result)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        table.row([
            out.theme.paint(&word, severity),
            r.kind.clone(),
            r.namespace.clone().unwrap_or_else(|| "-".into()),
            r.name.clone(),
            r.message.clone().unwrap_or_default(),
        ]);
    }
    out.table(&table)?;
    let s = &report.summary;
    out.line(&format!(
        "{}{}: {} created, {} updated, {} unchanged, {} skipped, {} failed",
        if report.dry_run { "(dry run) " } else { "" },
        report.backup,
        s.created,
        s.updated,
        s.unchanged,
        s.skipped,
        s.failed
    ))
}

struct Restorer<'a> {
    kube: &'a Kube,
    options: &'a Options,
    audit: &'a AuditLog,
    /// (resource, group) → the served resource, or why it is not served.
    resources: HashMap<(String, String), std::result::Result<ApiResource, String>>,
    /// The archive's Namespace objects, by name (few: one per namespace backed up).
    namespaces: BTreeMap<String, Value>,
    /// Target namespaces known to exist (or created).
    ensured: BTreeSet<String>,
    /// Target namespaces a dry run would create: their objects cannot be checked by the server.
    absent_in_dry_run: BTreeSet<String>,
    results: Vec<ObjectResult>,
    backoff: Backoff,
}

/// Streams the archive's objects of one phase from a reader thread (memory stays flat).
fn stream_phase(
    path: &Path,
    identities: Option<&[Identity]>,
    phase: u8,
) -> mpsc::Receiver<Result<(EntryPath, Value)>> {
    let (tx, rx) = mpsc::channel(64);
    let path = path.to_path_buf();
    let identities = identities.map(<[_]>::to_vec);
    tokio::task::spawn_blocking(move || {
        let result = (|| -> Result<()> {
            let file = std::fs::File::open(&path)
                .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
            let plain = crypt::open(std::io::BufReader::new(file), identities.as_deref())?;
            reader::for_each_object(plain, |entry, object| {
                if phase_of(&entry) != phase {
                    return Ok(());
                }
                tx.blocking_send(Ok((entry, object)))
                    .map_err(|_| Error::Interrupted)
            })
        })();
        if let Err(e) = result
            && !matches!(e, Error::Interrupted)
        {
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

fn phase_of(path: &EntryPath) -> u8 {
    catalog::by_resource(&path.resource, &path.group)
        .map(|k| k.phase)
        .unwrap_or(9)
}

impl Restorer<'_> {
    async fn restore(
        &mut self,
        archive: &Path,
        identities: Option<&[Identity]>,
        index: &Index,
        progress: &ProgressBar,
    ) -> Result<()> {
        self.resolve(index).await?;
        // The Namespace objects first, kept aside: a namespace is made when its first object comes.
        let mut rx = stream_phase(archive, identities, 0);
        while let Some(item) = rx.recv().await {
            let (path, object) = item?;
            self.namespaces.insert(path.name.clone(), object);
            progress.inc(1);
        }
        let phases: BTreeSet<u8> = index
            .entries
            .iter()
            .filter_map(|e| EntryPath::parse(&e.path).ok())
            .map(|p| phase_of(&p))
            .filter(|p| *p != 0)
            .collect();
        for phase in phases {
            let mut rx = stream_phase(archive, identities, phase);
            while let Some(item) = rx.recv().await {
                let (path, object) = item?;
                progress.inc(1);
                if !self.options.wants(&path, &object) {
                    continue;
                }
                let result = self.apply(&path, object).await?;
                self.results.push(result);
            }
        }
        Ok(())
    }

    /// Which of the archive's resources the cluster serves (a CRD may be missing).
    async fn resolve(&mut self, index: &Index) -> Result<()> {
        let mut resolver = Resolver::default();
        for r in &index.head.resources {
            let key = (r.resource.clone(), r.group.clone());
            let archived = ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(&r.group, &r.version, &r.kind),
                &r.resource,
            );
            let found = match catalog::by_resource(&r.resource, &r.group) {
                Some(kind) => resolver.resolve(&self.kube.client, kind).await?,
                None => Some(archived.clone()),
            };
            let value = match found {
                Some(_) => Ok(archived),
                None => Err(format!(
                    "the cluster does not serve {} (install its CRD first)",
                    EntryPath::resource_dir(&r.resource, &r.group)
                )),
            };
            self.resources.insert(key, value);
        }
        Ok(())
    }

    fn api(&self, resource: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) => Api::namespaced_with(self.kube.client.clone(), ns, resource),
            None => Api::all_with(self.kube.client.clone(), resource),
        }
    }

    /// Makes sure the target namespace exists (from the archive's Namespace object if it has one).
    async fn ensure_namespace(&mut self, source: &str, target: &str) -> Result<()> {
        if self.ensured.contains(target) || self.absent_in_dry_run.contains(target) {
            return Ok(());
        }
        let resource = sealos_shared::archive::resolve::fixed(&catalog::NAMESPACE);
        let api = self.api(&resource, None);
        let exists = retry::read(self.backoff, || api.get_opt(target))
            .await
            .kube_context(|| format!("get namespace {target:?}"))?
            .is_some();
        if exists {
            self.ensured.insert(target.to_string());
            return Ok(());
        }
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
        let result = self
            .write(&api, "Namespace", None, target, &object, None)
            .await;
        if self.options.dry_run && result.result == Outcome::Created {
            self.absent_in_dry_run.insert(target.to_string());
        } else if result.result != Outcome::Failed {
            self.ensured.insert(target.to_string());
        }
        self.results.push(result);
        Ok(())
    }

    async fn apply(&mut self, path: &EntryPath, mut object: Value) -> Result<ObjectResult> {
        let kind = object["kind"].as_str().unwrap_or("").to_string();
        let source_ns = path.namespace.clone();
        let target_ns = source_ns.as_deref().map(|ns| self.options.target_ns(ns));
        let fail = |message: String| ObjectResult {
            kind: kind.clone(),
            namespace: target_ns.clone(),
            name: path.name.clone(),
            result: Outcome::Failed,
            message: Some(message),
        };
        let resource = match self
            .resources
            .get(&(path.resource.clone(), path.group.clone()))
        {
            Some(Ok(resource)) => resource.clone(),
            Some(Err(why)) => return Ok(fail(why.clone())),
            None => return Ok(fail("not in the archive's index".into())),
        };
        self.options.remap(path, &mut object);
        if let (Some(source), Some(target)) = (&source_ns, &target_ns) {
            self.ensure_namespace(source, target).await?;
            if self.absent_in_dry_run.contains(target) {
                return Ok(ObjectResult {
                    kind,
                    namespace: target_ns.clone(),
                    name: path.name.clone(),
                    result: Outcome::Created,
                    message: Some(
                        "namespace does not exist yet: not checked by the server's dry run".into(),
                    ),
                });
            }
        }
        let api = self.api(&resource, target_ns.as_deref());
        let before = match retry::read(self.backoff, || api.get_opt(&path.name)).await {
            Ok(before) => before,
            Err(e) => return Ok(fail(describe(&e))),
        };
        if before.is_some() && self.options.existing == Existing::Skip {
            return Ok(ObjectResult {
                kind,
                namespace: target_ns.clone(),
                name: path.name.clone(),
                result: Outcome::Skipped,
                message: Some("exists (--existing update overwrites)".into()),
            });
        }
        self.fix_owners(&mut object, target_ns.as_deref()).await;
        let before = before.and_then(|b| serde_json::to_value(b).ok());
        Ok(self
            .write(
                &api,
                &kind,
                target_ns.as_deref(),
                &path.name,
                &object,
                before,
            )
            .await)
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
            let Some(known) = catalog::KINDS
                .iter()
                .find(|k| k.kind == kind && k.group == group)
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

    /// One server-side apply (dry run or not), judged against the object before.
    async fn write(
        &self,
        api: &Api<DynamicObject>,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        object: &Value,
        before: Option<Value>,
    ) -> ObjectResult {
        let mut params = PatchParams::apply(MANAGER).force();
        if self.options.dry_run {
            params = params.dry_run();
        }
        let mut result = ObjectResult {
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            result: Outcome::Failed,
            message: None,
        };
        // Server-side apply is idempotent, so it is retried like a read.
        let patch = Patch::Apply(object);
        let applied = retry::read(self.backoff, || api.patch(name, &params, &patch)).await;
        let after = match applied {
            Ok(after) => after,
            Err(e) => {
                result.message = Some(describe(&e));
                return result;
            }
        };
        result.result = match before {
            None => Outcome::Created,
            Some(mut before) => {
                let mut after = serde_json::to_value(&after).unwrap_or(Value::Null);
                clean(&mut before, |_, _| true);
                clean(&mut after, |_, _| true);
                if before == after {
                    Outcome::Unchanged
                } else {
                    Outcome::Updated
                }
            }
        };
        if !self.options.dry_run && matches!(result.result, Outcome::Created | Outcome::Updated) {
            let mut record = Record::now(
                "backup",
                "restore",
                ObjectRef {
                    kind: kind.to_string(),
                    namespace: namespace.map(str::to_string),
                    name: name.to_string(),
                },
            );
            record.context = self.kube.context.clone();
            record.user = self.kube.user.clone();
            record.after = json!({"result": result.result});
            if let Err(e) = self.audit.record(&record) {
                result.message = Some(format!("applied, but the audit log failed: {e}"));
            }
        }
        result
    }
}

/// The API server's words for a failed request.
fn describe(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}
