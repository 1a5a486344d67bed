//! The guide's two traffic signals, judged: the 5xx ratio of `istio_requests_total` and the P95
//! of `istio_request_duration_milliseconds_bucket` over a window, overall and per destination
//! service. The health monitor and the rollout plan's gates both call [`analyse`].
//!
//! "No traffic" (an empty result, NaN, a zero denominator, or fewer requests than the floor) is
//! its own state with its own policy: it is never silently a 0% error rate.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::ValueEnum;
use serde::Serialize;

use crate::prometheus::{PromError, Prometheus, QueryResult, promql_duration, quote};

/// What to make of a scope with no (or too little) traffic.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoDataPolicy {
    /// No traffic is fine (a quiet service).
    Ok,
    /// Report it, do not alert.
    #[default]
    Warn,
    /// Treat it as bad: alert (a plan step with no traffic cannot be judged).
    Alert,
}

/// A judgement, best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warn,
    Alert,
}

/// What is measured and against what.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficSpec {
    pub window: Duration,
    /// Label matchers every query carries, e.g. `destination_service_namespace="sealos-system"`.
    pub matchers: Vec<(String, String)>,
    /// A 5xx ratio above this is bad (0.05 = 5%).
    pub max_error_rate: f64,
    /// A P95 above this many milliseconds is bad.
    pub max_p95_ms: f64,
    /// Fewer requests than this in the window: no data, not a ratio.
    pub min_requests: f64,
    pub on_no_data: NoDataPolicy,
    /// Judge each destination service too, not only the total.
    pub per_service: bool,
}

impl Default for TrafficSpec {
    fn default() -> Self {
        TrafficSpec {
            window: Duration::from_secs(300),
            matchers: Vec::new(),
            max_error_rate: 0.05,
            max_p95_ms: 500.0,
            min_requests: 1.0,
            on_no_data: NoDataPolicy::Warn,
            per_service: true,
        }
    }
}

/// The signal a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignalKind {
    ErrorRate,
    Latency,
    NoData,
}

impl SignalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::ErrorRate => "error-rate",
            SignalKind::Latency => "latency",
            SignalKind::NoData => "no-data",
        }
    }
}

/// One judged signal of one scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub signal: SignalKind,
    pub verdict: Verdict,
    pub message: String,
}

/// The measurements and judgement of one scope: the total, or one destination service.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeReport {
    /// `overall`, or `NAMESPACE/SERVICE`.
    pub scope: String,
    /// Requests in the window (`increase`), 0 when there were none.
    pub requests: f64,
    pub errors: f64,
    /// `None` when there is no data to judge (see `findings`).
    pub error_rate: Option<f64>,
    pub p95_ms: Option<f64>,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
}

/// Everything one analysis found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficReport {
    pub window: String,
    pub max_error_rate: f64,
    pub max_p95_ms: f64,
    pub min_requests: f64,
    pub overall: ScopeReport,
    pub services: Vec<ScopeReport>,
    /// The worst verdict of all scopes.
    pub verdict: Verdict,
}

const REQUESTS: &str = "istio_requests_total";
const BUCKETS: &str = "istio_request_duration_milliseconds_bucket";
const BY_SERVICE: &str = "destination_service_namespace, destination_service_name";

/// The PromQL this analysis sends, for tests and `--help` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queries {
    pub requests: String,
    pub errors: String,
    pub p95: String,
}

