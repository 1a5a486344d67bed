//! The `cert-manager` namespace: cert-manager's three Deployments (the controller's logs carry
//! some errors), its Services, the cluster's ClusterIssuers (`selfsigned`, and `sealos-ca`
//! backed by a real root CA Secret made by the isCA Certificate `sealos-root-ca`).

use serde_json::{Value, json};

use super::ScenarioError;
use super::certificates::{Pki, ca_certificate};
use super::objects::{
    Port, Workload, days_ago, deployment, endpoints, labels, log_lines, meta, namespace, pod_ips,
    resources, rfc3339, service, service_account,
};

const NS: &str = "cert-manager";
const VERSION: &str = "v1.16.2";

pub(super) fn objects(now: jiff::Timestamp, pki: &Pki) -> Result<Vec<Value>, ScenarioError> {
    let created = days_ago(now, 390);
    let mut out = vec![namespace(NS, &[("name", NS)], created)];
    for (name, component, image, args, port) in [
        (
            "cert-manager",
            "controller",
            "cert-manager-controller",
            vec![
                "--v=2",
                "--cluster-resource-namespace=$(POD_NAMESPACE)",
                "--leader-election-namespace=kube-system",
            ],
            9402,
        ),
        (
            "cert-manager-webhook",
            "webhook",
            "cert-manager-webhook",
            vec![
                "--v=2",
                "--secure-port=10250",
                "--dynamic-serving-ca-secret-namespace=$(POD_NAMESPACE)",
            ],
            10250,
        ),
        (
            "cert-manager-cainjector",
            "cainjector",
            "cert-manager-cainjector",
            vec!["--v=2", "--leader-election-namespace=kube-system"],
            9402,
        ),
    ] {
        let app_labels = labels(&[
            ("app", name),
            ("app.kubernetes.io/name", name),
            ("app.kubernetes.io/instance", "cert-manager"),
            ("app.kubernetes.io/component", component),
            ("app.kubernetes.io/version", VERSION),
        ]);
        let selector = labels(&[
            ("app.kubernetes.io/name", name),
            ("app.kubernetes.io/instance", "cert-manager"),
            ("app.kubernetes.io/component", component),
        ]);
        out.push(service_account(NS, name, app_labels.clone(), created));
        let mut annotations = json!({
            "sandbox.sealos.io/usage": json!({ image: { "cpu": "3m", "memory": "38Mi" } }).to_string(),
        });
        if component == "controller" {
            annotations["sandbox.sealos.io/logs"] =
                json!(json!({ image: controller_logs(now) }).to_string());
            annotations["prometheus.io/path"] = json!("/metrics");
            annotations["prometheus.io/scrape"] = json!("true");
            annotations["prometheus.io/port"] = json!("9402");
        }
        let container = json!({
            "name": image,
            "image": format!("quay.io/jetstack/{image}:{VERSION}"),
            "imagePullPolicy": "IfNotPresent",
            "args": args,
            "env": [{ "name": "POD_NAMESPACE", "valueFrom": { "fieldRef": { "apiVersion": "v1", "fieldPath": "metadata.namespace" } } }],
            "ports": [{ "name": if component == "webhook" { "https" } else { "http-metrics" }, "containerPort": port, "protocol": "TCP" }],
            "resources": resources("10m", "32Mi", "100m", "128Mi"),
            "securityContext": { "allowPrivilegeEscalation": false, "capabilities": { "drop": ["ALL"] }, "readOnlyRootFilesystem": true },
        });
        out.push(deployment(Workload {
            ns: NS,
            name,
            replicas: 1,
            labels: app_labels.clone(),
            selector: selector.clone(),
            pod_labels: app_labels.clone(),
            pod_annotations: annotations,
            service_account: name,
            containers: vec![container],
            init_containers: vec![],
            volumes: vec![],
            created,
        }));
        let ports: &[Port<'_>] = match component {
            "controller" => &[("tcp-prometheus-servicemonitor", 9402, 9402)],
            "webhook" => &[("https", 443, 10250)],
            _ => &[],
        };
        if !ports.is_empty() {
            out.push(service(
                NS,
                name,
                app_labels.clone(),
                selector,
                ports,
                created,
            ));
            out.push(endpoints(
                NS,
                name,
                app_labels,
                &pod_ips(NS, name, 1),
                ports,
                created,
            ));
        }
    }

    out.push(cluster_issuer(
        "selfsigned",
        json!({ "selfSigned": {} }),
        "",
        created,
    ));
    out.push(cluster_issuer(
        "sealos-ca",
        json!({ "ca": { "secretName": "sealos-root-ca" } }),
        "KeyPairVerified",
        created,
    ));
    out.extend(ca_certificate(
        NS,
        "sealos-root-ca",
        "Sealos Root CA",
        &pki.root,
        pki.root.cert_pem(),
        pki.root_validity,
        ("ClusterIssuer", "selfsigned"),
    ));
    Ok(out)
}

