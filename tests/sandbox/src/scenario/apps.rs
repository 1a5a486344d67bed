//! User namespaces with apps behind the gateway: ns-alice (terminal-test, dbadmin-test, an
//! Ingress left from dual mode, a namespaced CA Issuer), ns-bob (app-test in two versions split
//! 90/10 by subsets, a budget that blocks evictions, an istio-proxy above its 256Mi limit),
//! ns-carol (blog). The guide's benchmark hosts are served here.

use serde_json::{Value, json};

use super::ScenarioError;
use super::certificates::{Issuance, Pki, Signer, TlsCert, ca_certificate, tls_certificate};
use super::istio::GATEWAY_REF;
use super::objects::{
    Port, Workload, days_ago, deployment, endpoints, env, istio_init, istio_proxy, istio_volumes,
    labels, meta, namespace, pdb, pod_ips, resources, rfc3339, service, service_account,
    sidecar_status,
};

/// One version of an app: a Deployment with `app=NAME` and `version=VERSION` pods.
struct Version<'a> {
    deployment: &'a str,
    version: &'a str,
    replicas: i64,
    /// (cpu, memory) of the app container and of istio-proxy, for the metrics API.
    usage: ((&'a str, &'a str), (&'a str, &'a str)),
}

/// An app: its versions, its container, its Service.
struct App<'a> {
    ns: &'a str,
    name: &'a str,
    container: &'a str,
    image: &'a str,
    container_port: i64,
    service_port: i64,
    versions: &'a [Version<'a>],
    env: &'a [(&'a str, &'a str)],
}

pub(super) fn objects(now: jiff::Timestamp, pki: &Pki) -> Result<Vec<Value>, ScenarioError> {
    let mut out = Vec::new();
    out.extend(alice(now, pki)?);
    out.extend(bob(now, pki)?);
    out.extend(carol(now, pki)?);
    Ok(out)
}

fn user_namespace(name: &str, owner: &str, created: jiff::Timestamp) -> Value {
    namespace(
        name,
        &[
            ("istio-injection", "enabled"),
            ("user.sealos.io/owner", owner),
        ],
        created,
    )
}

fn alice(now: jiff::Timestamp, pki: &Pki) -> Result<Vec<Value>, ScenarioError> {
    let ns = "ns-alice";
    let created = days_ago(now, 200);
    let mut out = vec![user_namespace(ns, "alice", created)];
    out.extend(app(
        &App {
            ns,
            name: "terminal-test",
            container: "terminal",
            image: "ghcr.io/labring/docker-terminal:v1.21.0",
            container_port: 8080,
            service_port: 8080,
            versions: &[Version {
                deployment: "terminal-test",
                version: "v1",
                replicas: 1,
                usage: (("3m", "21Mi"), ("4m", "52Mi")),
            }],
            env: &[("USER_NAME", "alice"), ("TTYD_PORT", "8080")],
        },
        created,
    ));
    out.push(virtual_service(
        ns,
        "terminal-test",
        "terminal-test.cloud.sealos.io",
        &[("terminal-test", None, 100)],
        8080,
        created,
    ));
    out.extend(app(
        &App {
            ns,
            name: "dbadmin-test",
            container: "adminer",
            image: "docker.io/library/adminer:4.8.1",
            container_port: 8080,
            service_port: 8080,
            versions: &[Version {
                deployment: "dbadmin-test",
                version: "v1",
                replicas: 1,
                usage: (("1m", "14Mi"), ("3m", "0.05Gi")),
            }],
            env: &[("ADMINER_DEFAULT_SERVER", "postgres.ns-alice.svc")],
        },
        created,
    ));
    out.push(virtual_service(
        ns,
        "dbadmin-test",
        "dbadmin-test.cloud.sealos.io",
        &[("dbadmin-test.ns-alice.svc.cluster.local", None, 100)],
        8080,
        created,
    ));
    // Terminal traffic is still half on Ingress (terminal-controller is in dual mode).
    let mut ingress_meta = meta(
        "terminal-test",
        Some(ns),
        labels(&[("app", "terminal-test")]),
        created,
    );
    ingress_meta["annotations"] = json!({ "nginx.ingress.kubernetes.io/backend-protocol": "HTTP" });
    ingress_meta["generation"] = json!(1);
    out.push(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": ingress_meta,
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{
                "host": "terminal-test.cloud.sealos.io",
                "http": { "paths": [{
                    "path": "/", "pathType": "Prefix",
                    "backend": { "service": { "name": "terminal-test", "port": { "number": 8080 } } },
                }] },
            }],
            "tls": [{ "hosts": ["terminal-test.cloud.sealos.io"], "secretName": "terminal-test-tls" }],
        },
        "status": { "loadBalancer": { "ingress": [{ "ip": "192.168.0.201" }] } },
    }));

    // A namespaced CA Issuer backed by an intermediate of the root: chains of two.
    let mut issuer_meta = meta("alice-ca", Some(ns), json!({}), created);
    issuer_meta["generation"] = json!(1);
    out.push(json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": issuer_meta,
        "spec": { "ca": { "secretName": "alice-ca-keypair" } },
        "status": { "conditions": [{
            "type": "Ready", "status": "True", "reason": "KeyPairVerified", "message": "Signing CA verified",
            "lastTransitionTime": rfc3339(created), "observedGeneration": 1,
        }] },
    }));
    out.extend(ca_certificate(
        ns,
        "alice-ca-keypair",
        "ns-alice CA",
        &pki.alice,
        pki.root.cert_pem(),
        pki.alice_validity,
        ("ClusterIssuer", "sealos-ca"),
    ));
    out.extend(tls_certificate(
        pki,
        &TlsCert {
            ns,
            name: "terminal-test-tls",
            secret_name: "terminal-test-tls",
            dns_names: &["terminal-test.cloud.sealos.io"],
            signer: Signer::SealosCa,
            days_left: 5,
            duration_days: 90,
            revision: 3,
            issuance: Issuance::Ready,
            created,
        },
    )?);
    out.extend(tls_certificate(
        pki,
        &TlsCert {
            ns,
            name: "dbadmin-test-tls",
            secret_name: "dbadmin-test-tls",
            dns_names: &["dbadmin-test.cloud.sealos.io"],
            signer: Signer::AliceCa,
            days_left: 20,
            duration_days: 90,
            revision: 3,
            issuance: Issuance::RenewalFailing,
            created,
        },
    )?);
    Ok(out)
}

