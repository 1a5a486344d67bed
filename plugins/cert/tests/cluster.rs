//! `check`, `renew` and `inspect` run in-process against the sandbox cluster, with real X.509
//! data: the seeded Certificates and crafted broken ones.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use sealos_shared::Exit;
use sealos_shared::audit::AuditLog;
use serde_json::Value;
use support::*;

/// name -> (verdict, finding codes) of a check report.
fn verdicts(report: &Value) -> BTreeMap<String, (String, Vec<String>)> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let codes = row["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["code"].as_str().unwrap().to_string())
                .collect();
            (
                format!(
                    "{}/{}",
                    row["namespace"].as_str().unwrap(),
                    row["name"].as_str().unwrap()
                ),
                (row["verdict"].as_str().unwrap().to_string(), codes),
            )
        })
        .collect()
}

#[tokio::test]
async fn check_judges_the_seeded_cluster_from_x509_data() {
    let sandbox = sandbox().await;
    let run = run(&sandbox, &["check", "-A", "-o", "json"]).await;
    assert_eq!(run.exit(), Exit::Problem, "{}", run.stdout);
    let report = run.json();
    let v = verdicts(&report);
    // Five days left on a Ready certificate: critical, and its renewal time is long past.
    assert_eq!(v["ns-alice/terminal-test-tls"].0, "critical");
    assert!(
        v["ns-alice/terminal-test-tls"]
            .1
            .contains(&"renewal_overdue".to_string())
    );
    // Renewal failing twice, 25 minutes ago: still Ready, in cert-manager's two-hour backoff.
    let dbadmin = &v["ns-alice/dbadmin-test-tls"];
    assert_eq!(dbadmin.0, "warning");
    for code in ["expiring_soon", "issuance_failing", "renewal_backoff"] {
        assert!(dbadmin.1.contains(&code.to_string()), "{dbadmin:?}");
    }
    for ok in [
        "ns-bob/app-test-tls",
        "istio-system/cloud-sealos-io-wildcard",
        "sealos-system/webhook-controller-serving-cert",
        "cert-manager/sealos-root-ca",
    ] {
        assert_eq!(v[ok], ("ok".to_string(), vec![]), "{ok}");
    }
    assert_eq!(v.len(), 8, "{v:?}");
    // Worst first, expiry read from the certificate, keys checked.
    let first = &report["items"][0];
    assert_eq!(first["name"], "terminal-test-tls");
    assert_eq!(first["not_after_source"], "x509");
    assert_eq!(first["days_left"], 5);
    assert_eq!(first["key"]["status"], "matches");
    assert_eq!(report["summary"]["critical"], 1);
    assert_eq!(report["summary"]["total"], 8);
    // The gateway's credential is the wildcard Certificate's Secret: no extra row, and it is named.
    let wildcard = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "cloud-sealos-io-wildcard")
        .unwrap();
    assert_eq!(wildcard["gateways"][0], "istio-system/sealos-gateway");

    // Thresholds and --fail-on: the wildcard (60 days) warns at 90 days and fails only on warn.
    let quiet = run_in(&sandbox, &["check", "-n", "istio-system"]).await;
    assert_eq!(quiet.exit(), Exit::Ok, "{}", quiet.stdout);
    let warned = run_in(
        &sandbox,
        &["check", "-n", "istio-system", "--warn-days", "90"],
    )
    .await;
    assert_eq!(warned.exit(), Exit::Ok);
    assert!(warned.stdout.contains("WARNING"), "{}", warned.stdout);
    let strict = run_in(
        &sandbox,
        &[
            "check",
            "-n",
            "istio-system",
            "--warn-days",
            "90",
            "--fail-on",
            "warn",
        ],
    )
    .await;
    assert_eq!(strict.exit(), Exit::Problem);
    // Reading never writes.
    assert!(
        sandbox
            .request_log()
            .entries()
            .iter()
            .all(|r| !r.is_write())
    );
}

async fn run_in(sandbox: &sealos_sandbox::Sandbox, argv: &[&str]) -> Run {
    run(sandbox, argv).await
}

