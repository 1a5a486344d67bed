//! Does `tls.key` belong to `tls.crt`? The key's public half is derived with ring (already the
//! suite's crypto provider, so no new dependency) and compared with the certificate's
//! SubjectPublicKeyInfo. ring also checks that an EC key's embedded public point matches its
//! scalar, so a key cannot pass by carrying someone else's public key.
//!
//! Accepted: PKCS#8 (`PRIVATE KEY`) ECDSA P-256/P-384, RSA 2048-8192 and Ed25519; SEC1
//! (`EC PRIVATE KEY`) P-256/P-384; PKCS#1 (`RSA PRIVATE KEY`).

use pkcs8::der::Encode;
use pkcs8::{AlgorithmIdentifierRef, ObjectIdentifier, PrivateKeyInfo};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair,
    EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, RsaKeyPair,
};
use serde::Serialize;
use x509_parser::oid_registry::{
    OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519,
};
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::RSAPublicKey;

use super::x509::{CertInfo, strip_zeros};

/// The verdict on a Secret's private key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "detail")]
pub enum KeyCheck {
    Matches,
    /// The key is valid but belongs to another certificate.
    Mismatch(String),
    /// `tls.key` is absent or empty.
    Missing,
    /// `tls.key` is not a key ring can read (encrypted, garbage, an unsupported algorithm).
    Unreadable(String),
}

impl KeyCheck {
    pub fn is_problem(&self) -> bool {
        !matches!(self, KeyCheck::Matches)
    }
}

/// A private key's algorithm and public half, as the certificate encodes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedKey {
    pub algorithm: Algorithm,
    /// EC: the uncompressed point; Ed25519: 32 bytes; RSA: DER RSAPublicKey.
    pub public: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    EcdsaP256,
    EcdsaP384,
    Rsa,
    Ed25519,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256 => "ECDSA P-256",
            Algorithm::EcdsaP384 => "ECDSA P-384",
            Algorithm::Rsa => "RSA",
            Algorithm::Ed25519 => "Ed25519",
        }
    }
}

/// Reads the first private key of PEM data and derives its public half.
pub fn derive_public_key(pem: &[u8]) -> Result<DerivedKey, String> {
    let mut labels = Vec::new();
    for block in Pem::iter_from_buffer(pem) {
        let block = block.map_err(|e| format!("malformed PEM: {e}"))?;
        match block.label.as_str() {
            "PRIVATE KEY" => return from_pkcs8(&block.contents),
            "EC PRIVATE KEY" => return from_sec1(&block.contents),
            "RSA PRIVATE KEY" => {
                return RsaKeyPair::from_der(&block.contents)
                    .map(|k| rsa(&k))
                    .map_err(|e| format!("PKCS#1 RSA key rejected: {e}"));
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err("the key is encrypted; Kubernetes TLS Secrets hold plain keys".into());
            }
            other => labels.push(other.to_string()),
        }
    }
    if labels.is_empty() {
        Err("no PEM private key block".into())
    } else {
        Err(format!(
            "no private key block (labels found: {})",
            labels.join(", ")
        ))
    }
}

fn from_pkcs8(der: &[u8]) -> Result<DerivedKey, String> {
    if let Ok(key) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
        return Ok(DerivedKey {
            algorithm: Algorithm::Ed25519,
            public: key.public_key().as_ref().to_vec(),
        });
    }
    for (alg, algorithm) in curves() {
        if let Ok(public) = ecdsa(alg, der) {
            return Ok(DerivedKey { algorithm, public });
        }
    }
    RsaKeyPair::from_pkcs8(der).map(|k| rsa(&k)).map_err(|e| {
        format!("PKCS#8 key rejected (ECDSA P-256/P-384, RSA and Ed25519 are read): {e}")
    })
}

/// SEC1 carries no algorithm identifier of its own: wrap it as PKCS#8 (id-ecPublicKey and the
/// curve) for ring, which reads only PKCS#8. The curve is the one the key names, else each curve
/// ring knows in turn (ring checks the curve named inside the SEC1 key too).
fn from_sec1(der: &[u8]) -> Result<DerivedKey, String> {
    let key =
        sec1::EcPrivateKey::try_from(der).map_err(|e| format!("SEC1 EC key unreadable: {e}"))?;
    let named = key.parameters.and_then(|p| p.named_curve());
    let mut last = String::from("it names a curve other than P-256 or P-384");
    for (alg, algorithm) in curves() {
        let curve = match algorithm {
            Algorithm::EcdsaP256 => EC_P256,
            _ => EC_P384,
        };
        if named.is_some_and(|n| n != curve) {
            continue;
        }
        let pkcs8 = PrivateKeyInfo {
            algorithm: AlgorithmIdentifierRef {
                oid: EC_PUBLIC_KEY,
                parameters: Some((&curve).into()),
            },
            private_key: der,
            public_key: None,
        }
        .to_der()
        .map_err(|e| format!("SEC1 EC key: {e}"))?;
        match ecdsa(alg, &pkcs8) {
            Ok(public) => return Ok(DerivedKey { algorithm, public }),
            Err(e) => last = e,
        }
    }
    Err(format!(
        "SEC1 EC key rejected (P-256 and P-384 are read): {last}"
    ))
}

