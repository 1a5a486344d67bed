//! Restoring a namespace as a clone beside the original (issue 22): references follow the
//! namespace map, external hosts move only by `--host-map`, and the plan shows every rewrite.
#![allow(clippy::unwrap_used)]

mod support;

use sealos_shared::Exit;
use serde_json::{Value, json};
use support::*;

/// An AuthorizationPolicy naming ns-alice's workload identity, added to the seeded sandbox.
fn policy() -> Value {
    json!({
        "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": {"name": "terminal-from-dbadmin", "namespace": "ns-alice"},
        "spec": {
            "selector": {"matchLabels": {"app": "terminal-test"}},
            "rules": [{"from": [{"source": {
                "principals": ["cluster.local/ns/ns-alice/sa/dbadmin-test"],
                "namespaces": ["ns-alice"]
            }}]}]
        }
    })
}

fn hosts_of(vs: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for proto in ["http", "tcp", "tls"] {
        for route in vs["spec"][proto].as_array().into_iter().flatten() {
            for r in route["route"].as_array().into_iter().flatten() {
                out.push(r["destination"]["host"].as_str().unwrap().to_string());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clone_routes_to_itself_under_its_own_hosts() {
    let cluster = sandbox("sealos").await;
    cluster.create(policy()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.tar.gz").display().to_string();
    let (exit, _) = run_json(
        Some(&cluster),
        &["create", "--output", &file, "-n", "ns-alice", "-o", "json"],
    )
    .await;
    assert_eq!(exit, Exit::Ok);
    let audit = dir.path().join("audit.jsonl").display().to_string();
    let clone = [
        "restore",
        file.as_str(),
        "-n",
        "ns-alice",
        "--namespace-map",
        "ns-alice=ns-alice2",
        "--host-map",
        "cloud.sealos.io=clone.sealos.io",
        "--audit-log",
        audit.as_str(),
    ];

    let kubeconfig = cluster.kubeconfig_path().display().to_string();

    // As a new user first tries it: the clone would claim the original's hosts on its gateway.
    // Refused before any write, each host named.
    let argv = strings(&[
        "--kubeconfig",
        &kubeconfig,
        "restore",
        &file,
        "-n",
        "ns-alice",
        "--namespace-map",
        "ns-alice=ns-alice2",
        "--audit-log",
        &audit,
    ]);
    let mark = cluster.request_log().len();
    let out = bin(argv.clone(), vec![]).await;
    let why = explain(&argv, &out);
    assert_eq!(out.status.code(), Some(1), "{why}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for host in [
        "dbadmin-test.cloud.sealos.io",
        "terminal-test.cloud.sealos.io",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.contains("conflict") && l.contains(&format!("claims host {host}")))
            .unwrap_or_else(|| panic!("{host} not named\n{why}"));
        assert!(line.contains("istio-system/sealos-gateway"), "{why}");
    }
    assert!(stdout.contains("nothing was written"), "{why}");
    let writes: Vec<_> = cluster
        .request_log()
        .since(mark)
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert!(writes.is_empty(), "wrote {writes:?}");
    assert!(cluster.object("", "namespaces", "", "ns-alice2").is_none());

    // Named as a choice, the conflict is written (here in a dry run) and said so.
    let (exit, report) = run_json(
        Some(&cluster),
        &[
            "restore",
            &file,
            "-n",
            "ns-alice",
            "--namespace-map",
            "ns-alice=ns-alice2",
            "--allow-conflicts",
            "--dry-run",
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Ok, "{report}");
    assert_schema("restore", &report);
    assert!(
        report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["message"].as_str().is_some_and(
                |m| m.starts_with("conflict allowed (--allow-conflicts): claims host")
            )),
        "{report}"
    );

    // The plan shows each rewrite, and writes nothing.
    let mut argv = strings(&["--kubeconfig", &kubeconfig]);
    argv.extend(strings(&clone));
    argv.push("--dry-run".into());
    let mark = cluster.request_log().len();
    let out = bin(argv.clone(), vec![]).await;
    let why = explain(&argv, &out);
    assert_eq!(out.status.code(), Some(0), "{why}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("VirtualService ns-alice2/dbadmin-test would rewrite:"),
        "{why}"
    );
    assert!(
        stdout.contains(
            "spec.http[0].route[0].destination.host: dbadmin-test.ns-alice.svc.cluster.local -> dbadmin-test.ns-alice2.svc.cluster.local"
        ),
        "{why}"
    );
    assert!(
        stdout.contains(
            "spec.hosts[0]: dbadmin-test.cloud.sealos.io -> dbadmin-test.clone.sealos.io"
        ),
        "{why}"
    );
    assert!(
        cluster
            .request_log()
            .since(mark)
            .iter()
            .all(|r| !r.is_write() || r.is_dry_run())
    );

    let mut argv = clone.to_vec();
    argv.extend(["-o", "json"]);
    let (exit, report) = run_json(Some(&cluster), &argv).await;
    assert_eq!(exit, Exit::Ok, "{report}");
    assert_schema("restore", &report);
    let vs = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == json!("dbadmin-test") && o["kind"] == json!("VirtualService"))
        .unwrap();
    assert!(
        vs["rewrites"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["field"] == json!("spec.hosts[0]")
                && r["to"] == json!("dbadmin-test.clone.sealos.io")),
        "{report}"
    );

    // Every destination of the clone points into the clone; every host is its own.
    let originals = cluster.objects("networking.istio.io", "virtualservices", Some("ns-alice"));
    let clones = cluster.objects("networking.istio.io", "virtualservices", Some("ns-alice2"));
    assert_eq!(clones.len(), originals.len());
    for vs in &clones {
        for host in hosts_of(vs) {
            assert!(
                !host.contains(".ns-alice.") && !host.ends_with(".ns-alice"),
                "{host} points into the source namespace"
            );
        }
        for host in vs["spec"]["hosts"].as_array().unwrap() {
            assert!(host.as_str().unwrap().ends_with(".clone.sealos.io"), "{vs}");
        }
    }
    let dbadmin = cluster
        .object(
            "networking.istio.io",
            "virtualservices",
            "ns-alice2",
            "dbadmin-test",
        )
        .unwrap();
    assert_eq!(
        hosts_of(&dbadmin),
        ["dbadmin-test.ns-alice2.svc.cluster.local"]
    );
    // No external host claimed twice on one gateway.
    let mut claims = std::collections::BTreeSet::new();
    for vs in originals.iter().chain(&clones) {
        for gateway in vs["spec"]["gateways"].as_array().unwrap() {
            for host in vs["spec"]["hosts"].as_array().unwrap() {
                assert!(
                    claims.insert((gateway.to_string(), host.to_string())),
                    "{host} claimed twice on {gateway}"
                );
            }
        }
    }
    let copied = cluster
        .object(
            "security.istio.io",
            "authorizationpolicies",
            "ns-alice2",
            "terminal-from-dbadmin",
        )
        .unwrap();
    assert_eq!(
        copied["spec"]["rules"][0]["from"][0]["source"],
        json!({"principals": ["cluster.local/ns/ns-alice2/sa/dbadmin-test"], "namespaces": ["ns-alice2"]})
    );
    // The original is untouched.
    let original = cluster
        .object(
            "security.istio.io",
            "authorizationpolicies",
            "ns-alice",
            "terminal-from-dbadmin",
        )
        .unwrap();
    assert_eq!(original["spec"], policy()["spec"]);
}
