//! Table-driven tests, each reproducing an example of the Kubernetes or Istio documentation
//! (the URL and the example's name above each table).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ns(name: &str, extra: &[(&str, &str)]) -> Namespace {
    let mut l = labels(extra);
    l.insert("kubernetes.io/metadata.name".into(), name.into());
    Namespace {
        name: name.into(),
        labels: l,
    }
}

fn pod(namespace: &str, name: &str, l: &[(&str, &str)], ip: &str) -> Pod {
    Pod {
        namespace: namespace.into(),
        name: name.into(),
        labels: labels(l),
        ip: ip.parse().ok(),
        service_account: name.into(),
        sidecar: true,
        ports: Vec::new(),
    }
}

fn netpol(namespace: &str, name: &str, spec: Value) -> NetworkPolicy {
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": { "name": name, "namespace": namespace }, "spec": spec,
    }))
    .unwrap()
}

fn authz(namespace: &str, name: &str, spec: Value) -> AuthorizationPolicy {
    serde_json::from_value(json!({
        "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": { "name": name, "namespace": namespace }, "spec": spec,
    }))
    .unwrap()
}

fn peer(namespace: &str, name: &str, spec: Value) -> PeerAuthentication {
    serde_json::from_value(json!({
        "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": { "name": name, "namespace": namespace }, "spec": spec,
    }))
    .unwrap()
}

fn tcp(from: Endpoint, to: Endpoint, port: u16) -> Connection {
    Connection {
        from,
        to,
        port,
        protocol: Protocol::Tcp,
        http: None,
    }
}

fn http(from: Endpoint, to: Endpoint, port: u16, method: &str, path: &str) -> Connection {
    Connection {
        http: Some(HttpRequest {
            method: method.into(),
            path: path.into(),
            host: None,
        }),
        ..tcp(from, to, port)
    }
}

fn addr(ip: &str) -> Endpoint {
    Endpoint::Address {
        ip: ip.parse().unwrap(),
    }
}

fn at(p: &Pod) -> Endpoint {
    Endpoint::Pod(p.clone())
}

use Decision::{Allowed, Refused, Unknown};

