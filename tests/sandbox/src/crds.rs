//! deps: serde_json
//!
//! The CustomResourceDefinitions a Sealos cluster has installed: Istio networking and security,
//! cert-manager, and the Prometheus operator's PrometheusRule. Names, short names, categories,
//! scope, subresources and `additionalPrinterColumns` are upstream's (Istio's
//! `crd-all.gen.yaml`, cert-manager's `deploy/crds`, prometheus-operator's bundle), so that
//! `kubectl get` prints the columns it prints on a real cluster. Schemas accept any fields.

use serde_json::{Value, json};

/// Upstream's description of the `Age` column in Istio's CRDs.
const ISTIO_AGE: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC. Populated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/api-conventions.md#metadata";

/// Upstream's description of the `Age` column in cert-manager's CRDs.
const CERT_MANAGER_AGE: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.";

const READY: &str = r#".status.conditions[?(@.type == "Ready")].status"#;
const READY_MESSAGE: &str = r#".status.conditions[?(@.type == "Ready")].message"#;

struct Def {
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    cluster_scoped: bool,
    /// (name, storage); every listed version is served.
    versions: &'static [(&'static str, bool)],
    columns: Vec<Value>,
    labels: Value,
    annotations: Value,
}

/// The CRDs of the sealos scenario (and of `empty`: a Sealos cluster has them installed).
pub fn builtin_crds() -> Vec<Value> {
    defs().into_iter().map(to_crd).collect()
}

/// The group, version and plural of each built-in CRD's storage version, for callers that
/// need to know which custom resources exist without parsing the CRDs.
pub fn builtin_resources() -> Vec<(&'static str, &'static str, &'static str)> {
    defs()
        .into_iter()
        .map(|d| {
            let storage = d
                .versions
                .iter()
                .find(|(_, storage)| *storage)
                .map_or("v1", |(v, _)| *v);
            (d.group, storage, d.plural)
        })
        .collect()
}

fn column(
    name: &str,
    json_path: &str,
    ty: &str,
    description: Option<&str>,
    priority: i64,
) -> Value {
    let mut c = json!({ "name": name, "type": ty, "jsonPath": json_path });
    if let Some(d) = description {
        c["description"] = json!(d);
    }
    if priority != 0 {
        c["priority"] = json!(priority);
    }
    c
}

fn istio_age() -> Value {
    column(
        "Age",
        ".metadata.creationTimestamp",
        "date",
        Some(ISTIO_AGE),
        0,
    )
}

fn cert_manager_age() -> Value {
    column(
        "Age",
        ".metadata.creationTimestamp",
        "date",
        Some(CERT_MANAGER_AGE),
        0,
    )
}

fn istio_labels(extra: Option<(&str, &str)>) -> Value {
    let mut l =
        json!({ "app": "istio-pilot", "chart": "istio", "heritage": "Tiller", "release": "istio" });
    if let Some((k, v)) = extra {
        l[k] = json!(v);
    }
    l
}

fn cert_manager_labels() -> Value {
    json!({
        "app": "cert-manager",
        "app.kubernetes.io/instance": "cert-manager",
        "app.kubernetes.io/name": "cert-manager",
        "app.kubernetes.io/component": "crds",
    })
}

const ISTIO_VERSIONS: &[(&str, bool)] = &[("v1", true), ("v1beta1", false)];

