//! Builders for the built-in kinds the scenarios use, so each object is complete the same way
//! (apiVersion, kind, metadata, spec, a plausible status) and scenario files read as data.

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// Istio's release in the scenario: images and the sidecar status annotation agree with it.
pub(super) const ISTIO_VERSION: &str = "1.24.2";

pub(super) fn rfc3339(ts: jiff::Timestamp) -> String {
    // Whole seconds, as the API server writes metadata times.
    ts.round(jiff::Unit::Second).unwrap_or(ts).to_string()
}

pub(super) fn days_ago(now: jiff::Timestamp, days: i64) -> jiff::Timestamp {
    now - jiff::SignedDuration::from_hours(24 * days)
}

pub(super) fn labels(pairs: &[(&str, &str)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), json!(v)))
            .collect(),
    )
}

pub(super) fn meta(
    name: &str,
    namespace: Option<&str>,
    labels: Value,
    created: jiff::Timestamp,
) -> Value {
    let mut m = json!({ "name": name, "creationTimestamp": rfc3339(created) });
    if let Some(ns) = namespace {
        m["namespace"] = json!(ns);
    }
    if labels.as_object().is_some_and(|l| !l.is_empty()) {
        m["labels"] = labels;
    }
    m
}

/// Adds annotations to an object's metadata.
pub(super) fn annotate(mut obj: Value, pairs: &[(&str, &str)]) -> Value {
    if pairs.is_empty() {
        return obj;
    }
    let meta = &mut obj["metadata"];
    if !meta["annotations"].is_object() {
        meta["annotations"] = json!({});
    }
    for (k, v) in pairs {
        meta["annotations"][*k] = json!(v);
    }
    obj
}

pub(super) fn namespace(
    name: &str,
    extra_labels: &[(&str, &str)],
    created: jiff::Timestamp,
) -> Value {
    let mut l = labels(&[("kubernetes.io/metadata.name", name)]);
    for (k, v) in extra_labels {
        l[*k] = json!(v);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta(name, None, l, created),
        "spec": { "finalizers": ["kubernetes"] },
        "status": { "phase": "Active" },
    })
}

pub(super) fn service_account(ns: &str, name: &str, l: Value, created: jiff::Timestamp) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(name, Some(ns), l, created),
    })
}

pub(super) fn config_map(
    ns: &str,
    name: &str,
    l: Value,
    data: &[(&str, &str)],
    created: jiff::Timestamp,
) -> Value {
    let data: Map<String, Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(v)))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(name, Some(ns), l, created),
        "data": data,
    })
}

pub(super) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A Secret whose `data` holds the given values base64-encoded, as the API server returns it.
pub(super) fn secret(
    ns: &str,
    name: &str,
    type_: &str,
    l: Value,
    data: &[(&str, &str)],
    created: jiff::Timestamp,
) -> Value {
    let data: Map<String, Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(b64(v.as_bytes()))))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(name, Some(ns), l, created),
        "type": type_,
        "data": data,
    })
}

/// A stable cluster IP in 10.96.0.0/16 from the Service's namespace and name (FNV-1a), so
/// scenarios are reproducible; never .0.0, .0.1 (the `kubernetes` Service) or a .255 host.
pub(super) fn cluster_ip(ns: &str, name: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in ns.bytes().chain([b'/']).chain(name.bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let third = (h >> 8) % 255;
    let fourth = (h % 253) + 2;
    format!("10.96.{}.{}", third + u32::from(third == 0), fourth)
}

/// A port of a Service: (name, port, targetPort).
pub(super) type Port<'a> = (&'a str, i64, i64);

pub(super) fn service(
    ns: &str,
    name: &str,
    l: Value,
    selector: Value,
    ports: &[Port<'_>],
    created: jiff::Timestamp,
) -> Value {
    let ports: Vec<Value> = ports
        .iter()
        .map(|(pname, port, target)| json!({ "name": pname, "port": port, "targetPort": target, "protocol": "TCP" }))
        .collect();
    let ip = cluster_ip(ns, name);
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name, Some(ns), l, created),
        "spec": {
            "type": "ClusterIP",
            "clusterIP": ip,
            "clusterIPs": [ip],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
            "sessionAffinity": "None",
            "selector": selector,
            "ports": ports,
        },
        "status": { "loadBalancer": {} },
    })
}

/// Endpoints for a Service: one address per ready pod, in the pod network of the node.
pub(super) fn endpoints(
    ns: &str,
    name: &str,
    l: Value,
    ips: &[(String, &str)],
    ports: &[Port<'_>],
    created: jiff::Timestamp,
) -> Value {
    let addresses: Vec<Value> = ips
        .iter()
        .map(|(ip, node)| json!({ "ip": ip, "nodeName": node }))
        .collect();
    let ports: Vec<Value> = ports
        .iter()
        .map(|(pname, _, target)| json!({ "name": pname, "port": target, "protocol": "TCP" }))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": meta(name, Some(ns), l, created),
        "subsets": [{ "addresses": addresses, "ports": ports }],
    })
}

