//! A TLS Secret's `tls.crt`: the PEM chain decoded into plain data, and the signatures that link it.
//!
//! Whatever the bytes are (garbage, a DER blob, nothing), parsing returns a value or a
//! `ChainError`, never a panic: one bad Secret must not stop a whole check.

use jiff::Timestamp;
use serde::Serialize;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519, Oid, OidRegistry,
};
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// Why `tls.crt` (or `ca.crt`) gave no certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("empty: the Secret holds no certificate data")]
    Empty,
    #[error("holds a DER (binary) certificate, not PEM: cert-manager and Istio expect PEM blocks")]
    Der,
    #[error("not PEM: no \"-----BEGIN CERTIFICATE-----\" block in {0} bytes")]
    NotPem(usize),
    #[error("PEM block {index} is malformed: {reason}")]
    BadPem { index: usize, reason: String },
    #[error("PEM holds no CERTIFICATE block (labels found: {0})")]
    NoCertificate(String),
    #[error("certificate {index} in the chain cannot be parsed: {reason}")]
    BadCertificate { index: usize, reason: String },
}

/// One decoded certificate of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// Colon-separated hex, as OpenSSL prints it.
    pub serial: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    /// Key usages in cert-manager's spelling ("digital signature", "cert sign"...).
    pub key_usages: Vec<String>,
    pub ext_key_usages: Vec<String>,
    pub is_ca: bool,
    /// "RSA 2048", "ECDSA P-256", "Ed25519"...
    pub public_key: String,
    pub signature_algorithm: String,
    #[serde(skip)]
    pub der: Vec<u8>,
}

impl CertInfo {
    /// True when `name` is one of the certificate's DNS SANs, or matched by a wildcard SAN.
    pub fn covers(&self, name: &str) -> bool {
        self.dns_names.iter().any(|san| san_covers(san, name))
            || self.ip_addresses.iter().any(|ip| ip == name)
    }

    /// Whether `issuer`'s key signed this certificate.
    pub fn signed_by(&self, issuer: &CertInfo) -> Result<(), String> {
        let (_, cert) = X509Certificate::from_der(&self.der).map_err(|e| e.to_string())?;
        let (_, parent) = X509Certificate::from_der(&issuer.der).map_err(|e| e.to_string())?;
        cert.verify_signature(Some(parent.public_key()))
            .map_err(|e| e.to_string())
    }

