//! The verdict on one certificate: expiry from the X.509 data (cross-checked with
//! `status.notAfter`), readiness, renewal, failing issuance and its backoff, the Secret's chain,
//! SANs and key. Pure: the caller fetches, passes `now`, and renders.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Secret;
use serde::Serialize;

use super::keys::{KeyCheck, check_key};
use super::x509::{CertInfo, check_links, parse_chain};
use crate::output::Severity;
use crate::resources::certmanager::Certificate;
use crate::resources::condition;

/// `--warn-days` and `--crit-days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Thresholds {
    pub warn_days: i64,
    pub crit_days: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            warn_days: 30,
            crit_days: 7,
        }
    }
}

/// The one-word verdict, ordered from best to worst (a sort puts the worst last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Warning,
    NotReady,
    Critical,
    Broken,
    Expired,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Warning => "WARNING",
            Verdict::NotReady => "NOT READY",
            Verdict::Critical => "CRITICAL",
            Verdict::Broken => "BROKEN",
            Verdict::Expired => "EXPIRED",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Verdict::Ok => Severity::Ok,
            Verdict::Warning => Severity::Warn,
            _ => Severity::Fail,
        }
    }
}

/// What was found, with a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    Expired,
    NotYetValid,
    ExpiringCritical,
    ExpiringSoon,
    NotReady,
    RenewalOverdue,
    IssuanceFailing,
    RenewalBackoff,
    StatusMismatch,
    SecretMissing,
    CertificateInvalid,
    ChainInvalid,
    KeyMissing,
    KeyMismatch,
    KeyUnreadable,
    SansMismatch,
}

impl Code {
    pub fn verdict(self) -> Verdict {
        match self {
            Code::Expired => Verdict::Expired,
            Code::NotYetValid
            | Code::SecretMissing
            | Code::CertificateInvalid
            | Code::ChainInvalid
            | Code::KeyMissing
            | Code::KeyMismatch
            | Code::KeyUnreadable
            | Code::SansMismatch => Verdict::Broken,
            Code::ExpiringCritical => Verdict::Critical,
            Code::NotReady => Verdict::NotReady,
            Code::ExpiringSoon
            | Code::RenewalOverdue
            | Code::IssuanceFailing
            | Code::RenewalBackoff
            | Code::StatusMismatch => Verdict::Warning,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
}

/// Where `not_after` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DateSource {
    /// The leaf certificate in the Secret's `tls.crt`.
    X509,
    /// `status.notAfter`, because the Secret gave no certificate.
    Status,
}

/// The judgement of one Certificate (or one TLS Secret with no Certificate behind it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub verdict: Verdict,
    pub severity: Severity,
    pub not_after: Option<Timestamp>,
    pub not_after_source: Option<DateSource>,
    /// Whole days to `not_after`, rounded to the nearest day (negative once expired).
    pub days_left: Option<i64>,
    pub renewal_time: Option<Timestamp>,
    /// While cert-manager backs off after failed issuance, a manual renew is ignored.
    pub backoff_until: Option<Timestamp>,
    pub key: Option<KeyCheck>,
    pub findings: Vec<Finding>,
    /// The decoded `tls.crt` (leaf first), when it could be read.
    #[serde(skip)]
    pub chain: Vec<CertInfo>,
}

impl Assessment {
    fn new() -> Assessment {
        Assessment {
            verdict: Verdict::Ok,
            severity: Severity::Ok,
            not_after: None,
            not_after_source: None,
            days_left: None,
            renewal_time: None,
            backoff_until: None,
            key: None,
            findings: Vec::new(),
            chain: Vec::new(),
        }
    }

    fn add(&mut self, code: Code, message: String) {
        self.findings.push(Finding {
            code,
            severity: code.verdict().severity(),
            message,
        });
    }

    /// Verdict from the worst finding; findings sorted worst first.
    fn finish(mut self) -> Assessment {
        self.findings
            .sort_by_key(|f| std::cmp::Reverse((f.code.verdict(), std::cmp::Reverse(f.code))));
        self.verdict = self
            .findings
            .iter()
            .map(|f| f.code.verdict())
            .max()
            .unwrap_or(Verdict::Ok);
        self.severity = self.verdict.severity();
        self
    }

