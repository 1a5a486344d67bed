//! `health rules`: the printed PrometheusRule passes the real `promtool check rules`, and
//! `--apply` (with and without `--dry-run`) server-side applies it to the sandbox cluster.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use sealos_sandbox::{Sandbox, SandboxOptions};
use serde_json::Value;
use support::run_binary;

/// Writes the rule groups to a file and runs `promtool check rules` on it.
fn promtool(groups: &Value) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    let doc = serde_json::json!({ "groups": groups });
    std::fs::write(&path, serde_saphyr::to_string(&doc).unwrap()).unwrap();
    let output = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .expect("promtool (Debian package prometheus) must be installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn printed(args: &[&str]) -> Value {
    let mut all = vec!["rules"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run_binary(&all, &[]);
    assert_eq!(code, 0, "{stderr}");
    serde_saphyr::from_str(&stdout).unwrap()
}

#[test]
fn the_printed_rules_pass_promtool() {
    let rule = printed(&[]);
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule["kind"], "PrometheusRule");
    assert_eq!(rule["metadata"]["namespace"], "monitoring");
    let (ok, text) = promtool(&rule["spec"]["groups"]);
    assert!(ok, "{text}");
    assert!(text.contains("SUCCESS: 5 rules found"), "{text}");

    let tuned = printed(&[
        "--error-rate",
        "0.02",
        "--p95-ms",
        "250",
        "--proxy-memory",
        "0.9",
        "--window",
        "10m",
        "-o",
        "json",
    ]);
    let (ok, text) = promtool(&tuned["spec"]["groups"]);
    assert!(ok, "{text}");
    let expr = tuned["spec"]["groups"][0]["rules"][0]["expr"]
        .as_str()
        .unwrap();
    assert!(
        expr.contains("[10m]") && expr.ends_with(") > 0.02"),
        "{expr}"
    );

    // promtool does reject a broken rule: the check above can fail.
    let mut broken = rule["spec"]["groups"].clone();
    broken[0]["rules"][0]["expr"] = Value::String("sum(rate(istio_requests_total[5m])".into());
    let (ok, text) = promtool(&broken);
    assert!(!ok, "{text}");

    let (code, _, stderr) = run_binary(&["rules", "--error-rate", "7"], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--error-rate 7 is not a ratio"), "{stderr}");
}

/// Numbers that would silently never alert, or overflow a clock, are bad input in every command.
#[test]
fn non_finite_thresholds_and_endless_durations_exit_2() {
    for (args, message) in [
        (
            &["rules", "--p95-ms", "NaN"][..],
            "--p95-ms and --window must be positive",
        ),
        (
            &["rules", "--p95-ms", "inf"],
            "--p95-ms and --window must be positive",
        ),
        (
            &["rules", "--proxy-memory", "NaN"],
            "--proxy-memory NaN is not a ratio",
        ),
        (
            &["check", "--p95-ms", "NaN"],
            "--p95-ms and --window must be positive",
        ),
        (
            &[
                "monitor",
                "--once",
                "--prometheus-url",
                "http://127.0.0.1:9",
                "--min-requests",
                "NaN",
            ],
            "--p95-ms must be positive and --min-requests not negative",
        ),
        (
            &["monitor", "--once", "--interval", "500000000y"],
            "is too long",
        ),
        (
            &["check", "--request-timeout", "10000000000000000000"],
            "is too long",
        ),
    ] {
        let (code, _, stderr) = run_binary(args, &[]);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_is_server_side_and_dry_run_writes_nothing() {
    let sandbox = Sandbox::start(SandboxOptions::scenario("sealos"))
        .await
        .unwrap();
    let kubeconfig = sandbox.kubeconfig_path().display().to_string();
    let audit_dir = tempfile::tempdir().unwrap();
    let audit = audit_dir.path().join("audit.jsonl").display().to_string();
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_binary(&args, &[])
        })
    };
    let base = |extra: &[&str]| {
        let mut v: Vec<String> = [
            "rules",
            "--apply",
            "--kubeconfig",
            &kubeconfig,
            "--audit-log",
            &audit,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let stored = || {
        sandbox.object(
            "monitoring.coreos.com",
            "prometheusrules",
            "monitoring",
            "sealos-istio-alerts",
        )
    };

    let mark = sandbox.request_log().len();
    let (code, stdout, stderr) = run(base(&["--dry-run"])).await.unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.trim(),
        "prometheusrule.monitoring.coreos.com/sealos-istio-alerts serverside-applied (server dry run)"
    );
    let writes: Vec<_> = sandbox
        .request_log()
        .since(mark)
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert!(
        writes[0].is_dry_run() && writes[0].method == "PATCH",
        "{writes:#?}"
    );
    assert_eq!(writes[0].content_type, "application/apply-patch+yaml");
    assert!(stored().is_none(), "a dry run stored the rule");

    let (code, stdout, stderr) = run(base(&[])).await.unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.trim(),
        "prometheusrule.monitoring.coreos.com/sealos-istio-alerts serverside-applied"
    );
    let rule = stored().unwrap();
    let printed = printed(&[]);
    assert_eq!(rule["spec"], printed["spec"]);

    // Apply again with a new threshold: updated in place.
    let (code, _, stderr) = run(base(&["--p95-ms", "750"])).await.unwrap();
    assert_eq!(code, 0, "{stderr}");
    let expr = stored().unwrap()["spec"]["groups"][1]["rules"][0]["expr"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(expr.ends_with(") > 750"), "{expr}");

    let records: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["dry_run"], true);
    assert_eq!(records[2]["action"], "rules apply");
    assert!(
        records[2]["before"]["groups"].is_array(),
        "the third apply saw the second's rule"
    );
    assert_eq!(records[2]["outcome"], "ok");
}
