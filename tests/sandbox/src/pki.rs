//! deps: rcgen = { version = "0.14", default-features = false, features = ["ring", "pem", "x509-parser"] }, time = { version = "0.3", default-features = false }, jiff, fastrand, thiserror; dev: x509-parser = { version = "0.18", features = ["verify"] }
//!
//! Real X.509 for the sandbox: the API server's own CA and serving certificate, the CA behind
//! cert-manager CA issuers, and the TLS Secrets of Certificates. ECDSA P-256 keys, because
//! generating them is fast and every client accepts them. Dates are explicit so that expired
//! and nearly expired certificates can be made on purpose.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};

/// Why a certificate could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("generate key: {0}")]
    Key(rcgen::Error),
    #[error("sign certificate: {0}")]
    Sign(rcgen::Error),
    #[error("invalid DNS name {name:?}: {source}")]
    DnsName { name: String, source: rcgen::Error },
    #[error("read CA key: {0}")]
    CaKey(rcgen::Error),
    #[error("read CA certificate: {0}")]
    CaCert(rcgen::Error),
    #[error("timestamp {0} is outside the range X.509 can encode")]
    Time(jiff::Timestamp),
    #[error("notAfter {not_after} is before notBefore {not_before}")]
    Validity {
        not_before: jiff::Timestamp,
        not_after: jiff::Timestamp,
    },
}

/// A certificate authority that can sign leaves and intermediate CAs.
pub struct Ca {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    // The key stays out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// What a leaf certificate should say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafRequest {
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    pub ips: Vec<IpAddr>,
    pub not_before: jiff::Timestamp,
    pub not_after: jiff::Timestamp,
}

impl LeafRequest {
    /// A request for DNS names only, valid from `not_before` to `not_after`; the first name
    /// becomes the common name, as cert-manager does when `commonName` is unset.
    pub fn for_dns(
        dns_names: &[&str],
        not_before: jiff::Timestamp,
        not_after: jiff::Timestamp,
    ) -> LeafRequest {
        LeafRequest {
            common_name: dns_names.first().map(|n| (*n).to_string()),
            dns_names: dns_names.iter().map(|n| (*n).to_string()).collect(),
            ips: Vec::new(),
            not_before,
            not_after,
        }
    }
}

/// An issued certificate and its private key (PKCS#8 PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    /// Lower-case hex of the serial number's bytes, without separators.
    pub serial_hex: String,
}

impl Ca {
    /// A self-signed root CA valid from a day ago for ten years.
    pub fn new(common_name: &str) -> Result<Ca, PkiError> {
        let now = jiff::Timestamp::now();
        let day = jiff::SignedDuration::from_hours(24);
        Ca::with_validity(common_name, now - day, now + day * 3650)
    }

    /// A self-signed root CA with explicit validity.
    pub fn with_validity(
        common_name: &str,
        not_before: jiff::Timestamp,
        not_after: jiff::Timestamp,
    ) -> Result<Ca, PkiError> {
        let key = new_key()?;
        let params = ca_params(common_name, not_before, not_after)?;
        let cert = params.self_signed(&key).map_err(PkiError::Sign)?;
        Ok(Ca {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// A CA from an existing certificate and key, as a cert-manager CA issuer reads them from
    /// its Secret's `tls.crt` and `tls.key`. A chain in `cert_pem` is accepted: its first
    /// certificate is the CA.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Ca, PkiError> {
        let key = KeyPair::from_pem(key_pem).map_err(PkiError::CaKey)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key).map_err(PkiError::CaCert)?;
        Ok(Ca {
            cert_pem: first_pem_block(cert_pem).to_string(),
            issuer,
        })
    }

    /// The CA certificate in PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA's private key in PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// A leaf signed by this CA: serverAuth, digitalSignature, keyEncipherment.
    pub fn issue(&self, req: &LeafRequest) -> Result<Leaf, PkiError> {
        let key = new_key()?;
        let (mut params, serial) = leaf_params(req)?;
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(PkiError::Sign)?;
        Ok(Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            serial_hex: hex(&serial),
        })
    }