    pub fn has(&self, code: Code) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }
}

/// cert-manager's re-issue backoff after failures: one hour after the first failed attempt,
/// doubling per further attempt, at most 32 hours (`shouldBackoffReissuingOnFailure`).
pub fn backoff_until(last_failure: Timestamp, failed_attempts: i64) -> Timestamp {
    let doublings = (failed_attempts.max(1) - 1).min(5) as i32;
    let delay = SignedDuration::from_hours(1i64 << doublings);
    last_failure.checked_add(delay).unwrap_or(last_failure)
}

fn parse_time(text: Option<&str>) -> Option<Timestamp> {
    text.and_then(|t| t.parse().ok())
}

fn secret_bytes<'a>(secret: &'a Secret, key: &str) -> Option<&'a [u8]> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.as_slice())
}

/// Days for display: rounded to the nearest whole day.
fn days(remaining: SignedDuration) -> i64 {
    (remaining.as_secs() + 43_200).div_euclid(86_400)
}

fn describe_days(remaining: SignedDuration) -> String {
    let secs = remaining.as_secs().abs();
    match (secs + 43_200) / 86_400 {
        _ if secs < 86_400 => format!("{}h", secs / 3600),
        1 => "1 day".to_string(),
        days => format!("{days} days"),
    }
}

/// Judges a Certificate and its Secret (`None`: the Secret does not exist).
pub fn assess_certificate(
    cert: &Certificate,
    secret: Option<&Secret>,
    now: Timestamp,
    thresholds: Thresholds,
) -> Assessment {
    let mut a = Assessment::new();
    let status = cert.status.clone().unwrap_or_default();
    let ready = condition(&status.conditions, "Ready");
    let is_ready = ready.is_some_and(|c| c.status == "True");
    if !is_ready {
        let why = ready
            .map(|c| {
                format!(
                    "Ready={} ({}): {}",
                    c.status,
                    c.reason.as_deref().unwrap_or("no reason"),
                    c.message.as_deref().unwrap_or("")
                )
            })
            .unwrap_or_else(|| "no Ready condition: cert-manager has not issued it yet".into());
        a.add(Code::NotReady, why.trim_end_matches([' ', ':']).to_string());
    }

    match secret {
        None => a.add(
            Code::SecretMissing,
            format!("Secret {:?} does not exist", cert.spec.secret_name),
        ),
        Some(secret) => {
            let mut hosts = cert.spec.dns_names.clone();
            if let Some(ips) = cert
                .spec
                .extra
                .get("ipAddresses")
                .and_then(|v| v.as_array())
            {
                hosts.extend(ips.iter().filter_map(|ip| ip.as_str().map(String::from)));
            }
            judge_secret(&mut a, secret, &hosts, now);
        }
    }

    let status_not_after = parse_time(status.not_after.as_deref());
    match (a.not_after, status_not_after) {
        // X.509 times have whole seconds and writers round differently: a minute is noise.
        (Some(x509), Some(reported))
            if x509.duration_since(reported).abs() > SignedDuration::from_mins(1) =>
        {
            a.add(
            Code::StatusMismatch,
            format!(
                "status.notAfter is {reported} but the certificate in the Secret expires {x509}: the status or the Secret is stale"
            ),
            )
        }
        (None, Some(reported)) => {
            a.not_after = Some(reported);
            a.not_after_source = Some(DateSource::Status);
        }
        _ => {}
    }
    judge_expiry(&mut a, now, thresholds, is_ready);

    a.renewal_time = parse_time(status.renewal_time.as_deref());
    if let Some(renewal) = a.renewal_time {
        // cert-manager renews within seconds of renewalTime; ten minutes is a generous margin.
        let overdue = now.duration_since(renewal);
        if overdue > SignedDuration::from_mins(10) && !a.has(Code::Expired) {
            a.add(
                Code::RenewalOverdue,
                format!(
                    "renewal time {renewal} passed {} ago without a renewal",
                    describe_days(overdue)
                ),
            );
        }
    }

    let attempts = status.failed_issuance_attempts.unwrap_or(0);
    let last_failure = parse_time(status.last_failure_time.as_deref());
    if attempts > 0 || last_failure.is_some() {
        let issuing = condition(&status.conditions, "Issuing");
        let detail = issuing
            .filter(|c| c.status == "False")
            .and_then(|c| c.message.clone())
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        let when = last_failure
            .map(|t| format!(", last at {t}"))
            .unwrap_or_default();
        a.add(
            Code::IssuanceFailing,
            format!(
                "issuance failed {attempts} {}{when}{detail}",
                if attempts == 1 { "time" } else { "times" }
            ),
        );
        if let Some(last) = last_failure {
            let until = backoff_until(last, attempts);
            if until > now {
                a.backoff_until = Some(until);
                a.add(
                    Code::RenewalBackoff,
                    format!(
                        "cert-manager backs off re-issuing until {until}; a manual renew before then is ignored"
                    ),
                );
            }
        }
    }
    a.finish()
}

