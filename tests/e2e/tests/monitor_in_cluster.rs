//! The monitor runs in the cluster: `health monitor install` (the real binary, the sandbox's
//! kubeconfig) makes a Deployment of the suite's image, which the sandbox's kubelet runs from the
//! built binaries under the monitor's own ServiceAccount. A real Prometheus (Debian's) scrapes a
//! small exporter whose 5xx ratio the test sets, behind the `monitoring/prometheus` Service; a
//! Slack stand-in gets the alerts. Exactly one alert; a new pod after `kubectl delete pod` does
//! not re-send it (the state is in the ConfigMap); exactly one "resolved"; uninstall leaves
//! nothing labelled; the `--dry-run -o yaml` manifest passes `kubectl apply --dry-run=server`.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sealos_e2e::{Output, bin_dir, run};
use sealos_sandbox::kubelet::RunImage;
use sealos_sandbox::{Sandbox, SandboxOptions};
use sealos_shared::test_server::serve;
use serde_json::Value;

const LABEL: &str = "app.kubernetes.io/managed-by=kubectl-sealos";

struct Env {
    kubeconfig: std::path::PathBuf,
    home: tempfile::TempDir,
}

impl Env {
    fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.home.path());
        c
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        run(self.command(Path::new("kubectl")).args(args))
    }

    fn health(&self, args: &[&str]) -> Output {
        run(self
            .command(&bin_dir().join("kubectl-sealos-health"))
            .args(args))
    }
}

/// Waits (bounded) until `check` gives a value; `what` names it in the failure.
async fn until<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Istio's request counter for one service; each scrape adds 100 requests, half of them 503
/// while `bad`.
async fn exporter(bad: Arc<AtomicBool>) -> u16 {
    let total = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let addr = serve(move |_| {
        let t = total.fetch_add(100, Ordering::SeqCst) + 100;
        let add = if bad.load(Ordering::SeqCst) { 50 } else { 0 };
        let e = errors.fetch_add(add, Ordering::SeqCst) + add;
        let labels =
            "destination_service_namespace=\"sealos-system\",destination_service_name=\"api\"";
        let body = format!(
            "# TYPE istio_requests_total counter\n\
             istio_requests_total{{{labels},response_code=\"200\"}} {}\n\
             istio_requests_total{{{labels},response_code=\"503\"}} {e}\n\
             # TYPE istio_request_duration_milliseconds histogram\n\
             istio_request_duration_milliseconds_bucket{{{labels},le=\"10\"}} {t}\n\
             istio_request_duration_milliseconds_bucket{{{labels},le=\"+Inf\"}} {t}\n\
             istio_request_duration_milliseconds_sum{{{labels}}} {}\n\
             istio_request_duration_milliseconds_count{{{labels}}} {t}\n",
            t - e,
            t * 5
        );
        (200, "text/plain; version=0.0.4", body)
    })
    .await;
    addr.port()
}

/// Debian's Prometheus scraping the exporter every second; killed on drop.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn prometheus(exporter_port: u16) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n- job_name: exporter\n  static_configs:\n  - targets: ['127.0.0.1:{exporter_port}']\n"),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus is installed (Debian package `prometheus`)");
    Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// The Slack stand-in: every POST body's `text`, in order.
async fn slack() -> (String, Arc<Mutex<Vec<String>>>) {
    let texts = Arc::new(Mutex::new(Vec::new()));
    let seen = texts.clone();
    let addr = serve(move |req| {
        if req.method == "POST" {
            let body: Value = serde_json::from_str(&req.body).unwrap_or(Value::Null);
            seen.lock()
                .unwrap()
                .push(body["text"].as_str().unwrap_or(&req.body).to_string());
        }
        (200, "text/plain", "ok".to_string())
    })
    .await;
    (
        format!("http://{addr}/services/T000/B000/SECRETTOKEN"),
        texts,
    )
}

