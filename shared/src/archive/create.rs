//! `create`: the cluster's objects, paged (limit + continue), cleaned and streamed into one
//! archive in a directory, a named file, or S3 (multipart, parts uploaded between pages). The
//! archive is complete only when its index object exists: a local archive is written under a
//! temporary name and linked into place; on S3 the index object is uploaded after the archive
//! (and after its signature, when signed). A failure or an interrupt removes the temporary file
//! or aborts the multipart upload. Names carry milliseconds and a random suffix, and every write
//! is "create if absent" (local `O_EXCL` and link, S3 `If-None-Match: *` after a HEAD): a backup
//! never replaces another, even one made in the same second.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashSet};
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aws_sdk_s3::types::CompletedPart;
use indicatif::ProgressBar;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::ApiResource;
use serde::Serialize;
use serde_json::Value;

use super::catalog::{self, Kind, Scope, Source};
use super::clean::clean;
use super::index::{ArchiveFile, ClusterInfo, FORMAT, IndexHead, ResourceCount, Summary, ToolInfo};
use super::path::EntryPath;
use super::reads::Reads;
use super::resolve::{Resolver, fixed};
use super::signing::{SigningKey, signature_name};
use super::writer::{ArchiveWriter, Spool};
use crate::connection::Kube;
use crate::error::{Error, KubeContext, Result};
use crate::list::Pager;
use crate::retry::{self, Backoff};
use crate::s3::{self, S3, S3Url};

/// Where the archive goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A directory: the archive gets a timestamped name.
    Dir(PathBuf),
    /// This file name (`.tar.gz`, or `.tar.gz.age` when encrypted).
    File(PathBuf),
    S3(S3Url),
}

impl Target {
    /// `--to PATH`, `--s3 URL` or neither (the current directory): a `.tar.gz`/`.tar.gz.age` name
    /// is the archive itself, any other path a directory. The suffix must say whether it is
    /// encrypted; sends nothing.
    pub fn choose(to: Option<&Path>, s3: Option<&str>, encrypted: bool) -> Result<Target> {
        let path = match (to, s3) {
            (Some(_), Some(_)) => return Err(Error::usage("give --to or --s3, not both")),
            (_, Some(url)) => return Ok(Target::S3(url.parse()?)),
            (Some(path), None) => path,
            (None, None) => return Ok(Target::Dir(PathBuf::from("."))),
        };
        let name = path.to_string_lossy();
        if name.ends_with(".tar.gz") || name.ends_with(".tar.gz.age") {
            if name.ends_with(".age") != encrypted {
                return Err(Error::usage(format!(
                    "--to {name}: an encrypted archive ends with .tar.gz.age, a plain one with .tar.gz"
                )));
            }
            return Ok(Target::File(path.to_path_buf()));
        }
        Ok(Target::Dir(path.to_path_buf()))
    }
}

/// What to back up and how.
#[derive(Debug, Clone)]
pub struct Plan {
    pub sources: Vec<Source>,
    /// Only these namespaces (empty: all).
    pub namespaces: Vec<String>,
    pub recipients: Vec<age::x25519::Recipient>,
    pub tool: ToolInfo,
    /// The selection in words, for the index.
    pub selection: Vec<String>,
    /// Objects per list request.
    pub page_size: u32,
    pub part_size: usize,
    pub backoff: Backoff,
    /// Signs the index object (`NAME.index.json.sig`) when set.
    pub sign_key: Option<SigningKey>,
}

impl Plan {
    pub fn new(sources: Vec<Source>, tool: ToolInfo) -> Plan {
        Plan {
            sources,
            namespaces: Vec::new(),
            recipients: Vec::new(),
            tool,
            selection: Vec::new(),
            page_size: 500,
            part_size: s3::DEFAULT_PART_SIZE,
            backoff: Backoff::default(),
            sign_key: None,
        }
    }
}

/// A complete backup.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    /// Path or `s3://` URL of the archive.
    pub archive: String,
    /// Path or `s3://` URL of the index object.
    pub index: String,
    /// S3 multipart parts (0: one plain upload, or a local file).
    pub upload_parts: u32,
    /// Path or `s3://` URL of the index object's SSH signature, when signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// `SHA256:...` of the key that signed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    pub summary: Summary,
}

/// What to undo if the backup does not complete.
#[derive(Default)]
struct Cleanup {
    files: Vec<PathBuf>,
    upload: Option<(S3, String, String)>,
}