/// Judges a TLS Secret that no Certificate manages (a Gateway's `credentialName`): its chain,
/// key, expiry, and that its SANs cover `hosts` (a bare `*` host is not checked).
pub fn assess_secret(
    secret: Option<&Secret>,
    name: &str,
    hosts: &[String],
    now: Timestamp,
    thresholds: Thresholds,
) -> Assessment {
    let mut a = Assessment::new();
    match secret {
        None => a.add(
            Code::SecretMissing,
            format!("Secret {name:?} does not exist"),
        ),
        Some(secret) => {
            let hosts: Vec<String> = hosts.iter().filter(|h| *h != "*").cloned().collect();
            judge_secret(&mut a, secret, &hosts, now);
        }
    }
    judge_expiry(&mut a, now, thresholds, false);
    a.finish()
}

fn judge_secret(a: &mut Assessment, secret: &Secret, hosts: &[String], now: Timestamp) {
    let crt = secret_bytes(secret, "tls.crt").unwrap_or_default();
    let chain = match parse_chain(crt) {
        Ok(chain) => chain,
        Err(why) => {
            a.add(Code::CertificateInvalid, format!("tls.crt {why}"));
            return;
        }
    };
    // A chain out of order, or a link whose signature fails, breaks TLS clients.
    let ca = parse_chain(secret_bytes(secret, "ca.crt").unwrap_or_default()).unwrap_or_default();
    let broken: Vec<String> = check_links(&chain, &ca)
        .iter()
        .enumerate()
        .filter(|(_, link)| link.is_problem())
        .map(|(i, link)| format!("#{}: {}", i + 1, link.describe()))
        .collect();
    if !broken.is_empty() {
        a.add(
            Code::ChainInvalid,
            format!("tls.crt chain is broken: {}", broken.join("; ")),
        );
    }
    let leaf = &chain[0];
    a.not_after = Some(leaf.not_after);
    a.not_after_source = Some(DateSource::X509);
    if leaf.not_before > now {
        a.add(
            Code::NotYetValid,
            format!("the certificate is not valid before {}", leaf.not_before),
        );
    }
    let uncovered: Vec<&str> = hosts
        .iter()
        .filter(|h| !leaf.covers(h))
        .map(String::as_str)
        .collect();
    if !uncovered.is_empty() {
        a.add(
            Code::SansMismatch,
            format!(
                "the certificate's SANs ({}) do not cover {}",
                leaf.dns_names.join(", "),
                uncovered.join(", ")
            ),
        );
    }
    let key = check_key(leaf, secret_bytes(secret, "tls.key"));
    match &key {
        KeyCheck::Matches => {}
        KeyCheck::Missing => a.add(Code::KeyMissing, "tls.key is missing or empty".into()),
        KeyCheck::Mismatch(why) => a.add(
            Code::KeyMismatch,
            format!("tls.key does not match the certificate: {why}"),
        ),
        KeyCheck::Unreadable(why) => a.add(
            Code::KeyUnreadable,
            format!("tls.key cannot be read: {why}"),
        ),
    }
    a.key = Some(key);
    a.chain = chain;
}

