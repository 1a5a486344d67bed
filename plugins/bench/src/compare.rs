//! `compare BASELINE CURRENT`: steps matched by service and concurrency, deltas, verdicts.
//!
//! Reads what `run` writes: the `-o json` report or the `--csv` file. A CSV that holds several
//! runs of the same step (appended over time) counts its last row for that step.

use std::collections::HashMap;
use std::path::Path;

use sealos_shared::output::{Severity, Table, Theme};
use sealos_shared::{Error, Result};
use serde::Serialize;

use crate::report::millis;

/// The figures compared for one step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub p95_ms: f64,
    pub success_rate: f64,
    pub rps: f64,
}

/// A step of a results file.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub service: String,
    pub concurrency: u32,
    pub point: Point,
}

/// The thresholds, in percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// A p95 higher than the baseline's by more than this is a regression.
    pub max_p95_regression: f64,
    /// An rps lower than the baseline's by more than this is a regression.
    pub max_rps_drop: f64,
    /// A success rate below this is a regression.
    pub min_success: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Improved,
    Unchanged,
    /// In the current results only.
    New,
    /// In the baseline only: the current run did not measure it.
    Missing,
    Regression,
}

impl Verdict {
    fn severity(self) -> Severity {
        match self {
            Verdict::Improved | Verdict::Unchanged => Severity::Ok,
            Verdict::New => Severity::Info,
            Verdict::Missing => Severity::Warn,
            Verdict::Regression => Severity::Fail,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Verdict::Improved => "IMPROVED",
            Verdict::Unchanged => "OK",
            Verdict::New => "NEW",
            Verdict::Missing => "MISSING",
            Verdict::Regression => "REGRESSION",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delta {
    pub service: String,
    pub concurrency: u32,
    pub baseline: Option<Point>,
    pub current: Option<Point>,
    /// Percent change of p95 latency (positive = slower).
    pub p95_change: Option<f64>,
    /// Percent change of requests per second (negative = fewer).
    pub rps_change: Option<f64>,
    pub verdict: Verdict,
    /// Why the verdict, for regressions and improvements.
    pub reasons: Vec<String>,
}

/// The JSON document `compare -o json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub kind: &'static str,
    pub baseline: String,
    pub current: String,
    pub max_p95_regression: f64,
    pub max_rps_drop: f64,
    pub min_success: f64,
    pub regressions: usize,
    pub passed: bool,
    /// Worst first: regressions, missing, new, unchanged, improved.
    pub steps: Vec<Delta>,
}

pub fn compare(baseline: &[Step], current: &[Step], t: Thresholds) -> Vec<Delta> {
    let key = |s: &Step| (s.service.clone(), s.concurrency);
    let base: HashMap<_, _> = baseline.iter().map(|s| (key(s), s.point)).collect();
    let now: HashMap<_, _> = current.iter().map(|s| (key(s), s.point)).collect();
    let mut keys: Vec<(String, u32)> = baseline.iter().chain(current).map(key).collect();
    keys.sort();
    keys.dedup();
    let mut deltas: Vec<Delta> = keys
        .into_iter()
        .map(|(service, concurrency)| {
            let b = base.get(&(service.clone(), concurrency)).copied();
            let c = now.get(&(service.clone(), concurrency)).copied();
            judge(service, concurrency, b, c, t)
        })
        .collect();
    deltas.sort_by(|a, b| {
        b.verdict
            .cmp(&a.verdict)
            .then_with(|| a.service.cmp(&b.service))
            .then(a.concurrency.cmp(&b.concurrency))
    });
    deltas
}

fn judge(
    service: String,
    concurrency: u32,
    baseline: Option<Point>,
    current: Option<Point>,
    t: Thresholds,
) -> Delta {
    let (verdict, p95_change, rps_change, reasons) = match (baseline, current) {
        (Some(b), Some(c)) => {
            let p95 = change(b.p95_ms, c.p95_ms);
            let rps = change(b.rps, c.rps);
            let mut worse = Vec::new();
            let mut better = Vec::new();
            if let Some(p) = p95 {
                if p > t.max_p95_regression {
                    worse.push(format!(
                        "p95 {:+.1}% (> {}%)",
                        p,
                        trim(t.max_p95_regression)
                    ));
                } else if p < -t.max_p95_regression {
                    better.push(format!("p95 {p:+.1}%"));
                }
            }
            if let Some(r) = rps {
                if r < -t.max_rps_drop {
                    worse.push(format!("rps {:+.1}% (drop > {}%)", r, trim(t.max_rps_drop)));
                } else if r > t.max_rps_drop {
                    better.push(format!("rps {r:+.1}%"));
                }
            }
            if c.success_rate < t.min_success {
                worse.push(format!(
                    "success {:.2}% (< {}%)",
                    c.success_rate,
                    trim(t.min_success)
                ));
            }
            if !worse.is_empty() {
                (Verdict::Regression, p95, rps, worse)
            } else if !better.is_empty() {
                (Verdict::Improved, p95, rps, better)
            } else {
                (Verdict::Unchanged, p95, rps, Vec::new())
            }
        }
        (Some(_), None) => (
            Verdict::Missing,
            None,
            None,
            vec!["not in the current results".into()],
        ),
        (None, _) => (Verdict::New, None, None, vec!["not in the baseline".into()]),
    };
    Delta {
        service,
        concurrency,
        baseline,
        current,
        p95_change,
        rps_change,
        verdict,
        reasons,
    }
}

/// Percent change from `before` to `after`; none when there is no base to compare with.
fn change(before: f64, after: f64) -> Option<f64> {
    if before > 0.0 {
        Some((after - before) * 100.0 / before)
    } else if after == before {
        Some(0.0)
    } else {
        None
    }
}

fn trim(v: f64) -> String {
    let text = format!("{v:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub fn table(deltas: &[Delta], theme: &Theme) -> Table {
    let mut table = Table::new([
        "service", "conc", "p95 base", "p95 now", "p95 Δ", "rps base", "rps now", "rps Δ",
        "success", "verdict",
    ]);
    for column in 1..=8 {
        table = table.align_right(column);
    }
    let dash = || "-".to_string();
    for d in deltas {
        let verdict = theme.paint(d.verdict.label(), d.verdict.severity());
        let verdict = if d.reasons.is_empty() {
            verdict
        } else {
            format!("{verdict} {}", d.reasons.join("; "))
        };
        table.row([
            d.service.clone(),
            d.concurrency.to_string(),
            d.baseline.map(|p| millis(p.p95_ms)).unwrap_or_else(dash),
            d.current.map(|p| millis(p.p95_ms)).unwrap_or_else(dash),
            d.p95_change
                .map(|p| format!("{p:+.1}%"))
                .unwrap_or_else(dash),
            d.baseline
                .map(|p| format!("{:.1}", p.rps))
                .unwrap_or_else(dash),
            d.current
                .map(|p| format!("{:.1}", p.rps))
                .unwrap_or_else(dash),
            d.rps_change
                .map(|p| format!("{p:+.1}%"))
                .unwrap_or_else(dash),
            d.current
                .map(|p| format!("{:.2}%", p.success_rate))
                .unwrap_or_else(dash),
            verdict,
        ]);
    }
    table
}

/// Reads a results file: the JSON report (starts with `{`) or the CSV. Every figure must be a
/// finite number in its range and the file must hold a step: a baseline of `NaN`s compares as
/// nothing at all, which would pass anything.
pub fn load(path: &Path) -> Result<Vec<Step>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("read {}: {e}", path.display())))?;
    let steps = if text.trim_start().starts_with('{') {
        from_json(&text)
    } else {
        from_csv(&text)
    }
    .and_then(|steps| {
        if steps.is_empty() {
            Err("no steps: nothing to compare".to_string())
        } else {
            Ok(steps)
        }
    })
    .map_err(|e| Error::usage(format!("read {}: {e}", path.display())))?;
    Ok(steps)
}

