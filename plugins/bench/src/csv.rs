//! `--csv FILE`: one row per step appended, the guide's six columns first, the header once.
//!
//! Units: latencies in milliseconds, success_rate in percent, rps in requests per second.

use std::collections::HashMap;
use std::path::Path;

use sealos_shared::{Error, Result};

use crate::report::StepReport;

/// The columns, in order. The first six are the guide's `performance-results.csv`.
pub const HEADER: &[&str] = &[
    "timestamp",
    "service",
    "concurrent_users",
    "p95_latency",
    "success_rate",
    "rps",
    "url",
    "mode",
    "rate",
    "requests",
    "successes",
    "failures",
    "min_ms",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p99_9_ms",
    "max_ms",
    "mean_ms",
    "errors_connect",
    "errors_timeout",
    "errors_reset",
    "errors_tls",
    "errors_status",
    "errors_other",
    "duration_s",
    "interrupted",
];

pub fn row(step: &StepReport) -> Vec<String> {
    let s = &step.summary;
    let l = &s.latency_ms;
    let error = |kind: &str| s.errors.get(kind).copied().unwrap_or(0).to_string();
    vec![
        step.started.clone(),
        step.service.clone(),
        step.concurrency.to_string(),
        format!("{:.3}", l.p95),
        format!("{:.3}", s.success_rate),
        format!("{:.2}", s.rps),
        step.url.clone(),
        step.mode.to_string(),
        step.rate.map(|r| r.to_string()).unwrap_or_default(),
        s.requests.to_string(),
        s.successes.to_string(),
        s.failures.to_string(),
        format!("{:.3}", l.min),
        format!("{:.3}", l.p50),
        format!("{:.3}", l.p90),
        format!("{:.3}", l.p99),
        format!("{:.3}", l.p99_9),
        format!("{:.3}", l.max),
        format!("{:.3}", l.mean),
        error("connect"),
        error("timeout"),
        error("reset"),
        error("tls"),
        error("status"),
        error("other"),
        format!("{:.3}", s.duration_seconds),
        step.interrupted.to_string(),
    ]
}

/// Appends `steps` to `path`, writing the header first when the file is new or empty.
pub fn append(path: &Path, steps: &[StepReport]) -> Result<()> {
    let context = || format!("append to {}", path.display());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(context(), e))?;
    let empty = file.metadata().map_err(|e| Error::io(context(), e))?.len() == 0;
    let failed = |e: csv::Error| Error::failed(format!("{}: {e}", context()));
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(file);
    if empty {
        writer.write_record(HEADER).map_err(failed)?;
    }
    for step in steps {
        writer.write_record(row(step)).map_err(failed)?;
    }
    writer.flush().map_err(|e| Error::io(context(), e))
}

/// Parses CSV text (RFC 4180: quoted cells may hold commas, quotes and newlines) into records
/// keyed by the header's column names. A row may be shorter than the header (older files), not
/// longer.
pub fn parse(text: &str) -> std::result::Result<Vec<HashMap<String, String>>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(str::to_string)
        .collect();
    if header.is_empty() {
        return Err("the file is empty".into());
    }
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        if record.len() > header.len() {
            let line = record.position().map_or(0, |p| p.line());
            return Err(format!(
                "line {line}: {} cells for {} columns",
                record.len(),
                header.len()
            ));
        }
        records.push(
            header
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_string))
                .collect(),
        );
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::stats::Summary;

    fn step(service: &str, concurrency: u32) -> StepReport {
        StepReport {
            service: service.into(),
            url: "http://127.0.0.1:1/a,b".into(),
            concurrency,
            mode: "closed",
            rate: None,
            started: "2026-01-01T00:00:00Z".into(),
            interrupted: false,
            summary: Summary {
                requests: 10,
                successes: 9,
                failures: 1,
                success_rate: 90.0,
                rps: 123.456,
                ..Summary::default()
            },
            slo: vec![],
            passed: true,
            workers: None,
            histogram: None,
        }
    }

    #[test]
    fn the_guide_columns_come_first_and_the_header_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        append(&path, &[step("a.example", 1)]).unwrap();
        append(&path, &[step("a.example", 10), step("b.example", 10)]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[0].starts_with(
                "timestamp,service,concurrent_users,p95_latency,success_rate,rps,url,"
            )
        );
        assert_eq!(text.matches("timestamp,").count(), 1);
        assert!(lines[2].starts_with("2026-01-01T00:00:00Z,a.example,10,0.000,90.000,123.46,"));
        let records = parse(&text).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[2]["service"], "b.example");
        assert_eq!(records[0]["url"], "http://127.0.0.1:1/a,b");
        assert_eq!(records[0].len(), HEADER.len());
    }

    #[test]
    fn quoting_round_trips() {
        let records = parse("a,b\n\"x,\"\"y\"\"\",2\r\n").unwrap();
        assert_eq!(records[0]["a"], "x,\"y\"");
        assert_eq!(records[0]["b"], "2");
        assert_eq!(
            parse("a\n1,2").unwrap_err(),
            "line 2: 2 cells for 1 columns"
        );
        assert_eq!(parse("").unwrap_err(), "the file is empty");
        // Shorter rows (files from before a column was added) keep the columns they have.
        assert_eq!(parse("a,b\n1\n").unwrap()[0].len(), 1);
    }
}