fn bob(now: jiff::Timestamp, pki: &Pki) -> Result<Vec<Value>, ScenarioError> {
    let ns = "ns-bob";
    let created = days_ago(now, 150);
    let mut out = vec![user_namespace(ns, "bob", created)];
    out.extend(app(
        &App {
            ns,
            name: "app-test",
            container: "app",
            image: "docker.io/library/nginx:1.27",
            container_port: 8080,
            service_port: 80,
            versions: &[
                // Above the sidecar's 256Mi limit: the memory-leak runbook's target.
                Version {
                    deployment: "app-test",
                    version: "v1",
                    replicas: 2,
                    usage: (("25m", "48Mi"), ("35m", "312Mi")),
                },
                Version {
                    deployment: "app-test-v2",
                    version: "v2",
                    replicas: 1,
                    usage: (("20m", "45Mi"), ("12m", "0.2Gi")),
                },
            ],
            env: &[("NGINX_PORT", "8080")],
        },
        created,
    ));
    let host = "app-test.ns-bob.svc.cluster.local";
    out.push(virtual_service(
        ns,
        "app-test",
        "app-test.cloud.sealos.io",
        &[(host, Some("v1"), 90), (host, Some("v2"), 10)],
        80,
        created,
    ));
    out.push(destination_rule(
        ns,
        "app-test",
        host,
        &["v1", "v2"],
        created,
    ));
    out.push(pdb(
        ns,
        "app-test",
        labels(&[("app", "app-test"), ("version", "v1")]),
        ("minAvailable", 2),
        2,
        created,
    ));
    out.extend(tls_certificate(
        pki,
        &TlsCert {
            ns,
            name: "app-test-tls",
            secret_name: "app-test-tls",
            dns_names: &["app-test.cloud.sealos.io", "www.app-test.cloud.sealos.io"],
            signer: Signer::SealosCa,
            days_left: 80,
            duration_days: 90,
            revision: 3,
            issuance: Issuance::Ready,
            created,
        },
    )?);
    Ok(out)
}

fn carol(now: jiff::Timestamp, pki: &Pki) -> Result<Vec<Value>, ScenarioError> {
    let ns = "ns-carol";
    let created = days_ago(now, 60);
    let mut out = vec![user_namespace(ns, "carol", created)];
    out.extend(app(
        &App {
            ns,
            name: "blog",
            container: "ghost",
            image: "docker.io/library/ghost:5.105",
            container_port: 2368,
            service_port: 80,
            versions: &[Version {
                deployment: "blog",
                version: "v1",
                replicas: 1,
                usage: (("8m", "115343360"), ("5m", "70Mi")),
            }],
            env: &[
                ("url", "https://blog-test.cloud.sealos.io"),
                ("database__client", "sqlite3"),
            ],
        },
        created,
    ));
    let host = "blog.ns-carol.svc.cluster.local";
    out.push(virtual_service(
        ns,
        "blog",
        "blog-test.cloud.sealos.io",
        &[(host, Some("v1"), 100)],
        80,
        created,
    ));
    out.push(destination_rule(ns, "blog", host, &["v1"], created));
    out.extend(tls_certificate(
        pki,
        &TlsCert {
            ns,
            name: "blog-tls",
            secret_name: "blog-tls",
            dns_names: &["blog-test.cloud.sealos.io"],
            signer: Signer::SealosCa,
            days_left: 45,
            duration_days: 90,
            revision: 1,
            issuance: Issuance::Ready,
            created,
        },
    )?);
    Ok(out)
}

