//! Certificates: Ready, and days until `notAfter` against `--warn-days` / `--crit-days`. The same
//! expiry rule judges the gateways' TLS Secrets.

use sealos_shared::output::Severity;
use sealos_shared::resources::condition;

use super::collect::Snapshot;
use super::{Area, CheckArgs, Finding, ObjectRef};

/// The `notAfter` of the first certificate in a PEM bundle (the leaf).
pub fn leaf_not_after(pem: &[u8]) -> Result<jiff::Timestamp, String> {
    let (_, block) =
        x509_parser::pem::parse_x509_pem(pem).map_err(|e| format!("tls.crt is not PEM: {e}"))?;
    let cert = block
        .parse_x509()
        .map_err(|e| format!("tls.crt is not an X.509 certificate: {e}"))?;
    jiff::Timestamp::from_second(cert.validity().not_after.timestamp())
        .map_err(|e| format!("certificate notAfter out of range: {e}"))
}

/// Whole days left (negative once expired), rounded down.
pub fn days_left(not_after: jiff::Timestamp, now: jiff::Timestamp) -> i64 {
    (not_after.as_second() - now.as_second()).div_euclid(86_400)
}

/// FAIL when expired or within `--crit-days`, WARN within `--warn-days`, else OK.
pub fn expiry_finding(
    area: Area,
    object: ObjectRef,
    what: &str,
    not_after: jiff::Timestamp,
    now: jiff::Timestamp,
    args: &CheckArgs,
) -> Finding {
    let days = days_left(not_after, now);
    let date = not_after.strftime("%Y-%m-%d %H:%M UTC");
    let days_text = if days == 1 {
        "1 day".to_string()
    } else {
        format!("{days} days")
    };
    let (status, message) = if not_after <= now {
        (
            Severity::Fail,
            format!("{what} expired on {date}: renew it now"),
        )
    } else if days < args.crit_days {
        (
            Severity::Fail,
            format!(
                "{what} expires in {days_text} ({date}), within --crit-days {}",
                args.crit_days
            ),
        )
    } else if days < args.warn_days {
        (
            Severity::Warn,
            format!(
                "{what} expires in {days_text} ({date}), within --warn-days {}",
                args.warn_days
            ),
        )
    } else {
        (Severity::Ok, format!("{what} valid for {days} more days"))
    };
    Finding::new(area, status, object, message)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_down_and_go_negative() {
        let now: jiff::Timestamp = "2026-11-25T12:00:00Z".parse().unwrap_or_default();
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap_or_default();
        assert_eq!(days_left(at("2026-12-02T11:00:00Z"), now), 6);
        assert_eq!(days_left(at("2026-12-02T12:00:00Z"), now), 7);
        assert_eq!(days_left(at("2026-11-25T11:00:00Z"), now), -1);
    }
}
