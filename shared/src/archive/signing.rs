//! Archives that prove where they came from. `create --sign-key FILE` signs the index object with
//! an SSH key, in the SSHSIG format that `ssh-keygen -Y sign` writes and git uses (namespace
//! `kubectl-sealos-backup`), stored beside it as `NAME.index.json.sig`. `verify` and `restore
//! --trusted-signers FILE` (OpenSSH's allowed_signers format) accept an archive only when that
//! signature is good and made by a key FILE trusts for this namespace. The index object holds the
//! SHA-256 of the archive and of its `index.json`, which holds every entry's: one signature covers
//! every byte. The SSHSIG encoding and the key maths are the RustCrypto `ssh-key` crate's; the
//! allowed_signers file is parsed here (the crate has no parser for it).

use std::fmt;
use std::path::Path;

use serde::Serialize;
use ssh_key::public::KeyData;
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

use super::location::Fetched;
use crate::error::{Error, Result};

/// The SSHSIG namespace of backup signatures: a signature made for git or for files
/// (`-n file`) is not one for a backup, even by the same key.
pub const NAMESPACE: &str = "kubectl-sealos-backup";
/// A signature is a few hundred bytes (a few KiB for RSA-8192).
pub const MAX_SIGNATURE: u64 = 64 * 1024;
const MAX_KEY_FILE: u64 = 64 * 1024;
const MAX_SIGNERS_FILE: u64 = 1024 * 1024;

/// `NAME.index.json.sig` beside `NAME.index.json`.
pub fn signature_name(index_file: &str) -> String {
    format!("{index_file}.sig")
}

/// An OpenSSH private key (ed25519 or ECDSA P-256) that signs index objects. RSA keys verify
/// (an archive signed by `ssh-keygen -Y sign` with one is accepted) but do not sign here:
/// `ssh-key` 0.6 builds the RSA private key from `p` twice instead of `p` and `q`, so every RSA
/// signature fails; its 0.7 fixes that and is not released yet.
#[derive(Clone)]
pub struct SigningKey {
    key: PrivateKey,
    path: String,
}

impl fmt::Debug for SigningKey {
    // The key itself is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, {})", self.path, self.fingerprint())
    }
}

impl SigningKey {
    /// Reads an unencrypted OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`).
    pub fn load(path: &Path) -> Result<SigningKey> {
        let shown = path.display().to_string();
        let text = read_small(path, MAX_KEY_FILE, "--sign-key")?;
        let key = PrivateKey::from_openssh(text.trim()).map_err(|e| {
            Error::usage(format!(
                "--sign-key {shown}: not an OpenSSH private key ({e}); ssh-keygen -t ed25519 -f FILE makes one"
            ))
        })?;
        if matches!(key.algorithm(), ssh_key::Algorithm::Rsa { .. }) {
            return Err(Error::usage(format!(
                "--sign-key {shown}: RSA keys cannot sign backups here; use an ed25519 key (ssh-keygen -t ed25519) or ECDSA P-256 (archives signed with RSA by ssh-keygen -Y sign still verify)"
            )));
        }
        if key.is_encrypted() {
            return Err(Error::usage(format!(
                "--sign-key {shown}: the key is protected by a passphrase, which this tool does not ask for; use a dedicated signing key without one, readable only by the backup job"
            )));
        }
        let signing = SigningKey { key, path: shown };
        // Fails now, before the cluster is read, for a key type this build cannot sign with.
        signing.sign(b"")?;
        Ok(signing)
    }

    /// The SSHSIG of `message`, armoured as `ssh-keygen -Y sign` writes it (SHA-512, as it does).
    pub fn sign(&self, message: &[u8]) -> Result<String> {
        let sig = self
            .key
            .sign(NAMESPACE, HashAlg::Sha512, message)
            .map_err(|e| {
                Error::usage(format!(
                    "--sign-key {}: cannot sign with this key ({e}): use ed25519 or ecdsa-sha2-nistp256",
                    self.path
                ))
            })?;
        sig.to_pem(LineEnding::LF)
            .map_err(|e| Error::failed(format!("encode the signature: {e}")))
    }

    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint(HashAlg::Sha256).to_string()
    }
}

/// Who signed a trusted archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signer {
    /// The principals of the allowed_signers line that trusts the key.
    pub principals: String,
    /// `SHA256:...` of the signing key.
    pub key: String,
}

/// One line of an allowed_signers file.
#[derive(Debug, Clone)]
struct Allowed {
    line: usize,
    principals: String,
    cert_authority: bool,
    namespaces: Option<String>,
    valid_after: Option<jiff::Timestamp>,
    valid_before: Option<jiff::Timestamp>,
    key: KeyData,
}

