//! The streaming archive writer: objects go into the `.tar.gz` as they come, one entry each;
//! their checksums are spilled to an unnamed temporary file, not kept in memory, and streamed into
//! `index.json`, the last entry. Memory stays flat whatever the object count.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::crypt::Sealed;
use super::index::{Entry, IndexHead};
use super::path::{EntryPath, INDEX_ENTRY};
use crate::error::{Error, Result};

/// Counts and hashes what passes through to `inner`.
pub struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// The inner writer, the byte count and the hex SHA-256.
    pub fn finish(self) -> (W, u64, String) {
        (self.inner, self.size, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// An in-memory sink that an uploader drains in parts (S3 multipart): the writer appends, the
/// uploader takes whole parts between pages.
#[derive(Clone, Default)]
pub struct Spool(Arc<Mutex<Vec<u8>>>);

impl Spool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The first `part` bytes, once at least that many are waiting.
    pub fn take_part(&self, part: usize) -> Option<Vec<u8>> {
        let mut buf = self.lock();
        if buf.len() < part {
            return None;
        }
        let rest = buf.split_off(part);
        Some(std::mem::replace(&mut *buf, rest))
    }

    /// Everything waiting.
    pub fn take_all(&self) -> Vec<u8> {
        std::mem::take(&mut *self.lock())
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a finished archive is.
#[derive(Debug)]
pub struct Finished<W> {
    pub sink: W,
    /// Bytes written to the sink (after encryption, if any).
    pub size: u64,
    pub sha256: String,
    pub index_sha256: String,
    pub entries: u64,
}

/// Writes one archive into `W`.
pub struct ArchiveWriter<W: Write> {
    tar: tar::Builder<GzEncoder<Sealed<Hashing<W>>>>,
    spill: BufWriter<File>,
    entries: u64,
    mtime: u64,
}

fn io(context: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(context, e)
}

impl<W: Write> ArchiveWriter<W> {
    /// `recipients` empty: not encrypted. `mtime`: the backup time, for every entry.
    pub fn new(sink: W, recipients: &[age::x25519::Recipient], mtime: u64) -> Result<Self> {
        let sealed = Sealed::new(Hashing::new(sink), recipients)?;
        let mut tar = tar::Builder::new(GzEncoder::new(sealed, Compression::default()));
        tar.mode(tar::HeaderMode::Deterministic);
        let spill = tempfile::tempfile().map_err(io("create a temporary file for the index"))?;
        Ok(ArchiveWriter {
            tar,
            spill: BufWriter::new(spill),
            entries: 0,
            mtime,
        })
    }

    /// Objects written so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Adds one (already cleaned) object at its path.
    pub fn add_object(&mut self, path: &EntryPath, object: &Value) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(object)
            .map_err(|e| Error::failed(format!("encode {}: {e}", path.render())))?;
        bytes.push(b'\n');
        let path = path.render();
        self.append(&path, &bytes)?;
        let entry = Entry {
            path,
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
        };
        serde_json::to_writer(&mut self.spill, &entry)
            .map_err(|e| Error::failed(format!("write the index spill: {e}")))?;
        self.spill
            .write_all(b"\n")
            .map_err(io("write the index spill"))?;
        self.entries += 1;
        Ok(())
    }

    fn append(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        let mut header = entry_header(bytes.len() as u64, self.mtime);
        self.tar
            .append_data(&mut header, path, bytes)
            .map_err(|e| Error::io(format!("write archive entry {path}"), e))
    }

    /// Writes `index.json` (the head, then every entry's checksum) as the last entry and closes
    /// the compression and encryption streams.
    pub fn finish(self, mut head: IndexHead) -> Result<Finished<W>> {
        head.objects = self.entries;
        let ArchiveWriter {
            mut tar,
            spill,
            entries,
            mtime,
        } = self;
        let spill = spill
            .into_inner()
            .map_err(|e| Error::io("write the index spill", e.into_error()))?;
        let index = tempfile::tempfile().map_err(io("create a temporary file for the index"))?;
        let mut index = Hashing::new(BufWriter::new(index));
        write_index(&mut index, &head, spill)?;
        let (index, index_size, index_sha256) = index.finish();
        let mut index = index
            .into_inner()
            .map_err(|e| Error::io("write the index", e.into_error()))?;
        index
            .seek(SeekFrom::Start(0))
            .map_err(io("read the index back"))?;
        let mut header = entry_header(index_size, mtime);
        tar.append_data(&mut header, INDEX_ENTRY, index)
            .map_err(io("write index.json"))?;
        let gz = tar.into_inner().map_err(io("close the archive"))?;
        let sealed = gz.finish().map_err(io("close the compression stream"))?;
        let hashing = sealed.finish().map_err(io("close the encryption stream"))?;
        let (mut sink, size, sha256) = hashing.finish();
        sink.flush().map_err(io("flush the archive"))?;
        Ok(Finished {
            sink,
            size,
            sha256,
            index_sha256,
            entries,
        })
    }
}

/// A private regular file's header.
fn entry_header(size: u64, mtime: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    header
}

/// `{head..., "entries":[<spilled lines>]}`, streamed.
fn write_index(out: &mut impl Write, head: &IndexHead, mut spill: File) -> Result<()> {
    let head =
        serde_json::to_string(head).map_err(|e| Error::failed(format!("encode the index: {e}")))?;
    let open = head
        .strip_suffix('}')
        .ok_or_else(|| Error::failed("encode the index: not an object"))?;
    let w = io("write the index");
    out.write_all(open.as_bytes()).map_err(&w)?;
    out.write_all(b",\"entries\":[\n").map_err(&w)?;
    spill
        .seek(SeekFrom::Start(0))
        .map_err(io("read the index spill"))?;
    for (i, line) in BufReader::new(spill).lines().enumerate() {
        let line = line.map_err(io("read the index spill"))?;
        if i > 0 {
            out.write_all(b",\n").map_err(&w)?;
        }
        out.write_all(line.as_bytes()).map_err(&w)?;
    }
    out.write_all(b"\n]}\n").map_err(&w)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn spool_hands_out_whole_parts() {
        let mut spool = Spool::default();
        spool.write_all(&[1; 10]).unwrap();
        assert_eq!(spool.take_part(16), None);
        spool.write_all(&[2; 10]).unwrap();
        let part = spool.take_part(16).unwrap();
        assert_eq!(part.len(), 16);
        assert_eq!(spool.len(), 4);
        assert_eq!(spool.take_all(), vec![2; 4]);
        assert!(spool.is_empty());
    }

    #[test]
    fn hashing_counts_and_hashes() {
        let mut h = Hashing::new(Vec::new());
        h.write_all(b"abc").unwrap();
        let (inner, size, sha) = h.finish();
        assert_eq!(inner, b"abc");
        assert_eq!(size, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
