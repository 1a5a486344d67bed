//! `index.json`, the last entry of an archive, and the index object beside it (local file or S3
//! object) that marks a backup complete and lets `list` read it without opening the archive.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The format this code writes and reads.
pub const FORMAT: &str = "kubectl-sealos-backup/v1";

/// The cluster the backup came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    pub server: String,
    /// `gitVersion` from `/version`.
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub context: String,
}

/// The program that wrote the backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
    pub git_revision: String,
}

/// One backed-up resource and how many objects of it the archive holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceCount {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub resource: String,
    pub namespaced: bool,
    pub count: u64,
}

/// One archive entry and its checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// Everything in `index.json` but the entry list (which is streamed after it, see `writer`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexHead {
    pub format: String,
    pub name: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub cluster: ClusterInfo,
    pub tool: ToolInfo,
    /// What was asked for (`--include`, `--namespaces`, ...), as words.
    pub selection: Vec<String>,
    pub resources: Vec<ResourceCount>,
    /// Objects in all.
    pub objects: u64,
    /// Notes the writer wants a reader to see (e.g. a list restarted after an expired continue token).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// `index.json` as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    #[serde(flatten)]
    pub head: IndexHead,
    pub entries: Vec<Entry>,
}

/// The archive file itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveFile {
    /// The archive's file or object name, beside the index object.
    pub file: String,
    pub size: u64,
    /// Of the bytes as stored (after encryption, if any).
    pub sha256: String,
    pub encrypted: bool,
}

/// The index object: `<name>.index.json` beside `<name>.tar.gz[.age]`, written last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    #[serde(flatten)]
    pub head: IndexHead,
    pub archive: ArchiveFile,
    /// SHA-256 of the `index.json` entry inside the archive.
    pub index_sha256: String,
}

impl IndexHead {
    /// Objects per kind, for tables.
    pub fn counts_text(&self) -> String {
        let mut parts: Vec<String> = self
            .resources
            .iter()
            .filter(|r| r.count > 0)
            .map(|r| format!("{}={}", r.kind, r.count))
            .collect();
        parts.sort();
        parts.join(",")
    }
}

/// The most an index object may be. It holds the head only (counts, notes), never the entries:
/// a few KiB is usual, and a bigger one was not written by us.
pub const MAX_INDEX_OBJECT: u64 = 1024 * 1024;

/// The longest file name most file systems (and this code) accept.
const MAX_NAME_BYTES: usize = 255;

impl Summary {
    /// Parses an index object (bytes already read within `MAX_INDEX_OBJECT`). A JSON error is
    /// `Ok(Err)`: the caller decides whether an unreadable index object stops it; a name that is
    /// not a bare archive file name always does (`Err`).
    pub fn parse(bytes: &[u8], source: &str) -> Result<std::result::Result<Summary, String>> {
        let summary: Summary = match serde_json::from_slice(bytes) {
            Ok(summary) => summary,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let file = bare_file_name(&summary.archive.file, source)?;
        if archive_stem(file).is_none() {
            return Err(Error::failed(format!(
                "{source} names the archive {file:?}, which is not a .tar.gz or .tar.gz.age file"
            )));
        }
        Ok(Ok(summary))
    }
}

/// `name` if it is a bare file name, one that can only mean a file beside the object that names
/// it: not empty, no `/` or `\`, no `..`, no NUL or other control character, at most 255 bytes.
/// Names read from a store are data: an index object saying `/home/me/.bashrc` or `../x` must
/// never choose which local file is written, read or deleted. `source` names where it was read.
pub fn bare_file_name<'a>(name: &'a str, source: &str) -> Result<&'a str> {
    let why = if name.is_empty() {
        Some("is empty")
    } else if name.len() > MAX_NAME_BYTES {
        Some("is longer than 255 bytes")
    } else if name.contains('/') || name.contains('\\') {
        Some("is a path, not a file name")
    } else if name.contains("..") {
        Some("contains \"..\"")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else {
        None
    };
    match why {
        None => Ok(name),
        Some(why) => Err(Error::failed(format!(
            "{source} names the file {name:?}, which {why}: only a bare file name beside it is accepted, nothing was written"
        ))),
    }
}

