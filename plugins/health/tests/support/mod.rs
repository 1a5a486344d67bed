//! Real servers for the health tests: a tiny HTTP server (exporter, Slack stand-in, garbage
//! Prometheus), a real `prometheus` process on a free port, and waiting on conditions.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use sealos_shared::test_server::serve;

/// The traffic of one destination service, as the test wants it to look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traffic {
    pub per_second: f64,
    /// Share of requests answered 503.
    pub errors: f64,
    /// Every request takes this long.
    pub latency_ms: f64,
}

const BUCKETS: [f64; 11] = [
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    f64::INFINITY,
];

#[derive(Default)]
struct Series {
    traffic: Option<Traffic>,
    ok: f64,
    failed: f64,
    buckets: [f64; 11],
    sum: f64,
    last: Option<Instant>,
}

/// A stand-in Istio proxy exporter: counters grow at the rates the test sets.
#[derive(Clone, Default)]
pub struct Exporter {
    services: Arc<Mutex<BTreeMap<(String, String), Series>>>,
}

impl Exporter {
    /// Sets (or changes) a service's traffic; counters keep what they counted so far.
    pub fn set(&self, namespace: &str, name: &str, traffic: Traffic) {
        let mut services = self.services.lock().unwrap();
        let series = services.entry((namespace.into(), name.into())).or_default();
        advance(series, Instant::now());
        series.traffic = Some(traffic);
    }

    /// Stops exposing a service's series (its pods are gone): Prometheus marks them stale.
    pub fn remove(&self, namespace: &str, name: &str) {
        self.services
            .lock()
            .unwrap()
            .remove(&(namespace.to_string(), name.to_string()));
    }

    pub fn render(&self) -> String {
        let now = Instant::now();
        let mut services = self.services.lock().unwrap();
        let mut out = String::from(
            "# TYPE istio_requests_total counter\n# TYPE istio_request_duration_milliseconds histogram\n",
        );
        for ((ns, name), series) in services.iter_mut() {
            advance(series, now);
            let labels = format!(
                "destination_service_namespace=\"{ns}\",destination_service_name=\"{name}\",destination_service=\"{name}.{ns}.svc.cluster.local\""
            );
            out.push_str(&format!(
                "istio_requests_total{{{labels},response_code=\"200\"}} {}\n",
                series.ok
            ));
            out.push_str(&format!(
                "istio_requests_total{{{labels},response_code=\"503\"}} {}\n",
                series.failed
            ));
            for (le, count) in BUCKETS.iter().zip(series.buckets) {
                let le = if le.is_infinite() {
                    "+Inf".to_string()
                } else {
                    format!("{le}")
                };
                out.push_str(&format!(
                    "istio_request_duration_milliseconds_bucket{{{labels},le=\"{le}\"}} {count}\n"
                ));
            }
            out.push_str(&format!(
                "istio_request_duration_milliseconds_sum{{{labels}}} {}\n",
                series.sum
            ));
            out.push_str(&format!(
                "istio_request_duration_milliseconds_count{{{labels}}} {}\n",
                series.buckets[10]
            ));
        }
        out
    }

    /// Serves `/metrics`.
    pub async fn start(&self) -> SocketAddr {
        let me = self.clone();
        serve(move |_| (200, "text/plain; version=0.0.4", me.render())).await
    }
}

fn advance(series: &mut Series, now: Instant) {
    if let (Some(t), Some(last)) = (series.traffic, series.last) {
        let n = t.per_second * now.duration_since(last).as_secs_f64();
        series.ok += n * (1.0 - t.errors);
        series.failed += n * t.errors;
        series.sum += n * t.latency_ms;
        for (i, le) in BUCKETS.iter().enumerate() {
            if t.latency_ms <= *le {
                series.buckets[i] += n;
            }
        }
    }
    series.last = Some(now);
}

