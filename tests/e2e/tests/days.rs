//! `health` and `cert check` count a certificate's days the same way (`sealos_shared::certs`):
//! certificates one minute either side of a threshold (7 days, where the verdict changes) and of
//! a rounding boundary (7½ days, where the count changes) get the same days and the same verdict
//! from both.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::process::Command;

use sealos_e2e::{plugin_bin, run};
use sealos_sandbox::{Sandbox, SandboxOptions, Scenario};
use serde_json::{Value, json};

const NS: &str = "days";

/// (name, seconds from now to notAfter)
const CASES: [(&str, i64); 4] = [
    ("seven-days-plus-a-minute", 7 * 86_400 + 60),
    ("seven-days-less-a-minute", 7 * 86_400 - 60),
    ("seven-and-a-half-plus-a-minute", 7 * 86_400 + 43_200 + 60),
    ("seven-and-a-half-less-a-minute", 7 * 86_400 + 43_200 - 60),
];

fn certificate(name: &str, not_after: jiff::Timestamp) -> Value {
    json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "secretName": format!("{name}-tls"),
            "dnsNames": [format!("{name}.cloud.sealos.io")],
            "issuerRef": {"name": "selfsigned", "kind": "ClusterIssuer"},
        },
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "issued"}],
            "notAfter": not_after.to_string(),
        },
    })
}

/// The first number after "expires in " in `message`, with its unit.
fn expires_in(message: &str) -> String {
    let rest = message.split("expires in ").nth(1).unwrap_or("");
    rest.split(" (").next().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_cert_check_agree_on_days_at_the_boundaries() {
    // The binaries first: their build must not eat the minute either side of the boundary.
    sealos_e2e::bin_dir();
    let now = jiff::Timestamp::now();
    // The seeded cluster (for cert-manager's CRDs and issuers), and a namespace of our own.
    let mut objects = sealos_sandbox::scenario::builtin("sealos", now)
        .unwrap()
        .unwrap();
    objects.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}));
    for (name, seconds) in CASES {
        let not_after = now
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .unwrap();
        objects.push(certificate(name, not_after));
    }
    let sandbox = Sandbox::start(SandboxOptions {
        scenario: Scenario::Objects(objects),
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let plugin = |name: &str, args: &[&str]| {
        let mut command = Command::new(plugin_bin(name));
        command
            .args(args)
            .env("HOME", home.path())
            .env("KUBECONFIG", sandbox.kubeconfig_path())
            .env("NO_COLOR", "1")
            .env_remove("SLACK_WEBHOOK_URL");
        run(&mut command)
    };

    let health = plugin("health", &["--only", "certificates", "-o", "json"]);
    let report: Value =
        serde_json::from_str(&health.stdout).unwrap_or_else(|e| panic!("{e}\n{health}"));
    // name -> (days as printed, WARN/FAIL)
    let mut by_health = BTreeMap::new();
    for finding in report["findings"].as_array().unwrap() {
        let object = finding["object"].to_string();
        if let Some((name, _)) = CASES.iter().find(|(n, _)| object.contains(n)) {
            let message = finding["message"].as_str().unwrap_or("");
            by_health.insert(
                *name,
                (
                    expires_in(message),
                    finding["status"].as_str().unwrap_or("").to_string(),
                ),
            );
        }
    }

    let cert = plugin("cert", &["check", "-n", NS, "-o", "json"]);
    let report: Value =
        serde_json::from_str(&cert.stdout).unwrap_or_else(|e| panic!("{e}\n{cert}"));
    let mut by_cert = BTreeMap::new();
    for item in report["items"].as_array().unwrap() {
        let name = item["name"].as_str().unwrap_or("");
        let Some((name, _)) = CASES.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let expiry = item["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["message"].as_str())
            .find(|m| m.starts_with("expires in"))
            .unwrap_or_else(|| panic!("no expiry finding for {name}\n{cert}"));
        let days = item["days_left"].as_i64().unwrap();
        assert_eq!(expires_in(expiry), format!("{days} days"), "{name}\n{cert}");
        // The Secret was never issued, which makes the whole verdict worse: the expiry
        // finding's own code is what health's WARN/FAIL compares with.
        let code = item["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["message"].as_str() == Some(expiry))
            .map(|f| f["code"].as_str().unwrap_or("").to_string())
            .unwrap_or_default();
        let severity = match code.as_str() {
            "expiring_critical" => "FAIL",
            "expiring_soon" => "WARN",
            other => panic!("{name}: code {other:?}\n{cert}"),
        };
        by_cert.insert(*name, (format!("{days} days"), severity.to_string()));
    }

    let expected: BTreeMap<&str, (String, String)> = [
        ("seven-days-plus-a-minute", ("7 days", "WARN")),
        ("seven-days-less-a-minute", ("7 days", "FAIL")),
        ("seven-and-a-half-plus-a-minute", ("8 days", "WARN")),
        ("seven-and-a-half-less-a-minute", ("7 days", "WARN")),
    ]
    .into_iter()
    .map(|(n, (d, s))| (n, (d.to_string(), s.to_string())))
    .collect();
    assert_eq!(by_cert, expected, "cert check\n{cert}");
    assert_eq!(
        by_health, by_cert,
        "health and cert check differ\n{health}\n{cert}"
    );
}