/// `<name>.index.json` for an archive file name (`x.tar.gz`, `x.tar.gz.age` → `x.index.json`).
pub fn summary_name(archive_file: &str) -> Option<String> {
    archive_stem(archive_file).map(|stem| format!("{stem}.index.json"))
}

/// The backup name of an archive file: `x.tar.gz[.age]` → `x`.
pub fn archive_stem(file: &str) -> Option<&str> {
    file.strip_suffix(".tar.gz.age")
        .or_else(|| file.strip_suffix(".tar.gz"))
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_pair_up() {
        assert_eq!(summary_name("b.tar.gz").unwrap(), "b.index.json");
        assert_eq!(summary_name("b.tar.gz.age").unwrap(), "b.index.json");
        assert_eq!(summary_name("b.zip"), None);
        assert_eq!(archive_stem(".tar.gz"), None);
    }

    #[test]
    fn only_bare_file_names_pass() {
        for good in [
            "b.tar.gz",
            "sealos-backup-20261125T191800.123Z-1a2b.tar.gz.age",
            ".x",
        ] {
            assert_eq!(bare_file_name(good, "i").unwrap(), good);
        }
        let long = "a".repeat(256);
        for (bad, why) in [
            ("", "is empty"),
            ("/abs/path.tar.gz", "is a path"),
            ("a/b.tar.gz", "is a path"),
            ("a\\b.tar.gz", "is a path"),
            ("..", "contains \"..\""),
            ("x..tar.gz", "contains \"..\""),
            ("a\0b.tar.gz", "control character"),
            ("a\nb", "control character"),
            (long.as_str(), "longer than 255"),
        ] {
            let err = bare_file_name(bad, "index object s3://b/x.index.json").unwrap_err();
            let text = err.to_string();
            assert!(text.contains(why), "{bad:?}: {text}");
            assert!(
                text.starts_with("index object s3://b/x.index.json names"),
                "{text}"
            );
        }
    }

    #[test]
    fn summaries_must_name_an_archive_beside_them() {
        let with = |file: &str| {
            format!(
                r#"{{"format":"f","name":"n","createdAt":"t","cluster":{{"server":"s","version":"v"}},
                "tool":{{"name":"x","version":"0","gitRevision":"a"}},"selection":[],"resources":[],
                "objects":0,"archive":{{"file":{file:?},"size":1,"sha256":"00","encrypted":false}},
                "indexSha256":"00"}}"#
            )
        };
        let ok = Summary::parse(with("n.tar.gz").as_bytes(), "i")
            .unwrap()
            .unwrap();
        assert_eq!(ok.archive.file, "n.tar.gz");
        assert!(Summary::parse(b"{", "i").unwrap().is_err());
        assert!(Summary::parse(with("../x.tar.gz").as_bytes(), "i").is_err());
        assert!(Summary::parse(with("/etc/passwd").as_bytes(), "i").is_err());
        let err = Summary::parse(with("notes.txt").as_bytes(), "i").unwrap_err();
        assert!(err.to_string().contains("not a .tar.gz"), "{err}");
    }

    #[test]
    fn index_reads_back_flattened() {
        let text = r#"{"format":"kubectl-sealos-backup/v1","name":"n","createdAt":"t",
            "cluster":{"server":"s","version":"v1.32.0"},
            "tool":{"name":"x","version":"0.1.0","gitRevision":"abc"},
            "selection":[],"resources":[{"group":"","version":"v1","kind":"Secret",
            "resource":"secrets","namespaced":true,"count":2}],"objects":2,
            "entries":[{"path":"p","size":1,"sha256":"00"}]}"#;
        let index: Index = serde_json::from_str(text).unwrap();
        assert_eq!(index.entries.len(), 1);
        assert_eq!(index.head.counts_text(), "Secret=2");
        assert!(index.head.notes.is_empty());
    }
}
