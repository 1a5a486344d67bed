//! The archive: entries kept in memory within a size budget, then written as a tar.gz to a
//! temporary file (mode 0600) beside the target and renamed into place, so a reader never sees
//! half an archive.

use std::io::Write;
use std::path::{Path, PathBuf};

use sealos_shared::{Error, Result};
use serde::Serialize;

use super::Summary;

/// The archive being built: entries in memory until written, within a size budget.
pub struct Contents {
    pub files: Vec<(String, Vec<u8>)>,
    pub summary: Summary,
    pub max_bytes: u64,
}

impl Contents {
    pub fn add(&mut self, name: String, data: Vec<u8>) {
        let size = data.len() as u64;
        if self.summary.bytes + size > self.max_bytes {
            self.summary.skipped.push(name);
            return;
        }
        self.summary.bytes += size;
        self.summary.files.push(name.clone());
        self.files.push((name, data));
    }

    pub fn yaml(&mut self, name: String, value: &impl Serialize) {
        match serde_saphyr::to_string(value) {
            Ok(text) => self.add(name, text.into_bytes()),
            Err(e) => self.summary.notes.push(format!("{name}: encode YAML: {e}")),
        }
    }

    /// What is left of the budget.
    pub fn room(&self) -> u64 {
        self.max_bytes.saturating_sub(self.summary.bytes)
    }
}

/// Writes `summary.json`, `README.md` and `files` to a temporary file beside `target` (0600),
/// then renames it.
pub fn write_archive(
    target: &Path,
    readme: &str,
    files: &[(String, Vec<u8>)],
    summary: &Summary,
) -> Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let context = || format!("write bundle {}", target.display());
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "bundle".into());
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .tempfile_in(&dir)
        .map_err(|e| Error::io(context(), e))?;
    let mtime = jiff::Timestamp::now().as_second().max(0) as u64;
    {
        let gz = flate2::write::GzEncoder::new(temp.as_file(), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let summary_json = serde_json::to_vec_pretty(summary)
            .map_err(|e| Error::failed(format!("encode summary: {e}")))?;
        let all = [
            ("summary.json", summary_json.as_slice()),
            ("README.md", readme.as_bytes()),
        ]
        .into_iter()
        .chain(files.iter().map(|(n, d)| (n.as_str(), d.as_slice())));
        for (name, data) in all {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            header.set_mtime(mtime);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, name, data)
                .map_err(|e| Error::io(context(), e))?;
        }
        let gz = tar.into_inner().map_err(|e| Error::io(context(), e))?;
        let mut file = gz.finish().map_err(|e| Error::io(context(), e))?;
        file.flush().map_err(|e| Error::io(context(), e))?;
        file.sync_all().map_err(|e| Error::io(context(), e))?;
    }
    temp.persist(target)
        .map_err(|e| Error::io(context(), e.error))?;
    Ok(())
}

/// `sealos-diag-20261125T193000Z.tar.gz`.
pub fn default_name(prefix: &str) -> PathBuf {
    let now = jiff::Timestamp::now();
    PathBuf::from(format!(
        "{prefix}-{}.tar.gz",
        now.strftime("%Y%m%dT%H%M%SZ")
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Read;

    #[test]
    fn archives_are_private_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("b.tar.gz");
        let summary = Summary {
            files: vec!["a/b.txt".into()],
            ..Summary::default()
        };
        write_archive(
            &target,
            "# read me",
            &[("a/b.txt".into(), b"hello".to_vec())],
            &summary,
        )
        .unwrap();
        let mode = std::fs::metadata(&target).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(
            std::fs::File::open(&target).unwrap(),
        ));
        let mut names = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            if name == "a/b.txt" {
                assert_eq!(text, "hello");
            }
            if name == "README.md" {
                assert_eq!(text, "# read me");
            }
            names.push(name);
        }
        assert_eq!(names, ["summary.json", "README.md", "a/b.txt"]);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_size_budget_skips_what_does_not_fit() {
        let mut contents = Contents {
            files: Vec::new(),
            summary: Summary::default(),
            max_bytes: 10,
        };
        contents.add("a".into(), vec![0; 6]);
        contents.add("b".into(), vec![0; 6]);
        assert_eq!(contents.room(), 4);
        contents.add("c".into(), vec![0; 4]);
        assert_eq!(contents.summary.files, ["a", "c"]);
        assert_eq!(contents.summary.skipped, ["b"]);
        assert_eq!(contents.room(), 0);
    }
}
