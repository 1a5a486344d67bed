//! `run`-level tests of status, set, rollback and history against the sandbox cluster, asserting
//! the reports, the objects afterwards and the requests made.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kubectl_sealos_rollout::MutationFlags;
use kubectl_sealos_rollout::select::Selection;
use kubectl_sealos_rollout::shift::{ShiftReport, execute, execute_with};
use kubectl_sealos_rollout::status::{StatusArgs, collect};
use sealos_sandbox::registry::ResKey;
use sealos_sandbox::{Sandbox, SandboxOptions};
use sealos_shared::Exit;
use sealos_shared::audit::AuditLog;
use sealos_shared::connection::{Kube, KubeFlags};
use sealos_shared::traffic_shift::{
    Current, HISTORY_ANNOTATION, History, Observer, Outcome, Percent,
};
use serde_json::{Value, json};

const NS: &str = "sealos-system";

struct Fixture {
    sandbox: Sandbox,
    kube: Kube,
    dir: tempfile::TempDir,
}

impl Fixture {
    async fn start() -> Fixture {
        let sandbox = Sandbox::start(SandboxOptions {
            rollout: Duration::from_millis(200),
            ..SandboxOptions::scenario("sealos")
        })
        .await
        .unwrap();
        let kube = KubeFlags {
            kubeconfig: Some(sandbox.kubeconfig_path().to_path_buf()),
            ..KubeFlags::default()
        }
        .connect()
        .await
        .unwrap();
        Fixture {
            sandbox,
            kube,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The sandbox's client, as the dispatcher would hand it to a command.
    fn kube(&self) -> &Kube {
        &self.kube
    }

    fn audit_path(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    fn flags(&self) -> MutationFlags {
        MutationFlags {
            reason: None,
            dry_run: false,
            timeout: Duration::from_secs(60),
            no_wait: false,
            audit_log: Some(self.audit_path()),
            container: None,
        }
    }

    fn deployment(&self, name: &str) -> Value {
        self.sandbox
            .object("apps", "deployments", NS, name)
            .unwrap()
    }

    fn env(&self, name: &str, var: &str) -> Option<String> {
        let d = self.deployment(name);
        d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "manager")
            .and_then(|c| {
                c["env"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["name"] == var)
            })
            .map(|e| e["value"].as_str().unwrap().to_string())
    }

    fn writes_since(&self, mark: usize) -> Vec<String> {
        self.sandbox
            .request_log()
            .since(mark)
            .into_iter()
            .filter(|r| r.is_write())
            .map(|r| format!("{} {} {}", r.method, r.path, r.status))
            .collect()
    }

    fn events(&self, name: &str, reason: &str) -> Vec<Value> {
        self.sandbox
            .objects("", "events", Some(NS))
            .into_iter()
            .filter(|e| e["involvedObject"]["name"] == name && e["reason"] == reason)
            .collect()
    }

    async fn set(&self, names: &[&str], percent: u8, reason: Option<&str>) -> ShiftReport {
        let mut flags = self.flags();
        flags.reason = reason.map(str::to_string);
        let selection = if names.is_empty() {
            Selection::All
        } else {
            Selection::Named(names.iter().map(|s| s.to_string()).collect())
        };
        execute(
            self.kube(),
            "set",
            selection,
            Percent::new(percent).unwrap(),
            &flags,
        )
        .await
        .unwrap()
    }
}

/// The field names of a JSON object, sorted.
fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

/// The Deployment without what the server and the deployment controller change on any write.
fn comparable(mut d: Value) -> Value {
    d.as_object_mut().unwrap().remove("status");
    let meta = d["metadata"].as_object_mut().unwrap();
    for field in ["resourceVersion", "generation", "managedFields"] {
        meta.remove(field);
    }
    if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
        a.remove("deployment.kubernetes.io/revision");
    }
    d
}

#[tokio::test]
async fn status_reports_the_seeded_controllers() {
    let f = Fixture::start().await;
    let report = collect(
        f.kube(),
        &StatusArgs {
            components: vec![],
            container: None,
            filename: Default::default(),
            output: Default::default(),
        },
    )
    .await
    .unwrap();
    let rows: Vec<_> = report
        .controllers
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.container.as_deref().unwrap(),
                c.mode.as_deref().unwrap(),
                c.percentage.as_deref().unwrap(),
                c.ready,
                c.desired,
                c.rollout.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "db-adminer-controller",
                "manager",
                "istio",
                "100",
                1,
                1,
                "rolled-out"
            ),
            (
                "resources-controller",
                "manager",
                "ingress",
                "0",
                1,
                1,
                "rolled-out"
            ),
            (
                "terminal-controller",
                "manager",
                "dual",
                "50",
                2,
                2,
                "rolled-out"
            ),
            (
                "webhook-controller",
                "manager",
                "dual",
                "25",
                1,
                1,
                "rolled-out"
            ),
        ]
    );
    assert!(report.controllers.iter().all(|c| c.warnings.is_empty()));
    assert!(report.missing.is_empty());
    // The JSON contract: exactly the documented fields (README, Rollout section).
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(keys(&json), ["controllers", "missing", "namespace"]);
    assert_eq!(
        keys(&json["controllers"][0]),
        [
            "container",
            "desired",
            "generation",
            "last_change",
            "mode",
            "name",
            "observed_generation",
            "percentage",
            "ready",
            "rollout",
            "rollout_detail",
            "warnings",
        ]
    );
}

