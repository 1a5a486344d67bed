//! `--slo 'p95<500ms,success>=99.9%,rps>=1000'`: rules every step must meet.

use serde::Serialize;

use crate::stats::Summary;

/// What a rule measures.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Metric {
    /// A latency figure, compared in milliseconds.
    Latency(Stat),
    /// Percent of successful requests.
    Success,
    Rps,
    /// Number of failed requests.
    Failures,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stat {
    Min,
    Mean,
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    text: String,
    metric: Metric,
    op: Op,
    threshold: f64,
}

/// One rule checked against one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub rule: String,
    /// The step's figure, in the rule's unit (ms, percent, requests/s or a count).
    pub actual: f64,
    pub pass: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slo {
    rules: Vec<Rule>,
}

impl Slo {
    /// Parses comma-separated rules `METRIC OP VALUE`: metrics min, mean, p50, p90, p95, p99,
    /// p99.9, max (durations: 250ms, 1.5s, 800us; a bare number is milliseconds), success
    /// (percent), rps, failures (a count); operators <, <=, >, >=.
    pub fn parse(text: &str) -> Result<Slo, String> {
        let mut rules = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            rules.push(parse_rule(part)?);
        }
        if rules.is_empty() {
            return Err("the SLO has no rules (e.g. 'p95<500ms,success>=99.9%')".into());
        }
        Ok(Slo { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rules(&self) -> Vec<String> {
        self.rules.iter().map(|r| r.text.clone()).collect()
    }

    pub fn check(&self, step: &Summary) -> Vec<Check> {
        self.rules
            .iter()
            .map(|rule| {
                let actual = actual(rule.metric, step);
                let pass = match rule.op {
                    Op::Lt => actual < rule.threshold,
                    Op::Le => actual <= rule.threshold,
                    Op::Gt => actual > rule.threshold,
                    Op::Ge => actual >= rule.threshold,
                };
                Check {
                    rule: rule.text.clone(),
                    actual,
                    pass,
                }
            })
            .collect()
    }
}

fn actual(metric: Metric, step: &Summary) -> f64 {
    let l = &step.latency_ms;
    match metric {
        Metric::Latency(stat) => match stat {
            Stat::Min => l.min,
            Stat::Mean => l.mean,
            Stat::P50 => l.p50,
            Stat::P90 => l.p90,
            Stat::P95 => l.p95,
            Stat::P99 => l.p99,
            Stat::P999 => l.p99_9,
            Stat::Max => l.max,
        },
        Metric::Success => step.success_rate,
        Metric::Rps => step.rps,
        Metric::Failures => step.failures as f64,
    }
}

fn parse_rule(part: &str) -> Result<Rule, String> {
    let at = part
        .find(['<', '>'])
        .ok_or_else(|| format!("SLO rule {part:?} has no operator (<, <=, >, >=)"))?;
    let (name, rest) = part.split_at(at);
    let (op, value) = if let Some(v) = rest.strip_prefix("<=") {
        (Op::Le, v)
    } else if let Some(v) = rest.strip_prefix(">=") {
        (Op::Ge, v)
    } else if let Some(v) = rest.strip_prefix('<') {
        (Op::Lt, v)
    } else if let Some(v) = rest.strip_prefix('>') {
        (Op::Gt, v)
    } else {
        return Err(format!("SLO rule {part:?} has no operator"));
    };
    let name = name.trim().to_ascii_lowercase();
    let value = value.trim();
    let metric = match name.as_str() {
        "min" => Metric::Latency(Stat::Min),
        "mean" | "avg" => Metric::Latency(Stat::Mean),
        "p50" | "median" => Metric::Latency(Stat::P50),
        "p90" => Metric::Latency(Stat::P90),
        "p95" => Metric::Latency(Stat::P95),
        "p99" => Metric::Latency(Stat::P99),
        "p99.9" | "p999" => Metric::Latency(Stat::P999),
        "max" => Metric::Latency(Stat::Max),
        "success" => Metric::Success,
        "rps" => Metric::Rps,
        "failures" | "errors" => Metric::Failures,
        other => {
            return Err(format!(
                "SLO rule {part:?}: unknown metric {other:?} (min, mean, p50, p90, p95, p99, p99.9, max, success, rps, failures)"
            ));
        }
    };
    let threshold = match metric {
        Metric::Latency(_) => parse_millis(value),
        Metric::Success => parse_number(value.strip_suffix('%').unwrap_or(value))
            .filter(|v| (0.0..=100.0).contains(v)),
        Metric::Rps | Metric::Failures => parse_number(value),
    }
    .ok_or_else(|| format!("SLO rule {part:?}: {value:?} is not a valid threshold"))?;
    Ok(Rule {
        text: part.replace(' ', ""),
        metric,
        op,
        threshold,
    })
}

fn parse_number(text: &str) -> Option<f64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
}

/// `500ms`, `1.5s`, `800us`, `2m`, or a bare number of milliseconds.
pub fn parse_millis(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number = parse_number(number)?;
    let factor = match unit.trim() {
        "" | "ms" => 1.0,
        "us" | "µs" => 0.001,
        "s" => 1000.0,
        "m" => 60_000.0,
        _ => return None,
    };
    // 1e308 minutes is no threshold: an infinite one would pass every step.
    Some(number * factor).filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::stats::Latency;

    fn step(p95: f64, success: f64, rps: f64) -> Summary {
        Summary {
            success_rate: success,
            rps,
            latency_ms: Latency {
                p95,
                ..Latency::default()
            },
            ..Summary::default()
        }
    }

    #[test]
    fn the_issue_example_parses_and_judges() {
        let slo = Slo::parse("p95<500ms, success>=99.9%,rps>=1000").unwrap();
        assert_eq!(slo.rules(), ["p95<500ms", "success>=99.9%", "rps>=1000"]);
        let good = slo.check(&step(120.0, 100.0, 2000.0));
        assert!(good.iter().all(|c| c.pass), "{good:?}");
        let bad = slo.check(&step(500.0, 99.8, 1000.0));
        assert_eq!(
            bad.iter().map(|c| c.pass).collect::<Vec<_>>(),
            [false, false, true]
        );
        assert_eq!(bad[0].actual, 500.0);
    }

    #[test]
    fn units_and_operators() {
        assert_eq!(parse_millis("1.5s"), Some(1500.0));
        assert_eq!(parse_millis("800us"), Some(0.8));
        assert_eq!(parse_millis("250"), Some(250.0));
        assert_eq!(parse_millis("2m"), Some(120_000.0));
        assert_eq!(parse_millis("5h"), None);
        assert_eq!(parse_millis(&format!("1{}m", "0".repeat(308))), None);
        let slo = Slo::parse("p99.9<=1s,failures<1,max>2ms").unwrap();
        let mut s = step(0.0, 100.0, 0.0);
        s.latency_ms.p99_9 = 1000.0;
        s.latency_ms.max = 2.0;
        let checks = slo.check(&s);
        assert_eq!(
            checks.iter().map(|c| c.pass).collect::<Vec<_>>(),
            [true, true, false]
        );
    }

    #[test]
    fn bad_rules_say_why() {
        assert!(Slo::parse("").unwrap_err().contains("no rules"));
        assert!(Slo::parse("p95 500ms").unwrap_err().contains("no operator"));
        assert!(
            Slo::parse("latency<5ms")
                .unwrap_err()
                .contains("unknown metric")
        );
        assert!(
            Slo::parse("success>=101%")
                .unwrap_err()
                .contains("not a valid threshold")
        );
        assert!(Slo::parse("p95<fast").is_err());
    }
}
