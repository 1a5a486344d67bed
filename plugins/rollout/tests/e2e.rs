//! The real binary, as a user runs it (and once through `kubectl sealos rollout`), against the
//! sandbox cluster; `plan` against a real Prometheus scraping an exporter the test controls.
#![allow(clippy::unwrap_used)]

mod support;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use sealos_sandbox::{Sandbox, SandboxOptions};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use support::{prometheus, slack};

const NS: &str = "sealos-system";
const BIN: &str = env!("CARGO_BIN_EXE_kubectl-sealos-rollout");

struct Output {
    command: String,
    code: i32,
    stdout: String,
    stderr: String,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "command: {}\nexit: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

impl Output {
    fn code(&self, code: i32) -> &Output {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{self}"))
    }
}

struct Env {
    sandbox: Sandbox,
    home: tempfile::TempDir,
}

impl Env {
    async fn start() -> Env {
        let sandbox = Sandbox::start(SandboxOptions {
            rollout: Duration::from_millis(200),
            ..SandboxOptions::scenario("sealos")
        })
        .await
        .unwrap();
        Env {
            sandbox,
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn audit(&self) -> PathBuf {
        self.home.path().join("audit.jsonl")
    }

    /// `program args...` with an isolated HOME, the sandbox's kubeconfig, no colour.
    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .env("HOME", self.home.path())
            .env("KUBECONFIG", self.sandbox.kubeconfig_path())
            .env("XDG_STATE_HOME", self.home.path().join("state"))
            .env("NO_COLOR", "1")
            .env_remove("SLACK_WEBHOOK_URL")
            .stdin(Stdio::null());
        command
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.output(self.command(Path::new(BIN), args), args).await
    }

    async fn output(&self, mut command: Command, args: &[&str]) -> Output {
        let out = command.output().await.unwrap();
        Output {
            command: args.join(" "),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn env_var(&self, name: &str, var: &str) -> String {
        let d = self
            .sandbox
            .object("apps", "deployments", NS, name)
            .unwrap();
        let containers = d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .clone();
        containers
            .iter()
            .flat_map(|c| c["env"].as_array().cloned().unwrap_or_default())
            .find(|e| e["name"] == var)
            .map(|e| e["value"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn status_set_and_history_through_the_binary() {
    let env = Env::start().await;
    let out = env.run(&["status", "-o", "json"]).await;
    out.code(0);
    let json = out.json();
    assert_eq!(json["namespace"], NS);
    assert_eq!(json["controllers"].as_array().unwrap().len(), 4, "{out}");

    let audit = env.audit();
    let audit = audit.to_str().unwrap();
    let out = env
        .run(&[
            "set",
            "terminal-controller",
            "webhook-controller",
            "100",
            "--reason",
            "cut over",
            "--audit-log",
            audit,
            "-o",
            "json",
        ])
        .await;
    out.code(0);
    let json = out.json();
    assert_eq!(json["action"], "set");
    assert_eq!(json["mode"], "istio");
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        assert_eq!(r["rollout"]["state"], "complete", "{out}");
        assert_eq!(r["after"]["percentage"], "100");
        assert_eq!(r["changed"], true);
    }
    assert_eq!(
        env.env_var("webhook-controller", "NETWORKING_MODE"),
        "istio"
    );

    let out = env
        .run(&["history", "webhook-controller", "-o", "json"])
        .await;
    out.code(0);
    let json = out.json();
    let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["current", "entries", "name", "namespace", "unreadable"]
    );
    let mut keys: Vec<_> = json["entries"][0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    keys.sort();
    assert_eq!(keys, ["action", "actor", "from", "reason", "time", "to"]);

    let out = env.run(&["history", "webhook-controller"]).await;
    out.code(0);
    assert!(out.stdout.contains("dual/25%"), "{out}");
    assert!(out.stdout.contains("istio/100%"), "{out}");
    assert!(out.stdout.contains("cut over"), "{out}");
    let lines = std::fs::read_to_string(env.audit()).unwrap();
    assert_eq!(lines.lines().count(), 2);
}

#[tokio::test]
async fn bad_input_exits_2_without_a_request() {
    let env = Env::start().await;
    let mark = env.sandbox.request_log().len();
    for args in [
        &["set", "terminal-controller", "150"][..],
        &["set", "terminal-controller", "-5"],
        &["set", "terminal-controller", "abc"],
        &["set", "--all", "101"],
        &["plan", "terminal-controller", "--steps", "10,200"],
    ] {
        let out = env.run(args).await;
        out.code(2);
        assert!(out.stderr.starts_with("error: "), "{out}");
        assert!(out.stdout.is_empty(), "{out}");
    }
    let out = env.run(&["set", "ghost-controller", "5"]).await;
    out.code(2);
    assert!(
        out.stderr
            .contains("unknown component \"ghost-controller\""),
        "{out}"
    );
    let log = env.sandbox.request_log().since(mark);
    // Only the unknown name was looked up; nothing was written.
    assert!(log.iter().all(|r| !r.is_write()), "{log:?}");
    assert!(
        log.iter()
            .all(|r| r.path.ends_with("/deployments/ghost-controller") || r.path == "/version"),
        "{log:?}"
    );
}

/// terminal-controller is seeded at 50%: a plan whose first step is 10% would lower it, so it is
/// refused (exit 2) after reading the controller and before any write, saying the whole path.
#[tokio::test]
async fn a_plan_that_would_lower_the_share_exits_2_before_any_write() {
    let env = Env::start().await;
    let before = env
        .sandbox
        .object("apps", "deployments", NS, "terminal-controller")
        .unwrap();
    let mark = env.sandbox.request_log().len();
    let audit = env.audit();
    let out = env
        .run(&[
            "plan",
            "terminal-controller",
            "--steps",
            "10,30",
            "--pause",
            "1s",
            "--prometheus-url",
            "http://127.0.0.1:9",
            "--audit-log",
            audit.to_str().unwrap(),
        ])
        .await;
    out.code(2);
    assert!(
        out.stderr.contains(
            "error: terminal-controller is at 50%: the plan 50% → 10% → 30% would first lower it to 10%"
        ),
        "{out}"
    );
    assert!(out.stderr.contains("--allow-decrease"), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    let log = env.sandbox.request_log().since(mark);
    assert!(!log.is_empty(), "it read the controller");
    assert!(log.iter().all(|r| !r.is_write()), "{log:?}");
    assert_eq!(
        env.sandbox
            .object("apps", "deployments", NS, "terminal-controller")
            .unwrap(),
        before
    );
    assert!(!audit.exists());

    // Steps that go down are refused before any request at all.
    let mark = env.sandbox.request_log().len();
    let out = env
        .run(&["plan", "terminal-controller", "--steps", "60,100,80"])
        .await;
    out.code(2);
    assert!(
        out.stderr
            .contains("lowers the Istio share from 100% to 80%: steps must increase"),
        "{out}"
    );
    let log = env.sandbox.request_log().since(mark);
    assert!(log.iter().all(|r| r.path == "/version"), "{log:?}");
}

#[tokio::test]
async fn dry_run_prints_before_and_after_and_a_failed_rollout_exits_1() {
    let env = Env::start().await;
    let mark = env.sandbox.request_log().len();
    let out = env.run(&["rollback", "--all", "--dry-run"]).await;
    out.code(0);
    assert!(out.stdout.contains("dry run: nothing was written"), "{out}");
    assert!(out.stdout.contains("istio/100%   ingress/0%"), "{out}");
    let log = env.sandbox.request_log().since(mark);
    assert!(log.iter().all(|r| !r.is_write()), "{log:?}");

    // A controller that never gets ready, with a short progress deadline.
    let patch = r#"{"metadata":{"annotations":{"sandbox.sealos.io/never-ready":"true"}},"spec":{"progressDeadlineSeconds":1}}"#;
    let kubectl = env.command(
        Path::new("kubectl"),
        &[
            "-n",
            NS,
            "patch",
            "deployment",
            "db-adminer-controller",
            "-p",
            patch,
        ],
    );
    env.output(kubectl, &["kubectl", "patch"]).await.code(0);
    let out = env.run(&["set", "db-adminer-controller", "50"]).await;
    out.code(1);
    assert!(
        out.stderr.contains(
            "rollout of deployment \"db-adminer-controller\" in \"sealos-system\" failed: deployment \"db-adminer-controller\" exceeded its progress deadline"
        ),
        "{out}"
    );
}

/// The directory of this test's binary, first on PATH, so `kubectl sealos rollout` finds it.
fn path_with_bin() -> std::ffi::OsString {
    let dir = Path::new(BIN).parent().unwrap().to_path_buf();
    let mut paths = vec![dir];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

#[tokio::test]
async fn kubectl_dispatches_to_the_plugin() {
    let env = Env::start().await;
    let args = [
        "sealos",
        "rollout",
        "set",
        "resources-controller",
        "10",
        "--reason",
        "via kubectl",
    ];
    let mut kubectl = env.command(Path::new("kubectl"), &args);
    kubectl.env("PATH", path_with_bin());
    let out = env.output(kubectl, &args).await;
    out.code(0);
    assert!(out.stdout.contains("ingress/0%"), "{out}");
    assert!(out.stdout.contains("dual/10%"), "{out}");
    assert_eq!(
        env.env_var("resources-controller", "ISTIO_PERCENTAGE"),
        "10"
    );
    // The default audit log under XDG_STATE_HOME.
    let audit = env.home.path().join("state/kubectl-sealos/audit.jsonl");
    assert!(
        std::fs::read_to_string(audit)
            .unwrap()
            .contains("via kubectl")
    );
}

/// Traffic for resources-controller: 100 requests a scrape; all of them fail once its Istio
/// share reaches 50% (the Istio path is broken), none before.
fn breaks_at_half(sandbox: &Sandbox) -> prometheus::Traffic {
    let cluster = sandbox.cluster().clone();
    Arc::new(move || {
        let key = sealos_sandbox::registry::ResKey::new("apps", "deployments");
        let percent = cluster
            .store
            .get(&key, NS, "resources-controller")
            .and_then(|d| {
                d["spec"]["template"]["spec"]["containers"]
                    .as_array()?
                    .iter()
                    .flat_map(|c| c["env"].as_array().cloned().unwrap_or_default())
                    .find(|e| e["name"] == "ISTIO_PERCENTAGE")
                    .and_then(|e| e["value"].as_str()?.parse::<u32>().ok())
            })
            .unwrap_or(0);
        (100, if percent >= 50 { 100 } else { 0 })
    })
}

fn plan_args<'a>(url: &'a str, steps: &'a str, audit: &'a str) -> Vec<&'a str> {
    vec![
        "plan",
        "resources-controller",
        "--steps",
        steps,
        "--pause",
        "4s",
        "--prometheus-url",
        url,
        "--audit-log",
        audit,
        "-o",
        "json",
    ]
}

#[tokio::test]
async fn plan_passes_then_breaches_and_rolls_back_to_the_last_good_step() {
    let env = Env::start().await;
    let port = prometheus::exporter(NS, "resources-controller", breaks_at_half(&env.sandbox)).await;
    let prom = prometheus::start(port).await;
    let audit = env.audit();
    let audit = audit.to_str().unwrap();

    // Steps below 50% carry clean traffic: the plan completes.
    let out = env.run(&plan_args(&prom.url, "10,25", audit)).await;
    out.code(0);
    let json = out.json();
    assert_eq!(json["result"], "completed", "{out}");
    let steps = json["step_reports"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    for s in steps {
        assert_eq!(s["rollout"]["state"], "complete");
        assert_eq!(s["traffic"]["verdict"], "ok", "{out}");
        assert!(s["traffic"]["overall"]["requests"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(
        env.env_var("resources-controller", "ISTIO_PERCENTAGE"),
        "25"
    );

    // At 60% every request fails: the step breaches and the controller goes back to 40%.
    let out = env.run(&plan_args(&prom.url, "40,60,100", audit)).await;
    out.code(1);
    let json = out.json();
    assert_eq!(json["result"], "rolled_back", "{out}");
    assert_eq!(json["rolled_back_to"]["percentage"], "40");
    assert_eq!(json["rolled_back_to"]["mode"], "dual");
    let steps = json["step_reports"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "the plan stopped at the breaching step");
    assert_eq!(steps[0]["traffic"]["verdict"], "ok");
    assert_eq!(steps[1]["traffic"]["verdict"], "alert");
    assert!(
        json["message"].as_str().unwrap().contains("5xx ratio"),
        "{out}"
    );
    assert_eq!(
        env.env_var("resources-controller", "ISTIO_PERCENTAGE"),
        "40"
    );
    assert_eq!(
        env.env_var("resources-controller", "NETWORKING_MODE"),
        "dual"
    );
    let out = env
        .run(&["history", "resources-controller", "-o", "json"])
        .await;
    let actions: Vec<String> = out.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["to"]["percentage"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        actions,
        ["plan 10", "plan 25", "plan 40", "plan 60", "rollback 40"]
    );
}

/// The default Prometheus path: no `--prometheus-url`, the plan's queries go through the API
/// server's `services/prometheus:9090/proxy` (the sandbox forwards it to the real server).
#[tokio::test]
async fn plan_passes_with_prometheus_through_the_service_proxy() {
    let env = Env::start().await;
    let port = prometheus::exporter(NS, "resources-controller", Arc::new(|| (100, 0))).await;
    let prom = prometheus::start(port).await;
    env.sandbox
        .modify("", "services", "monitoring", "prometheus", |svc| {
            svc["metadata"]["annotations"]["sandbox.sealos.io/upstream"] =
                Value::String(prom.url.clone());
        })
        .unwrap();
    let audit = env.audit();
    let mut args = plan_args("unused", "10,25", audit.to_str().unwrap());
    let at = args.iter().position(|a| *a == "--prometheus-url").unwrap();
    args.drain(at..at + 2);
    let mark = env.sandbox.request_log().len();
    let out = env.run(&args).await;
    out.code(0);
    let json = out.json();
    assert_eq!(json["result"], "completed", "{out}");
    let steps = json["step_reports"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    for s in steps {
        assert_eq!(s["traffic"]["verdict"], "ok", "{out}");
        assert!(s["traffic"]["overall"]["requests"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(
        env.env_var("resources-controller", "ISTIO_PERCENTAGE"),
        "25"
    );
    let proxied = env
        .sandbox
        .request_log()
        .since(mark)
        .into_iter()
        .filter(|r| {
            r.path == "/api/v1/namespaces/monitoring/services/prometheus:9090/proxy/api/v1/query"
        })
        .count();
    assert!(proxied >= 2, "one query per step at least, got {proxied}");
}

#[tokio::test]
async fn plan_with_no_data_rolls_back_to_where_it_started() {
    let env = Env::start().await;
    // Prometheus has traffic, but for another service: nothing to judge this controller by.
    let port = prometheus::exporter(NS, "some-other-service", Arc::new(|| (100, 0))).await;
    let prom = prometheus::start(port).await;
    let audit = env.audit();
    let audit = audit.to_str().unwrap();
    let out = env.run(&plan_args(&prom.url, "20,100", audit)).await;
    out.code(1);
    let json = out.json();
    assert_eq!(json["result"], "rolled_back", "{out}");
    assert_eq!(json["rolled_back_to"]["percentage"], "0");
    assert_eq!(json["rolled_back_to"]["mode"], "ingress");
    assert_eq!(
        json["step_reports"][0]["traffic"]["overall"]["findings"][0]["signal"],
        "no-data"
    );
    assert!(
        json["message"].as_str().unwrap().contains("no traffic"),
        "{out}"
    );
    assert_eq!(env.env_var("resources-controller", "ISTIO_PERCENTAGE"), "0");

    // With --on-no-data ok a quiet service does not stop the plan.
    let mut args = plan_args(&prom.url, "20", audit);
    args.extend(["--on-no-data", "ok"]);
    let out = env.run(&args).await;
    out.code(0);
    assert_eq!(
        env.env_var("resources-controller", "ISTIO_PERCENTAGE"),
        "20"
    );
}

#[tokio::test]
async fn ctrl_c_leaves_the_step_in_place_and_says_how_to_resume() {
    let env = Env::start().await;
    let audit = env.audit();
    let args = [
        "plan",
        "terminal-controller",
        "--steps",
        "60,100",
        "--pause",
        "10m",
        "--prometheus-url",
        "http://127.0.0.1:9",
        "--audit-log",
        audit.to_str().unwrap(),
    ];
    let mut command = env.command(Path::new(BIN), &args);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    // Wait for the pause of step 1, then interrupt.
    while let Some(line) = stderr.next_line().await.unwrap() {
        let pausing = line.contains("rolled out; judging its traffic");
        seen.push(line);
        if pausing {
            break;
        }
    }
    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    while let Some(line) = stderr.next_line().await.unwrap() {
        seen.push(line);
    }
    let status = child.wait().await.unwrap();
    let seen = seen.join("\n");
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(
        seen.contains("resume with: kubectl sealos rollout plan terminal-controller --steps 60,100 --pause 10m --from-step 1"),
        "{seen}"
    );
    assert_eq!(env.env_var("terminal-controller", "ISTIO_PERCENTAGE"), "60");
}

#[tokio::test]
async fn rollback_notifies_slack_without_showing_the_webhook() {
    let env = Env::start().await;
    let (url, mut bodies) = slack::receiver().await;
    let mut command = env.command(
        Path::new(BIN),
        &[
            "rollback",
            "terminal-controller",
            "db-adminer-controller",
            "--reason",
            "5xx \"spike\"",
        ],
    );
    command.env("SLACK_WEBHOOK_URL", &url);
    let out = env.output(command, &["rollback", "..."]).await;
    out.code(0);
    assert!(
        !out.stdout.contains("secret-token") && !out.stderr.contains("secret-token"),
        "{out}"
    );
    assert_eq!(
        env.env_var("terminal-controller", "NETWORKING_MODE"),
        "ingress"
    );
    assert_eq!(
        env.env_var("db-adminer-controller", "ISTIO_PERCENTAGE"),
        "0"
    );
    let body: Value = serde_json::from_str(&bodies.recv().await.unwrap()).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("terminal-controller (dual/50% → ingress/0%)"),
        "{text}"
    );
    assert!(
        text.contains("db-adminer-controller (istio/100% → ingress/0%)"),
        "{text}"
    );
    assert!(text.contains("reason: 5xx \"spike\""), "{text}");
}
