//! `sealos-system`: the four Sealos controllers the guide shifts between Ingress and Istio.
//! Each has its traffic env vars on a container named `manager` (not the guide's assumed
//! `controller`) among other env vars, ports, mounts, and an `istio-proxy` sidecar; in
//! db-adminer-controller the sidecar comes first, so the guide's `containers[0]` reads the
//! wrong container. Also their Services, ConfigMaps, Secrets, the webhook's serving
//! certificate, and the guide's STRICT PeerAuthentication, AuthorizationPolicy and NetworkPolicy.

use serde_json::{Value, json};

use super::ScenarioError;
use super::certificates::{Issuance, Pki, Signer, TlsCert, tls_certificate};
use super::objects::{
    Workload, config_map, days_ago, deployment, endpoints, env, env_from_field, istio_init,
    istio_proxy, istio_volumes, labels, meta, namespace, pdb, pod_ips, resources, rfc3339, secret,
    service, service_account, sidecar_status,
};

pub(super) const NS: &str = "sealos-system";

/// A controller and how far its traffic has moved to Istio.
pub(super) struct Controller {
    pub name: &'static str,
    pub mode: &'static str,
    pub percentage: &'static str,
    pub replicas: i64,
    /// Whether `istio-proxy` is containers[0] and `manager` second.
    pub sidecar_first: bool,
    /// What the metrics API reports: (manager cpu, manager memory, proxy cpu, proxy memory).
    pub usage: (&'static str, &'static str, &'static str, &'static str),
}

pub(super) const CONTROLLERS: &[Controller] = &[
    Controller {
        name: "terminal-controller",
        mode: "dual",
        percentage: "50",
        replicas: 2,
        sidecar_first: false,
        usage: ("12m", "58Mi", "9m", "96Mi"),
    },
    Controller {
        name: "db-adminer-controller",
        mode: "istio",
        percentage: "100",
        replicas: 1,
        sidecar_first: true,
        usage: ("7m", "61440Ki", "6m", "121Mi"),
    },
    Controller {
        name: "resources-controller",
        mode: "ingress",
        percentage: "0",
        replicas: 1,
        sidecar_first: false,
        usage: ("31m", "0.12Gi", "14m", "236544Ki"),
    },
    Controller {
        name: "webhook-controller",
        mode: "dual",
        percentage: "25",
        replicas: 1,
        sidecar_first: false,
        usage: ("4m", "41Mi", "5m", "88Mi"),
    },
];

/// The serving certificate Secret webhook-controller mounts.
const WEBHOOK_CERT: &str = "webhook-controller-serving-cert";

pub(super) fn objects(now: jiff::Timestamp, pki: &Pki) -> Result<Vec<Value>, ScenarioError> {
    let created = days_ago(now, 380);
    let mut out = vec![namespace(
        NS,
        &[("name", NS), ("istio-injection", "enabled")],
        created,
    )];
    for c in CONTROLLERS {
        out.extend(controller(c, created));
    }
    out.push(config_map(
        NS,
        "sealos-config",
        labels(&[("app.kubernetes.io/part-of", "sealos")]),
        &[
            ("cloudDomain", "cloud.sealos.io"),
            ("cloudPort", "443"),
            ("networkingMode", "dual"),
            ("istioGateway", super::istio::GATEWAY_REF),
            ("ingressClass", "nginx"),
        ],
        created,
    ));
    out.push(secret(
        NS,
        "sealos-cloud-secret",
        "Opaque",
        labels(&[("app.kubernetes.io/part-of", "sealos")]),
        &[
            ("jwt-internal", "sandbox-jwt-internal-signing-key"),
            ("jwt-regional", "sandbox-jwt-regional-signing-key"),
        ],
        created,
    ));

    // The webhook's serving certificate, from a namespaced selfSigned Issuer.
    let mut issuer_meta = meta("selfsigned-issuer", Some(NS), json!({}), created);
    issuer_meta["generation"] = json!(1);
    out.push(json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": issuer_meta,
        "spec": { "selfSigned": {} },
        "status": { "conditions": [{
            "type": "Ready", "status": "True", "reason": "IsReady", "message": "",
            "lastTransitionTime": rfc3339(created), "observedGeneration": 1,
        }] },
    }));
    out.extend(tls_certificate(
        pki,
        &TlsCert {
            ns: NS,
            name: "webhook-controller-serving-cert",
            secret_name: WEBHOOK_CERT,
            dns_names: &[
                "webhook-controller.sealos-system.svc",
                "webhook-controller.sealos-system.svc.cluster.local",
            ],
            signer: Signer::SelfSigned("Issuer", "selfsigned-issuer"),
            days_left: 300,
            duration_days: 365,
            revision: 2,
            issuance: Issuance::Ready,
            created,
        },
    )?);

    out.extend(guide_policies(created));
    out.push(pdb(
        NS,
        "terminal-controller",
        labels(&[("app", "terminal-controller")]),
        ("minAvailable", 1),
        2,
        created,
    ));
    out.push(pdb(
        NS,
        "db-adminer-controller",
        labels(&[("app", "db-adminer-controller")]),
        ("maxUnavailable", 1),
        1,
        created,
    ));
    Ok(out)
}

