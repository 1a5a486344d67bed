//! Traffic, when Prometheus answers: the shared analysis, turned into findings. An unreachable
//! Prometheus is a warning (the signals are unknown), never OK.

use sealos_shared::connection::Kube;
use sealos_shared::output::Severity;
use sealos_shared::traffic::{self, TrafficReport, TrafficSpec, Verdict};

use super::{Area, CheckArgs, Finding, ObjectRef};

pub fn spec(args: &CheckArgs) -> TrafficSpec {
    TrafficSpec {
        window: args.window,
        matchers: Vec::new(),
        max_error_rate: args.error_rate,
        max_p95_ms: args.p95_ms,
        min_requests: args.min_requests,
        on_no_data: args.on_no_data,
        per_service: true,
    }
}

pub fn severity(verdict: Verdict) -> Severity {
    match verdict {
        Verdict::Ok => Severity::Ok,
        Verdict::Warn => Severity::Warn,
        Verdict::Alert => Severity::Fail,
    }
}

pub async fn check(args: &CheckArgs, kube: Option<&Kube>) -> (Vec<Finding>, Option<TrafficReport>) {
    let unknown = |why: String| {
        vec![Finding::new(
            Area::Traffic,
            Severity::Warn,
            ObjectRef::new("Service", None, &args.prometheus.prometheus_service),
            format!("traffic not judged: {why}"),
        )]
    };
    let prom = match args.prometheus.client(kube) {
        Ok(prom) => prom,
        Err(e) => return (unknown(e.to_string()), None),
    };
    match traffic::analyse(&prom, &spec(args)).await {
        Err(e) => (unknown(e.to_string()), None),
        Ok(report) => (findings(&report), Some(report)),
    }
}

/// One row per judged scope: its worst finding.
pub fn findings(report: &TrafficReport) -> Vec<Finding> {
    std::iter::once(&report.overall)
        .chain(&report.services)
        .map(|scope| {
            let worst = scope.findings.iter().max_by_key(|f| f.verdict);
            let (ns, name) = match scope.scope.split_once('/') {
                Some((ns, name)) => (Some(ns), name),
                None => (None, scope.scope.as_str()),
            };
            let kind = if ns.is_some() { "Service" } else { "Traffic" };
            let message = match worst {
                Some(f) if f.verdict != Verdict::Ok => f.message.clone(),
                _ => scope
                    .findings
                    .iter()
                    .map(|f| {
                        f.message
                            .trim_start_matches(&format!("{}: ", scope.scope))
                            .to_string()
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            Finding::new(
                Area::Traffic,
                severity(scope.verdict),
                ObjectRef::new(kind, ns, name),
                message,
            )
        })
        .collect()
}