/// Runs the backup; `cancel` resolving (Ctrl-C) stops it between requests, cleans up and gives
/// `Error::Interrupted`.
pub async fn create(
    kube: &Kube,
    plan: &Plan,
    target: &Target,
    progress: &ProgressBar,
    cancel: impl Future<Output = ()>,
) -> Result<Created> {
    let cleanup = Mutex::new(Cleanup::default());
    let result = tokio::select! {
        result = run(kube, plan, target, progress, &cleanup) => result,
        () = cancel => Err(Error::Interrupted),
    };
    if result.is_err() {
        let undo = match cleanup.lock() {
            Ok(mut g) => std::mem::take(&mut *g),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        for file in undo.files {
            let _ = std::fs::remove_file(file);
        }
        if let Some((s3, key, upload_id)) = undo.upload {
            // Best effort: a failed abort leaves parts that a lifecycle rule removes; the
            // backup is still never listed as complete, as its index object was not written.
            let _ = s3.abort_upload(&key, &upload_id).await;
        }
    }
    result
}

fn register(cleanup: &Mutex<Cleanup>, change: impl FnOnce(&mut Cleanup)) {
    match cleanup.lock() {
        Ok(mut g) => change(&mut g),
        Err(p) => change(&mut p.into_inner()),
    }
}

/// The archive bytes' destination.
enum Sink {
    File(BufWriter<File>),
    Spool(Spool),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::File(f) => f.write(buf),
            Sink::Spool(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::File(f) => f.flush(),
            Sink::Spool(s) => s.flush(),
        }
    }
}

/// A multipart upload fed from the spool.
struct Upload {
    s3: S3,
    key: String,
    spool: Spool,
    part_size: usize,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    /// Bytes sent in parts so far.
    sent: u64,
}

impl Upload {
    /// Uploads every whole part waiting in the spool.
    async fn pump(&mut self, cleanup: &Mutex<Cleanup>) -> Result<()> {
        while let Some(part) = self.spool.take_part(self.part_size) {
            self.send(part, cleanup).await?;
        }
        Ok(())
    }

    async fn send(&mut self, part: Vec<u8>, cleanup: &Mutex<Cleanup>) -> Result<()> {
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let id = self.s3.start_upload(&self.key).await?;
                register(cleanup, |c| {
                    c.upload = Some((self.s3.clone(), self.key.clone(), id.clone()));
                });
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = self.parts.len() as i32 + 1;
        self.sent += part.len() as u64;
        let done = self
            .s3
            .upload_part(&self.key, &upload_id, number, part)
            .await?;
        self.parts.push(done);
        Ok(())
    }

    /// The rest of the spool: a single PUT when no part went yet, else the last part and the
    /// completion. Gives the number of parts.
    async fn finish(mut self, cleanup: &Mutex<Cleanup>) -> Result<u32> {
        self.pump(cleanup).await?;
        let rest = self.spool.take_all();
        if self.upload_id.is_none() {
            self.s3.put_new(&self.key, rest).await?;
            return Ok(0);
        }
        if !rest.is_empty() {
            self.send(rest, cleanup).await?;
        }
        let upload_id = self.upload_id.clone().unwrap_or_default();
        let parts = self.parts.len() as u32;
        self.s3
            .complete_upload(
                &self.key,
                &upload_id,
                std::mem::take(&mut self.parts),
                self.sent,
            )
            .await?;
        register(cleanup, |c| c.upload = None);
        Ok(parts)
    }
}

/// `sealos-backup-20261125T191800.123Z-3f9a1c`: milliseconds, so that names still sort by time,
/// and a random suffix, so that two backups started in the same millisecond (two cron jobs,
/// two clusters into one prefix) still differ. Create-if-absent writes back this up.
pub fn backup_name(now: jiff::Timestamp) -> String {
    format!(
        "sealos-backup-{}.{:03}Z-{:06x}",
        now.strftime("%Y%m%dT%H%M%S"),
        now.subsec_millisecond(),
        fastrand::u32(..0x100_0000)
    )
}

fn archive_suffix(encrypted: bool) -> &'static str {
    if encrypted { ".tar.gz.age" } else { ".tar.gz" }
}

/// A new private (0600) file: `O_EXCL`, never an existing one.
pub fn private_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("create {}", path.display()), e))
}

