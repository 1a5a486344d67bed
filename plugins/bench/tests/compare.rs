//! `compare` end to end on crafted baselines, in both formats `run` writes.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-sealos-bench");
const HEADER: &str = "timestamp,service,concurrent_users,p95_latency,success_rate,rps,url,mode";

fn compare(baseline: &Path, current: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("compare")
        .arg(baseline)
        .arg(current)
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn explain(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn csv(dir: &Path, name: &str, rows: &[(&str, u32, f64, f64, f64)]) -> std::path::PathBuf {
    let mut text = format!("{HEADER}\n");
    for (service, c, p95, success, rps) in rows {
        text.push_str(&format!(
            "2026-01-01T00:00:00Z,{service},{c},{p95},{success},{rps},http://{service}/,closed\n"
        ));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A `run -o json` report with the given steps (only the fields compare reads, plus noise).
fn report(dir: &Path, name: &str, rows: &[(&str, u32, f64, f64, f64)]) -> std::path::PathBuf {
    let steps: Vec<Value> = rows
        .iter()
        .map(|(service, c, p95, success, rps)| {
            json!({
                "service": service, "url": format!("http://{service}/"), "concurrency": c,
                "mode": "closed", "rate": null, "requests": 1000, "success_rate": success, "rps": rps,
                "latency_ms": {"min": 0.1, "p50": 1.0, "p95": p95, "p99": 9.0, "max": 10.0},
                "errors": {}, "status_codes": {"200": 1000},
            })
        })
        .collect();
    let path = dir.join(name);
    let doc = json!({"kind": "BenchReport", "schema_version": 1, "steps": steps});
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

#[test]
fn a_slower_step_is_a_regression_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let base = csv(
        dir.path(),
        "base.csv",
        &[
            ("a.example", 10, 10.0, 100.0, 1000.0),
            ("a.example", 50, 20.0, 100.0, 2000.0),
        ],
    );
    let now = report(
        dir.path(),
        "now.json",
        &[
            ("a.example", 10, 13.0, 100.0, 1000.0),
            ("a.example", 50, 20.0, 100.0, 2000.0),
        ],
    );
    let out = compare(&base, &now, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["regressions"], 1);
    assert_eq!(doc["passed"], false);
    assert_eq!(doc["steps"][0]["verdict"], "regression");
    assert_eq!(doc["steps"][0]["concurrency"], 10);
    assert_eq!(doc["steps"][1]["verdict"], "unchanged");
    // A looser threshold accepts the same numbers.
    let out = compare(&base, &now, &["--max-p95-regression", "40%"]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
}

#[test]
fn improvements_and_rps_drops_and_success_floor() {
    let dir = tempfile::tempdir().unwrap();
    let base = report(
        dir.path(),
        "base.json",
        &[
            ("a", 1, 10.0, 100.0, 1000.0),
            ("b", 1, 10.0, 100.0, 1000.0),
            ("c", 1, 10.0, 100.0, 1000.0),
        ],
    );
    let now = csv(
        dir.path(),
        "now.csv",
        &[
            ("a", 1, 5.0, 100.0, 1500.0),
            ("b", 1, 10.0, 100.0, 850.0),
            ("c", 1, 10.0, 99.5, 1000.0),
        ],
    );
    let out = compare(&base, &now, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let verdicts: Vec<(&str, &str)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            (cells[0], cells[9])
        })
        .collect();
    assert_eq!(
        verdicts,
        [("b", "REGRESSION"), ("c", "OK"), ("a", "IMPROVED")],
        "{text}"
    );
    assert!(text.contains("rps -15.0% (drop > 10%)"), "{text}");
    let strict = compare(&base, &now, &["--min-success", "99.9"]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&strict.stdout).contains("success 99.50% (< 99.9%)"),
        "{}",
        explain(&strict)
    );
}

#[test]
fn missing_and_new_steps_are_shown_but_are_not_regressions() {
    let dir = tempfile::tempdir().unwrap();
    let base = csv(
        dir.path(),
        "base.csv",
        &[
            ("a", 1, 10.0, 100.0, 1000.0),
            ("gone", 1, 10.0, 100.0, 1000.0),
        ],
    );
    let now = csv(
        dir.path(),
        "now.csv",
        &[
            ("a", 1, 10.0, 100.0, 1000.0),
            ("fresh", 100, 10.0, 100.0, 1000.0),
        ],
    );
    let out = compare(&base, &now, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdicts: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["missing", "new", "unchanged"]);
    assert_eq!(doc["steps"][0]["service"], "gone");
    assert_eq!(doc["steps"][0]["current"], Value::Null);
}

#[test]
fn unreadable_or_foreign_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = csv(dir.path(), "good.csv", &[("a", 1, 10.0, 100.0, 1000.0)]);
    let out = compare(&dir.path().join("nope.csv"), &good, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.csv"));
    // What the seed guide's script wrote: hey's words where numbers belong.
    let guide = dir.path().join("guide.csv");
    std::fs::write(&guide, "timestamp,service,concurrent_users,p95_latency,success_rate,rps\n2024-01-01T00:00:00+00:00,a,1,in,responses,100.5\n").unwrap();
    let out = compare(&guide, &good, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("p95_latency \"in\" is not a number"),
        "{}",
        explain(&out)
    );
}

/// A baseline (or current file) whose figures are not finite, out of range or missing is bad
/// input: exit 2 naming the field, never a comparison that passes because NaN compares as nothing.
#[test]
fn bad_numbers_in_results_files_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = csv(dir.path(), "good.csv", &[("a", 1, 10.0, 100.0, 1000.0)]);
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let head = "timestamp,service,concurrent_users,p95_latency,success_rate,rps\n";
    let cases = [
        (
            write("nan.csv", &format!("{head}t,a,1,NaN,NaN,NaN\n")),
            "line 2: p95_latency \"NaN\": NaN is not a finite number",
        ),
        (
            write("inf.csv", &format!("{head}t,a,1,10,100,inf\n")),
            "line 2: rps \"inf\": inf is not a finite number",
        ),
        (
            write("negative.csv", &format!("{head}t,a,1,-10,100,1000\n")),
            "line 2: p95_latency \"-10\": -10 is less than 0",
        ),
        (
            write("short.csv", &format!("{head}t,a,1,10\n")),
            "line 2: no \"success_rate\" column",
        ),
        (write("empty.csv", head), "no steps: nothing to compare"),
        (
            write(
                "missing.json",
                r#"{"steps":[{"service":"a","concurrency":1,"success_rate":100,"latency_ms":{"p95":10}}]}"#,
            ),
            "steps[0].rps is missing",
        ),
        (
            write(
                "negative.json",
                r#"{"steps":[{"service":"a","concurrency":1,"success_rate":100,"rps":-3,"latency_ms":{"p95":10}}]}"#,
            ),
            "steps[0].rps: -3 is less than 0",
        ),
        (write("none.json", r#"{"steps":[]}"#), "no steps"),
    ];
    for (bad, message) in &cases {
        for (baseline, current) in [(bad, &good), (&good, bad)] {
            let out = compare(baseline, current, &[]);
            assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("error") && stderr.contains(message),
                "{message}\n{}",
                explain(&out)
            );
            assert!(out.stdout.is_empty(), "{}", explain(&out));
        }
    }
    // The thresholds are percentages.
    for (flag, value, message) in [
        ("--min-success", "NaN", "not a finite number"),
        ("--min-success", "101%", "101 is more than 100"),
        ("--max-rps-drop", "-5%", "-5 is less than 0"),
        ("--max-p95-regression", "inf", "not a finite number"),
    ] {
        let out = compare(&good, &good, &[&format!("{flag}={value}")]);
        assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{flag} {value}\n{}",
            explain(&out)
        );
    }
}
