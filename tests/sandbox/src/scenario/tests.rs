//! Whole-scenario checks: what the plugins' tests rely on is there and consistent.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use x509_parser::extensions::GeneralName;

use super::*;

fn now() -> jiff::Timestamp {
    "2026-11-25T10:00:00Z".parse().unwrap()
}

fn sealos_objects() -> Vec<Value> {
    builtin("sealos", now()).unwrap().unwrap()
}

fn kind_of(o: &Value) -> &str {
    o["kind"].as_str().unwrap()
}

fn name_of(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap()
}

fn ns_of(o: &Value) -> &str {
    o["metadata"]["namespace"].as_str().unwrap_or("")
}

fn of_kind<'a>(objs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objs.iter().filter(|o| kind_of(o) == kind).collect()
}

fn find<'a>(objs: &'a [Value], kind: &str, ns: &str, name: &str) -> Option<&'a Value> {
    objs.iter()
        .find(|o| kind_of(o) == kind && ns_of(o) == ns && name_of(o) == name)
}

fn subset_of(small: &Value, big: &Value) -> bool {
    small
        .as_object()
        .unwrap()
        .iter()
        .all(|(k, v)| big.get(k) == Some(v))
}

fn b64_decode(s: &Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s.as_str().unwrap())
        .unwrap()
}

/// Bytes of a memory quantity in the units the scenario uses.
fn memory_bytes(q: &str) -> f64 {
    for (suffix, factor) in [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
    ] {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<f64>().unwrap() * factor;
        }
    }
    q.parse().unwrap()
}

#[test]
fn unknown_names_are_none() {
    assert!(builtin("nope", now()).is_none());
    for name in BUILTIN_NAMES {
        assert!(builtin(name, now()).is_some());
    }
}

#[test]
fn empty_has_default_namespaces_nodes_kubernetes_service_and_crds() {
    let objs = builtin("empty", now()).unwrap().unwrap();
    let namespaces: Vec<&str> = of_kind(&objs, "Namespace")
        .into_iter()
        .map(name_of)
        .collect();
    assert_eq!(
        namespaces,
        ["default", "kube-system", "kube-public", "kube-node-lease"]
    );
    for ns in of_kind(&objs, "Namespace") {
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            name_of(ns)
        );
    }
    let nodes = of_kind(&objs, "Node");
    assert_eq!(nodes.len(), 3);
    for node in nodes {
        let ready = node["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "True");
        assert!(node["status"]["allocatable"]["cpu"].is_string());
        assert!(
            node["status"]["nodeInfo"]["kubeletVersion"]
                .as_str()
                .unwrap()
                .starts_with("v1.32")
        );
    }
    let svc = find(&objs, "Service", "default", "kubernetes").unwrap();
    assert_eq!(svc["spec"]["clusterIP"], "10.96.0.1");
    assert_eq!(of_kind(&objs, "CustomResourceDefinition").len(), 10);
    assert_eq!(objs.len(), 4 + 3 + 2 + 10);
    assert_eq!(kind_of(&objs[0]), "Namespace");
}

#[test]
fn counts_per_kind() {
    let objs = sealos_objects();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &objs {
        *counts.entry(kind_of(o)).or_default() += 1;
    }
    let expected: BTreeMap<&str, usize> = [
        ("AuthorizationPolicy", 1),
        ("Certificate", 8),
        ("CertificateRequest", 7),
        ("ClusterIssuer", 2),
        ("ConfigMap", 13),
        ("CustomResourceDefinition", 10),
        ("Deployment", 17),
        ("DestinationRule", 2),
        ("Endpoints", 16),
        ("Gateway", 1),
        ("Ingress", 1),
        ("Issuer", 2),
        ("Namespace", 11),
        ("NetworkPolicy", 1),
        ("Node", 3),
        ("PeerAuthentication", 1),
        ("PodDisruptionBudget", 5),
        ("PrometheusRule", 1),
        ("Secret", 11),
        ("Service", 16),
        ("ServiceAccount", 17),
        ("VirtualService", 4),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, expected);
}