/// `n` pod IPs spread over the scenario's nodes, stable for a given Service.
pub(super) fn pod_ips(ns: &str, name: &str, n: usize) -> Vec<(String, &'static str)> {
    let seed = cluster_ip(ns, name);
    let host: u32 = seed
        .rsplit('.')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    (0..n)
        .map(|i| {
            let node = i % super::platform::NODES.len();
            let ip = format!("10.244.{}.{}", node + 1, (host + 17 * i as u32) % 250 + 2);
            (ip, super::platform::NODES[node])
        })
        .collect()
}

pub(super) fn resources(req_cpu: &str, req_mem: &str, lim_cpu: &str, lim_mem: &str) -> Value {
    json!({
        "requests": { "cpu": req_cpu, "memory": req_mem },
        "limits": { "cpu": lim_cpu, "memory": lim_mem },
    })
}

pub(super) fn env(pairs: &[(&str, &str)]) -> Vec<Value> {
    pairs
        .iter()
        .map(|(k, v)| json!({ "name": k, "value": v }))
        .collect()
}

pub(super) fn env_from_field(name: &str, field_path: &str) -> Value {
    json!({ "name": name, "valueFrom": { "fieldRef": { "apiVersion": "v1", "fieldPath": field_path } } })
}

/// The istio-proxy sidecar as the injector of the guide's `istio-sidecar-injector` writes it:
/// limits 200m/256Mi, requests 50m/128Mi.
pub(super) fn istio_proxy() -> Value {
    let mut env = vec![
        json!({ "name": "PILOT_CERT_PROVIDER", "value": "istiod" }),
        json!({ "name": "CA_ADDR", "value": "istiod.istio-system.svc:15012" }),
        env_from_field("POD_NAME", "metadata.name"),
        env_from_field("POD_NAMESPACE", "metadata.namespace"),
        env_from_field("INSTANCE_IP", "status.podIP"),
        env_from_field("SERVICE_ACCOUNT", "spec.serviceAccountName"),
    ];
    env.push(json!({ "name": "ISTIO_META_CLUSTER_ID", "value": "Kubernetes" }));
    env.push(json!({ "name": "ISTIO_META_MESH_ID", "value": "cluster.local" }));
    json!({
        "name": "istio-proxy",
        "image": format!("docker.io/istio/proxyv2:{ISTIO_VERSION}"),
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local",
            "--proxyLogLevel=warning", "--proxyComponentLogLevel=misc:error", "--log_output_level=default:info",
        ],
        "env": env,
        "ports": [{ "name": "http-envoy-prom", "containerPort": 15090, "protocol": "TCP" }],
        "readinessProbe": {
            "httpGet": { "path": "/healthz/ready", "port": 15021, "scheme": "HTTP" },
            "periodSeconds": 15, "timeoutSeconds": 3, "failureThreshold": 4, "successThreshold": 1,
        },
        "resources": resources("50m", "128Mi", "200m", "256Mi"),
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": { "drop": ["ALL"] },
            "privileged": false,
            "readOnlyRootFilesystem": true,
            "runAsGroup": 1337,
            "runAsNonRoot": true,
            "runAsUser": 1337,
        },
        "volumeMounts": [
            { "name": "workload-socket", "mountPath": "/var/run/secrets/workload-spiffe-uds" },
            { "name": "istio-envoy", "mountPath": "/etc/istio/proxy" },
            { "name": "istio-data", "mountPath": "/var/lib/istio/data" },
            { "name": "istio-podinfo", "mountPath": "/etc/istio/pod" },
        ],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    })
}

pub(super) fn istio_init() -> Value {
    json!({
        "name": "istio-init",
        "image": format!("docker.io/istio/proxyv2:{ISTIO_VERSION}"),
        "args": ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020"],
        "resources": resources("10m", "40Mi", "200m", "256Mi"),
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": { "add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"] },
            "runAsGroup": 0, "runAsNonRoot": false, "runAsUser": 0,
        },
    })
}

/// The volumes the injected sidecar mounts.
pub(super) fn istio_volumes() -> Vec<Value> {
    vec![
        json!({ "name": "workload-socket", "emptyDir": {} }),
        json!({ "name": "istio-envoy", "emptyDir": { "medium": "Memory" } }),
        json!({ "name": "istio-data", "emptyDir": {} }),
        json!({ "name": "istio-podinfo", "downwardAPI": { "items": [
            { "path": "labels", "fieldRef": { "fieldPath": "metadata.labels" } },
            { "path": "annotations", "fieldRef": { "fieldPath": "metadata.annotations" } },
        ] } }),
    ]
}