fn labelled(sb: &Sandbox) -> Vec<String> {
    let kinds = [
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("", "pods"),
        ("", "configmaps"),
        ("", "serviceaccounts"),
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ];
    let mut found = Vec::new();
    for (group, plural) in kinds {
        for o in sb.objects(group, plural, None) {
            if o["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubectl-sealos" {
                found.push(format!(
                    "{plural}/{}",
                    o["metadata"]["name"].as_str().unwrap_or("")
                ));
            }
        }
    }
    found
}

/// The monitor's pods, not terminating: (name, phase, serviceAccountName).
fn monitor_pods(sb: &Sandbox) -> Vec<(String, String, String)> {
    sb.objects("", "pods", Some("monitoring"))
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["app.kubernetes.io/component"] == "health-monitor")
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| {
            (
                p["metadata"]["name"].as_str().unwrap_or("").to_string(),
                p["status"]["phase"].as_str().unwrap_or("").to_string(),
                p["spec"]["serviceAccountName"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect()
}

/// How many rounds with traffic data the pod has logged.
fn rounds(env: &Env, pod: &str) -> usize {
    let logs = env.kubectl(&["-n", "monitoring", "logs", pod]);
    logs.stdout
        .lines()
        .filter(|l| l.contains(" overall:"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_monitor_runs_in_the_cluster_and_alerts_once() {
    let sb = Sandbox::start(SandboxOptions {
        run_images: vec![RunImage {
            pattern: "ghcr.io/labring/kubectl-sealos:*".into(),
            dir: bin_dir().to_path_buf(),
        }],
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let env = Env {
        kubeconfig: sb.kubeconfig_path().to_path_buf(),
        home: tempfile::tempdir().unwrap(),
    };
    let bad = Arc::new(AtomicBool::new(true));
    let prom = prometheus(exporter(bad.clone()).await).await;
    let (webhook, texts) = slack().await;
    env.kubectl(&[
        "-n",
        "monitoring",
        "annotate",
        "service",
        "prometheus",
        &format!("sandbox.sealos.io/upstream={}", prom.url),
    ])
    .expect_code(0);
    env.kubectl(&[
        "-n",
        "monitoring",
        "create",
        "secret",
        "generic",
        "slack",
        &format!("--from-literal=url={webhook}"),
    ])
    .expect_code(0);
    let flags = [
        "--slack-webhook-secret",
        "slack/url",
        "--interval",
        "1s",
        "--window",
        "10s",
        "--min-requests",
        "5",
        "--match",
        "destination_service_namespace=sealos-system",
        "--no-per-service",
    ];

    // The dry run's manifest is what the API server accepts, and names no webhook.
    let mut args = vec!["monitor", "install", "--dry-run", "-o", "yaml"];
    args.extend(flags);
    let dry = env.health(&args);
    dry.expect_code(0)
        .expect_stdout_contains("kind: Deployment");
    assert!(!dry.stdout.contains("SECRETTOKEN"), "{dry}");
    let mut apply = env
        .command(Path::new("kubectl"))
        .args(["apply", "--dry-run=server", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    apply
        .stdin
        .take()
        .unwrap()
        .write_all(dry.stdout.as_bytes())
        .unwrap();
    let applied = apply.wait_with_output().unwrap();
    assert!(
        applied.status.success(),
        "kubectl apply --dry-run=server refused the manifest:\n{}\n{}",
        String::from_utf8_lossy(&applied.stderr),
        dry.stdout
    );
    assert!(
        labelled(&sb).is_empty(),
        "a dry run made {:?}",
        labelled(&sb)
    );

    let mut args = vec!["monitor", "install"];
    args.extend(flags);
    env.health(&args)
        .expect_code(0)
        .expect_stdout_contains("deployment.apps/sealos-health-monitor serverside-applied");

    // The pod runs under its own ServiceAccount.
    let first = until("the monitor's pod to run", Duration::from_secs(60), || {
        monitor_pods(&sb)
            .into_iter()
            .find(|(_, phase, _)| phase == "Running")
    })
    .await;
    assert_eq!(first.2, "sealos-health-monitor");

    // One alert, and no second one over the rounds after it.
    until("the alert in Slack", Duration::from_secs(120), || {
        (!texts.lock().unwrap().is_empty()).then_some(())
    })
    .await;
    let seen = rounds(&env, &first.0);
    until("three more rounds", Duration::from_secs(60), || {
        (rounds(&env, &first.0) >= seen + 3).then_some(())
    })
    .await;
    let sent = texts.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(sent[0].contains("error rate"), "{sent:#?}");
    assert!(!sent[0].contains("Resolved"), "{sent:#?}");

    // status reads the state ConfigMap and the Deployment: ready, one alert firing (exit 1).
    let status = env.health(&["monitor", "status", "-o", "json"]);
    status.expect_code(1);
    let doc: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(doc["ready"], true, "{status}");
    assert_eq!(doc["firing"].as_array().map(Vec::len), Some(1), "{status}");

    // A new pod takes the state up from the ConfigMap: nothing is sent again.
    env.kubectl(&["-n", "monitoring", "delete", "pod", &first.0])
        .expect_code(0);
    let second = until("a new monitor pod to run", Duration::from_secs(60), || {
        monitor_pods(&sb)
            .into_iter()
            .find(|(name, phase, _)| phase == "Running" && *name != first.0)
    })
    .await;
    until(
        "three rounds of the new pod",
        Duration::from_secs(60),
        || (rounds(&env, &second.0) >= 3).then_some(()),
    )
    .await;
    assert_eq!(
        texts.lock().unwrap().len(),
        1,
        "{:#?}",
        texts.lock().unwrap()
    );

    // The ratio drops: exactly one "resolved".
    bad.store(false, Ordering::SeqCst);
    until("the resolved message", Duration::from_secs(120), || {
        (texts.lock().unwrap().len() >= 2).then_some(())
    })
    .await;
    let seen = rounds(&env, &second.0);
    until("three more rounds", Duration::from_secs(60), || {
        (rounds(&env, &second.0) >= seen + 3).then_some(())
    })
    .await;
    let sent = texts.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent[1].contains("Resolved"), "{sent:#?}");
    env.health(&["monitor", "status"]).expect_code(0);

    // uninstall removes what install made, and nothing else.
    let before = sb.objects("", "configmaps", None).len();
    env.health(&["monitor", "uninstall"])
        .expect_code(0)
        .expect_stdout_contains("configmap/sealos-health-monitor-state deleted");
    until(
        "nothing labelled managed-by kubectl-sealos",
        Duration::from_secs(60),
        || labelled(&sb).is_empty().then_some(()),
    )
    .await;
    assert_eq!(sb.objects("", "configmaps", None).len(), before - 1);
    let left = env.kubectl(&[
        "get",
        "all,cm,sa,role,rolebinding",
        "-A",
        "-l",
        LABEL,
        "-o",
        "name",
    ]);
    left.expect_code(0);
    assert!(left.stdout.trim().is_empty(), "{left}");
    env.health(&["monitor", "status"]).expect_code(1);
    sb.shutdown().await;
}
