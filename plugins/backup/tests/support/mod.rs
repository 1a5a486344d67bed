//! Shared by the backup tests: sandboxes, running the command in-process or as the real binary
//! (own HOME), a moto S3 server on a free port, and reading archives.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use kubectl_sealos_backup::{Args, format_of, run_with};
use sealos_sandbox::{Sandbox, SandboxOptions};
use sealos_shared::archive::writer::Spool;
use sealos_shared::output::Out;
use sealos_shared::{Exit, Result};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_kubectl-sealos-backup");

pub async fn sandbox(scenario: &str) -> Sandbox {
    Sandbox::start(SandboxOptions::scenario(scenario))
        .await
        .unwrap()
}

/// `kubectl sealos backup ARGS` in-process: the exit (or error) and stdout.
pub async fn run(sandbox: Option<&Sandbox>, argv: &[&str]) -> (Result<Exit>, String) {
    let mut all = vec!["kubectl-sealos-backup".to_string()];
    if let Some(s) = sandbox {
        all.push("--kubeconfig".into());
        all.push(s.kubeconfig_path().display().to_string());
    }
    all.extend(argv.iter().map(|a| a.to_string()));
    let args = Args::try_parse_from(&all).unwrap();
    let buffer = Spool::default();
    let mut out = Out::to_writer(Box::new(buffer.clone()), format_of(&args.command));
    let result = run_with(&args, &mut out).await;
    (result, String::from_utf8(buffer.take_all()).unwrap())
}

/// In-process, JSON report expected, exit 0 or 1.
pub async fn run_json(sandbox: Option<&Sandbox>, argv: &[&str]) -> (Exit, Value) {
    let (result, out) = run(sandbox, argv).await;
    let exit = match result {
        Ok(exit) => exit,
        Err(e) => panic!("{argv:?} failed: {e}\n{out}"),
    };
    (
        exit,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")),
    )
}

/// The real binary, with its own HOME and the given environment; waits off the runtime.
pub async fn bin(argv: Vec<String>, env: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(&argv)
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NO_COLOR", "1");
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        drop(home);
        out
    })
    .await
    .unwrap()
}

pub fn explain(argv: &[String], out: &Output) -> String {
    format!(
        "command: {BIN} {}\nexit: {:?}\nstdout:\n{}\nstderr:\n{}",
        argv.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn strings(argv: &[&str]) -> Vec<String> {
    argv.iter().map(|s| s.to_string()).collect()
}

/// The one archive file (`*.tar.gz*`) in `dir`.
pub fn archive_in(dir: &Path) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.ends_with(".tar.gz") || n.ends_with(".tar.gz.age")
        })
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

/// Entry names of a plain archive, in order.
pub fn entry_names(archive: &Path) -> Vec<String> {
    let file = std::fs::File::open(archive).unwrap();
    let mut tar = tar_reader(file);
    tar.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn tar_reader(file: std::fs::File) -> tar::Archive<flate2::read::GzDecoder<std::fs::File>> {
    tar::Archive::new(flate2::read::GzDecoder::new(file))
}

/// Rewrites the plain archive's entries (None drops one).
pub fn rewrite(archive: &Path, out: &Path, change: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>) {
    let mut input = tar_reader(std::fs::File::open(archive).unwrap());
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        std::fs::File::create(out).unwrap(),
        flate2::Compression::fast(),
    ));
    for entry in input.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if let Some(data) = change(&name, data) {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            builder
                .append_data(&mut header, &name, data.as_slice())
                .unwrap();
        }
    }
    builder.into_inner().unwrap().finish().unwrap();
}

/// Polls `condition` until it holds (a condition, not a fixed sleep), panicking after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A moto S3 server on 127.0.0.1 (killed on drop), with authentication on after its setup: one
/// IAM user with full rights and one bucket.
pub struct Moto {
    child: Child,
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub bucket: String,
}

