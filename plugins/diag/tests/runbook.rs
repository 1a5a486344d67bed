//! `runbook run` against the sandbox: every runbook in dry run (no write in the request log),
//! refused without --yes or a terminal, and for real (the cluster's state afterwards, the audit
//! log, the bundle, the syslog alert).
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use futures::TryStreamExt;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use kubectl_sealos_diag::runbook::{self, Confirm, RunArgs, RunbookCommand};
use kubectl_sealos_diag::{Args, Command};
use sealos_sandbox::Sandbox;
use sealos_shared::connection::KubeFlags;
use sealos_shared::output::{Format, Out};
use sealos_shared::resources::certmanager::Certificate;
use sealos_shared::{Error, Exit};
use serde_json::Value;
use support::*;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);
impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// No terminal to ask.
struct NoTerminal;
impl Confirm for NoTerminal {
    fn ask(&mut self, _: &str) -> Option<bool> {
        None
    }
}

fn parse(sandbox: &Sandbox, argv: &[&str]) -> (RunArgs, KubeFlags) {
    let kubeconfig = sandbox.kubeconfig_path().display().to_string();
    let mut full = vec![
        "kubectl-sealos-diag",
        "--kubeconfig",
        &kubeconfig,
        "runbook",
        "run",
    ];
    full.extend_from_slice(argv);
    let args = Args::try_parse_from(full).unwrap();
    match args.command {
        Command::Runbook(RunbookCommand::Run(run)) => (run, args.kube),
        other => panic!("not runbook run: {other:?}"),
    }
}

/// Runs in-process with JSON output; the report and the exit.
async fn run(sandbox: &Sandbox, argv: &[&str]) -> (sealos_shared::Result<Exit>, Value) {
    let (args, flags) = parse(sandbox, argv);
    let buffer = Buffer::default();
    let mut out = Out::to_writer(Box::new(buffer.clone()), Format::Json);
    let exit = runbook::run_one(
        &args,
        &flags.connect().await.unwrap(),
        &mut out,
        &mut NoTerminal,
    )
    .await;
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let report = serde_json::from_str(&text).unwrap_or(Value::Null);
    (exit, report)
}

