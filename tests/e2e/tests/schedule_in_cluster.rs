//! Scheduled backups in the cluster: `backup schedule install` makes a CronJob of the suite's
//! image, which the sandbox's kubelet runs from the built binaries under the schedule's own
//! ServiceAccount; the archives land in a real S3 server (moto), credentials from a Secret.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sealos_e2e::{Output, bin_dir, plugin_bin, run, workspace_root};
use sealos_sandbox::auth::User;
use sealos_sandbox::kubelet::RunImage;
use sealos_sandbox::{Sandbox, SandboxOptions};
use serde_json::Value;

const LABEL: &str = "app.kubernetes.io/managed-by=kubectl-sealos";

/// A moto S3 server on 127.0.0.1 with authentication on (killed on drop): one IAM user, one bucket.
struct Moto {
    child: Child,
    endpoint: String,
    access_key: String,
    secret_key: String,
    bucket: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            // The setup's four calls go unauthenticated; every later request is checked.
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "4")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m moto.server (pip install 'moto[server]')");
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            access_key: String::new(),
            secret_key: String::new(),
            bucket: "sealos-backups".into(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto never listened");
            std::thread::sleep(Duration::from_millis(25));
        }
        // The backup plugin's own setup: an IAM user with full rights, its key, the bucket.
        let setup = workspace_root().join("plugins/backup/tests/support/moto_setup.py");
        let out = run(Command::new("python3")
            .arg(setup)
            .args([&moto.endpoint, &moto.bucket]));
        out.expect_code(0);
        let mut words = out.stdout.split_whitespace();
        moto.access_key = words.next().unwrap().to_string();
        moto.secret_key = words.next().unwrap().to_string();
        moto
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key.clone()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }
}

async fn sandbox(time_scale: f64) -> Sandbox {
    Sandbox::start(SandboxOptions {
        run_images: vec![RunImage {
            pattern: "ghcr.io/labring/kubectl-sealos:*".into(),
            dir: bin_dir().to_path_buf(),
        }],
        time_scale,
        ..SandboxOptions::default()
    })
    .await
    .unwrap()
}

fn home(sb: &Sandbox) -> &Path {
    sb.kubeconfig_path().parent().unwrap()
}

fn kubectl(sb: &Sandbox, args: &[&str]) -> Output {
    run(Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", sb.kubeconfig_path())
        .env("HOME", home(sb)))
}

