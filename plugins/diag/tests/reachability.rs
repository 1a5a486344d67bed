//! `diag reachability` on the seeded sandbox: the ingress gateway to terminal-controller before
//! and after the guide's policies are corrected (applied with the real kubectl), a neighbour
//! the guide's open rule lets in and the corrected one refuses, the matrix of the namespace,
//! and bad input.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use clap::Parser;
use kubectl_sealos_diag::{Args, execute};
use sealos_sandbox::{Sandbox, SandboxOptions};
use sealos_shared::Exit;
use sealos_shared::output::{Format, Out};
use serde_json::Value;

async fn reach(sandbox: &Sandbox, extra: &[&str], format: Format) -> (Exit, String) {
    let kubeconfig = sandbox.kubeconfig_path().display().to_string();
    let mut argv = vec![
        "kubectl-sealos-diag",
        "--kubeconfig",
        &kubeconfig,
        "reachability",
    ];
    argv.extend_from_slice(extra);
    let args = Args::try_parse_from(argv).unwrap();
    let kube = args.kube.connect().await.unwrap();
    let (mut out, printed) = Out::memory(format);
    let exit = execute(&args.command, &kube, &mut out).await.unwrap();
    (exit, printed.text())
}

async fn json(sandbox: &Sandbox, extra: &[&str]) -> (Exit, Value) {
    let mut argv = extra.to_vec();
    argv.extend(["-o", "json"]);
    let (exit, text) = reach(sandbox, &argv, Format::Json).await;
    (exit, serde_json::from_str(&text).unwrap())
}

fn decided_by(v: &Value) -> Vec<String> {
    v["decidedBy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect()
}

/// The corrected policies, as `kubectl sealos health policies --print` prints them for the seed.
const CORRECTED: &str = r#"apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: sealos-system-access, namespace: sealos-system }
spec:
  action: ALLOW
  rules:
  - from: [{ source: { principals: ["cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"] } }]
    to: [{ operation: { methods: [GET, POST, PUT, DELETE] } }]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: sealos-system-isolation, namespace: sealos-system }
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{ namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: istio-system } } }]
  - from: [{ podSelector: {} }]
  egress:
  - to: [{ namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: kube-system } }, podSelector: { matchLabels: { k8s-app: kube-dns } } }]
    ports: [{ protocol: UDP, port: 53 }, { protocol: TCP, port: 53 }]
  - to: [{ namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: istio-system } } }]
  - to: [{ podSelector: {} }]
  - to: [{ ipBlock: { cidr: 192.168.0.10/32 } }]
    ports: [{ protocol: TCP, port: 6443 }]
"#;

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
        "kubectl apply: {}{}",
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr)
    );
}