fn writes(sandbox: &Sandbox, mark: usize) -> Vec<String> {
    sandbox
        .request_log()
        .since(mark)
        .into_iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn plan_objects(report: &Value, kind: &str) -> Vec<String> {
    report["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == kind)
        .map(|a| a["object"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// Waits for a condition on the cluster, checked on every store change, bounded by `limit`.
async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in {limit:?}"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn deployment(sandbox: &Sandbox, name: &str) -> Value {
    sandbox
        .object("apps", "deployments", "sealos-system", name)
        .unwrap()
}

fn env_of(d: &Value, var: &str) -> Option<String> {
    d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["env"].as_array().cloned().unwrap_or_default())
        .find(|e| e["name"] == var)
        .and_then(|e| e["value"].as_str().map(String::from))
}

/// Makes the pods of a controller unready, as a crashing controller would be.
async fn break_controller(sandbox: &Sandbox, name: &str) {
    for pod in sandbox.objects("", "pods", Some("sealos-system")) {
        let pod_name = pod["metadata"]["name"].as_str().unwrap().to_string();
        if pod_name.starts_with(name) {
            sandbox
                .modify("", "pods", "sealos-system", &pod_name, |p| {
                    // A running pod's readiness is its status: the kubelet's probe failed.
                    for c in p["status"]["conditions"].as_array_mut().unwrap() {
                        if c["type"] == "Ready" || c["type"] == "ContainersReady" {
                            c["status"] = "False".into();
                        }
                    }
                    for c in p["status"]["containerStatuses"].as_array_mut().unwrap() {
                        c["ready"] = false.into();
                    }
                })
                .unwrap();
        }
    }
    eventually(Duration::from_secs(10), || {
        deployment(sandbox, name)["status"]["readyReplicas"]
            .as_i64()
            .unwrap_or(0)
            == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_runbook_in_dry_run_plans_and_writes_nothing() {
    let sandbox = start(seeded()).await;
    break_controller(&sandbox, "terminal-controller").await;
    let audit = tempfile::tempdir().unwrap();
    let audit_log = audit.path().join("audit.jsonl").display().to_string();
    let mark = sandbox.request_log().len();

    let (exit, report) = run(
        &sandbox,
        &["high-error-rate", "--dry-run", "--audit-log", &audit_log],
    )
    .await;
    assert_eq!(exit.unwrap(), Exit::Ok);
    assert_eq!(report["dry_run"], true);
    let shifts = plan_objects(&report, "shift");
    assert!(
        shifts.contains(&"terminal-controller".to_string()),
        "{report:#}"
    );
    assert_eq!(plan_objects(&report, "collect").len(), 1);
    assert_eq!(plan_objects(&report, "alert").len(), 1);
    assert_eq!(report["results"], serde_json::json!([]));

    let (exit, report) = run(&sandbox, &["service-down", "--dry-run"]).await;
    assert_eq!(exit.unwrap(), Exit::Ok);
    assert_eq!(
        plan_objects(&report, "restart"),
        ["terminal-controller"],
        "{report:#}"
    );

    // The most urgent first: terminal-test-tls is CRITICAL in `cert check` (5 days left, its
    // renewal overdue); dbadmin-test-tls (20 days, renewal overdue, issuance failing) after it.
    let (exit, report) = run(&sandbox, &["certificate-expired", "--dry-run"]).await;
    assert_eq!(exit.unwrap(), Exit::Ok);
    assert_eq!(
        plan_objects(&report, "renew"),
        ["terminal-test-tls", "dbadmin-test-tls"],
        "{report:#}"
    );
    assert!(
        report["plan"][0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("critical: expires in 5 days"),
        "{report:#}"
    );
    assert!(
        report["plan"][1]["detail"]
            .as_str()
            .unwrap()
            .starts_with("renewal overdue: "),
        "{report:#}"
    );
    // Every certificate considered is accounted for, with why it is left out.
    let considered = report["considered"].as_array().unwrap();
    assert_eq!(
        considered.len(),
        sandbox
            .objects("cert-manager.io", "certificates", None)
            .len(),
        "{report:#}"
    );
    let app = considered
        .iter()
        .find(|c| c["object"]["name"] == "app-test-tls")
        .unwrap();
    assert_eq!(app["planned"], false);
    assert!(
        app["why"].as_str().unwrap().contains("days left"),
        "{report:#}"
    );
    // With --crit-days 3 the 5-day certificate is no longer critical, but still overdue.
    let (_, report) = run(
        &sandbox,
        &["certificate-expired", "--dry-run", "--crit-days", "3"],
    )
    .await;
    assert!(
        report["plan"][0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("renewal overdue"),
        "{report:#}"
    );
    // Other runbooks account for what they left out too.
    let (_, report) = run(&sandbox, &["service-down", "--dry-run"]).await;
    let left_out: Vec<&str> = report["considered"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["planned"] == false)
        .map(|c| c["why"].as_str().unwrap())
        .collect();
    assert!(!left_out.is_empty(), "{report:#}");
    assert!(
        left_out.iter().all(|w| w.starts_with("ready (")),
        "{report:#}"
    );

    let (exit, report) = run(&sandbox, &["memory-leak", "--dry-run"]).await;
    assert_eq!(exit.unwrap(), Exit::Ok);
    let evictions = plan_objects(&report, "evict");
    assert_eq!(evictions.len(), 2, "{report:#}");
    assert!(
        evictions
            .iter()
            .all(|p| p.starts_with("app-test-") && !p.starts_with("app-test-v2"))
    );
    let detail = report["plan"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("312Mi > 256Mi"), "{detail}");
    assert!(detail.contains("allows 0 disruption"), "{detail}");
    // A higher threshold in another unit leaves nothing to do.
    let (_, report) = run(
        &sandbox,
        &["memory-leak", "--dry-run", "--threshold", "0.5Gi"],
    )
    .await;
    assert_eq!(plan_objects(&report, "evict").len(), 0, "{report:#}");

    assert_eq!(writes(&sandbox, mark), Vec::<String>::new());
    assert!(!audit.path().join("audit.jsonl").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_yes_or_a_terminal_nothing_is_written_and_the_exit_is_2() {
    let sandbox = start(seeded()).await;
    let mark = sandbox.request_log().len();
    let (exit, _) = run(&sandbox, &["memory-leak"]).await;
    let err = exit.unwrap_err();
    assert!(matches!(err, Error::Usage(_)), "{err}");
    assert!(err.to_string().contains("--yes"), "{err}");
    assert_eq!(writes(&sandbox, mark), Vec::<String>::new());

    let home = tempfile::tempdir().unwrap();
    let args = ["runbook", "run", "high-error-rate"];
    let output = binary(&sandbox, home.path(), &args);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        describe(&args, &output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Plan for high-error-rate"), "{stdout}");
    assert_eq!(writes(&sandbox, mark), Vec::<String>::new());
    assert!(
        env_of(
            &deployment(&sandbox, "terminal-controller"),
            "NETWORKING_MODE"
        ) == Some("dual".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_error_rate_rolls_back_collects_and_alerts() {
    let sandbox = start(seeded()).await;
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("log.sock");
    let socket = tokio::net::UnixDatagram::bind(&socket_path).unwrap();
    let audit_log = dir.path().join("audit.jsonl").display().to_string();
    let bundles = dir.path().join("bundles");
    std::fs::create_dir(&bundles).unwrap();
    let (slack, posted) = slack_sink().await;
    let webhook = format!("http://{slack}/services/T000/B000/XXXX");
    let (exit, report) = run(
        &sandbox,
        &[
            "high-error-rate",
            "--yes",
            "--reason",
            "5xx at 12%",
            "--audit-log",
            &audit_log,
            "--syslog",
            &socket_path.display().to_string(),
            "--slack-webhook",
            &webhook,
            "--bundle-dir",
            &bundles.display().to_string(),
            "--timeout",
            "30s",
        ],
    )
    .await;
    assert_eq!(exit.unwrap(), Exit::Ok, "{report:#}");
    assert_eq!(report["success"], true);
    for name in [
        "terminal-controller",
        "db-adminer-controller",
        "resources-controller",
    ] {
        let d = deployment(&sandbox, name);
        assert_eq!(
            env_of(&d, "NETWORKING_MODE").as_deref(),
            Some("ingress"),
            "{name}"
        );
        assert_eq!(
            env_of(&d, "ISTIO_PERCENTAGE").as_deref(),
            Some("0"),
            "{name}"
        );
    }
    // The alert reached the syslog socket.
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let line = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(
        line.contains("FIRING critical") && line.contains("5xx at 12%"),
        "{line}"
    );
    // And Slack, as a JSON payload.
    let posted = posted.lock().unwrap().clone();
    assert_eq!(posted.len(), 1, "{posted:?}");
    let payload: Value = serde_json::from_str(&posted[0]).unwrap();
    let text = payload["text"].as_str().unwrap();
    assert!(
        text.starts_with(":rotating_light:") && text.contains("terminal-controller"),
        "{text}"
    );
    // The report names where the alert went, never the webhook URL (a secret).
    assert!(!report.to_string().contains("XXXX"), "{report:#}");
    // The bundle holds istiod's log and the events.
    let bundle = std::fs::read_dir(&bundles)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let names = archive_names(&bundle);
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("logs/istio-system/istiod-")),
        "{names:?}"
    );
    assert!(
        names.contains(&"events/all-namespaces.yaml".to_string()),
        "{names:?}"
    );
    // Every action is in the audit log.
    let audit = std::fs::read_to_string(&audit_log).unwrap();
    let actions: Vec<String> = audit
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(actions.contains(&"rollback".to_string()), "{actions:?}");
    assert!(actions.contains(&"collect".to_string()) && actions.contains(&"alert".to_string()));
}

fn archive_names(path: &std::path::Path) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_down_restarts_the_unready_controller_and_verifies() {
    let sandbox = start(seeded()).await;
    break_controller(&sandbox, "terminal-controller").await;
    let dir = tempfile::tempdir().unwrap();
    let audit_log = dir.path().join("audit.jsonl").display().to_string();
    let (exit, report) = run(
        &sandbox,
        &[
            "service-down",
            "--yes",
            "--audit-log",
            &audit_log,
            "--timeout",
            "30s",
        ],
    )
    .await;
    assert_eq!(exit.unwrap(), Exit::Ok, "{report:#}");
    assert_eq!(report["results"][0]["status"], "done", "{report:#}");
    let d = deployment(&sandbox, "terminal-controller");
    assert!(
        d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string(),
        "{d:#}"
    );
    assert_eq!(d["status"]["readyReplicas"], 2);
    // Only the broken one was touched.
    let other = deployment(&sandbox, "resources-controller");
    assert!(
        other["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_null()
    );
    assert!(
        std::fs::read_to_string(&audit_log)
            .unwrap()
            .contains("\"restart\"")
    );
}

/// Plays cert-manager for one certificate: when Issuing=True appears, re-issues it.
fn answer_renewal(client: Client, ns: &str, name: &str) -> tokio::task::JoinHandle<()> {
    let ns = ns.to_string();
    let name = name.to_string();
    tokio::spawn(async move {
        let api: Api<Certificate> = Api::namespaced(client, &ns);
        let mut events =
            std::pin::pin!(watcher(api.clone(), watcher::Config::default()).applied_objects());
        while let Some(mut cert) = events.try_next().await.unwrap() {
            if cert.name_any() != name || !sealos_shared::certs::renew::is_issuing(&cert) {
                continue;
            }
            let status = cert.status.get_or_insert_with(Default::default);
            status.revision = Some(status.revision.unwrap_or(0) + 1);
            status.conditions.retain(|c| c.type_ != "Issuing");
            status.last_failure_time = None;
            status.failed_issuance_attempts = None;
            for c in status.conditions.iter_mut().filter(|c| c.type_ == "Ready") {
                c.status = "True".into();
            }
            match api
                .replace_status(&name, &PostParams::default(), &cert)
                .await
            {
                Ok(_) => {}
                // The sandbox's own cert-manager re-issued it first: that is the answer.
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(e) => panic!("answer the renewal of {name:?}: {e}"),
            }
            return;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_expired_renews_the_cmctl_way_and_waits() {
    let sandbox = start(seeded()).await;
    let client = kube(&sandbox, "ns-alice").await.client;
    let issuer = answer_renewal(client, "ns-alice", "dbadmin-test-tls");
    let dir = tempfile::tempdir().unwrap();
    let audit_log = dir.path().join("audit.jsonl").display().to_string();
    let (exit, report) = run(
        &sandbox,
        &[
            "certificate-expired",
            "--yes",
            "--audit-log",
            &audit_log,
            "--timeout",
            "30s",
        ],
    )
    .await;
    issuer.await.unwrap();
    assert_eq!(exit.unwrap(), Exit::Ok, "{report:#}");
    assert_eq!(report["results"][0]["status"], "done", "{report:#}");
    assert!(
        report["results"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("revision 4"),
        "{report:#}"
    );
    // Renewed, never deleted.
    let cert = sandbox
        .object(
            "cert-manager.io",
            "certificates",
            "ns-alice",
            "dbadmin-test-tls",
        )
        .unwrap();
    assert_eq!(cert["status"]["revision"], 4);
    let deletes = sandbox
        .request_log()
        .entries()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .count();
    assert_eq!(deletes, 0);
    assert!(
        std::fs::read_to_string(&audit_log)
            .unwrap()
            .contains("\"renew\"")
    );
}

/// Upstream's answer to an eviction that would break a PodDisruptionBudget.
const VIOLATION: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

fn pod_names(sandbox: &Sandbox, ns: &str) -> Vec<String> {
    let mut names: Vec<String> = sandbox
        .objects("", "pods", Some(ns))
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// ns-bob's app-test v1 pods: the two whose istio-proxy uses 312Mi.
fn app_test_v1(sandbox: &Sandbox) -> Vec<String> {
    pod_names(sandbox, "ns-bob")
        .into_iter()
        .filter(|p| p.starts_with("app-test-") && !p.starts_with("app-test-v2"))
        .collect()
}

/// The eviction requests since `mark`: (pod, HTTP status), in order.
fn evictions(sandbox: &Sandbox, mark: usize) -> Vec<(String, u16)> {
    sandbox
        .request_log()
        .since(mark)
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/eviction"))
        .map(|r| {
            let pod = r.path.trim_end_matches("/eviction").rsplit('/').next();
            (pod.unwrap().to_string(), r.status)
        })
        .collect()
}

fn audit_records(path: &str) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect()
}

/// The seeded cluster with app-test's budget lowered to minAvailable 1 of 2: one disruption allowed.
fn budget_allows_one() -> Vec<Value> {
    seeded_with("PodDisruptionBudget", "ns-bob", "app-test", |pdb| {
        pdb["spec"]["minAvailable"] = 1.into();
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_leak_is_blocked_by_the_budget_and_deletes_nothing() {
    let sandbox = start(seeded()).await;
    let budget = sandbox
        .object("policy", "poddisruptionbudgets", "ns-bob", "app-test")
        .unwrap();
    assert_eq!(budget["spec"]["minAvailable"], 2, "{budget:#}");
    let before = pod_names(&sandbox, "ns-bob");
    let targets = app_test_v1(&sandbox);
    assert_eq!(targets.len(), 2, "{before:?}");
    let dir = tempfile::tempdir().unwrap();
    let audit_log = dir.path().join("audit.jsonl").display().to_string();
    let mark = sandbox.request_log().len();
    let (exit, report) = run(
        &sandbox,
        &[
            "memory-leak",
            "--yes",
            "--audit-log",
            &audit_log,
            "--pause",
            "0s",
            "--timeout",
            "10s",
        ],
    )
    .await;
    // The PodDisruptionBudget (minAvailable 2 of 2) refuses both: a problem (exit 1), not retried.
    assert_eq!(exit.unwrap(), Exit::Problem, "{report:#}");
    assert_eq!(report["success"], false);
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{report:#}");
    for result in results {
        assert_eq!(result["status"], "blocked", "{result:#}");
        let detail = result["detail"].as_str().unwrap();
        assert!(
            detail.contains("429") && detail.contains(VIOLATION),
            "{detail}"
        );
    }
    let mut blocked: Vec<String> = results
        .iter()
        .map(|r| r["object"]["name"].as_str().unwrap().to_string())
        .collect();
    blocked.sort();
    assert_eq!(blocked, targets);
    // One request per pod, each refused: a refusal is not retried.
    let requests = evictions(&sandbox, mark);
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        requests.iter().all(|(_, code)| *code == 429),
        "{requests:?}"
    );
    // No pod was deleted, by the eviction or otherwise.
    assert_eq!(pod_names(&sandbox, "ns-bob"), before);
    assert!(
        writes(&sandbox, mark)
            .iter()
            .all(|w| w.starts_with("POST") && w.ends_with("/eviction")),
        "{:?}",
        writes(&sandbox, mark)
    );
    // Each refusal is audited as blocked, with the budget's message.
    let audit = audit_records(&audit_log);
    assert_eq!(audit.len(), 2, "{audit:#?}");
    for record in &audit {
        assert_eq!(record["action"], "evict");
        assert_eq!(record["object"]["kind"], "Pod");
        assert_eq!(
            record["outcome"],
            format!("blocked: {VIOLATION}"),
            "{record:#}"
        );
    }

    // The real binary exits 1 as documented, and still deletes nothing.
    let home = tempfile::tempdir().unwrap();
    let args = [
        "runbook",
        "run",
        "memory-leak",
        "--yes",
        "--pause",
        "0s",
        "--timeout",
        "10s",
        "-o",
        "json",
    ];
    let output = binary(&sandbox, home.path(), &args);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        describe(&args, &output)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "blocked"),
        "{report:#}"
    );
    assert_eq!(pod_names(&sandbox, "ns-bob"), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_leak_evicts_when_the_budget_allows_and_honours_max_pods() {
    let sandbox = start(budget_allows_one()).await;
    let targets = app_test_v1(&sandbox);
    assert_eq!(targets.len(), 2, "{targets:?}");
    let dir = tempfile::tempdir().unwrap();
    let audit_log = dir.path().join("audit.jsonl").display().to_string();
    let mark = sandbox.request_log().len();
    let (exit, report) = run(
        &sandbox,
        &[
            "memory-leak",
            "--yes",
            "--max-pods",
            "1",
            "--audit-log",
            &audit_log,
            "--pause",
            "0s",
            "--timeout",
            "30s",
        ],
    )
    .await;
    assert_eq!(exit.unwrap(), Exit::Ok, "{report:#}");
    assert_eq!(report["success"], true);
    let planned = plan_objects(&report, "evict");
    assert_eq!(planned.len(), 1, "{report:#}");
    let detail = report["plan"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("allows 1 disruption"), "{detail}");
    let evicted = &planned[0];
    let spared: Vec<&String> = targets.iter().filter(|t| *t != evicted).collect();
    assert_eq!(spared.len(), 1);
    let left_out = report["considered"].to_string();
    assert!(
        left_out.contains(spared[0].as_str()) && left_out.contains("--max-pods 1"),
        "{left_out}"
    );
    assert_eq!(report["results"][0]["status"], "done", "{report:#}");
    assert_eq!(evictions(&sandbox, mark), [(evicted.clone(), 201)]);
    // The pod is gone, the other is untouched, and the Deployment's replacement is ready.
    let now = app_test_v1(&sandbox);
    assert!(!now.contains(evicted), "{now:?}");
    assert!(now.contains(spared[0]), "{now:?}");
    assert_eq!(now.len(), 2, "{now:?}");
    let app_test = sandbox
        .object("apps", "deployments", "ns-bob", "app-test")
        .unwrap();
    assert_eq!(app_test["status"]["readyReplicas"], 2, "{app_test:#}");
    let audit = audit_records(&audit_log);
    assert_eq!(audit.len(), 1, "{audit:#?}");
    assert_eq!(audit[0]["action"], "evict");
    assert_eq!(audit[0]["object"]["name"], evicted.as_str());
    assert_eq!(audit[0]["outcome"], "ok");
    assert_eq!(audit[0]["after"]["evicted"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_leak_evicts_one_pod_at_a_time_waiting_for_each_replacement() {
    let mut objects = budget_allows_one();
    // Replacements take a second to get ready: an eviction that did not wait for the first
    // replacement would find the budget spent and be refused.
    let app_test = objects
        .iter_mut()
        .find(|o| is(o, "Deployment", "ns-bob", "app-test"))
        .unwrap();
    app_test["metadata"]["annotations"]["sandbox.sealos.io/rollout-seconds"] = "1".into();
    let sandbox = start(objects).await;
    let targets = app_test_v1(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    let audit_log = dir.path().join("audit.jsonl").display().to_string();
    let mark = sandbox.request_log().len();
    let (exit, report) = run(
        &sandbox,
        &[
            "memory-leak",
            "--yes",
            "--max-pods",
            "2",
            "--audit-log",
            &audit_log,
            "--pause",
            "0s",
            "--timeout",
            "30s",
        ],
    )
    .await;
    assert_eq!(exit.unwrap(), Exit::Ok, "{report:#}");
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{report:#}");
    assert!(results.iter().all(|r| r["status"] == "done"), "{report:#}");
    // The budget allows one disruption: the second eviction is accepted only because the first
    // pod's replacement was ready by then.
    let requests = evictions(&sandbox, mark);
    let mut evicted: Vec<String> = requests.iter().map(|(p, _)| p.clone()).collect();
    assert!(
        requests.iter().all(|(_, code)| *code == 201),
        "{requests:?}"
    );
    evicted.sort();
    assert_eq!(evicted, targets);
    // Between the two evictions the runbook waited on the ReplicaSet.
    let log = sandbox.request_log().since(mark);
    let posts: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, r)| r.method == "POST" && r.path.ends_with("/eviction"))
        .map(|(i, _)| i)
        .collect();
    assert!(
        log[posts[0]..posts[1]]
            .iter()
            .any(|r| r.method == "GET" && r.path.contains("/replicasets/")),
        "{log:#?}"
    );
    // Both original pods are gone; two replacements run.
    let now = app_test_v1(&sandbox);
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(now.iter().all(|p| !targets.contains(p)), "{now:?}");
    let audit = audit_records(&audit_log);
    assert_eq!(audit.len(), 2, "{audit:#?}");
    assert!(audit.iter().all(|r| r["outcome"] == "ok"), "{audit:#?}");
}

/// A person at the terminal who answers `answer`.
struct Person(bool, usize);
impl Confirm for Person {
    fn ask(&mut self, question: &str) -> Option<bool> {
        assert!(question.contains("service-down"), "{question}");
        self.1 += 1;
        Some(self.0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_answering_no_stops_it_and_yes_lets_it_act() {
    let sandbox = start(seeded()).await;
    break_controller(&sandbox, "terminal-controller").await;
    let dir = tempfile::tempdir().unwrap();
    let audit_log = dir.path().join("audit.jsonl").display().to_string();
    let (args, flags) = parse(
        &sandbox,
        &[
            "service-down",
            "--audit-log",
            &audit_log,
            "--timeout",
            "30s",
            "-o",
            "json",
        ],
    );
    let mark = sandbox.request_log().len();
    let mut out = Out::to_writer(Box::new(Buffer::default()), Format::Json);
    let mut no = Person(false, 0);
    let err = runbook::run_one(&args, &flags.connect().await.unwrap(), &mut out, &mut no)
        .await
        .unwrap_err();
    assert_eq!(no.1, 1);
    assert!(err.to_string().contains("not confirmed"), "{err}");
    assert_eq!(writes(&sandbox, mark), Vec::<String>::new());

    let mut yes = Person(true, 0);
    let exit = runbook::run_one(&args, &flags.connect().await.unwrap(), &mut out, &mut yes)
        .await
        .unwrap();
    assert_eq!(exit, Exit::Ok);
    assert_eq!(yes.1, 1);
    assert!(!writes(&sandbox, mark).is_empty());
    assert_eq!(
        deployment(&sandbox, "terminal-controller")["status"]["readyReplicas"],
        2
    );
}

/// Someone acting on the cluster while the plan waits for "yes": `change` runs when asked.
struct Meanwhile<F: FnMut()>(F);
impl<F: FnMut()> Confirm for Meanwhile<F> {
    fn ask(&mut self, _: &str) -> Option<bool> {
        (self.0)();
        Some(true)
    }
}

/// Runs without --yes, confirming through `confirm`; the JSON report and the exit.
async fn run_confirmed(
    sandbox: &Sandbox,
    argv: &[&str],
    confirm: &mut dyn Confirm,
) -> (sealos_shared::Result<Exit>, Value) {
    let (args, flags) = parse(sandbox, argv);
    let buffer = Buffer::default();
    let mut out = Out::to_writer(Box::new(buffer.clone()), Format::Json);
    let exit = runbook::run_one(&args, &flags.connect().await.unwrap(), &mut out, confirm).await;
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    (exit, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_leak_refuses_to_evict_a_pod_replaced_since_the_plan() {
    let sandbox = start(budget_allows_one()).await;
    let targets = app_test_v1(&sandbox);
    assert_eq!(targets.len(), 2, "{targets:?}");
    let dir = tempfile::tempdir().unwrap();
    let audit_log = dir.path().join("audit.jsonl").display().to_string();
    let mark = sandbox.request_log().len();
    // While the plan waits for "yes", each planned pod is deleted and another is created under
    // its name, as a StatefulSet recreates its pods: same name, new UID. (The newcomer has other
    // labels, so the ReplicaSet, which replaces the deleted pod under a new name, and the
    // budget leave it alone.)
    let mut replaced = Vec::new();
    let mut meanwhile = Meanwhile(|| {
        let pods = sealos_sandbox::registry::ResKey::new("", "pods");
        for pod in &targets {
            let mut old = sandbox.object("", "pods", "ns-bob", pod).unwrap();
            sandbox.store().delete(&pods, "ns-bob", pod).unwrap();
            let meta = old["metadata"].as_object_mut().unwrap();
            for field in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "ownerReferences",
            ] {
                meta.remove(field);
            }
            meta.insert("labels".into(), serde_json::json!({"app": "newcomer"}));
            let new = sandbox.create(old).unwrap();
            replaced.push(new["metadata"]["uid"].as_str().unwrap().to_string());
        }
    });
    let (exit, report) = run_confirmed(
        &sandbox,
        &[
            "memory-leak",
            "--max-pods",
            "2",
            "--audit-log",
            &audit_log,
            "--pause",
            "0s",
            "--timeout",
            "30s",
            "-o",
            "json",
        ],
        &mut meanwhile,
    )
    .await;
    assert_eq!(exit.unwrap(), Exit::Problem, "{report:#}");
    // The plan named the UIDs it measured, not the newcomers'.
    for action in report["plan"].as_array().unwrap() {
        let uid = action["precondition"]["uid"].as_str().unwrap();
        assert!(
            !uid.is_empty() && !replaced.iter().any(|r| r == uid),
            "{action}"
        );
    }
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{report:#}");
    for r in results {
        assert_eq!(r["status"], "stale", "{report:#}");
        let detail = r["detail"].as_str().unwrap();
        // The API server's own words, as upstream's rest.BeforeDelete puts them.
        assert!(
            detail.contains("the UID in the precondition (")
                && detail.contains("The object might have been deleted and then recreated")
                && detail.contains("re-plan"),
            "{detail}"
        );
    }
    // Both evictions were sent and refused; the replacements are untouched.
    let requests = evictions(&sandbox, mark);
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        requests.iter().all(|(_, code)| *code == 409),
        "{requests:?}"
    );
    for pod in &targets {
        let uid = sandbox.object("", "pods", "ns-bob", pod).unwrap()["metadata"]["uid"].clone();
        assert!(replaced.iter().any(|r| uid == r.as_str()), "{uid}");
    }
    let audit = audit_records(&audit_log);
    assert_eq!(audit.len(), 2, "{audit:#?}");
    assert!(
        audit
            .iter()
            .all(|r| r["outcome"].as_str().unwrap().starts_with("stale:")),
        "{audit:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_down_refuses_a_restart_planned_on_a_deployment_that_changed() {
    let sandbox = start(seeded()).await;
    break_controller(&sandbox, "terminal-controller").await;
    let dir = tempfile::tempdir().unwrap();
    let audit_log = dir.path().join("audit.jsonl").display().to_string();
    let argv = [
        "service-down",
        "--audit-log",
        &audit_log,
        "--timeout",
        "30s",
        "-o",
        "json",
    ];
    // Someone else changes the Deployment while the plan waits for "yes".
    let mut meanwhile = Meanwhile(|| {
        sandbox
            .modify(
                "apps",
                "deployments",
                "sealos-system",
                "terminal-controller",
                |d| {
                    d["metadata"]["labels"]["changed-by"] = "someone-else".into();
                },
            )
            .unwrap();
    });
    let (exit, report) = run_confirmed(&sandbox, &argv, &mut meanwhile).await;
    assert_eq!(exit.unwrap(), Exit::Problem, "{report:#}");
    assert!(
        report["plan"][0]["precondition"]["resource_version"].is_string(),
        "{report:#}"
    );
    assert_eq!(report["results"][0]["status"], "stale", "{report:#}");
    let detail = report["results"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("the object has been modified") && detail.contains("re-plan"),
        "{detail}"
    );
    let d = deployment(&sandbox, "terminal-controller");
    assert!(
        d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_null(),
        "restarted anyway: {d:#}"
    );
    // Planned again, it acts.
    let mut unchanged = Meanwhile(|| {});
    let (exit, report) = run_confirmed(&sandbox, &argv, &mut unchanged).await;
    assert_eq!(exit.unwrap(), Exit::Ok, "{report:#}");
    assert_eq!(report["results"][0]["status"], "done", "{report:#}");
}
