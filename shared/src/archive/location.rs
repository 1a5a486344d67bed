//! Where backups live (a directory or an S3 prefix): listing them (complete or not), pruning,
//! and fetching one archive for `verify` and `restore`.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::index::{MAX_INDEX_OBJECT, Summary, archive_stem, bare_file_name, summary_name};
use super::signing::{MAX_SIGNATURE, signature_name};
use crate::error::{Error, Result};
use crate::s3::{S3, S3Url};

/// A directory or an S3 prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Dir(PathBuf),
    S3(S3Url),
}

impl Location {
    pub fn describe(&self) -> String {
        match self {
            Location::Dir(dir) => dir.display().to_string(),
            Location::S3(url) => url.to_string(),
        }
    }
}

/// One backup as `list` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    pub name: String,
    /// Path or `s3://` URL of the archive (or of what there is of it).
    pub archive: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<u64>,
    /// Objects per kind.
    pub counts: BTreeMap<String, u64>,
    pub encrypted: bool,
    pub complete: bool,
    /// Why it is not complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip)]
    pub keys: Vec<String>,
}

impl Listed {
    fn from_summary(summary: &Summary, archive: String, keys: Vec<String>) -> Listed {
        Listed {
            name: summary.head.name.clone(),
            archive,
            created_at: Some(summary.head.created_at.clone()),
            size: Some(summary.archive.size),
            objects: Some(summary.head.objects),
            counts: summary
                .head
                .resources
                .iter()
                .filter(|r| r.count > 0)
                .map(|r| (r.kind.clone(), r.count))
                .collect(),
            encrypted: summary.archive.encrypted,
            complete: true,
            reason: None,
            keys,
        }
    }

    fn incomplete(name: &str, archive: String, size: Option<u64>, reason: &str) -> Listed {
        Listed {
            name: name.to_string(),
            archive,
            created_at: None,
            size,
            objects: None,
            counts: BTreeMap::new(),
            encrypted: name.ends_with(".age"),
            complete: false,
            reason: Some(reason.to_string()),
            keys: Vec::new(),
        }
    }
}

/// Every backup at `location`, newest first; incomplete ones last.
pub async fn list(location: &Location) -> Result<Vec<Listed>> {
    let mut found = match location {
        Location::Dir(dir) => list_dir(dir)?,
        Location::S3(url) => list_s3(url).await?,
    };
    found.sort_by(|a, b| {
        b.complete
            .cmp(&a.complete)
            .then_with(|| b.created_at.cmp(&a.created_at))
            .then_with(|| b.name.cmp(&a.name))
    });
    Ok(found)
}

fn list_dir(dir: &Path) -> Result<Vec<Listed>> {
    let read = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("read backup directory {}", dir.display()), e))?;
    let mut files: BTreeMap<String, u64> = BTreeMap::new();
    for entry in read {
        let entry = entry.map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        files.insert(entry.file_name().to_string_lossy().into_owned(), size);
    }
    let mut out = Vec::new();
    let mut claimed = Vec::new();
    for (file, _) in files.iter().filter(|(f, _)| f.ends_with(".index.json")) {
        let path = dir.join(file);
        let source = format!("index object {}", path.display());
        let parsed = match read_bounded(&path, MAX_INDEX_OBJECT) {
            Ok(Some(bytes)) => Summary::parse(&bytes, &source)?,
            Ok(None) => continue,
            Err(e) => Err(e.to_string()),
        };
        let summary = match parsed {
            Ok(summary) => summary,
            Err(why) => {
                out.push(Listed::incomplete(
                    file,
                    path.display().to_string(),
                    None,
                    &format!("index object unreadable: {why}"),
                ));
                continue;
            }
        };
        let archive = dir.join(&summary.archive.file);
        claimed.push(summary.archive.file.clone());
        let mut keys = vec![path.display().to_string(), archive.display().to_string()];
        let signature = signature_name(file);
        if files.contains_key(&signature) {
            keys.push(dir.join(&signature).display().to_string());
        }
        let mut listed = Listed::from_summary(&summary, archive.display().to_string(), keys);
        match files.get(&summary.archive.file) {
            None => {
                listed.complete = false;
                listed.reason = Some("archive missing".into());
            }
            Some(size) if *size != summary.archive.size => {
                listed.complete = false;
                listed.reason = Some(format!(
                    "archive is {size} bytes, the index says {}",
                    summary.archive.size
                ));
            }
            Some(_) => {}
        }
        out.push(listed);
    }
    for (file, size) in &files {
        let path = dir.join(file).display().to_string();
        if file.starts_with('.') && file.ends_with(".partial") {
            out.push(Listed::incomplete(
                file,
                path,
                Some(*size),
                "being written, or interrupted",
            ));
        } else if archive_stem(file).is_some() && !claimed.contains(file) {
            out.push(Listed::incomplete(
                file,
                path,
                Some(*size),
                "no index object",
            ));
        }
    }
    Ok(out)
}

