//! `health check` against the sandbox cluster: the seeded Sealos cluster, and broken variants
//! (a VirtualService on a missing gateway, a controller that never gets ready, an expiring
//! certificate, a gateway whose credential Secret is missing), in-process and with the binary.
#![allow(clippy::unwrap_used)]

mod support;

use clap::Parser;
use kubectl_sealos_health::check::{self, Report};
use sealos_sandbox::{Sandbox, SandboxOptions, Scenario};
use sealos_shared::output::Severity;
use serde_json::{Value, json};

/// The seeded `sealos` scenario's objects, for a test to break before the cluster starts.
fn seeded() -> Vec<Value> {
    sealos_sandbox::scenario::builtin("sealos", jiff::Timestamp::now())
        .unwrap()
        .unwrap()
}

async fn start(objects: Vec<Value>) -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Scenario::Objects(objects),
        ..SandboxOptions::default()
    })
    .await
    .unwrap()
}

fn is(obj: &Value, kind: &str, namespace: &str, name: &str) -> bool {
    obj["kind"] == kind
        && obj["metadata"]["namespace"] == namespace
        && obj["metadata"]["name"] == name
}

/// Runs `kubectl sealos health ARGS` in-process against the sandbox.
async fn check(sandbox: &Sandbox, extra: &[&str]) -> Report {
    let kubeconfig = sandbox.kubeconfig_path().display().to_string();
    let mut argv = vec![
        "kubectl-sealos-health",
        "--kubeconfig",
        &kubeconfig,
        "--skip",
        "traffic",
    ];
    argv.extend_from_slice(extra);
    let args = kubectl_sealos_health::Args::try_parse_from(argv).unwrap();
    let kube = args.kube.connect().await.unwrap();
    check::check(&args.check, Some(&kube)).await.unwrap()
}

