//! `bench run --workers N`: the load sent from the pods of an Indexed Job that the sandbox's
//! kubelet runs from the built binaries, against a real nginx on the loopback whose access log
//! counts every request and names the worker that sent it. The merge is checked by decoding
//! each worker's histogram here.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use sealos_e2e::{Output, bin_dir, plugin_bin, run};
use sealos_sandbox::kubelet::RunImage;
use sealos_sandbox::{Sandbox, SandboxOptions};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const RUN_LABEL: &str = "bench.sealos.io/run";

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions {
        run_images: vec![RunImage {
            pattern: "ghcr.io/labring/kubectl-sealos:*".into(),
            dir: bin_dir().to_path_buf(),
        }],
        ..SandboxOptions::default()
    })
    .await
    .unwrap()
}

/// The upstream nginx proxies to: answers `ok`, after `delay` for worker 0 when `slow` is set.
async fn upstream(slow: Arc<AtomicBool>, delay: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let slow = slow.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut chunk = [0u8; 2048];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&chunk[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
                if slow.load(Ordering::Relaxed) && text.contains("\r\nx-sealos-bench-worker: 0\r\n")
                {
                    tokio::time::sleep(delay).await;
                }
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    port
}

/// A real nginx on 127.0.0.1 proxying to `upstream`, logging `<worker> <status>` per request.
struct Nginx {
    child: Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx_program() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("nginx is installed (scripts/test installs Debian's nginx)")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn nginx(upstream: u16) -> Nginx {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    // nginx's workers run as nobody when it is started as root.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let port = free_port();
    let conf = format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\ndaemon off;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  log_format bench '$http_x_sealos_bench_worker $status';\n\
           access_log {d}/access.log bench;\n\
           client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;\n\
           uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;\n\
           server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://127.0.0.1:{upstream}; }} }}\n}}\n"
    );
    std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let child = Command::new(nginx_program())
        .args(["-p", &d, "-c", &format!("{d}/nginx.conf")])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not listen on {port}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Nginx {
        child,
        url: format!("http://127.0.0.1:{port}/"),
        log: dir.path().join("access.log"),
        _dir: dir,
    }
}

/// Requests nginx logged, by the worker that sent them.
fn logged(log: &Path) -> BTreeMap<String, u64> {
    let mut by_worker = BTreeMap::new();
    for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
        let worker = line.split(' ').next().unwrap_or_default().to_string();
        *by_worker.entry(worker).or_insert(0) += 1;
    }
    by_worker
}

fn total(by_worker: &BTreeMap<String, u64>) -> u64 {
    by_worker.values().sum()
}

/// Waits (bounded) until nginx has logged at least `n` requests, then returns its counts.
async fn logged_at_least(log: &Path, n: u64) -> BTreeMap<String, u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = logged(log);
        if total(&seen) >= n || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn bench(sb: &Sandbox, args: &[&str]) -> Command {
    let home = sb.kubeconfig_path().parent().unwrap().to_path_buf();
    let mut command = Command::new(plugin_bin("bench"));
    command
        .arg("run")
        .args(args)
        .arg("--kubeconfig")
        .arg(sb.kubeconfig_path())
        .env("HOME", home)
        .env_remove("KUBECONFIG");
    command
}

fn jobs(sb: &Sandbox) -> Vec<Value> {
    sb.objects("batch", "jobs", Some("default"))
        .into_iter()
        .filter(|j| !j["metadata"]["labels"][RUN_LABEL].is_null())
        .collect()
}

fn worker_pods(sb: &Sandbox) -> Vec<Value> {
    sb.objects("", "pods", Some("default"))
        .into_iter()
        .filter(|p| !p["metadata"]["labels"][RUN_LABEL].is_null())
        .collect()
}

fn decode(text: &str) -> Histogram<u64> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap();
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"))
}

