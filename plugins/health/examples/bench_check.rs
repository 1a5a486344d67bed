//! Benchmark (not a test): `kubectl sealos health` against the ops guide's `health-check.sh` on
//! the sandbox cluster grown to 5,000 pods and 2,000 VirtualServices, side by side in one run,
//! with wall time and the API requests each made (from the sandbox's request log).
//!
//! cargo build -p kubectl-sealos-health && cargo run -p kubectl-sealos-health --example bench_check
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sealos_sandbox::{Sandbox, SandboxOptions, Scenario};
use serde_json::{Value, json};

const PODS: usize = 5_000;
const VIRTUAL_SERVICES: usize = 2_000;
const NAMESPACES: usize = 50;
const RUNS: usize = 3;

/// The seeded cluster plus generated apps: namespaces, pods, Services and VirtualServices on the
/// shared gateway (added through the sandbox library, as objects before start).
fn objects() -> Vec<Value> {
    let mut objects = sealos_sandbox::scenario::builtin("sealos", jiff::Timestamp::now())
        .unwrap()
        .unwrap();
    for n in 0..NAMESPACES {
        objects.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("bench-{n:02}")}}));
    }
    for i in 0..PODS {
        let ns = format!("bench-{:02}", i % NAMESPACES);
        objects.push(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("app-{i}-7d9f8c-x{i:04}"), "namespace": ns, "labels": {"app": format!("app-{}", i % VIRTUAL_SERVICES)}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}, {"name": "istio-proxy", "image": "istio/proxyv2:1.24.2"}]}
        }));
    }
    for i in 0..VIRTUAL_SERVICES {
        let ns = format!("bench-{:02}", i % NAMESPACES);
        objects.push(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": format!("app-{i}"), "namespace": ns},
            "spec": {"selector": {"app": format!("app-{i}")}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
        }));
        objects.push(json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": format!("app-{i}"), "namespace": ns},
            "spec": {"hosts": [format!("app-{i}.cloud.sealos.io")], "gateways": ["istio-system/sealos-gateway"],
                     "http": [{"route": [{"destination": {"host": format!("app-{i}"), "port": {"number": 80}}}]}]}
        }));
    }
    objects
}

struct Measure {
    wall: Duration,
    requests: usize,
    code: i32,
    bytes: usize,
}

fn run(sandbox: &Sandbox, home: &Path, program: &Path, args: &[&str]) -> Measure {
    let mark = sandbox.request_log().len();
    let start = Instant::now();
    let output = Command::new(program)
        .args(args)
        .env("HOME", home)
        .env("KUBECONFIG", sandbox.kubeconfig_path())
        .output()
        .unwrap();
    let wall = start.elapsed();
    Measure {
        wall,
        requests: sandbox.request_log().since(mark).len(),
        code: output.status.code().unwrap_or(-1),
        bytes: output.stdout.len(),
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = manifest.join("bench/health-check.sh");
    // target/debug/examples/bench_check → target/debug/kubectl-sealos-health
    let binary = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("kubectl-sealos-health");
    assert!(
        binary.exists(),
        "build it first: cargo build -p kubectl-sealos-health ({})",
        binary.display()
    );

    let objects = objects();
    let count = objects.len();
    let started = Instant::now();
    let sandbox = Sandbox::start(SandboxOptions {
        scenario: Scenario::Objects(objects),
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    println!(
        "sandbox: {count} objects seeded in {:.1?} ({PODS} generated pods, {VIRTUAL_SERVICES} VirtualServices + Services)",
        started.elapsed()
    );

    let homes = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    for (name, program, args) in [
        ("health-check.sh (guide)", script.as_path(), vec![]),
        (
            "kubectl sealos health",
            binary.as_path(),
            vec!["--skip", "traffic", "-o", "json"],
        ),
    ] {
        let mut walls = Vec::new();
        let mut first = None;
        let mut last = None;
        for r in 0..RUNS {
            // One HOME per tool: the first run fills kubectl's discovery cache, as a user's would be.
            let home = homes.path().join(name.split(' ').next().unwrap_or("x"));
            std::fs::create_dir_all(&home).unwrap();
            let m = tokio::task::block_in_place(|| run(&sandbox, &home, program, &args));
            if r == 0 {
                first = Some(m.requests);
            }
            walls.push(m.wall);
            last = Some(m);
        }
        let last = last.unwrap();
        rows.push((
            name,
            median(walls),
            first.unwrap_or(0),
            last.requests,
            last.code,
            last.bytes,
        ));
    }
    println!();
    println!(
        "{:<26} {:>12} {:>16} {:>15} {:>6} {:>10}",
        "TOOL", "MEDIAN WALL", "REQUESTS (COLD)", "REQUESTS (WARM)", "EXIT", "STDOUT B"
    );
    for (name, wall, cold, warm, code, bytes) in &rows {
        println!(
            "{name:<26} {:>12} {cold:>16} {warm:>15} {code:>6} {bytes:>10}",
            format!("{:.0?}", wall)
        );
    }
    let (script_wall, ours_wall) = (rows[0].1.as_secs_f64(), rows[1].1.as_secs_f64());
    println!();
    println!(
        "ratio (script / plugin, median wall): {:.2}x",
        script_wall / ours_wall
    );
    println!(
        "note: the script only lists (6 kubectl runs, always exit 0); the plugin also judges every object."
    );

    // What the plugin asked, by path shape, for one warm run.
    let home = homes.path().join("breakdown");
    std::fs::create_dir_all(&home).unwrap();
    let mark = sandbox.request_log().len();
    tokio::task::block_in_place(|| {
        run(
            &sandbox,
            &home,
            &binary,
            &["--skip", "traffic", "-o", "json"],
        )
    });
    let mut by_path: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for r in sandbox.request_log().since(mark) {
        *by_path
            .entry(format!("{} {}", r.method, r.path))
            .or_default() += 1;
    }
    println!("\nplugin requests by path:");
    for (path, n) in by_path {
        println!("  {n:>4}  {path}");
    }
    sandbox.shutdown().await;
}