/// The `sidecar.istio.io/status` annotation the injector leaves on a pod.
pub(super) fn sidecar_status() -> String {
    json!({
        "initContainers": ["istio-init"],
        "containers": ["istio-proxy"],
        "volumes": ["workload-socket", "istio-envoy", "istio-data", "istio-podinfo"],
        "imagePullSecrets": null,
        "revision": "default",
    })
    .to_string()
}

/// A Deployment and what its pods look like.
pub(super) struct Workload<'a> {
    pub ns: &'a str,
    pub name: &'a str,
    pub replicas: i64,
    /// Labels of the Deployment object itself.
    pub labels: Value,
    /// `spec.selector.matchLabels`; the template's labels are these plus `pod_labels`.
    pub selector: Value,
    pub pod_labels: Value,
    pub pod_annotations: Value,
    pub service_account: &'a str,
    pub containers: Vec<Value>,
    pub init_containers: Vec<Value>,
    pub volumes: Vec<Value>,
    pub created: jiff::Timestamp,
}

pub(super) fn deployment(w: Workload<'_>) -> Value {
    let mut template_labels = w.selector.clone();
    if let (Some(t), Some(extra)) = (template_labels.as_object_mut(), w.pod_labels.as_object()) {
        for (k, v) in extra {
            t.insert(k.clone(), v.clone());
        }
    }
    let mut pod_spec = json!({
        "serviceAccountName": w.service_account,
        "containers": w.containers,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler",
        "securityContext": {},
    });
    if !w.init_containers.is_empty() {
        pod_spec["initContainers"] = json!(w.init_containers);
    }
    if !w.volumes.is_empty() {
        pod_spec["volumes"] = json!(w.volumes);
    }
    let mut template_meta = json!({ "labels": template_labels });
    if w.pod_annotations.as_object().is_some_and(|a| !a.is_empty()) {
        template_meta["annotations"] = w.pod_annotations;
    }
    let mut meta = meta(w.name, Some(w.ns), w.labels, w.created);
    meta["generation"] = json!(1);
    meta["annotations"] = json!({ "deployment.kubernetes.io/revision": "1" });
    let ready_since = rfc3339(w.created);
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": w.replicas,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "selector": { "matchLabels": w.selector },
            "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } },
            "template": { "metadata": template_meta, "spec": pod_spec },
        },
        "status": {
            "observedGeneration": 1,
            "replicas": w.replicas,
            "updatedReplicas": w.replicas,
            "readyReplicas": w.replicas,
            "availableReplicas": w.replicas,
            "conditions": [
                {
                    "type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                    "message": "Deployment has minimum availability.",
                    "lastUpdateTime": ready_since, "lastTransitionTime": ready_since,
                },
                {
                    "type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                    "message": format!("ReplicaSet \"{}\" has successfully progressed.", w.name),
                    "lastUpdateTime": ready_since, "lastTransitionTime": ready_since,
                },
            ],
        },
    })
}

/// A PodDisruptionBudget; `min_available` or `max_unavailable` as the budget.
pub(super) fn pdb(
    ns: &str,
    name: &str,
    selector: Value,
    budget: (&str, i64),
    pods: i64,
    created: jiff::Timestamp,
) -> Value {
    let (field, n) = budget;
    let desired = if field == "minAvailable" { n } else { pods - n };
    let allowed = (pods - desired).max(0);
    let at = rfc3339(created);
    let mut meta = meta(name, Some(ns), json!({}), created);
    meta["generation"] = json!(1);
    json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta,
        "spec": { field: n, "selector": { "matchLabels": selector } },
        "status": {
            "observedGeneration": 1,
            "currentHealthy": pods,
            "desiredHealthy": desired,
            "expectedPods": pods,
            "disruptionsAllowed": allowed,
            "conditions": [{
                "type": "DisruptionAllowed",
                "status": if allowed > 0 { "True" } else { "False" },
                "reason": if allowed > 0 { "SufficientPods" } else { "InsufficientPods" },
                "message": "",
                "observedGeneration": 1,
                "lastTransitionTime": at,
            }],
        },
    })
}

/// Log text for the `sandbox.sealos.io/logs` knob: each line starts with an RFC 3339 time
/// `minutes_ago` before `now`, oldest first.
pub(super) fn log_lines(now: jiff::Timestamp, lines: &[(i64, &str)]) -> String {
    let mut sorted: Vec<&(i64, &str)> = lines.iter().collect();
    sorted.sort_by_key(|(ago, _)| std::cmp::Reverse(*ago));
    let mut out = String::new();
    for (ago, text) in sorted {
        let at = now - jiff::SignedDuration::from_secs(ago * 60);
        let at = at.round(jiff::Unit::Microsecond).unwrap_or(at);
        out.push_str(&format!(
            "{}\t{text}\n",
            at.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        ));
    }
    out
}
