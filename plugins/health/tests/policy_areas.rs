//! The areas that judge the guide's configuration for what it does (security, network, tuning,
//! logging) on the seeded sandbox.
#![allow(clippy::unwrap_used)]

mod support;

use clap::Parser;
use kubectl_sealos_health::Args;
use kubectl_sealos_health::check::{self, Finding, Report};
use sealos_sandbox::{Sandbox, SandboxOptions};
use sealos_shared::output::Severity;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_configuration_fails_for_what_it_does() {
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
}