/// The keys an operator trusts to sign backups: OpenSSH's allowed_signers format (`man
/// ssh-keygen`, ALLOWED SIGNERS): `principals [options] keytype base64 [comment]`, with the
/// options `namespaces="..."`, `valid-after=`, `valid-before=` and `cert-authority`.
#[derive(Debug, Clone)]
pub struct TrustedSigners {
    source: String,
    allowed: Vec<Allowed>,
}

impl TrustedSigners {
    /// Reads and parses the file; any line it cannot read is bad input (as for `ssh-keygen -Y
    /// verify`, which stops at such a line too), never silently skipped.
    pub fn load(path: &Path) -> Result<TrustedSigners> {
        let text = read_small(path, MAX_SIGNERS_FILE, "--trusted-signers")?;
        TrustedSigners::parse(&text, &format!("--trusted-signers {}", path.display()))
    }

    pub fn parse(text: &str, source: &str) -> Result<TrustedSigners> {
        let mut allowed = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            allowed.push(
                parse_line(line, i + 1)
                    .map_err(|why| Error::usage(format!("{source}: line {}: {why}", i + 1)))?,
            );
        }
        if allowed.is_empty() {
            return Err(Error::usage(format!(
                "{source}: no keys (lines of the form: PRINCIPALS [namespaces=\"{NAMESPACE}\"] KEYTYPE BASE64)"
            )));
        }
        Ok(TrustedSigners {
            source: source.to_string(),
            allowed,
        })
    }

    /// The signer of `message`, if `signature` (the `.sig` file's bytes, None when there is none)
    /// is a good signature for this namespace by a key trusted at `now`; else why not.
    pub fn check(
        &self,
        message: &[u8],
        signature: Option<&[u8]>,
        now: jiff::Timestamp,
    ) -> std::result::Result<Signer, String> {
        let Some(signature) = signature else {
            return Err("the archive is not signed (no .sig beside its index object)".into());
        };
        let sig = SshSig::from_pem(signature)
            .map_err(|e| format!("its signature is not an SSH signature ({e})"))?;
        if sig.namespace() != NAMESPACE {
            return Err(format!(
                "its signature was made for namespace {:?}, not {NAMESPACE:?}",
                sig.namespace()
            ));
        }
        let key = PublicKey::new(sig.public_key().clone(), "");
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let lines: Vec<&Allowed> = self
            .allowed
            .iter()
            .filter(|a| !a.cert_authority && a.key == *sig.public_key())
            .collect();
        if lines.is_empty() {
            return Err(format!(
                "it was signed by key {fingerprint}, which {} does not list",
                self.source
            ));
        }
        let Some(line) = lines.iter().find(|a| a.permits(now)) else {
            let line = lines[0].line;
            return Err(format!(
                "key {fingerprint} is trusted by {} line {line} only for other namespaces or another time",
                self.source
            ));
        };
        key.verify(NAMESPACE, message, &sig).map_err(|_| {
            format!(
                "the signature by {fingerprint} does not match the index object: it was changed after signing"
            )
        })?;
        Ok(Signer {
            principals: line.principals.clone(),
            key: fingerprint,
        })
    }
}

/// The signer of a fetched archive's index object, or why there is none that `trusted` accepts.
pub fn check_fetched(
    trusted: &TrustedSigners,
    fetched: &Fetched,
) -> std::result::Result<Signer, String> {
    let Some(index) = &fetched.index_bytes else {
        return Err("no index object beside the archive, so nothing signed it".into());
    };
    trusted.check(index, fetched.signature.as_deref(), jiff::Timestamp::now())
}

/// `restore --trusted-signers FILE`: the archive's signer, or an error (exit 2) before anything
/// is applied; no file, no check. Restore refuses where verify reports (exit 1): verify's job is
/// to say what is wrong with an archive, and an unsigned or badly signed one is such a finding,
/// as a checksum mismatch is; restore was asked to apply only what a trusted key signed and
/// cannot do that job, so it stops as it does for an archive that fails verification, having
/// changed nothing.
pub fn require_trusted(signers: Option<&Path>, fetched: &Fetched) -> Result<Option<Signer>> {
    let Some(path) = signers else {
        return Ok(None);
    };
    let trusted = TrustedSigners::load(path)?;
    check_fetched(&trusted, fetched).map(Some).map_err(|why| {
        Error::failed(format!(
            "{} is not trusted, nothing was restored: {why}",
            fetched.display
        ))
    })
}

