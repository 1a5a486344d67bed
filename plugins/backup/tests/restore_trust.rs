//! What restore will and will not apply, against the sandbox: a forged archive (checksums
//! recomputed, so `verify` passes) restores only what backup makes; `-n` leaves cluster-scoped
//! objects alone; `--allow-kind` admits a named kind; a plaintext archive with `--decrypt-key`
//! and a malformed archive are refused before any request; `--existing update` puts a drifted
//! object back, and a change made after the plan is a conflict, not overwritten.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Parser;
use kubectl_sealos_backup::restore::report::Outcome;
use kubectl_sealos_backup::restore::restorer::Restorer;
use kubectl_sealos_backup::restore::{Existing, Options, archive};
use sealos_sandbox::Sandbox;
use sealos_shared::Exit;
use sealos_shared::archive::path::EntryPath;
use sealos_shared::archive::writer::Hashing;
use sealos_shared::audit::AuditLog;
use serde_json::{Value, json};
use support::*;

/// A backup of the seeded sandbox to `dir/b.tar.gz` (with `extra` flags).
async fn backup(source: &Sandbox, dir: &Path, extra: &[&str]) -> PathBuf {
    let file = dir.join("b.tar.gz");
    let text = file.display().to_string();
    let mut argv = vec!["create", "--to", &text, "-o", "json"];
    argv.extend(extra);
    let (exit, _) = run_json(Some(source), &argv).await;
    assert_eq!(exit, Exit::Ok);
    file
}

fn sha256(bytes: &[u8]) -> String {
    let mut hashing = Hashing::new(std::io::sink());
    std::io::Write::write_all(&mut hashing, bytes).unwrap();
    hashing.finish().2
}

/// What an attacker with write access to the store does: adds objects to a real archive, then
/// recomputes `index.json` (entries, counts) and the index object beside it so every checksum
/// matches. Gives the forged archive's path (`dir/forged.tar.gz`).
fn forge(archive: &Path, additions: &[(EntryPath, Value)]) -> PathBuf {
    let dir = archive.parent().unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(archive).unwrap(),
    ));
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    let mut index: Value = Value::Null;
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name == "index.json" {
            index = serde_json::from_slice(&data).unwrap();
        } else {
            entries.push((name, data));
        }
    }
    for (path, object) in additions {
        let data = serde_json::to_vec_pretty(object).unwrap();
        index["entries"]
            .as_array_mut()
            .unwrap()
            .push(json!({"path": path.render(), "size": data.len(), "sha256": sha256(&data)}));
        let resources = index["resources"].as_array_mut().unwrap();
        match resources
            .iter_mut()
            .find(|r| r["resource"] == json!(path.resource) && r["group"] == json!(path.group))
        {
            Some(r) => r["count"] = json!(r["count"].as_u64().unwrap() + 1),
            None => {
                let api_version = object["apiVersion"].as_str().unwrap();
                let version = api_version.rsplit('/').next().unwrap();
                resources.push(json!({
                    "group": path.group, "version": version, "kind": object["kind"],
                    "resource": path.resource, "namespaced": path.namespace.is_some(), "count": 1
                }));
            }
        }
        index["objects"] = json!(index["objects"].as_u64().unwrap() + 1);
        entries.push((path.render(), data));
    }
    let index_bytes = serde_json::to_vec(&index).unwrap();
    let forged = dir.join("forged.tar.gz");
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        std::fs::File::create(&forged).unwrap(),
        flate2::Compression::fast(),
    ));
    for (name, data) in entries.iter().chain(std::iter::once(&(
        "index.json".to_string(),
        index_bytes.clone(),
    ))) {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o600);
        builder
            .append_data(&mut header, name, data.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
    let bytes = std::fs::read(&forged).unwrap();
    let summary_path = dir.join(format!(
        "{}.index.json",
        archive
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches(".tar.gz")
    ));
    let mut summary: Value = serde_json::from_slice(&std::fs::read(summary_path).unwrap()).unwrap();
    for field in ["resources", "objects"] {
        summary[field] = index[field].clone();
    }
    summary["archive"]["file"] = json!("forged.tar.gz");
    summary["archive"]["size"] = json!(bytes.len());
    summary["archive"]["sha256"] = json!(sha256(&bytes));
    summary["indexSha256"] = json!(sha256(&index_bytes));
    std::fs::write(
        dir.join("forged.index.json"),
        serde_json::to_vec_pretty(&summary).unwrap(),
    )
    .unwrap();
    forged
}

