//! `inspect`: a Certificate's (or a TLS Secret's) decoded chain, with order and signatures,
//! whether the key matches, the Certificate's status and its latest CertificateRequest.

use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use sealos_shared::certs::x509::parse_chain;
use sealos_shared::certs::{
    Assessment, CertInfo, Finding, KeyCheck, Link, Thresholds, Verdict, assess_certificate,
    assess_secret, check_links,
};
use sealos_shared::connection::Kube;
use sealos_shared::list;
use sealos_shared::output::{Format, Out, Severity};
use sealos_shared::resources::Condition;
use sealos_shared::resources::certmanager::{Certificate, CertificateRequest};
use sealos_shared::resources::condition;
use sealos_shared::retry::{self, Backoff};
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;

use crate::cluster;

#[derive(clap::Args, Debug, Clone)]
pub struct InspectArgs {
    /// The Certificate to inspect, in the namespace (-n): NAME, certificate/NAME, or
    /// secret/NAME for a TLS Secret.
    #[arg(value_name = "NAME", required_unless_present = "secret")]
    pub name: Option<String>,
    /// Inspect a TLS Secret instead (a Gateway's credentialName, say).
    #[arg(long, value_name = "NAME", conflicts_with = "name")]
    pub secret: Option<String>,
    /// Output format (wide is the same as table here).
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

impl InspectArgs {
    /// kubectl's `TYPE/NAME`: `secret/x` is `--secret x`; a wrong kind is refused (exit 2).
    pub fn take_input(&mut self) -> Result<()> {
        use sealos_shared::input::{CERTIFICATE, SECRET, parse_word};
        if let Some(word) = self.name.take() {
            let named = parse_word(&word, &[&CERTIFICATE, &SECRET])?;
            if named.kind == &SECRET {
                self.secret = Some(named.name);
            } else {
                self.name = Some(named.name);
            }
        }
        Ok(())
    }
}

/// `-o json`: the documented shape (README, "Cert").
#[derive(Debug, Clone, Serialize)]
pub struct InspectReport {
    pub namespace: String,
    pub secret: String,
    pub secret_found: bool,
    pub certificate: Option<CertificateView>,
    pub latest_request: Option<RequestView>,
    /// `tls.crt`, leaf first, each with how it links to the next.
    pub chain: Vec<ChainEntry>,
    /// Why `tls.crt` gave no chain (empty, DER, garbage...).
    pub chain_error: Option<String>,
    /// Subjects of the certificates in `ca.crt`.
    pub ca: Vec<String>,
    pub key: Option<KeyCheck>,
    pub verdict: Verdict,
    pub severity: Severity,
    pub days_left: Option<i64>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CertificateView {
    pub name: String,
    pub issuer: String,
    pub dns_names: Vec<String>,
    pub revision: Option<i64>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub renewal_time: Option<String>,
    pub failed_issuance_attempts: Option<i64>,
    pub last_failure_time: Option<String>,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    pub name: String,
    pub revision: Option<i64>,
    pub created: Option<String>,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChainEntry {
    /// 1 for the leaf.
    pub position: usize,
    #[serde(flatten)]
    pub cert: CertInfo,
    pub days_left: i64,
    pub link: Link,
}

pub async fn run(kube: &Kube, args: &InspectArgs, out: &mut Out) -> Result<Exit> {
    if kube.all_namespaces {
        return Err(Error::usage("inspect takes one namespace (-n), not -A"));
    }
    let report = collect(kube, args, Timestamp::now()).await?;
    render(&report, out)?;
    Ok(Exit::problem_if(report.severity == Severity::Fail))
}

pub async fn collect(kube: &Kube, args: &InspectArgs, now: Timestamp) -> Result<InspectReport> {
    let ns = kube.namespace.clone();
    let certs: Api<Certificate> = Api::namespaced(kube.client.clone(), &ns);
    let certificate = match (&args.name, &args.secret) {
        (Some(name), _) => Some(
            retry::read(Backoff::default(), || certs.get(name))
                .await
                .map_err(|source| Error::Kube {
                    context: format!("get certificate {name:?} in {ns:?}"),
                    source,
                })?,
        ),
        // The Certificate that writes this Secret, if any.
        (None, Some(secret)) => list::list_all(
            &certs,
            &ListParams::default(),
            "certificates.cert-manager.io",
        )
        .await?
        .into_iter()
        .find(|c| &c.spec.secret_name == secret),
        (None, None) => return Err(Error::usage("name a certificate, or give --secret NAME")),
    };
    let secret_name = match (&certificate, &args.secret) {
        (Some(cert), _) => cert.spec.secret_name.clone(),
        (None, Some(secret)) => secret.clone(),
        (None, None) => String::new(),
    };
    let secret = cluster::secret(&kube.client, &ns, &secret_name).await?;
    if certificate.is_none() && secret.is_none() {
        return Err(Error::failed(format!(
            "secret {secret_name:?} not found in {ns:?}, and no Certificate writes it"
        )));
    }
    let request: Option<CertificateRequest> = match &certificate {
        Some(cert) => cluster::latest_request(&kube.client, cert).await?,
        None => None,
    };

    let thresholds = Thresholds::default();
    let assessment: Assessment = match &certificate {
        Some(cert) => assess_certificate(cert, secret.as_ref(), now, thresholds),
        None => assess_secret(secret.as_ref(), &secret_name, &[], now, thresholds),
    };
    let data = |key: &str| {
        secret
            .as_ref()
            .and_then(|s| s.data.as_ref())
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone())
            .unwrap_or_default()
    };
    let ca = parse_chain(&data("ca.crt")).unwrap_or_default();
    let chain_error = match (&secret, parse_chain(&data("tls.crt"))) {
        (Some(_), Err(why)) => Some(format!("tls.crt {why}")),
        _ => None,
    };
    let links = check_links(&assessment.chain, &ca);
    let chain = assessment
        .chain
        .iter()
        .zip(links)
        .enumerate()
        .map(|(i, (cert, link))| ChainEntry {
            position: i + 1,
            days_left: (cert.not_after.as_second() - now.as_second() + 43_200).div_euclid(86_400),
            cert: cert.clone(),
            link,
        })
        .collect();

    Ok(InspectReport {
        namespace: ns,
        secret: secret_name,
        secret_found: secret.is_some(),
        certificate: certificate.as_ref().map(view),
        latest_request: request.as_ref().map(request_view),
        chain,
        chain_error,
        ca: ca.into_iter().map(|c| c.subject).collect(),
        key: assessment.key.clone(),
        verdict: assessment.verdict,
        severity: assessment.severity,
        days_left: assessment.days_left,
        findings: assessment.findings,
    })
}

fn view(cert: &Certificate) -> CertificateView {
    let status = cert.status.clone().unwrap_or_default();
    let issuer = &cert.spec.issuer_ref;
    CertificateView {
        name: cert.name_any(),
        issuer: format!(
            "{}/{}",
            issuer.kind.as_deref().unwrap_or("Issuer"),
            issuer.name
        ),
        dns_names: cert.spec.dns_names.clone(),
        revision: status.revision,
        not_before: status.not_before,
        not_after: status.not_after,
        renewal_time: status.renewal_time,
        failed_issuance_attempts: status.failed_issuance_attempts,
        last_failure_time: status.last_failure_time,
        conditions: status.conditions,
    }
}

fn request_view(request: &CertificateRequest) -> RequestView {
    RequestView {
        name: request.name_any(),
        revision: request
            .annotations()
            .get("cert-manager.io/certificate-revision")
            .and_then(|r| r.parse().ok()),
        created: request.creation_timestamp().map(|t| t.0.to_string()),
        conditions: request
            .status
            .as_ref()
            .map(|s| s.conditions.clone())
            .unwrap_or_default(),
    }
}

fn describe_condition(c: &Condition) -> String {
    let mut text = c.status.clone();
    if let Some(reason) = c.reason.as_deref().filter(|r| !r.is_empty()) {
        text.push_str(&format!(" ({reason})"));
    }
    if let Some(message) = c.message.as_deref().filter(|m| !m.is_empty()) {
        text.push_str(&format!(": {message}"));
    }
    text
}

pub fn render(report: &InspectReport, out: &mut Out) -> Result<()> {
    if out.format.is_machine() {
        return out.data(report);
    }
    let theme = out.theme;
    let mut lines: Vec<String> = Vec::new();
    let field = |label: &str, value: &str| format!("  {:<17}{value}", format!("{label}:"));
    if let Some(cert) = &report.certificate {
        lines.push(theme.bold(&format!("Certificate {}/{}", report.namespace, cert.name)));
        lines.push(field("Issuer", &cert.issuer));
        lines.push(field("DNS names", &cert.dns_names.join(", ")));
        for type_ in ["Ready", "Issuing"] {
            if let Some(c) = condition(&cert.conditions, type_) {
                lines.push(field(type_, &describe_condition(c)));
            }
        }
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        lines.push(field(
            "Revision",
            &cert
                .revision
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into()),
        ));
        lines.push(field(
            "Status validity",
            &format!("{} to {}", dash(&cert.not_before), dash(&cert.not_after)),
        ));
        lines.push(field("Renewal time", &dash(&cert.renewal_time)));
        if let Some(attempts) = cert.failed_issuance_attempts {
            lines.push(field(
                "Failed issuance",
                &format!(
                    "{attempts} {}, last at {}",
                    if attempts == 1 { "attempt" } else { "attempts" },
                    dash(&cert.last_failure_time)
                ),
            ));
        }
        match &report.latest_request {
            Some(r) => {
                let ready = condition(&r.conditions, "Ready")
                    .map(describe_condition)
                    .unwrap_or_else(|| "no Ready condition".into());
                let revision = r
                    .revision
                    .map(|v| format!(" (revision {v})"))
                    .unwrap_or_default();
                lines.push(field(
                    "Latest request",
                    &format!("{}{revision}: {ready}", r.name),
                ));
            }
            None => lines.push(field("Latest request", "none")),
        }
        lines.push(String::new());
    }
    let found = if report.secret_found {
        ""
    } else {
        " (not found)"
    };
    lines.push(theme.bold(&format!(
        "Secret {}/{}{found}",
        report.namespace, report.secret
    )));
    if let Some(error) = &report.chain_error {
        lines.push(field("tls.crt", &theme.paint(error, Severity::Fail)));
    }
    for entry in &report.chain {
        let c = &entry.cert;
        let role = if entry.position == 1 {
            "leaf"
        } else if c.is_ca {
            "CA"
        } else {
            "certificate"
        };
        lines.push(format!("  #{} {role}: {}", entry.position, c.subject));
        lines.push(field("  Issuer", &c.issuer));
        lines.push(field("  Serial", &c.serial));
        lines.push(field(
            "  Validity",
            &format!(
                "{} to {} ({} days left)",
                c.not_before, c.not_after, entry.days_left
            ),
        ));
        let mut sans: Vec<String> = c.dns_names.iter().map(|d| format!("DNS:{d}")).collect();
        sans.extend(c.ip_addresses.iter().map(|ip| format!("IP:{ip}")));
        if !sans.is_empty() {
            lines.push(field("  SANs", &sans.join(", ")));
        }
        lines.push(field("  Public key", &c.public_key));
        let mut usages = c.key_usages.join(", ");
        if !c.ext_key_usages.is_empty() {
            usages.push_str(&format!("; {}", c.ext_key_usages.join(", ")));
        }
        lines.push(field("  Key usages", &usages));
        let severity = if entry.link.is_problem() {
            Severity::Fail
        } else {
            Severity::Ok
        };
        lines.push(field(
            "  Signature",
            &format!(
                "{}, {}",
                c.signature_algorithm,
                theme.paint(&entry.link.describe(), severity)
            ),
        ));
    }
    if !report.ca.is_empty() {
        lines.push(field("ca.crt", &report.ca.join(", ")));
    }
    if let Some(key) = &report.key {
        let text = match key {
            KeyCheck::Matches => theme.paint("matches the leaf certificate", Severity::Ok),
            KeyCheck::Missing => theme.paint("missing", Severity::Fail),
            KeyCheck::Mismatch(why) => {
                theme.paint(&format!("does not match: {why}"), Severity::Fail)
            }
            KeyCheck::Unreadable(why) => theme.paint(&format!("unreadable: {why}"), Severity::Fail),
        };
        lines.push(field("Private key", &text));
    }
    lines.push(String::new());
    lines.push(format!(
        "Verdict: {}",
        theme.paint(report.verdict.label(), report.severity)
    ));
    for f in &report.findings {
        lines.push(format!("  {} {}", theme.severity(f.severity), f.message));
    }
    for line in lines {
        out.line(&line)?;
    }
    Ok(())
}