const GATEWAY_TO_TERMINAL: [&str; 6] = [
    "ingress-gateway",
    "deployment/terminal-controller",
    "-n",
    "sealos-system",
    "--port",
    "8080",
];
const NEIGHBOUR_TO_TERMINAL: [&str; 8] = [
    "deployment/resources-controller",
    "deployment/terminal-controller",
    "-n",
    "sealos-system",
    "--port",
    "8080",
    "--method",
    "GET",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_reaches_terminal_controller_before_and_after_the_correction() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();

    // Before: allowed, by the `name=istio-system` ingress rule and both rules of the policy.
    let (exit, before) = json(&sandbox, &GATEWAY_TO_TERMINAL).await;
    assert_eq!(exit, Exit::Ok, "{before:#}");
    assert_eq!(before["kind"], "Reachability");
    assert_eq!(before["decision"], "allowed");
    assert_eq!(before["from"]["namespace"], "istio-system");
    // The Service names port 8080 `http-metrics`: Istio treats it as HTTP (GET / by default).
    assert_eq!(before["http"]["method"], "GET", "{before:#}");
    let by = decided_by(&before);
    assert!(
        by.contains(&"networkpolicy/sealos-system/sealos-system-isolation ingress[0]".to_string()),
        "{by:?}"
    );
    assert!(
        by.contains(&"authorizationpolicy/sealos-system/sealos-system-access rules[0]".to_string()),
        "{by:?}"
    );
    assert!(
        by.contains(&"peerauthentication/sealos-system/sealos-mtls".to_string()),
        "{by:?}"
    );
    // A neighbour: the guide's egress has no rule for its own namespace, so L3 refuses it
    // (exit 1) — while at L7 the open second rule would let it in.
    let (exit, neighbour) = json(&sandbox, &NEIGHBOUR_TO_TERMINAL).await;
    assert_eq!(exit, Exit::Problem, "{neighbour:#}");
    assert_eq!(
        decided_by(&neighbour),
        ["networkpolicy/sealos-system/sealos-system-isolation"]
    );
    let steps = neighbour["steps"].as_array().unwrap();
    assert_eq!(steps[0]["layer"], "egress");
    assert_eq!(steps[0]["decision"], "refused");
    assert_eq!(steps[3]["layer"], "authorization");
    assert_eq!(steps[3]["decision"], "allowed");
    assert_eq!(
        steps[3]["deciders"][0]["rule"], "rules[1]",
        "the open rule admits it: {neighbour:#}"
    );

    kubectl_apply(&sandbox, CORRECTED);

    let (exit, after) = json(&sandbox, &GATEWAY_TO_TERMINAL).await;
    assert_eq!(exit, Exit::Ok, "{after:#}");
    let by = decided_by(&after);
    assert!(
        by.contains(&"networkpolicy/sealos-system/sealos-system-isolation ingress[0]".to_string()),
        "{by:?}"
    );
    assert!(
        by.contains(&"authorizationpolicy/sealos-system/sealos-system-access rules[0]".to_string()),
        "{by:?}"
    );
    assert!(!by.iter().any(|d| d.ends_with("rules[1]")), "{by:?}");
    // The neighbour passes L3/L4 (same namespace) and mTLS, and is refused at L7: exit 1.
    let (exit, neighbour) = json(&sandbox, &NEIGHBOUR_TO_TERMINAL).await;
    assert_eq!(exit, Exit::Problem, "{neighbour:#}");
    assert_eq!(neighbour["decision"], "refused");
    let layers: Vec<(&str, &str)> = neighbour["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["layer"].as_str().unwrap(),
                s["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        layers,
        [
            ("egress", "allowed"),
            ("ingress", "allowed"),
            ("mtls", "allowed"),
            ("authorization", "refused")
        ]
    );
    assert_eq!(
        decided_by(&neighbour),
        ["authorizationpolicy/sealos-system/sealos-system-access"]
    );
    // The table says the same, worst last.
    let (_, table) = reach(&sandbox, &NEIGHBOUR_TO_TERMINAL, Format::Table).await;
    assert!(table.contains("LAYER"), "{table}");
    assert!(
        table
            .trim_end()
            .ends_with("REFUSED by authorizationpolicy/sealos-system/sealos-system-access"),
        "{table}"
    );

    // The namespace's matrix: every pair judged; the gateway's column is not in it.
    let (exit, matrix) = json(
        &sandbox,
        &[
            "--all-from",
            "--all-to",
            "-n",
            "sealos-system",
            "--method",
            "GET",
        ],
    )
    .await;
    assert_eq!(matrix["kind"], "ReachabilityMatrix");
    let cells = matrix["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 4 * 3, "{matrix:#}");
    assert!(
        cells.iter().all(|c| c["decision"] == "refused"),
        "neighbours are refused at L7: {matrix:#}"
    );
    assert_eq!(exit, Exit::Problem);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_before_anything_is_read() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["configmap/x", "pod/y"],
            "\"configmap/x\" is not POD, deployment/NAME",
        ),
        (&["pod/x"], "TO is missing (or use --all-to)"),
        (
            &["pod/x", "pod/y", "--all-to"],
            "give TO or --all-to, not both",
        ),
        (
            &["pod/x", "pod/y", "--method", "get"],
            "--method \"get\" is not an HTTP method",
        ),
        (
            &["pod/x", "pod/y", "--protocol", "ICMP"],
            "--protocol \"ICMP\" is not TCP, UDP or SCTP",
        ),
    ];
    for (argv, want) in cases {
        let mut full = vec![
            "kubectl-sealos-diag",
            "--kubeconfig",
            "/nonexistent",
            "reachability",
        ];
        full.extend_from_slice(argv);
        let args = Args::try_parse_from(full).unwrap();
        // `run` validates before it connects: the kubeconfig does not exist.
        let err = kubectl_sealos_diag::run(args)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{argv:?}: {err}");
    }
}