/// The app's Deployments (one per version), ServiceAccount, Service and Endpoints.
fn app(a: &App<'_>, created: jiff::Timestamp) -> Vec<Value> {
    let mut out = vec![service_account(
        a.ns,
        a.name,
        labels(&[("app", a.name)]),
        created,
    )];
    let mut pods = 0;
    for v in a.versions {
        let selector = labels(&[("app", a.name), ("version", v.version)]);
        let container = json!({
            "name": a.container,
            "image": a.image,
            "imagePullPolicy": "IfNotPresent",
            "env": env(a.env),
            "ports": [{ "name": "http", "containerPort": a.container_port, "protocol": "TCP" }],
            "readinessProbe": { "tcpSocket": { "port": a.container_port }, "periodSeconds": 10 },
            "resources": resources("50m", "64Mi", "500m", "512Mi"),
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
        });
        let ((app_cpu, app_mem), (proxy_cpu, proxy_mem)) = v.usage;
        out.push(deployment(Workload {
            ns: a.ns,
            name: v.deployment,
            replicas: v.replicas,
            labels: labels(&[
                ("app", a.name),
                ("version", v.version),
                ("cloud.sealos.io/app-deploy-manager", a.name),
            ]),
            selector,
            pod_labels: labels(&[
                ("security.istio.io/tlsMode", "istio"),
                ("service.istio.io/canonical-name", a.name),
                ("service.istio.io/canonical-revision", v.version),
            ]),
            pod_annotations: json!({
                "kubectl.kubernetes.io/default-container": a.container,
                "kubectl.kubernetes.io/default-logs-container": a.container,
                "prometheus.io/path": "/stats/prometheus",
                "prometheus.io/port": "15020",
                "prometheus.io/scrape": "true",
                "sidecar.istio.io/status": sidecar_status(),
                "sandbox.sealos.io/usage": json!({
                    a.container: { "cpu": app_cpu, "memory": app_mem },
                    "istio-proxy": { "cpu": proxy_cpu, "memory": proxy_mem },
                }).to_string(),
            }),
            service_account: a.name,
            containers: vec![container, istio_proxy()],
            init_containers: vec![istio_init()],
            volumes: istio_volumes(),
            created,
        }));
        pods += v.replicas as usize;
    }
    let ports: [Port<'_>; 1] = [("http", a.service_port, a.container_port)];
    let svc_labels = labels(&[("app", a.name)]);
    out.push(service(
        a.ns,
        a.name,
        svc_labels.clone(),
        labels(&[("app", a.name)]),
        &ports,
        created,
    ));
    out.push(endpoints(
        a.ns,
        a.name,
        svc_labels,
        &pod_ips(a.ns, a.name, pods),
        &ports,
        created,
    ));
    out
}

/// A VirtualService binding `host` on the sealos gateway to weighted destinations
/// (destination host as written, optional subset, weight) on `port`.
fn virtual_service(
    ns: &str,
    name: &str,
    host: &str,
    routes: &[(&str, Option<&str>, i64)],
    port: i64,
    created: jiff::Timestamp,
) -> Value {
    let route: Vec<Value> = routes
        .iter()
        .map(|(dest, subset, weight)| {
            let mut destination = json!({ "host": dest, "port": { "number": port } });
            if let Some(s) = subset {
                destination["subset"] = json!(s);
            }
            let mut r = json!({ "destination": destination });
            if routes.len() > 1 {
                r["weight"] = json!(weight);
            }
            r
        })
        .collect();
    let mut m = meta(name, Some(ns), labels(&[("app", name)]), created);
    m["generation"] = json!(1);
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": m,
        "spec": {
            "hosts": [host],
            "gateways": [GATEWAY_REF],
            "http": [{
                "name": "primary",
                "match": [{ "uri": { "prefix": "/" } }],
                "route": route,
                "timeout": "30s",
                "retries": { "attempts": 3, "perTryTimeout": "10s", "retryOn": "5xx,connect-failure" },
            }],
        },
    })
}

/// A DestinationRule with one subset per version label.
fn destination_rule(
    ns: &str,
    name: &str,
    host: &str,
    versions: &[&str],
    created: jiff::Timestamp,
) -> Value {
    let subsets: Vec<Value> = versions
        .iter()
        .map(|v| json!({ "name": v, "labels": { "version": v } }))
        .collect();
    let mut m = meta(name, Some(ns), labels(&[("app", name)]), created);
    m["generation"] = json!(1);
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": m,
        "spec": {
            "host": host,
            "trafficPolicy": {
                "tls": { "mode": "ISTIO_MUTUAL" },
                "connectionPool": { "tcp": { "maxConnections": 100 }, "http": { "http1MaxPendingRequests": 64 } },
                "outlierDetection": { "consecutive5xxErrors": 5, "interval": "30s", "baseEjectionTime": "30s" },
            },
            "subsets": subsets,
        },
    })
}