fn curves() -> [(&'static EcdsaSigningAlgorithm, Algorithm); 2] {
    [
        (&ECDSA_P256_SHA256_ASN1_SIGNING, Algorithm::EcdsaP256),
        (&ECDSA_P384_SHA384_ASN1_SIGNING, Algorithm::EcdsaP384),
    ]
}

fn ecdsa(alg: &'static EcdsaSigningAlgorithm, pkcs8: &[u8]) -> Result<Vec<u8>, String> {
    EcdsaKeyPair::from_pkcs8(alg, pkcs8, &SystemRandom::new())
        .map(|k| k.public_key().as_ref().to_vec())
        .map_err(|e| e.to_string())
}

fn rsa(key: &RsaKeyPair) -> DerivedKey {
    DerivedKey {
        algorithm: Algorithm::Rsa,
        public: key.public_key().as_ref().to_vec(),
    }
}

/// id-ecPublicKey (RFC 5480) and the two curves ring signs with.
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const EC_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const EC_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// Compares `tls.key` with the leaf certificate's public key.
pub fn check_key(leaf: &CertInfo, key_pem: Option<&[u8]>) -> KeyCheck {
    let Some(key_pem) = key_pem.filter(|k| !k.iter().all(u8::is_ascii_whitespace)) else {
        return KeyCheck::Missing;
    };
    let derived = match derive_public_key(key_pem) {
        Ok(derived) => derived,
        Err(why) => return KeyCheck::Unreadable(why),
    };
    let verdict = leaf.with_public_key(|spki| {
        let alg = &spki.algorithm.algorithm;
        let cert_bytes: &[u8] = &spki.subject_public_key.data;
        let same = match derived.algorithm {
            Algorithm::Rsa if *alg == OID_PKCS1_RSAENCRYPTION => same_rsa(cert_bytes, &derived.public),
            Algorithm::EcdsaP256 | Algorithm::EcdsaP384 if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY => {
                cert_bytes == derived.public.as_slice()
            }
            Algorithm::Ed25519 if *alg == OID_SIG_ED25519 => cert_bytes == derived.public.as_slice(),
            _ => {
                return KeyCheck::Mismatch(format!(
                    "the key is {} but the certificate's is {}",
                    derived.algorithm.name(),
                    leaf.public_key
                ));
            }
        };
        if same {
            KeyCheck::Matches
        } else {
            KeyCheck::Mismatch(format!(
                "the {} key's public half differs from the certificate's: it belongs to another certificate",
                derived.algorithm.name()
            ))
        }
    });
    verdict.unwrap_or_else(|| KeyCheck::Unreadable("the certificate cannot be re-read".into()))
}

/// RSA public keys compared by modulus and exponent, whatever their DER padding.
fn same_rsa(a: &[u8], b: &[u8]) -> bool {
    match (RSAPublicKey::from_der(a), RSAPublicKey::from_der(b)) {
        (Ok((_, a)), Ok((_, b))) => {
            strip_zeros(a.modulus) == strip_zeros(b.modulus)
                && strip_zeros(a.exponent) == strip_zeros(b.exponent)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::certs::x509::parse_chain;

    fn leaf(pem: &str) -> CertInfo {
        parse_chain(pem.as_bytes()).unwrap().remove(0)
    }

    #[test]
    fn every_supported_key_form_matches_its_certificate() {
        let rsa = leaf(include_str!("testdata/leaf.pem"));
        assert_eq!(
            check_key(&rsa, Some(include_bytes!("testdata/leaf.key"))),
            KeyCheck::Matches
        );
        assert_eq!(
            check_key(&rsa, Some(include_bytes!("testdata/leaf.pkcs1.key"))),
            KeyCheck::Matches
        );
        let p384 = leaf(include_str!("testdata/inter.pem"));
        assert_eq!(
            check_key(&p384, Some(include_bytes!("testdata/inter.key"))),
            KeyCheck::Matches
        );
        assert_eq!(
            check_key(&p384, Some(include_bytes!("testdata/inter.sec1.key"))),
            KeyCheck::Matches
        );
        let ed = leaf(include_str!("testdata/ed25519.pem"));
        assert_eq!(
            check_key(&ed, Some(include_bytes!("testdata/ed25519.key"))),
            KeyCheck::Matches
        );
        let p256 = leaf(include_str!("testdata/p256.pem"));
        assert_eq!(
            check_key(&p256, Some(include_bytes!("testdata/p256.key"))),
            KeyCheck::Matches
        );
        assert_eq!(
            derive_public_key(include_bytes!("testdata/inter.sec1.key"))
                .unwrap()
                .algorithm,
            Algorithm::EcdsaP384
        );
    }

    #[test]
    fn wrong_missing_and_unreadable_keys_are_told_apart() {
        let p256 = leaf(include_str!("testdata/p256.pem"));
        let rsa = leaf(include_str!("testdata/leaf.pem"));
        assert!(matches!(
            check_key(&p256, Some(include_bytes!("testdata/other-p256.key"))),
            KeyCheck::Mismatch(why) if why.contains("another certificate")
        ));
        assert!(matches!(
            check_key(&rsa, Some(include_bytes!("testdata/p256.key"))),
            KeyCheck::Mismatch(why) if why.contains("ECDSA P-256") && why.contains("RSA 2048")
        ));
        assert_eq!(check_key(&rsa, None), KeyCheck::Missing);
        assert_eq!(check_key(&rsa, Some(b"\n")), KeyCheck::Missing);
        assert!(matches!(
            check_key(&rsa, Some(b"garbage")),
            KeyCheck::Unreadable(_)
        ));
        assert!(matches!(
            check_key(&rsa, Some(include_bytes!("testdata/leaf.pem"))),
            KeyCheck::Unreadable(why) if why.contains("CERTIFICATE")
        ));
        assert!(matches!(
            check_key(
                &rsa,
                Some(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            ),
            KeyCheck::Unreadable(_)
        ));
        assert!(matches!(
            check_key(&rsa, Some(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")),
            KeyCheck::Unreadable(why) if why.contains("encrypted")
        ));
    }
}