#[tokio::test]
async fn check_finds_every_crafted_breakage_without_crashing() {
    let sandbox = sandbox().await;
    let crafter = Crafter::new(&sandbox).await;
    crafter.all_cases().await;
    let run = run(&sandbox, &["check", "-n", NS, "-o", "json"]).await;
    assert_eq!(run.exit(), Exit::Problem);
    let report = run.json();
    let v = verdicts(&report);
    let expect = |name: &str, verdict: &str, code: &str| {
        let (got, codes) = &v[&format!("{NS}/{name}")];
        assert_eq!(got, verdict, "{name}: {codes:?}");
        assert!(codes.contains(&code.to_string()), "{name}: {codes:?}");
    };
    expect("expired-ready", "expired", "expired");
    expect("expiring-2d", "critical", "expiring_critical");
    expect("san-mismatch", "broken", "sans_mismatch");
    expect("wrong-key", "broken", "key_mismatch");
    expect("garbage", "broken", "certificate_invalid");
    expect("der", "broken", "certificate_invalid");
    expect("empty", "broken", "certificate_invalid");
    expect("missing-secret", "broken", "secret_missing");
    expect("missing-secret", "broken", "not_ready");
    expect("gw-only-tls", "warning", "expiring_soon");
    expect("gw-missing-tls", "broken", "secret_missing");
    assert_eq!(v[&format!("{NS}/healthy")], ("ok".to_string(), vec![]));
    assert_eq!(v.len(), 11, "{v:?}");

    let items = report["items"].as_array().unwrap();
    let row = |name: &str| items.iter().find(|r| r["name"] == name).unwrap();
    // Expired although cert-manager says Ready, and it is the worst row.
    assert_eq!(items[0]["name"], "expired-ready");
    assert_eq!(row("expired-ready")["ready"]["status"], "True");
    assert!(
        row("expired-ready")["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Ready=True")
    );
    assert_eq!(row("expiring-2d")["days_left"], 2);
    let der = row("der")["findings"][0]["message"].as_str().unwrap();
    assert!(der.contains("DER"), "{der}");
    let empty = row("empty")["findings"][0]["message"].as_str().unwrap();
    assert!(empty.contains("empty"), "{empty}");
    // An unreadable Secret falls back to the status date, and says so.
    assert_eq!(row("garbage")["not_after_source"], "status");
    assert_eq!(row("gw-only-tls")["kind"], "Secret");
    assert_eq!(row("gw-only-tls")["gateways"][0], "crafted/crafted-gw");
    assert_eq!(row("healthy")["gateways"][0], "crafted/crafted-gw");

    // The table: worst first, findings listed under it.
    let table = run_in(&sandbox, &["check", "-n", NS]).await;
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("VERDICT"),
        "{}",
        table.stdout
    );
    assert!(lines[1].starts_with("expired-ready") && lines[1].contains("EXPIRED"));
    assert!(table.stdout.contains("secret/gw-only-tls"));
    assert!(
        table
            .stdout
            .contains("FAIL crafted/wrong-key: tls.key does not match"),
        "{}",
        table.stdout
    );

    // A label selector narrows to Certificates and leaves the Gateway's Secrets out.
    let edge = run_in(
        &sandbox,
        &["check", "-n", NS, "-l", "tier=edge", "-o", "json"],
    )
    .await;
    let names: Vec<String> = verdicts(&edge.json()).into_keys().collect();
    assert_eq!(
        names,
        [format!("{NS}/expired-ready"), format!("{NS}/healthy")]
    );
}

/// Renews with `argv` on a fresh sandbox with the crafted cases, and returns the certificates
/// left with `Issuing=True, ManuallyTriggered`.
async fn renewed_by(argv: &[&str]) -> Vec<String> {
    let sandbox = sandbox().await;
    Crafter::new(&sandbox).await.all_cases().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let mut full = argv.to_vec();
    full.extend(["--audit-log", audit.to_str().unwrap()]);
    let run = run(&sandbox, &full).await;
    assert_eq!(run.exit(), Exit::Ok, "{argv:?}\n{}", run.stdout);
    let names = triggered(&sandbox);
    // One audited status PUT per renewed certificate, and never a delete.
    let writes: Vec<_> = sandbox
        .request_log()
        .entries()
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    let puts = writes
        .iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/status"))
        .count();
    assert!(writes.iter().all(|r| r.method != "DELETE"));
    // The crafting itself wrote a status per certificate; count only renewals by the audit log.
    let records = if audit.exists() {
        AuditLog::new(Some(&audit)).unwrap().read_all().unwrap()
    } else {
        Vec::new()
    };
    assert_eq!(records.len(), names.len(), "{records:?}");
    assert!(puts >= names.len());
    for record in &records {
        assert_eq!(record.plugin, "cert");
        assert_eq!(record.action, "renew");
        assert_eq!(record.outcome, "ok");
        assert!(!record.dry_run);
    }
    names
}