/// Builds the three queries, summed overall (`by` empty) or by destination service.
pub fn queries(spec: &TrafficSpec, by_service: bool) -> Queries {
    let window = promql_duration(spec.window);
    let selector = |extra: Option<&str>| {
        let mut parts: Vec<String> = spec
            .matchers
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        if let Some(extra) = extra {
            parts.push(extra.to_string());
        }
        format!("{{{}}}", parts.join(","))
    };
    let by = if by_service {
        format!(" by ({BY_SERVICE})")
    } else {
        String::new()
    };
    let le_by = if by_service {
        format!(" by ({BY_SERVICE}, le)")
    } else {
        " by (le)".to_string()
    };
    Queries {
        requests: format!("sum{by} (increase({REQUESTS}{}[{window}]))", selector(None)),
        errors: format!(
            "sum{by} (increase({REQUESTS}{}[{window}]))",
            selector(Some(r#"response_code=~"5..""#))
        ),
        p95: format!(
            "histogram_quantile(0.95, sum{le_by} (rate({BUCKETS}{}[{window}])))",
            selector(None)
        ),
    }
}

/// Queries Prometheus and judges the traffic. An unreachable or misbehaving Prometheus is an
/// error, never a verdict.
pub async fn analyse(prom: &Prometheus, spec: &TrafficSpec) -> Result<TrafficReport, PromError> {
    let total = queries(spec, false);
    let split = queries(spec, true);
    let (requests, errors, p95) = futures::try_join!(
        prom.query(&total.requests, None),
        prom.query(&total.errors, None),
        prom.query(&total.p95, None),
    )?;
    let overall = judge(
        spec,
        "overall".into(),
        requests.single_value(),
        errors.single_value(),
        p95.single_value(),
    );
    let mut services = Vec::new();
    if spec.per_service {
        let (requests, errors, p95) = futures::try_join!(
            prom.query(&split.requests, None),
            prom.query(&split.errors, None),
            prom.query(&split.p95, None),
        )?;
        let requests = by_scope(&requests);
        let errors = by_scope(&errors);
        let p95 = by_scope(&p95);
        for (scope, count) in &requests {
            services.push(judge(
                spec,
                scope.clone(),
                Some(*count),
                errors.get(scope).copied(),
                p95.get(scope).copied(),
            ));
        }
        // Worst first, then by name.
        services.sort_by(|a, b| b.verdict.cmp(&a.verdict).then(a.scope.cmp(&b.scope)));
    }
    let verdict = services
        .iter()
        .map(|s| s.verdict)
        .chain([overall.verdict])
        .max()
        .unwrap_or(Verdict::Ok);
    Ok(TrafficReport {
        window: promql_duration(spec.window),
        max_error_rate: spec.max_error_rate,
        max_p95_ms: spec.max_p95_ms,
        min_requests: spec.min_requests,
        overall,
        services,
        verdict,
    })
}

fn by_scope(result: &QueryResult) -> BTreeMap<String, f64> {
    result
        .samples()
        .iter()
        .map(|s| {
            let get = |k: &str| s.metric.get(k).map(String::as_str).unwrap_or("unknown");
            (
                format!(
                    "{}/{}",
                    get("destination_service_namespace"),
                    get("destination_service_name")
                ),
                s.value,
            )
        })
        .collect()
}

/// The judgement of one scope from its raw numbers (`None` = no sample). Pure, for unit tests.
pub fn judge(
    spec: &TrafficSpec,
    scope: String,
    requests: Option<f64>,
    errors: Option<f64>,
    p95: Option<f64>,
) -> ScopeReport {
    let requests = requests.filter(|v| v.is_finite()).unwrap_or(0.0).max(0.0);
    let errors = errors.filter(|v| v.is_finite()).unwrap_or(0.0).max(0.0);
    let mut findings = Vec::new();
    let no_data_verdict = match spec.on_no_data {
        NoDataPolicy::Ok => Verdict::Ok,
        NoDataPolicy::Warn => Verdict::Warn,
        NoDataPolicy::Alert => Verdict::Alert,
    };
    let enough = requests > 0.0 && requests >= spec.min_requests;
    let mut error_rate = None;
    let mut p95_ms = None;
    if !enough {
        findings.push(Finding {
            signal: SignalKind::NoData,
            verdict: no_data_verdict,
            message: if requests > 0.0 {
                format!(
                    "{scope}: only {} requests in the window, fewer than the {} needed to judge",
                    round(requests),
                    round(spec.min_requests)
                )
            } else {
                format!("{scope}: no traffic in the window, nothing to judge")
            },
        });
    } else {
        let ratio = errors / requests;
        error_rate = Some(ratio);
        findings.push(if ratio > spec.max_error_rate {
            Finding {
                signal: SignalKind::ErrorRate,
                verdict: Verdict::Alert,
                message: format!(
                    "{scope}: 5xx ratio {} is above {} ({} of {} requests)",
                    percent(ratio),
                    percent(spec.max_error_rate),
                    round(errors),
                    round(requests)
                ),
            }
        } else {
            Finding {
                signal: SignalKind::ErrorRate,
                verdict: Verdict::Ok,
                message: format!(
                    "{scope}: 5xx ratio {} (limit {})",
                    percent(ratio),
                    percent(spec.max_error_rate)
                ),
            }
        });
        match p95.filter(|v| !v.is_nan()) {
            None => findings.push(Finding {
                signal: SignalKind::Latency,
                verdict: no_data_verdict,
                message: format!("{scope}: requests but no latency histogram, P95 unknown"),
            }),
            Some(value) => {
                p95_ms = Some(value);
                let bad = value > spec.max_p95_ms;
                findings.push(Finding {
                    signal: SignalKind::Latency,
                    verdict: if bad { Verdict::Alert } else { Verdict::Ok },
                    message: format!(
                        "{scope}: P95 latency {}ms {} {}ms",
                        round(value),
                        if bad { "is above" } else { "within" },
                        round(spec.max_p95_ms)
                    ),
                });
            }
        }
    }
    let verdict = findings
        .iter()
        .map(|f| f.verdict)
        .max()
        .unwrap_or(Verdict::Ok);
    ScopeReport {
        scope,
        requests,
        errors,
        error_rate,
        // JSON has no infinity: a +Inf quantile (all in the +Inf bucket) is reported as f64::MAX.
        p95_ms: p95_ms.map(|v| if v.is_finite() { v } else { f64::MAX }),
        verdict,
        findings,
    }
}

/// `0.0523` → `5.23%`.
pub fn percent(ratio: f64) -> String {
    format!("{:.2}%", ratio * 100.0)
}

fn round(value: f64) -> String {
    if value.fract().abs() < 1e-9 || value.abs() >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec() -> TrafficSpec {
        TrafficSpec {
            min_requests: 10.0,
            ..TrafficSpec::default()
        }
    }

    #[test]
    fn queries_carry_matchers_window_and_grouping() {
        let mut s = spec();
        s.matchers = vec![
            (
                "destination_service_namespace".into(),
                "sealos-system".into(),
            ),
            ("destination_service_name".into(), "terminal\"x".into()),
        ];
        let q = queries(&s, false);
        assert_eq!(
            q.errors,
            r#"sum (increase(istio_requests_total{destination_service_namespace="sealos-system",destination_service_name="terminal\"x",response_code=~"5.."}[5m]))"#
        );
        assert_eq!(
            q.p95,
            r#"histogram_quantile(0.95, sum by (le) (rate(istio_request_duration_milliseconds_bucket{destination_service_namespace="sealos-system",destination_service_name="terminal\"x"}[5m])))"#
        );
        let q = queries(&TrafficSpec::default(), true);
        assert_eq!(
            q.requests,
            "sum by (destination_service_namespace, destination_service_name) (increase(istio_requests_total{}[5m]))"
        );
        assert!(
            q.p95
                .contains("by (destination_service_namespace, destination_service_name, le)")
        );
    }

    #[test]
    fn healthy_traffic_is_ok() {
        let r = judge(
            &spec(),
            "overall".into(),
            Some(1000.0),
            Some(10.0),
            Some(120.0),
        );
        assert_eq!(r.verdict, Verdict::Ok);
        assert_eq!(r.error_rate, Some(0.01));
        assert_eq!(r.p95_ms, Some(120.0));
    }

    #[test]
    fn high_error_rate_and_latency_alert() {
        let r = judge(&spec(), "a/b".into(), Some(100.0), Some(20.0), Some(80.0));
        assert_eq!(r.verdict, Verdict::Alert);
        assert_eq!(r.findings[0].signal, SignalKind::ErrorRate);
        assert_eq!(
            r.findings[0].message,
            "a/b: 5xx ratio 20.00% is above 5.00% (20 of 100 requests)"
        );
        let r = judge(&spec(), "a/b".into(), Some(100.0), None, Some(900.0));
        assert_eq!(r.verdict, Verdict::Alert);
        assert_eq!(r.error_rate, Some(0.0));
        assert_eq!(r.findings[1].signal, SignalKind::Latency);
        assert_eq!(r.findings[1].verdict, Verdict::Alert);
    }

    #[test]
    fn no_traffic_follows_the_policy_and_never_reads_as_zero_errors() {
        for (policy, verdict) in [
            (NoDataPolicy::Ok, Verdict::Ok),
            (NoDataPolicy::Warn, Verdict::Warn),
            (NoDataPolicy::Alert, Verdict::Alert),
        ] {
            let mut s = spec();
            s.on_no_data = policy;
            for (requests, errors) in [
                (None, None),
                (Some(f64::NAN), Some(f64::NAN)),
                (Some(0.0), Some(0.0)),
            ] {
                let r = judge(&s, "overall".into(), requests, errors, Some(f64::NAN));
                assert_eq!(r.verdict, verdict);
                assert_eq!(r.error_rate, None);
                assert_eq!(r.findings[0].signal, SignalKind::NoData);
            }
        }
    }

    #[test]
    fn below_the_floor_no_ratio_is_judged() {
        // 1 error in 3 requests is 33%, but 3 requests are below the floor of 10.
        let r = judge(&spec(), "x/y".into(), Some(3.0), Some(1.0), Some(10.0));
        assert_eq!(r.verdict, Verdict::Warn);
        assert_eq!(r.error_rate, None);
        assert!(
            r.findings[0].message.contains("only 3 requests"),
            "{:?}",
            r.findings
        );
    }

    #[test]
    fn requests_without_a_histogram_are_latency_no_data() {
        let r = judge(&spec(), "x/y".into(), Some(50.0), Some(0.0), None);
        assert_eq!(r.verdict, Verdict::Warn);
        assert_eq!(r.findings[1].signal, SignalKind::Latency);
    }

    #[test]
    fn an_infinite_p95_is_judged_high() {
        // histogram_quantile answers +Inf when the quantile falls in the +Inf bucket.
        let r = judge(
            &spec(),
            "x/y".into(),
            Some(50.0),
            Some(0.0),
            Some(f64::INFINITY),
        );
        assert_eq!(r.verdict, Verdict::Alert);
        assert_eq!(r.p95_ms, Some(f64::MAX));
    }
}