    /// The certificate's SubjectPublicKeyInfo, for key comparison.
    pub fn with_public_key<T>(&self, f: impl FnOnce(&SubjectPublicKeyInfo<'_>) -> T) -> Option<T> {
        let (_, cert) = X509Certificate::from_der(&self.der).ok()?;
        Some(f(cert.public_key()))
    }

    /// Issuer equals subject: a root or a self-signed leaf.
    pub fn is_self_issued(&self) -> bool {
        self.subject == self.issuer
    }
}

/// RFC 6125 matching: exact (case-insensitive), or a `*.` SAN matching exactly one left label.
/// A wildcard name asked for (`*.example.com`) is only covered by the same wildcard.
pub fn san_covers(san: &str, name: &str) -> bool {
    let san = san.trim_end_matches('.').to_ascii_lowercase();
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if san == name {
        return true;
    }
    match (san.strip_prefix("*."), name.split_once('.')) {
        (Some(base), Some((label, rest))) => {
            !label.is_empty() && label != "*" && rest == base && base.contains('.')
        }
        _ => false,
    }
}

/// Decodes every CERTIFICATE block of PEM data, in order (the leaf first, as cert-manager writes).
pub fn parse_chain(data: &[u8]) -> Result<Vec<CertInfo>, ChainError> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(ChainError::Empty);
    }
    if !contains(data, b"-----BEGIN") {
        // A bare DER certificate starts with a SEQUENCE; say so rather than "garbage".
        if data.first() == Some(&0x30) && X509Certificate::from_der(data).is_ok() {
            return Err(ChainError::Der);
        }
        return Err(ChainError::NotPem(data.len()));
    }
    let mut chain = Vec::new();
    let mut labels = Vec::new();
    for (index, block) in Pem::iter_from_buffer(data).enumerate() {
        let pem = block.map_err(|e| ChainError::BadPem {
            index: index + 1,
            reason: e.to_string(),
        })?;
        if pem.label != "CERTIFICATE" {
            labels.push(pem.label);
            continue;
        }
        let index = chain.len() + 1;
        chain.push(
            decode(&pem.contents).map_err(|reason| ChainError::BadCertificate { index, reason })?,
        );
    }
    if chain.is_empty() {
        return Err(ChainError::NoCertificate(labels.join(", ")));
    }
    Ok(chain)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn decode(der: &[u8]) -> Result<CertInfo, String> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err(format!(
            "{} trailing bytes after the certificate",
            rest.len()
        ));
    }
    let validity = cert.validity();
    let time = |t: i64| Timestamp::from_second(t).map_err(|e| e.to_string());
    let mut info = CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: cert.raw_serial_as_string(),
        not_before: time(validity.not_before.timestamp())?,
        not_after: time(validity.not_after.timestamp())?,
        dns_names: Vec::new(),
        ip_addresses: Vec::new(),
        key_usages: Vec::new(),
        ext_key_usages: Vec::new(),
        is_ca: cert.is_ca(),
        public_key: describe_key(cert.public_key()),
        signature_algorithm: signature_name(&cert.signature_algorithm.algorithm),
        der: der.to_vec(),
    };
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(dns) => info.dns_names.push((*dns).to_string()),
                        GeneralName::IPAddress(bytes) => {
                            if let Some(ip) = ip_string(bytes) {
                                info.ip_addresses.push(ip);
                            }
                        }
                        _ => {}
                    }
                }
            }
            ParsedExtension::KeyUsage(ku) => {
                let flags = [
                    (ku.digital_signature(), "digital signature"),
                    (ku.non_repudiation(), "content commitment"),
                    (ku.key_encipherment(), "key encipherment"),
                    (ku.data_encipherment(), "data encipherment"),
                    (ku.key_agreement(), "key agreement"),
                    (ku.key_cert_sign(), "cert sign"),
                    (ku.crl_sign(), "crl sign"),
                    (ku.encipher_only(), "encipher only"),
                    (ku.decipher_only(), "decipher only"),
                ];
                info.key_usages = flags
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, name)| (*name).to_string())
                    .collect();
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                let flags = [
                    (eku.any, "any"),
                    (eku.server_auth, "server auth"),
                    (eku.client_auth, "client auth"),
                    (eku.code_signing, "code signing"),
                    (eku.email_protection, "email protection"),
                    (eku.time_stamping, "timestamping"),
                    (eku.ocsp_signing, "ocsp signing"),
                ];
                info.ext_key_usages = flags
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, name)| (*name).to_string())
                    .collect();
                info.ext_key_usages
                    .extend(eku.other.iter().map(|oid| oid.to_id_string()));
            }
            _ => {}
        }
    }
    Ok(info)
}

fn ip_string(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|b| std::net::IpAddr::from(b).to_string()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| std::net::IpAddr::from(b).to_string()),
        _ => None,
    }
}

/// "RSA 2048", "ECDSA P-256", "Ed25519", or the algorithm's OID.
pub fn describe_key(spki: &SubjectPublicKeyInfo<'_>) -> String {
    let alg = &spki.algorithm.algorithm;
    if *alg == OID_PKCS1_RSAENCRYPTION {
        let bits = match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => {
                let modulus = strip_zeros(rsa.modulus);
                modulus.len() * 8 - modulus.first().map_or(0, |b| b.leading_zeros() as usize)
            }
            _ => 0,
        };
        format!("RSA {bits}")
    } else if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| x509_parser::asn1_rs::Oid::try_from(p).ok());
        match curve {
            Some(c) if c == OID_EC_P256 => "ECDSA P-256".into(),
            Some(c) if c == OID_NIST_EC_P384 => "ECDSA P-384".into(),
            Some(c) if c == OID_NIST_EC_P521 => "ECDSA P-521".into(),
            Some(c) => format!("ECDSA {}", c.to_id_string()),
            None => "ECDSA".into(),
        }
    } else if *alg == OID_SIG_ED25519 {
        "Ed25519".into()
    } else {
        alg.to_id_string()
    }
}

