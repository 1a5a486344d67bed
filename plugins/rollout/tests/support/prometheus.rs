//! A real Prometheus (Debian's `prometheus`) scraping a small exporter this test process serves:
//! Istio's request counter and duration histogram for one destination service, with values the
//! test decides on at every scrape.
#![allow(clippy::unwrap_used, dead_code)]

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sealos_shared::prometheus::Prometheus;
use sealos_shared::test_server::serve;

/// What one scrape adds: requests, and how many of them were 5xx.
pub type Traffic = Arc<dyn Fn() -> (u64, u64) + Send + Sync>;

/// Serves `/metrics` for `service` in `namespace` on 127.0.0.1 port 0; every scrape adds the
/// traffic `traffic` says (all requests take under 10ms).
pub async fn exporter(namespace: &str, service: &str, traffic: Traffic) -> u16 {
    let labels = format!(
        "destination_service_namespace=\"{namespace}\",destination_service_name=\"{service}\""
    );
    let total = AtomicU64::new(0);
    let errors = AtomicU64::new(0);
    let addr = serve(move |_| {
        let (requests, failed) = traffic();
        let t = total.fetch_add(requests, Ordering::SeqCst) + requests;
        let e = errors.fetch_add(failed, Ordering::SeqCst) + failed;
        let body = format!(
            "# TYPE istio_requests_total counter\n\
             istio_requests_total{{{labels},response_code=\"200\"}} {ok}\n\
             istio_requests_total{{{labels},response_code=\"503\"}} {e}\n\
             # TYPE istio_request_duration_milliseconds histogram\n\
             istio_request_duration_milliseconds_bucket{{{labels},le=\"10\"}} {t}\n\
             istio_request_duration_milliseconds_bucket{{{labels},le=\"100\"}} {t}\n\
             istio_request_duration_milliseconds_bucket{{{labels},le=\"+Inf\"}} {t}\n\
             istio_request_duration_milliseconds_sum{{{labels}}} {sum}\n\
             istio_request_duration_milliseconds_count{{{labels}}} {t}\n",
            ok = t - e,
            sum = t * 5,
        );
        (200, "text/plain; version=0.0.4", body)
    })
    .await;
    addr.port()
}

/// A running Prometheus, killed on drop.
pub struct PromServer {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Drop for PromServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Prometheus scraping `127.0.0.1:exporter_port` every second, and returns once it has
/// scraped the exporter at least twice (so `increase` has something to work on).
pub async fn start(exporter_port: u16) -> PromServer {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: exporter\n  static_configs:\n  - targets: ['127.0.0.1:{exporter_port}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
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
    let server = PromServer {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let prom = Prometheus::direct(&server.url, Duration::from_secs(2)).unwrap();
    // Ready when two scrapes of the exporter are stored (bounded, so a broken install fails).
    let ready = async {
        loop {
            if let Ok(result) = prom
                .query("count_over_time(up{job=\"exporter\"}[1m])", None)
                .await
                && result.single_value().is_some_and(|v| v >= 2.0)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), ready)
        .await
        .expect("prometheus scraped the exporter twice");
    server
}
