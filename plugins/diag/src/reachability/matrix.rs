//! `--all-from`/`--all-to`: every (source, destination) pair of the namespace's workloads.

use sealos_shared::policy::{self, Connection, Decision, Endpoint, Pod, Verdict, World};
use serde::Serialize;

use super::{Plan, decided_by, default_port, request};

/// One pair's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cell {
    /// `namespace/pod`.
    pub from: String,
    pub to: String,
    /// None: the destination declares no port and none was given (cannot judge).
    pub port: Option<u16>,
    pub decision: Decision,
    pub decided_by: Vec<String>,
}

/// `diag reachability --all-from/--all-to -o json`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Matrix {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub namespace: String,
    pub cells: Vec<Cell>,
}

fn name(p: &Pod) -> String {
    format!("{}/{}", p.namespace, p.name)
}

/// Every source against every destination (a pod is not judged against itself), on `port`
/// or each destination's first declared port.
pub fn cells(
    world: &World,
    sources: &[Pod],
    targets: &[Pod],
    plan: &Plan,
    port: Option<u16>,
) -> Vec<Cell> {
    let mut out = Vec::new();
    for from in sources {
        for to in targets {
            if from.namespace == to.namespace && from.name == to.name {
                continue;
            }
            let Some(port) = port.or_else(|| default_port(to)) else {
                out.push(Cell {
                    from: name(from),
                    to: name(to),
                    port: None,
                    decision: Decision::Unknown,
                    decided_by: Vec::new(),
                });
                continue;
            };
            let port_name = to
                .ports
                .iter()
                .find(|p| p.port == port)
                .map(|p| p.name.as_str());
            let conn = Connection {
                from: Endpoint::Pod(from.clone()),
                to: Endpoint::Pod(to.clone()),
                port,
                protocol: plan.protocol,
                http: request(plan, port_name),
            };
            let v: Verdict = policy::evaluate(world, &conn);
            out.push(Cell {
                from: name(from),
                to: name(to),
                port: Some(port),
                decision: v.decision,
                decided_by: decided_by(&v),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use k8s_openapi::api::networking::v1::NetworkPolicy;
    use sealos_shared::policy::{NamedPort, Namespace, Protocol};
    use serde_json::{Value, json};

    use super::*;

    fn pod(ns: &str, app: &str, ip: &str, ports: &[(&str, u16)]) -> Pod {
        Pod {
            namespace: ns.into(),
            name: app.into(),
            labels: [("app".to_string(), app.to_string())].into(),
            ip: ip.parse().ok(),
            service_account: app.into(),
            sidecar: false,
            ports: ports
                .iter()
                .map(|(n, p)| NamedPort {
                    name: n.to_string(),
                    port: *p,
                    protocol: Protocol::Tcp,
                })
                .collect(),
        }
    }

    fn netpol(name: &str, spec: Value) -> NetworkPolicy {
        serde_json::from_value(
            json!({ "metadata": { "name": name, "namespace": "m" }, "spec": spec }),
        )
        .unwrap()
    }

    fn ns(name: &str, team: &str) -> Namespace {
        let labels: BTreeMap<String, String> = [
            ("kubernetes.io/metadata.name".to_string(), name.to_string()),
            ("team".to_string(), team.to_string()),
        ]
        .into();
        Namespace {
            name: name.into(),
            labels,
        }
    }

    /// Every NetworkPolicy field the evaluator knows, each deciding at least one cell:
    /// named port (web), namespaceSelector ∧ podSelector and a numeric port without
    /// policyTypes (db), ipBlock with except and port..endPort (batch), policyTypes defaulted
    /// from egress rules, which also isolates ingress with no ingress rule, and an empty
    /// podSelector peer meaning "this namespace" (client); both ends must admit.
    #[test]
    fn a_matrix_over_every_networkpolicy_field() {
        let world = World {
            namespaces: vec![ns("m", "m"), ns("x", "x")],
            network_policies: vec![
                netpol(
                    "web-ingress",
                    json!({ "podSelector": { "matchLabels": { "app": "web" } }, "policyTypes": ["Ingress"],
                    "ingress": [{ "from": [{ "podSelector": { "matchLabels": { "app": "client" } } }], "ports": [{ "port": "http" }] }] }),
                ),
                netpol(
                    "db-ingress",
                    json!({ "podSelector": { "matchLabels": { "app": "db" } },
                    "ingress": [{ "from": [{ "namespaceSelector": { "matchLabels": { "team": "x" } }, "podSelector": { "matchLabels": { "app": "client" } } }],
                                  "ports": [{ "protocol": "TCP", "port": 5432 }] }] }),
                ),
                netpol(
                    "batch-ingress",
                    json!({ "podSelector": { "matchLabels": { "app": "batch" } }, "policyTypes": ["Ingress"],
                    "ingress": [{ "from": [{ "ipBlock": { "cidr": "10.2.0.0/16", "except": ["10.2.1.0/24"] } }],
                                  "ports": [{ "port": 32000, "endPort": 32768 }] }] }),
                ),
                netpol(
                    "client-egress",
                    json!({ "podSelector": { "matchLabels": { "app": "client" } },
                    "egress": [{ "to": [{ "podSelector": {} }] }] }),
                ),
            ],
            ..World::default()
        };
        let m_client = pod("m", "client", "10.1.0.2", &[("admin", 7000)]);
        let web = pod("m", "web", "10.1.0.3", &[("http", 8080)]);
        let db = pod("m", "db", "10.1.0.4", &[("pg", 5432)]);
        let batch = pod("m", "batch", "10.1.0.5", &[("range", 32100)]);
        let tool = pod("x", "tool", "10.2.0.2", &[("tcp-echo", 9000)]);
        let x_client = pod("x", "client", "10.2.0.3", &[("admin", 7000)]);
        let blocked = pod("x", "blocked", "10.2.1.9", &[]);
        let pods = [m_client, web, db, batch, tool, x_client, blocked];
        let plan = Plan {
            from: None,
            to: None,
            protocol: Protocol::Tcp,
            method: None,
            path: None,
        };
        let grid = cells(&world, &pods, &pods, &plan, None);
        let at = |from: &str, to: &str| {
            grid.iter()
                .find(|c| c.from == from && c.to == to)
                .map(|c| c.decision)
                .unwrap()
        };
        use Decision::{Allowed, Refused};
        let expected = [
            ("m/client", "m/web", Allowed), // egress: podSelector {} = own ns; ingress: named port http=8080
            ("m/db", "m/web", Refused),     // web admits app=client only
            ("x/client", "m/web", Refused), // a podSelector alone: the policy's namespace only
            ("m/client", "m/db", Refused),  // namespaceSelector AND podSelector: wrong namespace
            ("x/tool", "m/db", Refused),    // ... right namespace, wrong pod
            ("x/client", "m/db", Allowed),  // ... both
            ("x/tool", "m/batch", Allowed), // ipBlock 10.2/16, port 32100 in 32000..32768
            ("x/blocked", "m/batch", Refused), // in the except range
            ("m/client", "m/batch", Refused), // outside the ipBlock
            ("m/client", "x/tool", Refused), // egress isolated: own namespace only
            ("x/tool", "m/client", Refused), // no policyTypes: Ingress too, and no ingress rule
            ("x/tool", "x/client", Allowed), // nothing selects x/client
            ("m/web", "x/tool", Allowed),   // web is isolated for ingress only
        ];
        let wrong: Vec<String> = expected
            .iter()
            .filter(|(f, t, d)| at(f, t) != *d)
            .map(|(f, t, d)| format!("{f} -> {t}: want {d:?}, got {:?}", at(f, t)))
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
        assert_eq!(
            grid.len(),
            pods.len() * (pods.len() - 1),
            "every pair but self"
        );
        // A pod without ports cannot be judged on "its first port".
        assert_eq!(at("x/tool", "x/blocked"), Decision::Unknown);
        // The named port resolves to 8080 only; endPort bounds the range.
        let web_9090 = cells(&world, &pods[..1], &pods[1..2], &plan, Some(9090));
        assert_eq!(web_9090[0].decision, Refused);
        let batch_32769 = cells(&world, &pods[4..5], &pods[3..4], &plan, Some(32769));
        assert_eq!(batch_32769[0].decision, Refused);
        let ok = grid
            .iter()
            .find(|c| c.from == "x/client" && c.to == "m/db")
            .unwrap();
        assert_eq!(ok.decided_by, ["networkpolicy/m/db-ingress ingress[0]"]);
    }
}