async fn list_s3(url: &S3Url) -> Result<Vec<Listed>> {
    let s3 = S3::connect(&url.bucket).await?;
    let objects = s3.list(&url.prefix).await?;
    let sizes: BTreeMap<String, u64> = objects
        .iter()
        .filter_map(|o| {
            let file = o.key.strip_prefix(&url.prefix)?;
            (!file.contains('/')).then(|| (file.to_string(), o.size))
        })
        .collect();
    let mut out = Vec::new();
    let mut claimed = Vec::new();
    for (file, size) in sizes.iter().filter(|(f, _)| f.ends_with(".index.json")) {
        let unreadable = |why: &str| {
            Listed::incomplete(
                file,
                format!("{url}{file}"),
                None,
                &format!("index object unreadable: {why}"),
            )
        };
        if *size > MAX_INDEX_OBJECT {
            out.push(unreadable(&format!("larger than {MAX_INDEX_OBJECT} bytes")));
            continue;
        }
        let Some(bytes) = s3.get_small(&url.key(file), MAX_INDEX_OBJECT).await? else {
            continue;
        };
        let summary = match Summary::parse(&bytes, &format!("index object {url}{file}"))? {
            Ok(summary) => summary,
            Err(why) => {
                out.push(unreadable(&why));
                continue;
            }
        };
        claimed.push(summary.archive.file.clone());
        let mut keys = vec![url.key(file), url.key(&summary.archive.file)];
        let signature = signature_name(file);
        if sizes.contains_key(&signature) {
            keys.push(url.key(&signature));
        }
        let mut listed =
            Listed::from_summary(&summary, format!("{url}{}", summary.archive.file), keys);
        match sizes.get(&summary.archive.file) {
            None => {
                listed.complete = false;
                listed.reason = Some("archive missing".into());
            }
            Some(size) if *size != summary.archive.size => {
                listed.complete = false;
                listed.reason = Some(format!(
                    "archive is {size} bytes, the index says {}",
                    summary.archive.size
                ));
            }
            Some(_) => {}
        }
        out.push(listed);
    }
    for (file, size) in &sizes {
        if archive_stem(file).is_some() && !claimed.contains(file) {
            out.push(Listed::incomplete(
                file,
                format!("{url}{file}"),
                Some(*size),
                "no index object",
            ));
        }
    }
    for pending in s3.pending_uploads(&url.prefix).await? {
        let file = pending
            .key
            .strip_prefix(&url.prefix)
            .unwrap_or(&pending.key);
        out.push(Listed::incomplete(
            file,
            format!("{url}{file}"),
            None,
            "multipart upload in progress, or interrupted",
        ));
    }
    Ok(out)
}

/// Deletes one listed backup: the index object first, so that a half-deleted backup is never
/// listed as complete.
pub async fn delete(location: &Location, listed: &Listed) -> Result<()> {
    match location {
        Location::Dir(_) => {
            for key in &listed.keys {
                match std::fs::remove_file(key) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(format!("delete {key}"), e)),
                }
            }
        }
        Location::S3(url) => {
            let s3 = S3::connect(&url.bucket).await?;
            for key in &listed.keys {
                s3.delete(key).await?;
            }
        }
    }
    Ok(())
}

/// An archive ready to read from a local file.
pub struct Fetched {
    pub path: PathBuf,
    /// The index object beside it, when there is one.
    pub summary: Option<Summary>,
    /// The index object's bytes as read (what a signature covers).
    pub index_bytes: Option<Vec<u8>>,
    /// Its signature (`NAME.index.json.sig`), when there is one.
    pub signature: Option<Vec<u8>>,
    /// As the user named it.
    pub display: String,
    _tmp: Option<tempfile::TempDir>,
}

/// An index object as read: its name, bytes and meaning.
struct IndexObject {
    file: String,
    bytes: Vec<u8>,
    summary: Summary,
}

impl IndexObject {
    /// The index object found beside an archive, if it parses: a missing or unparsable one is
    /// reported by verify as missing, not here (one that names a path stops it: `parse` errs).
    fn beside(file: String, bytes: Option<Vec<u8>>, source: &str) -> Result<Option<IndexObject>> {
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        Ok(Summary::parse(&bytes, source)?
            .ok()
            .map(|summary| IndexObject {
                file,
                bytes,
                summary,
            }))
    }
}

