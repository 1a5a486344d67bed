//! Where backups live (a directory or an S3 prefix): listing them (complete or not), pruning,
//! and fetching one archive for `verify` and `restore`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::index::{Summary, archive_stem, summary_name};
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
        let summary: Option<Summary> = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let Some(summary) = summary else {
            out.push(Listed::incomplete(
                file,
                path.display().to_string(),
                None,
                "index object unreadable",
            ));
            continue;
        };
        let archive = dir.join(&summary.archive.file);
        claimed.push(summary.archive.file.clone());
        let mut listed = Listed::from_summary(
            &summary,
            archive.display().to_string(),
            vec![path.display().to_string(), archive.display().to_string()],
        );
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
    for file in sizes.keys().filter(|f| f.ends_with(".index.json")) {
        let bytes = s3.get(&url.key(file)).await?;
        let Ok(summary) = serde_json::from_slice::<Summary>(&bytes) else {
            out.push(Listed::incomplete(
                file,
                format!("{url}{file}"),
                None,
                "index object unreadable",
            ));
            continue;
        };
        claimed.push(summary.archive.file.clone());
        let mut listed = Listed::from_summary(
            &summary,
            format!("{url}{}", summary.archive.file),
            vec![url.key(file), url.key(&summary.archive.file)],
        );
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
    /// As the user named it.
    pub display: String,
    _tmp: Option<tempfile::TempDir>,
}

/// A local archive as is; an S3 one downloaded (streamed) to a private temporary directory.
/// An index object's name is taken to mean its archive.
pub async fn fetch(text: &str) -> Result<Fetched> {
    if text.starts_with("s3://") {
        let (url, mut file) = S3Url::split_object(text)?;
        let s3 = S3::connect(&url.bucket).await?;
        let mut summary = None;
        if file.ends_with(".index.json") {
            let bytes = s3.get(&url.key(&file)).await?;
            let parsed: Summary = serde_json::from_slice(&bytes)
                .map_err(|e| Error::failed(format!("index object {text}: {e}")))?;
            file = parsed.archive.file.clone();
            summary = Some(parsed);
        }
        let tmp = tempfile::Builder::new()
            .prefix("sealos-backup-")
            .tempdir()
            .map_err(|e| Error::io("create a temporary directory", e))?;
        let path = tmp.path().join(&file);
        let mut out = tokio::fs::File::create(&path)
            .await
            .map_err(|e| Error::io(format!("create {}", path.display()), e))?;
        s3.download(&url.key(&file), &mut out).await?;
        if summary.is_none()
            && let Some(name) = summary_name(&file)
        {
            // A missing index object is reported by verify, not here.
            summary = s3
                .get(&url.key(&name))
                .await
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
        }
        return Ok(Fetched {
            path,
            summary,
            display: format!("{url}{file}"),
            _tmp: Some(tmp),
        });
    }
    let mut path = PathBuf::from(text);
    let mut summary = None;
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if file.ends_with(".index.json") {
        let bytes =
            std::fs::read(&path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        let parsed: Summary = serde_json::from_slice(&bytes)
            .map_err(|e| Error::failed(format!("index object {text}: {e}")))?;
        path = path.with_file_name(&parsed.archive.file);
        summary = Some(parsed);
    } else if let Some(name) = summary_name(&file) {
        summary = std::fs::read(path.with_file_name(name))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
    }
    if !path.is_file() {
        return Err(Error::usage(format!("{}: no such archive", path.display())));
    }
    Ok(Fetched {
        display: path.display().to_string(),
        path,
        summary,
        _tmp: None,
    })
}
