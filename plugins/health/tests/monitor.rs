//! The monitor and the shared traffic analysis against a real Prometheus scraping a stand-in
//! exporter, a Slack stand-in, a syslog socket, a dead Prometheus and one answering garbage.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use kubectl_sealos_health::monitor::{BLIND_KEY, Monitor};
use sealos_shared::alert::{SlackWebhook, Syslog, SyslogFormat};
use sealos_shared::prometheus::{PromError, Prometheus};
use sealos_shared::traffic::{self, NoDataPolicy, SignalKind, TrafficSpec, Verdict};
use serde_json::{Value, json};
use support::{
    Exporter, FAILING, HEALTHY, PrometheusServer, QUIET, SLOW, SlackReceiver, SyslogSocket, direct,
    fast, run_binary, wait_for,
};

fn spec(namespace: &str) -> TrafficSpec {
    TrafficSpec {
        window: Duration::from_secs(10),
        matchers: vec![("destination_service_namespace".into(), namespace.into())],
        max_error_rate: 0.05,
        max_p95_ms: 500.0,
        min_requests: 20.0,
        on_no_data: NoDataPolicy::Warn,
        per_service: true,
    }
}

/// Waits until the analysis of `namespace` gives `verdict` with enough requests to judge.
async fn wait_verdict(prom: &Prometheus, namespace: &str, verdict: Verdict) {
    let s = spec(namespace);
    wait_for(
        &format!("{namespace} to be judged {verdict:?}"),
        Duration::from_secs(90),
        || {
            let s = s.clone();
            async move {
                traffic::analyse(prom, &s)
                    .await
                    .is_ok_and(|r| r.verdict == verdict && r.overall.requests >= s.min_requests)
            }
        },
    )
    .await;
}

async fn monitor_once(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_binary(&args, &[])
    })
    .await
    .unwrap()
}