#[tokio::test]
async fn renew_by_each_selector_sets_issuing_on_exactly_those() {
    let c = |n: &str| format!("{NS}/{n}");
    assert_eq!(
        renewed_by(&["renew", "-n", NS, "healthy", "der"]).await,
        [c("der"), c("healthy")]
    );
    assert_eq!(
        renewed_by(&["renew", "-n", NS, "--not-ready"]).await,
        [c("missing-secret")]
    );
    assert_eq!(
        renewed_by(&["renew", "-n", NS, "-l", "tier=edge"]).await,
        [c("expired-ready"), c("healthy")]
    );
    // Expired and two-day certificates by their X.509 data; garbage Secrets fall back to the
    // status dates (60 days) and so stay out.
    assert_eq!(
        renewed_by(&["renew", "-A", "--expiring-within", "3d"]).await,
        [c("expired-ready"), c("expiring-2d")]
    );
    let all = renewed_by(&["renew", "-n", "ns-alice", "--all"]).await;
    assert_eq!(
        all,
        [
            "ns-alice/alice-ca-keypair",
            "ns-alice/dbadmin-test-tls",
            "ns-alice/terminal-test-tls"
        ]
    );
    // Selection flags combine: not ready AND labelled.
    assert!(
        renewed_by(&["renew", "-n", NS, "--not-ready", "-l", "tier=edge"])
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn renew_writes_the_condition_like_cmctl_and_skips_those_already_issuing() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let before = stored(&sandbox, "ns-alice", "terminal-test-tls");
    let argv = [
        "renew",
        "-n",
        "ns-alice",
        "terminal-test-tls",
        "--audit-log",
        audit.to_str().unwrap(),
        "-o",
        "json",
    ];
    let first = run(&sandbox, &argv).await;
    assert_eq!(first.exit(), Exit::Ok);
    assert_eq!(first.json()["items"][0]["action"], "renew");
    let after = stored(&sandbox, "ns-alice", "terminal-test-tls");
    let status = after.status.as_ref().unwrap();
    let issuing = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Issuing")
        .unwrap();
    assert_eq!(issuing.status, "True");
    assert_eq!(issuing.reason.as_deref(), Some("ManuallyTriggered"));
    assert_eq!(issuing.observed_generation, after.metadata.generation);
    assert!(issuing.last_transition_time.is_some());
    // Nothing else moved: spec, Ready, dates, revision.
    assert_eq!(after.spec, before.spec);
    let old = before.status.as_ref().unwrap();
    assert_eq!(status.revision, old.revision);
    assert_eq!(status.not_after, old.not_after);
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    );
    // The write went through the status subresource as a PUT.
    let puts: Vec<_> = sandbox
        .request_log()
        .entries()
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert_eq!(puts.len(), 1, "{puts:?}");
    assert_eq!(puts[0].method, "PUT");
    assert_eq!(
        puts[0].path,
        "/apis/cert-manager.io/v1/namespaces/ns-alice/certificates/terminal-test-tls/status"
    );
    // A second renew finds it issuing and writes nothing, as cmctl.
    let mark = sandbox.request_log().len();
    let second = run(&sandbox, &argv).await;
    assert_eq!(second.exit(), Exit::Ok);
    assert_eq!(second.json()["items"][0]["action"], "already_issuing");
    assert!(
        sandbox
            .request_log()
            .since(mark)
            .iter()
            .all(|r| !r.is_write())
    );
    assert_eq!(
        AuditLog::new(Some(&audit))
            .unwrap()
            .read_all()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn dry_run_lists_and_writes_nothing() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let mark = sandbox.request_log().len();
    let run = run(
        &sandbox,
        &[
            "renew",
            "-A",
            "--all",
            "--dry-run",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(run.exit(), Exit::Ok);
    assert_eq!(
        run.stdout.matches("would renew").count(),
        8,
        "{}",
        run.stdout
    );
    let requests = sandbox.request_log().since(mark);
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| !r.is_write()), "{requests:?}");
    assert!(triggered(&sandbox).is_empty());
    assert!(!audit.exists());
}

#[tokio::test]
async fn renew_on_failing_issuance_warns_of_the_backoff() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let run = run(
        &sandbox,
        &[
            "renew",
            "-n",
            "ns-alice",
            "dbadmin-test-tls",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(run.exit(), Exit::Ok);
    // The condition is set all the same; the note says cert-manager may ignore it for now.
    assert!(manually_triggered(&sandbox, "ns-alice", "dbadmin-test-tls"));
    assert!(run.stdout.contains("backs off until"), "{}", run.stdout);
    // The failure history is kept.
    let status = stored(&sandbox, "ns-alice", "dbadmin-test-tls")
        .status
        .unwrap();
    assert_eq!(status.failed_issuance_attempts, Some(2));
}

#[tokio::test]
async fn wait_times_out_with_exit_1_naming_the_certificate() {
    // The sandbox does not re-issue yet (its cert-manager simulation is not built): nothing
    // answers the trigger, so the wait must end at its timeout and say which one.
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let run = run(
        &sandbox,
        &[
            "renew",
            "-n",
            "ns-bob",
            "app-test-tls",
            "--wait",
            "--timeout",
            "3s",
            "-o",
            "json",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(run.exit(), Exit::Problem);
    let row = &run.json()["items"][0];
    assert_eq!(row["name"], "app-test-tls");
    assert_eq!(row["wait"]["state"], "timed_out");
    // The watch was a real one.
    assert!(
        sandbox
            .request_log()
            .entries()
            .iter()
            .any(|r| r.path.ends_with("/namespaces/ns-bob/certificates")
                && r.query.contains("watch=true"))
    );
}

#[tokio::test]
async fn inspect_decodes_a_chain_of_two_with_status_and_request() {
    let sandbox = sandbox().await;
    let run = run(
        &sandbox,
        &[
            "inspect",
            "dbadmin-test-tls",
            "-n",
            "ns-alice",
            "-o",
            "json",
        ],
    )
    .await;
    // Still valid and Ready, only warnings: exit 0.
    assert_eq!(run.exit(), Exit::Ok, "{}", run.stdout);
    let report = run.json();
    let chain = report["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[0]["subject"], "CN=dbadmin-test.cloud.sealos.io");
    assert_eq!(chain[0]["issuer"], "CN=ns-alice CA");
    assert_eq!(chain[0]["dns_names"][0], "dbadmin-test.cloud.sealos.io");
    assert_eq!(chain[0]["link"]["status"], "signed_by_next");
    assert_eq!(chain[0]["key_usages"][0], "digital signature");
    assert_eq!(chain[0]["ext_key_usages"][0], "server auth");
    assert_eq!(chain[0]["public_key"], "ECDSA P-256");
    assert_eq!(chain[1]["subject"], "CN=ns-alice CA");
    assert_eq!(chain[1]["is_ca"], true);
    assert_eq!(chain[1]["link"]["status"], "signed_by_ca");
    assert_eq!(chain[1]["link"]["detail"], "CN=Sealos Root CA");
    assert_eq!(report["ca"][0], "CN=Sealos Root CA");
    assert_eq!(report["key"]["status"], "matches");
    assert_eq!(report["certificate"]["revision"], 3);
    assert_eq!(report["certificate"]["failed_issuance_attempts"], 2);
    // The latest request is the failed revision 4, not the issued 3.
    assert_eq!(report["latest_request"]["name"], "dbadmin-test-tls-4");
    assert_eq!(report["latest_request"]["revision"], 4);

    let text = run_in(&sandbox, &["inspect", "dbadmin-test-tls", "-n", "ns-alice"]).await;
    for want in [
        "Certificate ns-alice/dbadmin-test-tls",
        "#1 leaf: CN=dbadmin-test.cloud.sealos.io",
        "#2 CA: CN=ns-alice CA",
        "signed by the next certificate",
        "signed by ca.crt's CN=Sealos Root CA",
        "Latest request:  dbadmin-test-tls-4 (revision 4): False (Failed)",
        "Private key:     matches the leaf certificate",
        "Verdict: WARNING",
    ] {
        assert!(
            text.stdout.contains(want),
            "missing {want:?} in\n{}",
            text.stdout
        );
    }
}

#[tokio::test]
async fn inspect_explains_broken_secrets_and_gateway_credentials() {
    let sandbox = sandbox().await;
    Crafter::new(&sandbox).await.all_cases().await;
    let wrong = run(&sandbox, &["inspect", "wrong-key", "-n", NS, "-o", "json"]).await;
    assert_eq!(wrong.exit(), Exit::Problem);
    assert_eq!(wrong.json()["key"]["status"], "mismatch");
    let garbage = run(&sandbox, &["inspect", "garbage", "-n", NS]).await;
    assert_eq!(garbage.exit(), Exit::Problem);
    assert!(
        garbage.stdout.contains("tls.crt not PEM"),
        "{}",
        garbage.stdout
    );
    let missing = run(
        &sandbox,
        &["inspect", "missing-secret", "-n", NS, "-o", "json"],
    )
    .await;
    assert_eq!(missing.json()["secret_found"], false);
    // A Gateway credential with no Certificate: the Secret alone.
    let gw = run(
        &sandbox,
        &["inspect", "--secret", "gw-only-tls", "-n", NS, "-o", "json"],
    )
    .await;
    assert_eq!(gw.exit(), Exit::Ok);
    let report = gw.json();
    assert!(report["certificate"].is_null());
    assert_eq!(report["chain"][0]["link"]["status"], "signed_by_ca");
    // --secret finds the Certificate that writes it.
    let by_secret = run(
        &sandbox,
        &["inspect", "--secret", "healthy", "-n", NS, "-o", "json"],
    )
    .await;
    assert_eq!(by_secret.json()["certificate"]["name"], "healthy");
    let nothing = run(&sandbox, &["inspect", "--secret", "nope", "-n", NS]).await;
    assert!(nothing.result.unwrap_err().contains("\"nope\" not found"));
}

#[tokio::test]
async fn wait_sees_the_certificate_reissued_and_ready() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let cert_manager = fake_cert_manager::answer(
        client(&sandbox).await,
        "ns-bob",
        "app-test-tls",
        fake_cert_manager::Answer::Issue,
    );
    let run = run(
        &sandbox,
        &[
            "renew",
            "-n",
            "ns-bob",
            "app-test-tls",
            "--wait",
            "--timeout",
            "2m",
            "-o",
            "json",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(run.exit(), Exit::Ok, "{}", run.stdout);
    let row = &run.json()["items"][0];
    assert_eq!(row["wait"]["state"], "renewed");
    assert_eq!(row["wait"]["detail"]["revision"], 4);
    cert_manager.await.unwrap();
    // The new certificate is what check now reads: ninety days, its own key.
    let check = run_in(&sandbox, &["check", "-n", "ns-bob", "-o", "json"]).await;
    let item = &check.json()["items"][0];
    assert_eq!(item["days_left"], 90);
    assert_eq!(item["revision"], 4);
    assert_eq!(item["key"]["status"], "matches");
    assert_eq!(item["verdict"], "ok");
}

#[tokio::test]
async fn wait_reports_a_failed_issuance() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let cert_manager = fake_cert_manager::answer(
        client(&sandbox).await,
        "ns-carol",
        "blog-tls",
        fake_cert_manager::Answer::Fail,
    );
    let run = run(
        &sandbox,
        &[
            "renew",
            "-n",
            "ns-carol",
            "blog-tls",
            "--wait",
            "--timeout",
            "2m",
            "-o",
            "json",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(run.exit(), Exit::Problem, "{}", run.stdout);
    let row = &run.json()["items"][0];
    assert_eq!(row["wait"]["state"], "failed");
    assert!(
        row["wait"]["detail"]
            .as_str()
            .unwrap()
            .contains("the issuer refused")
    );
    cert_manager.await.unwrap();
}

#[tokio::test]
async fn renew_survives_conflicts_by_reading_again() {
    let sandbox = sandbox().await;
    let proxy = conflict_proxy::start(&sandbox, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let run = run_argv(
        [
            "kubectl-sealos-cert",
            "--kubeconfig",
            proxy.kubeconfig.to_str().unwrap(),
            "renew",
            "-n",
            "ns-bob",
            "app-test-tls",
            "--audit-log",
            audit.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    )
    .await;
    assert_eq!(run.exit(), Exit::Ok, "{}", run.stdout);
    let statuses: Vec<u16> = sandbox
        .request_log()
        .entries()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/certificates/app-test-tls/status"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [409, 409, 200]);
    assert!(manually_triggered(&sandbox, "ns-bob", "app-test-tls"));
    // The concurrent writer's change survived the renewal's write.
    let cert = stored(&sandbox, "ns-bob", "app-test-tls");
    assert!(
        cert.metadata
            .annotations
            .unwrap()
            .contains_key("test.sealos.io/concurrent-writer")
    );
    assert_eq!(
        proxy.status_puts.load(std::sync::atomic::Ordering::SeqCst),
        3
    );
}

#[tokio::test]
async fn gateway_credentials_are_read_where_the_gateway_pods_run() {
    let sandbox = sandbox().await;
    let crafter = Crafter::new(&sandbox).await;
    // A Secret of the Gateway's name in the Gateway's own namespace: Istio does not read it.
    crafter
        .secret(
            "gw-only-tls",
            &Material::Leaf(crafter.leaf(&["shop.crafted.example.com"], 60)),
        )
        .await;
    // Selected pods: the seeded ingress gateway's, in istio-system.
    let gateway: sealos_shared::resources::istio::Gateway =
        serde_json::from_value(serde_json::json!({
            "apiVersion": "networking.istio.io/v1", "kind": "Gateway",
            "metadata": {"name": "edge-gw", "namespace": NS},
            "spec": {"selector": {"istio": "ingressgateway"}, "servers": [
                {"port": {"number": 443, "name": "https-cloud", "protocol": "HTTPS"},
                 "hosts": ["edge.cloud.sealos.io"],
                 "tls": {"mode": "SIMPLE", "credentialName": "wildcard-cloud-sealos-io-tls"}},
                {"port": {"number": 443, "name": "https-shop", "protocol": "HTTPS"},
                 "hosts": ["shop.crafted.example.com"],
                 "tls": {"mode": "SIMPLE", "credentialName": "gw-only-tls"}},
            ]},
        }))
        .unwrap();
    kube::Api::namespaced(client(&sandbox).await, NS)
        .create(&kube::api::PostParams::default(), &gateway)
        .await
        .unwrap();

    let run = run(&sandbox, &["check", "-A", "-o", "json"]).await;
    let report = run.json();
    let v = verdicts(&report);
    // The credential Istio serves is istio-system's, which does not exist.
    assert_eq!(
        v["istio-system/gw-only-tls"].1,
        vec!["secret_missing".to_string()],
        "{v:?}"
    );
    assert!(!v.contains_key(&format!("{NS}/gw-only-tls")), "{v:?}");
    let items = report["items"].as_array().unwrap();
    let row = |ns: &str, name: &str| {
        items
            .iter()
            .find(|r| r["namespace"] == ns && r["name"] == name)
            .unwrap()
    };
    assert_eq!(
        row("istio-system", "gw-only-tls")["gateways"][0],
        "crafted/edge-gw"
    );
    // The seeded wildcard Certificate's Secret in istio-system serves both Gateways.
    assert_eq!(
        row("istio-system", "cloud-sealos-io-wildcard")["gateways"],
        serde_json::json!(["crafted/edge-gw", "istio-system/sealos-gateway"])
    );

    // With -n, a Secret that a Certificate outside the namespace manages is not an extra row.
    let scoped = run_in(&sandbox, &["check", "-n", NS, "-o", "json"]).await;
    let v = verdicts(&scoped.json());
    assert!(v.contains_key("istio-system/gw-only-tls"), "{v:?}");
    assert!(
        !v.contains_key("istio-system/wildcard-cloud-sealos-io-tls"),
        "{v:?}"
    );
}
