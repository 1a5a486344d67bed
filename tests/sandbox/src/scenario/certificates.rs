//! The scenario's PKI and its cert-manager Certificates: each Certificate comes with the TLS
//! Secret cert-manager would have written (real X.509 signed by the issuer's CA, the chain in
//! `tls.crt`, the root in `ca.crt`) and the CertificateRequest of its latest revision, with
//! status dates that agree with the certificate.

use serde_json::{Value, json};

use super::ScenarioError;
use super::objects::{b64, labels, meta, rfc3339};
use crate::pki::{self, Ca, LeafRequest};

const DAY: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// The CAs behind the scenario's issuers.
pub(super) struct Pki {
    /// ClusterIssuer `sealos-ca`: Secret `cert-manager/sealos-root-ca`, from Certificate
    /// `sealos-root-ca` issued by ClusterIssuer `selfsigned`.
    pub root: Ca,
    pub root_validity: (jiff::Timestamp, jiff::Timestamp),
    /// Issuer `ns-alice/alice-ca`: an intermediate signed by the root (chains of two).
    pub alice: Ca,
    pub alice_validity: (jiff::Timestamp, jiff::Timestamp),
    /// Istio's self-signed mesh CA (`istio-system/istio-ca-secret`).
    pub mesh: Ca,
    pub now: jiff::Timestamp,
}

impl Pki {
    pub(super) fn new(now: jiff::Timestamp) -> Result<Pki, ScenarioError> {
        // Made when cert-manager was installed, shortly after the cluster.
        let installed = now - DAY * (super::platform::CLUSTER_AGE_DAYS - 10) as i32;
        let root_validity = (installed, installed + DAY * 3650);
        let root = Ca::with_validity("Sealos Root CA", root_validity.0, root_validity.1)?;
        let alice_validity = (now - DAY * 100, now - DAY * 100 + DAY * 1825);
        let alice = root.issue_intermediate("ns-alice CA", alice_validity.0, alice_validity.1)?;
        let mesh = Ca::with_validity("cluster.local", installed, installed + DAY * 3650)?;
        Ok(Pki {
            root,
            root_validity,
            alice,
            alice_validity,
            mesh,
            now,
        })
    }
}

/// Who signs a Certificate.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Signer {
    /// ClusterIssuer `sealos-ca` (the root).
    SealosCa,
    /// Issuer `alice-ca` in ns-alice (the intermediate).
    AliceCa,
    /// A `selfSigned` Issuer or ClusterIssuer of the given kind and name.
    SelfSigned(&'static str, &'static str),
}

impl Signer {
    fn issuer_ref(self) -> (&'static str, &'static str) {
        match self {
            Signer::SealosCa => ("ClusterIssuer", "sealos-ca"),
            Signer::AliceCa => ("Issuer", "alice-ca"),
            Signer::SelfSigned(kind, name) => (kind, name),
        }
    }
}

/// How the latest issuance went.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Issuance {
    /// Issued, Ready, nothing pending.
    Ready,
    /// The old certificate is still valid and Ready, but the last renewal failed: the
    /// `Issuing` condition is False and listed first (so `conditions[0]` is not Ready).
    RenewalFailing,
}

/// A TLS Certificate to put in the scenario.
pub(super) struct TlsCert<'a> {
    pub ns: &'a str,
    pub name: &'a str,
    pub secret_name: &'a str,
    pub dns_names: &'a [&'a str],
    pub signer: Signer,
    /// Days from `now` to notAfter (negative: expired).
    pub days_left: i64,
    pub duration_days: i64,
    pub revision: i64,
    pub issuance: Issuance,
    /// When the Certificate object was created (at or after its namespace).
    pub created: jiff::Timestamp,
}

fn go_duration(days: i64) -> String {
    format!("{}h0m0s", days * 24)
}

