//! `istio-system` after the migration: istiod (with log lines, some errors, for the guide's
//! `logs deployment/istiod --since=10m | grep -i error`), the ingress gateway and its
//! LoadBalancer Service, the mesh ConfigMaps (`istio`, and the guide's `istio-sidecar-injector`,
//! `istio-performance`, `istio-proxy-config`), the mesh CA Secret, the `sealos-gateway` Gateway
//! and the wildcard Certificate whose Secret the gateway serves.

use serde_json::{Value, json};

use super::ScenarioError;
use super::certificates::{Issuance, Pki, Signer, TlsCert, tls_certificate};
use super::objects::{
    ISTIO_VERSION, Workload, days_ago, deployment, endpoints, env, env_from_field, labels,
    log_lines, meta, namespace, pdb, pod_ips, resources, secret, service, service_account,
};

const NS: &str = "istio-system";
/// The TLS Secret the gateway's HTTPS server names in `credentialName`.
pub(super) const GATEWAY_CREDENTIAL: &str = "wildcard-cloud-sealos-io-tls";
/// What VirtualServices put in `gateways`.
pub(super) const GATEWAY_REF: &str = "istio-system/sealos-gateway";

pub(super) fn objects(now: jiff::Timestamp, pki: &Pki) -> Result<Vec<Value>, ScenarioError> {
    let created = days_ago(now, 380);
    let mut out = vec![namespace(
        NS,
        &[("name", NS), ("topology.istio.io/network", "")],
        created,
    )];
    let istiod_labels = labels(&[
        ("app", "istiod"),
        ("istio", "pilot"),
        ("istio.io/rev", "default"),
        ("install.operator.istio.io/owning-resource", "unknown"),
        ("operator.istio.io/component", "Pilot"),
    ]);
    let gw_labels = labels(&[
        ("app", "istio-ingressgateway"),
        ("istio", "ingressgateway"),
        ("install.operator.istio.io/owning-resource", "unknown"),
        ("operator.istio.io/component", "IngressGateways"),
    ]);
    out.push(service_account(
        NS,
        "istiod",
        istiod_labels.clone(),
        created,
    ));
    out.push(service_account(
        NS,
        "istio-ingressgateway-service-account",
        gw_labels.clone(),
        created,
    ));
    out.push(service_account(
        NS,
        "istio-reader-service-account",
        labels(&[("app", "istio-reader")]),
        created,
    ));

    // istiod
    let istiod_selector = labels(&[("app", "istiod"), ("istio", "pilot")]);
    let mut discovery_env = env(&[
        ("REVISION", "default"),
        ("PILOT_CERT_PROVIDER", "istiod"),
        ("KUBECONFIG", "/var/run/secrets/remote/config"),
        ("PILOT_TRACE_SAMPLING", "1"),
        ("PILOT_ENABLE_ANALYSIS", "false"),
        ("CLUSTER_ID", "Kubernetes"),
        ("PLATFORM", ""),
    ]);
    discovery_env.push(env_from_field("POD_NAME", "metadata.name"));
    discovery_env.push(env_from_field("POD_NAMESPACE", "metadata.namespace"));
    discovery_env.push(env_from_field("SERVICE_ACCOUNT", "spec.serviceAccountName"));
    let discovery = json!({
        "name": "discovery",
        "image": format!("docker.io/istio/pilot:{ISTIO_VERSION}"),
        "imagePullPolicy": "IfNotPresent",
        "args": ["discovery", "--monitoringAddr=:15014", "--log_output_level=default:info", "--domain", "cluster.local", "--keepaliveMaxServerConnectionAge", "30m"],
        "env": discovery_env,
        "ports": [
            { "name": "http-debug", "containerPort": 8080, "protocol": "TCP" },
            { "name": "grpc-xds", "containerPort": 15010, "protocol": "TCP" },
            { "name": "tls-xds", "containerPort": 15012, "protocol": "TCP" },
            { "name": "https-webhooks", "containerPort": 15017, "protocol": "TCP" },
            { "name": "http-monitoring", "containerPort": 15014, "protocol": "TCP" },
        ],
        "readinessProbe": {
            "httpGet": { "path": "/ready", "port": 8080, "scheme": "HTTP" },
            "initialDelaySeconds": 1, "periodSeconds": 3, "timeoutSeconds": 5, "failureThreshold": 3, "successThreshold": 1,
        },
        "resources": { "requests": { "cpu": "500m", "memory": "2Gi" } },
        "volumeMounts": [
            { "name": "local-certs", "mountPath": "/var/run/secrets/istio-dns" },
            { "name": "cacerts", "mountPath": "/etc/cacerts", "readOnly": true },
            { "name": "istio-kubeconfig", "mountPath": "/var/run/secrets/remote", "readOnly": true },
        ],
        "securityContext": { "allowPrivilegeEscalation": false, "capabilities": { "drop": ["ALL"] }, "readOnlyRootFilesystem": true, "runAsNonRoot": true },
    });
    out.push(deployment(Workload {
        ns: NS,
        name: "istiod",
        replicas: 1,
        labels: istiod_labels.clone(),
        selector: istiod_selector.clone(),
        pod_labels: labels(&[("istio.io/rev", "default"), ("sidecar.istio.io/inject", "false"), ("operator.istio.io/component", "Pilot")]),
        pod_annotations: json!({
            "prometheus.io/port": "15014",
            "prometheus.io/scrape": "true",
            "sidecar.istio.io/inject": "false",
            "sandbox.sealos.io/logs": json!({ "discovery": istiod_logs(now) }).to_string(),
            "sandbox.sealos.io/usage": json!({ "discovery": { "cpu": "38m", "memory": "0.21Gi" } }).to_string(),
        }),
        service_account: "istiod",
        containers: vec![discovery],
        init_containers: vec![],
        volumes: vec![
            json!({ "name": "local-certs", "emptyDir": { "medium": "Memory" } }),
            json!({ "name": "cacerts", "secret": { "secretName": "cacerts", "optional": true } }),
            json!({ "name": "istio-kubeconfig", "secret": { "secretName": "istio-kubeconfig", "optional": true } }),
        ],
        created,
    }));
    let istiod_ports = [
        ("grpc-xds", 15010, 15010),
        ("https-dns", 15012, 15012),
        ("https-webhook", 443, 15017),
        ("http-monitoring", 15014, 15014),
    ];
    out.push(service(
        NS,
        "istiod",
        istiod_labels,
        istiod_selector.clone(),
        &istiod_ports,
        created,
    ));
    out.push(endpoints(
        NS,
        "istiod",
        labels(&[("app", "istiod")]),
        &pod_ips(NS, "istiod", 1),
        &istiod_ports,
        created,
    ));
    out.push(pdb(
        NS,
        "istiod",
        istiod_selector,
        ("minAvailable", 1),
        1,
        created,
    ));

    // The ingress gateway: a Deployment whose only container is the proxy.
    let gw_selector = labels(&[("app", "istio-ingressgateway"), ("istio", "ingressgateway")]);
    let mut gw_env = env(&[
        ("PILOT_CERT_PROVIDER", "istiod"),
        ("CA_ADDR", "istiod.istio-system.svc:15012"),
        ("ISTIO_META_ROUTER_MODE", "standard"),
        ("ISTIO_META_WORKLOAD_NAME", "istio-ingressgateway"),
        (
            "ISTIO_META_OWNER",
            "kubernetes://apis/apps/v1/namespaces/istio-system/deployments/istio-ingressgateway",
        ),
        ("ISTIO_META_CLUSTER_ID", "Kubernetes"),
    ]);
    gw_env.push(env_from_field("POD_NAME", "metadata.name"));
    gw_env.push(env_from_field("POD_NAMESPACE", "metadata.namespace"));
    gw_env.push(env_from_field("INSTANCE_IP", "status.podIP"));
    let proxy = json!({
        "name": "istio-proxy",
        "image": format!("docker.io/istio/proxyv2:{ISTIO_VERSION}"),
        "imagePullPolicy": "IfNotPresent",
        "args": ["proxy", "router", "--domain", "$(POD_NAMESPACE).svc.cluster.local", "--proxyLogLevel=warning", "--proxyComponentLogLevel=misc:error", "--log_output_level=default:info"],
        "env": gw_env,
        "ports": [
            { "name": "status-port", "containerPort": 15021, "protocol": "TCP" },
            { "name": "http2", "containerPort": 8080, "protocol": "TCP" },
            { "name": "https", "containerPort": 8443, "protocol": "TCP" },
            { "name": "http-envoy-prom", "containerPort": 15090, "protocol": "TCP" },
        ],
        "readinessProbe": {
            "httpGet": { "path": "/healthz/ready", "port": 15021, "scheme": "HTTP" },
            "initialDelaySeconds": 1, "periodSeconds": 2, "timeoutSeconds": 1, "failureThreshold": 30, "successThreshold": 1,
        },
        "resources": resources("100m", "128Mi", "2", "1Gi"),
        "volumeMounts": [
            { "name": "istio-envoy", "mountPath": "/etc/istio/proxy" },
            { "name": "istio-data", "mountPath": "/var/lib/istio/data" },
            { "name": "istiod-ca-cert", "mountPath": "/var/run/secrets/istio" },
            { "name": "ingressgateway-certs", "mountPath": "/etc/istio/ingressgateway-certs", "readOnly": true },
        ],
        "securityContext": { "allowPrivilegeEscalation": false, "capabilities": { "drop": ["ALL"] }, "readOnlyRootFilesystem": true, "runAsNonRoot": true, "runAsUser": 1337, "runAsGroup": 1337 },
    });
    out.push(deployment(Workload {
        ns: NS,
        name: "istio-ingressgateway",
        replicas: 2,
        labels: gw_labels.clone(),
        selector: gw_selector.clone(),
        pod_labels: labels(&[
            ("sidecar.istio.io/inject", "false"),
            ("service.istio.io/canonical-name", "istio-ingressgateway"),
            ("service.istio.io/canonical-revision", "latest"),
        ]),
        pod_annotations: json!({
            "prometheus.io/path": "/stats/prometheus",
            "prometheus.io/port": "15020",
            "prometheus.io/scrape": "true",
            "sidecar.istio.io/inject": "false",
            "sandbox.sealos.io/usage": json!({ "istio-proxy": { "cpu": "120m", "memory": "187Mi" } }).to_string(),
        }),
        service_account: "istio-ingressgateway-service-account",
        containers: vec![proxy],
        init_containers: vec![],
        volumes: vec![
            json!({ "name": "istio-envoy", "emptyDir": {} }),
            json!({ "name": "istio-data", "emptyDir": {} }),
            json!({ "name": "istiod-ca-cert", "configMap": { "name": "istio-ca-root-cert" } }),
            json!({ "name": "ingressgateway-certs", "secret": { "secretName": "istio-ingressgateway-certs", "optional": true } }),
        ],
        created,
    }));
    let gw_ports = [
        ("status-port", 15021, 15021),
        ("http2", 80, 8080),
        ("https", 443, 8443),
    ];
    let mut gw_service = service(
        NS,
        "istio-ingressgateway",
        gw_labels,
        gw_selector.clone(),
        &gw_ports,
        created,
    );
    gw_service["spec"]["type"] = json!("LoadBalancer");
    gw_service["spec"]["externalTrafficPolicy"] = json!("Cluster");
    gw_service["spec"]["allocateLoadBalancerNodePorts"] = json!(true);
    for (i, node_port) in [31021, 30080, 30443].into_iter().enumerate() {
        gw_service["spec"]["ports"][i]["nodePort"] = json!(node_port);
    }
    gw_service["status"] =
        json!({ "loadBalancer": { "ingress": [{ "ip": "192.168.0.200", "ipMode": "VIP" }] } });
    out.push(gw_service);
    out.push(endpoints(
        NS,
        "istio-ingressgateway",
        labels(&[("app", "istio-ingressgateway"), ("istio", "ingressgateway")]),
        &pod_ips(NS, "istio-ingressgateway", 2),
        &gw_ports,
        created,
    ));
    out.push(pdb(
        NS,
        "istio-ingressgateway",
        gw_selector,
        ("minAvailable", 1),
        2,
        created,
    ));

    // Mesh configuration.
    let istio_cm_labels = labels(&[
        ("install.operator.istio.io/owning-resource", "unknown"),
        ("istio.io/rev", "default"),
        ("operator.istio.io/component", "Pilot"),
        ("release", "istio"),
    ]);
    out.push(super::objects::config_map(
        NS,
        "istio",
        istio_cm_labels.clone(),
        &[("mesh", MESH), ("meshNetworks", "networks: {}")],
        created,
    ));
    out.push(super::objects::config_map(
        NS,
        "istio-sidecar-injector",
        istio_cm_labels,
        &[("config", INJECTOR_CONFIG), ("values", &injector_values())],
        created,
    ));
    out.push(super::objects::config_map(
        NS,
        "istio-performance",
        json!({}),
        &[("mesh", PERFORMANCE_MESH)],
        days_ago(now, 30),
    ));
    out.push(super::objects::config_map(
        NS,
        "istio-proxy-config",
        json!({}),
        &[("ProxyConfig", PROXY_CONFIG)],
        days_ago(now, 30),
    ));
    out.push(super::objects::config_map(
        NS,
        "istio-ca-root-cert",
        labels(&[("istio.io/config", "true")]),
        &[("root-cert.pem", pki.mesh.cert_pem())],
        created,
    ));

    // The mesh CA, as istiod's self-signed CA keeps it.
    let mesh_key = pki.mesh.key_pem();
    out.push(secret(
        NS,
        "istio-ca-secret",
        "istio.io/ca-root",
        json!({}),
        &[
            ("ca-cert.pem", pki.mesh.cert_pem()),
            ("ca-key.pem", &mesh_key),
            ("cert-chain.pem", ""),
            ("key.pem", ""),
            ("root-cert.pem", ""),
        ],
        created,
    ));
    // The wildcard certificate the gateway serves, and the Gateway.
    out.extend(tls_certificate(
        pki,
        &TlsCert {
            ns: NS,
            name: "cloud-sealos-io-wildcard",
            secret_name: GATEWAY_CREDENTIAL,
            dns_names: &["*.cloud.sealos.io", "cloud.sealos.io"],
            signer: Signer::SealosCa,
            days_left: 60,
            duration_days: 90,
            revision: 6,
            issuance: Issuance::Ready,
            created,
        },
    )?);
    let mut gw_meta = meta(
        "sealos-gateway",
        Some(NS),
        labels(&[("app.kubernetes.io/part-of", "sealos")]),
        days_ago(now, 370),
    );
    gw_meta["generation"] = json!(1);
    out.push(json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": gw_meta,
        "spec": {
            "selector": { "istio": "ingressgateway" },
            "servers": [
                {
                    "port": { "number": 80, "name": "http", "protocol": "HTTP" },
                    "hosts": ["*.cloud.sealos.io", "cloud.sealos.io"],
                },
                {
                    "port": { "number": 443, "name": "https", "protocol": "HTTPS" },
                    "hosts": ["*.cloud.sealos.io", "cloud.sealos.io"],
                    "tls": { "mode": "SIMPLE", "credentialName": GATEWAY_CREDENTIAL },
                },
            ],
        },
    }));
    Ok(out)
}

