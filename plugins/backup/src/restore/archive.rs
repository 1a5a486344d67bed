//! The archive restore applies: fetched, read once into memory, verified there (the file against
//! its index object, every entry against `index.json`) and applied from that same copy. Reading
//! the file again to apply it would let whoever can write to the store swap the bytes between the
//! check and the write.

use std::io::Read;
use std::path::Path;

use sealos_shared::archive::index::{Index, Summary};
use sealos_shared::archive::location::{self, Fetched};
use sealos_shared::archive::path::EntryPath;
use sealos_shared::archive::writer::Hashing;
use sealos_shared::archive::{crypt, reader, signing};
use sealos_shared::{Error, Result};
use serde_json::Value;

use super::wellformed;
use sealos_shared::output::counted;

/// The most an archive file may hold: a configuration backup is megabytes, and restore keeps the
/// whole archive in memory (ten thousand VirtualServices are about 20 MiB).
const MAX_ARCHIVE: u64 = 512 * 1024 * 1024;
/// The most its objects may hold once decompressed (a gzip bomb stops here).
const MAX_OBJECTS: u64 = 1024 * 1024 * 1024;

/// One object of the verified copy.
#[derive(Debug, Clone)]
pub struct Archived {
    pub path: EntryPath,
    pub object: Value,
}

impl Archived {
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or("")
    }
}

/// The verified copy.
pub struct Verified {
    /// The archive as the user named it (or the one an index object names).
    pub display: String,
    pub index: Index,
    /// Every object, in archive order, each well-formed (see `wellformed`).
    pub objects: Vec<Archived>,
}

/// Fetches, reads once, verifies; any problem is exit 2 with nothing applied.
pub async fn read(
    archive: &str,
    key: Option<&Path>,
    trusted_signers: Option<&Path>,
) -> Result<Verified> {
    let identities = key.map(crypt::read_identities).transpose()?;
    let fetched = location::fetch(archive).await?;
    // The index object's signature first: it vouches for the archive's SHA-256, so no byte of
    // the archive is trusted before it holds.
    signing::require_trusted(trusted_signers, &fetched)?;
    let display = fetched.display.clone();
    let key_given = identities.is_some();
    let read = tokio::task::spawn_blocking(move || read_blocking(&fetched, identities, key_given))
        .await
        .map_err(|e| Error::failed(format!("read {display}: {e}")))??;
    Ok(read)
}

fn read_blocking(
    fetched: &Fetched,
    identities: Option<Vec<crypt::Identity>>,
    key_given: bool,
) -> Result<Verified> {
    let bytes = read_bounded(&fetched.path)?;
    let encrypted = bytes.starts_with(crypt::AGE_MAGIC);
    crypt::expect_encrypted(encrypted, key_given, &fetched.display)?;
    if encrypted && identities.is_none() {
        return Err(Error::usage(format!(
            "{} is encrypted with age: pass --decrypt-key FILE",
            fetched.display
        )));
    }
    let mut hashing = Hashing::new(std::io::sink());
    std::io::Write::write_all(&mut hashing, &bytes)
        .map_err(|e| Error::io(format!("hash {}", fetched.display), e))?;
    let (_, size, sha256) = hashing.finish();
    let plain = crypt::open(std::io::Cursor::new(bytes), identities.as_deref())?;
    let (verification, kept) = reader::verify_keeping(plain, MAX_OBJECTS);
    let mut problems = against_summary(
        fetched.summary.as_ref(),
        &fetched.display,
        size,
        &sha256,
        verification.index_sha256.as_deref(),
    );
    problems.extend(verification.problems.iter().cloned());
    let index = match verification.index {
        Some(index) if problems.is_empty() => index,
        _ => {
            return Err(Error::failed(format!(
                "{} failed verification, nothing was restored: {}",
                fetched.display,
                shorten(&problems)
            )));
        }
    };
    let mut objects = Vec::with_capacity(kept.len());
    let mut malformed = Vec::new();
    for (entry, bytes) in kept {
        let archived = EntryPath::parse(&entry).and_then(|path| {
            let object: Value = serde_json::from_slice(&bytes)
                .map_err(|e| Error::failed(format!("entry {entry}: not JSON: {e}")))?;
            Ok(Archived { path, object })
        });
        match archived {
            Ok(archived) => match wellformed::check(&archived, &index) {
                Ok(()) => objects.push(archived),
                Err(why) => malformed.push(format!("{entry}: {why}")),
            },
            Err(e) => malformed.push(e.to_string()),
        }
    }
    malformed.extend(wellformed::check_index(&index));
    if !malformed.is_empty() {
        return Err(Error::failed(format!(
            "{}: {}, not written by backup create; nothing was restored: {}",
            fetched.display,
            counted(malformed.len(), "malformed object", "malformed objects"),
            shorten(&malformed)
        )));
    }
    Ok(Verified {
        display: fetched.display.clone(),
        index,
        objects,
    })
}

/// The whole file, once, refusing one larger than any backup.
fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    let file =
        std::fs::File::open(path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    let mut bytes = Vec::new();
    file.take(MAX_ARCHIVE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    if bytes.len() as u64 > MAX_ARCHIVE {
        return Err(Error::failed(format!(
            "{}: larger than {MAX_ARCHIVE} bytes, more than any configuration backup",
            path.display()
        )));
    }
    Ok(bytes)
}

/// The file against its index object (size, SHA-256, and the `index.json` it names).
fn against_summary(
    summary: Option<&Summary>,
    display: &str,
    size: u64,
    sha256: &str,
    index_sha256: Option<&str>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(summary) = summary {
        if summary.archive.size != size || summary.archive.sha256 != sha256 {
            problems.push(format!(
                "{display}: {size} bytes, sha256 {sha256}; its index object says {} bytes, sha256 {}",
                summary.archive.size, summary.archive.sha256
            ));
        }
        if index_sha256.is_some_and(|s| s != summary.index_sha256) {
            problems.push("index.json differs from the one the index object names".into());
        }
    }
    problems
}

/// The first five, and how many more.
fn shorten(problems: &[String]) -> String {
    let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
    let more = problems.len().saturating_sub(5);
    if more > 0 {
        format!("{} (and {more} more)", shown.join("; "))
    } else {
        shown.join("; ")
    }
}
