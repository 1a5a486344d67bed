//! Signed archives against the real `ssh-keygen`: our signatures pass `ssh-keygen -Y verify`,
//! its `-Y sign` signatures pass ours, and a tampered, unsigned, foreign-key or other-namespace
//! archive is refused by `verify` (exit 1, named) and by `restore` (exit 2, nothing written).
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sealos_sandbox::Sandbox;
use serde_json::{Value, json};
use support::*;

const NAMESPACE: &str = "kubectl-sealos-backup";
const PRINCIPAL: &str = "ops@example.org";

/// A new key pair of `kind` in `dir`; the private key's path.
fn keygen(dir: &Path, kind: &str) -> PathBuf {
    let path = dir.join(format!("id_{kind}"));
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", kind, "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    path
}

/// An allowed_signers file trusting each (principal, options, private key)'s public half.
fn allowed_signers(dir: &Path, entries: &[(&str, &str, &Path)]) -> PathBuf {
    let mut text = String::from("# who may sign backups\n");
    for (principal, options, key) in entries {
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        text.push_str(&format!("{principal} {options} {}\n", public.trim()));
    }
    let path = dir.join("allowed_signers");
    std::fs::write(&path, text).unwrap();
    path
}

/// `ssh-keygen -Y verify -f ALLOWED -I PRINCIPAL -n NAMESPACE -s SIG < INDEX`.
fn ssh_verify(allowed: &Path, index: &Path, sig: &Path) -> Output {
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(allowed)
        .args(["-I", PRINCIPAL, "-n", NAMESPACE, "-s"])
        .arg(sig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(index).unwrap())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `ssh-keygen -Y sign -f KEY -n NAMESPACE INDEX`, which writes INDEX.sig (our name for it too).
fn ssh_sign(key: &Path, namespace: &str, index: &Path) {
    let _ = std::fs::remove_file(format!("{}.sig", index.display()));
    let out = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-f"])
        .arg(key)
        .args(["-n", namespace])
        .arg(index)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// `create --output DIR [extra]` with the real binary; the `-o json` report.
async fn create(source: &Sandbox, dir: &Path, extra: &[&str]) -> Value {
    let mut argv = strings(&[
        "--kubeconfig",
        &source.kubeconfig_path().display().to_string(),
        "create",
        "--to",
        &dir.display().to_string(),
        "--include",
        "sealos",
        "-o",
        "json",
    ]);
    argv.extend(strings(extra));
    let out = bin(argv.clone(), vec![]).await;
    assert_eq!(out.status.code(), Some(0), "{}", explain(&argv, &out));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_schema("create", &created);
    created
}

/// `verify INDEX --trusted-signers ALLOWED -o json`: exit code and report.
async fn verify(index: &Path, allowed: &Path) -> (Option<i32>, Value, String) {
    let argv = strings(&[
        "verify",
        &index.display().to_string(),
        "--trusted-signers",
        &allowed.display().to_string(),
        "-o",
        "json",
    ]);
    let out = bin(argv.clone(), vec![]).await;
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", explain(&argv, &out)));
    assert_schema("verify", &report);
    (out.status.code(), report, explain(&argv, &out))
}

/// `restore INDEX --trusted-signers ALLOWED` into `target`: the output, and whether anything was
/// written to the cluster.
async fn restore(target: &Sandbox, index: &Path, allowed: &Path) -> (Output, String, bool) {
    let mark = target.request_log().len();
    let argv = strings(&[
        "--kubeconfig",
        &target.kubeconfig_path().display().to_string(),
        "restore",
        &index.display().to_string(),
        "--trusted-signers",
        &allowed.display().to_string(),
        "--audit-log",
        "/dev/null",
    ]);
    let out = bin(argv.clone(), vec![]).await;
    let wrote = target
        .request_log()
        .since(mark)
        .iter()
        .any(|r| r.is_write());
    let text = explain(&argv, &out);
    (out, text, wrote)
}

fn index_of(created: &Value) -> PathBuf {
    PathBuf::from(created["index"].as_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_signatures_verify_with_ssh_keygen_and_a_tampered_index_fails_both() {
    let source = sandbox("sealos").await;
    let keys = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    for kind in ["ed25519", "ecdsa"] {
        let key = keygen(keys.path(), kind);
        let allowed = allowed_signers(keys.path(), &[(PRINCIPAL, "", &key)]);
        let dir = store.path().join(kind);
        let created = create(&source, &dir, &["--sign-key", &key.display().to_string()]).await;
        let index = index_of(&created);
        let sig = PathBuf::from(created["signature"].as_str().unwrap());
        assert_eq!(sig, PathBuf::from(format!("{}.sig", index.display())));
        assert!(created["signedBy"].as_str().unwrap().starts_with("SHA256:"));

        let checked = ssh_verify(&allowed, &index, &sig);
        assert!(checked.status.success(), "{kind}: {checked:?}");
        let said = String::from_utf8_lossy(&checked.stdout);
        assert!(
            said.contains(&format!("Good \"{NAMESPACE}\" signature for {PRINCIPAL}")),
            "{said}"
        );

        let (code, report, text) = verify(&index, &allowed).await;
        assert_eq!(code, Some(0), "{kind}: {text}");
        assert_eq!(report["signer"]["principals"], json!(PRINCIPAL), "{text}");
        assert_eq!(report["signer"]["key"], created["signedBy"], "{text}");
    }

    // RSA keys verify but do not sign here (see `signing::SigningKey`): refused as bad input,
    // before the cluster is read.
    let rsa = keygen(keys.path(), "rsa");
    let mark = source.request_log().len();
    let argv = strings(&[
        "--kubeconfig",
        &source.kubeconfig_path().display().to_string(),
        "create",
        "--to",
        &store.path().join("rsa").display().to_string(),
        "--sign-key",
        &rsa.display().to_string(),
    ]);
    let out = bin(argv.clone(), vec![]).await;
    assert_eq!(out.status.code(), Some(2), "{}", explain(&argv, &out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("RSA keys cannot sign backups here"),
        "{}",
        explain(&argv, &out)
    );
    assert_eq!(source.request_log().len(), mark, "{}", explain(&argv, &out));

    // One byte of meaning changed in the index object (a count, its hashes left alone).
    let key = keys.path().join("id_ed25519");
    let allowed = allowed_signers(keys.path(), &[(PRINCIPAL, "", &key)]);
    let index = std::fs::read_dir(store.path().join("ed25519"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.display().to_string().ends_with(".index.json"))
        .unwrap();
    let mut summary: Value = serde_json::from_slice(&std::fs::read(&index).unwrap()).unwrap();
    summary["createdAt"] = json!("2020-01-01T00:00:00Z");
    std::fs::write(&index, serde_json::to_vec_pretty(&summary).unwrap()).unwrap();
    let sig = PathBuf::from(format!("{}.sig", index.display()));
    let checked = ssh_verify(&allowed, &index, &sig);
    assert!(
        !checked.status.success(),
        "ssh-keygen accepted a tampered index: {checked:?}"
    );

    let (code, report, text) = verify(&index, &allowed).await;
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(report["ok"], json!(false), "{text}");
    assert!(text.contains("changed after signing"), "{text}");

    let target = sandbox("empty").await;
    let (out, text, wrote) = restore(&target, &index, &allowed).await;
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("is not trusted, nothing was restored"),
        "{text}"
    );
    assert!(text.contains("changed after signing"), "{text}");
    assert!(!wrote, "a refused restore wrote to the cluster: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_keygen_signatures_verify_with_ours_and_restore() {
    let source = sandbox("sealos").await;
    let keys = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let created = create(&source, store.path(), &[]).await;
    assert!(created.get("signature").is_none(), "{created}");
    let index = index_of(&created);
    let mut allowed = PathBuf::new();
    for kind in ["rsa", "ecdsa", "ed25519"] {
        let key = keygen(keys.path(), kind);
        allowed = allowed_signers(
            keys.path(),
            &[(PRINCIPAL, &format!("namespaces=\"git,{NAMESPACE}\""), &key)],
        );
        ssh_sign(&key, NAMESPACE, &index);
        let (code, report, text) = verify(&index, &allowed).await;
        assert_eq!(code, Some(0), "{kind}: {text}");
        assert_eq!(report["signer"]["principals"], json!(PRINCIPAL), "{text}");
    }

    let target = sandbox("empty").await;
    let (out, text, wrote) = restore(&target, &index, &allowed).await;
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(wrote, "a trusted restore wrote nothing: {text}");

    // Pruning a signed backup takes its signature too.
    create(&source, store.path(), &[]).await;
    let argv = strings(&[
        "prune",
        "--dir",
        &store.path().display().to_string(),
        "--keep",
        "1",
    ]);
    let out = bin(argv.clone(), vec![]).await;
    assert_eq!(out.status.code(), Some(0), "{}", explain(&argv, &out));
    assert!(!index.exists(), "{}", explain(&argv, &out));
    let sig = PathBuf::from(format!("{}.sig", index.display()));
    assert!(!sig.exists(), "the signature outlived its backup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_foreign_and_other_namespace_archives_are_refused() {
    let source = sandbox("sealos").await;
    let target = sandbox("empty").await;
    let keys = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let trusted = keygen(keys.path(), "ed25519");
    let stranger = keygen(keys.path(), "ecdsa");
    let allowed = allowed_signers(keys.path(), &[(PRINCIPAL, "", &trusted)]);
    let created = create(&source, store.path(), &[]).await;
    let index = index_of(&created);

    // (how it is signed, what both commands must say)
    let cases: [(Option<(&Path, &str)>, &str); 3] = [
        (None, "the archive is not signed"),
        (Some((&stranger, NAMESPACE)), "which --trusted-signers"),
        (Some((&trusted, "file")), "made for namespace \"file\""),
    ];
    for (signed, why) in cases {
        let _ = std::fs::remove_file(format!("{}.sig", index.display()));
        if let Some((key, namespace)) = signed {
            ssh_sign(key, namespace, &index);
        }
        let (code, report, text) = verify(&index, &allowed).await;
        assert_eq!(code, Some(1), "{text}");
        assert_eq!(report["ok"], json!(false), "{text}");
        assert!(
            report["problems"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p.as_str().unwrap().contains(why)),
            "{why}: {text}"
        );
        let (out, text, wrote) = restore(&target, &index, &allowed).await;
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(text.contains(why), "{why}: {text}");
        assert!(!wrote, "a refused restore wrote to the cluster: {text}");
    }

    // A bad allowed_signers file is bad input, before anything is read.
    std::fs::write(
        keys.path().join("bad"),
        "ops@example.org frob ssh-ed25519 AAAA\n",
    )
    .unwrap();
    let argv = strings(&[
        "verify",
        &index.display().to_string(),
        "--trusted-signers",
        &keys.path().join("bad").display().to_string(),
    ]);
    let out = bin(argv.clone(), vec![]).await;
    assert_eq!(out.status.code(), Some(2), "{}", explain(&argv, &out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 1: unsupported option \"frob\""),
        "{}",
        explain(&argv, &out)
    );
}
