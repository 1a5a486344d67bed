//! `connectivity`, `performance` and `certificates` against the sandbox cluster: the seeded
//! cluster's healthy apps, then each broken link of the path, in-process and with the binary.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use clap::Parser;
use kubectl_sealos_diag::connectivity::{self, Report};
use kubectl_sealos_diag::finding::Level;
use kubectl_sealos_diag::{Args, Command};
use serde_json::{Value, json};
use support::*;

fn connectivity_args(argv: &[&str]) -> connectivity::ConnectivityArgs {
    let mut full = vec!["kubectl-sealos-diag", "connectivity"];
    full.extend_from_slice(argv);
    match Args::try_parse_from(full).unwrap().command {
        Command::Connectivity(c) => c,
        other => panic!("not connectivity: {other:?}"),
    }
}

async fn diagnose(objects: Vec<Value>, ns: &str, argv: &[&str]) -> Report {
    let sandbox = start(objects).await;
    let kube = kube(&sandbox, ns).await;
    let mut args = connectivity_args(argv);
    args.envoy_timeout = Duration::from_secs(3);
    connectivity::diagnose(&args, &kube).await.unwrap()
}

/// The JSON contract: the real output validates, and the schema is strict enough to notice.
fn assert_schema(report: &Value) {
    let schema: Value =
        serde_json::from_str(include_str!("../schema/connectivity.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{report:#}");
    let mut tampered = report.clone();
    tampered["findings"][0]["level"] = json!("fatal");
    assert!(!validator.is_valid(&tampered));
}

fn codes(report: &Report) -> Vec<(&'static str, Level)> {
    report.findings.iter().map(|f| (f.code, f.level)).collect()
}

fn verdict<'a>(report: &'a Report, step: &str) -> &'a str {
    report
        .steps
        .iter()
        .find(|s| s.step == step)
        .map(|s| s.verdict.as_str())
        .unwrap_or_else(|| panic!("no step {step}: {:#?}", report.steps))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_app_passes_every_step_but_envoy_which_is_unreachable() {
    let report = diagnose(seeded(), "ns-carol", &["blog"]).await;
    // The sandbox has no pods/portforward yet: the Envoy step says so plainly, as a warning.
    assert_eq!(
        codes(&report),
        [("ENVOY_UNREACHABLE", Level::Warning)],
        "{:#?}",
        report.findings
    );
    assert!(!report.failed, "warnings stay below the default threshold");
    for step in [
        "pods",
        "service",
        "virtualservice",
        "destinationrule",
        "gateway",
        "certificate",
    ] {
        assert_eq!(verdict(&report, step), "ok", "{step}: {:#?}", report.steps);
    }
    assert_eq!(verdict(&report, "envoy"), "warning");
    assert_eq!(report.hosts, ["blog-test.cloud.sealos.io"]);
    let envoy = &report.findings[0];
    assert_eq!(envoy.object.kind, "Pod");
    assert!(envoy.message.contains("15000"), "{}", envoy.message);

    // Two versions behind subsets, both with pods: also healthy.
    let report = diagnose(seeded(), "ns-bob", &["app-test", "--skip-envoy"]).await;
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_eq!(verdict(&report, "envoy"), "skipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_endpoints_and_a_selector_mismatch() {
    let objects = seeded_with("Endpoints", "ns-carol", "blog", |e| {
        e["subsets"] = json!([]);
    });
    let report = diagnose(objects, "ns-carol", &["blog", "--skip-envoy"]).await;
    assert_eq!(codes(&report), [("ENDPOINTS_EMPTY", Level::Error)]);
    assert!(report.failed);
    assert_eq!(verdict(&report, "service"), "error");

    let objects = seeded_with("Service", "ns-carol", "blog", |s| {
        s["spec"]["selector"] = json!({"app": "blog-old"});
    });
    let report = diagnose(objects, "ns-carol", &["blog", "--skip-envoy"]).await;
    assert!(
        codes(&report).contains(&("SVC_SELECTOR_MISMATCH", Level::Error)),
        "{:#?}",
        report.findings
    );
    let mismatch = report
        .findings
        .iter()
        .find(|f| f.code == "SVC_SELECTOR_MISMATCH")
        .unwrap();
    assert!(
        mismatch.message.contains("app=blog-old"),
        "{}",
        mismatch.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_gateway_and_a_wrong_destination_port() {
    let objects: Vec<Value> = seeded()
        .into_iter()
        .filter(|o| !is(o, "Gateway", "istio-system", "sealos-gateway"))
        .collect();
    let report = diagnose(objects, "ns-carol", &["blog", "--skip-envoy"]).await;
    assert_eq!(codes(&report), [("VS_GATEWAY_MISSING", Level::Error)]);
    assert!(
        report.findings[0]
            .message
            .contains("istio-system/sealos-gateway")
    );

    let objects = seeded_with("VirtualService", "ns-carol", "blog", |vs| {
        vs["spec"]["http"][0]["route"][0]["destination"]["port"]["number"] = json!(8080);
    });
    let report = diagnose(objects, "ns-carol", &["blog", "--skip-envoy"]).await;
    assert_eq!(codes(&report), [("VS_DEST_PORT", Level::Error)]);
    assert!(report.findings[0].message.contains("8080"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subset_without_pods_and_a_missing_sidecar() {
    let objects = seeded_with("DestinationRule", "ns-bob", "app-test", |dr| {
        dr["spec"]["subsets"][1]["labels"] = json!({"version": "v9"});
    });
    let report = diagnose(objects, "ns-bob", &["app-test", "--skip-envoy"]).await;
    assert_eq!(codes(&report), [("DR_SUBSET_NO_PODS", Level::Error)]);
    assert!(report.findings[0].message.contains("version=v9"));

    let objects = seeded_with("Deployment", "ns-carol", "blog", |d| {
        let containers = d["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap();
        containers.retain(|c| c["name"] != "istio-proxy");
    });
    let report = diagnose(objects, "ns-carol", &["blog"]).await;
    assert_eq!(
        codes(&report),
        [("SIDECAR_MISSING", Level::Error)],
        "{:#?}",
        report.findings
    );
    // No sidecar, no Envoy to ask.
    assert_eq!(verdict(&report, "envoy"), "skipped");
    assert_schema(&serde_json::to_value(&report).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_behind_the_host() {
    let now = jiff::Timestamp::now();
    let day = jiff::SignedDuration::from_hours(24);
    let (crt, key) = leaf(
        &["blog-test.cloud.sealos.io"],
        now - day * 90,
        now - day * 2,
    );
    let objects = seeded_with("Secret", "ns-carol", "blog-tls", |s| {
        s["data"]["tls.crt"] = json!(b64(&crt));
        s["data"]["tls.key"] = json!(b64(&key));
    });
    let report = diagnose(objects, "ns-carol", &["blog", "--skip-envoy"]).await;
    assert_eq!(
        codes(&report),
        [("CERT_EXPIRED", Level::Error)],
        "{:#?}",
        report.findings
    );
    assert_eq!(report.findings[0].object.name, "blog-tls");
    assert!(report.failed);

    // The seeded terminal certificate has 5 days left: an error under the 7-day line.
    let report = diagnose(seeded(), "ns-alice", &["terminal-test", "--skip-envoy"]).await;
    assert!(
        codes(&report).contains(&("CERT_EXPIRING", Level::Error)),
        "{:#?}",
        report.findings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exits_by_threshold_whatever_the_output() {
    let sandbox = start(seeded()).await;
    let home = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "connectivity",
            "blog",
            "-n",
            "ns-carol",
            "--envoy-timeout",
            "3s",
        ];
        args.extend_from_slice(extra);
        let output = binary(&sandbox, home.path(), &args);
        (output.status.code(), describe(&args, &output), output)
    };
    let (code, what, _) = run(&[]);
    assert_eq!(code, Some(0), "{what}");
    assert!(what.contains("ENVOY_UNREACHABLE"), "{what}");
    for format in ["table", "json"] {
        let (code, what, output) = run(&["--fail-on", "warn", "-o", format]);
        assert_eq!(code, Some(1), "{what}");
        if format == "json" {
            let report: Value = serde_json::from_slice(&output.stdout).unwrap();
            assert_schema(&report);
            assert_eq!(report["findings"][0]["code"], "ENVOY_UNREACHABLE");
            assert_eq!(report["findings"][0]["level"], "warning");
            assert_eq!(report["failed"], true);
        }
    }
    let (code, what, _) = run(&["--fail-on", "fatal"]);
    assert_eq!(code, Some(2), "{what}");
    // The old name is refused with the new one, whatever its value.
    for old in [
        &["--failure-threshold", "warning"][..],
        &["--failure-threshold"],
    ] {
        let (code, what, output) = run(old);
        assert_eq!(code, Some(2), "{what}");
        assert!(
            String::from_utf8_lossy(&output.stderr)
                .contains("--failure-threshold was renamed: use --fail-on warn|fail"),
            "{what}"
        );
    }
    let args = ["connectivity", "Bad_Name"];
    let output = binary(&sandbox, home.path(), &args);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        describe(&args, &output)
    );
}

/// The table fits the terminal: with COLUMNS=100 every line of `connectivity app-test -n ns-bob`
/// (whose port-forward error is hundreds of characters long) is at most 100 characters, the long
/// error is shortened in its cell and whole under the table; `-o wide` is not wrapped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_fits_columns_and_long_errors_go_under_it() {
    let sandbox = start(seeded()).await;
    let home = tempfile::tempdir().unwrap();
    let run = |columns: &str, extra: &[&str]| {
        let mut args = vec![
            "connectivity",
            "app-test",
            "-n",
            "ns-bob",
            "--envoy-timeout",
            "3s",
        ];
        args.extend_from_slice(extra);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-sealos-diag"))
            .args(&args)
            .env("HOME", home.path())
            .env("KUBECONFIG", sandbox.kubeconfig_path())
            .env("NO_COLOR", "1")
            .env("COLUMNS", columns)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let what = describe(&args, &output);
        (String::from_utf8_lossy(&output.stdout).into_owned(), what)
    };
    let (stdout, what) = run("100", &[]);
    assert!(stdout.lines().count() > 3, "{what}");
    for line in stdout.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} chars: {line:?}\n{what}",
            line.chars().count()
        );
    }
    // Unwrapped, the longest line of -o wide is wider: the fit above was work, not luck.
    let (wide, what) = run("100", &["-o", "wide"]);
    assert!(wide.lines().any(|l| l.chars().count() > 100), "{what}");
    if wide.lines().any(|l| l.chars().count() > 160) {
        assert!(stdout.contains("[1]"), "a long cell is marked\n{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn performance_ranks_proxies_in_every_unit() {
    // One sidecar's usage in Ki, to read every unit the metrics API may answer in.
    let objects = seeded_with("Deployment", "ns-carol", "blog", |d| {
        let annotations = &mut d["spec"]["template"]["metadata"]["annotations"];
        annotations["sandbox.sealos.io/usage"] = json!(
            json!({"ghost": {"cpu": "0.008", "memory": "115343360"},
                   "istio-proxy": {"cpu": "5000000n", "memory": "71680Ki"}})
            .to_string()
        );
    });
    let sandbox = start(objects).await;
    let home = tempfile::tempdir().unwrap();
    let args = ["performance", "-o", "json"];
    let output = binary(&sandbox, home.path(), &args);
    let what = describe(&args, &output);
    // Proxies above their limit and istiod errors in the window: a problem.
    assert_eq!(output.status.code(), Some(1), "{what}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let proxies = report["proxies"].as_array().unwrap();
    let first = &proxies[0];
    assert_eq!(first["namespace"], "ns-bob", "{what}");
    assert_eq!(first["memory_bytes"], 312 << 20);
    assert_eq!(first["memory_limit_bytes"], 256 << 20);
    assert!((first["memory_share"].as_f64().unwrap() - 1.21875).abs() < 1e-9);
    assert_eq!(first["cpu_millis"], 35);
    // app-test v1's two pods above the limit, resources-controller's at 90%.
    assert_eq!(report["proxies_over_threshold"], 3, "{what}");
    let find = |ns: &str, prefix: &str| {
        proxies
            .iter()
            .find(|p| p["namespace"] == ns && p["pod"].as_str().unwrap().starts_with(prefix))
            .unwrap_or_else(|| panic!("no proxy {ns}/{prefix}*: {what}"))
    };
    // 0.2Gi, rounded up to whole bytes; 71680Ki; 5000000n of CPU is 5m.
    assert_eq!(find("ns-bob", "app-test-v2")["memory_bytes"], 214_748_365);
    assert_eq!(find("ns-carol", "blog")["memory_bytes"], 70 << 20);
    assert_eq!(find("ns-carol", "blog")["cpu_millis"], 5);
    // Ranked by memory.
    let memory: Vec<i64> = proxies
        .iter()
        .map(|p| p["memory_bytes"].as_i64().unwrap())
        .collect();
    assert!(memory.windows(2).all(|w| w[0] >= w[1]), "{memory:?}");
    // istio-system's pods, istiod at 0.21Gi.
    let istiod = report["control_plane"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["container"] == "discovery")
        .unwrap();
    assert_eq!(istiod["memory_bytes"], 225_485_784);
    // The two istiod errors of the last ten minutes, not the older ones.
    assert_eq!(report["istiod_error_lines"], 2, "{what}");
    let scopes: Vec<&str> = report["istiod_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["scope"].as_str().unwrap())
        .collect();
    assert!(
        scopes.contains(&"ads") && scopes.contains(&"secretcontroller"),
        "{scopes:?}"
    );
    assert_eq!(report["notes"], json!([]));

    // A longer window sees the older errors too; the table names the heaviest proxy.
    let args = ["performance", "--since", "2h"];
    let output = binary(&sandbox, home.path(), &args);
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        text.contains("312Mi") && text.contains("122%"),
        "{}",
        describe(&args, &output)
    );
    assert!(text.contains("Failed to watch"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_report_reasons_and_cert_manager_errors() {
    let sandbox = start(seeded()).await;
    let home = tempfile::tempdir().unwrap();
    let args = ["certificates", "-o", "json"];
    let output = binary(&sandbox, home.path(), &args);
    let what = describe(&args, &output);
    assert_eq!(output.status.code(), Some(1), "{what}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let problems = report["problems"].as_array().unwrap();
    let names: Vec<&str> = problems
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"terminal-test-tls"), "{what}");
    assert!(names.contains(&"dbadmin-test-tls"), "{what}");
    assert!(!names.contains(&"app-test-tls"), "{what}");
    let terminal = problems
        .iter()
        .find(|p| p["name"] == "terminal-test-tls")
        .unwrap();
    assert_eq!(terminal["verdict"], "critical");
    assert_eq!(terminal["days_left"], 5);
    let dbadmin = problems
        .iter()
        .find(|p| p["name"] == "dbadmin-test-tls")
        .unwrap();
    assert!(
        dbadmin["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("issuance failed")),
        "{what}"
    );
    // cert-manager's errors in the last ten minutes: at 6 and 2 minutes ago.
    assert_eq!(report["cert_manager_error_lines"], 2, "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_is_read_through_a_port_forward_to_a_stand_in_admin_server() {
    let sandbox = start(seeded()).await;
    let kube = kube(&sandbox, "ns-carol").await;
    let mut args = connectivity_args(&["blog", "--envoy-timeout", "5s"]);
    args.envoy_timeout = Duration::from_secs(5);

    // Healthy clusters: every step passes.
    let (addr, served) = envoy_admin(blog_clusters(&["HEALTHY"])).await;
    forward_admin_port(&sandbox, "ns-carol", "blog-", &addr.to_string());
    let report = connectivity::diagnose(&args, &kube).await.unwrap();
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_eq!(verdict(&report, "envoy"), "ok");
    assert!(served.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    let envoy = report.steps.iter().find(|s| s.step == "envoy").unwrap();
    assert!(
        envoy.summary.contains("2 for the Service"),
        "{}",
        envoy.summary
    );

    // No healthy endpoint in the proxy's view.
    let (addr, _) = envoy_admin(blog_clusters(&["UNHEALTHY"])).await;
    forward_admin_port(&sandbox, "ns-carol", "blog-", &addr.to_string());
    let report = connectivity::diagnose(&args, &kube).await.unwrap();
    assert_eq!(
        codes(&report),
        [
            ("ENVOY_CLUSTER_UNHEALTHY", Level::Error),
            ("ENVOY_CLUSTER_UNHEALTHY", Level::Error)
        ],
        "{:#?}",
        report.findings
    );
    assert!(report.failed);

    // The admin port named but nothing listening: a plain finding, not a crash.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    forward_admin_port(&sandbox, "ns-carol", "blog-", &closed_addr);
    let report = connectivity::diagnose(&args, &kube).await.unwrap();
    assert_eq!(
        codes(&report),
        [("ENVOY_UNREACHABLE", Level::Warning)],
        "{:#?}",
        report.findings
    );
    assert!(!report.failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_links_pods_hosts_and_credentials() {
    // The Gateway selects no running pod.
    let objects = seeded_with("Gateway", "istio-system", "sealos-gateway", |g| {
        g["spec"]["selector"] = json!({"istio": "egressgateway"});
    });
    let report = diagnose(objects, "ns-carol", &["blog", "--skip-envoy"]).await;
    assert_eq!(
        codes(&report),
        [("GW_NO_PODS", Level::Error)],
        "{:#?}",
        report.findings
    );

    // Its servers do not list the host.
    let objects = seeded_with("Gateway", "istio-system", "sealos-gateway", |g| {
        for server in g["spec"]["servers"].as_array_mut().unwrap() {
            server["hosts"] = json!(["*.other.io"]);
        }
    });
    let report = diagnose(objects, "ns-carol", &["blog", "--skip-envoy"]).await;
    assert_eq!(
        codes(&report),
        [("GW_HOST_NOT_COVERED", Level::Error)],
        "{:#?}",
        report.findings
    );

    // Its TLS credential is gone.
    let objects: Vec<Value> = seeded()
        .into_iter()
        .filter(|o| !is(o, "Secret", "istio-system", "wildcard-cloud-sealos-io-tls"))
        .collect();
    let report = diagnose(objects, "ns-carol", &["blog", "--skip-envoy"]).await;
    let found = codes(&report);
    assert!(
        found.contains(&("GW_TLS_SECRET_MISSING", Level::Error)),
        "{found:?}"
    );

    // A destination that names no Service.
    let objects = seeded_with("VirtualService", "ns-carol", "blog", |vs| {
        let route = vs["spec"]["http"][0]["route"][0].clone();
        let mut gone = route.clone();
        gone["destination"]["host"] = json!("blog-gone");
        vs["spec"]["http"][0]["route"] = json!([route, gone]);
    });
    let report = diagnose(objects, "ns-carol", &["blog", "--skip-envoy"]).await;
    assert_eq!(
        codes(&report),
        [("VS_DEST_MISSING", Level::Error)],
        "{:#?}",
        report.findings
    );
    assert!(report.findings[0].message.contains("ns-carol/blog-gone"));
}
