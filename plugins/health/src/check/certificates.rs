//! Certificates: Ready, and days until `notAfter` against `--warn-days` / `--crit-days`. The same
//! expiry rule judges the gateways' TLS Secrets.

use sealos_shared::certs::{self, Thresholds, x509::parse_chain};
use sealos_shared::output::Severity;
use sealos_shared::resources::condition;

use super::collect::Snapshot;
use super::{Area, CheckArgs, Finding, ObjectRef};

/// The `notAfter` of the first certificate in a PEM bundle (the leaf).
pub fn leaf_not_after(pem: &[u8]) -> Result<jiff::Timestamp, String> {
    let chain = parse_chain(pem).map_err(|why| format!("tls.crt {why}"))?;
    chain
        .first()
        .map(|leaf| leaf.not_after)
        .ok_or_else(|| "tls.crt holds no certificate".to_string())
}

/// FAIL when expired or within `--crit-days`, WARN within `--warn-days`, else OK: the rule and
/// the days of `sealos_shared::certs`, so `health` and `cert check` never disagree.
pub fn expiry_finding(
    area: Area,
    object: ObjectRef,
    what: &str,
    not_after: jiff::Timestamp,
    now: jiff::Timestamp,
    args: &CheckArgs,
) -> Finding {
    let thresholds = Thresholds {
        warn_days: args.warn_days,
        crit_days: args.crit_days,
    };
    match certs::expiry(not_after, now, thresholds, false) {
        Some((code, message)) => Finding::new(
            area,
            code.verdict().severity(),
            object,
            format!("{what} {message}"),
        ),
        None => Finding::new(
            area,
            Severity::Ok,
            object,
            format!(
                "{what} valid for {} more days",
                certs::days_left(not_after, now)
            ),
        ),
    }
}

pub fn check(snapshot: &Snapshot, args: &CheckArgs, now: jiff::Timestamp) -> Vec<Finding> {
    let certificates = snapshot.certificates.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    for cert in certificates {
        let ns = cert.metadata.namespace.as_deref();
        let name = cert.metadata.name.as_deref().unwrap_or("");
        let object = ObjectRef::new("Certificate", ns, name);
        let status = cert.status.as_ref();
        let ready = status.and_then(|s| condition(&s.conditions, "Ready"));
        match ready {
            Some(c) if c.status == "True" => {}
            Some(c) => out.push(Finding::new(
                Area::Certificates,
                Severity::Fail,
                object.clone(),
                format!(
                    "not Ready ({}): {}",
                    c.reason.as_deref().unwrap_or("no reason"),
                    c.message.as_deref().unwrap_or("no message")
                ),
            )),
            None => out.push(Finding::new(
                Area::Certificates,
                Severity::Fail,
                object.clone(),
                "no Ready condition: cert-manager has not issued it",
            )),
        }
        match status.and_then(|s| s.not_after.as_deref()) {
            Some(text) => match text.parse::<jiff::Timestamp>() {
                Ok(not_after) => {
                    let f = expiry_finding(
                        Area::Certificates,
                        object,
                        "certificate",
                        not_after,
                        now,
                        args,
                    );
                    if f.status != Severity::Ok {
                        out.push(f);
                    }
                }
                Err(e) => out.push(Finding::new(
                    Area::Certificates,
                    Severity::Warn,
                    object,
                    format!("status.notAfter {text:?} is not a time: {e}"),
                )),
            },
            None if ready.is_some_and(|c| c.status == "True") => out.push(Finding::new(
                Area::Certificates,
                Severity::Warn,
                object,
                "Ready but no status.notAfter: expiry unknown",
            )),
            None => {}
        }
    }
    if out.is_empty() {
        out.push(Finding::new(
            Area::Certificates,
            Severity::Ok,
            ObjectRef::new("Certificate", None, "*"),
            format!(
                "all {} Certificates Ready, none expiring within {} days",
                certificates.len(),
                args.warn_days
            ),
        ));
    }
    out
}