    /// An intermediate CA signed by this one, for chains of two or more.
    pub fn issue_intermediate(
        &self,
        common_name: &str,
        not_before: jiff::Timestamp,
        not_after: jiff::Timestamp,
    ) -> Result<Ca, PkiError> {
        let key = new_key()?;
        let mut params = ca_params(common_name, not_before, not_after)?;
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(PkiError::Sign)?;
        Ok(Ca {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }
}

/// A self-signed leaf, as a cert-manager `selfSigned` issuer makes: issuer equals subject.
pub fn self_signed(req: &LeafRequest) -> Result<Leaf, PkiError> {
    let key = new_key()?;
    let (params, serial) = leaf_params(req)?;
    let cert = params.self_signed(&key).map_err(PkiError::Sign)?;
    Ok(Leaf {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        serial_hex: hex(&serial),
    })
}

/// A PKCS#10 request in PEM for `req`'s subject and SANs, signed with `key_pem`: what a
/// CertificateRequest's `spec.request` holds (base64 of this).
pub fn csr_pem(req: &LeafRequest, key_pem: &str) -> Result<String, PkiError> {
    let key = KeyPair::from_pem(key_pem).map_err(PkiError::CaKey)?;
    let (mut params, _) = leaf_params(req)?;
    // The issuer picks the serial; a CSR cannot carry one.
    params.serial_number = None;
    let csr = params.serialize_request(&key).map_err(PkiError::Sign)?;
    csr.pem().map_err(PkiError::Sign)
}

fn leaf_params(req: &LeafRequest) -> Result<(CertificateParams, [u8; 16]), PkiError> {
    if req.not_after < req.not_before {
        return Err(PkiError::Validity {
            not_before: req.not_before,
            not_after: req.not_after,
        });
    }
    let mut params = CertificateParams::default();
    params.not_before = to_offset(req.not_before)?;
    params.not_after = to_offset(req.not_after)?;
    let mut dn = DistinguishedName::new();
    if let Some(cn) = &req.common_name {
        dn.push(DnType::CommonName, cn.as_str());
    }
    params.distinguished_name = dn;
    let mut sans = Vec::with_capacity(req.dns_names.len() + req.ips.len());
    for name in &req.dns_names {
        let ia5 = name
            .as_str()
            .try_into()
            .map_err(|source| PkiError::DnsName {
                name: name.clone(),
                source,
            })?;
        sans.push(SanType::DnsName(ia5));
    }
    sans.extend(req.ips.iter().copied().map(SanType::IpAddress));
    params.subject_alt_names = sans;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serial = new_serial();
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    Ok((params, serial))
}

fn ca_params(
    common_name: &str,
    not_before: jiff::Timestamp,
    not_after: jiff::Timestamp,
) -> Result<CertificateParams, PkiError> {
    if not_after < not_before {
        return Err(PkiError::Validity {
            not_before,
            not_after,
        });
    }
    let mut params = CertificateParams::default();
    params.not_before = to_offset(not_before)?;
    params.not_after = to_offset(not_after)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    params.serial_number = Some(SerialNumber::from_slice(&new_serial()));
    Ok(params)
}

fn new_key() -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(PkiError::Key)
}

/// 16 random bytes with the top bit clear (a positive INTEGER) and the next bit set (no
/// leading zero byte to strip), so the encoded serial is always exactly 16 bytes.
fn new_serial() -> [u8; 16] {
    let mut serial = fastrand::u128(..).to_be_bytes();
    serial[0] = (serial[0] & 0x7f) | 0x40;
    serial
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn to_offset(ts: jiff::Timestamp) -> Result<time::OffsetDateTime, PkiError> {
    time::OffsetDateTime::from_unix_timestamp(ts.as_second()).map_err(|_| PkiError::Time(ts))
}

/// The first `-----BEGIN ...-----` to `-----END ...-----` block, with its line break.
fn first_pem_block(pem: &str) -> &str {
    let start = pem.find("-----BEGIN").unwrap_or(0);
    let rest = &pem[start..];
    let Some(end) = rest.find("-----END") else {
        return rest;
    };
    let label_start = end + "-----END".len();
    let Some(close) = rest[label_start..].find("-----") else {
        return rest;
    };
    let mut stop = label_start + close + "-----".len();
    if rest[stop..].starts_with("\r\n") {
        stop += 2;
    } else if rest[stop..].starts_with('\n') {
        stop += 1;
    }
    &rest[..stop]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use x509_parser::extensions::GeneralName;
    use x509_parser::pem::parse_x509_pem;

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    fn parse(pem: &str) -> (Vec<u8>, String) {
        let (_, p) = parse_x509_pem(pem.as_bytes()).unwrap();
        (p.contents, p.label)
    }

    #[test]
    fn leaf_carries_dates_sans_issuer_and_usages() {
        let ca = Ca::new("sandbox-ca").unwrap();
        let req = LeafRequest {
            common_name: Some("app-test.cloud.sealos.io".into()),
            dns_names: vec!["app-test.cloud.sealos.io".into(), "*.ns-alice.svc".into()],
            ips: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
            not_before: ts("2026-01-01T00:00:00Z"),
            not_after: ts("2026-04-01T00:00:00Z"),
        };
        let leaf = ca.issue(&req).unwrap();
        let (der, label) = parse(&leaf.cert_pem);
        assert_eq!(label, "CERTIFICATE");
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert_eq!(
            cert.validity().not_before.timestamp(),
            ts("2026-01-01T00:00:00Z").as_second()
        );
        assert_eq!(
            cert.validity().not_after.timestamp(),
            ts("2026-04-01T00:00:00Z").as_second()
        );
        assert_eq!(cert.issuer().to_string(), "CN=sandbox-ca");
        assert_eq!(cert.subject().to_string(), "CN=app-test.cloud.sealos.io");
        let san = cert.subject_alternative_name().unwrap().unwrap();
        let names: Vec<String> = san
            .value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => (*d).to_string(),
                GeneralName::IPAddress(b) => format!("ip:{}", b.len()),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                "app-test.cloud.sealos.io",
                "*.ns-alice.svc",
                "ip:4",
                "ip:16"
            ]
        );
        let ku = cert.key_usage().unwrap().unwrap().value;
        assert!(ku.digital_signature() && ku.key_encipherment() && !ku.key_cert_sign());
        assert!(
            cert.extended_key_usage()
                .unwrap()
                .unwrap()
                .value
                .server_auth
        );
        assert!(!cert.is_ca());
        assert_eq!(
            cert.raw_serial_as_string().replace(':', ""),
            leaf.serial_hex
        );
        assert_eq!(leaf.serial_hex.len(), 32);
        // Signed by the CA: its signature verifies with the CA's public key.
        let (ca_der, _) = parse(ca.cert_pem());
        let (_, ca_cert) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
        cert.verify_signature(Some(ca_cert.public_key())).unwrap();
        assert!(ca_cert.is_ca());
        assert!(leaf.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    }

    #[test]
    fn expired_certificates_can_be_issued() {
        let ca = Ca::new("sandbox-ca").unwrap();
        let req = LeafRequest::for_dns(
            &["old.example.com"],
            ts("2020-01-01T00:00:00Z"),
            ts("2020-02-01T00:00:00Z"),
        );
        let leaf = ca.issue(&req).unwrap();
        let (der, _) = parse(&leaf.cert_pem);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert!(!cert.validity().is_valid());
        assert_eq!(cert.subject().to_string(), "CN=old.example.com");
    }

    #[test]
    fn serials_differ_between_leaves() {
        let ca = Ca::new("sandbox-ca").unwrap();
        let req = LeafRequest::for_dns(
            &["a.example"],
            ts("2026-01-01T00:00:00Z"),
            ts("2027-01-01T00:00:00Z"),
        );
        let a = ca.issue(&req).unwrap();
        let b = ca.issue(&req).unwrap();
        assert_ne!(a.serial_hex, b.serial_hex);
        assert_ne!(a.key_pem, b.key_pem);
    }

    #[test]
    fn ca_round_trips_through_pem_and_still_signs() {
        let ca = Ca::new("round-trip-ca").unwrap();
        let again = Ca::from_pem(ca.cert_pem(), &ca.key_pem()).unwrap();
        assert_eq!(again.cert_pem(), ca.cert_pem());
        let req = LeafRequest::for_dns(
            &["b.example"],
            ts("2026-01-01T00:00:00Z"),
            ts("2027-01-01T00:00:00Z"),
        );
        let leaf = again.issue(&req).unwrap();
        let (der, _) = parse(&leaf.cert_pem);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert_eq!(cert.issuer().to_string(), "CN=round-trip-ca");
        let (ca_der, _) = parse(ca.cert_pem());
        let (_, ca_cert) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
        cert.verify_signature(Some(ca_cert.public_key())).unwrap();
    }

    #[test]
    fn from_pem_takes_the_first_certificate_of_a_chain() {
        let root = Ca::new("root").unwrap();
        let mid = root
            .issue_intermediate(
                "intermediate",
                ts("2026-01-01T00:00:00Z"),
                ts("2030-01-01T00:00:00Z"),
            )
            .unwrap();
        let chain = format!("{}{}", mid.cert_pem(), root.cert_pem());
        let loaded = Ca::from_pem(&chain, &mid.key_pem()).unwrap();
        assert_eq!(loaded.cert_pem(), mid.cert_pem());
        let (der, _) = parse(mid.cert_pem());
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert_eq!(cert.issuer().to_string(), "CN=root");
        assert!(cert.is_ca());
    }

    #[test]
    fn self_signed_leaf_and_csr() {
        let req = LeafRequest::for_dns(
            &["webhook.sealos-system.svc"],
            ts("2026-01-01T00:00:00Z"),
            ts("2027-01-01T00:00:00Z"),
        );
        let leaf = self_signed(&req).unwrap();
        let (der, _) = parse(&leaf.cert_pem);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert_eq!(cert.issuer(), cert.subject());
        cert.verify_signature(None).unwrap();
        let csr = csr_pem(&req, &leaf.key_pem).unwrap();
        let (_, p) = parse_x509_pem(csr.as_bytes()).unwrap();
        assert_eq!(p.label, "CERTIFICATE REQUEST");
        let (_, parsed) = <x509_parser::certification_request::X509CertificationRequest as x509_parser::prelude::FromDer<x509_parser::error::X509Error>>::from_der(&p.contents).unwrap();
        assert_eq!(
            parsed.certification_request_info.subject.to_string(),
            "CN=webhook.sealos-system.svc"
        );
        parsed.verify_signature().unwrap();
    }

    #[test]
    fn bad_input_is_refused() {
        let ca = Ca::new("sandbox-ca").unwrap();
        assert!(matches!(
            Ca::from_pem("garbage", "garbage"),
            Err(PkiError::CaKey(_))
        ));
        assert!(matches!(
            Ca::from_pem("garbage", &ca.key_pem()),
            Err(PkiError::CaCert(_))
        ));
        let backwards = LeafRequest::for_dns(
            &["c.example"],
            ts("2027-01-01T00:00:00Z"),
            ts("2026-01-01T00:00:00Z"),
        );
        assert!(matches!(
            ca.issue(&backwards),
            Err(PkiError::Validity { .. })
        ));
        let bad_name = LeafRequest::for_dns(
            &["bäd.example"],
            ts("2026-01-01T00:00:00Z"),
            ts("2027-01-01T00:00:00Z"),
        );
        assert!(matches!(ca.issue(&bad_name), Err(PkiError::DnsName { .. })));
    }
}