/// Runs a table and reports every mismatch at once.
fn check(world: &World, cases: &[(&str, Connection, Decision)]) {
    let mut wrong = Vec::new();
    for (what, conn, want) in cases {
        let got = evaluate(world, conn);
        if got.decision != *want {
            wrong.push(format!("{what}: want {want:?}, got {:#?}", got));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

// --- NetworkPolicy ----------------------------------------------------------------------------

/// https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource
/// example "test-network-policy": ipBlock with except, namespaceSelector, podSelector, ports,
/// and an egress rule to an ipBlock.
#[test]
fn k8s_test_network_policy() {
    let world = World {
        namespaces: vec![
            ns("default", &[]),
            ns("myproject", &[("project", "myproject")]),
            ns("other", &[]),
        ],
        network_policies: vec![netpol(
            "default",
            "test-network-policy",
            json!({
                "podSelector": { "matchLabels": { "role": "db" } },
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{
                    "from": [
                        { "ipBlock": { "cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"] } },
                        { "namespaceSelector": { "matchLabels": { "project": "myproject" } } },
                        { "podSelector": { "matchLabels": { "role": "frontend" } } },
                    ],
                    "ports": [{ "protocol": "TCP", "port": 6379 }],
                }],
                "egress": [{
                    "to": [{ "ipBlock": { "cidr": "10.0.0.0/24" } }],
                    "ports": [{ "protocol": "TCP", "port": 5978 }],
                }],
            }),
        )],
        ..World::default()
    };
    let db = pod("default", "db", &[("role", "db")], "10.244.0.10");
    let frontend = pod(
        "default",
        "frontend",
        &[("role", "frontend")],
        "10.244.0.11",
    );
    let backend = pod("default", "backend", &[("role", "backend")], "10.244.0.12");
    let in_project = pod("myproject", "any", &[], "10.244.0.13");
    let frontend_elsewhere = pod("other", "frontend", &[("role", "frontend")], "10.244.0.14");
    check(
        &world,
        &[
            (
                "frontend pod in default to 6379",
                tcp(at(&frontend), at(&db), 6379),
                Allowed,
            ),
            (
                "frontend pod to another port",
                tcp(at(&frontend), at(&db), 6380),
                Refused,
            ),
            (
                "non-frontend pod in default",
                tcp(at(&backend), at(&db), 6379),
                Refused,
            ),
            (
                "any pod of a project=myproject namespace",
                tcp(at(&in_project), at(&db), 6379),
                Allowed,
            ),
            (
                "podSelector alone is the policy's namespace only",
                tcp(at(&frontend_elsewhere), at(&db), 6379),
                Refused,
            ),
            (
                "address inside the ipBlock",
                tcp(addr("172.17.0.5"), at(&db), 6379),
                Allowed,
            ),
            (
                "address in the except range",
                tcp(addr("172.17.1.5"), at(&db), 6379),
                Refused,
            ),
            (
                "egress to 10.0.0.0/24 on 5978",
                tcp(at(&db), addr("10.0.0.7"), 5978),
                Allowed,
            ),
            (
                "egress to 10.0.0.0/24 on another port",
                tcp(at(&db), addr("10.0.0.7"), 80),
                Refused,
            ),
            (
                "egress outside the block",
                tcp(at(&db), addr("10.0.1.1"), 5978),
                Refused,
            ),
            (
                "UDP is not TCP",
                Connection {
                    protocol: Protocol::Udp,
                    ..tcp(at(&frontend), at(&db), 6379)
                },
                Refused,
            ),
            (
                "pods not selected are not isolated",
                tcp(at(&frontend), at(&backend), 1234),
                Allowed,
            ),
            (
                "db egress to a pod is isolated too",
                tcp(at(&db), at(&frontend), 1234),
                Refused,
            ),
        ],
    );
    // The refusal names the isolating policy; an admission names the rule.
    let refused = evaluate(&world, &tcp(at(&backend), at(&db), 6379));
    assert_eq!(
        refused.step(Layer::Ingress).unwrap().deciders[0].display(),
        "networkpolicy/default/test-network-policy"
    );
    let allowed = evaluate(&world, &tcp(at(&frontend), at(&db), 6379));
    assert_eq!(
        allowed.step(Layer::Ingress).unwrap().deciders[0]
            .rule
            .as_deref(),
        Some("ingress[0]")
    );
}

/// https://kubernetes.io/docs/concepts/services-networking/network-policies/#behavior-of-to-and-from-selectors
/// ("namespaceSelector and podSelector" in one element is AND; two elements are OR).
#[test]
fn k8s_behavior_of_to_and_from_selectors() {
    let namespaces = vec![
        ns("default", &[]),
        ns("alice-ns", &[("user", "alice")]),
        ns("bob-ns", &[("user", "bob")]),
    ];
    let and = netpol(
        "default",
        "and",
        json!({
            "podSelector": {}, "policyTypes": ["Ingress"],
            "ingress": [{ "from": [{
                "namespaceSelector": { "matchLabels": { "user": "alice" } },
                "podSelector": { "matchLabels": { "role": "client" } },
            }] }],
        }),
    );
    let or = netpol(
        "default",
        "or",
        json!({
            "podSelector": {}, "policyTypes": ["Ingress"],
            "ingress": [{ "from": [
                { "namespaceSelector": { "matchLabels": { "user": "alice" } } },
                { "podSelector": { "matchLabels": { "role": "client" } } },
            ] }],
        }),
    );
    let server = pod("default", "server", &[], "10.244.0.2");
    let alice_client = pod("alice-ns", "c", &[("role", "client")], "10.244.1.2");
    let alice_other = pod("alice-ns", "o", &[], "10.244.1.3");
    let bob_client = pod("bob-ns", "c", &[("role", "client")], "10.244.2.2");
    let local_client = pod("default", "c", &[("role", "client")], "10.244.0.3");
    let and_world = World {
        namespaces: namespaces.clone(),
        network_policies: vec![and],
        ..World::default()
    };
    check(
        &and_world,
        &[
            (
                "client pod in alice's namespace",
                tcp(at(&alice_client), at(&server), 80),
                Allowed,
            ),
            (
                "other pod in alice's namespace",
                tcp(at(&alice_other), at(&server), 80),
                Refused,
            ),
            (
                "client pod in bob's namespace",
                tcp(at(&bob_client), at(&server), 80),
                Refused,
            ),
            (
                "client pod in the policy's namespace",
                tcp(at(&local_client), at(&server), 80),
                Refused,
            ),
        ],
    );
    let or_world = World {
        namespaces,
        network_policies: vec![or],
        ..World::default()
    };
    check(
        &or_world,
        &[
            (
                "client pod in alice's namespace",
                tcp(at(&alice_client), at(&server), 80),
                Allowed,
            ),
            (
                "other pod in alice's namespace",
                tcp(at(&alice_other), at(&server), 80),
                Allowed,
            ),
            (
                "client pod in bob's namespace (podSelector alone: own namespace)",
                tcp(at(&bob_client), at(&server), 80),
                Refused,
            ),
            (
                "client pod in the policy's namespace",
                tcp(at(&local_client), at(&server), 80),
                Allowed,
            ),
        ],
    );
}

/// https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-policies
/// examples "default-deny-ingress", "allow-all-ingress", "default-deny-egress",
/// "allow-all-egress", "default-deny-all".
#[test]
fn k8s_default_policies() {
    let a = pod("default", "a", &[], "10.244.0.2");
    let b = pod("default", "b", &[], "10.244.0.3");
    let world = |spec: Value| World {
        namespaces: vec![ns("default", &[])],
        network_policies: vec![netpol("default", "p", spec)],
        ..World::default()
    };
    let cases = [
        (
            "default-deny-ingress",
            json!({ "podSelector": {}, "policyTypes": ["Ingress"] }),
            Refused,
        ),
        (
            "allow-all-ingress",
            json!({ "podSelector": {}, "ingress": [{}], "policyTypes": ["Ingress"] }),
            Allowed,
        ),
        (
            "default-deny-egress",
            json!({ "podSelector": {}, "policyTypes": ["Egress"] }),
            Refused,
        ),
        (
            "allow-all-egress",
            json!({ "podSelector": {}, "egress": [{}], "policyTypes": ["Egress"] }),
            Allowed,
        ),
        (
            "default-deny-all",
            json!({ "podSelector": {}, "policyTypes": ["Ingress", "Egress"] }),
            Refused,
        ),
    ];
    for (name, spec, want) in cases {
        let got = evaluate(&world(spec), &tcp(at(&a), at(&b), 80));
        assert_eq!(got.decision, want, "{name}: {got:#?}");
    }
    // default-deny-ingress leaves egress to the outside alone; default-deny-egress cuts it.
    let out = tcp(at(&a), addr("93.184.216.34"), 443);
    assert_eq!(
        evaluate(
            &world(json!({ "podSelector": {}, "policyTypes": ["Ingress"] })),
            &out
        )
        .decision,
        Allowed
    );
    assert_eq!(
        evaluate(
            &world(json!({ "podSelector": {}, "policyTypes": ["Egress"] })),
            &out
        )
        .decision,
        Refused
    );
}

/// https://kubernetes.io/docs/concepts/services-networking/network-policies/#targeting-a-range-of-ports
/// example "multi-port-egress" (port 32000, endPort 32768).
#[test]
fn k8s_multi_port_egress() {
    let world = World {
        namespaces: vec![ns("default", &[])],
        network_policies: vec![netpol(
            "default",
            "multi-port-egress",
            json!({
                "podSelector": { "matchLabels": { "role": "db" } },
                "policyTypes": ["Egress"],
                "egress": [{ "to": [{ "ipBlock": { "cidr": "10.0.0.0/24" } }],
                             "ports": [{ "protocol": "TCP", "port": 32000, "endPort": 32768 }] }],
            }),
        )],
        ..World::default()
    };
    let db = pod("default", "db", &[("role", "db")], "10.244.0.2");
    let to = |p| tcp(at(&db), addr("10.0.0.9"), p);
    check(
        &world,
        &[
            ("first port of the range", to(32000), Allowed),
            ("last port of the range", to(32768), Allowed),
            ("inside", to(32100), Allowed),
            ("below", to(31999), Refused),
            ("above", to(32769), Refused),
        ],
    );
}

/// https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/
/// (NetworkPolicySpec.policyTypes: without it, Ingress always and Egress when there are egress
/// rules; NetworkPolicyPort.port: "a numerical or named port on a pod"; an empty `from` and a
/// namespaceSelector `{}`), and
/// https://kubernetes.io/docs/concepts/services-networking/network-policies/#targeting-a-namespace-by-its-name
/// (`kubernetes.io/metadata.name`).
#[test]
fn k8s_api_reference_fields() {
    let mut web = pod("default", "web", &[("app", "web")], "10.244.0.2");
    web.ports = vec![NamedPort {
        name: "http".into(),
        port: 8080,
        protocol: Protocol::Tcp,
    }];
    let client = pod("default", "client", &[], "10.244.0.3");
    let remote = pod("tools", "remote", &[], "10.244.1.3");
    let namespaces = vec![ns("default", &[]), ns("tools", &[])];
    let world = |spec: Value| World {
        namespaces: namespaces.clone(),
        network_policies: vec![netpol("default", "p", spec)],
        ..World::default()
    };
    let named = world(json!({ "podSelector": { "matchLabels": { "app": "web" } },
        "ingress": [{ "ports": [{ "port": "http" }] }] }));
    check(
        &named,
        &[
            (
                "named port resolved on the target pod",
                tcp(at(&client), at(&web), 8080),
                Allowed,
            ),
            (
                "another port of the pod",
                tcp(at(&client), at(&web), 9090),
                Refused,
            ),
        ],
    );
    // The named port is resolved on the destination of egress too: a pod without it matches not.
    let named_egress = world(json!({ "podSelector": {}, "policyTypes": ["Egress"],
        "egress": [{ "ports": [{ "port": "http" }] }] }));
    check(
        &named_egress,
        &[
            (
                "egress to a pod declaring http=8080",
                tcp(at(&client), at(&web), 8080),
                Allowed,
            ),
            (
                "egress to an address: a name resolves on no pod",
                tcp(at(&client), addr("10.9.9.9"), 8080),
                Refused,
            ),
        ],
    );
    // No policyTypes, egress rules present: the policy also isolates egress.
    let defaulted = world(
        json!({ "podSelector": {}, "egress": [{ "ports": [{ "port": 53, "protocol": "UDP" }] }] }),
    );
    check(
        &defaulted,
        &[
            (
                "ingress isolated by default type",
                tcp(at(&remote), at(&client), 80),
                Refused,
            ),
            (
                "egress isolated because egress rules exist",
                tcp(at(&client), addr("1.1.1.1"), 443),
                Refused,
            ),
            (
                "the egress rule's UDP port",
                Connection {
                    protocol: Protocol::Udp,
                    ..tcp(at(&client), addr("1.1.1.1"), 53)
                },
                Allowed,
            ),
        ],
    );
    let no_egress_rules = world(json!({ "podSelector": {}, "ingress": [{}] }));
    check(
        &no_egress_rules,
        &[(
            "no egress rules, no policyTypes: egress free",
            tcp(at(&client), addr("1.1.1.1"), 443),
            Allowed,
        )],
    );
    // `from: []` admits everything; `podSelector: {}` only the own namespace; `namespaceSelector: {}` every pod.
    let empty_from = world(
        json!({ "podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{ "from": [] }] }),
    );
    let own_ns = world(
        json!({ "podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{ "from": [{ "podSelector": {} }] }] }),
    );
    let all_ns = world(
        json!({ "podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{ "from": [{ "namespaceSelector": {} }] }] }),
    );
    let by_name = world(
        json!({ "podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{ "from": [{ "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": "tools" } } }] }] }),
    );
    let by_missing_label = world(
        json!({ "podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{ "from": [{ "namespaceSelector": { "matchLabels": { "name": "tools" } } }] }] }),
    );
    check(
        &empty_from,
        &[(
            "from: [] admits an address",
            tcp(addr("8.8.8.8"), at(&web), 80),
            Allowed,
        )],
    );
    check(
        &own_ns,
        &[
            (
                "podSelector {}: same namespace",
                tcp(at(&client), at(&web), 80),
                Allowed,
            ),
            (
                "podSelector {}: not another namespace",
                tcp(at(&remote), at(&web), 80),
                Refused,
            ),
            (
                "podSelector {}: not an address",
                tcp(addr("8.8.8.8"), at(&web), 80),
                Refused,
            ),
        ],
    );
    check(
        &all_ns,
        &[
            (
                "namespaceSelector {}: any namespace",
                tcp(at(&remote), at(&web), 80),
                Allowed,
            ),
            (
                "namespaceSelector {}: not an address",
                tcp(addr("8.8.8.8"), at(&web), 80),
                Refused,
            ),
        ],
    );
    check(
        &by_name,
        &[(
            "kubernetes.io/metadata.name selects tools",
            tcp(at(&remote), at(&web), 80),
            Allowed,
        )],
    );
    check(
        &by_missing_label,
        &[(
            "a `name` label nobody set selects nothing",
            tcp(at(&remote), at(&web), 80),
            Refused,
        )],
    );
    let p = &by_missing_label.network_policies[0];
    assert_eq!(
        empty_namespace_selectors(p, &by_missing_label),
        vec![("ingress[0]".to_string(), "name=tools".to_string())]
    );
}

/// https://kubernetes.io/docs/concepts/services-networking/network-policies/#isolated-and-non-isolated-pods
/// ("for a connection from a source pod to a destination pod to be allowed, both the egress
/// policy on the source pod and the ingress policy on the destination pod need to allow").
#[test]
fn k8s_both_ends_must_allow() {
    let a = pod("x", "a", &[("app", "a")], "10.244.0.2");
    let b = pod("x", "b", &[("app", "b")], "10.244.0.3");
    let world = World {
        namespaces: vec![ns("x", &[])],
        network_policies: vec![
            netpol(
                "x",
                "a-egress",
                json!({ "podSelector": { "matchLabels": { "app": "a" } }, "policyTypes": ["Egress"], "egress": [{ "to": [{ "podSelector": { "matchLabels": { "app": "b" } } }] }] }),
            ),
            netpol(
                "x",
                "b-ingress",
                json!({ "podSelector": { "matchLabels": { "app": "b" } }, "policyTypes": ["Ingress"], "ingress": [{ "from": [{ "podSelector": { "matchLabels": { "app": "c" } } }] }] }),
            ),
        ],
        ..World::default()
    };
    let v = evaluate(&world, &tcp(at(&a), at(&b), 80));
    assert_eq!(v.decision, Refused);
    assert_eq!(v.step(Layer::Egress).unwrap().decision, Allowed);
    assert_eq!(v.step(Layer::Ingress).unwrap().decision, Refused);
    assert_eq!(v.deciders()[0].name, "b-ingress");
}

// --- PeerAuthentication -----------------------------------------------------------------------

/// https://istio.io/latest/docs/reference/config/security/peer_authentication/ examples: the
/// mesh-wide STRICT policy in the root namespace, a namespace-level PERMISSIVE override, and
/// "finance" workloads STRICT with port 8080 DISABLE (portLevelMtls); UNSET inherits.
#[test]
fn istio_peer_authentication_levels() {
    let mut plain = pod("foo", "legacy", &[], "10.244.0.2");
    plain.sidecar = false;
    let meshed = pod("bar", "client", &[], "10.244.0.3");
    let finance = pod("bar", "finance", &[("app", "finance")], "10.244.0.4");
    let foo_app = pod("foo", "app", &[], "10.244.0.5");
    let bar_app = pod("bar", "app", &[], "10.244.0.6");
    let unset = pod("bar", "unset", &[("app", "unset")], "10.244.0.7");
    let mut no_sidecar_dst = pod("bar", "raw", &[], "10.244.0.8");
    no_sidecar_dst.sidecar = false;
    let world = World {
        peer_authentications: vec![
            peer(
                "istio-system",
                "default",
                json!({ "mtls": { "mode": "STRICT" } }),
            ),
            peer(
                "foo",
                "default",
                json!({ "mtls": { "mode": "PERMISSIVE" } }),
            ),
            peer(
                "bar",
                "finance",
                json!({ "selector": { "matchLabels": { "app": "finance" } }, "mtls": { "mode": "STRICT" }, "portLevelMtls": { "8080": { "mode": "DISABLE" } } }),
            ),
            peer(
                "bar",
                "unset",
                json!({ "selector": { "matchLabels": { "app": "unset" } }, "mtls": { "mode": "UNSET" } }),
            ),
        ],
        ..World::default()
    };
    check(
        &world,
        &[
            (
                "mesh STRICT: plaintext to bar refused",
                tcp(at(&plain), at(&bar_app), 80),
                Refused,
            ),
            (
                "mesh STRICT: mTLS to bar allowed",
                tcp(at(&meshed), at(&bar_app), 80),
                Allowed,
            ),
            (
                "namespace PERMISSIVE overrides the mesh",
                tcp(at(&plain), at(&foo_app), 80),
                Allowed,
            ),
            (
                "finance port 8080 DISABLE: plaintext in",
                tcp(at(&plain), at(&finance), 8080),
                Allowed,
            ),
            (
                "finance other port STRICT",
                tcp(at(&plain), at(&finance), 9090),
                Refused,
            ),
            (
                "UNSET inherits the mesh STRICT",
                tcp(at(&plain), at(&unset), 80),
                Refused,
            ),
            (
                "no sidecar on the destination: nothing enforced",
                tcp(at(&plain), at(&no_sidecar_dst), 80),
                Allowed,
            ),
        ],
    );
    let (mode, by) = effective_mode(&world, &finance, 8080);
    assert_eq!(mode, MtlsMode::Disable);
    assert_eq!(by.unwrap().rule.as_deref(), Some("portLevelMtls[8080]"));
    assert_eq!(
        effective_mode(&World::default(), &bar_app, 80).0,
        MtlsMode::Permissive,
        "Istio's default"
    );
}

// --- AuthorizationPolicy ----------------------------------------------------------------------

fn mesh() -> (Pod, Pod, Pod, Pod) {
    let sleep = Pod {
        service_account: "sleep".into(),
        ..pod("default", "sleep", &[("app", "sleep")], "10.244.0.2")
    };
    let dev = pod("dev", "tool", &[], "10.244.0.3");
    let httpbin = Pod {
        service_account: "httpbin".into(),
        ..pod(
            "foo",
            "httpbin",
            &[("app", "httpbin"), ("version", "v1")],
            "10.244.0.4",
        )
    };
    let other = pod("test", "other", &[], "10.244.0.5");
    (sleep, dev, httpbin, other)
}

/// https://istio.io/latest/docs/reference/config/security/authorization-policy/ the first
/// example: ALLOW from principal sleep or namespace dev, to GET `/info*` or POST `/data`, when
/// the JWT issuer is accounts.google.com. Our requests carry no JWT, so `when` fails.
#[test]
fn istio_reference_allow_example_with_when() {
    let (sleep, dev, httpbin, _) = mesh();
    let spec = |when: bool| {
        let mut rule = json!({
            "from": [{ "source": { "principals": ["cluster.local/ns/default/sa/sleep"] } }, { "source": { "namespaces": ["dev"] } }],
            "to": [{ "operation": { "methods": ["GET"], "paths": ["/info*"] } }, { "operation": { "methods": ["POST"], "paths": ["/data"] } }],
        });
        if when {
            rule["when"] = json!([{ "key": "request.auth.claims[iss]", "values": ["https://accounts.google.com"] }]);
        }
        json!({ "action": "ALLOW", "rules": [rule] })
    };
    let world = |w| World {
        authorization_policies: vec![authz("foo", "httpbin", spec(w))],
        ..World::default()
    };
    check(
        &world(true),
        &[(
            "no JWT: the when clause fails",
            http(at(&sleep), at(&httpbin), 8000, "GET", "/info"),
            Refused,
        )],
    );
    check(
        &world(false),
        &[
            (
                "sleep GET /info/x (prefix)",
                http(at(&sleep), at(&httpbin), 8000, "GET", "/info/x"),
                Allowed,
            ),
            (
                "dev namespace POST /data",
                http(at(&dev), at(&httpbin), 8000, "POST", "/data"),
                Allowed,
            ),
            (
                "sleep POST /info (method and path in different to-entries)",
                http(at(&sleep), at(&httpbin), 8000, "POST", "/info"),
                Refused,
            ),
            (
                "sleep GET /other",
                http(at(&sleep), at(&httpbin), 8000, "GET", "/other"),
                Refused,
            ),
        ],
    );
}

/// Same page: "deny requests from the dev namespace to the POST method on all workloads in
/// the foo namespace", and the allow-nothing / deny-all / allow-all examples.
#[test]
fn istio_reference_deny_and_all_nothing_examples() {
    let (sleep, dev, httpbin, other) = mesh();
    let world = |spec: Value| World {
        authorization_policies: vec![authz("foo", "p", spec)],
        ..World::default()
    };
    let deny_dev_post = world(
        json!({ "action": "DENY", "rules": [{ "from": [{ "source": { "namespaces": ["dev"] } }], "to": [{ "operation": { "methods": ["POST"] } }] }] }),
    );
    check(
        &deny_dev_post,
        &[
            (
                "dev POST denied",
                http(at(&dev), at(&httpbin), 80, "POST", "/"),
                Refused,
            ),
            (
                "dev GET: no ALLOW policy, allowed",
                http(at(&dev), at(&httpbin), 80, "GET", "/"),
                Allowed,
            ),
            (
                "test POST allowed",
                http(at(&other), at(&httpbin), 80, "POST", "/"),
                Allowed,
            ),
        ],
    );
    check(
        &world(json!({})),
        &[(
            "allow-nothing: an ALLOW policy without rules",
            http(at(&sleep), at(&httpbin), 80, "GET", "/"),
            Refused,
        )],
    );
    check(
        &world(json!({ "action": "DENY", "rules": [{}] })),
        &[(
            "deny-all",
            http(at(&sleep), at(&httpbin), 80, "GET", "/"),
            Refused,
        )],
    );
    check(
        &world(json!({ "rules": [{}] })),
        &[(
            "allow-all",
            http(at(&sleep), at(&httpbin), 80, "GET", "/"),
            Allowed,
        )],
    );
}

/// https://istio.io/latest/docs/concepts/security/#authorization-policies ("Policy Target" and
/// "Implicit enablement": root namespace policies apply to all namespaces; a selector narrows;
/// CUSTOM, then DENY, then ALLOW; AUDIT does not decide).
#[test]
fn istio_targets_and_evaluation_order() {
    let (sleep, _, httpbin, other) = mesh();
    let root_deny = authz(
        "istio-system",
        "root-deny-test",
        json!({ "action": "DENY", "rules": [{ "from": [{ "source": { "namespaces": ["test"] } }] }] }),
    );
    let root_selector = authz(
        "istio-system",
        "v1-only",
        json!({ "selector": { "matchLabels": { "version": "v2" } }, "rules": [] }),
    );
    let other_ns = authz("bar", "elsewhere", json!({}));
    let allow = authz(
        "foo",
        "allow-sleep",
        json!({ "rules": [{ "from": [{ "source": { "principals": ["*/sa/sleep"] } }] }] }),
    );
    let audit = authz("foo", "audit", json!({ "action": "AUDIT", "rules": [{}] }));
    let world = World {
        authorization_policies: vec![root_deny, root_selector, other_ns, allow.clone(), audit],
        ..World::default()
    };
    check(
        &world,
        &[
            (
                "root DENY applies in foo",
                http(at(&other), at(&httpbin), 80, "GET", "/"),
                Refused,
            ),
            (
                "ALLOW with suffix principal",
                http(at(&sleep), at(&httpbin), 80, "GET", "/"),
                Allowed,
            ),
        ],
    );
    let v = evaluate(&world, &http(at(&other), at(&httpbin), 80, "GET", "/"));
    assert_eq!(
        v.step(Layer::Authorization).unwrap().deciders[0].display(),
        "authorizationpolicy/istio-system/root-deny-test rules[0]"
    );
    let custom = authz(
        "foo",
        "ext",
        json!({ "action": "CUSTOM", "provider": { "name": "opa" }, "rules": [{}] }),
    );
    let world = World {
        authorization_policies: vec![custom, allow],
        ..World::default()
    };
    check(
        &world,
        &[(
            "CUSTOM first: an external authorizer decides",
            http(at(&sleep), at(&httpbin), 80, "GET", "/"),
            Unknown,
        )],
    );
}

/// notX forms (reference page, Source.notNamespaces / Operation.notPaths / Condition.notValues)
/// and https://istio.io/latest/docs/tasks/security/authorization/authz-deny/ "deny-method-get".
#[test]
fn istio_not_forms() {
    let (sleep, dev, httpbin, _) = mesh();
    let world = |spec: Value| World {
        authorization_policies: vec![authz("foo", "p", spec)],
        ..World::default()
    };
    let not_ns = world(
        json!({ "action": "DENY", "rules": [{ "from": [{ "source": { "notNamespaces": ["default"] } }] }] }),
    );
    check(
        &not_ns,
        &[
            (
                "notNamespaces default: sleep passes",
                http(at(&sleep), at(&httpbin), 80, "GET", "/"),
                Allowed,
            ),
            (
                "dev is denied",
                http(at(&dev), at(&httpbin), 80, "GET", "/"),
                Refused,
            ),
        ],
    );
    let not_paths =
        world(json!({ "rules": [{ "to": [{ "operation": { "notPaths": ["/admin*"] } }] }] }));
    check(
        &not_paths,
        &[
            (
                "/status allowed",
                http(at(&sleep), at(&httpbin), 80, "GET", "/status"),
                Allowed,
            ),
            (
                "/admin/x not",
                http(at(&sleep), at(&httpbin), 80, "GET", "/admin/x"),
                Refused,
            ),
        ],
    );
    let not_values = world(
        json!({ "rules": [{ "when": [{ "key": "source.namespace", "notValues": ["dev"] }] }] }),
    );
    check(
        &not_values,
        &[
            (
                "notValues dev: sleep",
                http(at(&sleep), at(&httpbin), 80, "GET", "/"),
                Allowed,
            ),
            (
                "notValues dev: dev",
                http(at(&dev), at(&httpbin), 80, "GET", "/"),
                Refused,
            ),
        ],
    );
    let deny_get = world(
        json!({ "action": "DENY", "rules": [{ "to": [{ "operation": { "methods": ["GET"] } }] }] }),
    );
    check(
        &deny_get,
        &[
            (
                "deny-method-get: GET",
                http(at(&sleep), at(&httpbin), 80, "GET", "/ip"),
                Refused,
            ),
            (
                "deny-method-get: POST",
                http(at(&sleep), at(&httpbin), 80, "POST", "/post"),
                Allowed,
            ),
        ],
    );
    let header = world(
        json!({ "rules": [{ "when": [{ "key": "request.headers[x-token]", "values": ["admin"] }] }] }),
    );
    check(
        &header,
        &[(
            "a header we do not know",
            http(at(&sleep), at(&httpbin), 80, "GET", "/"),
            Unknown,
        )],
    );
}

/// https://istio.io/latest/docs/tasks/security/authorization/authz-tcp/: HTTP-only fields on TCP
/// traffic: an ALLOW rule with `methods` matches nothing; a DENY rule with `methods` denies all.
#[test]
fn istio_http_fields_on_tcp() {
    let (sleep, _, httpbin, _) = mesh();
    let world = |spec: Value| World {
        authorization_policies: vec![authz("foo", "tcp-policy", spec)],
        ..World::default()
    };
    let allow = world(
        json!({ "rules": [{ "to": [{ "operation": { "methods": ["GET"], "ports": ["9000"] } }] }] }),
    );
    let deny = world(
        json!({ "action": "DENY", "rules": [{ "to": [{ "operation": { "methods": ["DELETE"] } }] }] }),
    );
    check(
        &allow,
        &[(
            "ALLOW with methods on TCP",
            tcp(at(&sleep), at(&httpbin), 9000),
            Refused,
        )],
    );
    check(
        &deny,
        &[(
            "DENY with methods on TCP",
            tcp(at(&sleep), at(&httpbin), 9000),
            Refused,
        )],
    );
    let ports =
        world(json!({ "rules": [{ "to": [{ "operation": { "ports": ["9000", "9001"] } }] }] }));
    check(
        &ports,
        &[
            ("ports 9000", tcp(at(&sleep), at(&httpbin), 9000), Allowed),
            ("port 9002", tcp(at(&sleep), at(&httpbin), 9002), Refused),
        ],
    );
}

/// The guide's security-policies.yaml: two rules, the second (`to` only) admits any caller;
/// as one rule with `from` and `to` only the ingress gateway gets in. Plaintext callers have
/// no principal, so a principals rule refuses them even under PERMISSIVE.
#[test]
fn the_guides_policy_and_its_correction() {
    let gateway = Pod {
        service_account: "istio-ingressgateway-service-account".into(),
        ..pod(
            "istio-system",
            "gw",
            &[("istio", "ingressgateway")],
            "10.244.0.2",
        )
    };
    let neighbour = pod("sealos-system", "resources-controller", &[], "10.244.0.3");
    let terminal = pod("sealos-system", "terminal-controller", &[], "10.244.0.4");
    let principal = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";
    let guide = json!({ "rules": [
        { "from": [{ "source": { "principals": [principal] } }] },
        { "to": [{ "operation": { "methods": ["GET", "POST", "PUT", "DELETE"] } }] },
    ] });
    let fixed = json!({ "rules": [{
        "from": [{ "source": { "principals": [principal] } }],
        "to": [{ "operation": { "methods": ["GET", "POST", "PUT", "DELETE"] } }],
    }] });
    let world = |spec: Value| World {
        authorization_policies: vec![authz("sealos-system", "sealos-system-access", spec)],
        ..World::default()
    };
    let v = evaluate(
        &world(guide.clone()),
        &http(at(&neighbour), at(&terminal), 8080, "GET", "/"),
    );
    assert_eq!(v.decision, Allowed);
    assert_eq!(v.deciders()[0].rule.as_deref(), Some("rules[1]"), "{v:#?}");
    check(
        &world(fixed),
        &[
            (
                "gateway GET",
                http(at(&gateway), at(&terminal), 8080, "GET", "/"),
                Allowed,
            ),
            (
                "neighbour GET",
                http(at(&neighbour), at(&terminal), 8080, "GET", "/"),
                Refused,
            ),
            (
                "gateway PATCH",
                http(at(&gateway), at(&terminal), 8080, "PATCH", "/"),
                Refused,
            ),
        ],
    );
    let rules: Vec<AuthzRule> = guide["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| AuthzRule::parse(r).unwrap())
        .collect();
    assert_eq!(
        rules.iter().map(rule_admits_any_caller).collect::<Vec<_>>(),
        [false, true]
    );
}