/// istiod's log: RFC 3339 times, tab-separated scope and level, errors inside and outside the
/// last ten minutes.
fn istiod_logs(now: jiff::Timestamp) -> String {
    log_lines(
        now,
        &[
            (240, "info\tFLAG: --domain=\"cluster.local\""),
            (
                239,
                "info\tmodel\tinitializing mesh configuration ./etc/istio/config/mesh",
            ),
            (
                238,
                "info\tads\tAll caches have been synced up in 1.21s, marking server ready",
            ),
            (
                90,
                "error\tads\tADS:LDS: ACK ERROR terminal-controller-6d9f7c9b8-x2x4k.sealos-system-12 Internal:Error adding/updating listener(s) 0.0.0.0_9443: duplicate listener",
            ),
            (
                45,
                "warn\tmodel\tdestination rule ns-bob/app-test: subset v3 has no matching endpoints",
            ),
            (
                30,
                "error\tklog\tk8s.io/client-go/informers/factory.go:160: Failed to watch *v1.Secret: the server has asked for the client to provide credentials",
            ),
            (
                9,
                "info\tads\tPush debounce stable[42] 3 for config VirtualService/ns-bob/app-test: 100.2ms since last change",
            ),
            (
                7,
                "error\tads\tADS:CDS: ACK ERROR db-adminer-controller-7c8b5d4f9-kq2lm.sealos-system-31 Internal:Error adding/updating cluster(s) outbound|8080||dbadmin-test.ns-alice.svc.cluster.local: upstream connect error",
            ),
            (
                5,
                "info\tads\tXDS: Pushing Services:27 ConnectedEndpoints:14 Version:42",
            ),
            (
                4,
                "warn\tads\tADS: \"10.244.2.17:47388\" app-test-5f7d8c6b9-7hw2p.ns-bob-44 terminated rpc error: code = Canceled desc = context canceled",
            ),
            (
                3,
                "error\tsecretcontroller\tfailed to fetch credential istio-system/cloud-sealos-io-old-tls: secret not found for gateway istio-system/sealos-gateway",
            ),
            (
                1,
                "info\tads\tADS: new connection for node:terminal-test-84c5d9f7b-p9m2t.ns-alice-52",
            ),
        ],
    )
}

