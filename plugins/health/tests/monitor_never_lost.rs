//! Alerts that are never lost, against a real Prometheus scraping a stand-in exporter: a Slack
//! that is down when the alert fires gets it on the next round (and a "resolved" too), a dead
//! sink never stalls a round, `--once --state FILE` fires once and resolves once over three cron
//! runs, the state lives in a ConfigMap that real kubectl reads, and a service whose traffic
//! stops is not "resolved". Rounds are driven one by one with an injected wall clock; Prometheus
//! is waited for by polling its API for the expected state.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use kubectl_sealos_health::monitor::{CONFIGMAP_KEY, Monitor, StateLocation, StateStore};
use sealos_shared::alert::{Sink, SlackWebhook, Syslog, SyslogFormat};
use sealos_shared::connection::KubeFlags;
use sealos_shared::prometheus::Prometheus;
use sealos_shared::retry::Backoff;
use sealos_shared::traffic::{self, NoDataPolicy, TrafficReport, TrafficSpec, Verdict};
use serde_json::{Value, json};
use support::{
    Exporter, FAILING, HEALTHY, PrometheusServer, QUIET, SlackReceiver, SyslogSocket, direct, fast,
    run_binary, wait_for,
};

fn spec(namespace: &str, per_service: bool) -> TrafficSpec {
    TrafficSpec {
        window: Duration::from_secs(10),
        matchers: vec![("destination_service_namespace".into(), namespace.into())],
        max_error_rate: 0.05,
        max_p95_ms: 500.0,
        min_requests: 20.0,
        on_no_data: NoDataPolicy::Warn,
        per_service,
    }
}

fn at(start: Timestamp, seconds: i64) -> Timestamp {
    start + SignedDuration::from_secs(seconds)
}

/// Polls Prometheus (through the analysis) until `condition` holds on its report.
async fn wait_report(
    prom: &Prometheus,
    spec: &TrafficSpec,
    what: &str,
    condition: impl Fn(&TrafficReport) -> bool,
) {
    wait_for(what, Duration::from_secs(90), || {
        let spec = spec.clone();
        let condition = &condition;
        async move {
            traffic::analyse(prom, &spec)
                .await
                .is_ok_and(|r| condition(&r))
        }
    })
    .await;
}

async fn wait_verdict(prom: &Prometheus, namespace: &str, verdict: Verdict) {
    let s = spec(namespace, true);
    let min = s.min_requests;
    wait_report(
        prom,
        &s,
        &format!("{namespace} to be judged {verdict:?}"),
        |r| r.verdict == verdict && r.overall.requests >= min,
    )
    .await;
}