impl Allowed {
    fn permits(&self, now: jiff::Timestamp) -> bool {
        let namespace_ok = self
            .namespaces
            .as_deref()
            .is_none_or(|list| pattern_list_matches(NAMESPACE, list));
        namespace_ok
            && self.valid_after.is_none_or(|t| now >= t)
            && self.valid_before.is_none_or(|t| now <= t)
    }
}

/// `principals [options] keytype base64 [comment]`.
fn parse_line(line: &str, number: usize) -> std::result::Result<Allowed, String> {
    let (principals, rest) = take_field(line)?;
    let principals = principals.trim_matches('"').to_string();
    if principals.is_empty() {
        return Err("no principals".into());
    }
    let rest = rest.trim_start();
    let mut cert_authority = false;
    let mut namespaces = None;
    let mut valid_after = None;
    let mut valid_before = None;
    let key_text = if starts_with_key_type(rest) {
        rest
    } else {
        let (options, key_text) = take_field(rest)?;
        for option in split_options(options) {
            let (name, value) = match option.split_once('=') {
                Some((name, value)) => (name, Some(value.trim_matches('"').to_string())),
                None => (option.as_str(), None),
            };
            match (name.to_ascii_lowercase().as_str(), value) {
                ("cert-authority", None) => cert_authority = true,
                ("namespaces", Some(v)) => namespaces = Some(v),
                ("valid-after", Some(v)) => valid_after = Some(parse_time(&v)?),
                ("valid-before", Some(v)) => valid_before = Some(parse_time(&v)?),
                _ => return Err(format!("unsupported option {option:?}")),
            }
        }
        key_text.trim_start()
    };
    let key =
        PublicKey::from_openssh(key_text.trim()).map_err(|e| format!("not a public key ({e})"))?;
    Ok(Allowed {
        line: number,
        principals,
        cert_authority,
        namespaces,
        valid_after,
        valid_before,
        key: key.key_data().clone(),
    })
}

fn starts_with_key_type(text: &str) -> bool {
    ["ssh-", "ecdsa-sha2-", "sk-"]
        .iter()
        .any(|p| text.starts_with(p))
}

/// The text up to the first blank outside double quotes, and the rest.
fn take_field(text: &str) -> std::result::Result<(&str, &str), String> {
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return Ok((&text[..i], &text[i..])),
            _ => {}
        }
    }
    if quoted {
        Err("unbalanced quotes".into())
    } else {
        Err("no key after the principals".into())
    }
}

/// Comma-separated options; commas inside double quotes belong to the value.
fn split_options(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    out.push(current);
    out.into_iter().filter(|o| !o.is_empty()).collect()
}

/// `YYYYMMDD[HHMM[SS]]`, UTC with a trailing `Z`, else local time (as OpenSSH reads it).
fn parse_time(text: &str) -> std::result::Result<jiff::Timestamp, String> {
    let bad = || format!("{text:?} is not a time (YYYYMMDD[HHMM[SS]][Z])");
    let (digits, utc) = match text.strip_suffix(['Z', 'z']) {
        Some(d) => (d, true),
        None => (text, false),
    };
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let padded = match digits.len() {
        8 => format!("{digits}000000"),
        12 => format!("{digits}00"),
        14 => digits.to_string(),
        _ => return Err(bad()),
    };
    let civil = jiff::civil::DateTime::strptime("%Y%m%d%H%M%S", &padded).map_err(|_| bad())?;
    let zone = if utc {
        jiff::tz::TimeZone::UTC
    } else {
        jiff::tz::TimeZone::system()
    };
    civil
        .to_zoned(zone)
        .map(|z| z.timestamp())
        .map_err(|_| bad())
}

/// OpenSSH's `match_pattern_list`: some pattern (`*` and `?` wildcards) matches and no negated
/// one (`!pattern`) does.
fn pattern_list_matches(text: &str, list: &str) -> bool {
    let mut matched = false;
    for pattern in list.split(',').map(str::trim) {
        match pattern.strip_prefix('!') {
            Some(negated) if wildcard(text.as_bytes(), negated.as_bytes()) => return false,
            Some(_) => {}
            None => matched |= wildcard(text.as_bytes(), pattern.as_bytes()),
        }
    }
    matched
}

fn wildcard(text: &[u8], pattern: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, _) => text.is_empty(),
        (Some(b'*'), _) => {
            wildcard(text, &pattern[1..]) || (!text.is_empty() && wildcard(&text[1..], pattern))
        }
        (Some(b'?'), Some(_)) => wildcard(&text[1..], &pattern[1..]),
        (Some(p), Some(t)) if p == t => wildcard(&text[1..], &pattern[1..]),
        _ => false,
    }
}

