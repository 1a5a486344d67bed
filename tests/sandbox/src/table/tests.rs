//! Golden comparisons against what upstream's printers produce for sample objects.
#![allow(clippy::unwrap_used)]

use super::*;

fn now() -> Timestamp {
    "2026-11-25T12:00:00Z".parse().unwrap()
}

fn table(group: &str, plural: &str, objects: &[Value]) -> Value {
    to_table(
        group,
        plural,
        None,
        objects,
        IncludeObject::Metadata,
        &json!({"resourceVersion": "42"}),
        now(),
    )
}

fn only_cells(group: &str, plural: &str, obj: Value) -> Value {
    table(group, plural, &[obj])["rows"][0]["cells"].clone()
}

fn column_names(t: &Value) -> Vec<(String, i64)> {
    t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["priority"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn names(cols: &[(String, i64)]) -> Vec<&str> {
    cols.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn human_duration_matches_apimachinery() {
    let cases = [
        (0, "0s"),
        (45, "45s"),
        (119, "119s"),
        (120, "2m"),
        (200, "3m20s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 12 * 60, "3h12m"),
        (7 * 3600 + 59 * 60, "7h59m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (123 * 3600, "5d3h"),
        (191 * 3600, "7d23h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (740 * 86400, "2y10d"),
        (8 * 365 * 86400, "8y"),
        (-1, "0s"),
        (-3, "<invalid>"),
    ];
    for (secs, want) in cases {
        assert_eq!(
            human_duration(SignedDuration::from_secs(secs)),
            want,
            "{secs}s"
        );
    }
    assert_eq!(age(Some(&json!("2026-11-25T11:59:15Z")), now()), "45s");
    assert_eq!(age(None, now()), "<unknown>");
    assert_eq!(age(Some(&json!("yesterday")), now()), "<unknown>");
}

#[test]
fn table_envelope_and_row_objects() {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "istio", "namespace": "istio-system", "labels": {"a": "b"},
                     "resourceVersion": "7", "creationTimestamp": "2026-11-25T11:15:00Z"},
        "data": {"mesh": "x", "meshNetworks": "y"}});
    let meta = json!({"resourceVersion": "42", "continue": "tok", "remainingItemCount": 3});
    let t = to_table(
        "",
        "configmaps",
        None,
        std::slice::from_ref(&cm),
        IncludeObject::Metadata,
        &meta,
        now(),
    );
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(
        t["metadata"],
        json!({"resourceVersion": "42", "continue": "tok", "remainingItemCount": 3})
    );
    assert_eq!(
        t["columnDefinitions"][0],
        json!({"name": "Name", "type": "string", "format": "name", "description": DESC_NAME, "priority": 0})
    );
    assert_eq!(t["rows"][0]["cells"], json!(["istio", 2, "45m"]));
    assert_eq!(
        t["rows"][0]["object"],
        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": cm["metadata"]})
    );
    let full = to_table(
        "",
        "configmaps",
        None,
        std::slice::from_ref(&cm),
        IncludeObject::Object,
        &json!({}),
        now(),
    );
    assert_eq!(full["rows"][0]["object"], cm);
    assert_eq!(full["metadata"], json!({}));
    let none = to_table(
        "",
        "configmaps",
        None,
        std::slice::from_ref(&cm),
        IncludeObject::None,
        &json!({}),
        now(),
    );
    assert_eq!(none["rows"][0]["object"], Value::Null);
    assert_eq!(IncludeObject::from_query(None), Ok(IncludeObject::Metadata));
    assert_eq!(
        IncludeObject::from_query(Some("Object")),
        Ok(IncludeObject::Object)
    );
    assert_eq!(
        IncludeObject::from_query(Some("All")),
        Err("unrecognized includeObject value: \"All\"".to_string())
    );
}

#[test]
fn pods_running_with_restarts() {
    let pod = json!({
        "metadata": {"name": "istiod-7d4b9c-abcde", "namespace": "istio-system", "creationTimestamp": "2026-11-20T09:00:00Z"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "discovery", "image": "docker.io/istio/pilot:1.20.1"}]},
        "status": {"phase": "Running", "podIP": "10.244.0.12", "podIPs": [{"ip": "10.244.0.12"}],
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "discovery", "ready": true, "restartCount": 2,
                "state": {"running": {"startedAt": "2026-11-25T08:48:00Z"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-11-25T08:48:00Z"}}}]}
    });
    let t = table("", "pods", &[pod]);
    assert_eq!(
        column_names(&t),
        vec![
            ("Name".into(), 0),
            ("Ready".into(), 0),
            ("Status".into(), 0),
            ("Restarts".into(), 0),
            ("Age".into(), 0),
            ("IP".into(), 1),
            ("Node".into(), 1),
            ("Nominated Node".into(), 1),
            ("Readiness Gates".into(), 1)
        ]
    );
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "istiod-7d4b9c-abcde",
            "1/1",
            "Running",
            "2 (3h12m ago)",
            "5d3h",
            "10.244.0.12",
            "node-1",
            "<none>",
            "<none>"
        ])
    );
    assert!(t["rows"][0].get("conditions").is_none());
}

#[test]
fn pods_status_reasons_follow_print_pod() {
    let base = |status: Value| {
        json!({"metadata": {"name": "p", "creationTimestamp": "2026-11-25T11:59:00Z"},
               "spec": {"containers": [{"name": "a"}, {"name": "b"}], "readinessGates": [{"conditionType": "www.example.com/gate"}]},
               "status": status})
    };
    let waiting = base(json!({"phase": "Pending", "containerStatuses": [
        {"name": "a", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}},
        {"name": "b", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
    assert_eq!(
        only_cells("", "pods", waiting),
        json!([
            "p",
            "1/2",
            "ContainerCreating",
            "0",
            "60s",
            "<none>",
            "<none>",
            "<none>",
            "0/1"
        ])
    );

    let crash = base(
        json!({"phase": "Running", "conditions": [{"type": "www.example.com/gate", "status": "True"}],
        "containerStatuses": [
            {"name": "a", "ready": false, "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
            {"name": "b", "ready": true, "restartCount": 0, "state": {"running": {}}}]}),
    );
    let cells = only_cells("", "pods", crash);
    assert_eq!(cells[2], "CrashLoopBackOff");
    assert_eq!(cells[3], "5", "no lastState.terminated: no age suffix");
    assert_eq!(cells[8], "1/1");

    let init = json!({"metadata": {"name": "p"}, "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]},
        "status": {"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
            {"name": "i2", "state": {"running": {}}}]}});
    let cells = only_cells("", "pods", init);
    assert_eq!(cells[1], "0/1");
    assert_eq!(cells[2], "Init:1/2");
    assert_eq!(cells[4], "<unknown>");

    let init_failed = json!({"metadata": {"name": "p"}, "spec": {"initContainers": [{"name": "i1"}], "containers": [{"name": "a"}]},
        "status": {"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "restartCount": 3, "state": {"terminated": {"exitCode": 2}}}]}});
    let cells = only_cells("", "pods", init_failed);
    assert_eq!(cells[2], "Init:ExitCode:2");
    assert_eq!(cells[3], "3");

    let sidecar = json!({"metadata": {"name": "p"}, "spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "a"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
            "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "restartCount": 1, "state": {"running": {}}}],
            "containerStatuses": [{"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}}]}});
    let cells = only_cells("", "pods", sidecar);
    assert_eq!(cells[1], "2/2");
    assert_eq!(cells[3], "1");

    let completed_sidecar = base(
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [
            {"name": "a", "ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            {"name": "b", "ready": true, "state": {"running": {}}}]}),
    );
    assert_eq!(only_cells("", "pods", completed_sidecar)[2], "NotReady");

    let terminating = json!({"metadata": {"name": "p", "deletionTimestamp": "2026-11-25T11:59:50Z"},
        "spec": {"containers": [{"name": "a"}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "a", "ready": true, "state": {"running": {}}}]}});
    assert_eq!(only_cells("", "pods", terminating)[2], "Terminating");

    let succeeded = json!({"metadata": {"name": "job-x"}, "spec": {"containers": [{"name": "a"}]},
        "status": {"phase": "Succeeded", "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}});
    let t = table("", "pods", &[succeeded]);
    assert_eq!(t["rows"][0]["cells"][2], "Completed");
    assert_eq!(
        t["rows"][0]["conditions"],
        json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}])
    );
}

#[test]
fn deployments_and_replicasets() {
    let dep = json!({"metadata": {"name": "terminal-controller", "creationTimestamp": "2026-11-25T11:15:00Z"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "terminal"}},
            "template": {"spec": {"containers": [
                {"name": "controller", "image": "ghcr.io/labring/terminal:v5.0"},
                {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.20.1"}]}}},
        "status": {"replicas": 2, "readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}});
    let t = table("apps", "deployments", std::slice::from_ref(&dep));
    let cols = column_names(&t);
    assert_eq!(
        names(&cols),
        [
            "Name",
            "Ready",
            "Up-to-date",
            "Available",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    assert_eq!(cols.iter().filter(|(_, p)| *p == 1).count(), 3);
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "terminal-controller",
            "1/2",
            2,
            1,
            "45m",
            "controller,istio-proxy",
            "ghcr.io/labring/terminal:v5.0,docker.io/istio/proxyv2:1.20.1",
            "app=terminal"
        ])
    );
    // A deployment that never became ready and has no status yet.
    let fresh =
        json!({"metadata": {"name": "x"}, "spec": {"template": {"spec": {"containers": []}}}});
    assert_eq!(
        only_cells("apps", "deployments", fresh),
        json!(["x", "0/1", 0, 0, "<unknown>", "", "", ""])
    );

    let rs = json!({"metadata": {"name": "terminal-controller-5d8f7c9b6", "creationTimestamp": "2026-11-25T11:15:00Z"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "terminal", "pod-template-hash": "5d8f7c9b6"}},
            "template": {"spec": {"containers": [{"name": "controller", "image": "c:1"}]}}},
        "status": {"replicas": 2, "readyReplicas": 2}});
    let t = table("apps", "replicasets", &[rs]);
    assert_eq!(
        names(&column_names(&t)),
        [
            "Name",
            "Desired",
            "Current",
            "Ready",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "terminal-controller-5d8f7c9b6",
            2,
            2,
            2,
            "45m",
            "controller",
            "c:1",
            "app=terminal,pod-template-hash=5d8f7c9b6"
        ])
    );
}

#[test]
fn services_of_each_type() {
    let svc = |spec: Value, status: Value| json!({"metadata": {"name": "s", "creationTimestamp": "2026-11-23T12:00:00Z"}, "spec": spec, "status": status});
    let t = table(
        "",
        "services",
        &[svc(
            json!({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
        "ports": [{"port": 9090, "protocol": "TCP"}], "selector": {"app": "prometheus"}}),
            json!({}),
        )],
    );
    assert_eq!(
        names(&column_names(&t)),
        [
            "Name",
            "Type",
            "Cluster-IP",
            "External-IP",
            "Port(s)",
            "Age",
            "Selector"
        ]
    );
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "s",
            "ClusterIP",
            "10.96.0.10",
            "<none>",
            "9090/TCP",
            "2d",
            "app=prometheus"
        ])
    );

    let lb = svc(
        json!({"type": "LoadBalancer", "clusterIPs": ["10.96.1.1"], "ports": [
            {"name": "http2", "port": 80, "nodePort": 31380, "protocol": "TCP"},
            {"name": "https", "port": 443, "nodePort": 31390, "protocol": "TCP"}],
            "selector": {"istio": "ingressgateway", "app": "istio-ingressgateway"}}),
        json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}),
    );
    assert_eq!(
        only_cells("", "services", lb),
        json!([
            "s",
            "LoadBalancer",
            "10.96.1.1",
            "203.0.113.10",
            "80:31380/TCP,443:31390/TCP",
            "2d",
            "app=istio-ingressgateway,istio=ingressgateway"
        ])
    );
    let pending = svc(
        json!({"type": "LoadBalancer", "clusterIP": "10.96.1.2", "ports": [{"port": 80}]}),
        json!({}),
    );
    assert_eq!(only_cells("", "services", pending)[3], "<pending>");
    let headless = svc(
        json!({"clusterIP": "None", "ports": [{"port": 5432, "protocol": "TCP"}]}),
        json!({}),
    );
    assert_eq!(
        only_cells("", "services", headless),
        json!([
            "s",
            "ClusterIP",
            "None",
            "<none>",
            "5432/TCP",
            "2d",
            "<none>"
        ])
    );
    let ext = svc(
        json!({"type": "ExternalName", "externalName": "db.example.com"}),
        json!({}),
    );
    assert_eq!(
        only_cells("", "services", ext),
        json!([
            "s",
            "ExternalName",
            "<none>",
            "db.example.com",
            "<none>",
            "2d",
            "<none>"
        ])
    );
}

#[test]
fn endpoints_configmaps_secrets_serviceaccounts_namespaces() {
    let ep = json!({"metadata": {"name": "prometheus", "creationTimestamp": "2026-11-25T11:00:00Z"},
        "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 8080}, {"port": 9090}]}]});
    assert_eq!(
        only_cells("", "endpoints", ep),
        json!([
            "prometheus",
            "10.0.0.1:8080,10.0.0.2:8080,10.0.0.1:9090 + 1 more...",
            "60m"
        ])
    );
    assert_eq!(
        only_cells("", "endpoints", json!({"metadata": {"name": "e"}}))[1],
        "<none>"
    );
    let v6 = json!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]});
    assert_eq!(only_cells("", "endpoints", v6)[1], "[fd00::1]:80");

    let cm = json!({"metadata": {"name": "c"}, "data": {"a": "1"}, "binaryData": {"b": "AA=="}});
    assert_eq!(
        only_cells("", "configmaps", cm),
        json!(["c", 2, "<unknown>"])
    );
    let secret = json!({"metadata": {"name": "istio-ca", "creationTimestamp": "2026-11-25T11:00:00Z"}, "type": "kubernetes.io/tls",
        "data": {"tls.crt": "x", "tls.key": "y", "ca.crt": "z"}});
    let t = table("", "secrets", &[secret]);
    assert_eq!(names(&column_names(&t)), ["Name", "Type", "Data", "Age"]);
    assert_eq!(
        t["rows"][0]["cells"],
        json!(["istio-ca", "kubernetes.io/tls", 3, "60m"])
    );
    let sa = json!({"metadata": {"name": "default"}, "secrets": [{"name": "t"}]});
    assert_eq!(
        only_cells("", "serviceaccounts", sa),
        json!(["default", 1, "<unknown>"])
    );
    let ns = json!({"metadata": {"name": "sealos-system", "creationTimestamp": "2024-11-15T12:00:00Z"}, "status": {"phase": "Active"}});
    assert_eq!(
        only_cells("", "namespaces", ns),
        json!(["sealos-system", "Active", "2y10d"])
    );
}

#[test]
fn events_wide_cells() {
    let ev = json!({"metadata": {"name": "istiod.1799a"}, "type": "Normal", "reason": "ScalingReplicaSet",
        "involvedObject": {"kind": "Deployment", "name": "istiod", "namespace": "istio-system"},
        "message": "Scaled up replica set istiod-7d4b9c to 1\n", "source": {"component": "deployment-controller"},
        "firstTimestamp": "2026-11-25T11:50:00Z", "lastTimestamp": "2026-11-25T11:58:00Z", "count": 3});
    let t = table("", "events", &[ev]);
    assert_eq!(
        column_names(&t),
        vec![
            ("Last Seen".into(), 0),
            ("Type".into(), 0),
            ("Reason".into(), 0),
            ("Object".into(), 0),
            ("Subobject".into(), 1),
            ("Source".into(), 1),
            ("Message".into(), 0),
            ("First Seen".into(), 1),
            ("Count".into(), 1),
            ("Name".into(), 1)
        ]
    );
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "2m",
            "Normal",
            "ScalingReplicaSet",
            "deployment/istiod",
            "",
            "deployment-controller",
            "Scaled up replica set istiod-7d4b9c to 1",
            "10m",
            3,
            "istiod.1799a"
        ])
    );
    // events.k8s.io-style event: eventTime only, no count, reporting fields.
    let new_style = json!({"metadata": {"name": "e2"}, "type": "Warning", "reason": "Unhealthy",
        "involvedObject": {"kind": "Pod"}, "eventTime": "2026-11-25T11:59:30.000000Z",
        "reportingComponent": "kubelet", "reportingInstance": "node-1", "message": "Readiness probe failed"});
    assert_eq!(
        only_cells("", "events", new_style),
        json!([
            "30s",
            "Warning",
            "Unhealthy",
            "pod",
            "",
            "kubelet, node-1",
            "Readiness probe failed",
            "30s",
            1,
            "e2"
        ])
    );
}

#[test]
fn nodes() {
    let node = json!({"metadata": {"name": "node-1", "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "master"}},
        "spec": {"unschedulable": true},
        "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "192.168.0.10"}, {"type": "Hostname", "address": "node-1"}],
            "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Ubuntu 22.04.4 LTS",
                         "kernelVersion": "5.15.0-105-generic", "containerRuntimeVersion": "containerd://1.7.13"}}});
    let t = table("", "nodes", &[node]);
    assert_eq!(
        names(&column_names(&t)),
        [
            "Name",
            "Status",
            "Roles",
            "Age",
            "Version",
            "Internal-IP",
            "External-IP",
            "OS-Image",
            "Kernel-Version",
            "Container-Runtime"
        ]
    );
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "node-1",
            "Ready,SchedulingDisabled",
            "control-plane,master",
            "328d",
            "v1.32.0",
            "192.168.0.10",
            "<none>",
            "Ubuntu 22.04.4 LTS",
            "5.15.0-105-generic",
            "containerd://1.7.13"
        ])
    );
    let bare = json!({"metadata": {"name": "n"}});
    assert_eq!(
        only_cells("", "nodes", bare),
        json!([
            "n",
            "Unknown",
            "<none>",
            "<unknown>",
            "",
            "<none>",
            "<none>",
            "<unknown>",
            "<unknown>",
            "<unknown>"
        ])
    );
}

#[test]
fn networking_and_policy_kinds() {
    let np = json!({"metadata": {"name": "deny-all"}, "spec": {"podSelector": {}}});
    assert_eq!(
        only_cells("networking.k8s.io", "networkpolicies", np),
        json!(["deny-all", "<none>", "<unknown>"])
    );
    let np = json!({"metadata": {"name": "allow"}, "spec": {"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["b", "a"]}]}}});
    assert_eq!(
        only_cells("networking.k8s.io", "networkpolicies", np)[1],
        "app in (a,b)"
    );

    let ing = json!({"metadata": {"name": "web"}, "spec": {"ingressClassName": "nginx",
        "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}, {"host": "c.example.com"}, {"host": "d.example.com"}],
        "tls": [{"hosts": ["a.example.com"]}]},
        "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}, {"ip": "203.0.113.5"}]}}});
    let t = table("networking.k8s.io", "ingresses", &[ing]);
    assert_eq!(
        names(&column_names(&t)),
        ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    );
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "web",
            "nginx",
            "a.example.com,b.example.com,c.example.com + 1 more...",
            "203.0.113.5,lb.example.com",
            "80, 443",
            "<unknown>"
        ])
    );
    let bare = json!({"metadata": {"name": "i"}, "spec": {"rules": [{}]}});
    assert_eq!(
        only_cells("networking.k8s.io", "ingresses", bare),
        json!(["i", "<none>", "*", "", "80", "<unknown>"])
    );

    let pdb = json!({"metadata": {"name": "istiod"}, "spec": {"minAvailable": 1}, "status": {"disruptionsAllowed": 0}});
    let t = table("policy", "poddisruptionbudgets", &[pdb]);
    assert_eq!(
        names(&column_names(&t)),
        [
            "Name",
            "Min Available",
            "Max Unavailable",
            "Allowed Disruptions",
            "Age"
        ]
    );
    assert_eq!(
        t["rows"][0]["cells"],
        json!(["istiod", "1", "N/A", 0, "<unknown>"])
    );
    let pdb = json!({"metadata": {"name": "p"}, "spec": {"maxUnavailable": "25%"}});
    assert_eq!(
        only_cells("policy", "poddisruptionbudgets", pdb),
        json!(["p", "N/A", "25%", 0, "<unknown>"])
    );
}

fn cert_manager_columns() -> Value {
    json!([
        {"jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "name": "Ready", "type": "string"},
        {"jsonPath": ".spec.secretName", "name": "Secret", "type": "string"},
        {"jsonPath": ".spec.issuerRef.name", "name": "Issuer", "priority": 1, "type": "string"},
        {"jsonPath": ".status.conditions[?(@.type==\"Ready\")].message", "name": "Status", "priority": 1, "type": "string"},
        {"jsonPath": ".metadata.creationTimestamp", "description": "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.", "name": "Age", "type": "date"}
    ])
}

#[test]
fn custom_resources_use_additional_printer_columns() {
    let cert = json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "gateway-tls", "namespace": "istio-system", "creationTimestamp": "2026-11-20T09:00:00Z"},
        "spec": {"secretName": "gateway-tls", "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "message": "Certificate is up to date and has not expired"}]}});
    let pc = cert_manager_columns();
    let t = to_table(
        "cert-manager.io",
        "certificates",
        Some(&pc),
        &[cert],
        IncludeObject::Metadata,
        &json!({"resourceVersion": "9"}),
        now(),
    );
    assert_eq!(
        column_names(&t),
        vec![
            ("Name".into(), 0),
            ("Ready".into(), 0),
            ("Secret".into(), 0),
            ("Issuer".into(), 1),
            ("Status".into(), 1),
            ("Age".into(), 0)
        ]
    );
    assert_eq!(t["columnDefinitions"][5]["type"], "date");
    assert_eq!(
        t["columnDefinitions"][1]["description"],
        "Custom resource definition column (in JSONPath format): .status.conditions[?(@.type==\"Ready\")].status"
    );
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "gateway-tls",
            "True",
            "gateway-tls",
            "letsencrypt",
            "Certificate is up to date and has not expired",
            "5d3h"
        ])
    );

    // A certificate with no status yet: the cells the paths do not reach are null.
    let pending = json!({"metadata": {"name": "new"}, "spec": {"secretName": "s", "issuerRef": {"name": "ca"}}});
    let t = to_table(
        "cert-manager.io",
        "certificates",
        Some(&pc),
        &[pending],
        IncludeObject::None,
        &json!({}),
        now(),
    );
    // No creationTimestamp either: a date column whose path finds nothing is null too.
    assert_eq!(
        t["rows"][0]["cells"],
        json!(["new", null, "s", "ca", null, null])
    );
}

#[test]
fn custom_resource_cells_by_column_type() {
    let pc = json!([
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
        {"name": "Enabled", "type": "boolean", "jsonPath": ".spec.enabled"},
        {"name": "Hosts", "type": "string", "jsonPath": ".spec.hosts"},
        {"name": "Expires", "type": "date", "jsonPath": ".status.notAfter"},
        {"name": "Bad", "type": "date", "jsonPath": ".spec.bad"},
        {"name": "Mode", "type": "string", "jsonPath": ".spec.mtls.mode"}
    ]);
    let obj = json!({"metadata": {"name": "x"}, "spec": {"replicas": 3.0, "ratio": 2, "enabled": true,
        "hosts": ["a", "b"], "bad": "soon", "mtls": {"mode": "STRICT"}}, "status": {"notAfter": "2026-11-24T12:00:00Z"}});
    let t = to_table(
        "g",
        "things",
        Some(&pc),
        &[obj],
        IncludeObject::Metadata,
        &json!({}),
        now(),
    );
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "x",
            3,
            2.0,
            true,
            "[\"a\",\"b\"]",
            "24h",
            "<invalid>",
            "STRICT"
        ])
    );
}

