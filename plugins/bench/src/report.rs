//! The `run` report: plain data first, then the table or the JSON (schema:
//! `plugins/bench/schema/run-report.schema.json`).

use sealos_shared::output::{Severity, Table, Theme};
use serde::Serialize;

use crate::slo::Check;
use crate::stats::Summary;

/// The JSON document `run -o json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Always "BenchReport".
    pub kind: &'static str,
    /// Bumped on any incompatible change of this shape.
    pub schema_version: u32,
    /// When the first step started (RFC 3339).
    pub started: String,
    /// True when Ctrl-C stopped the run: the last step is partial, later ones are missing.
    pub interrupted: bool,
    /// The `--slo` rules, empty without `--slo`.
    pub slo: Vec<String>,
    /// False when any step missed the SLO or had no successful request.
    pub passed: bool,
    pub steps: Vec<StepReport>,
}

pub const SCHEMA_VERSION: u32 = 1;

/// One URL at one concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// The Host the requests named (`--host`, else the URL's host), with the path if not "/".
    pub service: String,
    pub url: String,
    /// Connections (and workers).
    pub concurrency: u32,
    /// "closed" (each worker sends as soon as its last answer came) or "open" (`--rate`).
    pub mode: &'static str,
    /// The total requests per second asked for with `--rate`, else null.
    pub rate: Option<f64>,
    pub started: String,
    /// True for a step cut short by Ctrl-C.
    pub interrupted: bool,
    #[serde(flatten)]
    pub summary: Summary,
    /// Each `--slo` rule against this step.
    pub slo: Vec<Check>,
    /// False when the step missed the SLO or every request failed.
    pub passed: bool,
    /// With `--workers`: each worker's share and figures, to show skew.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<Vec<crate::fleet::report::WorkerRow>>,
    /// With `--workers`: the merged latency histogram in microseconds (HDR V2 + deflate, base64).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub histogram: Option<String>,
}

impl BenchReport {
    pub fn table(&self, wide: bool, theme: &Theme) -> Table {
        let mut header = vec![
            "service", "conc", "requests", "success", "rps", "p50", "p95", "p99", "max", "errors",
        ];
        if wide {
            header.extend(["min", "p90", "p99.9", "status codes"]);
        }
        let judged = !self.slo.is_empty() || self.steps.iter().any(|s| !s.passed);
        if judged {
            header.push("verdict");
        }
        let mut table = Table::new(header);
        for column in 1..=8 {
            table = table.align_right(column);
        }
        for step in &self.steps {
            let s = &step.summary;
            let l = &s.latency_ms;
            let mut service = step.service.clone();
            if step.interrupted {
                service.push_str(" (interrupted)");
            }
            let success = format!("{:.2}%", s.success_rate);
            let success = if s.failures > 0 {
                theme.paint(&success, Severity::Warn)
            } else {
                success
            };
            let errors: Vec<String> = s
                .errors
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(kind, n)| format!("{kind}={n}"))
                .collect();
            let errors = if errors.is_empty() {
                "-".to_string()
            } else {
                theme.paint(&errors.join(","), Severity::Fail)
            };
            let conc = match step.rate {
                Some(rate) => format!("{}@{}/s", step.concurrency, trim_float(rate)),
                None => step.concurrency.to_string(),
            };
            let mut row = vec![
                service,
                conc,
                s.requests.to_string(),
                success,
                format!("{:.1}", s.rps),
                millis(l.p50),
                millis(l.p95),
                millis(l.p99),
                millis(l.max),
                errors,
            ];
            if wide {
                row.push(millis(l.min));
                row.push(millis(l.p90));
                row.push(millis(l.p99_9));
                row.push(
                    s.status_codes
                        .iter()
                        .map(|(code, n)| format!("{code}={n}"))
                        .collect::<Vec<_>>()
                        .join(","),
                );
            }
            if judged {
                row.push(if step.passed {
                    theme.severity(Severity::Ok)
                } else {
                    let mut missed: Vec<&str> = step
                        .slo
                        .iter()
                        .filter(|c| !c.pass)
                        .map(|c| c.rule.as_str())
                        .collect();
                    if s.requests > 0 && s.successes == 0 {
                        missed.push("all requests failed");
                    }
                    format!("{} {}", theme.severity(Severity::Fail), missed.join(","))
                });
            }
            table.row(row);
        }
        table
    }
}

/// A latency for people: `850µs`, `12.34ms`, `1.50s`.
pub fn millis(ms: f64) -> String {
    if ms < 1.0 {
        format!("{:.0}µs", ms * 1000.0)
    } else if ms < 1000.0 {
        format!("{ms:.2}ms")
    } else {
        format!("{:.2}s", ms / 1000.0)
    }
}

fn trim_float(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_read_well() {
        assert_eq!(millis(0.25), "250µs");
        assert_eq!(millis(12.345), "12.35ms");
        assert_eq!(millis(1500.0), "1.50s");
    }
}
