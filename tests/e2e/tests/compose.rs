//! The suite composed with the real kubectl: kubectl's own output piped into `-f -`, a wrong
//! kind refused before any write, and `--as` acting as another user.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use sealos_e2e::{Output, plugin_bin, run};
use sealos_sandbox::{Sandbox, SandboxOptions};
use serde_json::Value;

/// A command with an isolated HOME and the sandbox's kubeconfig.
fn command(program: &Path, home: &Path, sandbox: &Sandbox) -> Command {
    let mut command = Command::new(program);
    command
        .env("HOME", home)
        .env("KUBECONFIG", sandbox.kubeconfig_path())
        .env("NO_COLOR", "1");
    command
}

fn kubectl(home: &Path, sandbox: &Sandbox, args: &[&str]) -> Output {
    let out = run(command(Path::new("kubectl"), home, sandbox).args(args));
    out.expect_code(0);
    out
}

/// `plugin ARGS` with `input` on stdin: what `kubectl ... | kubectl sealos <plugin> ARGS` does.
fn piped(home: &Path, sandbox: &Sandbox, plugin: &str, args: &[&str], input: &str) -> Output {
    let mut cmd = command(&plugin_bin(plugin), home, sandbox);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let text = format!(
        "kubectl-sealos-{plugin} {} < (kubectl output)",
        args.join(" ")
    );
    let mut child = cmd.spawn().unwrap();
    // The plugin may refuse before reading it all: a closed pipe is its answer, not ours.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    let out = child.wait_with_output().unwrap();
    Output {
        command: text,
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"))
}

fn writes_since(sandbox: &Sandbox, mark: usize) -> Vec<String> {
    sandbox
        .request_log()
        .since(mark)
        .iter()
        .filter(|r| r.is_write() && !r.is_dry_run())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_output_is_input() {
    sealos_e2e::bin_dir();
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let home = home.path();

    // `kubectl get certificates -n ns-alice -o name | kubectl sealos cert renew -f - --dry-run`
    let names = kubectl(
        home,
        &sandbox,
        &["get", "certificates", "-n", "ns-alice", "-o", "name"],
    );
    let mut expected: Vec<String> = names
        .stdout
        .lines()
        .map(|l| {
            l.trim_start_matches("certificate.cert-manager.io/")
                .to_string()
        })
        .collect();
    expected.sort();
    assert!(!expected.is_empty(), "{names}");
    let mark = sandbox.request_log().len();
    let args = [
        "renew",
        "-f",
        "-",
        "--dry-run",
        "-n",
        "ns-alice",
        "-o",
        "json",
    ];
    let renew = piped(home, &sandbox, "cert", &args, &names.stdout);
    renew.expect_code(0);
    let planned: Vec<String> = json(&renew)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(planned, expected, "{renew}");
    assert!(writes_since(&sandbox, mark).is_empty(), "a dry run wrote");

    // `-o json` says the namespace itself: no -n needed.
    let list = kubectl(
        home,
        &sandbox,
        &["get", "certificates", "-n", "ns-alice", "-o", "json"],
    );
    let args = ["renew", "-f", "-", "--dry-run", "-o", "json"];
    let renew = piped(home, &sandbox, "cert", &args, &list.stdout);
    renew.expect_code(0);
    let report = json(&renew);
    let items = report["items"].as_array().unwrap();
    assert_eq!(items.len(), expected.len(), "{renew}");
    assert!(
        items.iter().all(|i| i["namespace"] == "ns-alice"),
        "{renew}"
    );

    // `kubectl get deploy -n sealos-system -o json | kubectl sealos rollout status -f -`
    let deploys = kubectl(
        home,
        &sandbox,
        &["get", "deploy", "-n", "sealos-system", "-o", "json"],
    );
    let mut expected: Vec<String> = json(&deploys)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    let status = piped(
        home,
        &sandbox,
        "rollout",
        &["status", "-f", "-", "-o", "json"],
        &deploys.stdout,
    );
    let mut reported: Vec<String> = json(&status)["controllers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    reported.sort();
    assert_eq!(reported, expected, "{status}");
    // And as YAML, several documents' worth in one List.
    let yaml = kubectl(
        home,
        &sandbox,
        &["get", "deploy", "-n", "sealos-system", "-o", "yaml"],
    );
    let status = piped(
        home,
        &sandbox,
        "rollout",
        &["status", "-f", "-", "-o", "json"],
        &yaml.stdout,
    );
    assert_eq!(
        json(&status)["controllers"].as_array().unwrap().len(),
        expected.len(),
        "{status}"
    );

    // A ConfigMap in the stream: refused by kind and name, exit 2, nothing written.
    let mixed = kubectl(
        home,
        &sandbox,
        &[
            "get",
            "configmaps,certificates",
            "-n",
            "sealos-system",
            "-o",
            "name",
        ],
    );
    assert!(mixed.stdout.contains("configmap/"), "{mixed}");
    let mark = sandbox.request_log().len();
    let refused = piped(
        home,
        &sandbox,
        "cert",
        &["renew", "-f", "-", "-n", "sealos-system"],
        &mixed.stdout,
    );
    refused
        .expect_code(2)
        .expect_stderr_contains("error: configmap/")
        .expect_stderr_contains("a ConfigMap, and this command takes Certificates");
    assert!(
        sandbox.request_log().since(mark).is_empty(),
        "refused after sending requests"
    );
    let refused = piped(
        home,
        &sandbox,
        "rollout",
        &["set", "-f", "-", "50"],
        &mixed.stdout,
    );
    refused
        .expect_code(2)
        .expect_stderr_contains("a ConfigMap, and this command takes Deployments");
    // TYPE/NAME on the command line, as kubectl prints it.
    let history = run(command(&plugin_bin("rollout"), home, &sandbox).args([
        "history",
        "deployment.apps/terminal-controller",
        "-o",
        "json",
    ]));
    history.expect_code(0);
    run(command(&plugin_bin("rollout"), home, &sandbox).args(["history", "configmap/x"]))
        .expect_code(2)
        .expect_stderr_contains("configmap/x: a ConfigMap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_acts_as_that_user_and_its_refusal_names_it() {
    sealos_e2e::bin_dir();
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let user = "system:serviceaccount:ns-alice:nobody";
    let mark = sandbox.request_log().len();
    let out =
        run(command(&plugin_bin("rollout"), home.path(), &sandbox).args(["status", "--as", user]));
    out.expect_code(2)
        .expect_stderr_contains(&format!(
            "User \"{user}\" cannot list resource \"deployments\""
        ))
        .expect_stderr_contains(&format!("hint: \"{user}\" (--as) lacks a permission"));
    let requests = sandbox.request_log().since(mark);
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|r| r.user == user && r.impersonator.is_some()),
        "{requests:#?}"
    );
    // A token on the command line is never echoed, even in -v's cause chain.
    let out = run(
        command(&plugin_bin("rollout"), home.path(), &sandbox).args([
            "status",
            "-v",
            "--token",
            "tok-do-not-print",
        ]),
    );
    out.expect_code(2);
    assert!(
        !out.stderr.contains("tok-do-not-print") && !out.stdout.contains("tok-do-not-print"),
        "{out}"
    );
}