#[tokio::test]
async fn status_warns_when_the_vars_disagree_or_are_missing() {
    let f = Fixture::start().await;
    let key = ResKey::new("apps", "deployments");
    f.sandbox
        .store()
        .update_with(&key, NS, "webhook-controller", |cur| {
            let mut next = cur.clone();
            let containers = next["spec"]["template"]["spec"]["containers"]
                .as_array_mut()
                .unwrap();
            let manager = containers
                .iter_mut()
                .find(|c| c["name"] == "manager")
                .unwrap();
            let env = manager["env"].as_array_mut().unwrap();
            env.retain(|e| e["name"] != "ISTIO_PERCENTAGE");
            for e in env.iter_mut() {
                if e["name"] == "NETWORKING_MODE" {
                    e["value"] = json!("istio");
                }
            }
            Ok(next)
        })
        .unwrap();
    let report = collect(
        f.kube(),
        &StatusArgs {
            components: vec!["webhook-controller".into()],
            container: None,
            filename: Default::default(),
            output: Default::default(),
        },
    )
    .await
    .unwrap();
    assert_eq!(report.controllers.len(), 1);
    let w = &report.controllers[0].warnings;
    assert!(
        w.iter()
            .any(|w| w.starts_with("ISTIO_PERCENTAGE is not set")),
        "{w:?}"
    );
    let err = collect(
        f.kube(),
        &StatusArgs {
            components: vec!["no-such-controller".into()],
            container: None,
            filename: Default::default(),
            output: Default::default(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.exit(), Exit::Failure);
    assert!(err.to_string().contains("unknown component"), "{err}");
}

#[tokio::test]
async fn set_changes_only_the_two_vars_and_the_history() {
    let f = Fixture::start().await;
    // db-adminer-controller has its sidecar first: containers[0] is not the one to patch.
    let before = f.deployment("db-adminer-controller");
    let report = f
        .set(&["db-adminer-controller"], 30, Some("canary \"one\""))
        .await;
    assert_eq!(report.exit(), Exit::Ok);
    let r = &report.results[0];
    assert_eq!(r.container, "manager");
    assert_eq!(r.before.percentage.as_deref(), Some("100"));
    assert_eq!(r.after.mode.as_deref(), Some("dual"));
    assert!(r.changed);
    assert_eq!(r.rollout, Some(Outcome::Complete));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        keys(&json),
        [
            "action",
            "dry_run",
            "mode",
            "namespace",
            "percentage",
            "reason",
            "results"
        ]
    );
    assert_eq!(
        keys(&json["results"][0]),
        [
            "after",
            "before",
            "changed",
            "conflicts",
            "container",
            "error",
            "name",
            "rollout",
            "warnings"
        ]
    );
    assert_eq!(json["results"][0]["rollout"], json!({"state": "complete"}));
    assert_eq!(keys(&json["results"][0]["before"]), ["mode", "percentage"]);
    let after = f.deployment("db-adminer-controller");

    // Expected: the old object with exactly the two values changed and the history added.
    let mut expected = comparable(before.clone());
    let manager = expected["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["name"] == "manager")
        .unwrap();
    for e in manager["env"].as_array_mut().unwrap() {
        match e["name"].as_str().unwrap() {
            "NETWORKING_MODE" => e["value"] = json!("dual"),
            "ISTIO_PERCENTAGE" => e["value"] = json!("30"),
            _ => {}
        }
    }
    let history = after["metadata"]["annotations"][HISTORY_ANNOTATION].clone();
    expected["metadata"]["annotations"][HISTORY_ANNOTATION] = history.clone();
    assert_eq!(comparable(after.clone()), expected);
    assert_eq!(
        before["spec"]["template"]["spec"]["containers"][0]["name"],
        "istio-proxy"
    );
    assert!(after["metadata"]["generation"].as_i64() > before["metadata"]["generation"].as_i64());

    let entries: Vec<Value> = serde_json::from_str(history.as_str().unwrap()).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["reason"], "canary \"one\"");
    assert_eq!(
        entries[0]["from"],
        json!({"mode": "istio", "percentage": "100"})
    );
    assert_eq!(
        entries[0]["to"],
        json!({"mode": "dual", "percentage": "30"})
    );

    // Audited, and an Event on the Deployment.
    let records = AuditLog::new(Some(&f.audit_path()))
        .unwrap()
        .read_all()
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].action, "set");
    assert_eq!(records[0].object.name, "db-adminer-controller");
    assert_eq!(records[0].after["percentage"], "30");
    assert_eq!(records[0].outcome, "ok");
    let events = f.events("db-adminer-controller", "TrafficShifted");
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0]["message"].as_str().unwrap().contains("canary"),
        "{}",
        events[0]
    );
    assert_eq!(events[0]["involvedObject"]["kind"], "Deployment");
}