fn once_args(url: &str, namespace: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "monitor",
        "--once",
        "--prometheus-url",
        url,
        "--window",
        "10s",
        "--min-requests",
        "20",
        "--no-syslog",
        "--match",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("destination_service_namespace={namespace}"));
    args.extend(extra.iter().map(|s| s.to_string()));
    if !extra.contains(&"-o") {
        args.extend(["-o".to_string(), "json".to_string()]);
    }
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_errors_latency_and_no_traffic_against_a_real_prometheus() {
    let exporter = Exporter::default();
    exporter.set("t-healthy", "api", HEALTHY);
    exporter.set("t-errors", "api", FAILING);
    exporter.set("t-slow", "api", SLOW);
    exporter.set("t-quiet", "api", QUIET);
    let prometheus = PrometheusServer::start(&[exporter.start().await]).await;
    let prom = direct(&prometheus.url);
    // Wait on the condition (Prometheus has the series and the rates), never on the clock.
    wait_verdict(&prom, "t-healthy", Verdict::Ok).await;
    wait_verdict(&prom, "t-errors", Verdict::Alert).await;
    wait_verdict(&prom, "t-slow", Verdict::Alert).await;

    let healthy = traffic::analyse(&prom, &spec("t-healthy")).await.unwrap();
    assert_eq!(healthy.verdict, Verdict::Ok, "{healthy:#?}");
    assert_eq!(healthy.overall.error_rate, Some(0.0));
    // All requests take 80ms: the P95 interpolates inside the (50, 100] bucket.
    let p95 = healthy.overall.p95_ms.unwrap();
    assert!((50.0..=100.0).contains(&p95), "{p95}");
    assert_eq!(healthy.services.len(), 1);
    assert_eq!(healthy.services[0].scope, "t-healthy/api");

    let errors = traffic::analyse(&prom, &spec("t-errors")).await.unwrap();
    let ratio = errors.overall.error_rate.unwrap();
    assert!((0.2..0.4).contains(&ratio), "{ratio}");
    let finding = &errors.overall.findings[0];
    assert_eq!(
        (finding.signal, finding.verdict),
        (SignalKind::ErrorRate, Verdict::Alert)
    );
    assert!(
        finding.message.starts_with("overall: 5xx ratio "),
        "{}",
        finding.message
    );
    assert_eq!(errors.services[0].verdict, Verdict::Alert);

    let slow = traffic::analyse(&prom, &spec("t-slow")).await.unwrap();
    assert_eq!(slow.overall.findings[0].verdict, Verdict::Ok, "no 5xx");
    assert_eq!(slow.overall.findings[1].signal, SignalKind::Latency);
    assert_eq!(slow.overall.findings[1].verdict, Verdict::Alert);
    assert!(slow.overall.p95_ms.unwrap() > 500.0);

    // Series at zero rate (a zero denominator) and no series at all: no data, never "0% errors".
    for namespace in ["t-quiet", "t-none"] {
        let report = traffic::analyse(&prom, &spec(namespace)).await.unwrap();
        assert_eq!(report.verdict, Verdict::Warn, "{namespace}: {report:#?}");
        assert_eq!(report.overall.error_rate, None);
        assert_eq!(report.overall.findings[0].signal, SignalKind::NoData);
    }

    // The binary, once, as cron would run it.
    let (code, stdout, stderr) = monitor_once(once_args(&prometheus.url, "t-healthy", &[])).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["state"], "ok");
    assert_eq!(line["alerts"], json!([]));

    let (code, stdout, stderr) = monitor_once(once_args(&prometheus.url, "t-errors", &[])).await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["state"], "alert");
    let keys: Vec<&str> = line["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alert"]["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["error-rate/overall", "error-rate/t-errors/api"]);

    let (code, stdout, _) =
        monitor_once(once_args(&prometheus.url, "t-slow", &["-o", "table"])).await;
    assert_eq!(code, 1);
    assert!(
        stdout.contains("FIRING warning: High latency: overall: P95 latency "),
        "{stdout}"
    );

    // The check's traffic area judges the same signals, straight from this Prometheus.
    let (code, stdout, stderr) = tokio::task::spawn_blocking({
        let url = prometheus.url.clone();
        move || {
            run_binary(
                &[
                    "check",
                    "--only",
                    "traffic",
                    "--prometheus-url",
                    &url,
                    "--window",
                    "10s",
                    "--min-requests",
                    "20",
                    "-o",
                    "json",
                ],
                &[],
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    support::assert_report_schema(&report);
    assert_eq!(report["status"], "FAIL");
    let failing: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "FAIL")
        .map(|f| f["object"]["namespace"].as_str().unwrap_or("overall"))
        .collect();
    assert_eq!(failing, ["t-errors", "t-slow", "overall"], "{stdout}");
    assert_eq!(
        report["traffic"]["services"].as_array().unwrap().len(),
        4,
        "quiet series included"
    );

    for (policy, expected) in [("ok", 0), ("warn", 0), ("alert", 1)] {
        let (code, stdout, stderr) = monitor_once(once_args(
            &prometheus.url,
            "t-none",
            &["--on-no-data", policy],
        ))
        .await;
        assert_eq!(code, expected, "--on-no-data {policy}: {stdout}{stderr}");
    }
    drop(prometheus);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fire_once_repeat_after_the_period_and_resolve_to_slack_and_syslog() {
    let exporter = Exporter::default();
    exporter.set("t-flap", "api", HEALTHY);
    let prometheus = PrometheusServer::start(&[exporter.start().await]).await;
    let prom = direct(&prometheus.url);
    wait_verdict(&prom, "t-flap", Verdict::Ok).await;

    let slack = SlackReceiver::default();
    let url = slack.start().await;
    let syslog = SyslogSocket::bind();
    let mut monitor = Monitor::new(
        prom.clone(),
        spec("t-flap"),
        3,
        Duration::from_secs(3600),
        Some(SlackWebhook::new(&url, Duration::from_secs(5), fast()).unwrap()),
        Some(Syslog::new(syslog.path(), SyslogFormat::Rfc3164)),
    );
    let start = Timestamp::now();

    let round = monitor.round(start).await;
    assert_eq!(round.state, "ok");
    assert!(round.alerts.is_empty() && slack.bodies().is_empty());

    exporter.set("t-flap", "api", FAILING);
    wait_verdict(&prom, "t-flap", Verdict::Alert).await;
    let round = monitor.round(start + SignedDuration::from_secs(300)).await;
    assert_eq!(round.state, "alert");
    let report = round.traffic.as_ref().unwrap();
    let overall_msg = report.overall.findings[0].message.clone();
    let service_msg = report.services[0].findings[0].message.clone();
    assert!(
        overall_msg.starts_with("overall: 5xx ratio ")
            && overall_msg.contains("% is above 5.00% ("),
        "{overall_msg}"
    );
    assert!(
        service_msg.starts_with("t-flap/api: 5xx ratio "),
        "{service_msg}"
    );
    // The two alerts are delivered concurrently: in either order.
    let mut bodies = slack.bodies();
    bodies.sort_by_key(|b| b.to_string());
    assert_eq!(
        bodies,
        vec![
            json!({"text": format!(":rotating_light: High error rate\n{overall_msg}")}),
            json!({"text": format!(":rotating_light: High error rate\n{service_msg}")}),
        ]
    );

    // Still bad, within --repeat: nothing is sent again.
    let round = monitor.round(start + SignedDuration::from_secs(600)).await;
    assert!(round.alerts.is_empty(), "{:?}", round.alerts);
    assert_eq!(slack.bodies().len(), 2);

    // Still bad after --repeat: sent once more.
    let round = monitor
        .round(start + SignedDuration::from_secs(300 + 3600))
        .await;
    let actions: Vec<&str> = round.alerts.iter().map(|a| a.action).collect();
    assert_eq!(actions, ["repeat", "repeat"]);
    assert_eq!(slack.bodies().len(), 4);
    let last_overall = round.alerts[0].alert.message.clone();

    exporter.set("t-flap", "api", HEALTHY);
    wait_verdict(&prom, "t-flap", Verdict::Ok).await;
    let round = monitor.round(start + SignedDuration::from_secs(4200)).await;
    let actions: Vec<&str> = round.alerts.iter().map(|a| a.action).collect();
    assert_eq!(actions, ["resolve", "resolve"]);
    let bodies = slack.bodies();
    assert_eq!(bodies.len(), 6);
    assert!(
        bodies[4..].contains(
            &json!({"text": format!(":white_check_mark: Resolved: High error rate\n{last_overall}")})
        ),
        "{bodies:#?}"
    );
    let round = monitor.round(start + SignedDuration::from_secs(4500)).await;
    assert!(round.alerts.is_empty());
    assert_eq!(slack.bodies().len(), 6);

    let lines = syslog.drain();
    assert_eq!(lines.len(), 6, "{lines:#?}");
    for line in &lines[..4] {
        assert!(
            line.starts_with("<10>") && line.contains(" sealos-monitor["),
            "{line}"
        );
        assert!(
            line.contains("]: FIRING critical: High error rate: "),
            "{line}"
        );
    }
    for line in &lines[4..] {
        assert!(
            line.starts_with("<13>") && line.contains("]: RESOLVED critical: High error rate: "),
            "{line}"
        );
    }
    drop(prometheus);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_or_garbage_prometheus_is_never_ok_and_alerts_after_the_failure_limit() {
    let slack = SlackReceiver::default();
    let url = slack.start().await;
    // A Slack that fails twice (503) before accepting: retried, delivered, not an error.
    slack.statuses.lock().unwrap().extend([503, 503]);

    let garbage =
        support::serve(|_| (200, "text/html", "<html>502 Bad Gateway</html>".into())).await;
    let mut monitor = Monitor::new(
        direct(&format!("http://{garbage}")),
        spec("t-any"),
        2,
        Duration::from_secs(3600),
        Some(SlackWebhook::new(&url, Duration::from_secs(5), fast()).unwrap()),
        None,
    );
    let now = Timestamp::now();
    let first = monitor.round(now).await;
    assert_eq!(first.state, "blind");
    assert!(
        first.error.as_deref().unwrap().contains("not its API"),
        "{:?}",
        first.error
    );
    assert!(first.alerts.is_empty(), "below --max-query-failures");
    let second = monitor.round(now + SignedDuration::from_secs(300)).await;
    assert_eq!(second.consecutive_failures, 2);
    assert_eq!(second.alerts.len(), 1);
    assert_eq!(second.alerts[0].alert.key, BLIND_KEY);
    assert!(
        second.alerts[0].delivery_errors.is_empty(),
        "{:?}",
        second.alerts[0].delivery_errors
    );
    let bodies = slack.bodies();
    assert_eq!(bodies.len(), 3, "two 503s then the delivery");
    let text = bodies[2]["text"].as_str().unwrap();
    assert!(
        text.starts_with(":rotating_light: Monitor cannot read Prometheus\n2 consecutive rounds failed; error rate and latency are unknown: Prometheus at http://"),
        "{text}"
    );

    // An error envelope is a failure too.
    let refusing = support::serve(|_| {
        (
            422,
            "application/json",
            r#"{"status":"error","errorType":"execution","error":"query timed out"}"#.into(),
        )
    })
    .await;
    let mut monitor = Monitor::new(
        direct(&format!("http://{refusing}")),
        spec("t-any"),
        1,
        Duration::from_secs(3600),
        None,
        None,
    );
    let round = monitor.round(Timestamp::now()).await;
    assert_eq!(round.state, "blind");
    assert!(
        round
            .error
            .as_deref()
            .unwrap()
            .contains("(execution): query timed out"),
        "{:?}",
        round.error
    );

    // A Slack that keeps refusing: the failure is reported without the URL, and is not fatal.
    let refusing_slack = SlackReceiver::default();
    let bad_url = refusing_slack.start().await;
    refusing_slack
        .statuses
        .lock()
        .unwrap()
        .extend([404, 404, 404]);
    let mut monitor = Monitor::new(
        direct(&format!("http://{garbage}")),
        spec("t-any"),
        1,
        Duration::from_secs(3600),
        Some(SlackWebhook::new(&bad_url, Duration::from_secs(5), fast()).unwrap()),
        None,
    );
    let round = monitor.round(Timestamp::now()).await;
    let errors = &round.alerts[0].delivery_errors;
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains("404") && !errors[0].contains("SECRETTOKEN"),
        "{errors:?}"
    );

    // Prometheus down, through the binary: exit 2, the blind alert sent at once, URL not printed.
    let closed = support::free_port();
    let prom_url = format!("http://127.0.0.1:{closed}");
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        run_binary(
            &[
                "monitor",
                "--once",
                "--prometheus-url",
                &prom_url,
                "--no-syslog",
            ],
            &[("SLACK_WEBHOOK_URL", &url)],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "BLIND (1 consecutive failure): cannot reach Prometheus at http://127.0.0.1:"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("FIRING critical: Monitor cannot read Prometheus"),
        "{stdout}"
    );
    assert!(!stdout.contains("SECRETTOKEN") && !stderr.contains("SECRETTOKEN"));
    assert_eq!(slack.bodies().len(), 4);
}

/// The loop ends cleanly on SIGTERM between rounds: exit 130, the round already printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_loop_between_rounds() {
    use std::io::BufRead;
    let garbage = support::serve(|_| (200, "text/plain", "not json".into())).await;
    let url = format!("http://{garbage}");
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("state.json");
    let state_arg = state.display().to_string();
    let home_path = home.path().to_path_buf();
    let (code, first) = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-sealos-health"))
            .args([
                "monitor",
                "--interval",
                "1h",
                "--prometheus-url",
                &url,
                "--no-syslog",
                "--state",
                &state_arg,
                "-o",
                "json",
            ])
            .env_clear()
            .env("HOME", &home_path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // The first round's line is the condition: the loop is now between rounds.
        let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        reader.read_line(&mut first).unwrap();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        (status.code(), first)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(130));
    let line: Value = serde_json::from_str(first.trim()).unwrap();
    assert_eq!(line["state"], "blind");
    assert_eq!(line["consecutiveFailures"], 1);
    assert_eq!(line["alerts"], json!([]), "below --max-query-failures 3");
    // Saved after the round: a restart counts on from the failure already seen.
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["consecutiveFailures"], 1, "{saved:#}");
}

/// Points the seeded sandbox's `monitoring/prometheus` Service at a real server.
fn route_prometheus_service(sandbox: &sealos_sandbox::Sandbox, upstream: &str) {
    sandbox
        .modify("", "services", "monitoring", "prometheus", |svc| {
            svc["metadata"]["annotations"]["sandbox.sealos.io/upstream"] = json!(upstream);
        })
        .unwrap();
}

/// The default path: no `--prometheus-url`, the monitor and the check reach Prometheus through the
/// API server's `services/prometheus:9090/proxy` (the sandbox forwards it to the real server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_and_the_check_reach_prometheus_through_the_service_proxy() {
    let exporter = Exporter::default();
    exporter.set("t-healthy", "api", HEALTHY);
    exporter.set("t-errors", "api", FAILING);
    let prometheus = PrometheusServer::start(&[exporter.start().await]).await;
    let prom = direct(&prometheus.url);
    wait_verdict(&prom, "t-healthy", Verdict::Ok).await;
    wait_verdict(&prom, "t-errors", Verdict::Alert).await;

    let sandbox =
        sealos_sandbox::Sandbox::start(sealos_sandbox::SandboxOptions::scenario("sealos"))
            .await
            .unwrap();
    let kubeconfig = sandbox.kubeconfig_path().display().to_string();
    let via_proxy = |namespace: &str| {
        let mut args = once_args("unused", namespace, &[]);
        // Drop `--prometheus-url unused`: the default service path is what is under test.
        let at = args.iter().position(|a| a == "--prometheus-url").unwrap();
        args.drain(at..at + 2);
        args.extend(["--kubeconfig".to_string(), kubeconfig.clone()]);
        args
    };

    // Before the Service has an upstream the API server answers 503 "no endpoints": blind, exit 2.
    let (code, stdout, stderr) = monitor_once(via_proxy("t-healthy")).await;
    assert_eq!(code, 2, "{stdout}{stderr}");
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["state"], "blind");
    let error = line["error"].as_str().unwrap();
    assert!(
        error.contains("service monitoring/prometheus:9090 (through the API server)")
            && error.contains("no endpoints available"),
        "{error}"
    );

    route_prometheus_service(&sandbox, &prometheus.url);
    let mark = sandbox.request_log().len();
    let (code, stdout, stderr) = monitor_once(via_proxy("t-healthy")).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["state"], "ok", "{line:#}");
    assert_eq!(line["alerts"], json!([]));
    let proxied: Vec<_> = sandbox
        .request_log()
        .since(mark)
        .into_iter()
        .filter(|r| {
            r.path == "/api/v1/namespaces/monitoring/services/prometheus:9090/proxy/api/v1/query"
        })
        .collect();
    assert!(!proxied.is_empty(), "no query went through the proxy");
    assert!(
        proxied
            .iter()
            .all(|r| r.method == "GET" && r.status == 200 && r.query.starts_with("query=")),
        "{proxied:#?}"
    );

    let (code, stdout, stderr) = monitor_once(via_proxy("t-errors")).await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["state"], "alert", "{line:#}");
    let keys: Vec<&str> = line["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alert"]["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["error-rate/overall", "error-rate/t-errors/api"]);

    // The library on the same path: a query, and Prometheus's error envelope (HTTP 400) passed
    // through the proxy, which is Prometheus refusing the query, not the API server failing.
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(sandbox.kubeconfig_path()).unwrap(),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    let proxied = Prometheus::service_proxy(
        kube::Client::try_from(config).unwrap(),
        "monitoring",
        "prometheus:9090",
    );
    let up = proxied.query("count(istio_requests_total)", None).await;
    assert!(up.unwrap().single_value().unwrap() >= 4.0);
    let err = proxied.query("sum(", None).await.unwrap_err();
    assert!(
        matches!(&err, PromError::Api { error_type, .. } if error_type == "bad_data"),
        "{err}"
    );

    // The check's traffic area through the same path.
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        run_binary(
            &[
                "check",
                "--only",
                "traffic",
                "--kubeconfig",
                &kubeconfig,
                "--window",
                "10s",
                "--min-requests",
                "20",
                "-o",
                "json",
            ],
            &[],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    support::assert_report_schema(&report);
    assert_eq!(report["status"], "FAIL");
    let failing: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "FAIL")
        .map(|f| f["object"]["namespace"].as_str().unwrap_or("overall"))
        .collect();
    assert_eq!(failing, ["t-errors", "overall"], "{stdout}");
    assert_eq!(report["traffic"]["services"].as_array().unwrap().len(), 2);
    drop(prometheus);
}
