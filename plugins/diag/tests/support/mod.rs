//! What the diag tests share: the seeded cluster to break before it starts, a sandbox, flags
//! pointing at it, and the real binary run with its own HOME.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sealos_sandbox::{Sandbox, SandboxOptions, Scenario};
use sealos_shared::connection::{Kube, KubeFlags};
use sealos_shared::test_server::serve;
use serde_json::Value;

/// The seeded `sealos` scenario's objects.
pub fn seeded() -> Vec<Value> {
    sealos_sandbox::scenario::builtin("sealos", jiff::Timestamp::now())
        .unwrap()
        .unwrap()
}

pub fn is(obj: &Value, kind: &str, namespace: &str, name: &str) -> bool {
    obj["kind"] == kind
        && obj["metadata"]["namespace"] == namespace
        && obj["metadata"]["name"] == name
}

/// The seeded objects with `change` applied to the one object named.
pub fn seeded_with(
    kind: &str,
    namespace: &str,
    name: &str,
    change: impl FnOnce(&mut Value),
) -> Vec<Value> {
    let mut objects = seeded();
    let obj = objects
        .iter_mut()
        .find(|o| is(o, kind, namespace, name))
        .unwrap_or_else(|| panic!("no {kind} {namespace}/{name} in the scenario"));
    change(obj);
    objects
}

pub async fn start(objects: Vec<Value>) -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Scenario::Objects(objects),
        ..SandboxOptions::default()
    })
    .await
    .unwrap()
}

pub fn flags(sandbox: &Sandbox, namespace: Option<&str>) -> KubeFlags {
    KubeFlags {
        kubeconfig: Some(sandbox.kubeconfig_path().to_path_buf()),
        namespace: namespace.map(str::to_string),
        ..KubeFlags::default()
    }
}

pub async fn kube(sandbox: &Sandbox, namespace: &str) -> Kube {
    flags(sandbox, Some(namespace)).connect().await.unwrap()
}

/// Runs the real binary with an isolated HOME; returns its output.
pub fn binary(sandbox: &Sandbox, home: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-sealos-diag"))
        .args(args)
        .env("HOME", home)
        .env("KUBECONFIG", sandbox.kubeconfig_path())
        .env("XDG_STATE_HOME", home.join("state"))
        .env_remove("SLACK_WEBHOOK_URL")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// A failing assertion's context: the command, its exit code, stdout and stderr.
pub fn describe(args: &[&str], output: &Output) -> String {
    format!(
        "kubectl-sealos-diag {}\nexit: {:?}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A PEM leaf for `names`, valid from `from` to `until`, and its key: a Secret's tls.crt/tls.key.
pub fn leaf(names: &[&str], from: jiff::Timestamp, until: jiff::Timestamp) -> (String, String) {
    let ca = sealos_sandbox::pki::Ca::new("diag test CA").unwrap();
    let leaf = ca
        .issue(&sealos_sandbox::pki::LeafRequest::for_dns(
            names, from, until,
        ))
        .unwrap();
    (leaf.cert_pem, leaf.key_pem)
}

pub fn b64(text: &str) -> String {
    use std::fmt::Write;
    // A tiny encoder keeps base64 out of the dev-dependencies.
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.write_char(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char)
                    .unwrap();
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A stand-in for Envoy's admin API on 127.0.0.1:0: answers `/clusters?format=json` with
/// `clusters` and `/config_dump` with a small dump; counts the requests it served.
pub async fn envoy_admin(clusters: Value) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    let addr = serve(move |request| {
        count.fetch_add(1, Ordering::SeqCst);
        if request.path.starts_with("/clusters") {
            (200, "application/json", clusters.to_string())
        } else if request.path.starts_with("/config_dump") {
            (200, "application/json", serde_json::json!({"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump", "bootstrap": {"node": {"id": "stand-in"}}}]}).to_string())
        } else {
            (404, "application/json", String::new())
        }
    })
    .await;
    (addr, served)
}

/// Points the admin port of every pod of `namespace` whose name starts with `prefix` at `addr`.
pub fn forward_admin_port(sandbox: &Sandbox, namespace: &str, prefix: &str, addr: &str) {
    for pod in sandbox.objects("", "pods", Some(namespace)) {
        let name = pod["metadata"]["name"].as_str().unwrap().to_string();
        if name.starts_with(prefix) {
            sandbox
                .modify("", "pods", namespace, &name, |p| {
                    p["metadata"]["annotations"]["sandbox.sealos.io/portforward"] =
                        serde_json::json!({ "15000": addr }).to_string().into();
                })
                .unwrap();
        }
    }
}

/// Envoy's `/clusters?format=json` for the blog Service, one host per health status given.
pub fn blog_clusters(health: &[&str]) -> Value {
    let hosts: Vec<Value> = health
        .iter()
        .enumerate()
        .map(|(i, h)| {
            serde_json::json!({
                "address": {"socket_address": {"address": format!("10.244.1.{}", i + 10), "port_value": 2368}},
                "health_status": {"eds_health_status": h},
            })
        })
        .collect();
    serde_json::json!({"cluster_statuses": [
        {"name": "outbound|80|v1|blog.ns-carol.svc.cluster.local", "host_statuses": hosts},
        {"name": "outbound|80||blog.ns-carol.svc.cluster.local", "host_statuses": hosts},
        {"name": "inbound|2368||", "host_statuses": []},
    ]})
}

/// A stand-in Slack webhook on 127.0.0.1:0: answers 200 "ok" and keeps every POST body.
pub async fn slack_sink() -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let addr = serve(move |request| {
        kept.lock().unwrap().push(request.body);
        (200, "text/plain", "ok".into())
    })
    .await;
    (addr, bodies)
}
