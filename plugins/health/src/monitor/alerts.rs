//! From a traffic report to alerts: which are bad now, and which the report cannot judge.
//!
//! An alert's key is `SIGNAL/SCOPE` (`error-rate/overall`, `latency/sealos-system/api`). A scope
//! that stopped sending traffic, or vanished from the result (its series went stale), has not
//! recovered: its alerts stay firing until the signal is measured good again. The scope's own
//! no-data state is judged by `--on-no-data` as before (`no-data/SCOPE`).

use sealos_shared::alert::{Alert, Urgency};
use sealos_shared::traffic::{ScopeReport, SignalKind, TrafficReport, Verdict};

/// The key of the monitor's own alert.
pub const BLIND_KEY: &str = "prometheus";

/// The alerts a report asks for: every finding judged `alert`.
pub fn alerts_of(report: &TrafficReport) -> Vec<Alert> {
    scopes(report)
        .flat_map(|scope| {
            scope
                .findings
                .iter()
                .filter(|f| f.verdict == Verdict::Alert)
                .map(move |f| {
                    let (title, urgency) = match f.signal {
                        SignalKind::ErrorRate => ("High error rate", Urgency::Critical),
                        SignalKind::Latency => ("High latency", Urgency::Warning),
                        SignalKind::NoData => ("No traffic data", Urgency::Warning),
                    };
                    Alert::firing(
                        &format!("{}/{}", f.signal.as_str(), scope.scope),
                        title,
                        &f.message,
                        urgency,
                    )
                })
        })
        .collect()
}

/// Whether the report measured the signal the alert `key` is about. Keys of another form (the
/// monitor's own, or from an older state) count as measured.
pub fn measured(report: &TrafficReport, key: &str) -> bool {
    let Some((signal, scope)) = key.split_once('/') else {
        return true;
    };
    let Some(scope) = scopes(report).find(|s| s.scope == scope) else {
        // Gone from the result: no data, never "resolved".
        return false;
    };
    match signal {
        "error-rate" => scope.error_rate.is_some(),
        "latency" => scope.p95_ms.is_some(),
        _ => true,
    }
}

fn scopes(report: &TrafficReport) -> impl Iterator<Item = &ScopeReport> {
    std::iter::once(&report.overall).chain(&report.services)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealos_shared::traffic::{self, NoDataPolicy, TrafficSpec};

    fn report(services: Vec<ScopeReport>, spec: &TrafficSpec) -> TrafficReport {
        let overall = traffic::judge(spec, "overall".into(), Some(100.0), Some(20.0), Some(900.0));
        TrafficReport {
            window: "5m".into(),
            max_error_rate: 0.05,
            max_p95_ms: 500.0,
            min_requests: 10.0,
            verdict: overall.verdict,
            overall,
            services,
        }
    }

    #[test]
    fn alerts_follow_findings() {
        let spec = TrafficSpec {
            min_requests: 10.0,
            ..TrafficSpec::default()
        };
        let alerts = alerts_of(&report(vec![], &spec));
        let keys: Vec<&str> = alerts.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["error-rate/overall", "latency/overall"]);
        assert_eq!(alerts[0].urgency, Urgency::Critical);
        assert_eq!(alerts[1].title, "High latency");
    }

    #[test]
    fn a_quiet_or_vanished_service_is_not_measured() {
        let spec = TrafficSpec {
            min_requests: 10.0,
            on_no_data: NoDataPolicy::Alert,
            ..TrafficSpec::default()
        };
        let quiet = traffic::judge(&spec, "ns/quiet".into(), Some(0.0), None, None);
        let r = report(vec![quiet], &spec);
        assert!(measured(&r, "error-rate/overall"));
        assert!(measured(&r, "latency/overall"));
        assert!(!measured(&r, "error-rate/ns/quiet"));
        assert!(!measured(&r, "latency/ns/quiet"));
        assert!(measured(&r, "no-data/ns/quiet"));
        assert!(!measured(&r, "error-rate/ns/gone"));
        assert!(!measured(&r, "no-data/ns/gone"));
        assert!(measured(&r, BLIND_KEY));
        // --on-no-data alert: the quiet service's own no-data alert fires.
        assert!(alerts_of(&r).iter().any(|a| a.key == "no-data/ns/quiet"));
    }
}