#[test]
fn istio_list_columns_print_as_json_like_kubectl_shows_them() {
    // As `kubectl get virtualservices` shows GATEWAYS ["istio-system/gw"] and HOSTS ["*"].
    let pc = json!([
        {"name": "Gateways", "type": "string", "jsonPath": ".spec.gateways"},
        {"name": "Hosts", "type": "string", "jsonPath": ".spec.hosts"},
        {"name": "Match", "type": "string", "jsonPath": ".spec.match"},
        {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type == \"Ready\")].status"}
    ]);
    let vs = json!({"metadata": {"name": "terminal"}, "spec": {"gateways": ["istio-system/gw"], "hosts": ["*", "a&b<c>"],
        "match": {"z": 1.0, "a": [true, null]}}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    let t = to_table(
        "networking.istio.io",
        "virtualservices",
        Some(&pc),
        &[vs],
        IncludeObject::Metadata,
        &json!({}),
        now(),
    );
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "terminal",
            "[\"istio-system/gw\"]",
            "[\"*\",\"a\\u0026b\\u003cc\\u003e\"]",
            "{\"a\":[true,null],\"z\":1}",
            "True"
        ])
    );
}

#[test]
fn custom_resources_without_columns_get_age() {
    let obj = json!({"metadata": {"name": "default", "creationTimestamp": "2026-11-25T11:15:00Z"}});
    for pc in [Value::Null, json!([])] {
        let t = to_table(
            "security.istio.io",
            "peerauthentications",
            Some(&pc),
            std::slice::from_ref(&obj),
            IncludeObject::Metadata,
            &json!({}),
            now(),
        );
        assert_eq!(names(&column_names(&t)), ["Name", "Age"]);
        assert_eq!(t["columnDefinitions"][1]["type"], "date");
        assert_eq!(t["rows"][0]["cells"], json!(["default", "45m"]));
    }
    assert_eq!(crd_columns(&Value::Null).len(), 2);
}

