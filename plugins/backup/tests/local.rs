//! Backups to a directory against the sandbox cluster: create, list, verify, restore (round
//! trip into a fresh cluster, compared field by field), dry run, corruption, encryption, prune.
#![allow(clippy::unwrap_used)]

mod support;

use std::os::unix::fs::PermissionsExt;

use sealos_sandbox::{Sandbox, SandboxOptions, Scenario};
use sealos_shared::Exit;
use sealos_shared::archive::path::EntryPath;
use serde_json::{Value, json};
use support::*;

/// The fields a restore must reproduce.
fn essentials(object: &Value) -> Value {
    let mut annotations = object["metadata"]["annotations"].clone();
    if let Some(map) = annotations.as_object_mut() {
        map.remove("kubectl.kubernetes.io/last-applied-configuration");
        map.remove("deployment.kubernetes.io/revision");
    }
    json!({
        "spec": object["spec"],
        "data": object["data"],
        "stringData": object["stringData"],
        "type": object["type"],
        "labels": object["metadata"]["labels"],
        "annotations": if annotations.as_object().is_some_and(|m| m.is_empty()) { Value::Null } else { annotations },
    })
}

fn stored(sandbox: &Sandbox, path: &EntryPath) -> Option<Value> {
    sandbox.object(
        &path.group,
        &path.resource,
        path.namespace.as_deref().unwrap_or(""),
        &path.name,
    )
}

