//! The order in which a scenario's objects are created, so that what an object refers to
//! exists before it: namespaces, CRDs, RBAC, ServiceAccounts, Secrets, ConfigMaps, Services,
//! issuers, Certificates, workloads, Istio routing, policies, then everything else.

use serde_json::Value;

/// Stable sort into dependency order: objects of one group keep their relative order.
pub fn apply_order(mut objects: Vec<Value>) -> Vec<Value> {
    objects.sort_by_key(rank);
    objects
}

/// The group an object is created in; lower first.
pub(super) fn rank(obj: &Value) -> u8 {
    match obj["kind"].as_str().unwrap_or_default() {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        "PriorityClass" | "StorageClass" | "IngressClass" | "PersistentVolume" | "ClusterRole"
        | "ClusterRoleBinding" | "Role" | "RoleBinding" => 2,
        "ServiceAccount" => 3,
        "Secret" => 4,
        "ConfigMap" | "PersistentVolumeClaim" => 5,
        "Service" => 6,
        "Endpoints" | "EndpointSlice" => 7,
        "ClusterIssuer" | "Issuer" => 8,
        "Certificate" => 9,
        "CertificateRequest" => 10,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "CronJob" | "Pod" => 11,
        "Gateway" => 12,
        "DestinationRule" => 13,
        "VirtualService" => 14,
        "PeerAuthentication"
        | "AuthorizationPolicy"
        | "RequestAuthentication"
        | "NetworkPolicy" => 15,
        _ => 16,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn obj(kind: &str, name: &str) -> Value {
        json!({ "apiVersion": "v1", "kind": kind, "metadata": { "name": name } })
    }

    #[test]
    fn groups_in_dependency_order_and_stable_within() {
        let input = vec![
            obj("VirtualService", "vs"),
            obj("PodDisruptionBudget", "pdb"),
            obj("Deployment", "d1"),
            obj("Certificate", "c"),
            obj("Secret", "s1"),
            obj("AuthorizationPolicy", "ap"),
            obj("Namespace", "n2"),
            obj("Gateway", "gw"),
            obj("ClusterIssuer", "ci"),
            obj("Deployment", "d2"),
            obj("DestinationRule", "dr"),
            obj("CustomResourceDefinition", "crd"),
            obj("ServiceAccount", "sa"),
            obj("Service", "svc"),
            obj("ConfigMap", "cm"),
            obj("Secret", "s2"),
            obj("Namespace", "n1"),
            obj("ClusterRole", "cr"),
            obj("Widget", "w"),
        ];
        let names: Vec<String> = apply_order(input)
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "n2", "n1", "crd", "cr", "sa", "s1", "s2", "cm", "svc", "ci", "c", "d1", "d2",
                "gw", "dr", "vs", "ap", "pdb", "w"
            ]
        );
    }

    #[test]
    fn objects_without_kind_go_last() {
        let out = apply_order(vec![
            json!({ "metadata": { "name": "odd" } }),
            obj("Namespace", "n"),
        ]);
        assert_eq!(out[0]["metadata"]["name"], "n");
    }
}