/// A local archive as is; an S3 one downloaded (streamed) to a private temporary directory.
/// An index object's name is taken to mean its archive. Every name read from the store is
/// checked to be a bare file name before it is used (`bare_file_name`), and index objects and
/// signatures are read within a size bound.
pub async fn fetch(text: &str) -> Result<Fetched> {
    if text.starts_with("s3://") {
        return fetch_s3(text).await;
    }
    let given = PathBuf::from(text);
    let file = given
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut path = given.clone();
    let index = if file.ends_with(".index.json") {
        let bytes = read_bounded(&given, MAX_INDEX_OBJECT)?
            .ok_or_else(|| Error::usage(format!("{text}: no such index object")))?;
        let summary = Summary::parse(&bytes, &format!("index object {text}"))?
            .map_err(|e| Error::failed(format!("index object {text}: {e}")))?;
        path = given.with_file_name(&summary.archive.file);
        Some(IndexObject {
            file,
            bytes,
            summary,
        })
    } else if let Some(name) = summary_name(&file) {
        let beside = given.with_file_name(&name);
        let bytes = read_bounded(&beside, MAX_INDEX_OBJECT)?;
        IndexObject::beside(name, bytes, &format!("index object {}", beside.display()))?
    } else {
        None
    };
    if !path.is_file() {
        return Err(Error::usage(format!("{}: no such archive", path.display())));
    }
    let signature = match &index {
        Some(index) => read_bounded(
            &given.with_file_name(signature_name(&index.file)),
            MAX_SIGNATURE,
        )?,
        None => None,
    };
    let (summary, index_bytes) = match index {
        Some(i) => (Some(i.summary), Some(i.bytes)),
        None => (None, None),
    };
    Ok(Fetched {
        display: path.display().to_string(),
        path,
        summary,
        index_bytes,
        signature,
        _tmp: None,
    })
}

async fn fetch_s3(text: &str) -> Result<Fetched> {
    let (url, file) = S3Url::split_object(text)?;
    let file = bare_file_name(&file, text)?.to_string();
    let s3 = S3::connect(&url.bucket).await?;
    let index = if file.ends_with(".index.json") {
        let bytes = s3
            .get_small(&url.key(&file), MAX_INDEX_OBJECT)
            .await?
            .ok_or_else(|| Error::usage(format!("{text}: no such index object")))?;
        let summary = Summary::parse(&bytes, &format!("index object {text}"))?
            .map_err(|e| Error::failed(format!("index object {text}: {e}")))?;
        Some(IndexObject {
            file: file.clone(),
            bytes,
            summary,
        })
    } else if let Some(name) = summary_name(&file) {
        // One that is too large or cannot be read stops it.
        let bytes = s3.get_small(&url.key(&name), MAX_INDEX_OBJECT).await?;
        let source = format!("index object {url}{name}");
        IndexObject::beside(name, bytes, &source)?
    } else {
        None
    };
    let archive_file = match &index {
        Some(index) if file.ends_with(".index.json") => index.summary.archive.file.clone(),
        _ => file,
    };
    let tmp = tempfile::Builder::new()
        .prefix("sealos-backup-")
        .tempdir()
        .map_err(|e| Error::io("create a temporary directory", e))?;
    // The name was checked to be bare: the file is inside the private directory, and new.
    let path = tmp.path().join(&archive_file);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::io(format!("create {}", path.display()), e))?;
    let mut out = tokio::fs::File::from_std(file);
    s3.download(&url.key(&archive_file), &mut out).await?;
    let signature = match &index {
        // A signature that cannot be read counts as none: `--trusted-signers` then refuses.
        Some(index) => s3
            .get_small(&url.key(&signature_name(&index.file)), MAX_SIGNATURE)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let (summary, index_bytes) = match index {
        Some(i) => (Some(i.summary), Some(i.bytes)),
        None => (None, None),
    };
    Ok(Fetched {
        path,
        summary,
        index_bytes,
        signature,
        display: format!("{url}{archive_file}"),
        _tmp: Some(tmp),
    })
}

/// A small local file, whole, within `limit` bytes; None when there is none. Anything but a
/// regular file (a FIFO would block, a device never end) and anything larger is an error.
fn read_bounded(path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
    };
    let too_big = || {
        Error::failed(format!(
            "{} is larger than {limit} bytes: not an object this tool wrote",
            path.display()
        ))
    };
    if !meta.is_file() {
        return Err(Error::failed(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    if meta.len() > limit {
        return Err(too_big());
    }
    let file =
        std::fs::File::open(path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    if bytes.len() as u64 > limit {
        return Err(too_big());
    }
    Ok(Some(bytes))
}