fn problems(report: &Report) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| f.status >= Severity::Warn)
        .map(|f| {
            format!(
                "{:?} {} {}: {}",
                f.status,
                f.area.name(),
                f.object.display(),
                f.message
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeded_cluster_is_judged_area_by_area() {
    let sandbox = start(seeded()).await;
    let mark = sandbox.request_log().len();
    let report = check(&sandbox, &[]).await;
    let problems = problems(&report);
    // Lists only, paginated, one per kind and namespace: never a request per object.
    let requests = sandbox.request_log().since(mark);
    assert!(
        requests
            .iter()
            .all(|r| r.method == "GET" && r.query.contains("limit=500")),
        "{requests:#?}"
    );
    let mut paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(
        paths.len(),
        requests.len(),
        "a list was repeated: {paths:#?}"
    );
    // Every area ran and said something.
    let areas: Vec<&str> = report.areas.iter().map(|a| a.area.name()).collect();
    assert_eq!(
        areas,
        [
            "control-plane",
            "gateways",
            "virtual-services",
            "controllers",
            "certificates",
            "security",
            "network",
            "tuning",
            "logging",
            "monitoring"
        ]
    );
    assert!(
        report.areas.iter().all(|a| a.findings > 0),
        "{:?}",
        report.areas
    );
    // The guide's policies, mesh tuning and log pipeline have their own test
    // (policy_areas.rs); besides them the seed holds two certificates close to expiry.
    let judged_config = [" security ", " network ", " tuning ", " logging "];
    let problems: Vec<String> = problems
        .into_iter()
        .filter(|p| !judged_config.iter().any(|a| p.contains(a)))
        .collect();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].starts_with("Fail certificates certificate/ns-alice/terminal-test-tls: certificate expires in 5 days"), "{problems:#?}");
    assert!(problems[1].starts_with("Warn certificates certificate/ns-alice/dbadmin-test-tls: certificate expires in 20 days"), "{problems:#?}");
    assert_eq!(report.status, Severity::Fail);
    support::assert_report_schema(&serde_json::to_value(&report).unwrap());
    // The schema is strict: an unknown field or status breaks it.
    let mut tampered = serde_json::to_value(&report).unwrap();
    tampered["findings"][0]["status"] = json!("MEH");
    let schema: Value = serde_json::from_str(include_str!("../schema/report.schema.json")).unwrap();
    assert!(
        !jsonschema::validator_for(&schema)
            .unwrap()
            .is_valid(&tampered)
    );
    // Worst first.
    let statuses: Vec<Severity> = report.findings.iter().map(|f| f.status).collect();
    assert!(statuses.windows(2).all(|w| w[0] >= w[1]), "{statuses:?}");

    // Only the asked areas, and no request for the others.
    let mark = sandbox.request_log().len();
    let only = check(&sandbox, &["--only", "security,controllers"]).await;
    let areas: Vec<&str> = only.areas.iter().map(|a| a.area.name()).collect();
    assert_eq!(areas, ["controllers", "security"]);
    let paths: Vec<String> = sandbox
        .request_log()
        .since(mark)
        .into_iter()
        .map(|r| r.path)
        .collect();
    // Security reads the Sealos namespace, the gateway's pods, and the policies and namespace
    // labels of the whole cluster (root-namespace policies apply everywhere).
    let cluster_wide = [
        "/api/v1/namespaces",
        "/apis/networking.k8s.io/v1/networkpolicies",
        "/apis/security.istio.io/v1/authorizationpolicies",
        "/apis/security.istio.io/v1/peerauthentications",
        "/api/v1/namespaces/istio-system/pods",
    ];
    assert!(
        paths
            .iter()
            .all(|p| p.contains("/namespaces/sealos-system/") || cluster_wide.contains(&p.as_str())),
        "{paths:#?}"
    );
    assert!(
        paths.iter().all(|p| !p.contains("virtualservices")),
        "{paths:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_variants_fail_with_the_finding_and_exit_1() {
    let mut objects = seeded();
    // 1. A VirtualService bound to a gateway that does not exist.
    objects.push(json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "orphan", "namespace": "sealos-system"},
        "spec": {"hosts": ["orphan.cloud.sealos.io"], "gateways": ["istio-system/no-such-gateway"],
                 "http": [{"route": [{"destination": {"host": "missing-svc", "port": {"number": 80}}}]}]}
    }));
    for obj in objects.iter_mut() {
        // 2. A controller whose pods never get ready.
        if is(obj, "Deployment", "sealos-system", "terminal-controller") {
            obj["metadata"]["annotations"]["sandbox.sealos.io/never-ready"] = json!("true");
            obj["spec"]["template"]["metadata"]["annotations"]["sandbox.sealos.io/never-ready"] =
                json!("true");
        }
        // 3. A Certificate that expires in a day and a half.
        if obj["kind"] == "Certificate" && obj["metadata"]["name"] == "blog-tls" {
            let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(36);
            obj["status"]["notAfter"] = json!(soon.to_string());
        }
    }
    // 4. The gateway's credential Secret is gone.
    objects.retain(|o| !is(o, "Secret", "istio-system", "wildcard-cloud-sealos-io-tls"));
    // And smaller troubles: a host claimed twice, a restarting istiod, env vars that disagree,
    // no STRICT mTLS.
    for name in ["dup-a", "dup-b"] {
        objects.push(json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": "sealos-system"},
            "spec": {"hosts": ["dup.cloud.sealos.io"], "gateways": ["istio-system/sealos-gateway"]}
        }));
    }
    for obj in objects.iter_mut() {
        if is(obj, "Deployment", "istio-system", "istiod") {
            obj["spec"]["template"]["metadata"]["annotations"]["sandbox.sealos.io/restarts"] =
                json!("9");
        }
        if is(obj, "Deployment", "sealos-system", "webhook-controller") {
            for container in obj["spec"]["template"]["spec"]["containers"]
                .as_array_mut()
                .unwrap()
            {
                for var in container["env"].as_array_mut().into_iter().flatten() {
                    if var["name"] == "ISTIO_PERCENTAGE" {
                        var["value"] = json!("0");
                    }
                }
            }
        }
    }
    objects.retain(|o| o["kind"] != "PeerAuthentication");
    let sandbox = start(objects).await;

    let report = check(&sandbox, &[]).await;
    let problems = problems(&report);
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(
        has(
            "Fail virtual-services virtualservice/sealos-system/orphan: gateway \"istio-system/no-such-gateway\" (istio-system/no-such-gateway) does not exist"
        ),
        "{problems:#?}"
    );
    assert!(
        has(
            "virtualservice/sealos-system/orphan: route destination \"missing-svc\": Service sealos-system/missing-svc does not exist"
        ),
        "{problems:#?}"
    );
    assert!(
        has("Fail controllers deployment/sealos-system/terminal-controller: 0/"),
        "{problems:#?}"
    );
    assert!(
        has(
            "Fail gateways gateway/istio-system/sealos-gateway: TLS credentialName \"wildcard-cloud-sealos-io-tls\": Secret not found in \"istio-system\""
        ),
        "{problems:#?}"
    );
    assert!(has("Fail certificates certificate/"), "{problems:#?}");
    assert!(
        has("/blog-tls: certificate expires in 1 day ("),
        "{problems:#?}"
    );
    assert!(
        has(
            "Warn virtual-services virtualservice/sealos-system/dup-a: host \"dup.cloud.sealos.io\" is claimed on gateway istio-system/sealos-gateway by 2 VirtualServices (sealos-system/dup-a, sealos-system/dup-b)"
        ),
        "{problems:#?}"
    );
    assert!(
        has("Warn control-plane pod/istio-system/istiod-") && has("restarted 9 times (limit 5)"),
        "{problems:#?}"
    );
    assert!(
        has("Warn controllers deployment/sealos-system/webhook-controller: container")
            && has(
                "NETWORKING_MODE=\"dual\" disagrees with ISTIO_PERCENTAGE=0 (which means \"ingress\")"
            ),
        "{problems:#?}"
    );
    assert!(
        has(
            "Fail security peerauthentication/sealos-system/sealos-mtls: mTLS is PERMISSIVE (no PeerAuthentication: Istio's default) on 16 ports of 4 pods"
        ),
        "{problems:#?}"
    );
    assert_eq!(report.status, Severity::Fail);

    // The binary: exit 1, the same findings in JSON; and --only an unaffected area exits 0.
    let (code, stdout, stderr) = tokio::task::spawn_blocking({
        let sandbox_kc = sandbox.kubeconfig_path().to_path_buf();
        move || {
            support::run_binary(
                &[
                    "--kubeconfig",
                    sandbox_kc.to_str().unwrap(),
                    "--skip",
                    "traffic",
                    "-o",
                    "json",
                ],
                &[],
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 1, "{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    support::assert_report_schema(&json);
    assert_eq!(json["status"], "FAIL");
    assert_eq!(json["findings"][0]["status"], "FAIL");
    let (code, stdout, stderr) = tokio::task::spawn_blocking({
        let sandbox_kc = sandbox.kubeconfig_path().to_path_buf();
        move || {
            support::run_binary(
                &[
                    "check",
                    "--kubeconfig",
                    sandbox_kc.to_str().unwrap(),
                    "--only",
                    "monitoring",
                ],
                &[],
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("STATUS   AREA"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_unreachable_clusters_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let port = support::free_port();
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster: {{server: \"https://127.0.0.1:{port}\", insecure-skip-tls-verify: true}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\n"),
    )
    .unwrap();
    let kc = kubeconfig.to_str().unwrap().to_string();
    let (code, _, stderr) = tokio::task::spawn_blocking(move || {
        support::run_binary(
            &[
                "--kubeconfig",
                &kc,
                "--skip",
                "traffic",
                "-o",
                "json",
                "--request-timeout",
                "2s",
            ],
            &[],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error: list "), "{stderr}");
    let (code, _, stderr) = support::run_binary(&["--only", "gateways", "--skip", "gateways"], &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--only and --skip both name \"gateways\""),
        "{stderr}"
    );
    let (code, _, stderr) = support::run_binary(&["--crit-days", "40"], &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--crit-days 40 is more than --warn-days 30"),
        "{stderr}"
    );
}

/// The default path to Prometheus goes through the API server's service proxy. The sandbox has
/// no `services/proxy` yet (its issue 4): the request must still be the right one, properly
/// encoded, and the refusal must leave the monitor blind (exit 2), never "OK".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_proxy_path_is_asked_and_a_refusal_is_blind() {
    let sandbox = start(seeded()).await;
    let mark = sandbox.request_log().len();
    let kc = sandbox.kubeconfig_path().display().to_string();
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        support::run_binary(
            &[
                "monitor",
                "--once",
                "--kubeconfig",
                &kc,
                "--no-syslog",
                "--window",
                "2m",
            ],
            &[],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stdout.contains("BLIND (1 consecutive failure): cannot reach Prometheus at service monitoring/prometheus:9090 (through the API server): the API server answered 503: no endpoints available for service \"prometheus\""),
        "{stdout}"
    );
    let asked: Vec<_> = sandbox
        .request_log()
        .since(mark)
        .into_iter()
        .filter(|r| {
            r.path == "/api/v1/namespaces/monitoring/services/prometheus:9090/proxy/api/v1/query"
        })
        .collect();
    assert!(
        !asked.is_empty(),
        "{:#?}",
        sandbox.request_log().since(mark)
    );
    // The three overall queries go out together; the first refusal ends the round.
    let expected = [
        "query=sum+%28increase%28istio_requests_total%7B%7D%5B2m%5D%29%29",
        "query=sum+%28increase%28istio_requests_total%7Bresponse_code%3D%7E%225..%22%7D%5B2m%5D%29%29",
        "query=histogram_quantile%280.95%2C+sum+by+%28le%29+%28rate%28istio_request_duration_milliseconds_bucket%7B%7D%5B2m%5D%29%29%29",
    ];
    for r in &asked {
        assert!(expected.contains(&r.query.as_str()), "{}", r.query);
    }
}

/// Thousands of identical findings: 3,000 VirtualServices whose Services do not exist. The table
/// fits the screen (LINES) with the exact count of the group; JSON lists every finding and adds
/// the counts; --all shows every row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_findings_fit_a_screen_with_exact_counts() {
    const MANY: usize = 3000;
    let sandbox = start(seeded()).await;
    sandbox
        .add_generated(&[("virtualservices".to_string(), MANY)])
        .unwrap();
    let kc = sandbox.kubeconfig_path().display().to_string();
    let run = |args: Vec<String>, env: Vec<(&'static str, &'static str)>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            support::run_binary(&args, &env)
        })
    };
    let base = |extra: &[&str]| {
        let mut a = vec![
            "--kubeconfig".to_string(),
            kc.clone(),
            "--only".to_string(),
            "virtual-services,gateways".to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };

    let (code, table, stderr) = run(base(&[]), vec![("LINES", "30")]).await.unwrap();
    assert_eq!(code, 1, "{stderr}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines.len() <= 30, "{} lines:\n{table}", lines.len());
    let count_row = lines
        .iter()
        .find(|l| l.contains("virtual-services") && l.contains("does not exist"))
        .unwrap_or_else(|| panic!("no count row:\n{table}"));
    assert!(
        count_row.trim_start().starts_with(&format!("{MANY} ")),
        "{count_row:?} in\n{table}"
    );
    assert!(
        table.contains("--all or -o wide shows every one"),
        "{table}"
    );

    // --max-rows is the budget when given.
    let (_, small, _) = run(base(&["--max-rows", "15"]), vec![]).await.unwrap();
    assert!(small.lines().count() <= 15, "{small}");

    // JSON keeps every finding and adds the counts.
    let (code, json, stderr) = run(base(&["-o", "json"]), vec![]).await.unwrap();
    assert_eq!(code, 1, "{stderr}");
    let json: Value = serde_json::from_str(&json).unwrap();
    support::assert_report_schema(&json);
    let missing = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["area"] == "virtual-services"
                && f["message"].as_str().unwrap().contains("does not exist")
        })
        .count();
    assert_eq!(missing, MANY);
    let counted = json["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["area"] == "virtual-services" && c["status"] == "FAIL")
        .unwrap();
    assert_eq!(counted["count"], MANY, "{counted}");

    // --all: one row per finding again.
    let (_, all, _) = run(base(&["--all"]), vec![("LINES", "30")]).await.unwrap();
    assert!(all.lines().count() > MANY, "{}", all.lines().count());
}
