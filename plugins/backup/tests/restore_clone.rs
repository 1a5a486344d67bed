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
        &["create", "--to", &file, "-n", "ns-alice", "-o", "json"],
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_of_v1beta1_objects_restores_at_the_served_version() {
    let cluster = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("b.tar.gz");
    let taken_text = taken.display().to_string();
    let (exit, _) = run_json(
        Some(&cluster),
        &[
            "create",
            "--to",
            &taken_text,
            "-n",
            "ns-alice",
            "--include",
            "istio",
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Ok);
    // As if taken where Istio served v1beta1: the objects and index.json say so (no index object).
    let old = dir.path().join("old.tar.gz");
    let sums = std::cell::RefCell::new(std::collections::BTreeMap::<String, (u64, String)>::new());
    rewrite(&taken, &old, |name, data| {
        let mut value: Value = serde_json::from_slice(&data).unwrap();
        if name == "index.json" {
            for entry in value["entries"].as_array_mut().unwrap() {
                let (size, sha) = sums.borrow()[entry["path"].as_str().unwrap()].clone();
                entry["size"] = json!(size);
                entry["sha256"] = json!(sha);
            }
            for r in value["resources"].as_array_mut().unwrap() {
                if r["group"] == json!("networking.istio.io") {
                    r["version"] = json!("v1beta1");
                }
            }
        } else if value["apiVersion"] == json!("networking.istio.io/v1") {
            value["apiVersion"] = json!("networking.istio.io/v1beta1");
        }
        let bytes = serde_json::to_vec(&value).unwrap();
        let mut hashing = sealos_shared::archive::writer::Hashing::new(std::io::sink());
        std::io::Write::write_all(&mut hashing, &bytes).unwrap();
        let (_, size, sha) = hashing.finish();
        sums.borrow_mut().insert(name.to_string(), (size, sha));
        Some(bytes)
    });
    let old_text = old.display().to_string();
    let target = sandbox("empty").await;
    // A cluster whose Istio serves only v1, as after an upgrade that dropped v1beta1.
    for plural in ["gateways", "virtualservices", "destinationrules"] {
        target
            .modify(
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                "",
                &format!("{plural}.networking.istio.io"),
                |crd| {
                    for version in crd["spec"]["versions"].as_array_mut().unwrap() {
                        if version["name"] != "v1" {
                            version["served"] = json!(false);
                        }
                    }
                },
            )
            .unwrap();
    }
    target.cluster().refresh_crds();
    let served =
        target
            .cluster()
            .registry
            .lookup("networking.istio.io", "v1beta1", "virtualservices");
    assert!(served.is_none(), "v1beta1 is still served");
    let mark = target.request_log().len();
    let audit = dir.path().join("audit.jsonl").display().to_string();
    let (exit, report) = run_json(
        Some(&target),
        &["restore", &old_text, "--audit-log", &audit, "-o", "json"],
    )
    .await;
    assert_eq!(exit, Exit::Ok, "{report}");
    assert_schema("restore", &report);
    let vs = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == json!("VirtualService"))
        .unwrap();
    assert_eq!(vs["result"], json!("created"), "{report}");
    assert_eq!(
        vs["rewrites"][0],
        json!({"field": "apiVersion", "from": "networking.istio.io/v1beta1", "to": "networking.istio.io/v1"})
    );
    let requests = target.request_log().since(mark);
    assert!(
        requests
            .iter()
            .all(|r| !r.path.starts_with("/apis/networking.istio.io/v1beta1/")),
        "a request at the archived version"
    );
    assert!(requests.iter().any(|r| {
        r.is_write()
            && r.path
                .starts_with("/apis/networking.istio.io/v1/namespaces/ns-alice/virtualservices")
    }));
    assert_eq!(
        target
            .objects("networking.istio.io", "virtualservices", Some("ns-alice"))
            .len(),
        cluster
            .objects("networking.istio.io", "virtualservices", Some("ns-alice"))
            .len()
    );
}
