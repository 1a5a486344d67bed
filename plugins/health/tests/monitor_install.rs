//! `health monitor install`'s RBAC, shown to be needed rule by rule: for each rule the monitor
//! gets, install without that rule, run the monitor's own command line (the Deployment's args)
//! with its ServiceAccount's token (`kubectl create token`), and see it fail with a 403 that
//! names the rule's verb and resource. With every rule it works. The API server's RBAC (the
//! sandbox's, as upstream's) decides; a real Prometheus answers behind the service proxy.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use clap::Parser;
use kubectl_sealos_health::monitor::install::{
    self, InstallArgs, STATE_CONFIGMAP, container_args, rules, workload,
};
use sealos_sandbox::{Sandbox, SandboxOptions};
use sealos_shared::audit::AuditLog;
use sealos_shared::connection::Kube;
use sealos_shared::install::{Manifest, rbac};
use serde_json::json;
use support::{Exporter, PrometheusServer, Traffic, run_binary};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    install: InstallArgs,
}

fn install_args() -> InstallArgs {
    Cli::try_parse_from(["x", "--window", "10s", "--min-requests", "5"])
        .unwrap()
        .install
}

fn kubectl(sb: &Sandbox, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", sb.kubeconfig_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A kubeconfig for the ServiceAccount's token, as the pod's in-cluster configuration is.
fn service_account_kubeconfig(sb: &Sandbox, dir: &std::path::Path, namespace: &str) -> String {
    let token = kubectl(sb, &["-n", namespace, "create", "token", install::NAME]);
    let ca = dir.join("ca.crt");
    std::fs::write(&ca, sb.ca_pem()).unwrap();
    let path = dir.join(format!("{namespace}.kubeconfig"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: '{}', certificate-authority: '{}'}}\nusers:\n- name: sa\n  user: {{token: '{}'}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: sa, namespace: {namespace}}}\ncurrent-context: c\n",
            sb.url(),
            ca.display(),
            token.trim()
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_the_monitor_is_given_is_needed() {
    let exporter = Exporter::default();
    exporter.set(
        "sealos-system",
        "api",
        Traffic {
            per_second: 50.0,
            errors: 0.5,
            latency_ms: 5.0,
        },
    );
    let prometheus = PrometheusServer::start(&[exporter.start().await]).await;
    let sb = Sandbox::start(SandboxOptions::default()).await.unwrap();
    sb.modify("", "services", "monitoring", "prometheus", |svc| {
        svc["metadata"]["annotations"]["sandbox.sealos.io/upstream"] = json!(prometheus.url);
    })
    .unwrap();
    let admin = Kube::from_kubeconfig(sb.kubeconfig_path()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let audit = AuditLog::new(Some(&dir.path().join("audit.jsonl"))).unwrap();
    let args = install_args();

    let all = rules("case-all", &args.monitor).unwrap();
    let mut cases: Vec<(String, Option<usize>)> = vec![("case-all".into(), None)];
    cases.extend((0..all.len()).map(|i| (format!("case-{i}"), Some(i))));
    for (namespace, without) in cases {
        sb.create(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
        )
        .unwrap();
        let mut given = rules(&namespace, &args.monitor).unwrap();
        let removed = without.map(|i| given.remove(i));
        // What install writes, less the one rule (the Deployment aside: its command runs here).
        let full = install::manifest(&namespace, &args).unwrap();
        let mut objects = rbac::objects(&workload(&namespace), &given);
        objects.extend(
            full.objects
                .iter()
                .filter(|o| o["kind"] == "ConfigMap")
                .cloned(),
        );
        sealos_shared::install::apply(&admin, &Manifest::new(objects), &audit, "health")
            .await
            .unwrap();

        let kubeconfig = service_account_kubeconfig(&sb, dir.path(), &namespace);
        let mut argv = vec!["--kubeconfig".to_string(), kubeconfig];
        argv.extend(container_args(&namespace, &args.monitor));
        argv.push("--once".into());
        let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            run_binary(&argv, &[])
        })
        .await
        .unwrap();
        let said = format!("{stdout}\n{stderr}");
        match removed {
            None => {
                // The round ran (Prometheus answered through the proxy) and its state was
                // written: 0 or 1 is the verdict on the traffic, not on the permissions.
                assert!(
                    code == 0 || code == 1,
                    "with every rule the monitor does its round\n{said}"
                );
                assert!(!said.contains("BLIND"), "{said}");
                assert!(!said.contains("forbidden"), "{said}");
                let cm = sb
                    .object("", "configmaps", &namespace, STATE_CONFIGMAP)
                    .unwrap();
                assert!(cm["data"]["monitor-state.json"].is_string(), "{cm:#}");
            }
            Some(rule) => {
                assert_eq!(
                    code, 2,
                    "without {:?} the monitor cannot work\n{said}",
                    rule.reason
                );
                let user = format!("system:serviceaccount:{namespace}:{}", install::NAME);
                for verb in &rule.verbs {
                    for resource in &rule.resources {
                        let needle =
                            format!("User \"{user}\" cannot {verb} resource \"{resource}\"");
                        let escaped = needle.replace('"', "\\\"");
                        assert!(
                            said.contains(&needle) || said.contains(&escaped),
                            "without {}, the 403 names it ({needle})\n{said}",
                            rule.describe()
                        );
                    }
                }
            }
        }
    }
    sb.shutdown().await;
}