/// A Ready ClusterIssuer; `reason` empty means the selfSigned issuer's empty reason.
fn cluster_issuer(name: &str, spec: Value, reason: &str, created: jiff::Timestamp) -> Value {
    let (reason, message) = if reason.is_empty() {
        ("IsReady", "")
    } else {
        (reason, "Signing CA verified")
    };
    let mut m = meta(name, None, json!({}), created);
    m["generation"] = json!(1);
    json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": m,
        "spec": spec,
        "status": { "conditions": [{
            "type": "Ready", "status": "True", "reason": reason, "message": message,
            "lastTransitionTime": rfc3339(created), "observedGeneration": 1,
        }] },
    })
}

/// cert-manager's controller log: klog lines behind the runtime's RFC 3339 time, some of them
/// errors within the last ten minutes, some older.
fn controller_logs(now: jiff::Timestamp) -> String {
    let lines: &[(i64, char, &str)] = &[
        (
            180,
            'I',
            "controller.go:241] \"starting controller\" logger=\"cert-manager.controller\" controller=\"certificates-trigger\"",
        ),
        (
            95,
            'E',
            "controller.go:167] \"re-queuing item due to error processing\" err=\"Operation cannot be fulfilled on certificates.cert-manager.io \\\"app-test-tls\\\": the object has been modified\" logger=\"cert-manager.controller\"",
        ),
        (
            40,
            'I',
            "conditions.go:203] \"Setting lastTransitionTime for Certificate condition\" logger=\"cert-manager.controller\" condition=\"Ready\"",
        ),
        (
            25,
            'E',
            "sync.go:128] \"propagation check failed\" err=\"CertificateRequest ns-alice/dbadmin-test-tls-4 failed: the CSR's DNS names do not match the issuer's policy\" logger=\"cert-manager.controller\"",
        ),
        (
            8,
            'I',
            "trigger_controller.go:223] \"Certificate must be re-issued\" logger=\"cert-manager.controller\" key=\"ns-alice/terminal-test-tls\" reason=\"Renewing\"",
        ),
        (
            6,
            'E',
            "controller.go:167] \"re-queuing item due to error processing\" err=\"failed to sign certificate: issuer ns-alice/alice-ca not ready\" logger=\"cert-manager.controller\"",
        ),
        (
            2,
            'E',
            "certificaterequests.go:136] \"error issuing certificate request\" err=\"context deadline exceeded\" logger=\"cert-manager.controller\" resource_name=\"terminal-test-tls-4\"",
        ),
        (
            1,
            'I',
            "setup.go:208] \"skipping re-verifying ACME account as cached registration details look sufficient\" logger=\"cert-manager.controller\"",
        ),
    ];
    let klog: Vec<(i64, String)> = lines
        .iter()
        .map(|(ago, level, text)| {
            let at = now - jiff::SignedDuration::from_mins(*ago);
            (
                *ago,
                format!("{level}{}       1 {text}", at.strftime("%m%d %H:%M:%S%.6f")),
            )
        })
        .collect();
    let borrowed: Vec<(i64, &str)> = klog.iter().map(|(ago, l)| (*ago, l.as_str())).collect();
    log_lines(now, &borrowed)
}