fn actions(round: &kubectl_sealos_health::monitor::RoundReport) -> Vec<(&str, &str)> {
    round
        .alerts
        .iter()
        .map(|a| (a.action, a.alert.key.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_down_when_the_alert_fires_gets_it_on_the_next_round_and_the_resolve_too() {
    let exporter = Exporter::default();
    exporter.set("t-down", "api", FAILING);
    let prometheus = PrometheusServer::start(&[exporter.start().await]).await;
    let prom = direct(&prometheus.url);
    wait_verdict(&prom, "t-down", Verdict::Alert).await;

    let slack = SlackReceiver::default();
    let url = slack.start().await;
    let syslog = SyslogSocket::bind();
    let mut monitor = Monitor::new(
        prom.clone(),
        spec("t-down", false),
        3,
        Duration::from_secs(3600),
        Some(SlackWebhook::new(&url, Duration::from_secs(5), fast()).unwrap()),
        Some(Syslog::new(syslog.path(), SyslogFormat::Rfc3164)),
    );
    let start = Timestamp::now();

    // Slack answers 500 when the alert fires: stdout and syslog take it, Slack is owed it.
    slack.set_down(true);
    let round = monitor.round(start).await;
    assert_eq!(actions(&round), [("fire", "error-rate/overall")]);
    let sent = &round.alerts[0];
    assert_eq!(sent.delivered_to, [Sink::Stdout, Sink::Syslog]);
    assert_eq!(sent.delivery_errors.len(), 1, "{:?}", sent.delivery_errors);
    assert!(
        sent.delivery_errors[0].starts_with("slack webhook: Slack answered 500")
            && sent.delivery_errors[0].ends_with("(after 3 attempts)"),
        "{:?}",
        sent.delivery_errors
    );
    assert_eq!(
        slack.bodies().len(),
        3,
        "three attempts reached the stand-in"
    );
    assert!(slack.accepted().is_empty());
    assert_eq!(syslog.drain().len(), 1);

    // Slack is back: the next round sends it there, and only there.
    slack.set_down(false);
    let round = monitor.round(at(start, 300)).await;
    assert_eq!(actions(&round), [("fire", "error-rate/overall")]);
    assert_eq!(round.alerts[0].delivered_to, [Sink::Slack]);
    assert!(round.alerts[0].delivery_errors.is_empty());
    let accepted = slack.accepted();
    assert_eq!(
        accepted.len(),
        1,
        "exactly once after recovery: {accepted:#?}"
    );
    let text = accepted[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with(":rotating_light: High error rate\noverall: 5xx ratio "),
        "{text}"
    );
    assert!(syslog.drain().is_empty(), "syslog took it already");

    // Still bad, within --repeat: nobody is sent it again.
    let round = monitor.round(at(start, 600)).await;
    assert!(round.alerts.is_empty(), "{:?}", round.alerts);
    assert_eq!(slack.accepted().len(), 1);
    assert_eq!(round.firing, ["error-rate/overall"]);

    // It clears while Slack is down: the "resolved" is retried too, not lost.
    exporter.set("t-down", "api", HEALTHY);
    wait_verdict(&prom, "t-down", Verdict::Ok).await;
    slack.set_down(true);
    let round = monitor.round(at(start, 900)).await;
    assert_eq!(actions(&round), [("resolve", "error-rate/overall")]);
    assert_eq!(round.alerts[0].delivered_to, [Sink::Stdout, Sink::Syslog]);
    assert_eq!(round.alerts[0].delivery_errors.len(), 1);
    assert!(round.firing.is_empty());
    assert_eq!(syslog.drain().len(), 1);

    slack.set_down(false);
    let round = monitor.round(at(start, 1200)).await;
    assert_eq!(actions(&round), [("resolve", "error-rate/overall")]);
    assert_eq!(round.alerts[0].delivered_to, [Sink::Slack]);
    let accepted = slack.accepted();
    assert_eq!(accepted.len(), 2, "{accepted:#?}");
    assert!(
        accepted[1]["text"]
            .as_str()
            .unwrap()
            .starts_with(":white_check_mark: Resolved: High error rate\n"),
        "{:?}",
        accepted[1]
    );
    let round = monitor.round(at(start, 1500)).await;
    assert!(round.alerts.is_empty(), "{:?}", round.alerts);
    assert_eq!(slack.accepted().len(), 2);
    assert!(syslog.drain().is_empty());
    drop(prometheus);
}

/// A Slack that takes the connection and never answers: the round ends at its delivery deadline
/// with that reason, the other sinks have the alert, and the next round tries Slack again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_slack_ends_at_the_round_deadline_and_is_retried() {
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = hanging.local_addr().unwrap();
    let held = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    tokio::spawn({
        let held = held.clone();
        async move {
            while let Ok((stream, _)) = hanging.accept().await {
                held.lock().await.push(stream);
            }
        }
    });
    let garbage = support::serve(|_| (200, "text/plain", "not prometheus".into())).await;
    let syslog = SyslogSocket::bind();
    let mut monitor = Monitor::new(
        direct(&format!("http://{garbage}")),
        spec("t-any", false),
        1,
        Duration::from_secs(3600),
        // Each attempt may take a minute: only the round's deadline can end it.
        Some(
            SlackWebhook::new(
                &format!("http://{addr}/services/T/B/SECRETTOKEN"),
                Duration::from_secs(60),
                Backoff::default(),
            )
            .unwrap(),
        ),
        Some(Syslog::new(syslog.path(), SyslogFormat::Rfc3164)),
    )
    .with_deadline(Duration::from_millis(300));
    let start = Timestamp::now();
    let round = monitor.round(start).await;
    assert_eq!(round.state, "blind");
    assert_eq!(actions(&round), [("fire", "prometheus")]);
    assert_eq!(round.alerts[0].delivered_to, [Sink::Stdout, Sink::Syslog]);
    assert_eq!(
        round.alerts[0].delivery_errors,
        ["slack: no answer within the round's delivery deadline of 300ms"]
    );
    assert_eq!(syslog.drain().len(), 1);
    let round = monitor.round(at(start, 60)).await;
    assert_eq!(actions(&round), [("fire", "prometheus")]);
    assert!(round.alerts[0].delivered_to.is_empty());
    assert_eq!(round.alerts[0].delivery_errors.len(), 1);
    assert!(syslog.drain().is_empty(), "syslog is not sent it twice");
    assert!(
        !held.lock().await.is_empty(),
        "the stand-in held connections"
    );
}

fn once_args(url: &str, namespace: &str, state: &str) -> Vec<String> {
    [
        "monitor",
        "--once",
        "--prometheus-url",
        url,
        "--window",
        "10s",
        "--min-requests",
        "20",
        "--no-syslog",
        "--no-per-service",
        "--state",
        state,
        "-o",
        "json",
        "--match",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("destination_service_namespace={namespace}")])
    .collect()
}

async fn monitor_once(args: Vec<String>, slack: &str) -> (i32, Value, String) {
    let slack = slack.to_string();
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_binary(&args, &[("SLACK_WEBHOOK_URL", &slack)])
    })
    .await
    .unwrap();
    let line = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (code, line, format!("stdout: {stdout}\nstderr: {stderr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_runs_with_a_state_file_fire_once_and_resolve_once() {
    use std::os::unix::fs::PermissionsExt;
    let exporter = Exporter::default();
    exporter.set("t-cron", "api", FAILING);
    let prometheus = PrometheusServer::start(&[exporter.start().await]).await;
    let prom = direct(&prometheus.url);
    wait_verdict(&prom, "t-cron", Verdict::Alert).await;
    let slack = SlackReceiver::default();
    let hook = slack.start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("monitor-state.json");
    let args = once_args(&prometheus.url, "t-cron", state.to_str().unwrap());

    // Run 1, bad: fires.
    let (code, line, output) = monitor_once(args.clone(), &hook).await;
    assert_eq!(code, 1, "{output}");
    assert_eq!(line["alerts"][0]["action"], "fire", "{output}");
    assert_eq!(line["alerts"][0]["deliveredTo"], json!(["stdout", "slack"]));
    assert_eq!(slack.accepted().len(), 1);
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    support::assert_state_schema(&saved);
    assert_eq!(saved["format"], "kubectl-sealos-health/monitor-state");
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["alerts"][0]["alert"]["key"], "error-rate/overall");
    assert_eq!(saved["alerts"][0]["alert"]["phase"], "firing");
    assert_eq!(
        saved["alerts"][0]["delivered"]["slack"]["phase"], "firing",
        "{saved:#}"
    );
    let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // Run 2, still bad, within --repeat: nothing sent, still firing.
    let (code, line, output) = monitor_once(args.clone(), &hook).await;
    assert_eq!(code, 1, "{output}");
    assert_eq!(line["alerts"], json!([]), "{output}");
    assert_eq!(line["firing"], json!(["error-rate/overall"]));
    assert_eq!(slack.accepted().len(), 1);

    // Run 3, good: resolves, once.
    exporter.set("t-cron", "api", HEALTHY);
    wait_verdict(&prom, "t-cron", Verdict::Ok).await;
    let (code, line, output) = monitor_once(args.clone(), &hook).await;
    assert_eq!(code, 0, "{output}");
    assert_eq!(line["alerts"][0]["action"], "resolve", "{output}");
    let accepted = slack.accepted();
    assert_eq!(accepted.len(), 2);
    assert!(
        accepted[1]["text"]
            .as_str()
            .unwrap()
            .starts_with(":white_check_mark: Resolved: High error rate\n")
    );
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["alerts"], json!([]));

    // Run 4, still good: nothing.
    let (code, line, output) = monitor_once(args.clone(), &hook).await;
    assert_eq!(code, 0, "{output}");
    assert_eq!(line["alerts"], json!([]));
    assert_eq!(slack.accepted().len(), 2);

    // A state that is not ours, or corrupt: exit 2 before anything is sent, file untouched.
    exporter.set("t-cron", "api", FAILING);
    for (content, why) in [
        (
            r#"{"apiVersion":"v1","kind":"Config","clusters":[]}"#,
            "not a monitor state (its \"format\" is not \"kubectl-sealos-health/monitor-state\"); it is left untouched",
        ),
        (
            r#"{"format":"kubectl-sealos-health/monitor-state","version":1,"alerts":[{"#,
            "not a JSON object: ",
        ),
        (
            r#"{"format":"kubectl-sealos-health/monitor-state","version":9}"#,
            "version 9, and this monitor reads version 1",
        ),
        (
            r#"{"format":"kubectl-sealos-health/monitor-state","version":1,"alerts":[{"alert":{"key":"error-rate/overall","title":"t","message":"m","urgency":"critical","phase":"firing"},"since":"2999-01-01T00:00:00Z"}]}"#,
            "alert \"error-rate/overall\": since time 2999-01-01T00:00:00Z is in the future",
        ),
    ] {
        let other = dir.path().join("other.json");
        std::fs::write(&other, content).unwrap();
        let args = once_args(&prometheus.url, "t-cron", other.to_str().unwrap());
        let (code, _, output) = monitor_once(args, &hook).await;
        assert_eq!(code, 2, "{output}");
        assert!(
            output.contains(&format!(
                "error: read monitor state file {}: {why}",
                other.display()
            )),
            "{output}"
        );
        assert_eq!(std::fs::read_to_string(&other).unwrap(), content);
    }
    assert_eq!(slack.accepted().len(), 2, "nothing sent on a bad state");
    drop(prometheus);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_cluster_monitor_keeps_its_state_in_a_configmap() {
    let exporter = Exporter::default();
    exporter.set("t-cm", "api", FAILING);
    let prometheus = PrometheusServer::start(&[exporter.start().await]).await;
    let prom = direct(&prometheus.url);
    wait_verdict(&prom, "t-cm", Verdict::Alert).await;
    let slack = SlackReceiver::default();
    let hook = slack.start().await;
    let sandbox =
        sealos_sandbox::Sandbox::start(sealos_sandbox::SandboxOptions::scenario("sealos"))
            .await
            .unwrap();
    let kubeconfig = sandbox.kubeconfig_path().display().to_string();
    let mut args = once_args(
        &prometheus.url,
        "t-cm",
        "configmap/monitoring/sealos-monitor",
    );
    args.extend(["--kubeconfig".to_string(), kubeconfig.clone()]);

    let (code, line, output) = monitor_once(args.clone(), &hook).await;
    assert_eq!(code, 1, "{output}");
    assert_eq!(line["alerts"][0]["action"], "fire", "{output}");
    assert_eq!(slack.accepted().len(), 1);

    // Real kubectl reads what the monitor wrote.
    let kubectl = |extra: &[&str]| {
        let out = std::process::Command::new("kubectl")
            .args(["--kubeconfig", &kubeconfig, "-n", "monitoring"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let cm: Value = serde_json::from_str(&kubectl(&[
        "get",
        "configmap",
        "sealos-monitor",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(
        cm["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "kubectl-sealos-health"
    );
    let saved: Value = serde_json::from_str(cm["data"][CONFIGMAP_KEY].as_str().unwrap()).unwrap();
    support::assert_state_schema(&saved);
    assert_eq!(saved["alerts"][0]["alert"]["key"], "error-rate/overall");
    assert_eq!(saved["alerts"][0]["delivered"]["slack"]["phase"], "firing");

    // The next run reads it back: nothing is sent again.
    let (code, line, output) = monitor_once(args.clone(), &hook).await;
    assert_eq!(code, 1, "{output}");
    assert_eq!(line["alerts"], json!([]), "{output}");
    assert_eq!(slack.accepted().len(), 1);

    // Another key in the ConfigMap is left alone by the next write.
    kubectl(&[
        "patch",
        "configmap",
        "sealos-monitor",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"note":"kept"}}"#,
    ]);
    exporter.set("t-cm", "api", HEALTHY);
    wait_verdict(&prom, "t-cm", Verdict::Ok).await;
    let (code, line, output) = monitor_once(args.clone(), &hook).await;
    assert_eq!(code, 0, "{output}");
    assert_eq!(line["alerts"][0]["action"], "resolve", "{output}");
    let cm: Value = serde_json::from_str(&kubectl(&[
        "get",
        "configmap",
        "sealos-monitor",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(cm["data"]["note"], "kept");
    let saved: Value = serde_json::from_str(cm["data"][CONFIGMAP_KEY].as_str().unwrap()).unwrap();
    assert_eq!(saved["alerts"], json!([]));

    // Optimistic concurrency: a write since the store read it is a conflict, never overwritten.
    let flags = KubeFlags {
        kubeconfig: Some(sandbox.kubeconfig_path().to_path_buf()),
        ..KubeFlags::default()
    };
    let location: StateLocation = "configmap/monitoring/sealos-monitor".parse().unwrap();
    let (mut store, loaded) = StateStore::open(&location, Some(&flags.connect().await.unwrap()))
        .await
        .unwrap();
    let mut loaded = loaded.unwrap();
    kubectl(&[
        "patch",
        "configmap",
        "sealos-monitor",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"note":"changed by someone else"}}"#,
    ]);
    loaded.consecutive_failures = 7;
    let err = store.save(&loaded).await.unwrap_err();
    assert_eq!(err.status_code(), Some(409), "{err}");
    assert!(
        err.to_string().starts_with(
            "write monitor state configmap monitoring/sealos-monitor: Operation cannot be fulfilled"
        ),
        "{err}"
    );
    let cm: Value = serde_json::from_str(&kubectl(&[
        "get",
        "configmap",
        "sealos-monitor",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(cm["data"]["note"], "changed by someone else");
    let reread = store.reload().await.unwrap().unwrap();
    assert_eq!(reread.consecutive_failures, 0);
    store.save(&loaded).await.unwrap();
    let cm: Value = serde_json::from_str(&kubectl(&[
        "get",
        "configmap",
        "sealos-monitor",
        "-o",
        "json",
    ]))
    .unwrap();
    let saved: Value = serde_json::from_str(cm["data"][CONFIGMAP_KEY].as_str().unwrap()).unwrap();
    assert_eq!(saved["consecutiveFailures"], 7);
    assert_eq!(cm["data"]["note"], "changed by someone else");
    drop(prometheus);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_whose_traffic_stops_is_not_resolved() {
    let exporter = Exporter::default();
    exporter.set("t-stop", "api", FAILING);
    exporter.set("t-stop", "gone", FAILING);
    exporter.set("t-stop", "web", HEALTHY);
    let prometheus = PrometheusServer::start(&[exporter.start().await]).await;
    let prom = direct(&prometheus.url);
    let s = spec("t-stop", true);
    wait_report(&prom, &s, "three services, two failing", |r| {
        r.services.len() == 3
            && r.services
                .iter()
                .filter(|s| s.verdict == Verdict::Alert)
                .count()
                == 2
            && r.overall.verdict == Verdict::Alert
    })
    .await;
    let mut monitor = Monitor::new(
        prom.clone(),
        s.clone(),
        3,
        Duration::from_secs(3600),
        None,
        None,
    );
    let start = Timestamp::now();
    let round = monitor.round(start).await;
    assert_eq!(
        round.firing,
        [
            "error-rate/overall",
            "error-rate/t-stop/api",
            "error-rate/t-stop/gone"
        ]
    );

    // api stops sending traffic (its counters stay), gone's series vanish (pods deleted).
    exporter.set("t-stop", "api", QUIET);
    exporter.remove("t-stop", "gone");
    wait_report(&prom, &s, "api quiet, gone absent, overall good", |r| {
        let api = r.services.iter().find(|s| s.scope == "t-stop/api");
        api.is_some_and(|a| a.error_rate.is_none())
            && !r.services.iter().any(|s| s.scope == "t-stop/gone")
            && r.overall.error_rate.is_some_and(|e| e < 0.05)
    })
    .await;
    let round = monitor.round(at(start, 300)).await;
    // The total has data and is good: resolved. The silent services are not.
    assert_eq!(actions(&round), [("resolve", "error-rate/overall")]);
    assert_eq!(
        round.firing,
        ["error-rate/t-stop/api", "error-rate/t-stop/gone"]
    );
    let report = round.traffic.as_ref().unwrap();
    let api = report
        .services
        .iter()
        .find(|s| s.scope == "t-stop/api")
        .unwrap();
    assert_eq!(api.verdict, Verdict::Warn, "no data, per --on-no-data warn");

    // Traffic comes back good: now it is measured, and resolved.
    exporter.set("t-stop", "api", HEALTHY);
    wait_report(&prom, &s, "api measured good", |r| {
        r.services
            .iter()
            .any(|s| s.scope == "t-stop/api" && s.error_rate.is_some_and(|e| e < 0.05))
    })
    .await;
    let round = monitor.round(at(start, 600)).await;
    assert_eq!(actions(&round), [("resolve", "error-rate/t-stop/api")]);
    assert_eq!(round.firing, ["error-rate/t-stop/gone"]);
    drop(prometheus);
}