/// Writes `bytes` to a new file at `path` through a temporary name: never half a file, and never
/// over an existing one.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = partial_path(path);
    let mut file = private_file(&tmp)?;
    let result = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(format!("write {}", tmp.display()), e))
        .and_then(|()| publish(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Moves the finished `tmp` to `path` only if nothing is there. `rename` replaces silently, so a
/// hard link (which fails on an existing name, atomically) puts it in place and the temporary
/// name goes. A file system without hard links falls back to a check and a rename, which only a
/// writer racing us in the same instant could defeat.
pub fn publish(tmp: &Path, path: &Path) -> Result<()> {
    let exists = || {
        Error::failed(format!(
            "{} already exists: a backup never replaces another",
            path.display()
        ))
    };
    match std::fs::hard_link(tmp, path) {
        Ok(()) => {
            let _ = std::fs::remove_file(tmp);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
        Err(_) if path.exists() => Err(exists()),
        Err(_) => std::fs::rename(tmp, path)
            .map_err(|e| Error::io(format!("rename to {}", path.display()), e)),
    }
}

/// `.NAME.RANDOM.partial` beside `path`: hidden, never mistaken for a backup, and private to
/// this run (a leftover of a killed run is listed, never reused).
pub fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{:08x}.partial", fastrand::u32(..)))
}

/// An error if `path` exists: checked before the cluster is read, so a clash costs nothing.
fn ensure_absent(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("check {}", path.display()), e)),
        Ok(_) => Err(Error::usage(format!(
            "{} already exists: a backup never replaces another; choose another name",
            path.display()
        ))),
    }
}

async fn run(
    kube: &Kube,
    plan: &Plan,
    target: &Target,
    progress: &ProgressBar,
    cleanup: &Mutex<Cleanup>,
) -> Result<Created> {
    let now = jiff::Timestamp::now();
    let encrypted = !plan.recipients.is_empty();
    let (name, file_name) = match target {
        Target::File(path) => {
            let file = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let stem = super::index::archive_stem(&file).ok_or_else(|| {
                Error::usage(format!(
                    "--output {}: an archive file name ends with {}",
                    path.display(),
                    archive_suffix(encrypted)
                ))
            })?;
            (stem.to_string(), file)
        }
        _ => {
            let name = backup_name(now);
            let file = format!("{name}{}", archive_suffix(encrypted));
            (name, file)
        }
    };
    let summary_file = format!("{name}.index.json");
    let signature_file = plan
        .sign_key
        .as_ref()
        .map(|_| signature_name(&summary_file));
    let version = retry::read(Backoff::default(), || kube.client.apiserver_version())
        .await
        .kube_context(|| "read the cluster version")?;
    let mut upload = None;
    let (sink, final_path) = match target {
        Target::Dir(dir) | Target::File(dir) => {
            let dir = match target {
                Target::File(path) => path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .to_path_buf(),
                _ => dir.clone(),
            };
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
            let final_path = dir.join(&file_name);
            ensure_absent(&final_path)?;
            ensure_absent(&dir.join(&summary_file))?;
            if let Some(signature) = &signature_file {
                ensure_absent(&dir.join(signature))?;
            }
            let tmp = partial_path(&final_path);
            let file = private_file(&tmp)?;
            register(cleanup, |c| c.files.push(tmp.clone()));
            (Sink::File(BufWriter::new(file)), Some((final_path, tmp)))
        }
        Target::S3(url) => {
            let s3 = S3::connect(&url.bucket).await?;
            s3.check(&url.prefix).await?;
            // A store that ignores `If-None-Match` still cannot be made to replace one.
            s3.ensure_absent(&url.key(&file_name)).await?;
            s3.ensure_absent(&url.key(&summary_file)).await?;
            if let Some(signature) = &signature_file {
                s3.ensure_absent(&url.key(signature)).await?;
            }
            let spool = Spool::default();
            upload = Some(Upload {
                s3,
                key: url.key(&file_name),
                spool: spool.clone(),
                part_size: plan.part_size.max(s3::MIN_PART_SIZE),
                upload_id: None,
                parts: Vec::new(),
                sent: 0,
            });
            (Sink::Spool(spool), None)
        }
    };
    let mut writer = ArchiveWriter::new(sink, &plan.recipients, now.as_second().max(0) as u64)?;
    let mut walk = Walk {
        kube,
        plan,
        progress,
        resolver: Resolver::default(),
        namespaces_seen: BTreeSet::new(),
        counts: Vec::new(),
        notes: Vec::new(),
        certificate_secrets: BTreeSet::new(),
    };
    for source in &plan.sources {
        walk.source(source, &mut writer, &mut upload, cleanup)
            .await?;
    }
    walk.namespaces(&mut writer, &mut upload, cleanup).await?;
    let head = IndexHead {
        format: FORMAT.to_string(),
        name: name.clone(),
        created_at: now.to_string(),
        cluster: ClusterInfo {
            server: kube.server.clone(),
            version: version.git_version,
            context: kube.context.clone(),
        },
        tool: plan.tool.clone(),
        selection: plan.selection.clone(),
        resources: walk.counts,
        objects: 0,
        notes: walk.notes,
    };
    let finished = writer.finish(head.clone())?;
    let mut head = head;
    head.objects = finished.entries;
    let summary = Summary {
        head,
        archive: ArchiveFile {
            file: file_name.clone(),
            size: finished.size,
            sha256: finished.sha256,
            encrypted,
        },
        index_sha256: finished.index_sha256,
    };
    let summary_bytes = serde_json::to_vec_pretty(&summary)
        .map_err(|e| Error::failed(format!("encode the index object: {e}")))?;
    // The signature covers the index object's bytes exactly as stored.
    let signature = match &plan.sign_key {
        Some(key) => Some(key.sign(&summary_bytes)?),
        None => None,
    };
    let signed_by = plan.sign_key.as_ref().map(SigningKey::fingerprint);
    match (finished.sink, final_path, upload, target) {
        (Sink::File(file), Some((final_path, tmp)), _, _) => {
            let file = file
                .into_inner()
                .map_err(|e| Error::io("write the archive", e.into_error()))?;
            file.sync_all()
                .map_err(|e| Error::io("write the archive", e))?;
            publish(&tmp, &final_path)?;
            // From here the archive is in place: remove it if the index object cannot be written.
            register(cleanup, |c| c.files = vec![final_path.clone()]);
            let signature_path = match (&signature, &signature_file) {
                (Some(text), Some(file)) => {
                    let path = final_path.with_file_name(file);
                    write_new(&path, text.as_bytes())?;
                    register(cleanup, |c| c.files.push(path.clone()));
                    Some(path.display().to_string())
                }
                _ => None,
            };
            let index_path = final_path.with_file_name(&summary_file);
            write_new(&index_path, &summary_bytes)?;
            register(cleanup, |c| c.files.clear());
            Ok(Created {
                archive: final_path.display().to_string(),
                index: index_path.display().to_string(),
                upload_parts: 0,
                signature: signature_path,
                signed_by,
                summary,
            })
        }
        (Sink::Spool(_), _, Some(upload), Target::S3(url)) => {
            let s3 = upload.s3.clone();
            let upload_parts = upload.finish(cleanup).await?;
            let signature_url = match (signature, &signature_file) {
                (Some(text), Some(file)) => {
                    s3.put_new(&url.key(file), text.into_bytes()).await?;
                    Some(format!("{url}{file}"))
                }
                _ => None,
            };
            // The index object last: only now is the backup listed as complete.
            s3.put_new(&url.key(&summary_file), summary_bytes).await?;
            Ok(Created {
                archive: format!("{url}{file_name}"),
                index: format!("{url}{summary_file}"),
                upload_parts,
                signature: signature_url,
                signed_by,
                summary,
            })
        }
        _ => Err(Error::failed(
            "internal: the archive sink does not match the target",
        )),
    }
}