fn entry(path: &str) -> EntryPath {
    EntryPath::parse(path).unwrap()
}

fn privileged_pod() -> (EntryPath, Value) {
    (
        entry("resources/pods/namespaces/kube-system/node-shell.json"),
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "node-shell", "namespace": "kube-system"},
            "spec": {
                "hostPID": true, "hostNetwork": true,
                "containers": [{"name": "shell", "image": "busybox", "command": ["nsenter", "-t", "1", "-a", "sh"],
                                "securityContext": {"privileged": true}}]
            }
        }),
    )
}

fn cluster_role_binding() -> (EntryPath, Value) {
    (
        entry("resources/clusterrolebindings.rbac.authorization.k8s.io/cluster/backdoor.json"),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "backdoor"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "ns-alice"}]
        }),
    )
}

fn token_secret() -> (EntryPath, Value) {
    (
        entry("resources/secrets/namespaces/istio-system/istiod-token.json"),
        json!({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
            "metadata": {"name": "istiod-token", "namespace": "istio-system",
                         "annotations": {"kubernetes.io/service-account.name": "istiod"}}
        }),
    )
}

fn stored(sandbox: &Sandbox, path: &EntryPath) -> Option<Value> {
    sandbox.object(
        &path.group,
        &path.resource,
        path.namespace.as_deref().unwrap_or(""),
        &path.name,
    )
}