/// Runs a spawned command to its end, bounded, keeping its output.
async fn finish(child: Child, what: &str) -> Output {
    let waited = tokio::task::spawn_blocking(move || child.wait_with_output());
    let out = tokio::time::timeout(Duration::from_secs(120), waited)
        .await
        .unwrap_or_else(|_| panic!("{what} did not end"))
        .unwrap()
        .unwrap();
    Output {
        command: what.to_string(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn three_workers_send_exactly_the_count_and_merge_exactly() {
    let sb = sandbox().await;
    let slow = Arc::new(AtomicBool::new(true));
    let server = nginx(upstream(slow, Duration::from_millis(50)).await).await;
    let out = run(&mut bench(
        &sb,
        &[
            &server.url,
            "--workers",
            "3",
            "-n",
            "3000",
            "-c",
            "30",
            "--start-within",
            "10s",
            "-o",
            "json",
        ],
    ));
    out.expect_code(0);
    let report = json(&out);
    let step = &report["steps"][0];
    assert_eq!(step["requests"], 3000, "{out}");
    assert_eq!(step["successes"], 3000, "{out}");

    // nginx saw exactly 3000 requests, 1000 from each worker.
    let seen = logged_at_least(&server.log, 3000).await;
    assert_eq!(total(&seen), 3000, "{seen:?}");
    for worker in ["0", "1", "2"] {
        assert_eq!(seen.get(worker), Some(&1000), "{seen:?}");
    }

    // The merged histogram is the merge of the three the workers sent.
    let workers = step["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 3, "{out}");
    let mut merged = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for w in workers {
        assert_eq!(w["state"], "done", "{w:#}");
        assert_eq!(w["requests"], 1000, "{w:#}");
        assert_eq!(w["concurrency"], 10, "{w:#}");
        merged
            .add(decode(w["histogram"].as_str().unwrap()))
            .unwrap();
    }
    let reported = decode(step["histogram"].as_str().unwrap());
    assert_eq!(reported, merged);
    assert_eq!(reported.len(), 3000);
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let l = &step["latency_ms"];
    assert_eq!(l["p50"].as_f64().unwrap(), ms(&merged, 0.5));
    assert_eq!(l["p99"].as_f64().unwrap(), ms(&merged, 0.99));
    assert_eq!(l["max"].as_f64().unwrap(), merged.max() as f64 / 1000.0);

    // Worker 0 was slow: averaging the workers' percentiles would be wrong.
    let parts: Vec<Histogram<u64>> = workers
        .iter()
        .map(|w| decode(w["histogram"].as_str().unwrap()))
        .collect();
    assert!(ms(&parts[0], 0.0) >= 50.0, "worker 0 was delayed");
    let mean = |q: f64| parts.iter().map(|h| ms(h, q)).sum::<f64>() / 3.0;
    let (p50, p99) = (ms(&merged, 0.5), ms(&merged, 0.99));
    assert!(p50 < mean(0.5), "merged p50 {p50} vs mean {}", mean(0.5));
    assert!(p99 > mean(0.99), "merged p99 {p99} vs mean {}", mean(0.99));
    assert!(jobs(&sb).is_empty(), "the Job is left: {:#?}", jobs(&sb));
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_is_split_across_the_workers() {
    let sb = sandbox().await;
    let server = nginx(upstream(Arc::new(AtomicBool::new(false)), Duration::ZERO).await).await;
    let out = run(&mut bench(
        &sb,
        &[
            &server.url,
            "--workers",
            "3",
            "--rate",
            "600",
            "-z",
            "3s",
            "-c",
            "30",
            "--start-within",
            "10s",
            "-o",
            "json",
        ],
    ));
    out.expect_code(0);
    let seen = logged_at_least(&server.log, 1782).await;
    let sent = total(&seen);
    assert!(
        (1782..=1818).contains(&sent),
        "{sent} requests: {seen:?}\n{out}"
    );
    assert_eq!(json(&out)["steps"][0]["requests"], sent, "{out}");
    assert!(jobs(&sb).is_empty());
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_deletes_the_job_and_reports_what_was_gathered() {
    let sb = sandbox().await;
    let server = nginx(upstream(Arc::new(AtomicBool::new(false)), Duration::ZERO).await).await;
    let child = bench(
        &sb,
        &[
            &server.url,
            "--workers",
            "3",
            "--rate",
            "60",
            "-z",
            "60s",
            "-c",
            "3",
            "--start-within",
            "10s",
            "-o",
            "json",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .stdin(Stdio::null())
    .spawn()
    .unwrap();
    let pid = child.id().to_string();
    let seen = logged_at_least(&server.log, 30).await;
    assert!(total(&seen) >= 30, "the load never started: {seen:?}");
    assert!(!jobs(&sb).is_empty(), "the Job runs while the load does");
    run(Command::new("kill").args(["-INT", &pid])).expect_code(0);
    let out = finish(child, "bench run --workers 3 (interrupted)").await;
    out.expect_code(130);
    let report = json(&out);
    assert_eq!(report["interrupted"], true, "{out}");
    let step = &report["steps"][0];
    assert!(step["requests"].as_u64().unwrap() >= 30, "{out}");
    assert!(jobs(&sb).is_empty(), "the Job is left: {:#?}", jobs(&sb));
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_worker_fails_the_run_and_leaves_no_job() {
    let sb = sandbox().await;
    let server = nginx(upstream(Arc::new(AtomicBool::new(false)), Duration::ZERO).await).await;
    let child = bench(
        &sb,
        &[
            &server.url,
            "--workers",
            "3",
            "--rate",
            "60",
            "-z",
            "8s",
            "-c",
            "3",
            "--start-within",
            "10s",
            "-o",
            "json",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .stdin(Stdio::null())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !logged(&server.log).contains_key("1") {
        assert!(Instant::now() < deadline, "worker 1 never sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pod = worker_pods(&sb)
        .into_iter()
        .find(|p| p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "1")
        .unwrap();
    let name = pod["metadata"]["name"].as_str().unwrap().to_string();
    let home = sb.kubeconfig_path().parent().unwrap().to_path_buf();
    run(Command::new("kubectl")
        .args(["delete", "pod", &name, "--wait=false"])
        .env("KUBECONFIG", sb.kubeconfig_path())
        .env("HOME", home))
    .expect_code(0);
    let out = finish(child, "bench run --workers 3 (a worker killed)").await;
    out.expect_code(1);
    out.expect_stderr_contains(&format!("worker 1 (pod {name:?}) failed"));
    let report = json(&out);
    let workers = report["steps"][0]["workers"].as_array().unwrap();
    assert_eq!(workers[1]["state"], "failed", "{out}");
    assert_eq!(workers[0]["state"], "done", "{out}");
    assert!(jobs(&sb).is_empty(), "the Job is left: {:#?}", jobs(&sb));
    sb.shutdown().await;
}
