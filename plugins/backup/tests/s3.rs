//! Backups to a real S3 server (moto in server mode, authentication on): create, list, verify
//! and restore from S3, a multipart upload, an upload interrupted midway, wrong credentials.
#![allow(clippy::unwrap_used)]

mod support;

use sealos_sandbox::Sandbox;
use serde_json::{Value, json};
use support::*;

/// `count` Secrets of `kib` KiB of incompressible-ish data in istio-system.
fn add_big_secrets(sandbox: &Sandbox, count: usize, kib: usize) {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for i in 0..count {
        let data: String = (0..kib * 1024)
            .map(|_| ALPHABET[fastrand::usize(..64)] as char)
            .collect();
        sandbox
            .create(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": format!("bulk-{i:04}"), "namespace": "istio-system"},
                "type": "Opaque",
                "data": {"blob": data},
            }))
            .unwrap();
    }
}

async fn backup(sandbox: &Sandbox, moto: &Moto, extra: &[&str]) -> std::process::Output {
    let mut argv = strings(&[
        "--kubeconfig",
        &sandbox.kubeconfig_path().display().to_string(),
        "create",
    ]);
    argv.extend(strings(extra));
    bin(argv, moto.env()).await
}

async fn json_of(argv: &[&str], env: Vec<(String, String)>) -> Value {
    let argv = strings(argv);
    let out = bin(argv.clone(), env).await;
    assert_eq!(out.status.code(), Some(0), "{}", explain(&argv, &out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", explain(&argv, &out)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_verify_restore_and_prune_on_s3() {
    let moto = Moto::start();
    let source = sandbox("sealos").await;
    let url = moto.url("cluster-a");
    let out = backup(&source, &moto, &["--s3", &url, "-o", "json"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let archive = created["archive"].as_str().unwrap().to_string();
    assert!(
        archive.starts_with("s3://sealos-backups/cluster-a/sealos-backup-"),
        "{archive}"
    );
    assert_eq!(created["uploadParts"], json!(0));

    let listed = json_of(&["list", "--s3", &url, "-o", "json"], moto.env()).await;
    let backups = listed["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1, "{listed}");
    assert_eq!(backups[0]["complete"], json!(true));
    assert_eq!(backups[0]["objects"], created["summary"]["objects"]);
    assert!(backups[0]["counts"]["Gateway"].as_u64().unwrap() >= 1);

    let verified = json_of(&["verify", &archive, "-o", "json"], moto.env()).await;
    assert_eq!(verified["ok"], json!(true), "{verified}");
    assert!(
        verified["notes"].as_array().unwrap().is_empty(),
        "the index object was not found: {verified}"
    );

    let target = sandbox("empty").await;
    let kubeconfig = target.kubeconfig_path().display().to_string();
    let restored = json_of(
        &[
            "--kubeconfig",
            &kubeconfig,
            "restore",
            &archive,
            "--audit-log",
            "/dev/null",
            "-o",
            "json",
        ],
        moto.env(),
    )
    .await;
    assert_eq!(restored["summary"]["failed"], json!(0), "{restored}");
    for gateway in source.objects("networking.istio.io", "gateways", None) {
        let ns = gateway["metadata"]["namespace"].as_str().unwrap();
        let name = gateway["metadata"]["name"].as_str().unwrap();
        let copy = target
            .object("networking.istio.io", "gateways", ns, name)
            .unwrap();
        assert_eq!(copy["spec"], gateway["spec"]);
    }

    // A second backup, then prune to one.
    let out = backup(
        &source,
        &moto,
        &["--s3", &url, "--output-name-test-guard", "x"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "unknown flags are usage errors");
    let out = backup(&source, &moto, &["--s3", &url, "--include", "sealos"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = json_of(&["list", "--s3", &url, "-o", "json"], moto.env()).await;
    let complete = listed["backups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["complete"] == json!(true))
        .count();
    // Never one replacing the other, even within the same second.
    assert_eq!(complete, 2, "{listed}");
    let pruned = json_of(
        &["prune", "--s3", &url, "--keep", "1", "-o", "json"],
        moto.env(),
    )
    .await;
    assert_eq!(
        pruned["deleted"].as_array().unwrap().len(),
        complete - 1,
        "{pruned}"
    );
    let listed = json_of(&["list", "--s3", &url, "-o", "json"], moto.env()).await;
    assert_eq!(listed["backups"].as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_archives_go_up_in_parts() {
    let moto = Moto::start();
    let source = sandbox("sealos").await;
    add_big_secrets(&source, 48, 256);
    let url = moto.url("big");
    let out = backup(
        &source,
        &moto,
        &[
            "--s3",
            &url,
            "--s3-part-size",
            "5",
            "--page-size",
            "16",
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(created["uploadParts"].as_u64().unwrap() >= 2, "{created}");
    assert!(created["summary"]["archive"]["size"].as_u64().unwrap() > 5 * 1024 * 1024);
    let verified = json_of(
        &["verify", created["archive"].as_str().unwrap(), "-o", "json"],
        moto.env(),
    )
    .await;
    assert_eq!(verified["ok"], json!(true), "{verified}");
    assert!(verified["objects"].as_u64().unwrap() > 48);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_upload_is_never_listed_as_complete() {
    let moto = Moto::start();
    let source = sandbox("sealos").await;
    add_big_secrets(&source, 96, 256);
    let kubeconfig = source.kubeconfig_path().display().to_string();
    for (signal, expected_exit, aborted) in [("TERM", Some(130), true), ("KILL", None, false)] {
        let url = moto.url(&format!("cut-{signal}"));
        // Through a gate that holds part 2: when it arrives, part 1 is stored and the upload is
        // in progress. The store's own traffic says when, no clock.
        let mut gate = PartGate::start(&moto.endpoint, 2).await;
        let mut env = moto.env();
        env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
        env.push(("AWS_ENDPOINT_URL".into(), gate.endpoint.clone()));
        let mut child = std::process::Command::new(BIN)
            .args([
                "--kubeconfig",
                &kubeconfig,
                "create",
                "--s3",
                &url,
                "--s3-part-size",
                "5",
                "--page-size",
                "8",
            ])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        gate.watch(&mut child);
        match gate.next().await {
            GateEvent::Held => {}
            GateEvent::Exited(stderr) => {
                panic!("the backup ended before its second part: {stderr}")
            }
        }
        let killed = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let stderr = match gate.next().await {
            GateEvent::Exited(stderr) => stderr,
            GateEvent::Held => panic!("part 2 was sent twice"),
        };
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        assert_eq!(status.code(), expected_exit, "{stderr}");

        let listed = json_of(&["list", "--s3", &url, "-o", "json"], moto.env()).await;
        let backups = listed["backups"].as_array().unwrap();
        assert!(
            backups.iter().all(|b| b["complete"] == json!(false)),
            "{listed}"
        );
        let pending = backups
            .iter()
            .filter(|b| {
                b["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("multipart"))
            })
            .count();
        if aborted {
            // SIGTERM: the command cleaned up after itself.
            assert_eq!(backups.len(), 0, "{listed}");
        } else {
            // SIGKILL: the parts stay behind, listed as incomplete, never as a backup.
            assert_eq!(pending, 1, "{listed}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_exit_2_with_a_clear_message_and_no_secret() {
    let moto = Moto::start();
    let source = sandbox("sealos").await;
    let url = moto.url("denied");
    let wrong_secret = "wrongSecretKeyValue0123456789abcdefABCDEF";
    for (key, secret) in [
        (moto.access_key.as_str(), wrong_secret),
        ("AKIAUNKNOWNKEY000000", wrong_secret),
    ] {
        let mut env = moto.env();
        env.retain(|(k, _)| k != "AWS_ACCESS_KEY_ID" && k != "AWS_SECRET_ACCESS_KEY");
        env.push(("AWS_ACCESS_KEY_ID".into(), key.into()));
        env.push(("AWS_SECRET_ACCESS_KEY".into(), secret.into()));
        for argv in [
            strings(&[
                "--kubeconfig",
                &source.kubeconfig_path().display().to_string(),
                "create",
                "--s3",
                &url,
            ]),
            strings(&["list", "--s3", &url]),
        ] {
            let out = bin(argv.clone(), env.clone()).await;
            let text = explain(&argv, &out);
            assert_eq!(out.status.code(), Some(2), "{text}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.starts_with("error: "), "{text}");
            assert!(stderr.contains("s3://sealos-backups/denied/"), "{text}");
            assert!(stderr.contains("credentials were rejected"), "{text}");
            assert!(
                !text.contains(wrong_secret),
                "the secret key was printed: {text}"
            );
            assert!(
                !text.contains(&moto.secret_key),
                "the secret key was printed: {text}"
            );
        }
    }
    // Nothing was written under the prefix.
    let listed = json_of(&["list", "--s3", &url, "-o", "json"], moto.env()).await;
    assert_eq!(listed["backups"].as_array().unwrap().len(), 0, "{listed}");
}
