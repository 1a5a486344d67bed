//! The `empty` scenario: what a freshly installed Sealos cluster has before anything runs on
//! it — the default namespaces, three nodes, the `kubernetes` Service and the CRDs of Istio,
//! cert-manager and the Prometheus operator.

use serde_json::{Value, json};

use super::objects::{days_ago, labels, meta, namespace, rfc3339};

/// The nodes, control plane first. Pod IPs use 10.244.(index+1).0/24.
pub(super) const NODES: &[&str] = &["sealos-master-0", "sealos-worker-1", "sealos-worker-2"];

/// When the cluster was installed, relative to `now`.
pub(super) const CLUSTER_AGE_DAYS: i64 = 400;

pub(super) fn objects(now: jiff::Timestamp) -> Vec<Value> {
    let born = days_ago(now, CLUSTER_AGE_DAYS);
    let mut out: Vec<Value> = ["default", "kube-system", "kube-public", "kube-node-lease"]
        .iter()
        .map(|ns| namespace(ns, &[], born))
        .collect();
    out.extend(
        NODES
            .iter()
            .enumerate()
            .map(|(i, name)| node(i, name, born, now)),
    );
    out.push(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta("kubernetes", Some("default"), labels(&[("component", "apiserver"), ("provider", "kubernetes")]), born),
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.96.0.1",
            "clusterIPs": ["10.96.0.1"],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
            "sessionAffinity": "None",
            "ports": [{ "name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443 }],
        },
        "status": { "loadBalancer": {} },
    }));
    out.push(json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": meta("kubernetes", Some("default"), labels(&[("endpointslice.kubernetes.io/skip-mirror", "true")]), born),
        "subsets": [{
            "addresses": [{ "ip": node_ip(0) }],
            "ports": [{ "name": "https", "port": 6443, "protocol": "TCP" }],
        }],
    }));
    out.extend(crate::crds::builtin_crds().into_iter().map(|mut crd| {
        crd["metadata"]["creationTimestamp"] = json!(rfc3339(born));
        if let Some(conditions) = crd["status"]["conditions"].as_array_mut() {
            for c in conditions {
                c["lastTransitionTime"] = json!(rfc3339(born));
            }
        }
        crd
    }));
    out
}

pub(super) fn node_ip(index: usize) -> String {
    format!("192.168.0.{}", 10 + index)
}

fn node(index: usize, name: &str, born: jiff::Timestamp, now: jiff::Timestamp) -> Value {
    let control_plane = index == 0;
    let mut l = labels(&[
        ("beta.kubernetes.io/arch", "amd64"),
        ("beta.kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        ("kubernetes.io/hostname", name),
        ("kubernetes.io/os", "linux"),
    ]);
    if control_plane {
        l["node-role.kubernetes.io/control-plane"] = json!("");
        l["node.kubernetes.io/exclude-from-external-load-balancers"] = json!("");
    }
    let heartbeat = rfc3339(now - jiff::SignedDuration::from_secs(20));
    let since = rfc3339(born);
    let condition = |ty: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": ty, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": heartbeat, "lastTransitionTime": since,
        })
    };
    let (cpu, memory) = if control_plane {
        ("4", "16369088Ki")
    } else {
        ("8", "32779604Ki")
    };
    let (alloc_cpu, alloc_memory) = if control_plane {
        ("4", "16266688Ki")
    } else {
        ("8", "32677204Ki")
    };
    let ip = node_ip(index);
    let mut meta = meta(name, None, l, born);
    meta["annotations"] = json!({
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    });
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta,
        "spec": {
            "podCIDR": format!("10.244.{}.0/24", index + 1),
            "podCIDRs": [format!("10.244.{}.0/24", index + 1)],
        },
        "status": {
            "capacity": { "cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "102687672Ki", "hugepages-2Mi": "0" },
            "allocatable": { "cpu": alloc_cpu, "memory": alloc_memory, "pods": "110", "ephemeral-storage": "94636958339", "hugepages-2Mi": "0" },
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                { "type": "InternalIP", "address": ip },
                { "type": "Hostname", "address": name },
            ],
            "daemonEndpoints": { "kubeletEndpoint": { "Port": 10250 } },
            "nodeInfo": {
                "machineID": format!("{:032x}", 0x5ea1_0500_u128 + index as u128),
                "systemUUID": format!("4c4c4544-0042-3510-8053-b{:011x}", index),
                "bootID": format!("0b0e7e1d-8a5c-4f4e-9d7a-{:012x}", 0xb007 + index),
                "kernelVersion": "5.15.0-126-generic",
                "osImage": "Ubuntu 22.04.5 LTS",
                "containerRuntimeVersion": "containerd://1.7.24",
                "kubeletVersion": "v1.32.4",
                "kubeProxyVersion": "v1.32.4",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    })
}