#[tokio::test]
async fn set_on_several_and_on_all() {
    let f = Fixture::start().await;
    let report = f
        .set(&["terminal-controller", "webhook-controller"], 100, None)
        .await;
    assert_eq!(report.exit(), Exit::Ok);
    assert_eq!(report.results.len(), 2);
    for name in ["terminal-controller", "webhook-controller"] {
        assert_eq!(f.env(name, "NETWORKING_MODE").as_deref(), Some("istio"));
        assert_eq!(f.env(name, "ISTIO_PERCENTAGE").as_deref(), Some("100"));
    }
    assert_eq!(
        f.env("resources-controller", "ISTIO_PERCENTAGE").as_deref(),
        Some("0")
    );

    let report = f.set(&[], 25, Some("all to a quarter")).await;
    assert_eq!(report.exit(), Exit::Ok);
    let names: Vec<_> = report.results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "db-adminer-controller",
            "resources-controller",
            "terminal-controller",
            "webhook-controller"
        ]
    );
    for name in names {
        assert_eq!(
            f.env(name, "ISTIO_PERCENTAGE").as_deref(),
            Some("25"),
            "{name}"
        );
        assert_eq!(
            f.env(name, "NETWORKING_MODE").as_deref(),
            Some("dual"),
            "{name}"
        );
    }
    // Setting what is already there writes nothing.
    let mark = f.sandbox.request_log().len();
    let report = f.set(&["webhook-controller"], 25, None).await;
    assert!(!report.results[0].changed);
    assert_eq!(f.writes_since(mark), Vec::<String>::new());
}