pub(crate) fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The signature algorithm's name as `openssl x509 -text` prints it (`sha256WithRSAEncryption`,
/// `ecdsa-with-SHA256`, `ed25519`), from x509-parser's OID registry; the dotted OID when unknown.
fn signature_name(oid: &Oid<'_>) -> String {
    static REGISTRY: std::sync::LazyLock<OidRegistry<'static>> =
        std::sync::LazyLock::new(|| OidRegistry::default().with_crypto().with_x509());
    REGISTRY
        .get(oid)
        .map_or_else(|| oid.to_id_string(), |entry| entry.sn().to_string())
}

/// How each certificate of a chain is linked to the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "detail")]
pub enum Link {
    /// Signed by the next certificate in `tls.crt`.
    SignedByNext,
    /// Signed by a certificate of `ca.crt` (named by subject).
    SignedByCa(String),
    /// Self-signed, and the signature checks.
    SelfSigned,
    /// The issuer is not in the chain nor in `ca.crt`: it cannot be checked here.
    IssuerNotPresent,
    /// The issuer is named, but the signature does not verify.
    BadSignature(String),
    /// The next certificate is not this one's issuer: the chain is out of order.
    OutOfOrder(String),
}

impl Link {
    pub fn is_problem(&self) -> bool {
        matches!(self, Link::BadSignature(_) | Link::OutOfOrder(_))
    }

    pub fn describe(&self) -> String {
        match self {
            Link::SignedByNext => "signed by the next certificate".into(),
            Link::SignedByCa(subject) => format!("signed by ca.crt's {subject}"),
            Link::SelfSigned => "self-signed".into(),
            Link::IssuerNotPresent => "issuer not in tls.crt or ca.crt".into(),
            Link::BadSignature(why) => format!("signature does not verify: {why}"),
            Link::OutOfOrder(why) => format!("out of order: {why}"),
        }
    }
}