fn controller(c: &Controller, created: jiff::Timestamp) -> Vec<Value> {
    let name = c.name;
    let obj_labels = labels(&[
        ("app", name),
        ("app.kubernetes.io/name", name),
        ("app.kubernetes.io/part-of", "sealos"),
        ("control-plane", "controller-manager"),
    ]);
    let selector = labels(&[("app", name), ("control-plane", "controller-manager")]);
    let mut manager_env = env(&[("DOMAIN", "cloud.sealos.io"), ("NETWORKING_MODE", c.mode)]);
    manager_env.push(env_from_field("POD_NAMESPACE", "metadata.namespace"));
    manager_env.extend(env(&[
        ("INGRESS_CLASS", "nginx"),
        ("ISTIO_PERCENTAGE", c.percentage),
        ("ISTIO_GATEWAY", super::istio::GATEWAY_REF),
        ("LOG_LEVEL", "info"),
    ]));
    if name == "terminal-controller" {
        manager_env.push(
            json!({ "name": "TERMINAL_IMAGE", "value": "ghcr.io/labring/docker-terminal:v1.21.0" }),
        );
    }
    let mut mounts = vec![json!({ "name": "config", "mountPath": "/config", "readOnly": true })];
    let mut volumes =
        vec![json!({ "name": "config", "configMap": { "name": format!("{name}-config") } })];
    if name == "webhook-controller" {
        mounts.push(json!({ "name": "cert", "mountPath": "/tmp/k8s-webhook-server/serving-certs", "readOnly": true }));
        volumes.push(
            json!({ "name": "cert", "secret": { "secretName": WEBHOOK_CERT, "defaultMode": 420 } }),
        );
    }
    volumes.extend(istio_volumes());
    let manager = json!({
        "name": "manager",
        "image": format!("ghcr.io/labring/sealos-{name}:v5.0.1"),
        "imagePullPolicy": "IfNotPresent",
        "command": ["/manager"],
        "args": ["--leader-elect", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081", "--config=/config/config.yaml"],
        "env": manager_env,
        "ports": [
            { "name": "webhook-server", "containerPort": 9443, "protocol": "TCP" },
            { "name": "metrics", "containerPort": 8080, "protocol": "TCP" },
            { "name": "health", "containerPort": 8081, "protocol": "TCP" },
        ],
        "livenessProbe": { "httpGet": { "path": "/healthz", "port": 8081, "scheme": "HTTP" }, "initialDelaySeconds": 15, "periodSeconds": 20 },
        "readinessProbe": { "httpGet": { "path": "/readyz", "port": 8081, "scheme": "HTTP" }, "initialDelaySeconds": 5, "periodSeconds": 10 },
        "resources": resources("10m", "64Mi", "500m", "256Mi"),
        "securityContext": { "allowPrivilegeEscalation": false, "capabilities": { "drop": ["ALL"] } },
        "volumeMounts": mounts,
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    });
    let containers = if c.sidecar_first {
        vec![istio_proxy(), manager]
    } else {
        vec![manager, istio_proxy()]
    };
    let (m_cpu, m_mem, p_cpu, p_mem) = c.usage;
    let usage = json!({
        "manager": { "cpu": m_cpu, "memory": m_mem },
        "istio-proxy": { "cpu": p_cpu, "memory": p_mem },
    });
    let deploy = deployment(Workload {
        ns: NS,
        name,
        replicas: c.replicas,
        labels: obj_labels.clone(),
        selector: selector.clone(),
        pod_labels: labels(&[
            ("security.istio.io/tlsMode", "istio"),
            ("service.istio.io/canonical-name", name),
            ("service.istio.io/canonical-revision", "v5.0.1"),
        ]),
        pod_annotations: json!({
            "kubectl.kubernetes.io/default-container": "manager",
            "kubectl.kubernetes.io/default-logs-container": "manager",
            "prometheus.io/path": "/stats/prometheus",
            "prometheus.io/port": "15020",
            "prometheus.io/scrape": "true",
            "sidecar.istio.io/status": sidecar_status(),
            "sandbox.sealos.io/usage": usage.to_string(),
        }),
        service_account: name,
        containers,
        init_containers: vec![istio_init()],
        volumes,
        created,
    });
    let ports = [("https-webhook", 443, 9443), ("http-metrics", 8080, 8080)];
    let config = format!(
        "domain: cloud.sealos.io\nnetworking:\n  mode: {}\n  istioPercentage: {}\n  gateway: {}\n  ingressClass: nginx\nleaderElection: true\n",
        c.mode,
        c.percentage,
        super::istio::GATEWAY_REF
    );
    vec![
        service_account(NS, name, obj_labels.clone(), created),
        config_map(
            NS,
            &format!("{name}-config"),
            obj_labels.clone(),
            &[("config.yaml", &config)],
            created,
        ),
        deploy,
        service(NS, name, obj_labels.clone(), selector, &ports, created),
        endpoints(
            NS,
            name,
            obj_labels,
            &pod_ips(NS, name, c.replicas as usize),
            &ports,
            created,
        ),
    ]
}

/// The guide's security-policies.yaml and network-policies.yaml, as applied.
fn guide_policies(created: jiff::Timestamp) -> Vec<Value> {
    let with_generation = |name: &str| {
        let mut m = meta(name, Some(NS), json!({}), created);
        m["generation"] = json!(1);
        m
    };
    vec![
        json!({
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": with_generation("sealos-system-access"),
            "spec": {
                "rules": [
                    { "from": [{ "source": { "principals": ["cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"] } }] },
                    { "to": [{ "operation": { "methods": ["GET", "POST", "PUT", "DELETE"] } }] },
                ],
            },
        }),
        json!({
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": with_generation("sealos-mtls"),
            "spec": { "mtls": { "mode": "STRICT" } },
        }),
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": with_generation("sealos-system-isolation"),
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    { "from": [{ "namespaceSelector": { "matchLabels": { "name": "istio-system" } } }] },
                    { "from": [{ "podSelector": {} }] },
                ],
                "egress": [
                    { "to": [{ "namespaceSelector": { "matchLabels": { "name": "kube-system" } } }] },
                    { "to": [{ "namespaceSelector": { "matchLabels": { "name": "istio-system" } } }] },
                ],
            },
        }),
    ]
}
