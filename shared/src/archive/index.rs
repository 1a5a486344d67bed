//! `index.json`, the last entry of an archive, and the index object beside it (local file or S3
//! object) that marks a backup complete and lets `list` read it without opening the archive.

use serde::{Deserialize, Serialize};

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