/// State while walking the sources.
struct Walk<'a> {
    kube: &'a Kube,
    plan: &'a Plan,
    progress: &'a ProgressBar,
    resolver: Resolver,
    namespaces_seen: BTreeSet<String>,
    counts: Vec<ResourceCount>,
    notes: Vec<String>,
    /// (namespace, secret) named by the Certificates seen.
    certificate_secrets: BTreeSet<(String, String)>,
}

type Writer = ArchiveWriter<Sink>;

impl Walk<'_> {
    fn count(&mut self, resource: &ApiResource, namespaced: bool) -> &mut ResourceCount {
        let at = self
            .counts
            .iter()
            .position(|c| c.resource == resource.plural && c.group == resource.group);
        let at = match at {
            Some(at) => at,
            None => {
                self.counts.push(ResourceCount {
                    group: resource.group.clone(),
                    version: resource.version.clone(),
                    kind: resource.kind.clone(),
                    resource: resource.plural.clone(),
                    namespaced,
                    count: 0,
                });
                self.counts.len() - 1
            }
        };
        &mut self.counts[at]
    }

    async fn source(
        &mut self,
        source: &Source,
        writer: &mut Writer,
        upload: &mut Option<Upload>,
        cleanup: &Mutex<Cleanup>,
    ) -> Result<()> {
        let Some(resource) = self
            .resolver
            .resolve(&self.kube.client, &source.kind)
            .await?
        else {
            let note = format!(
                "{}: not served by this cluster, skipped",
                EntryPath::resource_dir(source.kind.plural, source.kind.group)
            );
            if !self.notes.contains(&note) {
                self.notes.push(note);
            }
            return Ok(());
        };
        self.count(&resource, source.kind.namespaced);
        match source.reads(&self.plan.namespaces) {
            Reads::List(scopes) => {
                for scope in scopes {
                    let api = match &scope {
                        Some(ns) => Api::namespaced_with(self.kube.client.clone(), ns, &resource),
                        None => Api::all_with(self.kube.client.clone(), &resource),
                    };
                    self.pages(source, &resource, api, writer, upload, cleanup)
                        .await?;
                }
            }
            // By name: the Secrets the Certificates listed before named, in their namespaces.
            Reads::Get(_) => {
                self.certificate_secrets(&resource, writer, upload, cleanup)
                    .await?;
            }
        }
        Ok(())
    }

    /// Lists in pages; after each page the waiting upload parts go out. An expired continue
    /// token restarts the list, which then skips what was already written: the objects written are
    /// remembered by a 64-bit hash of namespace and name (8 bytes each, not the objects), since
    /// list order is the store's (etcd orders `ns/name` bytewise), not something to rely on.
    async fn pages(
        &mut self,
        source: &Source,
        resource: &ApiResource,
        api: Api<DynamicObject>,
        writer: &mut Writer,
        upload: &mut Option<Upload>,
        cleanup: &Mutex<Cleanup>,
    ) -> Result<()> {
        let mut written: HashSet<u64> = HashSet::new();
        let params = ListParams::default().limit(self.plan.page_size);
        let mut pager = Pager::new(&api, &params, &resource.plural).backoff(self.plan.backoff);
        while let Some(page) = pager.next().await? {
            if page.restarted {
                let note = format!(
                    "{}: the list was restarted after its continue token expired",
                    EntryPath::resource_dir(&resource.plural, &resource.group)
                );
                if !self.notes.contains(&note) {
                    self.notes.push(note);
                }
            }
            for item in page.items {
                let mut hasher = DefaultHasher::new();
                item.metadata.namespace.hash(&mut hasher);
                item.metadata.name.hash(&mut hasher);
                if !written.insert(hasher.finish()) && pager.restarts() > 0 {
                    continue;
                }
                self.write(source, resource, item, writer)?;
            }
            if let Some(upload) = upload.as_mut() {
                upload.pump(cleanup).await?;
            }
        }
        Ok(())
    }

    fn write(
        &mut self,
        source: &Source,
        resource: &ApiResource,
        item: DynamicObject,
        writer: &mut Writer,
    ) -> Result<()> {
        let mut object = serde_json::to_value(&item)
            .map_err(|e| Error::failed(format!("encode {}: {e}", resource.plural)))?;
        object["apiVersion"] = Value::String(resource.api_version.clone());
        object["kind"] = Value::String(resource.kind.clone());
        let namespace = item
            .metadata
            .namespace
            .clone()
            .filter(|_| source.kind.namespaced);
        let name = item.metadata.name.clone().unwrap_or_default();
        if skipped(&source.kind, &name, &object) {
            return Ok(());
        }
        if source.kind == catalog::CERTIFICATE
            && let (Some(ns), Some(secret)) = (&namespace, object["spec"]["secretName"].as_str())
            && !self.secrets_already_backed_up(ns)
        {
            self.certificate_secrets
                .insert((ns.clone(), secret.to_string()));
        }
        let sources = &self.plan.sources;
        clean(&mut object, |api, kind| {
            catalog::owner_kept(sources, api, kind)
        });
        let path = EntryPath {
            resource: resource.plural.clone(),
            group: resource.group.clone(),
            namespace: namespace.clone(),
            name,
        };
        writer.add_object(&path, &object)?;
        if let Some(ns) = namespace {
            self.namespaces_seen.insert(ns);
        }
        self.count(resource, source.kind.namespaced).count += 1;
        self.progress.inc(1);
        self.progress.set_message(format!(
            "backing up: {} objects ({})",
            self.progress.position(),
            resource.plural
        ));
        Ok(())
    }

    /// Secrets of namespaces that a plain Secrets source of this plan lists whole.
    fn secrets_already_backed_up(&self, ns: &str) -> bool {
        let in_filter =
            self.plan.namespaces.is_empty() || self.plan.namespaces.iter().any(|f| f == ns);
        in_filter
            && self
                .plan
                .sources
                .iter()
                .any(|s| s.kind == catalog::SECRET && matches!(s.scope, Scope::In(n) if n == ns))
    }

    async fn certificate_secrets(
        &mut self,
        resource: &ApiResource,
        writer: &mut Writer,
        upload: &mut Option<Upload>,
        cleanup: &Mutex<Cleanup>,
    ) -> Result<()> {
        let wanted = std::mem::take(&mut self.certificate_secrets);
        let source = Source {
            part: catalog::Part::Certificates,
            kind: catalog::SECRET,
            scope: Scope::CertificateSecrets,
        };
        for (ns, name) in wanted {
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.kube.client.clone(), &ns, resource);
            let found = retry::read(self.plan.backoff, || api.get_opt(&name))
                .await
                .kube_context(|| format!("get secret {name:?} in {ns:?}"))?;
            match found {
                Some(secret) => self.write(&source, resource, secret, writer)?,
                None => self.notes.push(format!(
                    "secret {ns}/{name}: named by a Certificate but not found (not issued yet?)"
                )),
            }
            if let Some(upload) = upload.as_mut() {
                upload.pump(cleanup).await?;
            }
        }
        Ok(())
    }

    /// The Namespace objects of every namespace that holds a backed-up object.
    async fn namespaces(
        &mut self,
        writer: &mut Writer,
        upload: &mut Option<Upload>,
        cleanup: &Mutex<Cleanup>,
    ) -> Result<()> {
        if self.namespaces_seen.is_empty() {
            return Ok(());
        }
        let resource = fixed(&catalog::NAMESPACE);
        self.count(&resource, false);
        let api: Api<DynamicObject> = Api::all_with(self.kube.client.clone(), &resource);
        let source = Source {
            part: catalog::Part::Istio,
            kind: catalog::NAMESPACE,
            scope: Scope::Cluster,
        };
        for ns in std::mem::take(&mut self.namespaces_seen) {
            match retry::read(self.plan.backoff, || api.get_opt(&ns)).await {
                Ok(Some(object)) => self.write(&source, &resource, object, writer)?,
                Ok(None) => {}
                Err(kube::Error::Api(status)) if status.code == 403 => {
                    self.notes.push(format!(
                        "namespace {ns}: not readable ({}); restore creates it bare",
                        status.message
                    ));
                }
                Err(e) => return Err(e).kube_context(|| format!("get namespace {ns:?}")),
            }
        }
        if let Some(upload) = upload.as_mut() {
            upload.pump(cleanup).await?;
        }
        Ok(())
    }
}