#[tokio::test]
async fn bad_input_is_refused_before_any_request_and_unknown_names_before_any_write() {
    let f = Fixture::start().await;
    let mark = f.sandbox.request_log().len();
    for (args, message) in [
        (
            vec!["set", "terminal-controller", "150"],
            "invalid percentage \"150\"",
        ),
        (
            vec!["set", "terminal-controller", "-5"],
            "invalid percentage \"-5\"",
        ),
        (
            vec!["set", "terminal-controller", "abc"],
            "invalid percentage \"abc\"",
        ),
        (vec!["set", "Not_A_Name", "5"], "unknown component"),
        (vec!["set", "--all", "terminal-controller", "5"], "not both"),
    ] {
        let mut argv = vec!["kubectl-sealos-rollout"];
        argv.extend(&args);
        let kubeconfig = f.sandbox.kubeconfig_path().to_str().unwrap().to_string();
        argv.extend(["--kubeconfig", &kubeconfig]);
        let parsed = <kubectl_sealos_rollout::Args as clap::Parser>::try_parse_from(&argv).unwrap();
        let err = kubectl_sealos_rollout::run(parsed).await.unwrap_err();
        assert_eq!(err.exit(), Exit::Failure, "{args:?}");
        assert!(err.to_string().contains(message), "{args:?}: {err}");
    }
    assert_eq!(f.sandbox.request_log().len(), mark, "no request at all");

    // A well-formed name that is not there: reads only, and the known one is left alone.
    let err = execute(
        f.kube(),
        "set",
        Selection::Named(vec![
            "terminal-controller".into(),
            "ghost-controller".into(),
        ]),
        Percent::new(5).unwrap(),
        &f.flags(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.exit(), Exit::Failure);
    assert!(
        err.to_string()
            .contains("unknown component \"ghost-controller\""),
        "{err}"
    );
    assert_eq!(f.writes_since(mark), Vec::<String>::new());
    assert_eq!(
        f.env("terminal-controller", "ISTIO_PERCENTAGE").as_deref(),
        Some("50")
    );
    assert!(!f.audit_path().exists());
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let f = Fixture::start().await;
    let before = f.deployment("terminal-controller");
    let mark = f.sandbox.request_log().len();
    let mut flags = f.flags();
    flags.dry_run = true;
    let report = execute(f.kube(), "set", Selection::All, Percent::FULL, &flags)
        .await
        .unwrap();
    assert!(report.dry_run);
    assert_eq!(report.results.len(), 4);
    let terminal = report
        .results
        .iter()
        .find(|r| r.name == "terminal-controller")
        .unwrap();
    assert_eq!(terminal.before.describe(), "dual/50%");
    assert_eq!(terminal.after.describe(), "istio/100%");
    assert!(!terminal.changed);
    let log = f.sandbox.request_log().since(mark);
    assert!(!log.is_empty());
    assert!(log.iter().all(|r| !r.is_write()), "{log:?}");
    assert_eq!(f.deployment("terminal-controller"), before);
    assert!(!f.audit_path().exists());
}

#[tokio::test]
async fn a_never_ready_controller_fails_with_the_progress_deadline() {
    let f = Fixture::start().await;
    let key = ResKey::new("apps", "deployments");
    f.sandbox
        .store()
        .update_with(&key, NS, "resources-controller", |cur| {
            let mut next = cur.clone();
            next["metadata"]["annotations"]["sandbox.sealos.io/never-ready"] = json!("true");
            next["spec"]["progressDeadlineSeconds"] = json!(1);
            Ok(next)
        })
        .unwrap();
    let report = f
        .set(&["resources-controller", "webhook-controller"], 10, None)
        .await;
    assert_eq!(report.exit(), Exit::Problem);
    let failed = report
        .results
        .iter()
        .find(|r| r.name == "resources-controller")
        .unwrap();
    match &failed.rollout {
        Some(Outcome::Failed(why)) => assert!(
            why.contains("\"resources-controller\" exceeded its progress deadline"),
            "{why}"
        ),
        other => panic!("expected a failed rollout, got {other:?}"),
    }
    let healthy = report
        .results
        .iter()
        .find(|r| r.name == "webhook-controller")
        .unwrap();
    assert_eq!(healthy.rollout, Some(Outcome::Complete));
}

#[tokio::test]
async fn a_short_timeout_ends_in_a_timed_out_rollout() {
    let f = Fixture::start().await;
    let key = ResKey::new("apps", "deployments");
    f.sandbox
        .store()
        .update_with(&key, NS, "terminal-controller", |cur| {
            let mut next = cur.clone();
            next["metadata"]["annotations"]["sandbox.sealos.io/never-ready"] = json!("true");
            Ok(next)
        })
        .unwrap();
    let mut flags = f.flags();
    flags.timeout = Duration::from_millis(1500);
    let report = execute(
        f.kube(),
        "set",
        Selection::Named(vec!["terminal-controller".into()]),
        Percent::new(60).unwrap(),
        &flags,
    )
    .await
    .unwrap();
    assert_eq!(report.exit(), Exit::Problem);
    match &report.results[0].rollout {
        Some(Outcome::TimedOut(why)) => assert!(why.starts_with("timed out after"), "{why}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

/// Between our read and our write, another client changes the same container's LOG_LEVEL.
struct ConcurrentWriter<'a> {
    sandbox: &'a Sandbox,
    done: AtomicBool,
}

impl Observer for ConcurrentWriter<'_> {
    fn read(&self, _attempt: u32, current: &Current) {
        if self.done.swap(true, Ordering::SeqCst) {
            return;
        }
        let key = ResKey::new("apps", "deployments");
        self.sandbox
            .store()
            .update_with(&key, NS, current.name(), |cur| {
                let mut next = cur.clone();
                for c in next["spec"]["template"]["spec"]["containers"]
                    .as_array_mut()
                    .unwrap()
                {
                    if c["name"] == "manager" {
                        for e in c["env"].as_array_mut().unwrap() {
                            if e["name"] == "LOG_LEVEL" {
                                e["value"] = json!("debug");
                            }
                        }
                    }
                }
                Ok(next)
            })
            .unwrap();
    }
}

#[tokio::test]
async fn a_conflict_is_retried_on_a_fresh_read_and_keeps_the_other_write() {
    let f = Fixture::start().await;
    let mark = f.sandbox.request_log().len();
    let observer = ConcurrentWriter {
        sandbox: &f.sandbox,
        done: AtomicBool::new(false),
    };
    let report = execute_with(
        f.kube(),
        "set",
        Selection::Named(vec!["terminal-controller".into()]),
        Percent::new(80).unwrap(),
        &f.flags(),
        &observer,
    )
    .await
    .unwrap();
    assert_eq!(report.exit(), Exit::Ok);
    assert_eq!(report.results[0].conflicts, 1);
    let patches: Vec<(u16, String)> = f
        .sandbox
        .request_log()
        .since(mark)
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| (r.status, r.content_type))
        .collect();
    let strategic = "application/strategic-merge-patch+json".to_string();
    assert_eq!(patches, [(409, strategic.clone()), (200, strategic)]);
    assert_eq!(
        f.env("terminal-controller", "ISTIO_PERCENTAGE").as_deref(),
        Some("80")
    );
    assert_eq!(
        f.env("terminal-controller", "LOG_LEVEL").as_deref(),
        Some("debug")
    );
    let history =
        History::of(&serde_json::from_value(f.deployment("terminal-controller")).unwrap());
    assert_eq!(history.entries.len(), 1);
}

#[tokio::test]
async fn rollback_and_history_across_several_changes() {
    let f = Fixture::start().await;
    f.set(&["terminal-controller"], 75, Some("more")).await;
    f.set(&["terminal-controller"], 100, Some("all in")).await;
    let mut flags = f.flags();
    flags.reason = Some("5xx spike".into());
    let report = execute(
        f.kube(),
        "rollback",
        Selection::Named(vec!["terminal-controller".into()]),
        Percent::ZERO,
        &flags,
    )
    .await
    .unwrap();
    assert_eq!(report.exit(), Exit::Ok);
    assert_eq!(report.results[0].before.describe(), "istio/100%");
    assert_eq!(report.results[0].after.describe(), "ingress/0%");
    assert_eq!(
        f.env("terminal-controller", "NETWORKING_MODE").as_deref(),
        Some("ingress")
    );
    assert_eq!(
        f.env("terminal-controller", "ISTIO_PERCENTAGE").as_deref(),
        Some("0")
    );
    assert_eq!(
        f.events("terminal-controller", "TrafficRolledBack").len(),
        1
    );

    let history =
        History::of(&serde_json::from_value(f.deployment("terminal-controller")).unwrap());
    let steps: Vec<_> = history
        .entries
        .iter()
        .map(|e| {
            (
                e.action.as_str(),
                e.from.describe(),
                e.to.describe(),
                e.reason.as_deref().unwrap_or(""),
                e.actor.as_str(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            (
                "set",
                "dual/50%".into(),
                "dual/75%".into(),
                "more",
                "sandbox"
            ),
            (
                "set",
                "dual/75%".into(),
                "istio/100%".into(),
                "all in",
                "sandbox"
            ),
            (
                "rollback",
                "istio/100%".into(),
                "ingress/0%".into(),
                "5xx spike",
                "sandbox"
            ),
        ]
    );
    let records = AuditLog::new(Some(&f.audit_path()))
        .unwrap()
        .read_all()
        .unwrap();
    let actions: Vec<_> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["set", "set", "rollback"]);
}
