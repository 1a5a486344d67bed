//! age encryption of a whole archive: x25519 recipients (`age1...`), identities from a key file
//! (`AGE-SECRET-KEY-1...` lines, as `age-keygen` writes them). Streaming both ways.

use std::io::{Read, Write};
use std::path::Path;
use std::str::FromStr;

use age::secrecy::ExposeSecret;

use crate::error::{Error, Result};

/// A decryption identity (x25519).
pub type Identity = age::x25519::Identity;
/// An encryption recipient (x25519, `age1...`).
pub type Recipient = age::x25519::Recipient;

/// How every age file starts: how an encrypted archive is recognised whatever its name.
pub const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";

/// A recipient parsed from `--encrypt-to`.
pub fn parse_recipient(text: &str) -> Result<age::x25519::Recipient> {
    age::x25519::Recipient::from_str(text.trim()).map_err(|e| {
        Error::usage(format!(
            "--encrypt-to {:?} is not an age x25519 recipient (age1...): {e}",
            text.trim()
        ))
    })
}

/// The identities in an age key file. The key itself never appears in an error.
pub fn read_identities(path: &Path) -> Result<Vec<age::x25519::Identity>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("read decryption key {}", path.display()), e))?;
    let mut identities = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let identity = age::x25519::Identity::from_str(line).map_err(|_| {
            Error::usage(format!(
                "decryption key {} line {}: not an age x25519 identity (AGE-SECRET-KEY-1...)",
                path.display(),
                number + 1
            ))
        })?;
        identities.push(identity);
    }
    if identities.is_empty() {
        return Err(Error::usage(format!(
            "decryption key {} holds no age identity",
            path.display()
        )));
    }
    Ok(identities)
}

/// A new key pair as `age-keygen` would print it: (identity file text, recipient). For tests and
/// for people without age installed.
pub fn generate_key() -> (String, String) {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let text = format!(
        "# public key: {recipient}\n{}\n",
        identity.to_string().expose_secret()
    );
    (text, recipient)
}

/// Encrypting writer, or the plain one: finishing returns the inner writer either way.
pub enum Sealed<W: Write> {
    Plain(W),
    Age(age::stream::StreamWriter<W>),
}

impl<W: Write> Sealed<W> {
    pub fn new(inner: W, recipients: &[age::x25519::Recipient]) -> Result<Sealed<W>> {
        if recipients.is_empty() {
            return Ok(Sealed::Plain(inner));
        }
        let encryptor =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| Error::failed(format!("set up encryption: {e}")))?;
        let writer = encryptor
            .wrap_output(inner)
            .map_err(|e| Error::io("write the encryption header", e))?;
        Ok(Sealed::Age(writer))
    }

    /// Writes the last encrypted chunk (if encrypting) and gives the inner writer back.
    pub fn finish(self) -> std::io::Result<W> {
        match self {
            Sealed::Plain(inner) => Ok(inner),
            Sealed::Age(writer) => writer.finish(),
        }
    }
}

impl<W: Write> Write for Sealed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sealed::Plain(w) => w.write(buf),
            Sealed::Age(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sealed::Plain(w) => w.flush(),
            Sealed::Age(w) => w.flush(),
        }
    }
}

/// A reader of the plaintext archive: decrypted when the bytes start with the age header (then
/// `identities` must be given), else passed through.
pub fn open<R: Read + Send + 'static>(
    mut input: R,
    identities: Option<&[age::x25519::Identity]>,
) -> Result<Box<dyn Read + Send>> {
    let mut head = vec![0u8; AGE_MAGIC.len()];
    let mut filled = 0;
    while filled < head.len() {
        let n = input
            .read(&mut head[filled..])
            .map_err(|e| Error::io("read archive", e))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    head.truncate(filled);
    let whole = std::io::Cursor::new(head.clone()).chain(input);
    if head != AGE_MAGIC {
        return Ok(Box::new(whole));
    }
    let Some(identities) = identities else {
        return Err(Error::usage(
            "the archive is encrypted with age: pass --decrypt-key FILE",
        ));
    };
    let decryptor = age::Decryptor::new(whole)
        .map_err(|e| Error::failed(format!("read the archive's encryption header: {e}")))?;
    let reader = decryptor
        .decrypt(identities.iter().map(|i| i as &dyn age::Identity))
        .map_err(|e| Error::failed(format!("decrypt the archive: {e}")))?;
    Ok(Box::new(reader))
}

/// Refuses a plaintext archive when a decryption key was given: whoever expects an encrypted
/// archive and finds a plain one may be looking at a replacement (a downgrade), not at the backup.
pub fn expect_encrypted(encrypted: bool, key_given: bool, archive: &str) -> Result<()> {
    if key_given && !encrypted {
        return Err(Error::usage(format!(
            "{archive} is not encrypted, but --decrypt-key was given: refusing a plaintext archive \
             where an encrypted one was expected (drop --decrypt-key only if the backup was made without --encrypt-to)"
        )));
    }
    Ok(())
}

/// True when `path` starts with the age header.
pub fn is_encrypted_file(path: &Path) -> Result<bool> {
    let mut file =
        std::fs::File::open(path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    let mut head = vec![0u8; AGE_MAGIC.len()];
    let n = file
        .read(&mut head)
        .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    Ok(&head[..n] == AGE_MAGIC)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn encrypts_and_decrypts_with_a_generated_key() {
        let dir = tempfile::tempdir().unwrap();
        let (identity_text, recipient) = generate_key();
        let key = dir.path().join("key.txt");
        std::fs::write(&key, identity_text).unwrap();
        let identities = read_identities(&key).unwrap();
        let recipient = parse_recipient(&recipient).unwrap();

        let mut sealed = Sealed::new(Vec::new(), &[recipient]).unwrap();
        sealed.write_all(b"the archive").unwrap();
        let bytes = sealed.finish().unwrap();
        assert!(bytes.starts_with(AGE_MAGIC));

        let mut plain = String::new();
        open(std::io::Cursor::new(bytes.clone()), Some(&identities))
            .unwrap()
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, "the archive");
        let refused = open(std::io::Cursor::new(bytes), None).err().unwrap();
        assert!(refused.to_string().contains("--decrypt-key"));
    }

    #[test]
    fn a_plain_archive_is_refused_when_a_key_says_encrypted() {
        let err = expect_encrypted(false, true, "b.tar.gz").unwrap_err();
        assert!(
            err.to_string().contains("refusing a plaintext archive"),
            "{err}"
        );
        assert_eq!(err.exit(), crate::Exit::Failure);
        assert!(expect_encrypted(true, true, "b.tar.gz.age").is_ok());
        assert!(expect_encrypted(false, false, "b.tar.gz").is_ok());
    }

    #[test]
    fn plain_input_passes_through_and_bad_keys_are_named_not_shown() {
        let mut text = String::new();
        open(std::io::Cursor::new(b"plain".to_vec()), None)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "plain");
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.txt");
        std::fs::write(&key, "AGE-SECRET-KEY-1NOTAKEY\n").unwrap();
        let err = read_identities(&key).err().unwrap().to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(!err.contains("NOTAKEY"), "{err}");
        assert!(parse_recipient("age1nope").is_err());
    }
}