/// Objects that exist on every cluster by themselves and must not be restored over.
fn skipped(kind: &Kind, name: &str, object: &Value) -> bool {
    catalog::made_by_cluster(kind, name, object).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_never_repeat_within_a_second() {
        let t: jiff::Timestamp = "2026-11-25T19:18:00.042Z".parse().unwrap_or_default();
        let a = backup_name(t);
        assert!(a.starts_with("sealos-backup-20261125T191800.042Z-"), "{a}");
        let names: BTreeSet<String> = (0..64).map(|_| backup_name(t)).collect();
        assert_eq!(names.len(), 64, "the same instant gave one name twice");
        let tmp = partial_path(Path::new("/b/x.tar.gz"));
        let shown = tmp.display().to_string();
        assert!(
            shown.starts_with("/b/.x.tar.gz.") && shown.ends_with(".partial"),
            "{shown}"
        );
    }

    #[test]
    fn local_writes_never_replace_a_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("b.index.json");
        write_new(&path, b"first").unwrap_or_else(|e| panic!("{e}"));
        let err = write_new(&path, b"second").err().map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("already exists")),
            "{err:?}"
        );
        assert_eq!(std::fs::read(&path).unwrap_or_default(), b"first");
        assert!(ensure_absent(&path).is_err());
        // No temporary file is left behind.
        assert_eq!(
            std::fs::read_dir(dir.path())
                .map(|d| d.count())
                .unwrap_or(0),
            1
        );
    }

    #[test]
    fn cluster_made_objects_are_skipped() {
        assert!(skipped(
            &catalog::SECRET,
            "t",
            &json!({"type": "kubernetes.io/service-account-token"})
        ));
        assert!(skipped(
            &catalog::CONFIG_MAP,
            "kube-root-ca.crt",
            &json!({})
        ));
        assert!(!skipped(&catalog::CONFIG_MAP, "istio", &json!({})));
    }
}