impl Moto {
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            // The setup's four calls go unauthenticated; every later request is checked.
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "4")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m moto.server (install: pip install 'moto[server]')");
        let endpoint = format!("http://127.0.0.1:{port}");
        let mut moto = Moto {
            child,
            endpoint,
            access_key: String::new(),
            secret_key: String::new(),
            bucket: "sealos-backups".into(),
        };
        wait_until(Duration::from_secs(60), "moto to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        let setup = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/support/moto_setup.py"
            ))
            .args([&moto.endpoint, &moto.bucket])
            .output()
            .unwrap();
        assert!(
            setup.status.success(),
            "moto setup: {}",
            String::from_utf8_lossy(&setup.stderr)
        );
        let text = String::from_utf8(setup.stdout).unwrap();
        let mut words = text.split_whitespace();
        moto.access_key = words.next().unwrap().to_string();
        moto.secret_key = words.next().unwrap().to_string();
        moto
    }

    /// The environment a user of this store sets.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".into(), self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), self.secret_key.clone()),
            ("AWS_REGION".into(), "us-east-1".into()),
        ]
    }

    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }
}

impl Moto {
    /// Writes `bytes` at `key` behind the tool's back (boto3), as anyone who can write to the
    /// bucket could.
    pub fn put(&self, key: &str, bytes: &[u8]) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        let out = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/support/s3_put.py"
            ))
            .args([
                &self.endpoint,
                &self.access_key,
                &self.secret_key,
                &self.bucket,
                key,
            ])
            .arg(file.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "put {key}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the `PartGate` saw.
#[derive(Debug)]
pub enum GateEvent {
    /// The held part's upload arrived (and stays unanswered): every part before it went up.
    Held,
    /// The watched process ended, with its stderr.
    Exited(String),
}

/// A proxy in front of moto that forwards every request as it is (its signature covers the
/// Host the client used, which stays the proxy's) but never answers the upload of part
/// `hold_part`, and says when it arrives. A test then knows from the store's own traffic, not
/// from a clock, that the multipart upload is in progress with `hold_part - 1` parts done.
pub struct PartGate {
    pub endpoint: String,
    events: tokio::sync::mpsc::UnboundedSender<GateEvent>,
    received: tokio::sync::mpsc::UnboundedReceiver<GateEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl PartGate {
    pub async fn start(upstream: &str, hold_part: u32) -> PartGate {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let (events, received) = tokio::sync::mpsc::unbounded_channel();
        let tx = events.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        gate_forward(req, upstream.clone(), hold_part, tx.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        PartGate {
            endpoint,
            events,
            received,
            task,
        }
    }

    /// Reports `child`'s end (when its stderr closes) as `GateEvent::Exited`.
    pub fn watch(&self, child: &mut Child) {
        let mut stderr = child.stderr.take().unwrap();
        let tx = self.events.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            let _ = tx.send(GateEvent::Exited(text));
        });
    }

    pub async fn next(&mut self) -> GateEvent {
        self.received.recv().await.unwrap()
    }
}

impl Drop for PartGate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn gate_forward(
    req: http::Request<hyper::body::Incoming>,
    upstream: String,
    hold_part: u32,
    events: tokio::sync::mpsc::UnboundedSender<GateEvent>,
) -> std::result::Result<http::Response<http_body_util::Full<bytes::Bytes>>, hyper::Error> {
    use http_body_util::BodyExt;
    let held = format!("partNumber={hold_part}");
    let hold = req.method() == http::Method::PUT
        && req
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .any(|p| p == held);
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    if hold {
        let _ = events.send(GateEvent::Held);
        std::future::pending::<()>().await;
    }
    let stream = tokio::net::TcpStream::connect(&upstream).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let answer = sender
        .send_request(http::Request::from_parts(
            parts,
            http_body_util::Full::new(body),
        ))
        .await?;
    let (parts, body) = answer.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(http::Response::from_parts(
        parts,
        http_body_util::Full::new(body),
    ))
}

/// Asserts that `value` matches `schema/<name>.schema.json`, the documented JSON contract.
pub fn assert_schema(name: &str, value: &Value) {
    let path = format!("{}/schema/{name}.schema.json", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{name} output breaks its schema: {errors:?}\n{value}"
    );
}
