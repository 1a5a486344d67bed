//! End to end: the real `kubectl-sealos-cert` binary against the sandbox, with its own HOME and
//! kubeconfig, asserting exit codes, output, the JSON contract and the cluster afterwards.
#![allow(clippy::unwrap_used)]

#[path = "support/schema.rs"]
mod schema;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::*;

struct Output {
    command: String,
    code: i32,
    stdout: String,
    stderr: String,
}

impl Output {
    fn describe(&self) -> String {
        format!(
            "$ {}\nexit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

/// A HOME and XDG state dir of its own (the audit log lands there).
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn audit_log(&self) -> PathBuf {
        self.dir.path().join("state/kubectl-sealos/audit.jsonl")
    }

    /// Runs the binary off the async runtime, so the in-process sandbox keeps serving.
    async fn run(&self, kubeconfig: &Path, args: &[&str]) -> Output {
        let bin = env!("CARGO_BIN_EXE_kubectl-sealos-cert");
        let mut command = Command::new(bin);
        command
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .env_clear()
            .env("HOME", self.dir.path())
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        let line = format!(
            "kubectl-sealos-cert --kubeconfig {} {}",
            kubeconfig.display(),
            args.join(" ")
        );
        let out = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        Output {
            command: line,
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }
}

fn schema(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_1_on_the_seeded_cluster_and_its_json_keeps_the_contract() {
    let sandbox = sandbox().await;
    Crafter::new(&sandbox).await.all_cases().await;
    let home = Home::new();
    let kubeconfig = sandbox.kubeconfig_path();
    let mark = sandbox.request_log().len();

    let table = home.run(kubeconfig, &["check", "-A"]).await;
    assert_eq!(table.code, 1, "{}", table.describe());
    let lines: Vec<&str> = table.stdout.lines().collect();
    for column in [
        "NAMESPACE",
        "NAME",
        "READY",
        "ISSUER",
        "SECRET",
        "NOT AFTER",
        "DAYS",
        "RENEWAL",
        "VERDICT",
    ] {
        assert!(lines[0].contains(column), "{}", table.describe());
    }
    assert!(
        lines[1].starts_with("crafted") && lines[1].contains("expired-ready"),
        "{}",
        table.describe()
    );
    assert!(table.stdout.contains("terminal-test-tls") && table.stdout.contains("CRITICAL"));
    assert!(!table.stdout.contains('\u{1b}'), "no colour into a pipe");
    assert!(table.stderr.is_empty(), "{}", table.describe());

    // The same exit code with -o json, and the document matches the published schema.
    let json = home.run(kubeconfig, &["check", "-A", "-o", "json"]).await;
    assert_eq!(json.code, 1, "{}", json.describe());
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    let problems = schema::violations(&schema("check.schema.json"), &doc);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(doc["summary"]["total"], 19);

    let wide = home
        .run(kubeconfig, &["check", "-n", NS, "-o", "wide"])
        .await;
    assert!(
        wide.stdout.lines().next().unwrap().contains("FINDINGS"),
        "{}",
        wide.describe()
    );
    assert!(wide.stdout.contains("key_mismatch"));

    // Only healthy certificates: exit 0.
    let healthy = home
        .run(kubeconfig, &["check", "-n", "ns-bob", "-o", "yaml"])
        .await;
    assert_eq!(healthy.code, 0, "{}", healthy.describe());
    assert!(
        healthy.stdout.contains("verdict: ok"),
        "{}",
        healthy.describe()
    );
    assert!(
        sandbox
            .request_log()
            .since(mark)
            .iter()
            .all(|r| !r.is_write())
    );
}

/// 2,000 Certificates whose Secrets do not exist: the table fits --max-rows with the exact count
/// of the group; JSON lists every certificate and adds the counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_broken_certificates_fit_the_rows_with_exact_counts() {
    const MANY: usize = 2000;
    let sandbox = sandbox().await;
    sandbox
        .add_generated(&[("certificates".to_string(), MANY)])
        .unwrap();
    let home = Home::new();
    let kubeconfig = sandbox.kubeconfig_path();
    let table = home
        .run(kubeconfig, &["check", "-A", "--max-rows", "20"])
        .await;
    assert_eq!(table.code, 1, "{}", table.describe());
    assert!(table.stdout.lines().count() <= 20, "{}", table.describe());
    let count_row = table
        .stdout
        .lines()
        .find(|l| l.contains("secret_missing"))
        .unwrap_or_else(|| panic!("{}", table.describe()));
    assert!(
        count_row.trim_start().starts_with(&format!("{MANY} ")),
        "{}",
        table.describe()
    );
    assert!(
        table.stdout.contains("--all or -o wide shows every one"),
        "{}",
        table.describe()
    );

    let json = home.run(kubeconfig, &["check", "-A", "-o", "json"]).await;
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    let problems = schema::violations(&schema("check.schema.json"), &doc);
    assert!(problems.is_empty(), "{problems:#?}");
    let total = doc["items"].as_array().unwrap().len();
    assert!(total >= MANY, "{total}");
    assert_eq!(doc["summary"]["total"], total);
    let missing = doc["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "secret_missing")
        .unwrap();
    assert_eq!(missing["count"], MANY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_dry_run_lists_writes_nothing_and_audits_nothing() {
    let sandbox = sandbox().await;
    let home = Home::new();
    let kubeconfig = sandbox.kubeconfig_path();
    let mark = sandbox.request_log().len();
    let before = sandbox.objects("cert-manager.io", "certificates", None);

    let dry = home
        .run(
            kubeconfig,
            &["renew", "-A", "--expiring-within", "30d", "--dry-run"],
        )
        .await;
    assert_eq!(dry.code, 0, "{}", dry.describe());
    assert!(
        dry.stdout.lines().next().unwrap().starts_with("NAMESPACE"),
        "{}",
        dry.describe()
    );
    let listed: Vec<&str> = dry.stdout.lines().skip(1).collect();
    assert_eq!(listed.len(), 2, "{}", dry.describe());
    assert!(listed[0].contains("dbadmin-test-tls") && listed[0].contains("would renew"));
    assert!(listed[0].contains("backs off until"), "{}", dry.describe());
    assert!(listed[1].contains("terminal-test-tls") && listed[1].contains("would renew"));

    let json = home
        .run(
            kubeconfig,
            &["renew", "-A", "--all", "--dry-run", "-o", "json"],
        )
        .await;
    assert_eq!(json.code, 0, "{}", json.describe());
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    let problems = schema::violations(&schema("renew.schema.json"), &doc);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["items"].as_array().unwrap().len(), 8);

    let requests = sandbox.request_log().since(mark);
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| !r.is_write()), "{requests:#?}");
    assert_eq!(
        sandbox.objects("cert-manager.io", "certificates", None),
        before
    );
    assert!(!home.audit_log().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_for_real_is_audited_in_the_state_dir() {
    let sandbox = sandbox().await;
    let home = Home::new();
    let old = revision(&sandbox, "ns-alice", "terminal-test-tls");
    let mark = sandbox.request_log().len();
    let out = home
        .run(
            sandbox.kubeconfig_path(),
            &["renew", "terminal-test-tls", "-n", "ns-alice"],
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.describe());
    assert!(
        out.stdout.contains("renewal triggered"),
        "{}",
        out.describe()
    );
    assert_eq!(
        status_puts(&sandbox, mark),
        [("ns-alice/terminal-test-tls".to_string(), 200)]
    );
    // The sandbox's cert-manager took the trigger and re-issued.
    reissued(&sandbox, "ns-alice", "terminal-test-tls", old).await;
    let audit = std::fs::read_to_string(home.audit_log()).unwrap();
    let record: Value = serde_json::from_str(audit.lines().next().unwrap()).unwrap();
    assert_eq!(record["action"], "renew");
    assert_eq!(record["object"]["name"], "terminal-test-tls");
    assert!(!record["user"].as_str().unwrap().is_empty());
    assert!(!record["context"].as_str().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_2_before_any_request() {
    let sandbox = sandbox().await;
    let home = Home::new();
    let kubeconfig = sandbox.kubeconfig_path();
    let mark = sandbox.request_log().len();
    for (args, says) in [
        (
            &["check", "--warn-days", "5", "--crit-days", "10"][..],
            "must not exceed --warn-days",
        ),
        (&["renew"][..], "name the certificates to renew"),
        (&["renew", "a", "--all"][..], "not both"),
        (&["renew", "a", "-A"][..], "across all namespaces"),
        (
            &["renew", "--all", "--expiring-within", "soon"][..],
            "invalid",
        ),
        (&["inspect", "a", "-A"][..], "not -A"),
    ] {
        let out = home.run(kubeconfig, args).await;
        assert_eq!(out.code, 2, "{}", out.describe());
        assert!(out.stderr.contains(says), "{}", out.describe());
    }
    assert!(sandbox.request_log().since(mark).is_empty());

    let help = home.run(kubeconfig, &["--help"]).await;
    assert_eq!(help.code, 0);
    for command in ["check", "renew", "inspect", "backup", "completion"] {
        assert!(help.stdout.contains(command), "{}", help.describe());
    }
    let missing = home
        .run(kubeconfig, &["inspect", "no-such-cert", "-n", "ns-alice"])
        .await;
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("get certificate \"no-such-cert\" in \"ns-alice\""),
        "{}",
        missing.describe()
    );
}