/// Every archived object, read back from the archive's index.
async fn archived_paths(archive: &str, key: Option<&str>) -> Vec<EntryPath> {
    let mut argv = vec!["verify", archive, "-o", "json"];
    if let Some(key) = key {
        argv.extend(["--decrypt-key", key]);
    }
    let (exit, report) = run_json(None, &argv).await;
    assert_eq!(exit, Exit::Ok, "{report}");
    assert_schema("verify", &report);
    let (_, index, _) =
        kubectl_sealos_backup::verify::check(archive, key.map(std::path::Path::new))
            .await
            .unwrap();
    index
        .unwrap()
        .entries
        .iter()
        .map(|e| EntryPath::parse(&e.path).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_into_a_fresh_cluster_reproduces_every_object() {
    let source = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let (exit, created) = run_json(Some(&source), &["create", "--to", &out, "-o", "json"]).await;
    assert_eq!(exit, Exit::Ok);
    let archive = archive_in(dir.path());
    assert_eq!(created["archive"], json!(archive.display().to_string()));
    assert_schema("create", &created);
    let mut tampered = created.clone();
    tampered["summary"]["archive"]["sha256"] = json!("not a checksum");
    let schema: Value = serde_json::from_str(include_str!("../schema/create.schema.json")).unwrap();
    assert!(
        !jsonschema::validator_for(&schema)
            .unwrap()
            .is_valid(&tampered)
    );
    // Private files, nothing half-written left, the index last.
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let file = file.unwrap();
        let name = file.file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".partial"), "{name}");
        assert_eq!(
            file.metadata().unwrap().permissions().mode() & 0o777,
            0o600,
            "{name}"
        );
    }
    let names = entry_names(&archive);
    assert_eq!(names.last().unwrap(), "index.json");
    // Issuers and ClusterIssuers in; cert-manager's issuance records out.
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("resources/clusterissuers.cert-manager.io/cluster/"))
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("resources/issuers.cert-manager.io/namespaces/"))
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("resources/certificates.cert-manager.io/"))
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("resources/deployments.apps/namespaces/sealos-system/"))
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("resources/gateways.networking.istio.io/"))
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("resources/peerauthentications.security.istio.io/"))
    );
    assert!(!names.iter().any(|n| n.contains("certificaterequests")
        || n.contains("orders")
        || n.contains("challenges")));
    // Objects are cleaned.
    let text = std::fs::read(&archive).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(text.as_slice()));
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        if name == "index.json" {
            let index: Value = serde_json::from_reader(&mut entry).unwrap();
            assert!(
                index["cluster"]["version"]
                    .as_str()
                    .unwrap()
                    .starts_with("v1.")
            );
            assert!(!index["tool"]["gitRevision"].as_str().unwrap().is_empty());
            continue;
        }
        let object: Value = serde_json::from_reader(&mut entry).unwrap();
        let meta = &object["metadata"];
        for field in [
            "uid",
            "resourceVersion",
            "managedFields",
            "generation",
            "creationTimestamp",
            "selfLink",
        ] {
            assert!(meta.get(field).is_none(), "{name} keeps {field}");
        }
        assert!(object.get("status").is_none(), "{name} keeps status");
        assert!(
            meta["annotations"]
                .get("kubectl.kubernetes.io/last-applied-configuration")
                .is_none()
        );
    }

    let paths = archived_paths(&archive.display().to_string(), None).await;
    assert_eq!(
        paths.len() as u64,
        created["summary"]["objects"].as_u64().unwrap()
    );

    let target = sandbox("empty").await;
    let audit = dir.path().join("audit.jsonl").display().to_string();
    let (exit, report) = run_json(
        Some(&target),
        &[
            "restore",
            &archive.display().to_string(),
            "--audit-log",
            &audit,
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Ok, "{report}");
    assert_eq!(report["summary"]["failed"], json!(0), "{report}");
    assert_schema("restore", &report);
    for path in &paths {
        let original =
            stored(&source, path).unwrap_or_else(|| panic!("{path:?} not in the source"));
        let restored =
            stored(&target, path).unwrap_or_else(|| panic!("{} not restored", path.render()));
        assert_eq!(
            essentials(&restored),
            essentials(&original),
            "{}",
            path.render()
        );
    }
    let audit_lines = std::fs::read_to_string(&audit).unwrap().lines().count();
    assert!(
        audit_lines >= paths.len() - 1,
        "{audit_lines} audit records"
    );

    // Again: everything exists, so everything is skipped; with --existing update, unchanged.
    let (exit, again) = run_json(
        Some(&target),
        &[
            "restore",
            &archive.display().to_string(),
            "--audit-log",
            &audit,
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Ok);
    assert_eq!(again["summary"]["created"], json!(0), "{again}");
    assert!(again["summary"]["skipped"].as_u64().unwrap() > 0);
    let (exit, update) = run_json(
        Some(&target),
        &[
            "restore",
            &archive.display().to_string(),
            "--existing",
            "update",
            "--audit-log",
            &audit,
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Ok);
    assert_eq!(update["summary"]["updated"], json!(0), "{update}");
    assert_eq!(update["summary"]["failed"], json!(0), "{update}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_writes_nothing_and_namespaces_can_be_mapped() {
    let source = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.tar.gz").display().to_string();
    let (exit, _) = run_json(
        Some(&source),
        &["create", "--to", &file, "-n", "sealos-system", "-o", "json"],
    )
    .await;
    assert_eq!(exit, Exit::Ok);
    // `-n` narrows the backup to one namespace (and the cluster-scoped issuers).
    let names = entry_names(std::path::Path::new(&file));
    assert!(
        names
            .iter()
            .any(|n| n.contains("/namespaces/sealos-system/"))
    );
    assert!(
        names
            .iter()
            .all(|n| !n.contains("/namespaces/istio-system/")),
        "{names:?}"
    );

    let target = sandbox("empty").await;
    let mark = target.request_log().len();
    let audit = dir.path().join("audit.jsonl").display().to_string();
    let (exit, report) = run_json(
        Some(&target),
        &[
            "restore",
            &file,
            "--dry-run",
            "--audit-log",
            &audit,
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Ok, "{report}");
    assert_eq!(report["dryRun"], json!(true));
    assert!(
        report["summary"]["created"].as_u64().unwrap() > 0,
        "{report}"
    );
    for request in target.request_log().since(mark) {
        if request.method != "GET" {
            assert!(
                request.query.contains("dryRun=All"),
                "a write without dry run: {request:?}"
            );
        }
    }
    assert!(
        target
            .objects("apps", "deployments", Some("sealos-system"))
            .is_empty()
    );
    assert!(
        !std::path::Path::new(&audit).exists(),
        "a dry run wrote to the audit log"
    );

    let (exit, report) = run_json(
        Some(&target),
        &[
            "restore",
            &file,
            "--namespace-map",
            "sealos-system=sealos-copy",
            "--audit-log",
            &audit,
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Ok, "{report}");
    let copied = target.objects("apps", "deployments", Some("sealos-copy"));
    assert_eq!(
        copied.len(),
        source
            .objects("apps", "deployments", Some("sealos-system"))
            .len()
    );
    assert!(target.object("", "namespaces", "", "sealos-copy").is_some());
    assert!(
        target
            .objects("apps", "deployments", Some("sealos-system"))
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_archives_fail_verify_by_name_and_are_refused_by_restore() {
    let source = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.tar.gz");
    let good_text = good.display().to_string();
    let (exit, _) = run_json(Some(&source), &["create", "--to", &good_text, "-o", "json"]).await;
    assert_eq!(exit, Exit::Ok);
    let names = entry_names(&good);
    let victim = names
        .iter()
        .find(|n| n.contains("/gateways."))
        .unwrap()
        .clone();

    // A flipped byte inside one object (its own checksum no longer matches).
    let flipped = dir.path().join("flipped.tar.gz");
    let v = victim.clone();
    rewrite(&good, &flipped, move |name, mut data| {
        if name == v {
            let at = data.len() / 2;
            data[at] ^= 0x20;
        }
        Some(data)
    });
    // A missing entry.
    let missing = dir.path().join("missing.tar.gz");
    let v = victim.clone();
    rewrite(&good, &missing, move |name, data| {
        (name != v).then_some(data)
    });
    // A truncated file, and a flipped byte in the compressed stream.
    let truncated = dir.path().join("truncated.tar.gz");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let raw_flip = dir.path().join("rawflip.tar.gz");
    let mut flipped_bytes = bytes.clone();
    let at = flipped_bytes.len() / 2;
    flipped_bytes[at] ^= 0x01;
    std::fs::write(&raw_flip, &flipped_bytes).unwrap();

    let target = sandbox("empty").await;
    let kubeconfig = target.kubeconfig_path().display().to_string();
    for (file, expect) in [
        (&flipped, victim.as_str()),
        (&missing, victim.as_str()),
        (&truncated, ""),
        (&raw_flip, ""),
    ] {
        let file = file.display().to_string();
        let argv = strings(&["verify", &file]);
        let out = bin(argv.clone(), vec![]).await;
        assert_eq!(out.status.code(), Some(1), "{}", explain(&argv, &out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("FAIL") && stdout.contains(expect),
            "{}",
            explain(&argv, &out)
        );

        let mark = target.request_log().len();
        let argv = strings(&["--kubeconfig", &kubeconfig, "restore", &file]);
        let out = bin(argv.clone(), vec![]).await;
        assert_eq!(out.status.code(), Some(2), "{}", explain(&argv, &out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("failed verification, nothing was restored"),
            "{}",
            explain(&argv, &out)
        );
        assert_eq!(
            target.request_log().since(mark).len(),
            0,
            "restore talked to the cluster"
        );
    }
    let argv = strings(&["verify", &good_text]);
    let out = bin(argv.clone(), vec![]).await;
    assert_eq!(out.status.code(), Some(0), "{}", explain(&argv, &out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_round_trip() {
    let source = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let (identity, recipient) = sealos_shared::archive::crypt::generate_key();
    let key = dir.path().join("key.txt");
    std::fs::write(&key, identity).unwrap();
    let key_text = key.display().to_string();
    let backups = dir.path().join("backups");
    let backups_text = backups.display().to_string();
    let (exit, created) = run_json(
        Some(&source),
        &[
            "create",
            "--to",
            &backups_text,
            "--include",
            "certificates",
            "--encrypt-to",
            &recipient,
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Ok);
    assert_eq!(created["summary"]["archive"]["encrypted"], json!(true));
    let archive = archive_in(&backups);
    assert!(archive.display().to_string().ends_with(".tar.gz.age"));
    let bytes = std::fs::read(&archive).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1"));
    assert!(
        !bytes.windows(5).any(|w| w == b"BEGIN"),
        "plaintext PEM in the encrypted archive"
    );

    let archive_text = archive.display().to_string();
    let (result, _) = run(None, &["verify", &archive_text]).await;
    assert!(result.unwrap_err().to_string().contains("--decrypt-key"));
    let (exit, report) = run_json(
        None,
        &[
            "verify",
            &archive_text,
            "--decrypt-key",
            &key_text,
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Ok, "{report}");
    // A key that is not the recipient's cannot open it.
    let (other, _) = sealos_shared::archive::crypt::generate_key();
    let other_key = dir.path().join("other.txt");
    std::fs::write(&other_key, other).unwrap();
    let (result, _) = run(
        None,
        &[
            "verify",
            &archive_text,
            "--decrypt-key",
            &other_key.display().to_string(),
        ],
    )
    .await;
    assert!(result.is_err());

    let target = sandbox("empty").await;
    let audit = dir.path().join("audit.jsonl").display().to_string();
    let (exit, report) = run_json(
        Some(&target),
        &[
            "restore",
            &archive_text,
            "--decrypt-key",
            &key_text,
            "--audit-log",
            &audit,
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Ok, "{report}");
    let paths = archived_paths(&archive_text, Some(&key_text)).await;
    assert!(paths.iter().any(|p| p.resource == "certificates"));
    for path in &paths {
        let original = stored(&source, path).unwrap();
        let restored =
            stored(&target, path).unwrap_or_else(|| panic!("{} not restored", path.render()));
        assert_eq!(
            essentials(&restored),
            essentials(&original),
            "{}",
            path.render()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_complete_and_incomplete_and_prune_keeps_the_newest() {
    let source = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    for name in ["a", "b", "c"] {
        let file = dir
            .path()
            .join(format!("sealos-backup-{name}.tar.gz"))
            .display()
            .to_string();
        let (exit, _) = run_json(
            Some(&source),
            &["create", "--to", &file, "--include", "sealos", "-o", "json"],
        )
        .await;
        assert_eq!(exit, Exit::Ok);
    }
    // An interrupted local write, and an archive whose index object is gone.
    std::fs::write(dir.path().join(".sealos-backup-x.tar.gz.partial"), b"half").unwrap();
    std::fs::remove_file(dir.path().join("sealos-backup-a.index.json")).unwrap();
    let (exit, listed) = run_json(None, &["list", "--dir", &out, "-o", "json"]).await;
    assert_eq!(exit, Exit::Ok);
    assert_schema("list", &listed);
    let backups = listed["backups"].as_array().unwrap();
    let complete: Vec<&str> = backups
        .iter()
        .filter(|b| b["complete"] == json!(true))
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(complete.len(), 2, "{listed}");
    assert!(
        backups
            .iter()
            .any(|b| b["complete"] == json!(false) && b["reason"] == json!("no index object"))
    );
    assert!(
        backups.iter().any(|b| b["complete"] == json!(false)
            && b["reason"].as_str().unwrap().contains("interrupted"))
    );
    for b in backups.iter().filter(|b| b["complete"] == json!(true)) {
        assert!(b["counts"]["Deployment"].as_u64().unwrap() > 0, "{b}");
    }

    let (exit, dry) = run_json(
        None,
        &[
            "prune",
            "--dir",
            &out,
            "--keep",
            "1",
            "--dry-run",
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Ok);
    assert_eq!(dry["deleted"].as_array().unwrap().len(), 1);
    assert_schema("prune", &dry);
    assert!(dir.path().join("sealos-backup-b.tar.gz").exists());
    let (exit, pruned) =
        run_json(None, &["prune", "--dir", &out, "--keep", "1", "-o", "json"]).await;
    assert_eq!(exit, Exit::Ok);
    let deleted = pruned["deleted"][0]["name"].as_str().unwrap().to_string();
    assert!(!dir.path().join(format!("{deleted}.tar.gz")).exists());
    assert!(!dir.path().join(format!("{deleted}.index.json")).exists());
    // Incomplete ones are never pruned.
    assert!(dir.path().join("sealos-backup-a.tar.gz").exists());
    let (_, listed) = run_json(None, &["list", "--dir", &out, "-o", "json"]).await;
    let complete = listed["backups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["complete"] == json!(true))
        .count();
    assert_eq!(complete, 1);
}

/// `create --prune-keep N` (what a scheduled run does): each run leaves the newest N complete
/// backups, its own among them, and reports what it deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_with_prune_keep_leaves_the_newest_n() {
    let source = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let argv = [
        "create",
        "--to",
        &out,
        "--include",
        "sealos",
        "--prune-keep",
        "2",
        "-o",
        "json",
    ];
    let mut names = Vec::new();
    for run in 0..3 {
        let (exit, report) = run_json(Some(&source), &argv).await;
        assert_eq!(exit, Exit::Ok);
        assert_schema("create", &report);
        names.push(report["summary"]["name"].as_str().unwrap().to_string());
        let deleted: Vec<&str> = report["prune"]["deleted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = if run == 2 {
            vec![names[0].as_str()]
        } else {
            vec![]
        };
        assert_eq!(deleted, expected, "run {run}: {report:#}");
        assert!(
            report["prune"]["kept"]
                .as_array()
                .unwrap()
                .contains(&json!(names[run])),
            "the new backup is kept: {report:#}"
        );
    }
    let (_, listed) = run_json(None, &["list", "--dir", &out, "-o", "json"]).await;
    let left: Vec<&str> = listed["backups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["complete"] == json!(true))
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(left.len(), 2, "{listed:#}");
    assert!(left.contains(&names[1].as_str()) && left.contains(&names[2].as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_2_before_any_request() {
    let source = sandbox("sealos").await;
    let mark = source.request_log().len();
    for argv in [
        vec!["create", "--resources", "certificaterequests"],
        vec!["create", "--encrypt-to", "age1nothing"],
        vec!["restore", "/nonexistent.tar.gz"],
        vec!["restore", "x.tar.gz", "--namespace-map", "a"],
    ] {
        let (result, _) = run(Some(&source), &argv).await;
        let err = result.unwrap_err();
        assert_eq!(err.exit(), Exit::Failure, "{argv:?}: {err}");
    }
    assert_eq!(source.request_log().since(mark).len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_crds_fail_their_objects_and_the_rest_is_restored() {
    let source = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.tar.gz").display().to_string();
    let (exit, _) = run_json(
        Some(&source),
        &["create", "--to", &file, "--include", "istio", "-o", "json"],
    )
    .await;
    assert_eq!(exit, Exit::Ok);
    // A cluster without Istio's CRDs.
    let bare = Sandbox::start(SandboxOptions {
        scenario: Scenario::Objects(vec![]),
        ..Default::default()
    })
    .await
    .unwrap();
    let audit = dir.path().join("audit.jsonl").display().to_string();
    let (exit, report) = run_json(
        Some(&bare),
        &["restore", &file, "--audit-log", &audit, "-o", "json"],
    )
    .await;
    assert_eq!(exit, Exit::Problem, "{report}");
    assert_schema("restore", &report);
    let objects = report["objects"].as_array().unwrap();
    let gateway = objects
        .iter()
        .find(|o| o["kind"] == json!("Gateway"))
        .unwrap();
    assert_eq!(gateway["result"], json!("failed"));
    assert!(
        gateway["message"]
            .as_str()
            .unwrap()
            .contains("install its CRD first"),
        "{gateway}"
    );
    // Failures first; the Secrets and ConfigMaps went in all the same.
    assert_eq!(objects[0]["result"], json!("failed"));
    assert!(
        objects
            .iter()
            .any(|o| o["kind"] == json!("ConfigMap") && o["result"] == json!("created"))
    );
    assert!(
        bare.object("", "configmaps", "istio-system", "istio")
            .is_some()
    );
}
