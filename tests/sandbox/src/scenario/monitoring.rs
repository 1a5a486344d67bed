//! `monitoring`: Prometheus (Service `prometheus` on 9090, the guide's in-cluster URL),
//! Grafana and Alertmanager, their configuration, and a PrometheusRule that predates the
//! suite's own (so the suite's rules are added beside it, not over it).

use serde_json::{Value, json};

use super::objects::{
    Workload, config_map, days_ago, deployment, endpoints, labels, meta, namespace, pod_ips,
    resources, secret, service, service_account,
};

const NS: &str = "monitoring";

struct App {
    name: &'static str,
    image: &'static str,
    port_name: &'static str,
    port: i64,
    service_port: i64,
    args: &'static [&'static str],
    usage: (&'static str, &'static str),
}

const APPS: &[App] = &[
    App {
        name: "prometheus",
        image: "quay.io/prometheus/prometheus:v3.1.0",
        port_name: "web",
        port: 9090,
        service_port: 9090,
        args: &[
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            "--storage.tsdb.retention.time=15d",
            "--web.enable-lifecycle",
        ],
        usage: ("85m", "1.4Gi"),
    },
    App {
        name: "grafana",
        image: "docker.io/grafana/grafana:11.4.0",
        port_name: "http",
        port: 3000,
        service_port: 80,
        args: &[],
        usage: ("6m", "92Mi"),
    },
    App {
        name: "alertmanager",
        image: "quay.io/prometheus/alertmanager:v0.27.0",
        port_name: "web",
        port: 9093,
        service_port: 9093,
        args: &[
            "--config.file=/etc/alertmanager/alertmanager.yml",
            "--storage.path=/alertmanager",
        ],
        usage: ("2m", "24576Ki"),
    },
];

pub(super) fn objects(now: jiff::Timestamp) -> Vec<Value> {
    let created = days_ago(now, 385);
    let mut out = vec![namespace(NS, &[("name", NS)], created)];
    for app in APPS {
        let l = labels(&[
            ("app", app.name),
            ("app.kubernetes.io/name", app.name),
            ("app.kubernetes.io/part-of", "monitoring"),
        ]);
        let selector = labels(&[("app", app.name)]);
        let config_volume = format!("{}-config", app.name);
        let container = json!({
            "name": app.name,
            "image": app.image,
            "imagePullPolicy": "IfNotPresent",
            "args": app.args,
            "ports": [{ "name": app.port_name, "containerPort": app.port, "protocol": "TCP" }],
            "readinessProbe": {
                "httpGet": { "path": if app.name == "grafana" { "/api/health" } else { "/-/ready" }, "port": app.port, "scheme": "HTTP" },
                "periodSeconds": 10,
            },
            "resources": resources("50m", "128Mi", "1", "2Gi"),
            "volumeMounts": [{ "name": "config", "mountPath": format!("/etc/{}", app.name) }],
        });
        out.push(service_account(NS, app.name, l.clone(), created));
        out.push(deployment(Workload {
            ns: NS,
            name: app.name,
            replicas: 1,
            labels: l.clone(),
            selector: selector.clone(),
            pod_labels: l.clone(),
            pod_annotations: json!({
                "sandbox.sealos.io/usage": json!({ app.name: { "cpu": app.usage.0, "memory": app.usage.1 } }).to_string(),
            }),
            service_account: app.name,
            containers: vec![container],
            init_containers: vec![],
            volumes: vec![json!({ "name": "config", "configMap": { "name": config_volume } })],
            created,
        }));
        let ports = [(app.port_name, app.service_port, app.port)];
        let mut svc = service(NS, app.name, l.clone(), selector, &ports, created);
        if app.name == "prometheus" {
            // Read by the suite's Prometheus client through the service proxy.
            svc = super::objects::annotate(svc, &[("prometheus.io/scrape", "true")]);
        }
        out.push(svc);
        out.push(endpoints(
            NS,
            app.name,
            l,
            &pod_ips(NS, app.name, 1),
            &ports,
            created,
        ));
    }
    out.push(config_map(
        NS,
        "prometheus-config",
        labels(&[("app", "prometheus")]),
        &[("prometheus.yml", PROMETHEUS_YML)],
        created,
    ));
    out.push(config_map(
        NS,
        "grafana-config",
        labels(&[("app", "grafana")]),
        &[("grafana.ini", GRAFANA_INI)],
        created,
    ));
    out.push(config_map(
        NS,
        "alertmanager-config",
        labels(&[("app", "alertmanager")]),
        &[("alertmanager.yml", ALERTMANAGER_YML)],
        created,
    ));
    out.push(secret(
        NS,
        "grafana-admin",
        "Opaque",
        labels(&[("app", "grafana")]),
        &[
            ("admin-user", "admin"),
            ("admin-password", "sandbox-grafana-password"),
        ],
        created,
    ));
    let mut rule_meta = meta(
        "sealos-platform",
        Some(NS),
        labels(&[("prometheus", "k8s"), ("role", "alert-rules")]),
        created,
    );
    rule_meta["generation"] = json!(1);
    out.push(json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": rule_meta,
        "spec": { "groups": [{
            "name": "sealos-platform",
            "rules": [
                {
                    "alert": "CertManagerAbsent",
                    "expr": "absent(up{job=\"cert-manager\"} == 1)",
                    "for": "10m",
                    "labels": { "severity": "critical" },
                    "annotations": { "summary": "cert-manager has disappeared from Prometheus target discovery." },
                },
                {
                    "alert": "IstiodDown",
                    "expr": "up{job=\"istiod\"} == 0",
                    "for": "5m",
                    "labels": { "severity": "critical" },
                    "annotations": { "summary": "istiod is not being scraped." },
                },
            ],
        }] },
    }));
    out
}

const PROMETHEUS_YML: &str = "global:
  scrape_interval: 15s
  evaluation_interval: 15s
scrape_configs:
- job_name: kubernetes-pods
  kubernetes_sd_configs:
  - role: pod
  relabel_configs:
  - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
    action: keep
    regex: 'true'
- job_name: istiod
  kubernetes_sd_configs:
  - role: endpoints
    namespaces:
      names: [istio-system]
";

const GRAFANA_INI: &str = "[server]
root_url = https://grafana.cloud.sealos.io
[auth.anonymous]
enabled = false
";

const ALERTMANAGER_YML: &str = "route:
  receiver: sre
  group_by: [alertname, namespace]
receivers:
- name: sre
";
