//! The sandbox's kubelet running pods as local processes: lifecycle, restarts, logs, signals,
//! environment and service-account files, and nothing left behind at shutdown.
#![allow(clippy::unwrap_used)]

mod common;

use common::workloads::{self, IMAGE};
use common::{Kubectl, wait_for};
use sealos_sandbox::kubelet::Isolation;
use serde_json::{Value, json};
use std::time::Duration;

fn pod(name: &str, restart: &str, command: &str, env: Value) -> String {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
        "spec": {"restartPolicy": restart, "terminationGracePeriodSeconds": 5,
            "containers": [{"name": "c", "image": IMAGE, "command": [command], "env": env}]}})
    .to_string()
}

fn container(p: &Value) -> &Value {
    &p["status"]["containerStatuses"][0]
}

/// The pid a pod's process printed (`... pid=N`).
async fn pid_of(k: &Kubectl, pod: &str) -> u32 {
    for _ in 0..500 {
        let out = k.run(&["logs", pod]).await;
        if let Some(pid) = workloads::number_after(&out.stdout, "pid=") {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("pod {pod} printed no pid");
}

#[tokio::test]
async fn deleting_a_deployment_pod_restarts_the_process() {
    let dir = workloads::image_dir();
    let sb = workloads::sandbox(dir.path(), 1.0).await;
    let k = Kubectl::new(&sb);
    k.ok(&[
        "create",
        "deployment",
        "web",
        &format!("--image={IMAGE}"),
        "--",
        "serve",
    ])
    .await;
    let first = wait_for("a running pod", || {
        sb.objects("", "pods", Some("default"))
            .into_iter()
            .find(|p| p["status"]["phase"] == "Running" && container(p)["ready"] == true)
    })
    .await;
    let first_name = first["metadata"]["name"].as_str().unwrap().to_string();
    let old_pid = pid_of(&k, &first_name).await;
    assert!(!workloads::gone(old_pid));
    k.ok(&["delete", "pod", &first_name]).await;
    let second = wait_for("a new running pod", || {
        sb.objects("", "pods", Some("default"))
            .into_iter()
            .find(|p| {
                p["metadata"]["name"] != first_name.as_str() && p["status"]["phase"] == "Running"
            })
    })
    .await;
    let new_pid = pid_of(&k, second["metadata"]["name"].as_str().unwrap()).await;
    assert_ne!(old_pid, new_pid);
    wait_for("the deleted pod's process to end", || {
        workloads::gone(old_pid).then_some(())
    })
    .await;
    assert!(!workloads::gone(new_pid));
    sb.shutdown().await;
    assert!(workloads::gone(new_pid), "shutdown kills the process");
}

#[tokio::test]
async fn a_crashing_container_backs_off() {
    let dir = workloads::image_dir();
    let sb = workloads::sandbox(dir.path(), 1.0).await;
    let k = Kubectl::new(&sb);
    k.ok_stdin(
        &["apply", "-f", "-"],
        &pod("crasher", "Always", "crash", json!([])),
    )
    .await;
    // The first restart is immediate; the second crash waits 10 s in CrashLoopBackOff.
    let p = wait_for("CrashLoopBackOff", || {
        sb.object("", "pods", "default", "crasher")
            .filter(|p| container(p)["state"]["waiting"]["reason"] == "CrashLoopBackOff")
    })
    .await;
    let c = container(&p);
    assert_eq!(c["restartCount"], 1, "{p}");
    assert_eq!(c["lastState"]["terminated"]["exitCode"], 1);
    assert_eq!(c["lastState"]["terminated"]["reason"], "Error");
    assert!(
        c["state"]["waiting"]["message"]
            .as_str()
            .unwrap()
            .starts_with("back-off 10s restarting failed container=c pod=crasher_default("),
        "{c}"
    );
    assert_eq!(p["status"]["phase"], "Running");
    let table = k.ok(&["get", "pod", "crasher"]).await;
    assert!(table.contains("CrashLoopBackOff"), "{table}");
    let previous = k.ok(&["logs", "crasher", "--previous"]).await;
    assert!(previous.contains("crash pid="), "{previous}");
    sb.shutdown().await;
}

#[tokio::test]
async fn logs_follow_until_the_process_ends() {
    let dir = workloads::image_dir();
    let release = dir.path().join("go");
    let sb = workloads::sandbox(dir.path(), 1.0).await;
    let k = Kubectl::new(&sb);
    let env = json!([{"name": "RELEASE", "value": release.display().to_string()}]);
    k.ok_stdin(
        &["apply", "-f", "-"],
        &pod("talker", "Never", "wait-file", env),
    )
    .await;
    wait_for("the process to print", || {
        sb.object("", "pods", "default", "talker")
            .filter(|p| p["status"]["phase"] == "Running")
    })
    .await;
    pid_of(&k, "talker").await;
    let follow = tokio::spawn({
        let k = Kubectl::new(&sb);
        async move { k.run(&["logs", "-f", "talker"]).await }
    });
    // The follower is connected once the server holds a streaming request open for it.
    let mark = sb.request_log().len();
    wait_for("kubectl logs -f to connect", || {
        sb.request_log()
            .since(mark)
            .iter()
            .any(|r| r.path.ends_with("/talker/log") && r.query.contains("follow=true"))
            .then_some(())
    })
    .await;
    std::fs::write(&release, b"").unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), follow)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.code, 0, "{}", out.describe());
    assert!(out.stdout.contains("hello pid="), "{}", out.stdout);
    assert!(out.stdout.contains("bye"), "{}", out.stdout);
    let p = wait_for("the pod to succeed", || {
        sb.object("", "pods", "default", "talker")
            .filter(|p| p["status"]["phase"] == "Succeeded")
    })
    .await;
    assert_eq!(container(&p)["state"]["terminated"]["reason"], "Completed");
    let none = k.run(&["logs", "talker", "--previous"]).await;
    assert_ne!(none.code, 0);
    assert!(
        none.stderr
            .contains("previous terminated container \"c\" in pod \"talker\" not found"),
        "{}",
        none.stderr
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn delete_sends_sigterm_then_sigkill_after_the_grace_period() {
    let dir = workloads::image_dir();
    let note = dir.path().join("note");
    let sb = workloads::sandbox(dir.path(), 1.0).await;
    let k = Kubectl::new(&sb);
    let env = json!([{"name": "NOTE", "value": note.display().to_string()}]);
    k.ok_stdin(
        &["apply", "-f", "-"],
        &pod("polite", "Always", "serve", env),
    )
    .await;
    let polite = pid_of(&k, "polite").await;
    // kubectl waits until the pod is gone, which is once its process has stopped.
    k.ok(&["delete", "pod", "polite"]).await;
    assert!(
        workloads::gone(polite),
        "the pod goes once its process has stopped"
    );
    let noted = std::fs::read_to_string(&note).unwrap();
    assert!(
        noted.contains("term"),
        "SIGTERM reached the process: {noted:?}"
    );
    // One that ignores SIGTERM is Terminating until its grace period (3 s) is over, then killed.
    let mut stubborn: Value =
        serde_json::from_str(&pod("stubborn", "Always", "stubborn", json!([]))).unwrap();
    stubborn["spec"]["terminationGracePeriodSeconds"] = json!(3);
    k.ok_stdin(&["apply", "-f", "-"], &stubborn.to_string())
        .await;
    let pid = pid_of(&k, "stubborn").await;
    k.ok(&["delete", "pod", "stubborn", "--wait=false"]).await;
    let terminating = sb.object("", "pods", "default", "stubborn").unwrap();
    assert!(terminating["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(terminating["metadata"]["deletionGracePeriodSeconds"], 3);
    assert!(!workloads::gone(pid), "SIGTERM alone does not stop it");
    k.ok(&["wait", "--for=delete", "pod/stubborn", "--timeout=60s"])
        .await;
    assert!(workloads::gone(pid), "SIGKILL after the grace period");
    sb.shutdown().await;
}

#[tokio::test]
async fn a_missing_program_fails_to_start() {
    let dir = workloads::image_dir();
    let sb = workloads::sandbox(dir.path(), 1.0).await;
    let k = Kubectl::new(&sb);
    k.ok_stdin(
        &["apply", "-f", "-"],
        &pod("typo", "Never", "no-such-tool", json!([])),
    )
    .await;
    let p = wait_for("the pod to fail", || {
        sb.object("", "pods", "default", "typo")
            .filter(|p| p["status"]["phase"] == "Failed")
    })
    .await;
    let term = &container(&p)["state"]["terminated"];
    assert_eq!(term["reason"], "StartError", "{p}");
    assert_eq!(term["exitCode"], 128);
    assert!(
        term["message"]
            .as_str()
            .unwrap()
            .contains("exec: \"no-such-tool\": executable file not found in $PATH"),
        "{term}"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn termination_message_is_reported() {
    let dir = workloads::image_dir();
    let sb = workloads::sandbox(dir.path(), 1.0).await;
    let k = Kubectl::new(&sb);
    k.ok_stdin(
        &["apply", "-f", "-"],
        &pod("leaver", "Never", "leave-message", json!([])),
    )
    .await;
    let p = wait_for("the pod to succeed", || {
        sb.object("", "pods", "default", "leaver")
            .filter(|p| p["status"]["phase"] == "Succeeded")
    })
    .await;
    let term = &container(&p)["state"]["terminated"];
    assert_eq!(term["exitCode"], 0);
    match sb.kubelet().isolation() {
        Isolation::MountNamespace => assert_eq!(term["message"], "all done\n", "{term}"),
        // Without a mount namespace the default path cannot be the pod's own file.
        Isolation::Kubeconfig => assert!(term.get("message").is_none(), "{term}"),
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn a_process_sees_its_environment_and_service_account() {
    let dir = workloads::image_dir();
    let sb = workloads::sandbox(dir.path(), 1.0).await;
    let k = Kubectl::new(&sb);
    k.ok(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=mode=fast",
        "--from-literal=level=3",
    ])
    .await;
    k.ok(&[
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=password=s3cret",
    ])
    .await;
    let env = json!([
        {"name": "GREETING", "value": "hello"},
        {"name": "ECHOED", "value": "$(GREETING) world"},
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
        {"name": "MY_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "MY_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    ]);
    let mut manifest: Value = serde_json::from_str(&pod("env", "Never", "show-env", env)).unwrap();
    manifest["spec"]["containers"][0]["envFrom"] =
        json!([{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}]);
    k.ok_stdin(&["apply", "-f", "-"], &manifest.to_string())
        .await;
    wait_for("the pod to succeed", || {
        sb.object("", "pods", "default", "env")
            .filter(|p| p["status"]["phase"] == "Succeeded")
    })
    .await;
    let out = k.ok(&["logs", "env"]).await;
    for line in [
        "GREETING=hello",
        "ECHOED=hello world",
        "MODE=fast",
        "PASSWORD=s3cret",
        "MY_NAME=env",
        "MY_NS=default",
        "MY_IP=127.0.0.1",
        "CFG_mode=fast",
        "CFG_level=3",
        "KUBERNETES_SERVICE_HOST=127.0.0.1",
        &format!("KUBERNETES_SERVICE_PORT={}", sb.addr().port()),
        "namespace=default",
        "ca=-----BEGIN CERTIFICATE-----",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("token="))
        .filter(|t| !t.is_empty());
    match sb.kubelet().isolation() {
        Isolation::MountNamespace => {
            let token = token.expect("the token is where kube-rs reads it");
            // The token authenticates as the pod's ServiceAccount.
            let who = sb
                .cluster()
                .tokens
                .authenticate(Some(&format!("Bearer {token}")))
                .unwrap();
            assert_eq!(who.name, "system:serviceaccount:default:default");
            assert!(
                who.groups
                    .contains(&"system:serviceaccounts:default".to_string())
            );
            assert!(out.lines().any(|l| l == "kubeconfig="), "{out}");
        }
        Isolation::Kubeconfig => {
            assert!(token.is_none());
            assert!(out.lines().any(|l| l.starts_with("kubeconfig=/")), "{out}");
        }
    }
    // A missing Secret holds the container in CreateContainerConfigError.
    let missing =
        json!([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]);
    k.ok_stdin(
        &["apply", "-f", "-"],
        &pod("blocked", "Never", "show-env", missing),
    )
    .await;
    let p = wait_for("CreateContainerConfigError", || {
        sb.object("", "pods", "default", "blocked")
            .filter(|p| container(p)["state"]["waiting"]["reason"] == "CreateContainerConfigError")
    })
    .await;
    assert_eq!(
        container(&p)["state"]["waiting"]["message"],
        "secret \"nope\" not found"
    );
    assert_eq!(p["status"]["phase"], "Pending");
    sb.shutdown().await;
}

#[tokio::test]
async fn shutdown_leaves_no_process_behind() {
    let dir = workloads::image_dir();
    let sb = workloads::sandbox(dir.path(), 1.0).await;
    let k = Kubectl::new(&sb);
    k.ok(&[
        "create",
        "deployment",
        "fleet",
        &format!("--image={IMAGE}"),
        "--replicas=3",
        "--",
        "serve",
    ])
    .await;
    let pids = wait_for("three processes", || {
        let pids = sb.kubelet().running_pids();
        (pids.len() == 3).then_some(pids)
    })
    .await;
    for pid in &pids {
        assert!(!workloads::gone(*pid), "{pid} runs");
    }
    sb.shutdown().await;
    for pid in &pids {
        assert!(workloads::gone(*pid), "process {pid} outlived the sandbox");
    }
}

#[tokio::test]
async fn readiness_follows_an_http_probe() {
    let dir = workloads::image_dir();
    workloads::write_script(
        dir.path(),
        "http",
        "echo \"serving pid=$$\"\nexec python3 -m http.server --bind 127.0.0.1 \"$PORT\"\n",
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sb = workloads::sandbox(dir.path(), 1.0).await;
    let k = Kubectl::new(&sb);
    let mut manifest: Value = serde_json::from_str(&pod(
        "web",
        "Always",
        "http",
        json!([{"name": "PORT", "value": port.to_string()}]),
    ))
    .unwrap();
    manifest["spec"]["containers"][0]["ports"] = json!([{"name": "http", "containerPort": port}]);
    manifest["spec"]["containers"][0]["readinessProbe"] =
        json!({"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1});
    k.ok_stdin(&["apply", "-f", "-"], &manifest.to_string())
        .await;
    let p = wait_for("the probe to pass", || {
        sb.object("", "pods", "default", "web")
            .filter(|p| container(p)["ready"] == true)
    })
    .await;
    let ready = p["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "True");
    let table = k.ok(&["get", "pod", "web"]).await;
    assert!(table.contains("1/1"), "{table}");
    sb.shutdown().await;
}