#[test]
fn objects_are_complete_unique_and_in_existing_namespaces() {
    let objs = sealos_objects();
    let namespaces: BTreeSet<&str> = of_kind(&objs, "Namespace")
        .into_iter()
        .map(name_of)
        .collect();
    for ns in [
        "istio-system",
        "sealos-system",
        "monitoring",
        "cert-manager",
        "ns-alice",
        "ns-bob",
        "ns-carol",
    ] {
        assert!(namespaces.contains(ns), "{ns}");
    }
    let cluster_scoped = [
        "Namespace",
        "Node",
        "CustomResourceDefinition",
        "ClusterIssuer",
    ];
    let mut seen = BTreeSet::new();
    for o in &objs {
        assert!(
            o["apiVersion"].as_str().is_some_and(|v| !v.is_empty()),
            "{o}"
        );
        assert!(!name_of(o).is_empty());
        assert!(
            o["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .is_ok()
        );
        let ns = ns_of(o);
        if cluster_scoped.contains(&kind_of(o)) {
            assert!(
                ns.is_empty(),
                "{} {} is cluster-scoped",
                kind_of(o),
                name_of(o)
            );
        } else {
            assert!(
                namespaces.contains(ns),
                "{} {}/{}: namespace missing",
                kind_of(o),
                ns,
                name_of(o)
            );
        }
        assert!(
            seen.insert((
                kind_of(o).to_string(),
                ns.to_string(),
                name_of(o).to_string()
            )),
            "duplicate {o}"
        );
    }
    // Nothing is older than its namespace, and nothing was made in the future.
    for o in &objs {
        let created: jiff::Timestamp = o["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            created <= now(),
            "{} {} is from the future",
            kind_of(o),
            name_of(o)
        );
        if let Some(ns) = find(&objs, "Namespace", "", ns_of(o)) {
            let ns_created: jiff::Timestamp = ns["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                created >= ns_created,
                "{} {}/{} predates its namespace",
                kind_of(o),
                ns_of(o),
                name_of(o)
            );
        }
    }
    // Apply order: every Namespace before anything namespaced, CRDs before custom resources.
    let first_namespaced = objs.iter().position(|o| !ns_of(o).is_empty()).unwrap();
    assert!(
        objs[first_namespaced..]
            .iter()
            .all(|o| kind_of(o) != "Namespace")
    );
    let last_crd = objs
        .iter()
        .rposition(|o| kind_of(o) == "CustomResourceDefinition")
        .unwrap();
    let groups: BTreeSet<&str> = of_kind(&objs, "CustomResourceDefinition")
        .iter()
        .map(|c| c["spec"]["group"].as_str().unwrap())
        .collect();
    let first_custom = objs
        .iter()
        .position(|o| groups.contains(o["apiVersion"].as_str().unwrap().split('/').next().unwrap()))
        .unwrap();
    assert!(last_crd < first_custom);
}

#[test]
fn deployments_select_their_templates() {
    let objs = sealos_objects();
    for d in of_kind(&objs, "Deployment") {
        let selector = &d["spec"]["selector"]["matchLabels"];
        let template = &d["spec"]["template"]["metadata"]["labels"];
        assert!(subset_of(selector, template), "{}/{}", ns_of(d), name_of(d));
        assert_eq!(d["apiVersion"], "apps/v1");
        let containers = d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap();
        assert!(!containers.is_empty());
        for c in containers {
            assert!(c["name"].is_string() && c["image"].is_string());
        }
        assert_eq!(d["status"]["replicas"], d["spec"]["replicas"]);
    }
}

#[test]
fn services_select_pods_and_endpoints_match_replicas() {
    let objs = sealos_objects();
    let deployments = of_kind(&objs, "Deployment");
    for svc in of_kind(&objs, "Service") {
        let Some(selector) = svc["spec"].get("selector") else {
            continue;
        };
        let ns = ns_of(svc);
        let matching: Vec<&&Value> = deployments
            .iter()
            .filter(|d| {
                ns_of(d) == ns && subset_of(selector, &d["spec"]["template"]["metadata"]["labels"])
            })
            .collect();
        assert!(
            !matching.is_empty(),
            "service {ns}/{} selects no pods",
            name_of(svc)
        );
        let replicas: i64 = matching
            .iter()
            .map(|d| d["spec"]["replicas"].as_i64().unwrap())
            .sum();
        let ep = find(&objs, "Endpoints", ns, name_of(svc)).unwrap();
        let addresses = ep["subsets"][0]["addresses"].as_array().unwrap();
        assert_eq!(
            addresses.len() as i64,
            replicas,
            "endpoints of {ns}/{}",
            name_of(svc)
        );
        let ips: BTreeSet<&str> = addresses
            .iter()
            .map(|a| a["ip"].as_str().unwrap())
            .collect();
        assert_eq!(ips.len(), addresses.len());
    }
    let ips: BTreeSet<&str> = of_kind(&objs, "Service")
        .iter()
        .map(|s| s["spec"]["clusterIP"].as_str().unwrap())
        .collect();
    assert_eq!(
        ips.len(),
        of_kind(&objs, "Service").len(),
        "cluster IPs collide"
    );
}

/// The Service a VirtualService destination host names, resolved from the VS's namespace.
fn resolve<'a>(objs: &'a [Value], vs_ns: &str, host: &str) -> Option<&'a Value> {
    let host = host
        .trim_end_matches(".svc.cluster.local")
        .trim_end_matches(".svc");
    let (name, ns) = host.split_once('.').unwrap_or((host, vs_ns));
    find(objs, "Service", ns, name)
}

