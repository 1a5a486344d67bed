//! cert-manager `cert-manager.io/v1` resources.

use kube::CustomResource;
use serde::{Deserialize, Serialize};

use super::{Condition, Extra};

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IssuerRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// A Certificate: what cert-manager keeps issued into `secretName`.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Certificate",
    namespaced,
    status = "CertificateStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSpec {
    pub secret_name: String,
    pub issuer_ref: IssuerRef,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_before: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_issuance_attempts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_time: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Issuer and ClusterIssuer share a spec (selfSigned, ca, acme, vault...) and a status.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
pub struct IssuerStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Issuer",
    namespaced,
    status = "IssuerStatus",
    schema = "disabled"
)]
pub struct IssuerSpec {
    #[serde(flatten)]
    pub config: Extra,
}

#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "ClusterIssuer",
    status = "IssuerStatus",
    schema = "disabled"
)]
pub struct ClusterIssuerSpec {
    #[serde(flatten)]
    pub config: Extra,
}

#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "CertificateRequest",
    namespaced,
    status = "CertificateRequestStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequestSpec {
    pub issuer_ref: IssuerRef,
    #[serde(default)]
    pub request: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequestStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::resources::condition;
    use kube::Resource;
    use serde_json::json;

    #[test]
    fn certificate_reads_status_and_finds_ready_anywhere() {
        let doc = json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "terminal-tls", "namespace": "sealos-system"},
            "spec": {"secretName": "terminal-tls", "dnsNames": ["a.example"],
                     "issuerRef": {"name": "ca", "kind": "ClusterIssuer"}, "privateKey": {"algorithm": "ECDSA"}},
            "status": {"conditions": [
                {"type": "Issuing", "status": "True", "reason": "ManuallyTriggered"},
                {"type": "Ready", "status": "False", "reason": "Failed"}],
                "notAfter": "2026-12-01T00:00:00Z", "revision": 3, "failedIssuanceAttempts": 1}
        });
        let cert: Certificate = serde_json::from_value(doc.clone()).unwrap();
        let status = cert.status.as_ref().unwrap();
        assert_eq!(
            condition(&status.conditions, "Ready").unwrap().status,
            "False"
        );
        assert_eq!(status.revision, Some(3));
        // Unknown fields survive a round trip (a status PUT must not drop them).
        assert_eq!(serde_json::to_value(&cert).unwrap()["spec"], doc["spec"]);
        assert_eq!(Certificate::plural(&()), "certificates");
    }

    #[test]
    fn issuers_keep_their_config() {
        let issuer: ClusterIssuer = serde_json::from_value(json!({
            "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
            "metadata": {"name": "ca"}, "spec": {"ca": {"secretName": "root-ca"}}
        }))
        .unwrap();
        assert_eq!(issuer.spec.config["ca"]["secretName"], "root-ca");
        assert_eq!(ClusterIssuer::api_version(&()), "cert-manager.io/v1");
        assert_eq!(Issuer::plural(&()), "issuers");
        assert_eq!(CertificateRequest::plural(&()), "certificaterequests");
    }
}