/// The Certificate, its TLS Secret and its CertificateRequest(s).
pub(super) fn tls_certificate(pki: &Pki, c: &TlsCert<'_>) -> Result<Vec<Value>, ScenarioError> {
    let not_after = pki.now + DAY * c.days_left as i32;
    let not_before = not_after - DAY * c.duration_days as i32;
    let req = LeafRequest::for_dns(c.dns_names, not_before, not_after);
    let (leaf, chain, ca_pem) = match c.signer {
        Signer::SealosCa => (
            pki.root.issue(&req)?,
            String::new(),
            pki.root.cert_pem().to_string(),
        ),
        Signer::AliceCa => (
            pki.alice.issue(&req)?,
            pki.alice.cert_pem().to_string(),
            pki.root.cert_pem().to_string(),
        ),
        Signer::SelfSigned(..) => {
            let leaf = pki::self_signed(&req)?;
            let own = leaf.cert_pem.clone();
            (leaf, String::new(), own)
        }
    };
    let tls_crt = format!("{}{chain}", leaf.cert_pem);
    let renew_before_days = c.duration_days / 3;
    let renewal = not_after - DAY * renew_before_days as i32;
    let (issuer_kind, issuer_name) = c.signer.issuer_ref();
    let common_name = c.dns_names.first().copied().unwrap_or(c.name);
    let usages = json!(["digital signature", "key encipherment", "server auth"]);
    let issuer_ref =
        json!({ "name": issuer_name, "kind": issuer_kind, "group": "cert-manager.io" });

    let created = c.created;
    let mut cert_meta = meta(c.name, Some(c.ns), json!({}), created);
    cert_meta["generation"] = json!(1);
    let ready = json!({
        "type": "Ready", "status": "True", "reason": "Ready",
        "message": "Certificate is up to date and has not expired",
        "lastTransitionTime": rfc3339(not_before), "observedGeneration": 1,
    });
    let mut status = json!({
        "notBefore": rfc3339(not_before),
        "notAfter": rfc3339(not_after),
        "renewalTime": rfc3339(renewal),
        "revision": c.revision,
        "conditions": [ready],
    });
    let failed_at = pki.now - jiff::SignedDuration::from_mins(25);
    if c.issuance == Issuance::RenewalFailing {
        status["conditions"] = json!([
            {
                "type": "Issuing", "status": "False", "reason": "Failed",
                "message": format!(
                    "The certificate request has failed to complete and will be retried: The CertificateRequest \"{}-{}\" is invalid: spec.request: the CSR's DNS names do not match the issuer's policy",
                    c.name, c.revision + 1
                ),
                "lastTransitionTime": rfc3339(failed_at), "observedGeneration": 1,
            },
            status["conditions"][0].clone(),
        ]);
        status["failedIssuanceAttempts"] = json!(2);
        status["lastFailureTime"] = json!(rfc3339(failed_at));
    }
    let certificate = json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": cert_meta,
        "spec": {
            "secretName": c.secret_name,
            "commonName": common_name,
            "dnsNames": c.dns_names,
            "duration": go_duration(c.duration_days),
            "renewBefore": go_duration(renew_before_days),
            "issuerRef": issuer_ref,
            "privateKey": { "algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always" },
            "usages": usages,
        },
        "status": status,
    });

    let mut secret_meta = meta(
        c.secret_name,
        Some(c.ns),
        labels(&[("controller.cert-manager.io/fao", "true")]),
        created,
    );
    secret_meta["annotations"] = json!({
        "cert-manager.io/alt-names": c.dns_names.join(","),
        "cert-manager.io/certificate-name": c.name,
        "cert-manager.io/common-name": common_name,
        "cert-manager.io/ip-sans": "",
        "cert-manager.io/issuer-group": "cert-manager.io",
        "cert-manager.io/issuer-kind": issuer_kind,
        "cert-manager.io/issuer-name": issuer_name,
        "cert-manager.io/uri-sans": "",
    });
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": secret_meta,
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": b64(tls_crt.as_bytes()),
            "tls.key": b64(leaf.key_pem.as_bytes()),
            "ca.crt": b64(ca_pem.as_bytes()),
        },
    });

    let csr = pki::csr_pem(&req, &leaf.key_pem)?;
    let issued = certificate_request(
        c,
        c.revision,
        &issuer_ref,
        &usages,
        &csr,
        not_before,
        Some((&tls_crt, &ca_pem)),
    );
    let mut out = vec![certificate, secret, issued];
    if c.issuance == Issuance::RenewalFailing {
        out.push(certificate_request(
            c,
            c.revision + 1,
            &issuer_ref,
            &usages,
            &csr,
            failed_at,
            None,
        ));
    }
    Ok(out)
}

