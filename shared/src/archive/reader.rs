//! Reading an archive back, streaming: `verify` checks every entry against `index.json`;
//! `verify_keeping` does the same and keeps the entries it checked (restore applies those very
//! bytes); `for_each_object` hands out the objects one at a time.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use flate2::read::GzDecoder;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::index::{FORMAT, Index};
use super::path::{EntryPath, INDEX_ENTRY};
use crate::error::{Error, Result};

/// No object in a configuration backup is near this; a bigger entry is damage or an attack.
const MAX_ENTRY: u64 = 64 * 1024 * 1024;

/// What `verify` found.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// Object entries read.
    pub objects: u64,
    /// Every mismatch, named; empty when the archive is sound.
    pub problems: Vec<String>,
    #[serde(skip)]
    pub index: Option<Index>,
    /// SHA-256 of the `index.json` entry, to compare with the index object's.
    #[serde(skip)]
    pub index_sha256: Option<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.index.is_some()
    }
}

struct Seen {
    size: u64,
    sha256: String,
}

/// Reads the whole (plaintext) archive and checks: the gzip and tar streams are whole, every
/// object parses and sits at the path its identity gives, `index.json` is the last entry and lists
/// exactly the entries present with their sizes and SHA-256, and its counts agree.
pub fn verify(input: impl Read) -> Verification {
    verify_into(input, None)
}

/// The object entries `verify_keeping` kept: (entry path, bytes) in archive order.
pub type Kept = Vec<(String, Vec<u8>)>;

/// `verify`, keeping every object entry's bytes (at most `limit` in all: past it, a problem and
/// nothing more is read). What was verified is what the caller gets: no second read.
pub fn verify_keeping(input: impl Read, limit: u64) -> (Verification, Kept) {
    let mut keep = Keep {
        entries: Vec::new(),
        bytes: 0,
        limit,
    };
    let report = verify_into(input, Some(&mut keep));
    (report, keep.entries)
}

struct Keep {
    entries: Kept,
    bytes: u64,
    limit: u64,
}

fn verify_into(input: impl Read, mut keep: Option<&mut Keep>) -> Verification {
    let mut report = Verification::default();
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut counted: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut index_text: Option<Vec<u8>> = None;
    let mut after_index = Vec::new();
    let mut archive = tar::Archive::new(GzDecoder::new(input));
    let mut last = String::from("the start");
    let stream = match archive.entries() {
        Ok(entries) => entries,
        Err(e) => {
            report.problems.push(format!("archive unreadable: {e}"));
            return report;
        }
    };
    for entry in stream {
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                report
                    .problems
                    .push(format!("archive damaged or truncated after {last}: {e}"));
                return report;
            }
        };
        let path = match entry.path() {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(e) => {
                report
                    .problems
                    .push(format!("entry after {last}: unreadable name: {e}"));
                return report;
            }
        };
        let size = entry.header().size().unwrap_or(0);
        if size > MAX_ENTRY {
            report.problems.push(format!(
                "entry {path}: {size} bytes, larger than any object"
            ));
            return report;
        }
        let mut bytes = Vec::with_capacity(size as usize);
        if let Err(e) = entry.read_to_end(&mut bytes) {
            report
                .problems
                .push(format!("entry {path}: damaged or truncated: {e}"));
            return report;
        }
        last = path.clone();
        if index_text.is_some() {
            after_index.push(path.clone());
        }
        if path == INDEX_ENTRY {
            report.index_sha256 = Some(hex::encode(Sha256::digest(&bytes)));
            index_text = Some(bytes);
            continue;
        }
        match check_object(&path, &bytes) {
            Ok(parsed) => {
                *counted.entry((parsed.resource, parsed.group)).or_default() += 1;
                report.objects += 1;
            }
            Err(problem) => report.problems.push(problem),
        }
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let size = bytes.len() as u64;
        if let Some(keep) = keep.as_deref_mut() {
            keep.bytes += size;
            if keep.bytes > keep.limit {
                report.problems.push(format!(
                    "the archive holds more than {} bytes of objects, more than any configuration backup",
                    keep.limit
                ));
                return report;
            }
            keep.entries.push((path.clone(), bytes));
        }
        if seen.insert(path.clone(), Seen { size, sha256 }).is_some() {
            report.problems.push(format!("entry {path}: appears twice"));
        }
    }
    // tar stops at its end marker; reading on makes gzip check its trailer (CRC and length).
    let mut rest = archive.into_inner();
    if let Err(e) = std::io::copy(&mut rest, &mut std::io::sink()) {
        report
            .problems
            .push(format!("archive damaged or truncated at its end: {e}"));
    }
    for path in after_index {
        report.problems.push(format!(
            "entry {path}: after index.json (the index must be last)"
        ));
    }
    let Some(index_text) = index_text else {
        report
            .problems
            .push("index.json is missing: the archive is incomplete".to_string());
        return report;
    };
    let index: Index = match serde_json::from_slice(&index_text) {
        Ok(index) => index,
        Err(e) => {
            report
                .problems
                .push(format!("index.json does not parse: {e}"));
            return report;
        }
    };
    if index.head.format != FORMAT {
        report.problems.push(format!(
            "index.json: format {:?}, this tool reads {FORMAT:?}",
            index.head.format
        ));
    }
    let mut listed = 0u64;
    for entry in &index.entries {
        listed += 1;
        match seen.remove(&entry.path) {
            None => report.problems.push(format!(
                "entry {}: listed in index.json but missing from the archive",
                entry.path
            )),
            Some(found) if found.sha256 != entry.sha256 || found.size != entry.size => {
                report.problems.push(format!(
                    "entry {}: checksum mismatch (index {} / {} bytes, archive {} / {} bytes)",
                    entry.path, entry.sha256, entry.size, found.sha256, found.size
                ));
            }
            Some(_) => {}
        }
    }
    let mut unlisted: Vec<String> = seen.into_keys().collect();
    unlisted.sort();
    for path in unlisted {
        report.problems.push(format!(
            "entry {path}: in the archive but not in index.json"
        ));
    }
    if index.head.objects != listed {
        report.problems.push(format!(
            "index.json: says {} objects but lists {listed} entries",
            index.head.objects
        ));
    }
    for resource in &index.head.resources {
        let found = counted
            .get(&(resource.resource.clone(), resource.group.clone()))
            .copied()
            .unwrap_or(0);
        if found != resource.count {
            report.problems.push(format!(
                "index.json: {} {}, the archive holds {found}",
                resource.count,
                EntryPath::resource_dir(&resource.resource, &resource.group)
            ));
        }
    }
    report.index = Some(index);
    report
}