/// Checks order and signatures: each certificate against the next, the last against itself
/// (self-signed) or a matching certificate in `ca`.
pub fn check_links(chain: &[CertInfo], ca: &[CertInfo]) -> Vec<Link> {
    chain
        .iter()
        .enumerate()
        .map(|(i, cert)| {
            if let Some(next) = chain.get(i + 1) {
                if next.subject != cert.issuer {
                    return Link::OutOfOrder(format!(
                        "issued by {:?} but followed by {:?}",
                        cert.issuer, next.subject
                    ));
                }
                return match cert.signed_by(next) {
                    Ok(()) => Link::SignedByNext,
                    Err(why) => Link::BadSignature(why),
                };
            }
            if cert.is_self_issued() {
                return match cert.signed_by(cert) {
                    Ok(()) => Link::SelfSigned,
                    Err(why) => Link::BadSignature(why),
                };
            }
            let mut last_error = None;
            for root in ca.iter().filter(|c| c.subject == cert.issuer) {
                match cert.signed_by(root) {
                    Ok(()) => return Link::SignedByCa(root.subject.clone()),
                    Err(why) => last_error = Some(why),
                }
            }
            match last_error {
                Some(why) => Link::BadSignature(why),
                None => Link::IssuerNotPresent,
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    pub const ROOT: &str = include_str!("testdata/root.pem");
    pub const INTER: &str = include_str!("testdata/inter.pem");
    pub const LEAF: &str = include_str!("testdata/leaf.pem");
    pub const ED25519: &str = include_str!("testdata/ed25519.pem");
    pub const P256: &str = include_str!("testdata/p256.pem");

    #[test]
    fn a_chain_of_two_decodes_in_order_with_sans_usages_and_keys() {
        let chain = parse_chain(format!("{LEAF}{INTER}").as_bytes()).unwrap();
        assert_eq!(chain.len(), 2);
        let leaf = &chain[0];
        assert_eq!(leaf.subject, "CN=app.example.com");
        assert_eq!(leaf.issuer, "CN=Test Intermediate CA");
        assert_eq!(leaf.dns_names, ["app.example.com", "*.apps.example.com"]);
        assert_eq!(leaf.ip_addresses, ["10.0.0.1"]);
        assert_eq!(leaf.key_usages, ["digital signature", "key encipherment"]);
        assert_eq!(leaf.ext_key_usages, ["server auth"]);
        assert_eq!(leaf.public_key, "RSA 2048");
        assert_eq!(leaf.signature_algorithm, "ecdsa-with-SHA256");
        assert!(!leaf.is_ca && chain[1].is_ca);
        assert_eq!(chain[1].public_key, "ECDSA P-384");
        assert!(leaf.serial.contains(':'));
        assert!(leaf.not_before < leaf.not_after);
        let root = parse_chain(ROOT.as_bytes()).unwrap();
        assert_eq!(
            check_links(&chain, &root),
            [
                Link::SignedByNext,
                Link::SignedByCa("CN=Test Root CA".into())
            ]
        );
        assert_eq!(
            check_links(&chain, &[]).last(),
            Some(&Link::IssuerNotPresent)
        );
        assert_eq!(check_links(&root, &[]), [Link::SelfSigned]);
    }

    #[test]
    fn wrong_order_and_wrong_signer_are_found() {
        let reversed = parse_chain(format!("{INTER}{LEAF}").as_bytes()).unwrap();
        assert!(matches!(
            check_links(&reversed, &[])[0],
            Link::OutOfOrder(_)
        ));
        // A certificate that names the right issuer but was signed by another key.
        let leaf = parse_chain(LEAF.as_bytes()).unwrap();
        let mut impostor = parse_chain(P256.as_bytes()).unwrap().remove(0);
        impostor.subject = leaf[0].issuer.clone();
        assert!(matches!(
            check_links(&leaf, &[impostor])[0],
            Link::BadSignature(_)
        ));
    }

    #[test]
    fn bad_data_gives_errors_not_panics() {
        assert_eq!(parse_chain(b""), Err(ChainError::Empty));
        assert_eq!(parse_chain(b" \n"), Err(ChainError::Empty));
        assert_eq!(parse_chain(b"hello world"), Err(ChainError::NotPem(11)));
        let der = Pem::iter_from_buffer(LEAF.as_bytes())
            .next()
            .unwrap()
            .unwrap()
            .contents;
        assert_eq!(parse_chain(&der), Err(ChainError::Der));
        assert!(matches!(
            parse_chain(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
            Err(ChainError::BadPem { index: 1, .. })
        ));
        assert!(matches!(
            parse_chain(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            Err(ChainError::BadCertificate { index: 1, .. })
        ));
        assert!(matches!(
            parse_chain(include_bytes!("testdata/p256.key")),
            Err(ChainError::NoCertificate(labels)) if labels == "PRIVATE KEY"
        ));
        // Truncated PEM and random bytes that happen to start like DER.
        assert!(parse_chain(&LEAF.as_bytes()[..LEAF.len() / 2]).is_err());
        assert!(parse_chain(&[0x30, 0x82, 0xff, 0xff, 1, 2, 3]).is_err());
        assert_eq!(
            parse_chain(ED25519.as_bytes()).unwrap()[0].public_key,
            "Ed25519"
        );
    }

    #[test]
    fn wildcards_cover_one_label_only() {
        assert!(san_covers("a.example.com", "A.Example.com"));
        assert!(san_covers("*.example.com", "x.example.com"));
        assert!(!san_covers("*.example.com", "example.com"));
        assert!(!san_covers("*.example.com", "a.b.example.com"));
        assert!(san_covers("*.example.com", "*.example.com"));
        assert!(!san_covers("*.com", "example.com"));
        assert!(!san_covers("a.example.com", "b.example.com"));
        let leaf = parse_chain(LEAF.as_bytes()).unwrap().remove(0);
        assert!(leaf.covers("x.apps.example.com") && leaf.covers("10.0.0.1"));
        assert!(!leaf.covers("other.example.com"));
    }
}