/// A small local file, read within `limit` bytes (a FIFO or device is refused, not waited on).
fn read_small(path: &Path, limit: u64, flag: &str) -> Result<String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| Error::usage(format!("{flag} {shown}: {e}")))?;
    if !meta.is_file() || meta.len() > limit {
        return Err(Error::usage(format!(
            "{flag} {shown}: not a regular file of at most {limit} bytes"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::usage(format!("{flag} {shown}: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(Error::usage(format!(
            "{flag} {shown}: larger than {limit} bytes"
        )));
    }
    String::from_utf8(bytes).map_err(|_| Error::usage(format!("{flag} {shown}: not text")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // Made with `ssh-keygen -t ed25519 -N '' -C test`; for these tests only.
    const KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACDnNd4jN3sOomTVvH8lRtFReC57kBWFSNhKff3nrsMUgwAAAIh7sk6qe7JO
qgAAAAtzc2gtZWQyNTUxOQAAACDnNd4jN3sOomTVvH8lRtFReC57kBWFSNhKff3nrsMUgw
AAAEAf97YZ2I/ybY7QXm8THOsRpPdx95aH0sI4YgR4xd5Iiec13iM3ew6iZNW8fyVG0VF4
LnuQFYVI2Ep9/eeuwxSDAAAABHRlc3QB
-----END OPENSSH PRIVATE KEY-----
";

    fn key() -> SigningKey {
        SigningKey {
            key: PrivateKey::from_openssh(KEY).unwrap(),
            path: "k".into(),
        }
    }

    fn signers(options: &str) -> TrustedSigners {
        let public = key().key.public_key().to_openssh().unwrap();
        TrustedSigners::parse(&format!("# ops\nops@example.org {options} {public}\n"), "s").unwrap()
    }

    fn now() -> jiff::Timestamp {
        "2026-12-06T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_signature_verifies_and_a_changed_message_does_not() {
        let sig = key().sign(b"index").unwrap();
        assert!(sig.starts_with("-----BEGIN SSH SIGNATURE-----"));
        let trusted = signers("");
        let signer = trusted
            .check(b"index", Some(sig.as_bytes()), now())
            .unwrap();
        assert_eq!(signer.principals, "ops@example.org");
        assert!(signer.key.starts_with("SHA256:"));
        let err = trusted
            .check(b"index!", Some(sig.as_bytes()), now())
            .unwrap_err();
        assert!(err.contains("changed after signing"), "{err}");
        let err = trusted.check(b"index", None, now()).unwrap_err();
        assert!(err.contains("not signed"), "{err}");
        let err = trusted.check(b"index", Some(b"junk"), now()).unwrap_err();
        assert!(err.contains("not an SSH signature"), "{err}");
    }

    #[test]
    fn options_limit_namespaces_and_time() {
        let sig = key().sign(b"m").unwrap();
        let sig = Some(sig.as_bytes());
        assert!(
            signers(r#"namespaces="git,kubectl-sealos-*""#)
                .check(b"m", sig, now())
                .is_ok()
        );
        let err = signers(r#"namespaces="git,file""#)
            .check(b"m", sig, now())
            .unwrap_err();
        assert!(err.contains("only for other namespaces"), "{err}");
        assert!(
            signers(r#"namespaces="*,!kubectl-sealos-backup""#)
                .check(b"m", sig, now())
                .is_err()
        );
        assert!(
            signers("valid-after=20261201Z,valid-before=20270101Z")
                .check(b"m", sig, now())
                .is_ok()
        );
        assert!(
            signers("valid-before=20261101Z")
                .check(b"m", sig, now())
                .is_err()
        );
        assert!(signers("cert-authority").check(b"m", sig, now()).is_err());
    }

    #[test]
    fn bad_lines_are_bad_input() {
        for (text, why) in [
            ("", "no keys"),
            ("p ssh-ed25519 AAAA", "not a public key"),
            ("p frobnicate ssh-ed25519 AAAA", "unsupported option"),
            ("p valid-after=2026 ssh-ed25519 AAAA", "not a time"),
            ("onlyprincipals", "no key"),
        ] {
            let err = TrustedSigners::parse(text, "--trusted-signers f")
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn patterns_match_as_openssh_does() {
        assert!(pattern_list_matches(
            "kubectl-sealos-backup",
            "git,kubectl-*"
        ));
        assert!(!pattern_list_matches("kubectl-sealos-backup", "git,file"));
        assert!(!pattern_list_matches(
            "kubectl-sealos-backup",
            "*,!kubectl*"
        ));
        assert!(pattern_list_matches("abc", "a?c"));
    }
}