/// The archive's own objects (not the forged ones), from a restore-side read of it.
async fn archived(file: &Path) -> Vec<EntryPath> {
    archive::read(&file.display().to_string(), None, None)
        .await
        .unwrap()
        .objects
        .into_iter()
        .map(|a| a.path)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_archive_restores_only_what_backup_makes() {
    let source = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let real = backup(&source, dir.path(), &[]).await;
    let legitimate = archived(&real).await;
    let additions = [privileged_pod(), cluster_role_binding(), token_secret()];
    let forged = forge(&real, &additions);
    let forged_text = forged.display().to_string();

    // The checksums live inside what they vouch for: verify cannot tell.
    let argv = strings(&["verify", &forged_text]);
    let out = bin(argv.clone(), vec![]).await;
    assert_eq!(out.status.code(), Some(0), "{}", explain(&argv, &out));

    let target = sandbox("empty").await;
    let kubeconfig = target.kubeconfig_path().display().to_string();
    let audit = dir.path().join("audit.jsonl").display().to_string();
    let argv = strings(&[
        "--kubeconfig",
        &kubeconfig,
        "restore",
        &forged_text,
        "--audit-log",
        &audit,
    ]);
    let out = bin(argv.clone(), vec![]).await;
    let why = explain(&argv, &out);
    assert_eq!(out.status.code(), Some(1), "{why}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (kind, ns, name, reason) in [
        ("Pod", "kube-system", "node-shell", "runs containers"),
        ("ClusterRoleBinding", "-", "backdoor", "grants permissions"),
        (
            "Secret",
            "istio-system",
            "istiod-token",
            "ServiceAccount token",
        ),
    ] {
        let line = stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} not named\n{why}"));
        for word in ["refused", kind, ns, reason] {
            assert!(line.contains(word), "{word:?} missing from {line:?}\n{why}");
        }
    }
    assert!(stdout.contains("3 refused"), "{why}");
    for (path, _) in &additions {
        assert!(
            stored(&target, path).is_none(),
            "{} was applied",
            path.render()
        );
    }
    // Everything backup made went in.
    for path in legitimate.iter().filter(|p| p.resource != "namespaces") {
        assert!(
            stored(&target, path).is_some(),
            "{} not restored\n{why}",
            path.render()
        );
    }

    // The same as JSON, by its schema; a second run refuses the same three and skips the rest.
    let (exit, report) = run_json(
        Some(&target),
        &["restore", &forged_text, "--audit-log", &audit, "-o", "json"],
    )
    .await;
    assert_eq!(exit, Exit::Problem);
    assert_schema("restore", &report);
    assert_eq!(report["summary"]["refused"], json!(3), "{report}");
    assert_eq!(report["summary"]["created"], json!(0), "{report}");
    assert_eq!(report["objects"][0]["result"], json!("refused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_archive_is_refused_whole_before_any_request() {
    let source = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let real = backup(&source, dir.path(), &["--include", "istio"]).await;
    // A ClusterRoleBinding filed where ConfigMaps are kept, the index agreeing with the folder.
    let (_, mut binding) = cluster_role_binding();
    binding["metadata"]["namespace"] = json!("istio-system");
    let forged = forge(
        &real,
        &[(
            entry("resources/configmaps/namespaces/istio-system/backdoor.json"),
            binding,
        )],
    );
    let target = sandbox("empty").await;
    let mark = target.request_log().len();
    let (result, _) = run(Some(&target), &["restore", &forged.display().to_string()]).await;
    let err = result.unwrap_err();
    assert_eq!(err.exit(), Exit::Failure);
    let text = err.to_string();
    assert!(text.contains("malformed"), "{text}");
    assert!(
        text.contains("configmaps/namespaces/istio-system/backdoor.json"),
        "{text}"
    );
    assert!(text.contains("nothing was restored"), "{text}");
    assert_eq!(target.request_log().since(mark).len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_narrow_cluster_scoped_objects_too() {
    let source = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let file = backup(&source, dir.path(), &[]).await;
    let file_text = file.display().to_string();
    let paths = archived(&file).await;
    let issuers: Vec<&EntryPath> = paths
        .iter()
        .filter(|p| p.resource == "clusterissuers")
        .collect();
    assert!(!issuers.is_empty());
    assert!(
        paths
            .iter()
            .any(|p| p.resource == "namespaces" && p.name == "ns-bob")
    );

    let target = sandbox("empty").await;
    let audit = dir.path().join("audit.jsonl").display().to_string();
    let mark = target.request_log().len();
    let (exit, report) = run_json(
        Some(&target),
        &[
            "restore",
            &file_text,
            "-n",
            "ns-alice",
            "--audit-log",
            &audit,
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Ok, "{report}");
    assert_schema("restore", &report);
    assert!(report["summary"]["created"].as_u64().unwrap() > 0);
    // Only ns-alice's objects and its Namespace were written.
    for request in target.request_log().since(mark) {
        if request.is_write() {
            assert!(
                request.path.contains("/namespaces/ns-alice/")
                    || request.path == "/api/v1/namespaces",
                "a write outside ns-alice: {request:?}"
            );
        }
    }
    assert!(target.object("", "namespaces", "", "ns-alice").is_some());
    assert!(target.object("", "namespaces", "", "ns-bob").is_none());
    for issuer in &issuers {
        assert!(
            stored(&target, issuer).is_none(),
            "{} restored",
            issuer.render()
        );
    }
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("ClusterIssuer") && notes.contains("--include certificates"),
        "{report}"
    );

    // Asked for by name: the certificates part, ClusterIssuers included.
    let (exit, report) = run_json(
        Some(&target),
        &[
            "restore",
            &file_text,
            "-n",
            "ns-alice",
            "--include",
            "certificates",
            "--audit-log",
            &audit,
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Ok, "{report}");
    for issuer in &issuers {
        assert!(
            stored(&target, issuer).is_some(),
            "{} not restored",
            issuer.render()
        );
    }
    assert!(target.object("", "namespaces", "", "ns-bob").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_kind_admits_a_named_kind_and_says_so() {
    let source = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let real = backup(&source, dir.path(), &["-n", "ns-alice"]).await;
    let account = (
        entry("resources/serviceaccounts/namespaces/ns-alice/deployer.json"),
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "deployer", "namespace": "ns-alice"}}),
    );
    let forged = forge(&real, std::slice::from_ref(&account));
    let forged_text = forged.display().to_string();
    let target = sandbox("empty").await;
    let audit = dir.path().join("audit.jsonl").display().to_string();

    let (exit, report) = run_json(
        Some(&target),
        &["restore", &forged_text, "--dry-run", "-o", "json"],
    )
    .await;
    assert_eq!(exit, Exit::Problem, "{report}");
    assert!(
        report["objects"][0]["message"]
            .as_str()
            .unwrap()
            .contains("--allow-kind ServiceAccount"),
        "{report}"
    );

    let kubeconfig = target.kubeconfig_path().display().to_string();
    let argv = strings(&[
        "--kubeconfig",
        &kubeconfig,
        "restore",
        &forged_text,
        "--allow-kind",
        "ServiceAccount",
        "--audit-log",
        &audit,
    ]);
    let out = bin(argv.clone(), vec![]).await;
    let why = explain(&argv, &out);
    assert_eq!(out.status.code(), Some(0), "{why}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("allowed by --allow-kind ServiceAccount: 1 object (ServiceAccount)"),
        "{why}"
    );
    let line = stdout.lines().find(|l| l.contains("deployer")).unwrap();
    assert!(
        line.contains("created") && line.contains("admitted by --allow-kind"),
        "{why}"
    );
    assert!(stored(&target, &account.0).is_some());

    let (_, report) = run_json(
        Some(&target),
        &[
            "restore",
            &forged_text,
            "--allow-kind",
            "ServiceAccount",
            "-o",
            "json",
        ],
    )
    .await;
    assert_schema("restore", &report);
    assert_eq!(
        report["allowedKinds"],
        json!([{"flag": "ServiceAccount", "kinds": ["ServiceAccount"], "objects": 1}])
    );

    let (result, _) = run(
        Some(&target),
        &["restore", &forged_text, "--allow-kind", "Pod/exec"],
    )
    .await;
    let err = result.unwrap_err();
    assert_eq!(err.exit(), Exit::Failure);
    assert!(
        err.to_string()
            .contains("--allow-kind \"Pod/exec\": not a kind"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_archive_is_refused_when_a_key_is_given() {
    let source = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let file = backup(&source, dir.path(), &["--include", "sealos"]).await;
    let (identity, _) = sealos_shared::archive::crypt::generate_key();
    let key = dir.path().join("key.txt");
    std::fs::write(&key, identity).unwrap();
    let target = sandbox("empty").await;
    let kubeconfig = target.kubeconfig_path().display().to_string();
    let mark = target.request_log().len();
    for command in ["restore", "verify"] {
        let argv = strings(&[
            "--kubeconfig",
            &kubeconfig,
            command,
            &file.display().to_string(),
            "--decrypt-key",
            &key.display().to_string(),
        ]);
        let out = bin(argv.clone(), vec![]).await;
        let why = explain(&argv, &out);
        assert_eq!(out.status.code(), Some(2), "{why}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(
                "is not encrypted, but --decrypt-key was given: refusing a plaintext archive"
            ),
            "{why}"
        );
    }
    assert_eq!(target.request_log().since(mark).len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_update_puts_a_drifted_object_back() {
    let cluster = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let file = backup(
        &cluster,
        dir.path(),
        &["-n", "ns-alice", "--include", "istio"],
    )
    .await;
    let vs = cluster.objects("networking.istio.io", "virtualservices", Some("ns-alice"));
    let name = vs[0]["metadata"]["name"].as_str().unwrap().to_string();
    let original = vs[0]["spec"].clone();

    // Someone edits it with kubectl.
    let kubeconfig = cluster.kubeconfig_path().display().to_string();
    let patch = json!({"spec": {"hosts": ["drifted.example.com"]}}).to_string();
    let kubectl = std::process::Command::new("kubectl")
        .args([
            "--kubeconfig",
            &kubeconfig,
            "-n",
            "ns-alice",
            "patch",
            "virtualservice",
            &name,
            "--type",
            "merge",
            "-p",
            &patch,
        ])
        .output()
        .unwrap();
    assert!(
        kubectl.status.success(),
        "{}",
        String::from_utf8_lossy(&kubectl.stderr)
    );
    let drifted = cluster
        .object("networking.istio.io", "virtualservices", "ns-alice", &name)
        .unwrap();
    assert_eq!(drifted["spec"]["hosts"], json!(["drifted.example.com"]));

    let audit = dir.path().join("audit.jsonl").display().to_string();
    let text = file.display().to_string();
    // Skipped by default: it exists.
    let (exit, report) = run_json(
        Some(&cluster),
        &["restore", &text, "--audit-log", &audit, "-o", "json"],
    )
    .await;
    assert_eq!(exit, Exit::Ok, "{report}");
    assert_eq!(report["summary"]["updated"], json!(0));
    let (exit, report) = run_json(
        Some(&cluster),
        &[
            "restore",
            &text,
            "--existing",
            "update",
            "--audit-log",
            &audit,
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Ok, "{report}");
    assert_schema("restore", &report);
    let mine = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == json!(name) && o["kind"] == json!("VirtualService"))
        .unwrap();
    assert_eq!(mine["result"], json!("updated"), "{report}");
    assert_eq!(report["summary"]["updated"], json!(1), "{report}");
    let restored = cluster
        .object("networking.istio.io", "virtualservices", "ns-alice", &name)
        .unwrap();
    assert_eq!(restored["spec"], original);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_after_the_plan_is_a_conflict_not_overwritten() {
    let cluster = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let file = backup(
        &cluster,
        dir.path(),
        &["-n", "ns-alice", "--include", "istio"],
    )
    .await;
    let copy = archive::read(&file.display().to_string(), None, None)
        .await
        .unwrap();
    let vs = copy
        .objects
        .iter()
        .find(|a| a.path.resource == "virtualservices")
        .unwrap()
        .clone();
    let name = vs.path.name.clone();

    let args = kubectl_sealos_backup::Args::try_parse_from([
        "x",
        "--kubeconfig",
        &cluster.kubeconfig_path().display().to_string(),
        "list",
    ])
    .unwrap();
    let kube = args.kube.connect().await.unwrap();
    let options = Options {
        existing: Existing::Update,
        ..Options::default()
    };
    let audit = AuditLog::new(Some(&dir.path().join("audit.jsonl"))).unwrap();
    let mut restorer = Restorer::new(&kube, &options, &audit, Default::default());
    let (planned, failed) = restorer.plan(vec![(vs, None)]).await.unwrap();
    assert!(failed.is_empty());
    // Between the plan and the write, a controller (or a colleague) changes it.
    cluster
        .modify(
            "networking.istio.io",
            "virtualservices",
            "ns-alice",
            &name,
            |o| {
                o["spec"]["hosts"] = json!(["changed.meanwhile"]);
            },
        )
        .unwrap();
    let results = restorer.apply(planned).await;
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].result, Outcome::Conflict, "{results:?}");
    assert!(
        results[0]
            .message
            .as_deref()
            .unwrap()
            .contains("changed since the plan read it"),
        "{results:?}"
    );
    let now = cluster
        .object("networking.istio.io", "virtualservices", "ns-alice", &name)
        .unwrap();
    assert_eq!(now["spec"]["hosts"], json!(["changed.meanwhile"]));
}
