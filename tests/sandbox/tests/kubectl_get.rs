//! `kubectl get` against the seeded sandbox, for every kind the sandbox serves.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Kubectl, header, sandbox};
use serde_json::Value;

/// (kubectl resource name, group, plural, namespaced)
const KINDS: &[(&str, &str, &str, bool)] = &[
    ("namespaces", "", "namespaces", false),
    ("pods", "", "pods", true),
    ("services", "", "services", true),
    ("endpoints", "", "endpoints", true),
    ("configmaps", "", "configmaps", true),
    ("secrets", "", "secrets", true),
    ("serviceaccounts", "", "serviceaccounts", true),
    ("nodes", "", "nodes", false),
    ("deployments.apps", "apps", "deployments", true),
    ("replicasets.apps", "apps", "replicasets", true),
    (
        "networkpolicies",
        "networking.k8s.io",
        "networkpolicies",
        true,
    ),
    ("ingresses", "networking.k8s.io", "ingresses", true),
    (
        "poddisruptionbudgets",
        "policy",
        "poddisruptionbudgets",
        true,
    ),
    (
        "customresourcedefinitions",
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        false,
    ),
    (
        "gateways.networking.istio.io",
        "networking.istio.io",
        "gateways",
        true,
    ),
    (
        "virtualservices",
        "networking.istio.io",
        "virtualservices",
        true,
    ),
    (
        "destinationrules",
        "networking.istio.io",
        "destinationrules",
        true,
    ),
    (
        "authorizationpolicies",
        "security.istio.io",
        "authorizationpolicies",
        true,
    ),
    (
        "peerauthentications",
        "security.istio.io",
        "peerauthentications",
        true,
    ),
    ("certificates", "cert-manager.io", "certificates", true),
    ("issuers", "cert-manager.io", "issuers", true),
    ("clusterissuers", "cert-manager.io", "clusterissuers", false),
    (
        "certificaterequests",
        "cert-manager.io",
        "certificaterequests",
        true,
    ),
    (
        "prometheusrules",
        "monitoring.coreos.com",
        "prometheusrules",
        true,
    ),
];

fn stored_names(sb: &sealos_sandbox::Sandbox, group: &str, plural: &str) -> Vec<String> {
    let mut v: Vec<String> = sb
        .objects(group, plural, None)
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_all_namespaces_lists_every_object_of_every_kind() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    for (res, group, plural, namespaced) in KINDS {
        let expected = stored_names(&sb, group, plural);
        assert!(!expected.is_empty(), "the sealos scenario has no {res}");
        let out = k.ok(&["get", res, "-A"]).await;
        let head = header(&out);
        if *namespaced {
            assert_eq!(
                head[..2],
                ["NAMESPACE".to_string(), "NAME".to_string()],
                "{res}: {out}"
            );
        } else {
            assert_eq!(head[0], "NAME", "{res}: {out}");
        }
        let col = usize::from(*namespaced);
        let mut got: Vec<String> = out
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(col).map(String::from))
            .collect();
        got.sort();
        assert_eq!(got, expected, "{res}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_and_jsonpath_carry_list_kind_and_resource_version() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    for (res, group, plural, _) in KINDS {
        let expected = stored_names(&sb, group, plural);
        let json: Value =
            serde_json::from_str(&k.ok(&["get", res, "-A", "-o", "json"]).await).unwrap();
        assert_eq!(
            json["items"].as_array().unwrap().len(),
            expected.len(),
            "{res}"
        );
        assert!(
            json["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["metadata"]["resourceVersion"].is_string()),
            "{res}"
        );
        let path = k
            .ok(&["get", res, "-A", "-o", "jsonpath={.items[*].metadata.name}"])
            .await;
        let mut got: Vec<String> = path.split_whitespace().map(String::from).collect();
        got.sort();
        assert_eq!(got, expected, "{res}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_lists_page_with_continue_for_every_kind() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    for (res, group, plural, _) in KINDS {
        let expected = stored_names(&sb, group, plural);
        let mark = sb.request_log().len();
        let out = k
            .ok(&["get", res, "-A", "--chunk-size=2", "-o", "name"])
            .await;
        assert_eq!(out.lines().count(), expected.len(), "{res}: {out}");
        let pages = sb
            .request_log()
            .since(mark)
            .iter()
            .filter(|r| {
                r.method == "GET"
                    && r.path.ends_with(&format!("/{plural}"))
                    && r.query.contains("limit=2")
            })
            .count();
        assert_eq!(pages, expected.len().div_ceil(2).max(1), "{res}: pages");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wide_tables_show_the_extra_columns() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let pods = k
        .ok(&["get", "pods", "-n", "istio-system", "-o", "wide"])
        .await;
    assert_eq!(
        header(&pods),
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED",
            "NODE",
            "READINESS",
            "GATES"
        ]
    );
    assert!(
        pods.lines().skip(1).all(|l| l.contains("Running")),
        "{pods}"
    );
    let deploys = k
        .ok(&["get", "deployments", "-n", "sealos-system", "-o", "wide"])
        .await;
    assert_eq!(
        header(&deploys),
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    let narrow = k.ok(&["get", "deployments", "-n", "sealos-system"]).await;
    assert_eq!(
        header(&narrow),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    );
    let certs = k.ok(&["get", "certificates", "-A"]).await;
    assert_eq!(
        header(&certs),
        ["NAMESPACE", "NAME", "READY", "SECRET", "AGE"]
    );
    let vs = k.ok(&["get", "virtualservices", "-A"]).await;
    assert_eq!(
        header(&vs),
        ["NAMESPACE", "NAME", "GATEWAYS", "HOSTS", "AGE"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_selectors_in_and_notin() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let pods = sb.objects("", "pods", None);
    let app = |p: &Value| p["metadata"]["labels"]["app"].as_str().map(String::from);
    let picked = ["istiod", "prometheus"];
    let mut expected_in: Vec<String> = pods
        .iter()
        .filter(|p| app(p).is_some_and(|a| picked.contains(&a.as_str())))
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    expected_in.sort();
    assert!(!expected_in.is_empty());
    let out = k
        .ok(&[
            "get",
            "pods",
            "-A",
            "-l",
            "app in (istiod,prometheus)",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ])
        .await;
    let mut got: Vec<String> = out.split_whitespace().map(String::from).collect();
    got.sort();
    assert_eq!(got, expected_in);
    let expected_notin = pods
        .iter()
        .filter(|p| !app(p).is_some_and(|a| picked.contains(&a.as_str())))
        .count();
    let out = k
        .ok(&[
            "get",
            "pods",
            "-A",
            "-l",
            "app notin (istiod,prometheus)",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(out.lines().count(), expected_notin);
    let none = k
        .run(&["get", "pods", "-A", "-l", "app in (no-such-app)"])
        .await;
    assert_eq!(none.code, 0);
    assert!(
        none.stderr.contains("No resources found"),
        "{}",
        none.describe()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_objects_are_worded_like_upstream() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let out = k
        .run(&["get", "deployment", "nope", "-n", "sealos-system"])
        .await;
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.trim(),
        "Error from server (NotFound): deployments.apps \"nope\" not found"
    );
    let out = k.run(&["get", "certificateissuer", "-A"]).await;
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.trim(),
        "error: the server doesn't have a resource type \"certificateissuer\""
    );
}
