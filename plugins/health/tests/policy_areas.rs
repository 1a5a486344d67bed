//! The areas that judge the guide's configuration for what it does (security, network, tuning,
//! logging) on the seeded sandbox, then with `health policies --print` applied by the real
//! `kubectl apply` and the guide's Fluent Bit configuration deployed as a ConfigMap.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use clap::Parser;
use kubectl_sealos_health::check::{self, Finding, Report};
use kubectl_sealos_health::{Args, execute};
use sealos_sandbox::{Sandbox, SandboxOptions};
use sealos_shared::output::{Format, Out, Severity};

async fn check(sandbox: &Sandbox) -> Report {
    let kubeconfig = sandbox.kubeconfig_path().display().to_string();
    let args = Args::try_parse_from([
        "kubectl-sealos-health",
        "--kubeconfig",
        &kubeconfig,
        "--only",
        "security,network,tuning,logging",
    ])
    .unwrap();
    let kube = args.kube.connect().await.unwrap();
    check::check(&args.check, Some(&kube)).await.unwrap()
}

fn coded<'a>(report: &'a Report, code: &str) -> Vec<&'a Finding> {
    report
        .findings
        .iter()
        .filter(|f| f.code == Some(code))
        .collect()
}

fn rows(report: &Report) -> String {
    report
        .findings
        .iter()
        .map(|f| format!("{:?} {} {}", f.status, f.object.display(), f.text(true)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `kubectl apply -f -` with `manifest` on stdin, against the sandbox.
fn kubectl_apply(sandbox: &Sandbox, manifest: &str) {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(sandbox.kubeconfig_path())
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(manifest.as_bytes())
        .unwrap();
    let done = child.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "kubectl apply: {}\n{}\n{manifest}",
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr)
    );
}

/// The guide's fluent-bit-istio.conf as its Fluent Bit ConfigMap.
const GUIDE_FLUENT_BIT: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: fluent-bit-config
  namespace: monitoring
data:
  fluent-bit.conf: |
    [SERVICE]
        Flush         1
        Log_Level     info
        Daemon        off
        Parsers_File  parsers.conf

    [INPUT]
        Name              tail
        Path              /var/log/containers/*istio-proxy*.log
        Parser            docker
        Tag               istio.proxy.*
        Refresh_Interval  5
        Mem_Buf_Limit     50MB

    [INPUT]
        Name              tail
        Path              /var/log/containers/*istiod*.log
        Parser            docker
        Tag               istio.control.*
        Refresh_Interval  5

    [OUTPUT]
        Name  es
        Match istio.*
        Host  elasticsearch.monitoring.svc.cluster.local
        Port  9200
        Index istio-logs
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_configuration_fails_for_what_it_does_and_the_correction_passes() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let before = check(&sandbox).await;
    let all = rows(&before);
    support::assert_report_schema(&serde_json::to_value(&before).unwrap());

    // Security: the open second rule, named, with its code; the principal in rule 1 is no excuse.
    let open = coded(&before, "SEC_AUTHZ_OPEN_RULE");
    assert_eq!(open.len(), 1, "{all}");
    assert_eq!(open[0].status, Severity::Fail);
    assert_eq!(
        open[0].object.display(),
        "authorizationpolicy/sealos-system/sealos-system-access"
    );
    assert!(
        open[0]
            .message
            .starts_with("rule 2 admits any caller for GET/POST/PUT/DELETE"),
        "{all}"
    );
    assert!(
        open[0]
            .hint
            .as_deref()
            .unwrap()
            .contains("policies --print")
    );
    assert!(coded(&before, "SEC_GATEWAY_REFUSED").is_empty(), "{all}");

    // Network: no DNS (the `name` label nobody set), no API server.
    let dns = coded(&before, "NET_DNS_EGRESS_BLOCKED");
    assert_eq!(dns.len(), 1, "{all}");
    assert_eq!(dns[0].status, Severity::Fail);
    assert_eq!(
        dns[0].object.display(),
        "networkpolicy/sealos-system/sealos-system-isolation"
    );
    assert!(
        dns[0]
            .message
            .contains("namespaceSelector name=kube-system (egress[0]) matches no namespace"),
        "{all}"
    );
    let api = coded(&before, "NET_APISERVER_EGRESS_BLOCKED");
    assert_eq!(api.len(), 1, "{all}");
    assert_eq!(api[0].status, Severity::Fail);
    assert!(api[0].message.contains(":6443"), "{all}");
    // istio-system carries `name` in the seed: the gateway gets in.
    assert!(
        coded(&before, "NET_GATEWAY_INGRESS_BLOCKED").is_empty(),
        "{all}"
    );

    // Tuning: the guide's ConfigMaps are read by nobody, and sampling is a percentage.
    let unread = coded(&before, "TUNE_CONFIG_NOT_READ");
    assert_eq!(unread.len(), 2, "{all}");
    assert!(
        unread
            .iter()
            .any(|f| f.message.contains("sample 1% of requests, not 100%")),
        "{all}"
    );
    let memory = coded(&before, "TUNE_SIDECAR_MEMORY_LIMIT");
    assert_eq!(memory.len(), 1, "{all}");
    assert!(
        memory[0].message.contains(
            "memory limit 256Mi is below the observed use of 2 proxies: ns-bob/app-test-"
        ),
        "{all}"
    );

    // Logging: the seed deploys no Fluent Bit configuration.
    let logging = coded(&before, "LOG_CONFIG_NOT_FOUND");
    assert_eq!(logging.len(), 1, "{all}");
    assert_eq!(logging[0].status, Severity::Info);

    // The corrected policies, printed by the command and applied by the real kubectl.
    let kubeconfig = sandbox.kubeconfig_path().display().to_string();
    let args = Args::try_parse_from([
        "kubectl-sealos-health",
        "--kubeconfig",
        &kubeconfig,
        "policies",
        "--print",
    ])
    .unwrap();
    let kube = args.kube.connect().await.unwrap();
    let (mut out, printed) = Out::memory(Format::Yaml);
    execute(&args, Some(&kube), &mut out).await.unwrap();
    let manifest = printed.text();
    assert!(
        manifest.contains("kubernetes.io/metadata.name"),
        "{manifest}"
    );
    kubectl_apply(&sandbox, &manifest);
    kubectl_apply(&sandbox, GUIDE_FLUENT_BIT);

    let after = check(&sandbox).await;
    let all = rows(&after);
    for area in ["security", "network"] {
        let summary = after.areas.iter().find(|a| a.area.name() == area).unwrap();
        assert_eq!(summary.status, Severity::Ok, "{area}:\n{all}");
    }
    assert!(
        after.findings.iter().any(|f| f.object.display()
            == "authorizationpolicy/sealos-system/sealos-system-access"
            && f.status == Severity::Ok),
        "{all}"
    );
    // The deployed Fluent Bit config: docker parser on containerd nodes, one input unbounded.
    let docker = coded(&after, "LOG_DOCKER_PARSER_ON_CRI");
    assert_eq!(docker.len(), 2, "{all}");
    assert!(docker[0].message.contains("containerd://1.7.24"), "{all}");
    let unbounded = coded(&after, "LOG_NO_MEM_BUF_LIMIT");
    assert_eq!(unbounded.len(), 1, "{all}");
    assert!(unbounded[0].message.contains("*istiod*"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_refuses_bad_input_before_reading_anything() {
    for (argv, want) in [
        (vec!["x", "policies"], "say --print"),
        (
            vec!["x", "policies", "--print", "--api-server", "nonsense"],
            "--api-server \"nonsense\" is not IP:PORT",
        ),
    ] {
        let args = Args::try_parse_from(argv).unwrap();
        let (mut out, _) = Out::memory(Format::Yaml);
        let err = execute(&args, None, &mut out)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
    }
    // With the API server given, no cluster is needed.
    let args = Args::try_parse_from([
        "x",
        "policies",
        "--print",
        "--api-server",
        "192.168.10.2:6443",
    ])
    .unwrap();
    let (mut out, printed) = Out::memory(Format::Yaml);
    execute(&args, None, &mut out).await.unwrap();
    assert!(
        printed.text().contains("cidr: 192.168.10.2/32"),
        "{}",
        printed.text()
    );
}
