//! `cert backup` end to end: the real binary writes an archive in the suite's backup format that
//! the shared reader (what `kubectl sealos backup verify` runs) accepts, holding every seeded
//! Certificate, Issuer, ClusterIssuer and certificate Secret and no CertificateRequest.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use sealos_sandbox::{Sandbox, SandboxOptions};
use sealos_shared::archive::reader::{for_each_object, verify};
use serde_json::Value;

/// Runs the binary off the async runtime (the in-process sandbox keeps serving), with its own HOME.
async fn cert(home: &Path, kubeconfig: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubectl-sealos-cert"));
    command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `(resource, namespace, name)` of every stored object of a resource.
fn seeded(sandbox: &Sandbox, group: &str, plural: &str) -> BTreeSet<(String, String, String)> {
    sandbox
        .objects(group, plural, None)
        .iter()
        .map(|o| {
            let meta = &o["metadata"];
            (
                plural.to_string(),
                meta["namespace"].as_str().unwrap_or("").to_string(),
                meta["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_writes_a_verifiable_archive_of_the_certificates_part() {
    let sandbox = Sandbox::start(SandboxOptions::scenario("sealos"))
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("certs.tar.gz");
    let kubeconfig = sandbox.kubeconfig_path();

    let certificates = seeded(&sandbox, "cert-manager.io", "certificates");
    let issuers = seeded(&sandbox, "cert-manager.io", "issuers");
    let cluster_issuers = seeded(&sandbox, "cert-manager.io", "clusterissuers");
    assert!(!certificates.is_empty() && !issuers.is_empty() && !cluster_issuers.is_empty());
    assert!(
        !sandbox
            .objects("cert-manager.io", "certificaterequests", None)
            .is_empty(),
        "the seed has CertificateRequests, so leaving them out is observable"
    );
    // The Secrets the certificates write (those that exist), and no other Secret.
    let mut secrets = BTreeSet::new();
    for cert in sandbox.objects("cert-manager.io", "certificates", None) {
        let ns = cert["metadata"]["namespace"].as_str().unwrap();
        let name = cert["spec"]["secretName"].as_str().unwrap();
        if sandbox.object("", "secrets", ns, name).is_some() {
            secrets.insert(("secrets".to_string(), ns.to_string(), name.to_string()));
        }
    }
    assert!(!secrets.is_empty());

    let out = cert(
        home.path(),
        kubeconfig,
        &[
            "backup",
            "-A",
            "--to",
            archive.to_str().unwrap(),
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["archive"], archive.to_str().unwrap());
    let counts: Vec<(String, u64)> = report["summary"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["resource"].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    for (resource, want) in [
        ("certificates", certificates.len()),
        ("issuers", issuers.len()),
        ("clusterissuers", cluster_issuers.len()),
        ("secrets", secrets.len()),
    ] {
        assert!(
            counts.contains(&(resource.to_string(), want as u64)),
            "{resource}: want {want} in {counts:?}"
        );
    }
    // The index object beside the archive marks it complete.
    let index = report["index"].as_str().unwrap();
    assert!(Path::new(index).is_file(), "{index}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&archive).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the archive holds private keys: {mode:o}");
    }

    let verification = verify(std::fs::File::open(&archive).unwrap());
    assert!(verification.ok(), "{:?}", verification.problems);
    let mut found = BTreeSet::new();
    for_each_object(std::fs::File::open(&archive).unwrap(), |path, object| {
        assert!(object.get("status").is_none(), "{}", path.render());
        found.insert((path.resource, path.namespace.unwrap_or_default(), path.name));
        Ok(())
    })
    .unwrap();
    let mut want = certificates;
    want.extend(issuers);
    want.extend(cluster_issuers);
    want.extend(secrets);
    // The shared archiver also writes the Namespace of every namespaced object, for restore.
    let namespaces: BTreeSet<_> = want
        .iter()
        .filter(|(_, ns, _)| !ns.is_empty())
        .map(|(_, ns, _)| ("namespaces".to_string(), String::new(), ns.clone()))
        .collect();
    want.extend(namespaces);
    assert_eq!(found, want);
    assert!(found.iter().all(|(r, _, _)| r != "certificaterequests"));
    assert_eq!(verification.objects, found.len() as u64);

    // The table report names where it wrote; -n narrows to one namespace.
    let (_, ns, _) = want
        .iter()
        .find(|(r, _, _)| r == "certificates")
        .unwrap()
        .clone();
    let out = cert(
        home.path(),
        kubeconfig,
        &["backup", "-n", &ns, "--to", dir.path().to_str().unwrap()],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("complete"), "{text}");
    assert!(text.contains(dir.path().to_str().unwrap()), "{text}");
    assert!(text.contains("Certificate"), "{text}");
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p != &archive && p.to_string_lossy().ends_with(".tar.gz"))
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    let mut namespaces = BTreeSet::new();
    for_each_object(std::fs::File::open(&written[0]).unwrap(), |path, _| {
        if path.resource != "namespaces" {
            namespaces.insert(path.namespace);
        }
        Ok(())
    })
    .unwrap();
    assert!(namespaces.contains(&Some(ns.clone())), "{namespaces:?}");
    assert!(
        namespaces.contains(&None),
        "ClusterIssuers are kept with -n: {namespaces:?}"
    );
    assert!(
        namespaces
            .iter()
            .all(|n| n.is_none() || n.as_deref() == Some(ns.as_str())),
        "{namespaces:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_2_before_any_request() {
    let sandbox = Sandbox::start(SandboxOptions::scenario("sealos"))
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("x.tar.gz");
    let mark = sandbox.request_log().len();
    for args in [
        vec!["backup", "--encrypt-to", "age1notakey"],
        vec!["backup", "--s3", "bucket/prefix"],
        vec![
            "backup",
            "--to",
            plain.to_str().unwrap(),
            "--encrypt-to",
            "age1x",
        ],
        vec!["backup", "--to", "a", "--s3", "s3://b/p"],
    ] {
        let out = cert(home.path(), sandbox.kubeconfig_path(), &args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{}", describe(&out));
        assert!(!String::from_utf8_lossy(&out.stderr).is_empty(), "{args:?}");
    }
    // The old spellings: -o/--output is the report format, the archive goes --to.
    for (args, hint) in [
        (
            vec!["backup", "--output", "/backup/certs"],
            "-o/--output is the report format; the backup directory or file is --to",
        ),
        (
            vec!["backup", "--format", "json"],
            "--format was renamed: use -o/--output",
        ),
        (
            vec!["check", "--fail-on", "error"],
            "--fail-on error was renamed: use --fail-on fail",
        ),
    ] {
        let out = cert(home.path(), sandbox.kubeconfig_path(), &args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(hint), "{args:?}: {stderr}");
    }
    assert_eq!(sandbox.request_log().len(), mark, "no request on bad input");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