const MESH: &str = "accessLogFile: /dev/stdout
defaultConfig:
  discoveryAddress: istiod.istio-system.svc:15012
  holdApplicationUntilProxyStarts: true
  proxyMetadata: {}
  tracing:
    zipkin:
      address: zipkin.istio-system:9411
defaultProviders:
  metrics:
  - prometheus
enablePrometheusMerge: true
rootNamespace: istio-system
trustDomain: cluster.local
";

/// The guide's injector ConfigMap, as applied.
const INJECTOR_CONFIG: &str = "policy: enabled
alwaysInjectSelector:
  []
neverInjectSelector:
  []
template: |
  spec:
    containers:
    - name: istio-proxy
      resources:
        limits:
          cpu: 200m
          memory: 256Mi
        requests:
          cpu: 50m
          memory: 128Mi
";

fn injector_values() -> String {
    json!({
        "global": {
            "hub": "docker.io/istio",
            "tag": ISTIO_VERSION,
            "istioNamespace": "istio-system",
            "proxy": {
                "resources": {
                    "limits": { "cpu": "200m", "memory": "256Mi" },
                    "requests": { "cpu": "50m", "memory": "128Mi" },
                },
                "holdApplicationUntilProxyStarts": true,
            },
        },
        "revision": "",
        "sidecarInjectorWebhook": { "enableNamespacesByDefault": false, "rewriteAppHTTPProbe": true },
    })
    .to_string()
}

/// The guide's `istio-performance` ConfigMap.
const PERFORMANCE_MESH: &str = "defaultConfig:
  proxyStatsMatcher:
    inclusion_regexps:
    - \".*circuit_breakers.*\"
    - \".*upstream_rq_retry.*\"
    - \".*upstream_rq_pending.*\"
    - \".*_cx_.*\"
  concurrency: 2
  proxyMetadata:
    PILOT_ENABLE_WORKLOAD_ENTRY_AUTOREGISTRATION: true
    BOOTSTRAP_XDS_AGENT: true
extensionProviders:
- name: prometheus
  prometheus:
    configOverride:
      metric_relabeling_configs:
      - source_labels: [__name__]
        regex: 'istio_request_duration_milliseconds_bucket'
        target_label: __tmp_duration_bucket
";

/// The guide's `istio-proxy-config` ConfigMap.
const PROXY_CONFIG: &str = "connectionTimeout: 10s
statsConfig:
  disable_host_header_fallback: true
tracing:
  sampling: 1.0
";
