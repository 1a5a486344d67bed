//! `--csv FILE`: one row per step appended, the guide's six columns first, the header once.
//!
//! Units: latencies in milliseconds, success_rate in percent, rps in requests per second.

use std::collections::HashMap;
use std::io::Write;
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
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(context(), e))?;
    let empty = file.metadata().map_err(|e| Error::io(context(), e))?.len() == 0;
    let mut text = String::new();
    if empty {
        text.push_str(&line(HEADER.iter().map(|h| h.to_string())));
    }
    for step in steps {
        text.push_str(&line(row(step)));
    }
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io(context(), e))
}

fn line(cells: impl IntoIterator<Item = String>) -> String {
    let mut out = cells
        .into_iter()
        .map(|c| quote(&c))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    out
}

fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

/// Parses CSV text into records keyed by the header's column names.
pub fn parse(text: &str) -> std::result::Result<Vec<HashMap<String, String>>, String> {
    let mut lines = split_records(text)?.into_iter();
    let header = lines.next().ok_or("the file is empty")?;
    let mut records = Vec::new();
    for (index, cells) in lines.enumerate() {
        if cells.len() == 1 && cells[0].is_empty() {
            continue;
        }
        if cells.len() > header.len() {
            return Err(format!(
                "line {}: {} cells for {} columns",
                index + 2,
                cells.len(),
                header.len()
            ));
        }
        records.push(header.iter().cloned().zip(cells).collect());
    }
    Ok(records)
}

/// RFC 4180 records: quoted cells may hold commas, quotes ("") and newlines.
fn split_records(text: &str) -> std::result::Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut cell));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => cell.push(c),
        }
    }
    if quoted {
        return Err("a quoted cell is not closed".into());
    }
    if !cell.is_empty() || !record.is_empty() {
        record.push(cell);
        records.push(record);
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
        assert!(parse("a\n\"open").is_err());
        assert!(parse("a\n1,2").is_err());
    }
}