/// A real Prometheus, killed on drop.
pub struct PrometheusServer {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The scenarios the monitor tests send through the exporter.
pub const HEALTHY: Traffic = Traffic {
    per_second: 50.0,
    errors: 0.0,
    latency_ms: 80.0,
};
pub const FAILING: Traffic = Traffic {
    per_second: 50.0,
    errors: 0.3,
    latency_ms: 80.0,
};
pub const SLOW: Traffic = Traffic {
    per_second: 50.0,
    errors: 0.0,
    latency_ms: 900.0,
};
/// No requests at all.
pub const QUIET: Traffic = Traffic {
    per_second: 0.0,
    errors: 0.0,
    latency_ms: 80.0,
};

/// Retries short enough for a test, with the same shape as the real ones.
pub fn fast() -> sealos_shared::retry::Backoff {
    sealos_shared::retry::Backoff {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        attempts: 3,
    }
}

/// A client for a Prometheus started by the test.
pub fn direct(url: &str) -> sealos_shared::prometheus::Prometheus {
    sealos_shared::prometheus::Prometheus::direct(url, Duration::from_secs(5)).unwrap()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PrometheusServer {
    /// Starts `prometheus` scraping `targets` every second, and waits until it is ready.
    pub async fn start(targets: &[SocketAddr]) -> PrometheusServer {
        let dir = tempfile::tempdir().unwrap();
        let targets: Vec<String> = targets.iter().map(|a| format!("'{a}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: istio-proxy-stand-in\n  static_configs:\n  - targets: [{}]\n",
            targets.join(", ")
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the `prometheus` binary (Debian package prometheus) must be installed");
        let server = PrometheusServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let ready_url = format!("{}/-/ready", server.url);
        wait_for("prometheus to be ready", Duration::from_secs(60), || {
            let url = ready_url.clone();
            async move { http_get(&url).await.is_some_and(|(s, _)| s == 200) }
        })
        .await;
        server
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

/// A bare GET over TCP (no client dependency): status and body.
pub async fn http_get(url: &str) -> Option<(u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = tokio::net::TcpStream::connect(host).await.ok()?;
    let path = if path.is_empty() { "/" } else { path };
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .ok()?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.ok()?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// Polls `condition` until it holds, failing the test after `limit` (a bound, not a timing
/// assertion: the condition is what is waited for).
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if condition().await {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "gave up waiting for {what} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A Slack stand-in: records every POST body, answers the statuses queued (then 200, or 500
/// while `down`), and keeps apart the bodies it accepted (answered 2xx).
#[derive(Clone, Default)]
pub struct SlackReceiver {
    pub bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    pub accepted: Arc<Mutex<Vec<serde_json::Value>>>,
    pub statuses: Arc<Mutex<Vec<u16>>>,
    pub down: Arc<std::sync::atomic::AtomicBool>,
}

impl SlackReceiver {
    pub async fn start(&self) -> String {
        let me = self.clone();
        let addr = serve(move |req| {
            let status = {
                let mut queued = me.statuses.lock().unwrap();
                if !queued.is_empty() {
                    queued.remove(0)
                } else if me.down.load(std::sync::atomic::Ordering::SeqCst) {
                    500
                } else {
                    200
                }
            };
            if req.method == "POST" {
                let body: serde_json::Value = serde_json::from_str(&req.body)
                    .unwrap_or(serde_json::Value::String(req.body.clone()));
                if (200..300).contains(&status) {
                    me.accepted.lock().unwrap().push(body.clone());
                }
                me.bodies.lock().unwrap().push(body);
            }
            (
                status,
                "text/plain",
                if status == 200 {
                    "ok".into()
                } else {
                    "no".into()
                },
            )
        })
        .await;
        format!("http://{addr}/services/T000/B000/SECRETTOKEN")
    }

    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().clone()
    }

    /// The messages Slack took (answered 2xx): what a channel would show.
    pub fn accepted(&self) -> Vec<serde_json::Value> {
        self.accepted.lock().unwrap().clone()
    }

    /// Down (every POST answered 500) or up.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A syslog socket in a temp dir, and the lines it received so far.
pub struct SyslogSocket {
    pub path: PathBuf,
    socket: std::os::unix::net::UnixDatagram,
    _dir: tempfile::TempDir,
}

impl SyslogSocket {
    pub fn bind() -> SyslogSocket {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        socket.set_nonblocking(true).unwrap();
        SyslogSocket {
            path,
            socket,
            _dir: dir,
        }
    }

    pub fn drain(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = self.socket.recv(&mut buf) {
            lines.push(String::from_utf8_lossy(&buf[..n]).to_string());
        }
        lines
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Runs the plugin's binary with an isolated HOME; returns (exit code, stdout, stderr).
pub fn run_binary(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-sealos-health"));
    cmd.args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// Checks a `health -o json` document against the documented schema, listing every violation.
pub fn assert_report_schema(document: &serde_json::Value) {
    assert_schema(include_str!("../../schema/report.schema.json"), document);
}

/// Checks a saved monitor state against its documented schema.
pub fn assert_state_schema(document: &serde_json::Value) {
    assert_schema(
        include_str!("../../schema/monitor-state.schema.json"),
        document,
    );
}

fn assert_schema(schema: &str, document: &serde_json::Value) {
    let schema: serde_json::Value = serde_json::from_str(schema).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "the report breaks its schema:\n{}\n{document:#}",
        errors.join("\n")
    );
}