/// `kubectl-sealos-backup ARGS` as a user runs it: the sandbox's kubeconfig, an own HOME (the
/// audit log goes there), no S3 credentials unless `env` gives them.
fn backup(sb: &Sandbox, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(plugin_bin("backup"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KUBECONFIG", sb.kubeconfig_path())
        .env("HOME", home(sb))
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"))
}

/// Polls (bounded) until `f` gives a value; `what` names the wait in the panic.
async fn until<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn condition(job: &Value, kind: &str) -> bool {
    job["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == kind && c["status"] == "True")
    })
}

/// The complete backups under an S3 prefix, as `backup list --s3` reports them.
fn complete_backups(sb: &Sandbox, moto: &Moto, prefix: &str) -> Vec<String> {
    let out = backup(
        sb,
        &["list", "--s3", &moto.url(prefix), "-o", "json"],
        &moto.env(),
    );
    out.expect_code(0);
    json(&out)["backups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["complete"] == true)
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect()
}

/// Namespace `backups` with the Secret holding the S3 credentials.
fn prepare(sb: &Sandbox, moto: &Moto) {
    kubectl(sb, &["create", "namespace", "backups"]).expect_code(0);
    let mut args = vec![
        "-n".to_string(),
        "backups".into(),
        "create".into(),
        "secret".into(),
        "generic".into(),
        "backup-s3".into(),
    ];
    for (k, v) in moto.env() {
        args.push(format!("--from-literal={k}={v}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    kubectl(sb, &args).expect_code(0);
}

fn install_args<'a>(name: &'a str, schedule: &'a str, s3: &'a str, keep: &'a str) -> Vec<&'a str> {
    vec![
        "schedule",
        "install",
        name,
        "-n",
        "backups",
        "--schedule",
        schedule,
        "--s3",
        s3,
        "--s3-secret",
        "backup-s3",
        "--keep",
        keep,
        "--include",
        "istio,sealos",
    ]
}

/// Everything in the cluster with the managed-by label.
fn labelled(sb: &Sandbox) -> Vec<String> {
    let out = kubectl(
        sb,
        &[
            "get",
            "cronjobs,jobs,pods,serviceaccounts,roles,rolebindings,clusterroles,clusterrolebindings",
            "-A",
            "-l",
            LABEL,
            "-o",
            "name",
        ],
    );
    out.expect_code(0);
    out.stdout.lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_backups_land_in_s3_prune_keeps_n_and_uninstall_leaves_nothing() {
    let moto = Moto::start();
    // `* * * * *` runs every second of real time.
    let sb = sandbox(60.0).await;
    prepare(&sb, &moto);

    // Bad input: exit 2 with the reason, and nothing written.
    let mark = sb.request_log().len();
    let mut bad = install_args("nightly", "0 25 * * *", "s3://sealos-backups/x", "3");
    bad.retain(|a| *a != "--include" && *a != "istio,sealos");
    backup(&sb, &bad, &[])
        .expect_code(2)
        .expect_stderr_contains(
            "--schedule \"0 25 * * *\": hour \"25\": 25 is out of range (0-23)",
        );
    assert!(
        sb.request_log()
            .since(mark)
            .iter()
            .all(|r| r.method == "GET"),
        "a refused install wrote something"
    );

    // --dry-run -o yaml: what the server would accept, and nothing is written.
    let mut dry = install_args("yearly", "0 3 1 1 *", "s3://sealos-backups/yearly", "5");
    dry.extend(["--dry-run", "-o", "yaml"]);
    let printed = backup(&sb, &dry, &[]);
    printed.expect_code(0);
    assert!(!printed.stdout.contains(&moto.secret_key), "{printed}");
    assert!(
        printed.stdout.contains("concurrencyPolicy: Forbid"),
        "{printed}"
    );
    let manifest = home(&sb).join("schedule.yaml");
    std::fs::write(&manifest, &printed.stdout).unwrap();
    kubectl(
        &sb,
        &[
            "apply",
            "--dry-run=server",
            "-f",
            manifest.to_str().unwrap(),
        ],
    )
    .expect_code(0)
    .expect_stdout_contains("cronjob.batch/yearly created (server dry run)");
    assert_eq!(labelled(&sb), Vec::<String>::new());

    // A schedule that will not fire during the test, run by hand as an operator would.
    let yearly = moto.url("yearly");
    backup(&sb, &install_args("yearly", "0 3 1 1 *", &yearly, "5"), &[])
        .expect_code(0)
        .expect_stdout_contains("cronjob.batch/yearly serverside-applied");
    kubectl(
        &sb,
        &[
            "-n",
            "backups",
            "create",
            "job",
            "--from=cronjob/yearly",
            "yearly-manual",
        ],
    )
    .expect_code(0);
    let job = until(Duration::from_secs(120), "the manual Job to finish", || {
        sb.object("batch", "jobs", "backups", "yearly-manual")
            .filter(|j| condition(j, "Complete") || condition(j, "Failed"))
    })
    .await;
    let logs = kubectl(&sb, &["-n", "backups", "logs", "job/yearly-manual"]);
    assert!(condition(&job, "Complete"), "{job:#}\n{logs}");
    assert!(!logs.stdout.contains(&moto.secret_key), "{logs}");
    let pod = sb
        .objects("", "pods", Some("backups"))
        .into_iter()
        .find(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .starts_with("yearly-manual")
        })
        .unwrap();
    assert_eq!(pod["spec"]["serviceAccountName"], "yearly");
    assert_eq!(complete_backups(&sb, &moto, "yearly").len(), 1);

    // A schedule that fires every (accelerated) minute and keeps 2.
    let minutely = moto.url("minutely");
    let mut args = install_args("minutely", "* * * * *", &minutely, "2");
    args.extend(["--history", "3"]);
    backup(&sb, &args, &[]).expect_code(0);
    let schedules = until(Duration::from_secs(180), "three scheduled runs", || {
        let out = backup(
            &sb,
            &["schedule", "list", "-n", "backups", "-o", "json"],
            &[],
        );
        let report = json(&out);
        let minutely = report["schedules"]
            .as_array()?
            .iter()
            .find(|s| s["name"] == "minutely")?
            .clone();
        let succeeded = minutely["runs"]
            .as_array()?
            .iter()
            .filter(|r| r["status"] == "succeeded" && r["trigger"] == "scheduled")
            .count();
        (succeeded >= 3).then_some(report)
    })
    .await;
    let yearly_report = schedules["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "yearly")
        .unwrap();
    assert_eq!(
        yearly_report["runs"][0]["trigger"], "manual",
        "{schedules:#}"
    );
    assert_eq!(yearly_report["runs"][0]["status"], "succeeded");
    assert_eq!(yearly_report["destination"], format!("{yearly}/"));
    // Stop the schedule, let a run in progress finish, then count what prune left.
    kubectl(
        &sb,
        &[
            "-n",
            "backups",
            "patch",
            "cronjob",
            "minutely",
            "-p",
            r#"{"spec":{"suspend":true}}"#,
        ],
    )
    .expect_code(0);
    until(Duration::from_secs(120), "the last run to finish", || {
        let active = sb
            .objects("batch", "jobs", Some("backups"))
            .into_iter()
            .filter(|j| {
                j["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("minutely-")
            })
            .any(|j| !condition(&j, "Complete") && !condition(&j, "Failed"));
        (!active).then_some(())
    })
    .await;
    let left = complete_backups(&sb, &moto, "minutely");
    assert_eq!(left.len(), 2, "prune keeps 2: {left:?}");
    let table = backup(&sb, &["schedule", "list", "-n", "backups"], &[]);
    table
        .expect_code(0)
        .expect_stdout_contains("minutely")
        .expect_stdout_contains("succeeded");

    // The ServiceAccounts' RBAC: read-only, and enough (no request of theirs was refused).
    let roles = kubectl(
        &sb,
        &["get", "roles,clusterroles", "-A", "-l", LABEL, "-o", "json"],
    );
    roles.expect_code(0);
    let verbs: Vec<String> = json(&roles)["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["rules"].as_array().unwrap().clone())
        .flat_map(|rule| rule["verbs"].as_array().unwrap().clone())
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(!verbs.is_empty());
    assert!(
        verbs
            .iter()
            .all(|v| matches!(v.as_str(), "get" | "list" | "watch")),
        "{verbs:?}"
    );
    let refused: Vec<String> = sb
        .request_log()
        .since(0)
        .into_iter()
        .filter(|r| r.user.starts_with("system:serviceaccount:backups:") && r.status == 403)
        .map(|r| format!("{} {} {}", r.user, r.method, r.path))
        .collect();
    assert_eq!(refused, Vec::<String>::new());

    // uninstall removes what install made, and the Jobs and pods go with the CronJob.
    for name in ["yearly", "minutely"] {
        backup(&sb, &["schedule", "uninstall", name, "-n", "backups"], &[])
            .expect_code(0)
            .expect_stdout_contains(&format!("cronjob.batch/{name} deleted"));
    }
    until(
        Duration::from_secs(60),
        "nothing labelled to be left",
        || labelled(&sb).is_empty().then_some(()),
    )
    .await;
    // The Secret is the operator's: never touched.
    assert!(sb.object("", "secrets", "backups", "backup-s3").is_some());
    sb.shutdown().await;
}

/// Each rule of the schedule's Role/ClusterRole is needed: without it, the backup the CronJob
/// runs fails with a 403 naming what it lacks (the Namespace rule only loses the Namespace objects,
/// which the backup notes).
#[tokio::test(flavor = "multi_thread")]
async fn every_rule_of_the_schedule_is_needed_and_enough() {
    let sb = sandbox(1.0).await;
    kubectl(&sb, &["create", "namespace", "backups"]).expect_code(0);
    let mut args = install_args("probe", "0 3 1 1 *", "s3://unused/x", "3");
    args.retain(|a| *a != "--include" && *a != "istio,sealos");
    backup(&sb, &args, &[]).expect_code(0);
    // The ServiceAccount's credentials, as the kubelet mounts them.
    sb.cluster()
        .tokens
        .add("probe-token", User::service_account("backups", "probe"));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, sb.ca_pem()).unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: s\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: probe\n  user:\n    token: probe-token\ncontexts:\n- name: c\n  context: {{cluster: s, user: probe, namespace: backups}}\ncurrent-context: c\n",
            sb.url(),
            ca.display()
        ),
    )
    .unwrap();
    let create = |n: usize| {
        let to = dir.path().join(format!("run-{n}"));
        let mut cmd = Command::new(plugin_bin("backup"));
        cmd.args(["create", "--to", to.to_str().unwrap(), "-o", "json"])
            .env_clear()
            .env("KUBECONFIG", &config)
            .env("HOME", dir.path());
        run(&mut cmd)
    };
    let whole = create(0);
    whole.expect_code(0);
    let notes = json(&whole)["summary"]["notes"].to_string();
    assert!(!notes.contains("not readable"), "{whole}");

    let mut roles: Vec<(String, String)> = Vec::new();
    for r in sb.objects("rbac.authorization.k8s.io", "roles", None) {
        roles.push((
            "roles".into(),
            format!(
                "{}/{}",
                r["metadata"]["namespace"].as_str().unwrap(),
                r["metadata"]["name"].as_str().unwrap()
            ),
        ));
    }
    roles.retain(|(_, at)| at.ends_with("/kubectl-sealos:backups:probe"));
    roles.push((
        "clusterroles".into(),
        "/kubectl-sealos:backups:probe".into(),
    ));
    let mut checked = 0;
    for (plural, at) in roles {
        let (ns, name) = at.split_once('/').unwrap();
        let role = sb
            .object("rbac.authorization.k8s.io", &plural, ns, name)
            .unwrap();
        let rules = role["rules"].as_array().unwrap().clone();
        for (i, rule) in rules.iter().enumerate() {
            let mut fewer = rules.clone();
            fewer.remove(i);
            sb.modify("rbac.authorization.k8s.io", &plural, ns, name, |o| {
                o["rules"] = Value::from(fewer)
            })
            .unwrap();
            let out = create(1 + checked);
            let resource = rule["resources"][0].as_str().unwrap();
            if resource == "namespaces" {
                out.expect_code(0);
                assert!(out.stdout.contains("not readable"), "{rule}\n{out}");
            } else {
                out.expect_code(2);
                let verb = rule["verbs"][0].as_str().unwrap();
                assert!(
                    out.stderr
                        .contains(&format!("cannot {verb} resource \\\"{resource}\\\""))
                        || out
                            .stderr
                            .contains(&format!("cannot {verb} resource \"{resource}\"")),
                    "without {rule} the backup must fail naming it\n{out}"
                );
            }
            sb.modify("rbac.authorization.k8s.io", &plural, ns, name, |o| {
                o["rules"] = Value::from(rules.clone())
            })
            .unwrap();
            checked += 1;
        }
    }
    assert_eq!(checked, 15, "one check per rule");
    sb.shutdown().await;
}