/// The figures' ranges: latencies and rates are not negative, success is a percentage.
const P95: (&str, f64, f64) = ("p95 latency", 0.0, f64::MAX);
const SUCCESS: (&str, f64, f64) = ("success rate", 0.0, 100.0);
const RPS: (&str, f64, f64) = ("rps", 0.0, f64::MAX);

fn checked(
    value: f64,
    field: &str,
    (_, min, max): (&str, f64, f64),
) -> std::result::Result<f64, String> {
    sealos_shared::number::check(value, min, max).map_err(|why| format!("{field}: {why}"))
}

pub fn from_json(text: &str) -> std::result::Result<Vec<Step>, String> {
    let report: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not a bench JSON report: {e}"))?;
    let steps = report["steps"]
        .as_array()
        .ok_or("not a bench JSON report: no \"steps\" list")?;
    let mut out = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let at = |path: &str| format!("steps[{index}].{path}");
        let number = |path: &str, range: (&str, f64, f64)| {
            let value = path.split('.').fold(step, |v, key| &v[key]);
            match value {
                serde_json::Value::Null => Err(format!("{} is missing", at(path))),
                serde_json::Value::Number(n) => n
                    .as_f64()
                    .ok_or_else(|| format!("{}: {n} is not a number", at(path)))
                    .and_then(|v| checked(v, &at(path), range)),
                other => Err(format!("{}: {other} is not a number", at(path))),
            }
        };
        let service = step["service"]
            .as_str()
            .ok_or_else(|| format!("{} is missing", at("service")))?;
        let concurrency = step["concurrency"]
            .as_u64()
            .filter(|c| *c >= 1)
            .and_then(|c| u32::try_from(c).ok())
            .ok_or_else(|| {
                format!(
                    "{} is missing or not a whole number from 1",
                    at("concurrency")
                )
            })?;
        out.push(Step {
            service: service.to_string(),
            concurrency,
            point: Point {
                p95_ms: number("latency_ms.p95", P95)?,
                success_rate: number("success_rate", SUCCESS)?,
                rps: number("rps", RPS)?,
            },
        });
    }
    Ok(out)
}

