//! `run` end to end: the real binary against an HTTP server started here, whose answers each
//! path decides. Counts are checked on both sides (sent = recorded = received).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-sealos-bench");

/// What the server saw.
#[derive(Default)]
struct Seen {
    requests: AtomicU64,
    mixed: AtomicU64,
    hosts: Mutex<BTreeSet<String>>,
    methods: Mutex<BTreeSet<String>>,
    body_lengths: Mutex<BTreeSet<usize>>,
}

/// A keep-alive HTTP/1.1 server. Paths: `/ok` 200; `/status/N` N; `/mixed` 200 and 500 in
/// turn; `/sleep/MS` 200 after MS milliseconds; `/close` closes without answering.
struct Server {
    url: String,
    seen: Arc<Seen>,
}

async fn server() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let shared = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, shared.clone()));
        }
    });
    Server { url, seen }
}

async fn serve(mut stream: TcpStream, seen: Arc<Seen>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.lines();
        let mut request_line = lines.next().unwrap_or_default().split(' ');
        let method = request_line.next().unwrap_or_default().to_string();
        let path = request_line.next().unwrap_or_default().to_string();
        let mut length = 0;
        for line in lines {
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                match name.to_ascii_lowercase().as_str() {
                    "host" => {
                        seen.hosts.lock().unwrap().insert(value.to_string());
                    }
                    "content-length" => length = value.parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        while buf.len() < head_end + length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + length);
        seen.requests.fetch_add(1, Ordering::SeqCst);
        seen.methods.lock().unwrap().insert(method);
        seen.body_lengths.lock().unwrap().insert(length);
        let status: u16 = if path == "/close" {
            return;
        } else if let Some(code) = path.strip_prefix("/status/") {
            code.parse().unwrap_or(500)
        } else if path == "/mixed" {
            if seen.mixed.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                200
            } else {
                500
            }
        } else if let Some(ms) = path.strip_prefix("/sleep/") {
            // The slow server under test, not test synchronisation.
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
            200
        } else {
            200
        };
        let body = "hello\n";
        let answer = format!(
            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Runs the binary; blocking, on a thread of its own so the server keeps answering.
async fn bench(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

fn explain(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_counts_and_the_status_distribution() {
    let s = server().await;
    let url = format!("{}/mixed", s.url);
    let out = bench(&[
        "run",
        &url,
        "-c",
        "7",
        "-n",
        "1000",
        "--threads",
        "2",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(code(&out), 0, "{}", explain(&out));
    let step = &json(&out)["steps"][0];
    assert_eq!(step["requests"], 1000);
    assert_eq!(s.seen.requests.load(Ordering::SeqCst), 1000);
    assert_eq!(step["status_codes"]["200"], 500);
    assert_eq!(step["status_codes"]["500"], 500);
    assert_eq!(step["successes"], 500);
    assert_eq!(step["failures"], 500);
    assert_eq!(step["errors"]["status"], 500);
    assert_eq!(step["success_rate"], 50.0);
    assert_eq!(step["bytes"], 6000);
    assert_eq!(step["concurrency"], 7);
    assert_eq!(step["mode"], "closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_url_at_every_concurrency_is_a_step_and_success_codes_apply() {
    let s = server().await;
    let ok = format!("{}/ok", s.url);
    let not_found = format!("{}/status/404", s.url);
    let out = bench(&[
        "run",
        &ok,
        &not_found,
        "-c",
        "1,3",
        "-n",
        "20",
        "--success-codes",
        "200-299,404",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(code(&out), 0, "{}", explain(&out));
    let report = json(&out);
    let steps: Vec<(String, u64)> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["service"].as_str().unwrap().to_string(),
                s["concurrency"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("127.0.0.1/ok".to_string(), 1),
            ("127.0.0.1/ok".to_string(), 3),
            ("127.0.0.1/status/404".to_string(), 1),
            ("127.0.0.1/status/404".to_string(), 3),
        ]
    );
    assert_eq!(report["steps"][3]["status_codes"]["404"], 20);
    assert_eq!(report["steps"][3]["success_rate"], 100.0);
    assert_eq!(s.seen.requests.load(Ordering::SeqCst), 80);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_resets_and_refused_connections_are_counted_as_failures() {
    let s = server().await;
    let slow = format!("{}/sleep/10000", s.url);
    let out = bench(&[
        "run",
        &slow,
        "-c",
        "2",
        "-n",
        "4",
        "--timeout",
        "100ms",
        "-o",
        "json",
    ])
    .await;
    // Every request failed: exit 1 even without --slo (hey exits 0 there).
    assert_eq!(code(&out), 1, "{}", explain(&out));
    let step = &json(&out)["steps"][0];
    assert_eq!(step["requests"], 4);
    assert_eq!(step["errors"]["timeout"], 4);
    assert_eq!(step["success_rate"], 0.0);
    assert!(
        step["latency_ms"]["min"].as_f64().unwrap() >= 99.0,
        "{step}"
    );

    let close = format!("{}/close", s.url);
    let out = bench(&["run", &close, "-c", "3", "-n", "9", "-o", "json"]).await;
    let step = &json(&out)["steps"][0];
    assert_eq!(step["requests"], 9, "{step}");
    assert_eq!(step["errors"]["reset"], 9, "{step}");

    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let refused = format!("http://127.0.0.1:{port}/");
    let out = bench(&["run", &refused, "-c", "2", "-n", "10"]).await;
    assert_eq!(code(&out), 1, "{}", explain(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("connect=10") && table.contains("FAIL all requests failed"),
        "{}",
        explain(&out)
    );
    let out = bench(&["run", &refused, "-c", "2", "-n", "10", "-o", "json"]).await;
    let step = &json(&out)["steps"][0];
    assert_eq!(step["requests"], 10);
    assert_eq!(step["errors"]["connect"], 10);
    assert_eq!(step["failures"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_holds_over_the_run() {
    let s = server().await;
    let url = format!("{}/ok", s.url);
    let out = bench(&[
        "run", &url, "-c", "4", "--rate", "200", "-z", "2s", "-o", "json",
    ])
    .await;
    assert_eq!(code(&out), 0, "{}", explain(&out));
    let step = &json(&out)["steps"][0];
    // The schedule is fixed: requests due in the first 2 s at 200/s.
    assert_eq!(step["requests"], 400, "{step}");
    assert_eq!(s.seen.requests.load(Ordering::SeqCst), 400);
    assert_eq!(step["mode"], "open");
    assert_eq!(step["rate"], 200.0);
    assert_eq!(step["successes"], 400, "{step}");
    assert_eq!(step["failures"], 0, "{step}");
    // rps is what was counted over what was measured, and an open loop never runs ahead of its
    // schedule: the last request is due at 1.995 s, so the measured time cannot be shorter and
    // the rate cannot exceed 400 / 1.995 s. (No upper bound on the time: a slow machine may
    // take longer, which says nothing about the schedule.)
    let seconds = step["duration_seconds"].as_f64().unwrap();
    let rps = step["rps"].as_f64().unwrap();
    assert!(seconds >= 1.995, "{step}");
    assert!((rps * seconds - 400.0).abs() < 1e-6 * 400.0, "{step}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_latency_counts_from_the_scheduled_time() {
    let s = server().await;
    // One connection, a server taking 20 ms, requests due every 10 ms: request i cannot start
    // before i × 20 ms, so it waits i × 10 ms past its due time. A closed loop (or a tool that
    // measures from the actual send) would report about 20 ms for all of them.
    let url = format!("{}/sleep/20", s.url);
    let out = bench(&[
        "run", &url, "-c", "1", "-n", "20", "--rate", "100", "-o", "json",
    ])
    .await;
    assert_eq!(code(&out), 0, "{}", explain(&out));
    let latency = &json(&out)["steps"][0]["latency_ms"];
    assert!(latency["min"].as_f64().unwrap() >= 20.0, "{latency}");
    assert!(
        latency["max"].as_f64().unwrap() >= 20.0 + 19.0 * 10.0,
        "{latency}"
    );
    assert_eq!(s.seen.requests.load(Ordering::SeqCst), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_method_headers_and_body_are_sent() {
    let s = server().await;
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.json");
    std::fs::write(&body, "{\"hello\": \"world\"}").unwrap();
    let url = format!("{}/ok", s.url);
    let out = bench(&[
        "run",
        &url,
        "-c",
        "2",
        "-n",
        "6",
        "-m",
        "post",
        "--host",
        "app.example.com",
        "-H",
        "Content-Type: application/json",
        "--body",
        body.to_str().unwrap(),
        "-o",
        "json",
    ])
    .await;
    assert_eq!(code(&out), 0, "{}", explain(&out));
    assert_eq!(json(&out)["steps"][0]["service"], "app.example.com/ok");
    assert_eq!(
        *s.seen.hosts.lock().unwrap(),
        BTreeSet::from(["app.example.com".to_string()])
    );
    assert_eq!(
        *s.seen.methods.lock().unwrap(),
        BTreeSet::from(["POST".to_string()])
    );
    assert_eq!(*s.seen.body_lengths.lock().unwrap(), BTreeSet::from([18]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_appends_one_row_per_step_with_one_header() {
    let s = server().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("results.csv");
    let url = format!("{}/ok", s.url);
    for _ in 0..2 {
        let out = bench(&[
            "run",
            &url,
            "-c",
            "1,2",
            "-n",
            "10",
            "--csv",
            csv.to_str().unwrap(),
        ])
        .await;
        assert_eq!(code(&out), 0, "{}", explain(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("SERVICE"),
            "{}",
            explain(&out)
        );
    }
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[0].starts_with("timestamp,service,concurrent_users,p95_latency,success_rate,rps,")
    );
    assert_eq!(text.matches("timestamp").count(), 1);
    let cells: Vec<&str> = lines[4].split(',').collect();
    assert_eq!(cells[1], "127.0.0.1/ok");
    assert_eq!(cells[2], "2");
    assert_eq!(cells[4], "100.000");
    assert_eq!(cells.len(), lines[0].split(',').count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slo_decides_the_exit_code() {
    let s = server().await;
    let ok = format!("{}/ok", s.url);
    let failing = format!("{}/status/500", s.url);
    let pass = bench(&[
        "run",
        &ok,
        "-c",
        "2",
        "-n",
        "50",
        "--slo",
        "success>=99.9%,p99<10s",
    ])
    .await;
    assert_eq!(code(&pass), 0, "{}", explain(&pass));
    let miss = bench(&[
        "run",
        &failing,
        "-c",
        "2",
        "-n",
        "50",
        "--slo",
        "success>=99.9%",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(code(&miss), 1, "{}", explain(&miss));
    let report = json(&miss);
    assert_eq!(report["passed"], false);
    assert_eq!(report["steps"][0]["slo"][0]["rule"], "success>=99.9%");
    assert_eq!(report["steps"][0]["slo"][0]["pass"], false);
    let table = bench(&["run", &ok, "-c", "1", "-n", "20", "--slo", "rps>=100000000"]).await;
    assert_eq!(code(&table), 1, "{}", explain(&table));
    assert!(
        String::from_utf8_lossy(&table.stdout).contains("FAIL rps>=100000000"),
        "{}",
        explain(&table)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_2_before_any_request() {
    let s = server().await;
    let ok = format!("{}/ok", s.url);
    let huge_latency = format!("p95<1{}m", "0".repeat(308));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run", "127.0.0.1:1/x"], "has no scheme"),
        (vec!["run", &ok, "-c", "0"], "at least 1"),
        (vec!["run", &ok, "-n", "-1"], "positive whole number"),
        (vec!["run", &ok, "--rate", "abc"], "not a rate"),
        (
            vec!["run", &ok, "--body", "/nonexistent/body.json"],
            "read the body file",
        ),
        (
            vec!["run", &ok, "--slo", "p95<fast"],
            "not a valid threshold",
        ),
        (vec!["run", &ok, "-z", "soon"], "not a duration"),
        // Numbers that used to panic (exit 101) or pass silently.
        (vec!["run", &ok, "--timeout", "1e20"], "is too long"),
        (vec!["run", &ok, "--timeout", "0"], "must be more than 0"),
        (vec!["run", &ok, "--timeout", "-1"], "cannot be negative"),
        (vec!["run", &ok, "--timeout", "500000000y"], "too long"),
        (
            vec!["run", &ok, "--rate", "1e-320"],
            "1e-320 is less than 0.001",
        ),
        (
            vec!["run", &ok, "--rate", "NaN"],
            "NaN is not a finite number",
        ),
        (
            vec!["run", &ok, "--rate", "inf"],
            "inf is not a finite number",
        ),
        (vec!["run", &ok, "--rate", "-5"], "-5 is less than 0.001"),
        (
            vec!["run", &ok, "-z", "inf"],
            "not a finite number of seconds",
        ),
        (vec!["run", &ok, "-z", "1e19"], "is too long"),
        (vec!["run", &ok, "-z", "-2"], "cannot be negative"),
        (vec!["run", &ok, "-z", "0s"], "must be more than 0"),
        (
            vec!["run", &ok, "--pause", "NaN"],
            "not a finite number of seconds",
        ),
        (
            vec!["run", &ok, "-c", "4294967296"],
            "at most 100000 connections",
        ),
        (
            vec!["run", &ok, "--threads", "100000"],
            "at most 1024 threads",
        ),
        (
            vec!["run", &ok, "--slo", &huge_latency],
            "not a valid threshold",
        ),
        // --workers input is checked before any cluster is asked.
        (
            vec!["run", &ok, "-c", "2", "--workers", "3"],
            "-c 2 is fewer connections than --workers 3",
        ),
        (
            vec!["run", &ok, "-c", "3", "-n", "2", "--workers", "3"],
            "-n 2 is fewer requests than --workers 3",
        ),
        (vec!["run", &ok, "--workers", "0"], "at least 1"),
        (vec!["run", &ok, "--workers", "1001"], "1 to 1000"),
        (
            vec![
                "run",
                &ok,
                "-c",
                "3",
                "--workers",
                "3",
                "--body",
                "/etc/hostname",
            ],
            "--body cannot be used with --workers",
        ),
        (vec!["run", &ok, "--allow-partial"], "--workers"),
    ];
    for (args, message) in cases {
        let out = bench(&args).await;
        assert_eq!(code(&out), 2, "{args:?}\n{}", explain(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("error") && stderr.contains(message),
            "{args:?}\n{}",
            explain(&out)
        );
    }
    assert_eq!(s.seen.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_and_still_reports() {
    let s = server().await;
    let url = format!("{}/ok", s.url);
    let child = Command::new(BIN)
        .args(["run", &url, "-c", "2", "-z", "60s", "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the load to be under way (a condition, polled; the deadline only stops a hang).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while s.seen.requests.load(Ordering::SeqCst) < 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the load never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&out), 130, "{}", explain(&out));
    let report = json(&out);
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["steps"][0]["interrupted"], true);
    assert!(
        report["steps"][0]["requests"].as_u64().unwrap() >= 200,
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_report_matches_its_schema() {
    let s = server().await;
    let ok = format!("{}/ok", s.url);
    let mixed = format!("{}/mixed", s.url);
    let out = bench(&[
        "run",
        &ok,
        &mixed,
        "-c",
        "1,2",
        "-n",
        "30",
        "--slo",
        "p95<5s,success>=99%",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(code(&out), 1, "{}", explain(&out));
    let report = json(&out);
    let schema: Value =
        serde_json::from_str(include_str!("../schema/run-report.schema.json")).unwrap();
    let mut errors = Vec::new();
    validate(&schema, &schema, &report, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}\n{report:#}");
    // The checker itself must catch a broken document.
    let mut broken = report.clone();
    broken["steps"][0]["latency_ms"]["p95"] = Value::from("fast");
    broken["steps"][1].as_object_mut().unwrap().remove("rps");
    broken["surprise"] = Value::from(1);
    let mut errors = Vec::new();
    validate(&schema, &schema, &broken, "$", &mut errors);
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

/// A JSON Schema checker for the keywords the schema uses; any other keyword fails the test,
/// so the schema cannot grow a rule nobody checks.
fn validate(root: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        errors.push(format!("{at}: schema is not an object"));
        return;
    };
    for (keyword, rule) in schema {
        match keyword.as_str() {
            "$schema" | "$id" | "title" | "description" | "$defs" => {}
            "$ref" => {
                let path = rule.as_str().unwrap().trim_start_matches("#/");
                let target = path.split('/').fold(root, |node, key| &node[key]);
                validate(root, target, value, at, errors);
            }
            "const" => {
                if value != rule {
                    errors.push(format!("{at}: {value} is not {rule}"));
                }
            }
            "enum" => {
                if !rule.as_array().unwrap().contains(value) {
                    errors.push(format!("{at}: {value} not in {rule}"));
                }
            }
            "type" => {
                let types: Vec<&str> = match rule {
                    Value::String(t) => vec![t.as_str()],
                    other => other
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t.as_str().unwrap())
                        .collect(),
                };
                let ok = types.iter().any(|t| match *t {
                    "object" => value.is_object(),
                    "array" => value.is_array(),
                    "string" => value.is_string(),
                    "boolean" => value.is_boolean(),
                    "null" => value.is_null(),
                    "number" => value.is_number(),
                    "integer" => value.is_u64() || value.is_i64(),
                    other => panic!("unknown type {other}"),
                });
                if !ok {
                    errors.push(format!("{at}: {value} is not {rule}"));
                }
            }
            "minimum" | "maximum" => {
                if let Some(v) = value.as_f64() {
                    let bound = rule.as_f64().unwrap();
                    if (keyword == "minimum" && v < bound) || (keyword == "maximum" && v > bound) {
                        errors.push(format!("{at}: {v} breaks {keyword} {bound}"));
                    }
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for name in rule.as_array().unwrap() {
                        if !object.contains_key(name.as_str().unwrap()) {
                            errors.push(format!("{at}: missing {name}"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(object) = value.as_object() {
                    for (name, sub) in rule.as_object().unwrap() {
                        if let Some(v) = object.get(name) {
                            validate(root, sub, v, &format!("{at}.{name}"), errors);
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(object) = value.as_object() {
                    let known = schema.get("properties").and_then(Value::as_object);
                    for (name, v) in object {
                        if known.is_some_and(|k| k.contains_key(name)) {
                            continue;
                        }
                        match rule {
                            Value::Bool(false) => errors.push(format!("{at}: unexpected {name}")),
                            Value::Bool(true) => {}
                            sub => validate(root, sub, v, &format!("{at}.{name}"), errors),
                        }
                    }
                }
            }
            "propertyNames" => {
                if let Some(object) = value.as_object() {
                    for name in object.keys() {
                        validate(
                            root,
                            rule,
                            &Value::from(name.as_str()),
                            &format!("{at} key {name}"),
                            errors,
                        );
                    }
                }
            }
            "minLength" | "maxLength" => {
                if let Some(text) = value.as_str() {
                    let bound = rule.as_u64().unwrap() as usize;
                    let n = text.chars().count();
                    if (keyword == "minLength" && n < bound)
                        || (keyword == "maxLength" && n > bound)
                    {
                        errors.push(format!("{at}: {text:?} breaks {keyword} {bound}"));
                    }
                }
            }
            "items" => {
                if let Some(items) = value.as_array() {
                    for (i, item) in items.iter().enumerate() {
                        validate(root, rule, item, &format!("{at}[{i}]"), errors);
                    }
                }
            }
            other => panic!("the schema uses {other:?}, which this checker does not know"),
        }
    }
}