/// An object entry parses, names itself as its path does, and has a kind.
fn check_object(path: &str, bytes: &[u8]) -> std::result::Result<EntryPath, String> {
    let parsed = EntryPath::parse(path).map_err(|e| e.to_string())?;
    let object: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("entry {path}: not JSON: {e}"))?;
    let meta = &object["metadata"];
    if object["apiVersion"].as_str().is_none_or(str::is_empty)
        || object["kind"].as_str().is_none_or(str::is_empty)
    {
        return Err(format!("entry {path}: no apiVersion or kind"));
    }
    if meta["name"].as_str() != Some(parsed.name.as_str())
        || meta["namespace"].as_str() != parsed.namespace.as_deref()
    {
        return Err(format!(
            "entry {path}: the object inside is {}/{}",
            meta["namespace"].as_str().unwrap_or("-"),
            meta["name"].as_str().unwrap_or("-")
        ));
    }
    Ok(parsed)
}

/// Calls `each` with every object entry in archive order (index.json excluded). Stops at the
/// first error, from the archive or from `each`. Use after `verify`.
pub fn for_each_object(
    input: impl Read,
    mut each: impl FnMut(EntryPath, Value) -> Result<()>,
) -> Result<()> {
    let mut archive = tar::Archive::new(GzDecoder::new(input));
    let entries = archive
        .entries()
        .map_err(|e| Error::failed(format!("read archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::failed(format!("read archive: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| Error::failed(format!("read archive: {e}")))?
            .to_string_lossy()
            .into_owned();
        if path == INDEX_ENTRY {
            continue;
        }
        let mut bytes = Vec::new();
        entry
            .by_ref()
            .take(MAX_ENTRY)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::failed(format!("read entry {path}: {e}")))?;
        let parsed = EntryPath::parse(&path)?;
        let object = serde_json::from_slice(&bytes)
            .map_err(|e| Error::failed(format!("entry {path}: not JSON: {e}")))?;
        each(parsed, object)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::archive::index::{ClusterInfo, IndexHead, ResourceCount, ToolInfo};
    use crate::archive::writer::ArchiveWriter;
    use serde_json::json;

    fn head() -> IndexHead {
        IndexHead {
            format: FORMAT.into(),
            name: "b".into(),
            created_at: "2026-11-25T00:00:00Z".into(),
            cluster: ClusterInfo::default(),
            tool: ToolInfo::default(),
            selection: vec![],
            resources: vec![ResourceCount {
                group: String::new(),
                version: "v1".into(),
                kind: "ConfigMap".into(),
                resource: "configmaps".into(),
                namespaced: true,
                count: 3,
            }],
            objects: 0,
            notes: vec![],
        }
    }

    fn path(name: &str) -> EntryPath {
        EntryPath {
            resource: "configmaps".into(),
            group: String::new(),
            namespace: Some("ns".into()),
            name: name.into(),
        }
    }

    fn object(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "namespace": "ns"}, "data": {"k": name}})
    }

    fn archive() -> Vec<u8> {
        let mut writer = ArchiveWriter::new(Vec::new(), &[], 0).unwrap();
        for name in ["a", "b", "c"] {
            writer.add_object(&path(name), &object(name)).unwrap();
        }
        writer.finish(head()).unwrap().sink
    }

    /// The plain tar inside, entries rewritten by `change` (None drops one).
    fn rewrite(bytes: &[u8], change: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>) -> Vec<u8> {
        let mut input = tar::Archive::new(GzDecoder::new(bytes));
        let mut out = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for entry in input.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            if let Some(data) = change(&name, data) {
                let mut header = tar::Header::new_gnu();
                header.set_size(data.len() as u64);
                header.set_mode(0o600);
                out.append_data(&mut header, &name, data.as_slice())
                    .unwrap();
            }
        }
        out.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn a_written_archive_verifies_and_streams_back() {
        let bytes = archive();
        let report = verify(bytes.as_slice());
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!(report.objects, 3);
        let index = report.index.unwrap();
        assert_eq!(index.head.objects, 3);
        assert_eq!(index.entries.len(), 3);
        let mut names = Vec::new();
        for_each_object(bytes.as_slice(), |p, o| {
            assert_eq!(o["data"]["k"], json!(p.name));
            names.push(p.name);
            Ok(())
        })
        .unwrap();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn verify_keeping_gives_the_bytes_it_checked_within_a_bound() {
        let bytes = archive();
        let (report, kept) = verify_keeping(bytes.as_slice(), 1024 * 1024);
        assert!(report.ok(), "{:?}", report.problems);
        let names: Vec<&str> = kept.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names.len(), 3);
        assert!(names[0].ends_with("/a.json"), "{names:?}");
        let object: Value = serde_json::from_slice(&kept[1].1).unwrap();
        assert_eq!(object["data"]["k"], json!("b"));
        let (report, _) = verify_keeping(bytes.as_slice(), 10);
        assert!(!report.ok());
        assert!(
            report.problems[0].contains("more than 10 bytes"),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn a_changed_entry_fails_by_name() {
        let bytes = rewrite(&archive(), |name, mut data| {
            if name.ends_with("/b.json") {
                let at = data.iter().position(|c| *c == b'b').unwrap();
                // Same length, other content: only the checksum can tell.
                data[at + 10] ^= 0x01;
            }
            Some(data)
        });
        let report = verify(bytes.as_slice());
        assert!(!report.ok());
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("resources/configmaps/namespaces/ns/b.json")),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn a_missing_entry_fails_by_name() {
        let bytes = rewrite(&archive(), |name, data| {
            (!name.ends_with("/c.json")).then_some(data)
        });
        let report = verify(bytes.as_slice());
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("c.json") && p.contains("missing")),
            "{:?}",
            report.problems
        );
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("the archive holds 2"))
        );
    }

    #[test]
    fn truncation_and_flipped_bytes_are_caught() {
        let bytes = archive();
        let truncated = &bytes[..bytes.len() / 2];
        let report = verify(truncated);
        assert!(!report.ok());
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("truncated") || p.contains("index.json is missing")),
            "{:?}",
            report.problems
        );
        for at in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 6] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x40;
            let report = verify(flipped.as_slice());
            assert!(!report.ok(), "flip at {at} went unnoticed");
        }
    }

    #[test]
    fn no_index_means_incomplete() {
        let bytes = rewrite(&archive(), |name, data| {
            (name != INDEX_ENTRY).then_some(data)
        });
        let report = verify(bytes.as_slice());
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("index.json is missing"))
        );
    }
}