/// A CertificateRequest for one revision: issued (with the certificate) or failed.
fn certificate_request(
    c: &TlsCert<'_>,
    revision: i64,
    issuer_ref: &Value,
    usages: &Value,
    csr_pem: &str,
    at: jiff::Timestamp,
    issued: Option<(&str, &str)>,
) -> Value {
    let mut m = meta(&format!("{}-{revision}", c.name), Some(c.ns), json!({}), at);
    m["annotations"] = json!({
        "cert-manager.io/certificate-name": c.name,
        "cert-manager.io/certificate-revision": revision.to_string(),
        "cert-manager.io/private-key-secret-name": format!("{}-pk", c.name),
    });
    m["generation"] = json!(1);
    let at = rfc3339(at);
    let approved = json!({
        "type": "Approved", "status": "True", "reason": "cert-manager.io",
        "message": "Certificate request has been approved by cert-manager.io", "lastTransitionTime": at,
    });
    let status = match issued {
        Some((cert, ca)) => json!({
            "conditions": [approved, {
                "type": "Ready", "status": "True", "reason": "Issued",
                "message": "Certificate fetched from issuer successfully", "lastTransitionTime": at,
            }],
            "certificate": b64(cert.as_bytes()),
            "ca": b64(ca.as_bytes()),
        }),
        None => json!({
            "conditions": [approved, {
                "type": "Ready", "status": "False", "reason": "Failed",
                "message": "the CSR's DNS names do not match the issuer's policy", "lastTransitionTime": at,
            }],
            "failureTime": at,
        }),
    };
    json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": m,
        "spec": {
            "issuerRef": issuer_ref,
            "request": b64(csr_pem.as_bytes()),
            "duration": go_duration(c.duration_days),
            "usages": usages,
            "username": "system:serviceaccount:cert-manager:cert-manager",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:cert-manager", "system:authenticated"],
        },
        "status": status,
    })
}

/// A CA Certificate (isCA) whose Secret, named like it, holds an existing CA's key pair.
pub(super) fn ca_certificate(
    ns: &str,
    name: &str,
    common_name: &str,
    ca: &Ca,
    root_pem: &str,
    validity: (jiff::Timestamp, jiff::Timestamp),
    issuer: (&str, &str),
) -> Vec<Value> {
    let (not_before, not_after) = validity;
    let duration = not_after.duration_since(not_before);
    let hours = duration.as_hours();
    let renewal = not_after - duration / 3;
    let mut m = meta(name, Some(ns), json!({}), not_before);
    m["generation"] = json!(1);
    let (issuer_kind, issuer_name) = issuer;
    let certificate = json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": m,
        "spec": {
            "isCA": true,
            "commonName": common_name,
            "secretName": name,
            "duration": format!("{hours}h0m0s"),
            "privateKey": { "algorithm": "ECDSA", "size": 256 },
            "issuerRef": { "name": issuer_name, "kind": issuer_kind, "group": "cert-manager.io" },
        },
        "status": {
            "notBefore": rfc3339(not_before),
            "notAfter": rfc3339(not_after),
            "renewalTime": rfc3339(renewal),
            "revision": 1,
            "conditions": [{
                "type": "Ready", "status": "True", "reason": "Ready",
                "message": "Certificate is up to date and has not expired",
                "lastTransitionTime": rfc3339(not_before), "observedGeneration": 1,
            }],
        },
    });
    let mut sm = meta(
        name,
        Some(ns),
        labels(&[("controller.cert-manager.io/fao", "true")]),
        not_before,
    );
    sm["annotations"] = json!({
        "cert-manager.io/alt-names": "",
        "cert-manager.io/certificate-name": name,
        "cert-manager.io/common-name": common_name,
        "cert-manager.io/ip-sans": "",
        "cert-manager.io/issuer-group": "cert-manager.io",
        "cert-manager.io/issuer-kind": issuer_kind,
        "cert-manager.io/issuer-name": issuer_name,
        "cert-manager.io/uri-sans": "",
    });
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": sm,
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": b64(ca.cert_pem().as_bytes()),
            "tls.key": b64(ca.key_pem().as_bytes()),
            "ca.crt": b64(root_pem.as_bytes()),
        },
    });
    vec![certificate, secret]
}