fn defs() -> Vec<Def> {
    let keep = json!({ "helm.sh/resource-policy": "keep" });
    vec![
        Def {
            group: "networking.istio.io",
            kind: "Gateway",
            plural: "gateways",
            singular: "gateway",
            short_names: &["gw"],
            categories: &["istio-io", "networking-istio-io"],
            cluster_scoped: false,
            versions: ISTIO_VERSIONS,
            columns: vec![],
            labels: istio_labels(None),
            annotations: keep.clone(),
        },
        Def {
            group: "networking.istio.io",
            kind: "VirtualService",
            plural: "virtualservices",
            singular: "virtualservice",
            short_names: &["vs"],
            categories: &["istio-io", "networking-istio-io"],
            cluster_scoped: false,
            versions: ISTIO_VERSIONS,
            columns: vec![
                column(
                    "Gateways",
                    ".spec.gateways",
                    "string",
                    Some("The names of gateways and sidecars that should apply these routes"),
                    0,
                ),
                column(
                    "Hosts",
                    ".spec.hosts",
                    "string",
                    Some("The destination hosts to which traffic is being sent"),
                    0,
                ),
                istio_age(),
            ],
            labels: istio_labels(None),
            annotations: keep.clone(),
        },
        Def {
            group: "networking.istio.io",
            kind: "DestinationRule",
            plural: "destinationrules",
            singular: "destinationrule",
            short_names: &["dr"],
            categories: &["istio-io", "networking-istio-io"],
            cluster_scoped: false,
            versions: ISTIO_VERSIONS,
            columns: vec![
                column(
                    "Host",
                    ".spec.host",
                    "string",
                    Some("The name of a service from the service registry"),
                    0,
                ),
                istio_age(),
            ],
            labels: istio_labels(None),
            annotations: keep.clone(),
        },
        Def {
            group: "security.istio.io",
            kind: "AuthorizationPolicy",
            plural: "authorizationpolicies",
            singular: "authorizationpolicy",
            short_names: &["ap"],
            categories: &["istio-io", "security-istio-io"],
            cluster_scoped: false,
            versions: ISTIO_VERSIONS,
            columns: vec![
                column(
                    "Action",
                    ".spec.action",
                    "string",
                    Some("The operation to take."),
                    0,
                ),
                istio_age(),
            ],
            labels: istio_labels(Some(("istio", "security"))),
            annotations: keep.clone(),
        },
        Def {
            group: "security.istio.io",
            kind: "PeerAuthentication",
            plural: "peerauthentications",
            singular: "peerauthentication",
            short_names: &["pa"],
            categories: &["istio-io", "security-istio-io"],
            cluster_scoped: false,
            versions: ISTIO_VERSIONS,
            columns: vec![
                column(
                    "Mode",
                    ".spec.mtls.mode",
                    "string",
                    Some("Defines the mTLS mode used for peer authentication."),
                    0,
                ),
                istio_age(),
            ],
            labels: istio_labels(Some(("istio", "security"))),
            annotations: keep.clone(),
        },
        Def {
            group: "cert-manager.io",
            kind: "Certificate",
            plural: "certificates",
            singular: "certificate",
            short_names: &["cert", "certs"],
            categories: &["cert-manager"],
            cluster_scoped: false,
            versions: &[("v1", true)],
            columns: vec![
                column("Ready", READY, "string", None, 0),
                column("Secret", ".spec.secretName", "string", None, 0),
                column("Issuer", ".spec.issuerRef.name", "string", None, 1),
                column("Status", READY_MESSAGE, "string", None, 1),
                cert_manager_age(),
            ],
            labels: cert_manager_labels(),
            annotations: keep.clone(),
        },
        Def {
            group: "cert-manager.io",
            kind: "CertificateRequest",
            plural: "certificaterequests",
            singular: "certificaterequest",
            short_names: &["cr", "crs"],
            categories: &["cert-manager"],
            cluster_scoped: false,
            versions: &[("v1", true)],
            columns: vec![
                column(
                    "Approved",
                    r#".status.conditions[?(@.type == "Approved")].status"#,
                    "string",
                    None,
                    0,
                ),
                column(
                    "Denied",
                    r#".status.conditions[?(@.type == "Denied")].status"#,
                    "string",
                    None,
                    0,
                ),
                column("Ready", READY, "string", None, 0),
                column("Issuer", ".spec.issuerRef.name", "string", None, 0),
                column("Requester", ".spec.username", "string", None, 0),
                column("Status", READY_MESSAGE, "string", None, 1),
                cert_manager_age(),
            ],
            labels: cert_manager_labels(),
            annotations: keep.clone(),
        },
        Def {
            group: "cert-manager.io",
            kind: "Issuer",
            plural: "issuers",
            singular: "issuer",
            short_names: &["iss"],
            categories: &["cert-manager"],
            cluster_scoped: false,
            versions: &[("v1", true)],
            columns: vec![
                column("Ready", READY, "string", None, 0),
                column("Status", READY_MESSAGE, "string", None, 1),
                cert_manager_age(),
            ],
            labels: cert_manager_labels(),
            annotations: keep.clone(),
        },
        Def {
            group: "cert-manager.io",
            kind: "ClusterIssuer",
            plural: "clusterissuers",
            singular: "clusterissuer",
            short_names: &["ciss"],
            categories: &["cert-manager"],
            cluster_scoped: true,
            versions: &[("v1", true)],
            columns: vec![
                column("Ready", READY, "string", None, 0),
                column("Status", READY_MESSAGE, "string", None, 1),
                cert_manager_age(),
            ],
            labels: cert_manager_labels(),
            annotations: keep,
        },
        Def {
            group: "monitoring.coreos.com",
            kind: "PrometheusRule",
            plural: "prometheusrules",
            singular: "prometheusrule",
            short_names: &["promrule"],
            categories: &["prometheus-operator"],
            cluster_scoped: false,
            versions: &[("v1", true)],
            columns: vec![],
            labels: json!({ "app.kubernetes.io/name": "prometheus-operator" }),
            annotations: json!({ "operator.prometheus.io/version": "0.85.0" }),
        },
    ]
}

