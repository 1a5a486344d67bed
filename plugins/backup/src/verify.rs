//! `verify`: the archive against its index object (size, SHA-256), then every entry against
//! `index.json` (see `sealos_shared::archive::reader::verify`).

use std::path::{Path, PathBuf};

use clap::Args;
use sealos_shared::archive::index::Index;
use sealos_shared::archive::location::{self, Fetched};
use sealos_shared::archive::signing::{self, Signer, TrustedSigners};
use sealos_shared::archive::writer::Hashing;
use sealos_shared::archive::{crypt, reader};
use sealos_shared::flags::RenamedFormat;
use sealos_shared::output::counted;
use sealos_shared::output::{Format, Out, Severity};
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;

#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    /// The archive: a path, or s3://BUCKET/PREFIX/NAME.tar.gz (an .index.json names its archive too).
    #[arg(value_name = "ARCHIVE|s3://...")]
    pub archive: String,
    /// The age identity file for an encrypted archive (AGE-SECRET-KEY-1... lines).
    #[arg(long, value_name = "FILE")]
    pub decrypt_key: Option<PathBuf>,
    /// Accept only an archive whose index object is signed (NAME.index.json.sig) by a key in this
    /// file, OpenSSH's allowed_signers format (`PRINCIPALS [namespaces="kubectl-sealos-backup"]
    /// KEYTYPE BASE64`); an unsigned or badly signed one is a problem (exit 1).
    #[arg(long, value_name = "FILE")]
    pub trusted_signers: Option<PathBuf>,
    /// Report format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
    #[command(flatten)]
    pub renamed: RenamedFormat,
}

/// What `verify` reports.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub archive: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    pub encrypted: bool,
    pub objects: u64,
    /// Every mismatch, each naming the entry or file.
    pub problems: Vec<String>,
    /// Facts that are not problems (no index object beside the archive, ...).
    pub notes: Vec<String>,
    /// Who signed it, when checked with `--trusted-signers` and trusted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<Signer>,
}

/// Verifies an archive; the fetched file and the index come back for `restore`.
pub async fn check(archive: &str, key: Option<&Path>) -> Result<(Report, Option<Index>, Fetched)> {
    let identities = key.map(crypt::read_identities).transpose()?;
    let fetched = location::fetch(archive).await?;
    let encrypted = crypt::is_encrypted_file(&fetched.path)?;
    let mut report = Report {
        archive: fetched.display.clone(),
        ok: false,
        name: None,
        created_at: None,
        encrypted,
        objects: 0,
        problems: Vec::new(),
        notes: Vec::new(),
        signer: None,
    };
    crypt::expect_encrypted(encrypted, identities.is_some(), &fetched.display)?;
    if encrypted && identities.is_none() {
        return Err(Error::usage(format!(
            "{} is encrypted with age: pass --decrypt-key FILE",
            fetched.display
        )));
    }
    let path = fetched.path.clone();
    let verification = tokio::task::spawn_blocking(move || -> Result<_> {
        let (size, sha256) = file_sha256(&path)?;
        let file = std::fs::File::open(&path)
            .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
        let plain = crypt::open(std::io::BufReader::new(file), identities.as_deref())?;
        Ok((size, sha256, reader::verify(plain)))
    })
    .await
    .map_err(|e| Error::failed(format!("verify: {e}")))??;
    let (size, sha256, verification) = verification;
    match &fetched.summary {
        Some(summary) => {
            if summary.archive.size != size || summary.archive.sha256 != sha256 {
                report.problems.push(format!(
                    "{}: {size} bytes, sha256 {sha256}; its index object says {} bytes, sha256 {}",
                    fetched.display, summary.archive.size, summary.archive.sha256
                ));
            }
            if verification
                .index_sha256
                .as_ref()
                .is_some_and(|s| *s != summary.index_sha256)
            {
                report
                    .problems
                    .push("index.json differs from the one the index object names".into());
            }
        }
        None => report
            .notes
            .push("no index object beside the archive: the archive was checked on its own".into()),
    }
    report.objects = verification.objects;
    report
        .problems
        .extend(verification.problems.iter().cloned());
    if let Some(index) = &verification.index {
        report.name = Some(index.head.name.clone());
        report.created_at = Some(index.head.created_at.clone());
    }
    report.ok = report.problems.is_empty() && verification.index.is_some();
    Ok((report, verification.index, fetched))
}

pub async fn run(args: &VerifyArgs, out: &mut Out) -> Result<Exit> {
    let trusted = args
        .trusted_signers
        .as_deref()
        .map(TrustedSigners::load)
        .transpose()?;
    let (mut report, _, fetched) = check(&args.archive, args.decrypt_key.as_deref()).await?;
    if let Some(trusted) = &trusted {
        match signing::check_fetched(trusted, &fetched) {
            Ok(signer) => report.signer = Some(signer),
            Err(why) => {
                report.problems.push(format!("not trusted: {why}"));
                report.ok = false;
            }
        }
    }
    if out.format.is_machine() {
        out.data(&report)?;
    } else if report.ok {
        out.line(&format!(
            "{} {}: {} objects, every checksum matches",
            out.theme.severity(Severity::Ok),
            report.archive,
            report.objects
        ))?;
        if let Some(signer) = &report.signer {
            out.line(&format!(
                "  signed by {} ({})",
                signer.principals, signer.key
            ))?;
        }
    } else {
        out.line(&format!(
            "{} {}: {}",
            out.theme.severity(Severity::Fail),
            report.archive,
            counted(report.problems.len(), "problem", "problems")
        ))?;
        for problem in &report.problems {
            out.line(&format!("  {problem}"))?;
        }
    }
    if !out.format.is_machine() {
        for note in &report.notes {
            out.line(&format!("  note: {note}"))?;
        }
    }
    Ok(Exit::problem_if(!report.ok))
}

/// The whole file's size and SHA-256, streamed.
fn file_sha256(path: &Path) -> Result<(u64, String)> {
    let mut file =
        std::fs::File::open(path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    let mut hashing = Hashing::new(std::io::sink());
    std::io::copy(&mut file, &mut hashing)
        .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    let (_, size, sha) = hashing.finish();
    Ok((size, sha))
}