fn judge_expiry(a: &mut Assessment, now: Timestamp, t: Thresholds, ready: bool) {
    let Some(not_after) = a.not_after else {
        return;
    };
    a.days_left = Some(days_left(not_after, now));
    if let Some((code, message)) = expiry(not_after, now, t, ready) {
        a.add(code, message);
    }
}

/// Whole days from `now` to `not_after`, rounded to the nearest day (negative once expired):
/// the days every command of the suite prints for a certificate.
pub fn days_left(not_after: Timestamp, now: Timestamp) -> i64 {
    days(not_after.duration_since(now))
}

/// The expiry rule alone, for a date already known (a Certificate's `status.notAfter`, a TLS
/// Secret's leaf): expired, within `crit_days` or within `warn_days`, with its message; `None`
/// when none applies. `ready` notes a Certificate that cert-manager still calls Ready.
pub fn expiry(
    not_after: Timestamp,
    now: Timestamp,
    t: Thresholds,
    ready: bool,
) -> Option<(Code, String)> {
    let remaining = not_after.duration_since(now);
    let day = SignedDuration::from_hours(24);
    if remaining <= SignedDuration::ZERO {
        let although = if ready {
            " although cert-manager reports Ready=True"
        } else {
            ""
        };
        Some((
            Code::Expired,
            format!(
                "expired {} ago ({not_after}){although}",
                describe_days(remaining)
            ),
        ))
    } else if remaining < day * t.crit_days as i32 {
        Some((
            Code::ExpiringCritical,
            format!(
                "expires in {} ({not_after}), within {} days",
                describe_days(remaining),
                t.crit_days
            ),
        ))
    } else if remaining < day * t.warn_days as i32 {
        Some((
            Code::ExpiringSoon,
            format!(
                "expires in {} ({not_after}), within {} days",
                describe_days(remaining),
                t.warn_days
            ),
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::certs::x509::tests::{INTER, LEAF};
    use k8s_openapi::ByteString;
    use serde_json::json;

    #[test]
    fn days_round_to_the_nearest_and_one_is_singular() {
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let at = |secs| now.checked_add(SignedDuration::from_secs(secs)).unwrap();
        assert_eq!(days_left(at(7 * 86_400 - 60), now), 7);
        assert_eq!(days_left(at(7 * 86_400 + 43_200 - 60), now), 7);
        assert_eq!(days_left(at(7 * 86_400 + 43_200 + 60), now), 8);
        assert_eq!(days_left(at(-2 * 86_400), now), -2);
        assert_eq!(describe_days(SignedDuration::from_hours(35)), "1 day");
        assert_eq!(describe_days(SignedDuration::from_hours(36)), "2 days");
        assert_eq!(describe_days(SignedDuration::from_hours(60)), "3 days");
        assert_eq!(describe_days(SignedDuration::from_hours(5)), "5h");
    }

    const LEAF_KEY: &str = include_str!("testdata/leaf.key");

    fn secret(crt: &str, key: &str) -> Secret {
        let mut data = std::collections::BTreeMap::new();
        data.insert("tls.crt".into(), ByteString(crt.as_bytes().to_vec()));
        data.insert("tls.key".into(), ByteString(key.as_bytes().to_vec()));
        Secret {
            data: Some(data),
            ..Default::default()
        }
    }

    fn leaf_not_after() -> Timestamp {
        parse_chain(LEAF.as_bytes()).unwrap()[0].not_after
    }

    fn certificate(status: serde_json::Value, dns: &[&str]) -> Certificate {
        serde_json::from_value(json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "app", "namespace": "ns"},
            "spec": {"secretName": "app-tls", "dnsNames": dns,
                     "issuerRef": {"name": "ca", "kind": "ClusterIssuer"}},
            "status": status,
        }))
        .unwrap()
    }

    fn ready_status(not_after: Timestamp) -> serde_json::Value {
        json!({"conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}],
               "notAfter": not_after.to_string(), "revision": 2})
    }

    fn codes(a: &Assessment) -> Vec<Code> {
        a.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn a_healthy_certificate_is_ok_with_x509_dates() {
        let not_after = leaf_not_after();
        let now = not_after - SignedDuration::from_hours(24 * 100);
        let a = assess_certificate(
            &certificate(
                ready_status(not_after),
                &["app.example.com", "x.apps.example.com"],
            ),
            Some(&secret(&format!("{LEAF}{INTER}"), LEAF_KEY)),
            now,
            Thresholds::default(),
        );
        assert_eq!(codes(&a), []);
        assert_eq!(a.verdict, Verdict::Ok);
        assert_eq!(a.days_left, Some(100));
        assert_eq!(a.not_after_source, Some(DateSource::X509));
        assert_eq!(a.key, Some(KeyCheck::Matches));
        assert_eq!(a.chain.len(), 2);
    }

    #[test]
    fn expired_is_found_even_when_ready_and_status_disagrees() {
        let not_after = leaf_not_after();
        let now = not_after + SignedDuration::from_hours(24 * 3);
        // The status claims a later date: the X.509 data wins.
        let later = not_after + SignedDuration::from_hours(24 * 90);
        let a = assess_certificate(
            &certificate(ready_status(later), &["app.example.com"]),
            Some(&secret(LEAF, LEAF_KEY)),
            now,
            Thresholds::default(),
        );
        assert_eq!(a.verdict, Verdict::Expired);
        assert_eq!(a.severity, Severity::Fail);
        assert_eq!(a.days_left, Some(-3));
        assert_eq!(codes(&a), [Code::Expired, Code::StatusMismatch]);
        assert!(
            a.findings[0].message.contains("Ready=True"),
            "{:?}",
            a.findings
        );
    }

    #[test]
    fn thresholds_make_critical_and_warning() {
        let not_after = leaf_not_after();
        let cert = certificate(ready_status(not_after), &["app.example.com"]);
        let s = secret(LEAF, LEAF_KEY);
        let at = |days: i64| {
            not_after - SignedDuration::from_hours(24 * days) - SignedDuration::from_mins(5)
        };
        let t = Thresholds {
            warn_days: 30,
            crit_days: 7,
        };
        let verdict = |days| assess_certificate(&cert, Some(&s), at(days), t).verdict;
        assert_eq!(verdict(2), Verdict::Critical);
        assert_eq!(verdict(6), Verdict::Critical);
        assert_eq!(verdict(7), Verdict::Warning);
        assert_eq!(verdict(29), Verdict::Warning);
        assert_eq!(verdict(30), Verdict::Ok);
        let a = assess_certificate(&cert, Some(&s), at(2), t);
        assert_eq!(a.days_left, Some(2));
    }

    #[test]
    fn broken_secrets_are_named() {
        let not_after = leaf_not_after();
        let now = not_after - SignedDuration::from_hours(24 * 100);
        let t = Thresholds::default();
        let cert = certificate(
            ready_status(not_after),
            &["app.example.com", "other.example.com"],
        );
        let a = assess_certificate(&cert, Some(&secret(LEAF, LEAF_KEY)), now, t);
        assert_eq!(codes(&a), [Code::SansMismatch]);
        assert!(a.findings[0].message.contains("other.example.com"));

        let cert = certificate(ready_status(not_after), &["app.example.com"]);
        let wrong = include_str!("testdata/p256.key");
        let a = assess_certificate(&cert, Some(&secret(LEAF, wrong)), now, t);
        assert_eq!(codes(&a), [Code::KeyMismatch]);
        assert_eq!(a.verdict, Verdict::Broken);

        for bad in [
            "",
            "garbage",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ] {
            let a = assess_certificate(&cert, Some(&secret(bad, LEAF_KEY)), now, t);
            assert_eq!(codes(&a), [Code::CertificateInvalid], "{bad:?}");
            // The status date stands in for the unreadable certificate.
            assert_eq!(a.not_after_source, Some(DateSource::Status));
            assert_eq!(a.days_left, Some(100));
        }
        let a = assess_certificate(&cert, None, now, t);
        assert_eq!(codes(&a), [Code::SecretMissing]);
        // The leaf followed by a certificate that is not its issuer.
        let unrelated = include_str!("testdata/p256.pem");
        let a = assess_certificate(
            &cert,
            Some(&secret(&format!("{LEAF}{unrelated}"), LEAF_KEY)),
            now,
            t,
        );
        assert_eq!(codes(&a), [Code::ChainInvalid]);
        assert!(
            a.findings[0].message.contains("#1: out of order"),
            "{:?}",
            a.findings
        );
        let a = assess_certificate(&cert, Some(&secret(LEAF, "")), now, t);
        assert_eq!(codes(&a), [Code::KeyMissing]);
    }

    #[test]
    fn failing_issuance_backoff_and_overdue_renewal() {
        let not_after = leaf_not_after();
        let now = not_after - SignedDuration::from_hours(24 * 20);
        let mut status = ready_status(not_after);
        status["conditions"] = json!([
            {"type": "Issuing", "status": "False", "reason": "Failed", "message": "the CSR was denied"},
            {"type": "Ready", "status": "True", "reason": "Ready"},
        ]);
        status["failedIssuanceAttempts"] = json!(2);
        status["lastFailureTime"] = json!((now - SignedDuration::from_mins(25)).to_string());
        status["renewalTime"] = json!((now - SignedDuration::from_hours(24)).to_string());
        let a = assess_certificate(
            &certificate(status, &["app.example.com"]),
            Some(&secret(LEAF, LEAF_KEY)),
            now,
            Thresholds::default(),
        );
        assert_eq!(
            codes(&a),
            [
                Code::ExpiringSoon,
                Code::RenewalOverdue,
                Code::IssuanceFailing,
                Code::RenewalBackoff
            ]
        );
        assert!(a.findings[2].message.contains("the CSR was denied"));
        // Two failures: two hours from the last one.
        assert_eq!(
            a.backoff_until,
            Some(now - SignedDuration::from_mins(25) + SignedDuration::from_hours(2))
        );
        assert_eq!(a.verdict, Verdict::Warning);
    }

    #[test]
    fn not_ready_is_read_wherever_the_condition_stands() {
        let status = json!({"conditions": [
            {"type": "Issuing", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "DoesNotExist", "message": "Issuing certificate as Secret does not exist"}]});
        let a = assess_certificate(
            &certificate(status, &["app.example.com"]),
            None,
            Timestamp::now(),
            Thresholds::default(),
        );
        assert_eq!(a.verdict, Verdict::Broken);
        assert_eq!(codes(&a), [Code::SecretMissing, Code::NotReady]);
        assert!(a.findings[1].message.contains("DoesNotExist"));
        assert_eq!(a.days_left, None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let t = Timestamp::UNIX_EPOCH;
        assert_eq!(backoff_until(t, 1), t + SignedDuration::from_hours(1));
        assert_eq!(backoff_until(t, 0), t + SignedDuration::from_hours(1));
        assert_eq!(backoff_until(t, 3), t + SignedDuration::from_hours(4));
        assert_eq!(backoff_until(t, 40), t + SignedDuration::from_hours(32));
    }

    #[test]
    fn gateway_secrets_are_checked_against_hosts() {
        let not_after = leaf_not_after();
        let now = not_after - SignedDuration::from_hours(24 * 100);
        let hosts = vec![
            "app.example.com".to_string(),
            "*".into(),
            "a.apps.example.com".into(),
        ];
        let a = assess_secret(
            Some(&secret(LEAF, LEAF_KEY)),
            "gw",
            &hosts,
            now,
            Thresholds::default(),
        );
        assert_eq!(a.verdict, Verdict::Ok);
        let hosts = vec!["shop.example.org".to_string()];
        let a = assess_secret(
            Some(&secret(LEAF, LEAF_KEY)),
            "gw",
            &hosts,
            now,
            Thresholds::default(),
        );
        assert_eq!(codes(&a), [Code::SansMismatch]);
        let a = assess_secret(None, "gw", &hosts, now, Thresholds::default());
        assert_eq!(codes(&a), [Code::SecretMissing]);
    }
}