pub fn from_csv(text: &str) -> std::result::Result<Vec<Step>, String> {
    let records = crate::csv::parse(text)?;
    let mut steps: Vec<Step> = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let line = index + 2;
        let field = |name: &str| {
            record
                .get(name)
                .map(|v| v.trim())
                .ok_or_else(|| format!("line {line}: no {name:?} column"))
        };
        let number = |name: &str, range: (&str, f64, f64)| -> std::result::Result<f64, String> {
            let value = field(name)?;
            let parsed = value
                .trim_end_matches('%')
                .parse::<f64>()
                .map_err(|_| format!("line {line}: {name} {value:?} is not a number"))?;
            checked(parsed, &format!("line {line}: {name} {value:?}"), range)
        };
        let step = Step {
            service: field("service")?.to_string(),
            concurrency: field("concurrent_users")?
                .parse()
                .ok()
                .filter(|c| *c >= 1)
                .ok_or_else(|| {
                    format!("line {line}: concurrent_users is not a whole number from 1")
                })?,
            point: Point {
                p95_ms: number("p95_latency", P95)?,
                success_rate: number("success_rate", SUCCESS)?,
                rps: number("rps", RPS)?,
            },
        };
        // A later row of the same step (an appended run) replaces the earlier one.
        match steps
            .iter_mut()
            .find(|s| s.service == step.service && s.concurrency == step.concurrency)
        {
            Some(existing) => *existing = step,
            None => steps.push(step),
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const T: Thresholds = Thresholds {
        max_p95_regression: 20.0,
        max_rps_drop: 10.0,
        min_success: 99.0,
    };

    fn step(service: &str, c: u32, p95: f64, success: f64, rps: f64) -> Step {
        Step {
            service: service.into(),
            concurrency: c,
            point: Point {
                p95_ms: p95,
                success_rate: success,
                rps,
            },
        }
    }

    #[test]
    fn verdicts_follow_the_thresholds_and_worst_comes_first() {
        let base = [
            step("a", 1, 10.0, 100.0, 1000.0),
            step("a", 10, 10.0, 100.0, 1000.0),
            step("b", 1, 10.0, 100.0, 1000.0),
            step("c", 1, 10.0, 100.0, 1000.0),
            step("gone", 1, 10.0, 100.0, 1000.0),
        ];
        let now = [
            step("a", 1, 12.5, 100.0, 1000.0), // p95 +25%
            step("a", 10, 11.9, 100.0, 910.0), // within both thresholds
            step("b", 1, 5.0, 100.0, 1500.0),  // faster
            step("c", 1, 10.0, 98.0, 1000.0),  // success below 99%
            step("fresh", 1, 1.0, 100.0, 1.0),
        ];
        let deltas = compare(&base, &now, T);
        let verdicts: Vec<(String, u32, Verdict)> = deltas
            .iter()
            .map(|d| (d.service.clone(), d.concurrency, d.verdict))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("a".into(), 1, Verdict::Regression),
                ("c".into(), 1, Verdict::Regression),
                ("gone".into(), 1, Verdict::Missing),
                ("fresh".into(), 1, Verdict::New),
                ("a".into(), 10, Verdict::Unchanged),
                ("b".into(), 1, Verdict::Improved),
            ]
        );
        assert!((deltas[0].p95_change.unwrap() - 25.0).abs() < 1e-9);
        assert!(deltas[0].reasons[0].starts_with("p95 +25.0%"));
        assert!(deltas[1].reasons[0].contains("success 98.00%"));
    }

    #[test]
    fn an_rps_drop_beyond_the_threshold_regresses() {
        let d = compare(
            &[step("a", 50, 10.0, 100.0, 1000.0)],
            &[step("a", 50, 10.0, 100.0, 899.0)],
            T,
        );
        assert_eq!(d[0].verdict, Verdict::Regression);
        assert!(
            d[0].reasons[0].starts_with("rps -10.1%"),
            "{:?}",
            d[0].reasons
        );
    }

    #[test]
    fn csv_last_row_of_a_step_wins_and_json_reads() {
        let csv = "timestamp,service,concurrent_users,p95_latency,success_rate,rps\n\
                   t1,a,1,10.0,100,1000\n\
                   t2,a,1,20.0,99.5,900\n\
                   t2,a,10,5,100%,50\n";
        let steps = from_csv(csv).unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].point.p95_ms, 20.0);
        assert_eq!(steps[1].point.success_rate, 100.0);
        // The seed guide's script recorded hey's words, not numbers: say where.
        let err = from_csv("timestamp,service,concurrent_users,p95_latency,success_rate,rps\nt,a,1,in,responses,12\n").unwrap_err();
        assert!(err.contains("line 2: p95_latency \"in\""), "{err}");
        let json = r#"{"steps":[{"service":"a","concurrency":5,"success_rate":99.0,"rps":7.5,"latency_ms":{"p95":3.25,"p50":1}}]}"#;
        assert_eq!(from_json(json).unwrap(), [step("a", 5, 3.25, 99.0, 7.5)]);
        assert!(from_json("{}").is_err());
    }

    #[test]
    fn figures_that_are_not_finite_or_out_of_range_are_named() {
        let head = "timestamp,service,concurrent_users,p95_latency,success_rate,rps\n";
        for (row, message) in [
            (
                "t,a,1,NaN,100,10",
                "line 2: p95_latency \"NaN\": NaN is not a finite number",
            ),
            (
                "t,a,1,inf,100,10",
                "line 2: p95_latency \"inf\": inf is not a finite number",
            ),
            (
                "t,a,1,-5,100,10",
                "line 2: p95_latency \"-5\": -5 is less than 0",
            ),
            (
                "t,a,1,5,101,10",
                "line 2: success_rate \"101\": 101 is more than 100",
            ),
            ("t,a,1,5,100,-1", "line 2: rps \"-1\": -1 is less than 0"),
            ("t,a,1,5,100", "line 2: no \"rps\" column"),
            (
                "t,a,0,5,100,1",
                "line 2: concurrent_users is not a whole number from 1",
            ),
        ] {
            let err = from_csv(&format!("{head}{row}\n")).unwrap_err();
            assert_eq!(err, message, "{row}");
        }
        let step =
            |body: &str| format!(r#"{{"steps":[{{"service":"a","concurrency":1,{body}}}]}}"#);
        for (body, message) in [
            (
                r#""success_rate":99,"rps":1,"latency_ms":{"p95":-1}"#,
                "steps[0].latency_ms.p95: -1 is less than 0",
            ),
            (
                r#""success_rate":99,"rps":1,"latency_ms":{}"#,
                "steps[0].latency_ms.p95 is missing",
            ),
            (
                r#""success_rate":99,"latency_ms":{"p95":1}"#,
                "steps[0].rps is missing",
            ),
            (
                r#""success_rate":"x","rps":1,"latency_ms":{"p95":1}"#,
                "steps[0].success_rate: \"x\" is not a number",
            ),
        ] {
            assert_eq!(from_json(&step(body)).unwrap_err(), message, "{body}");
        }
        // JSON has no NaN: the parser refuses it, and huge exponents are out of range.
        assert!(
            from_json(&step(
                r#""success_rate":NaN,"rps":1,"latency_ms":{"p95":1}"#
            ))
            .is_err()
        );
        assert!(
            from_json(&step(
                r#""success_rate":1e999,"rps":1,"latency_ms":{"p95":1}"#
            ))
            .is_err()
        );
    }
}