#[test]
fn virtual_services_route_to_real_services_ports_and_subsets() {
    let objs = sealos_objects();
    let mut hosts = BTreeSet::new();
    for vs in of_kind(&objs, "VirtualService") {
        for gw in vs["spec"]["gateways"].as_array().unwrap() {
            let (ns, name) = gw.as_str().unwrap().split_once('/').unwrap();
            assert!(find(&objs, "Gateway", ns, name).is_some(), "{gw}");
        }
        for h in vs["spec"]["hosts"].as_array().unwrap() {
            hosts.insert(h.as_str().unwrap().to_string());
        }
        for route in vs["spec"]["http"][0]["route"].as_array().unwrap() {
            let dest = &route["destination"];
            let host = dest["host"].as_str().unwrap();
            let svc =
                resolve(&objs, ns_of(vs), host).unwrap_or_else(|| panic!("no service for {host}"));
            let port = dest["port"]["number"].as_i64().unwrap();
            assert!(
                svc["spec"]["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["port"] == port),
                "{host}:{port}"
            );
            if let Some(subset) = dest["subset"].as_str() {
                let dr = of_kind(&objs, "DestinationRule")
                    .into_iter()
                    .find(|dr| {
                        resolve(&objs, ns_of(dr), dr["spec"]["host"].as_str().unwrap()) == Some(svc)
                    })
                    .unwrap();
                let def = dr["spec"]["subsets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["name"] == subset)
                    .unwrap();
                let mut subset_selector = svc["spec"]["selector"].clone();
                for (k, v) in def["labels"].as_object().unwrap() {
                    subset_selector[k] = v.clone();
                }
                assert!(
                    of_kind(&objs, "Deployment")
                        .iter()
                        .any(|d| ns_of(d) == ns_of(svc)
                            && subset_of(
                                &subset_selector,
                                &d["spec"]["template"]["metadata"]["labels"]
                            )),
                    "subset {subset} of {host} selects no pods"
                );
            }
        }
    }
    for guide_host in [
        "terminal-test.cloud.sealos.io",
        "dbadmin-test.cloud.sealos.io",
        "app-test.cloud.sealos.io",
    ] {
        assert!(hosts.contains(guide_host), "{guide_host}");
    }
    let gw = find(&objs, "Gateway", "istio-system", "sealos-gateway").unwrap();
    assert_eq!(gw["spec"]["selector"]["istio"], "ingressgateway");
    let credential = gw["spec"]["servers"][1]["tls"]["credentialName"]
        .as_str()
        .unwrap();
    let secret = find(&objs, "Secret", "istio-system", credential).unwrap();
    assert_eq!(secret["type"], "kubernetes.io/tls");
    let gw_pods = find(&objs, "Deployment", "istio-system", "istio-ingressgateway").unwrap();
    assert!(subset_of(
        &gw["spec"]["selector"],
        &gw_pods["spec"]["template"]["metadata"]["labels"]
    ));
}

fn parse_chain(pem: &[u8]) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(pem)
        .map(|p| p.unwrap().contents)
        .collect()
}

#[test]
fn certificates_have_real_secrets_that_match_their_status() {
    let objs = sealos_objects();
    let mut days_left = BTreeSet::new();
    for cert in of_kind(&objs, "Certificate") {
        let ns = ns_of(cert);
        let secret = find(
            &objs,
            "Secret",
            ns,
            cert["spec"]["secretName"].as_str().unwrap(),
        )
        .unwrap_or_else(|| panic!("secret of {ns}/{}", name_of(cert)));
        assert_eq!(secret["type"], "kubernetes.io/tls");
        assert_eq!(
            secret["metadata"]["annotations"]["cert-manager.io/certificate-name"],
            name_of(cert)
        );
        let chain = parse_chain(&b64_decode(&secret["data"]["tls.crt"]));
        let (_, x509) = x509_parser::parse_x509_certificate(&chain[0]).unwrap();
        let not_after: jiff::Timestamp = cert["status"]["notAfter"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let not_before: jiff::Timestamp = cert["status"]["notBefore"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            x509.validity().not_after.timestamp(),
            not_after.as_second(),
            "{}",
            name_of(cert)
        );
        assert_eq!(
            x509.validity().not_before.timestamp(),
            not_before.as_second()
        );
        let sans: BTreeSet<String> = x509
            .subject_alternative_name()
            .unwrap()
            .map(|s| {
                s.value
                    .general_names
                    .iter()
                    .filter_map(|n| match n {
                        GeneralName::DNSName(d) => Some((*d).to_string()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        for name in cert["spec"]["dnsNames"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            assert!(
                sans.contains(name.as_str().unwrap()),
                "{} lacks {name}",
                name_of(cert)
            );
        }
        // The issuer named in the Secret signed it: verify up the chain to ca.crt.
        let ca = parse_chain(&b64_decode(&secret["data"]["ca.crt"]));
        let (_, root) = x509_parser::parse_x509_certificate(&ca[0]).unwrap();
        let signer_der = chain.get(1).unwrap_or(&ca[0]);
        let (_, signer) = x509_parser::parse_x509_certificate(signer_der).unwrap();
        if cert["spec"]["isCA"] != true || chain.len() > 1 {
            x509.verify_signature(Some(signer.public_key())).unwrap();
        }
        if chain.len() > 1 {
            signer.verify_signature(Some(root.public_key())).unwrap();
        }
        let left = (not_after.as_second() - now().as_second()) / 86_400;
        days_left.insert(left);
        let ready = cert["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "True");
        let cr = find(
            &objs,
            "CertificateRequest",
            ns,
            &format!("{}-{}", name_of(cert), cert["status"]["revision"]),
        );
        assert!(
            cr.is_some() || cert["spec"]["isCA"] == true,
            "request of {}",
            name_of(cert)
        );
    }
    for d in [5, 20, 60, 80] {
        assert!(days_left.contains(&d), "{days_left:?}");
    }
    // The guide's conditions[0] is not always Ready.
    let failing = find(&objs, "Certificate", "ns-alice", "dbadmin-test-tls").unwrap();
    assert_eq!(failing["status"]["conditions"][0]["type"], "Issuing");
    assert_eq!(failing["status"]["failedIssuanceAttempts"], 2);
    // Chains of two from the namespaced CA issuer.
    let chained = find(&objs, "Secret", "ns-alice", "dbadmin-test-tls").unwrap();
    assert_eq!(
        parse_chain(&b64_decode(&chained["data"]["tls.crt"])).len(),
        2
    );
}

#[test]
fn issuers_are_backed_by_ca_secrets() {
    let objs = sealos_objects();
    let ca_issuers: Vec<(&str, &Value)> = of_kind(&objs, "ClusterIssuer")
        .into_iter()
        .map(|i| ("cert-manager", i))
        .chain(of_kind(&objs, "Issuer").into_iter().map(|i| (ns_of(i), i)))
        .collect();
    let mut with_ca = 0;
    for (secret_ns, issuer) in ca_issuers {
        if let Some(secret_name) = issuer["spec"]["ca"]["secretName"].as_str() {
            with_ca += 1;
            let secret = find(&objs, "Secret", secret_ns, secret_name).unwrap();
            let cert = String::from_utf8(b64_decode(&secret["data"]["tls.crt"])).unwrap();
            let key = String::from_utf8(b64_decode(&secret["data"]["tls.key"])).unwrap();
            // The Secret really is a CA that can sign.
            let ca = crate::pki::Ca::from_pem(&cert, &key).unwrap();
            let req = crate::pki::LeafRequest::for_dns(
                &["x.example"],
                now(),
                now() + jiff::SignedDuration::from_hours(1),
            );
            ca.issue(&req).unwrap();
        }
    }
    assert_eq!(with_ca, 2);
    assert!(
        of_kind(&objs, "ClusterIssuer")
            .iter()
            .any(|i| i["spec"]["selfSigned"].is_object())
    );
}

#[test]
fn controllers_carry_the_traffic_env_vars_on_manager() {
    let objs = sealos_objects();
    let mut seen = BTreeMap::new();
    for d in of_kind(&objs, "Deployment")
        .into_iter()
        .filter(|d| ns_of(d) == "sealos-system")
    {
        let containers = d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap();
        assert!(containers.iter().all(|c| c["name"] != "controller"));
        let idx = containers
            .iter()
            .position(|c| c["name"] == "manager")
            .unwrap();
        let env = containers[idx]["env"].as_array().unwrap();
        let get = |n: &str| {
            env.iter().find(|e| e["name"] == n).unwrap()["value"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert!(env.len() > 4);
        assert!(
            containers[idx]["ports"]
                .as_array()
                .is_some_and(|p| !p.is_empty())
        );
        assert!(
            containers[idx]["volumeMounts"]
                .as_array()
                .is_some_and(|m| !m.is_empty())
        );
        let proxy = containers
            .iter()
            .find(|c| c["name"] == "istio-proxy")
            .unwrap();
        assert_eq!(proxy["resources"]["limits"]["cpu"], "200m");
        assert_eq!(proxy["resources"]["limits"]["memory"], "256Mi");
        seen.insert(
            name_of(d).to_string(),
            (get("NETWORKING_MODE"), get("ISTIO_PERCENTAGE"), idx),
        );
    }
    let want = |m: &str, p: &str, i: usize| (m.to_string(), p.to_string(), i);
    assert_eq!(seen["terminal-controller"], want("dual", "50", 0));
    assert_eq!(seen["db-adminer-controller"], want("istio", "100", 1));
    assert_eq!(seen["resources-controller"], want("ingress", "0", 0));
    assert_eq!(seen["webhook-controller"], want("dual", "25", 0));
}

#[test]
fn guide_policies_are_present() {
    let objs = sealos_objects();
    let pa = find(&objs, "PeerAuthentication", "sealos-system", "sealos-mtls").unwrap();
    assert_eq!(pa["spec"]["mtls"]["mode"], "STRICT");
    let ap = find(
        &objs,
        "AuthorizationPolicy",
        "sealos-system",
        "sealos-system-access",
    )
    .unwrap();
    assert_eq!(
        ap["spec"]["rules"][0]["from"][0]["source"]["principals"][0],
        "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
    );
    assert!(
        find(
            &objs,
            "ServiceAccount",
            "istio-system",
            "istio-ingressgateway-service-account"
        )
        .is_some()
    );
    assert!(
        find(
            &objs,
            "NetworkPolicy",
            "sealos-system",
            "sealos-system-isolation"
        )
        .is_some()
    );
    let injector = find(&objs, "ConfigMap", "istio-system", "istio-sidecar-injector").unwrap();
    assert!(
        injector["data"]["config"]
            .as_str()
            .unwrap()
            .contains("memory: 256Mi")
    );
    assert!(find(&objs, "ConfigMap", "istio-system", "istio").unwrap()["data"]["mesh"].is_string());
    let prom = find(&objs, "Service", "monitoring", "prometheus").unwrap();
    assert_eq!(prom["spec"]["ports"][0]["port"], 9090);
    for name in [
        "cert-manager",
        "cert-manager-webhook",
        "cert-manager-cainjector",
    ] {
        assert!(
            find(&objs, "Deployment", "cert-manager", name).is_some(),
            "{name}"
        );
    }
    // A budget that blocks evicting any pod of app-test v1.
    let pdb = find(&objs, "PodDisruptionBudget", "ns-bob", "app-test").unwrap();
    assert_eq!(pdb["status"]["disruptionsAllowed"], 0);
}

#[test]
fn log_and_usage_knobs_parse() {
    let objs = sealos_objects();
    let istiod = find(&objs, "Deployment", "istio-system", "istiod").unwrap();
    let logs: Value = serde_json::from_str(
        istiod["spec"]["template"]["metadata"]["annotations"]["sandbox.sealos.io/logs"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let text = logs["discovery"].as_str().unwrap();
    let ten_minutes_ago = now() - jiff::SignedDuration::from_mins(10);
    let (mut recent_errors, mut old_errors, mut times) = (0, 0, Vec::new());
    for line in text.lines() {
        let (at, rest) = line.split_once('\t').unwrap();
        let at: jiff::Timestamp = at.parse().unwrap();
        times.push(at);
        if rest.starts_with("error") {
            if at >= ten_minutes_ago {
                recent_errors += 1
            } else {
                old_errors += 1
            }
        }
    }
    assert!(
        recent_errors >= 2 && old_errors >= 1,
        "{recent_errors} {old_errors}"
    );
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "log lines in time order"
    );
    let cm = find(&objs, "Deployment", "cert-manager", "cert-manager").unwrap();
    let cm_logs: Value = serde_json::from_str(
        cm["spec"]["template"]["metadata"]["annotations"]["sandbox.sealos.io/logs"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(
        cm_logs["cert-manager-controller"]
            .as_str()
            .unwrap()
            .lines()
            .any(|l| l.contains("\tE1125"))
    );

    let mut units = BTreeSet::new();
    let mut proxies_over_limit = Vec::new();
    for d in of_kind(&objs, "Deployment") {
        let annotations = &d["spec"]["template"]["metadata"]["annotations"];
        let usage: Value =
            serde_json::from_str(annotations["sandbox.sealos.io/usage"].as_str().unwrap()).unwrap();
        let containers = d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap();
        for (container, u) in usage.as_object().unwrap() {
            assert!(
                containers.iter().any(|c| c["name"] == container.as_str()),
                "{}: {container}",
                name_of(d)
            );
            let mem = u["memory"].as_str().unwrap();
            units.insert(
                mem.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.')
                    .to_string(),
            );
            if container == "istio-proxy" && memory_bytes(mem) > 256.0 * 1024.0 * 1024.0 {
                proxies_over_limit.push(format!("{}/{}", ns_of(d), name_of(d)));
            }
        }
        if containers.iter().any(|c| c["name"] == "istio-proxy") && ns_of(d) != "istio-system" {
            assert!(
                annotations["sidecar.istio.io/status"].is_string(),
                "{}",
                name_of(d)
            );
        }
    }
    for unit in ["Ki", "Mi", "Gi"] {
        assert!(units.contains(unit), "{units:?}");
    }
    assert_eq!(proxies_over_limit, ["ns-bob/app-test"]);
}

#[test]
fn builtin_kinds_deserialise_into_k8s_openapi_types() {
    use k8s_openapi::api::{apps, core, networking, policy};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    fn check<T: serde::de::DeserializeOwned>(o: &Value) {
        if let Err(e) = serde_json::from_value::<T>(o.clone()) {
            panic!("{} {}/{}: {e}", kind_of(o), ns_of(o), name_of(o));
        }
    }
    let objs = sealos_objects();
    for o in &objs {
        match kind_of(o) {
            "Namespace" => check::<core::v1::Namespace>(o),
            "Node" => check::<core::v1::Node>(o),
            "Service" => check::<core::v1::Service>(o),
            "Endpoints" => check::<core::v1::Endpoints>(o),
            "ConfigMap" => check::<core::v1::ConfigMap>(o),
            "Secret" => check::<core::v1::Secret>(o),
            "ServiceAccount" => check::<core::v1::ServiceAccount>(o),
            "Deployment" => check::<apps::v1::Deployment>(o),
            "PodDisruptionBudget" => check::<policy::v1::PodDisruptionBudget>(o),
            "NetworkPolicy" => check::<networking::v1::NetworkPolicy>(o),
            "Ingress" => check::<networking::v1::Ingress>(o),
            "CustomResourceDefinition" => check::<CustomResourceDefinition>(o),
            _ => {}
        }
    }
}

#[test]
fn times_are_relative_to_now() {
    let later: jiff::Timestamp = "2027-03-01T00:00:00Z".parse().unwrap();
    let a = sealos_objects();
    let b = builtin("sealos", later).unwrap().unwrap();
    let left = |objs: &[Value], now: jiff::Timestamp| {
        let c = find(objs, "Certificate", "ns-alice", "terminal-test-tls").unwrap();
        let not_after: jiff::Timestamp = c["status"]["notAfter"].as_str().unwrap().parse().unwrap();
        (not_after.as_second() - now.as_second()) / 86_400
    };
    assert_eq!(left(&a, now()), 5);
    assert_eq!(left(&b, later), 5);
}
