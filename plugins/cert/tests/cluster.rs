//! `check`, `renew` and `inspect` run in-process against the sandbox cluster, with real X.509
//! data: the seeded Certificates and crafted broken ones.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use sealos_sandbox::faults::{Fault, FaultAction, FaultMatch, FaultWhen};
use sealos_shared::Exit;
use sealos_shared::audit::AuditLog;
use sealos_shared::resources::certmanager::Certificate;
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

/// Renews with `argv` on a fresh sandbox with the crafted cases and returns the certificates it
/// wrote. Checks on the way: exactly one accepted status PUT per renewed certificate and no
/// other write, one audit record each, the sandbox's cert-manager answering each (the seeded
/// ones re-issued; the crafted ones fail, their Issuer does not exist), and no other revision
/// moving.
async fn renewed_by(argv: &[&str]) -> Vec<String> {
    let sandbox = sandbox().await;
    Crafter::new(&sandbox).await.all_cases().await;
    let before: BTreeMap<String, Certificate> = certificates(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let mut full = argv.to_vec();
    full.extend(["--audit-log", audit.to_str().unwrap()]);
    let mark = sandbox.request_log().len();
    let run = run(&sandbox, &full).await;
    assert_eq!(run.exit(), Exit::Ok, "{argv:?}\n{}", run.stdout);
    let puts = status_puts(&sandbox, mark);
    assert!(puts.iter().all(|(_, code)| *code == 200), "{puts:?}");
    let names: Vec<String> = puts.into_iter().map(|(name, _)| name).collect();
    let mut once = names.clone();
    once.dedup();
    assert_eq!(once, names, "one status PUT per certificate");
    let records = if audit.exists() {
        AuditLog::new(Some(&audit)).unwrap().read_all().unwrap()
    } else {
        Vec::new()
    };
    let mut audited: Vec<String> = records
        .iter()
        .map(|r| {
            assert_eq!(r.plugin, "cert");
            assert_eq!(r.action, "renew");
            assert_eq!(r.outcome, "ok");
            assert!(!r.dry_run);
            format!(
                "{}/{}",
                r.object.namespace.as_deref().unwrap(),
                r.object.name
            )
        })
        .collect();
    audited.sort();
    assert_eq!(audited, names);
    for name in &names {
        let (ns, n) = name.split_once('/').unwrap();
        let old = before[name].status.clone().unwrap_or_default();
        if ns == NS {
            failed_again(&sandbox, ns, n, old.failed_issuance_attempts).await;
        } else {
            reissued(&sandbox, ns, n, old.revision).await;
        }
    }
    for (name, old) in &before {
        if !names.contains(name) {
            let (ns, n) = name.split_once('/').unwrap();
            let old = old.status.as_ref().and_then(|s| s.revision);
            assert_eq!(revision(&sandbox, ns, n), old, "{name} was not chosen");
        }
    }
    names
}

/// Every Certificate in the sandbox by `ns/name`.
fn certificates(sandbox: &sealos_sandbox::Sandbox) -> BTreeMap<String, Certificate> {
    sandbox
        .objects("cert-manager.io", "certificates", None)
        .into_iter()
        .map(|o| {
            let c: Certificate = serde_json::from_value(o).unwrap();
            let key = format!(
                "{}/{}",
                c.metadata.namespace.clone().unwrap(),
                c.metadata.name.clone().unwrap()
            );
            (key, c)
        })
        .collect()
}

#[tokio::test]
async fn renew_by_each_selector_writes_exactly_those() {
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

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

#[tokio::test]
async fn renew_puts_issuing_like_cmctl_and_the_sandbox_reissues() {
    let sandbox = sandbox().await;
    // The proxy keeps the PUT bodies the request log does not.
    let proxy = conflict_proxy::start(&sandbox, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let before = stored(&sandbox, "ns-alice", "terminal-test-tls");
    let old = before.status.clone().unwrap();
    let old_leaf = secret_chain(&sandbox, "ns-alice", "terminal-test-tls")
        .await
        .remove(0);
    let mark = sandbox.request_log().len();
    let first = run_argv(
        [
            "kubectl-sealos-cert",
            "--kubeconfig",
            proxy.kubeconfig.to_str().unwrap(),
            "renew",
            "-n",
            "ns-alice",
            "terminal-test-tls",
            "--audit-log",
            audit.to_str().unwrap(),
            "-o",
            "json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    )
    .await;
    assert_eq!(first.exit(), Exit::Ok, "{}", first.stdout);
    assert_eq!(first.json()["items"][0]["action"], "renew");
    assert_eq!(
        status_puts(&sandbox, mark),
        [("ns-alice/terminal-test-tls".to_string(), 200)]
    );
    // What was sent: Issuing=True/ManuallyTriggered, and nothing else changed.
    let bodies = proxy.status_bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(
        bodies[0].0,
        "/apis/cert-manager.io/v1/namespaces/ns-alice/certificates/terminal-test-tls/status"
    );
    let sent: Certificate = serde_json::from_value(bodies[0].1.clone()).unwrap();
    assert_eq!(
        issuing(&sent),
        Some(("True".to_string(), Some("ManuallyTriggered".to_string())))
    );
    let status = sent.status.as_ref().unwrap();
    let condition = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Issuing")
        .unwrap();
    assert_eq!(condition.observed_generation, before.metadata.generation);
    assert!(condition.last_transition_time.is_some());
    assert_eq!(sent.spec, before.spec);
    assert_eq!(status.revision, old.revision);
    assert_eq!(status.not_after, old.not_after);
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    );

    // The sandbox's cert-manager answers: a new revision, a later certificate for the same names.
    let after = reissued(&sandbox, "ns-alice", "terminal-test-tls", old.revision).await;
    let revision = after.status.as_ref().unwrap().revision.unwrap();
    assert_eq!(Some(revision), old.revision.map(|r| r + 1));
    let leaf = secret_chain(&sandbox, "ns-alice", "terminal-test-tls")
        .await
        .remove(0);
    assert!(
        leaf.not_after > old_leaf.not_after,
        "{} <= {}",
        leaf.not_after,
        old_leaf.not_after
    );
    assert_ne!(leaf.serial, old_leaf.serial);
    assert_eq!(
        sorted(leaf.dns_names.clone()),
        sorted(before.spec.dns_names.clone())
    );
    assert!(
        sandbox
            .object(
                "cert-manager.io",
                "certificaterequests",
                "ns-alice",
                &format!("terminal-test-tls-{revision}"),
            )
            .is_some()
    );
    // And check reads the new certificate.
    let check = run_in(&sandbox, &["check", "-n", "ns-alice", "-o", "json"]).await;
    let report = check.json();
    let row = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "terminal-test-tls")
        .unwrap()
        .clone();
    assert_eq!(row["verdict"], "ok", "{row}");
    assert_eq!(row["revision"], revision);
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
    let before = sandbox.objects("cert-manager.io", "certificates", None);
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
    assert!(status_puts(&sandbox, mark).is_empty());
    assert_eq!(
        sandbox.objects("cert-manager.io", "certificates", None),
        before
    );
    assert!(!audit.exists());
}

#[tokio::test]
async fn renew_on_failing_issuance_warns_of_the_backoff() {
    let sandbox = sandbox().await;
    make_issuance_fail(&sandbox, "ns-alice", "dbadmin-test-tls");
    let old = stored(&sandbox, "ns-alice", "dbadmin-test-tls")
        .status
        .unwrap();
    assert_eq!(old.failed_issuance_attempts, Some(2));
    let old_secret = sandbox
        .object("", "secrets", "ns-alice", "dbadmin-test-tls")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let mark = sandbox.request_log().len();
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
    assert!(run.stdout.contains("backs off until"), "{}", run.stdout);
    assert_eq!(
        status_puts(&sandbox, mark),
        [("ns-alice/dbadmin-test-tls".to_string(), 200)]
    );
    // The sandbox fails it: one more attempt on record, the revision and Secret as they were.
    let after = failed_again(&sandbox, "ns-alice", "dbadmin-test-tls", Some(2)).await;
    let status = after.status.unwrap();
    assert_eq!(status.revision, old.revision);
    assert_ne!(status.last_failure_time, old.last_failure_time);
    assert_eq!(
        sandbox
            .object("", "secrets", "ns-alice", "dbadmin-test-tls")
            .unwrap(),
        old_secret
    );
}

#[tokio::test]
async fn wait_times_out_with_exit_1_naming_the_certificate() {
    // The sandbox re-issues, but the wait cannot list certificates (every list answers 500), so
    // it must end at its timeout and say which one.
    let sandbox = sandbox().await;
    sandbox.add_fault(Fault {
        matches: FaultMatch {
            verb: Some("list".into()),
            resource: Some("certificates".into()),
            namespace: Some("ns-bob".into()),
            path_prefix: None,
        },
        action: FaultAction::Status(500),
        when: FaultWhen::FirstN(u64::MAX),
    });
    let old = revision(&sandbox, "ns-bob", "app-test-tls");
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
    assert_eq!(run.exit(), Exit::Problem, "{}", run.stdout);
    let row = &run.json()["items"][0];
    assert_eq!(row["name"], "app-test-tls");
    assert_eq!(row["wait"]["state"], "timed_out");
    // The wait really tried to list, and the renewal itself went through.
    assert!(
        sandbox
            .request_log()
            .entries()
            .iter()
            .any(|r| r.method == "GET"
                && r.path.ends_with("/namespaces/ns-bob/certificates")
                && r.status == 500)
    );
    sandbox.clear_faults();
    reissued(&sandbox, "ns-bob", "app-test-tls", old).await;
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
    let before = stored(&sandbox, "ns-bob", "app-test-tls");
    let old_revision = before.status.as_ref().unwrap().revision.unwrap();
    let old_leaf = secret_chain(&sandbox, "ns-bob", "app-test-tls")
        .await
        .remove(0);
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let mark = sandbox.request_log().len();
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
    assert_eq!(
        status_puts(&sandbox, mark),
        [("ns-bob/app-test-tls".to_string(), 200)]
    );
    let row = &run.json()["items"][0];
    assert_eq!(row["wait"]["state"], "renewed");
    assert_eq!(row["wait"]["detail"]["revision"], old_revision + 1);
    // What the wait reported is what the cluster holds.
    let after = stored(&sandbox, "ns-bob", "app-test-tls");
    assert_eq!(
        after.status.as_ref().unwrap().revision,
        Some(old_revision + 1)
    );
    assert_eq!(issuing(&after), None);
    let leaf = secret_chain(&sandbox, "ns-bob", "app-test-tls")
        .await
        .remove(0);
    assert!(leaf.not_after > old_leaf.not_after);
    assert_eq!(
        sorted(leaf.dns_names.clone()),
        sorted(before.spec.dns_names.clone())
    );
    // The new certificate is what check now reads: ninety days (the spec's duration), its key.
    assert_eq!(before.spec.duration.as_deref(), Some("2160h0m0s"));
    let check = run_in(&sandbox, &["check", "-n", "ns-bob", "-o", "json"]).await;
    let item = &check.json()["items"][0];
    assert_eq!(item["days_left"], 90);
    assert_eq!(item["revision"], old_revision + 1);
    assert_eq!(item["key"]["status"], "matches");
    assert_eq!(item["verdict"], "ok");
}

#[tokio::test]
async fn wait_reports_a_failed_issuance_by_name() {
    let sandbox = sandbox().await;
    make_issuance_fail(&sandbox, "ns-alice", "dbadmin-test-tls");
    let old_secret = sandbox
        .object("", "secrets", "ns-alice", "dbadmin-test-tls")
        .unwrap();
    let terminal_revision = revision(&sandbox, "ns-alice", "terminal-test-tls").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let mark = sandbox.request_log().len();
    let argv = [
        "renew",
        "-n",
        "ns-alice",
        "terminal-test-tls",
        "dbadmin-test-tls",
        "--wait",
        "--timeout",
        "2m",
        "--audit-log",
        audit.to_str().unwrap(),
    ];
    let mut json_argv = argv.to_vec();
    json_argv.extend(["-o", "json"]);
    let run = run(&sandbox, &json_argv).await;
    assert_eq!(run.exit(), Exit::Problem, "{}", run.stdout);
    assert_eq!(
        status_puts(&sandbox, mark),
        [
            ("ns-alice/dbadmin-test-tls".to_string(), 200),
            ("ns-alice/terminal-test-tls".to_string(), 200)
        ]
    );
    let report = run.json();
    let items = report["items"].as_array().unwrap();
    let row = |name: &str| items.iter().find(|r| r["name"] == name).unwrap();
    assert_eq!(row("dbadmin-test-tls")["wait"]["state"], "failed");
    assert!(
        row("dbadmin-test-tls")["wait"]["detail"]
            .as_str()
            .unwrap()
            .contains("the issuer refused"),
        "{report}"
    );
    assert_eq!(row("terminal-test-tls")["wait"]["state"], "renewed");
    assert_eq!(
        row("terminal-test-tls")["wait"]["detail"]["revision"],
        terminal_revision + 1
    );
    // The failed one's Secret is left alone.
    assert_eq!(
        sandbox
            .object("", "secrets", "ns-alice", "dbadmin-test-tls")
            .unwrap(),
        old_secret
    );
    // The table names the failure too (a second renewal, failing again).
    let text = run_in(&sandbox, &argv).await;
    assert_eq!(text.exit(), Exit::Problem, "{}", text.stdout);
    let line = text
        .stdout
        .lines()
        .find(|l| l.contains("dbadmin-test-tls"))
        .unwrap_or_else(|| panic!("{}", text.stdout));
    assert!(line.to_lowercase().contains("fail"), "{}", text.stdout);
}

#[tokio::test]
async fn renew_survives_conflicts_by_reading_again() {
    let sandbox = sandbox().await;
    let old = revision(&sandbox, "ns-bob", "app-test-tls");
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
    assert_eq!(
        proxy.status_puts.load(std::sync::atomic::Ordering::SeqCst),
        3
    );
    // Each attempt carried the trigger, the last on the object as re-read.
    let bodies = proxy.status_bodies.lock().unwrap().clone();
    for (_, body) in &bodies {
        let sent: Certificate = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(
            issuing(&sent),
            Some(("True".to_string(), Some("ManuallyTriggered".to_string())))
        );
    }
    assert!(
        bodies[2].1["metadata"]["annotations"]["test.sealos.io/concurrent-writer"].is_string(),
        "{bodies:?}"
    );
    // The sandbox re-issued, and the concurrent writer's change survived the renewal's write.
    let cert = reissued(&sandbox, "ns-bob", "app-test-tls", old).await;
    assert!(
        cert.metadata
            .annotations
            .unwrap()
            .contains_key("test.sealos.io/concurrent-writer")
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