fn to_crd(d: Def) -> Value {
    let name = format!("{}.{}", d.plural, d.group);
    let versions: Vec<Value> = d
        .versions
        .iter()
        .map(|(version, storage)| {
            let mut v = json!({
                "name": version,
                "served": true,
                "storage": storage,
                "schema": {
                    "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
                },
                "subresources": { "status": {} },
            });
            if !d.columns.is_empty() {
                v["additionalPrinterColumns"] = json!(d.columns);
            }
            v
        })
        .collect();
    let mut names = json!({
        "kind": d.kind,
        "listKind": format!("{}List", d.kind),
        "plural": d.plural,
        "singular": d.singular,
    });
    if !d.short_names.is_empty() {
        names["shortNames"] = json!(d.short_names);
    }
    if !d.categories.is_empty() {
        names["categories"] = json!(d.categories);
    }
    let stored: Vec<&str> = d
        .versions
        .iter()
        .filter(|(_, s)| *s)
        .map(|(v, _)| *v)
        .collect();
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": name, "labels": d.labels, "annotations": d.annotations },
        "spec": {
            "group": d.group,
            "names": names,
            "scope": if d.cluster_scoped { "Cluster" } else { "Namespaced" },
            "versions": versions,
            "conversion": { "strategy": "None" },
        },
        "status": {
            "acceptedNames": names,
            "storedVersions": stored,
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                },
            ],
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn find<'a>(crds: &'a [Value], name: &str) -> &'a Value {
        crds.iter().find(|c| c["metadata"]["name"] == name).unwrap()
    }

    fn column_names(crd: &Value, version: usize) -> Vec<String> {
        crd["spec"]["versions"][version]["additionalPrinterColumns"]
            .as_array()
            .map(|cols| {
                cols.iter()
                    .map(|c| c["name"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn all_ten_kinds_are_defined_once() {
        let crds = builtin_crds();
        let mut names: Vec<&str> = crds
            .iter()
            .map(|c| c["metadata"]["name"].as_str().unwrap())
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "authorizationpolicies.security.istio.io",
                "certificaterequests.cert-manager.io",
                "certificates.cert-manager.io",
                "clusterissuers.cert-manager.io",
                "destinationrules.networking.istio.io",
                "gateways.networking.istio.io",
                "issuers.cert-manager.io",
                "peerauthentications.security.istio.io",
                "prometheusrules.monitoring.coreos.com",
                "virtualservices.networking.istio.io",
            ]
        );
        assert_eq!(builtin_resources().len(), crds.len());
    }

    #[test]
    fn printer_columns_are_upstreams() {
        let crds = builtin_crds();
        assert_eq!(
            column_names(find(&crds, "virtualservices.networking.istio.io"), 0),
            ["Gateways", "Hosts", "Age"]
        );
        assert_eq!(
            column_names(find(&crds, "destinationrules.networking.istio.io"), 1),
            ["Host", "Age"]
        );
        assert_eq!(
            column_names(find(&crds, "peerauthentications.security.istio.io"), 0),
            ["Mode", "Age"]
        );
        assert_eq!(
            column_names(find(&crds, "authorizationpolicies.security.istio.io"), 0),
            ["Action", "Age"]
        );
        assert!(column_names(find(&crds, "gateways.networking.istio.io"), 0).is_empty());
        let cert = find(&crds, "certificates.cert-manager.io");
        assert_eq!(
            column_names(cert, 0),
            ["Ready", "Secret", "Issuer", "Status", "Age"]
        );
        let cols = &cert["spec"]["versions"][0]["additionalPrinterColumns"];
        assert_eq!(
            cols[0]["jsonPath"],
            r#".status.conditions[?(@.type == "Ready")].status"#
        );
        assert_eq!(cols[2]["priority"], 1);
        assert!(cols[0].get("priority").is_none());
        assert_eq!(
            column_names(find(&crds, "certificaterequests.cert-manager.io"), 0),
            [
                "Approved",
                "Denied",
                "Ready",
                "Issuer",
                "Requester",
                "Status",
                "Age"
            ]
        );
        assert_eq!(
            column_names(find(&crds, "clusterissuers.cert-manager.io"), 0),
            ["Ready", "Status", "Age"]
        );
    }

    #[test]
    fn names_scope_and_versions_are_upstreams() {
        let crds = builtin_crds();
        let ci = find(&crds, "clusterissuers.cert-manager.io");
        assert_eq!(ci["spec"]["scope"], "Cluster");
        assert_eq!(ci["spec"]["names"]["shortNames"], json!(["ciss"]));
        let cert = find(&crds, "certificates.cert-manager.io");
        assert_eq!(
            cert["spec"]["names"]["shortNames"],
            json!(["cert", "certs"])
        );
        assert_eq!(cert["spec"]["names"]["listKind"], "CertificateList");
        let gw = find(&crds, "gateways.networking.istio.io");
        assert_eq!(
            gw["spec"]["names"]["categories"],
            json!(["istio-io", "networking-istio-io"])
        );
        let versions = gw["spec"]["versions"].as_array().unwrap();
        assert_eq!(versions.len(), 2);
        assert_eq!(versions.iter().filter(|v| v["storage"] == true).count(), 1);
        assert_eq!(versions[0]["name"], "v1");
        assert_eq!(gw["status"]["storedVersions"], json!(["v1"]));
        for crd in &crds {
            assert_eq!(crd["apiVersion"], "apiextensions.k8s.io/v1");
            for v in crd["spec"]["versions"].as_array().unwrap() {
                assert_eq!(v["subresources"]["status"], json!({}));
                assert_eq!(
                    v["schema"]["openAPIV3Schema"]["x-kubernetes-preserve-unknown-fields"],
                    true
                );
            }
            let group = crd["spec"]["group"].as_str().unwrap();
            let plural = crd["spec"]["names"]["plural"].as_str().unwrap();
            assert_eq!(crd["metadata"]["name"], format!("{plural}.{group}"));
        }
    }
}