#[test]
fn crds_and_unknown_resources_use_the_default_convertor() {
    let crd = json!({"metadata": {"name": "certificates.cert-manager.io", "creationTimestamp": "2026-11-20T09:00:00+08:00"}});
    let t = table("apiextensions.k8s.io", "customresourcedefinitions", &[crd]);
    assert_eq!(names(&column_names(&t)), ["Name", "Created At"]);
    assert_eq!(t["columnDefinitions"][1]["type"], "date");
    assert_eq!(
        t["rows"][0]["cells"],
        json!(["certificates.cert-manager.io", "2026-11-20T01:00:00Z"])
    );
    assert!(builtin_columns("apiextensions.k8s.io", "customresourcedefinitions").is_none());
    let lease = json!({"metadata": {"name": "l"}});
    assert_eq!(
        only_cells("coordination.k8s.io", "leases", lease),
        json!(["l", "0001-01-01T00:00:00Z"])
    );
}

#[test]
fn every_builtin_row_is_as_wide_as_its_columns() {
    let kinds = [
        ("", "pods"),
        ("", "services"),
        ("", "endpoints"),
        ("", "configmaps"),
        ("", "secrets"),
        ("", "events"),
        ("", "serviceaccounts"),
        ("", "nodes"),
        ("", "namespaces"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "daemonsets"),
        ("apps", "statefulsets"),
        ("networking.k8s.io", "networkpolicies"),
        ("networking.k8s.io", "ingresses"),
        ("policy", "poddisruptionbudgets"),
    ];
    for (g, p) in kinds {
        let t = table(g, p, &[json!({"metadata": {"name": "x"}})]);
        let ncols = t["columnDefinitions"].as_array().unwrap().len();
        assert_eq!(
            t["rows"][0]["cells"].as_array().unwrap().len(),
            ncols,
            "{g}/{p}"
        );
    }
}

#[test]
fn daemonsets_and_statefulsets() {
    let ds = json!({"metadata": {"name": "node-exporter"}, "spec": {"selector": {"matchLabels": {"app": "ne"}},
        "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [{"name": "ne", "image": "ne:1"}]}}},
        "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 3, "numberAvailable": 2}});
    assert_eq!(
        only_cells("apps", "daemonsets", ds),
        json!([
            "node-exporter",
            3,
            3,
            2,
            3,
            2,
            "kubernetes.io/os=linux",
            "<unknown>",
            "ne",
            "ne:1",
            "app=ne"
        ])
    );
    let sts = json!({"metadata": {"name": "prometheus"}, "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "p", "image": "p:1"}]}}},
        "status": {"readyReplicas": 2}});
    assert_eq!(
        only_cells("apps", "statefulsets", sts),
        json!(["prometheus", "2/2", "<unknown>", "p", "p:1"])
    );
}
