//! What a backup store may hold and what it may not make the tool do: an index object that
//! names a path (`/abs`, `../x`, `a/b`) or is oversize is exit 2 and touches no local file;
//! two backups made in the same second both survive; S3 writes never replace an object. Against
//! a real S3 server (moto, authentication on) and local directories.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use sealos_sandbox::Sandbox;
use sealos_shared::s3::{S3, Timeouts};
use serde_json::{Value, json};
use support::*;

async fn create(source: &Sandbox, env: Vec<(String, String)>, target: &[&str]) -> Value {
    let mut argv = strings(&[
        "--kubeconfig",
        &source.kubeconfig_path().display().to_string(),
        "create",
        "--include",
        "sealos",
        "-o",
        "json",
    ]);
    argv.extend(strings(target));
    let out = bin(argv.clone(), env).await;
    assert_eq!(out.status.code(), Some(0), "{}", explain(&argv, &out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The index object of `created` with `archive.file` set to `file`.
fn naming(created: &Value, file: &str) -> Vec<u8> {
    let mut summary = created["summary"].clone();
    summary["archive"]["file"] = json!(file);
    serde_json::to_vec_pretty(&summary).unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_object_naming_a_path_is_refused_and_touches_no_file() {
    let moto = Moto::start();
    let source = sandbox("sealos").await;
    let url = moto.url("hostile/");
    let created = create(&source, moto.env(), &["--s3", &url]).await;
    let victims = tempfile::tempdir().unwrap();
    let victim = victims.path().join("precious.tar.gz");
    std::fs::write(&victim, b"precious").unwrap();
    let victim_text = victim.display().to_string();

    for (file, why) in [
        (victim_text.as_str(), "is a path, not a file name"),
        ("../escaped.tar.gz", "is a path, not a file name"),
        ("..", "contains \"..\""),
        ("a/b.tar.gz", "is a path, not a file name"),
    ] {
        moto.put("hostile/evil.index.json", &naming(&created, file));
        // Its own TMPDIR, to see that nothing at all is left in it.
        let tmp = tempfile::tempdir().unwrap();
        let mut env = moto.env();
        env.push(("TMPDIR".into(), tmp.path().display().to_string()));
        for command in ["verify", "restore"] {
            let argv = strings(&[command, &format!("{url}evil.index.json")]);
            let out = bin(argv.clone(), env.clone()).await;
            let text = explain(&argv, &out);
            assert_eq!(out.status.code(), Some(2), "{text}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains(&format!(
                    "index object {url}evil.index.json names the file {file:?}, which {why}"
                )),
                "{text}"
            );
            assert_eq!(std::fs::read(&victim).unwrap(), b"precious", "{text}");
            assert_eq!(entries(tmp.path()), Vec::<String>::new(), "{text}");
        }
        let argv = strings(&["list", "--s3", &url]);
        let out = bin(argv.clone(), moto.env()).await;
        assert_eq!(out.status.code(), Some(2), "{}", explain(&argv, &out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(why),
            "{}",
            explain(&argv, &out)
        );
    }

    // The same in a local directory, where prune would have deleted the named file.
    let dir = tempfile::tempdir().unwrap();
    let created = create(
        &source,
        vec![],
        &["--to", &dir.path().display().to_string()],
    )
    .await;
    let evil = dir.path().join("evil.index.json");
    std::fs::write(&evil, naming(&created, &victim_text)).unwrap();
    for argv in [
        strings(&["verify", &evil.display().to_string()]),
        strings(&[
            "prune",
            "--dir",
            &dir.path().display().to_string(),
            "--keep",
            "1",
        ]),
    ] {
        let out = bin(argv.clone(), vec![]).await;
        let text = explain(&argv, &out);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("is a path, not a file name"),
            "{text}"
        );
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious", "{text}");
    }
    assert!(Path::new(created["archive"].as_str().unwrap()).is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_index_object_is_refused() {
    let moto = Moto::start();
    let url = moto.url("big/");
    // Valid JSON, 2 MiB: only its size is wrong.
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    moto.put("big/huge.index.json", big.as_bytes());
    let argv = strings(&["verify", &format!("{url}huge.index.json")]);
    let out = bin(argv.clone(), moto.env()).await;
    assert_eq!(out.status.code(), Some(2), "{}", explain(&argv, &out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is larger than 1048576 bytes"),
        "{}",
        explain(&argv, &out)
    );
    let argv = strings(&["list", "--s3", &url, "-o", "json"]);
    let out = bin(argv.clone(), moto.env()).await;
    assert_eq!(out.status.code(), Some(0), "{}", explain(&argv, &out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["backups"][0]["complete"], json!(false), "{listed}");
    assert!(
        listed["backups"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("larger than 1048576 bytes"),
        "{listed}"
    );

    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.index.json");
    std::fs::write(&huge, &big).unwrap();
    let argv = strings(&["verify", &huge.display().to_string()]);
    let out = bin(argv.clone(), vec![]).await;
    assert_eq!(out.status.code(), Some(2), "{}", explain(&argv, &out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is larger than 1048576 bytes"),
        "{}",
        explain(&argv, &out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_backups_in_the_same_second_both_survive() {
    let moto = Moto::start();
    let source = sandbox("sealos").await;
    let dir = tempfile::tempdir().unwrap();
    let dir_text = dir.path().display().to_string();
    let url = moto.url("twins");
    // Started together: the same second, often the same millisecond.
    let local = ["--to", dir_text.as_str()];
    let remote = ["--s3", url.as_str()];
    let (a, b, c, d) = tokio::join!(
        create(&source, vec![], &local),
        create(&source, vec![], &local),
        create(&source, moto.env(), &remote),
        create(&source, moto.env(), &remote),
    );
    assert_ne!(a["archive"], b["archive"]);
    assert_ne!(c["archive"], d["archive"]);
    for (location, env) in [(["--dir", &dir_text], vec![]), (["--s3", &url], moto.env())] {
        let argv = strings(&["list", location[0], location[1], "-o", "json"]);
        let out = bin(argv.clone(), env).await;
        assert_eq!(out.status.code(), Some(0), "{}", explain(&argv, &out));
        let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
        let complete = listed["backups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["complete"] == json!(true))
            .count();
        assert_eq!(complete, 2, "{listed}");
    }

    // A file named twice: the second run stops before reading the cluster, the first stays.
    let file = dir.path().join("named.tar.gz");
    let file_text = file.display().to_string();
    create(&source, vec![], &["--to", &file_text]).await;
    let before = std::fs::read(&file).unwrap();
    let mark = source.request_log().len();
    let argv = strings(&[
        "--kubeconfig",
        &source.kubeconfig_path().display().to_string(),
        "create",
        "--to",
        &file_text,
    ]);
    let out = bin(argv.clone(), vec![]).await;
    let text = explain(&argv, &out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "{file_text} already exists: a backup never replaces another"
        )),
        "{text}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
    assert!(
        source
            .request_log()
            .since(mark)
            .iter()
            .all(|r| !r.path.contains("/secrets") && !r.path.contains("/configmaps")),
        "{text}"
    );
}

/// S3 calls need the store's address and keys in the environment, which a test may not change
/// in its own process: the checks run in a child (this same test binary, this test only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_writes_never_replace_an_object() {
    if std::env::var("SEALOS_TEST_S3_CHILD").is_ok() {
        return s3_checks().await;
    }
    let moto = Moto::start();
    let out = child(
        "s3_writes_never_replace_an_object",
        moto.env(),
        &moto.bucket,
    );
    assert!(out.contains("s3 checks passed"), "{out}");
}

/// Runs the test `name` of this binary again in a child process with `env` (and `bucket` in
/// SEALOS_TEST_S3_CHILD); its output, after asserting that it passed.
fn child(name: &str, env: Vec<(String, String)>, bucket: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .envs(env)
        .env("SEALOS_TEST_S3_CHILD", bucket)
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

/// A store that accepts connections and never answers: every request ends, with "timed out",
/// instead of waiting forever (the SDK has no timeout of its own). Short timeouts here; the
/// defaults are asserted in `sealos_shared::s3`'s unit tests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_store_times_out() {
    if std::env::var("SEALOS_TEST_S3_CHILD").is_ok() {
        let short = std::time::Duration::from_millis(500);
        let timeouts = Timeouts {
            connect: short,
            small_attempt: short,
            small_operation: short * 4,
            large_attempt: short,
            large_operation: short * 4,
            idle: short,
        };
        let s3 = S3::connect_with("silent", timeouts).await.unwrap();
        let err = s3.list("p/").await.unwrap_err().to_string();
        assert!(err.contains("list s3://silent/p/: timed out"), "{err}");
        let err = s3
            .put_new("p/x", b"x".to_vec())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("timed out"), "{err}");
        println!("silent checks passed");
        return;
    }
    // Bound, never accepted: the kernel completes the handshake and the request goes unread.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let env = vec![
        (
            "AWS_ENDPOINT_URL".to_string(),
            format!("http://{}", silent.local_addr().unwrap()),
        ),
        ("AWS_ACCESS_KEY_ID".into(), "AKIAEXAMPLE".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "secretsecretsecret".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
    ];
    let out = child("a_silent_store_times_out", env, "silent");
    assert!(out.contains("silent checks passed"), "{out}");
    drop(silent);
}

async fn s3_checks() {
    let bucket = std::env::var("SEALOS_TEST_S3_CHILD").unwrap();
    let s3 = S3::connect(&bucket).await.unwrap();
    let exists = |e: sealos_shared::Error| {
        let text = e.to_string();
        assert!(
            text.contains("already exists: a backup never replaces another"),
            "{text}"
        );
    };

    // HEAD, then If-None-Match.
    s3.put_new("race/a", b"first".to_vec()).await.unwrap();
    exists(s3.put_new("race/a", b"second".to_vec()).await.unwrap_err());
    // The header alone: moto honours it (a store that did not would leave "second").
    exists(
        s3.put_if_none_match("race/a", b"second".to_vec())
            .await
            .unwrap_err(),
    );
    assert_eq!(s3.get_small("race/a", 64).await.unwrap().unwrap(), b"first");

    // A multipart upload completed onto a key that was written while it ran.
    let id = s3.start_upload("race/b").await.unwrap();
    let part = s3
        .upload_part("race/b", &id, 1, b"mine".to_vec())
        .await
        .unwrap();
    s3.put_new("race/b", b"theirs".to_vec()).await.unwrap();
    exists(
        s3.complete_upload("race/b", &id, vec![part], 4)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        s3.get_small("race/b", 64).await.unwrap().unwrap(),
        b"theirs"
    );
    s3.abort_upload("race/b", &id).await.unwrap();

    // Small reads are bounded, and a missing object is None.
    let err = s3.get_small("race/a", 3).await.unwrap_err().to_string();
    assert!(err.contains("is larger than 3 bytes"), "{err}");
    assert_eq!(s3.get_small("race/none", 64).await.unwrap(), None);
    println!("s3 checks passed");
}
