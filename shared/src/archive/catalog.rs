//! What a backup holds: the guide's list (istio-system ConfigMaps and Secrets; Gateways,
//! VirtualServices, DestinationRules everywhere; sealos-system Deployments, ConfigMaps, Secrets;
//! Certificates, Issuers, ClusterIssuers and the certificates' Secrets) plus the Istio security
//! policies the guide prescribes. cert-manager's Orders, Challenges and CertificateRequests are
//! never backed up: they record one issuance and are recreated by cert-manager.
//!
//! Each kind has a restore phase: dependencies first (namespaces, then Secrets and ConfigMaps,
//! issuers, certificates, gateways, destination rules, virtual services, policies, deployments).

use std::collections::BTreeSet;

use clap::ValueEnum;
use serde::Serialize;

use serde_json::Value;

use crate::error::{Error, Result};

/// `--include`: the three parts of the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// istio-system ConfigMaps and Secrets; Gateways, VirtualServices, DestinationRules,
    /// AuthorizationPolicies, PeerAuthentications in every namespace.
    Istio,
    /// sealos-system Deployments, ConfigMaps and Secrets.
    Sealos,
    /// Certificates, Issuers, ClusterIssuers and the Secrets the certificates write.
    Certificates,
}

impl Part {
    pub const ALL: [Part; 3] = [Part::Istio, Part::Sealos, Part::Certificates];

    pub fn as_str(self) -> &'static str {
        match self {
            Part::Istio => "istio",
            Part::Sealos => "sealos",
            Part::Certificates => "certificates",
        }
    }
}

/// A kind the suite knows how to back up and restore. The version is the one asked for when
/// the server's discovery does not say better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    /// Restore order: lower first.
    pub phase: u8,
}

impl Kind {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

pub const NAMESPACE: Kind = kind("", "v1", "Namespace", "namespaces", false, 0);
pub const SECRET: Kind = kind("", "v1", "Secret", "secrets", true, 1);
pub const CONFIG_MAP: Kind = kind("", "v1", "ConfigMap", "configmaps", true, 1);
pub const ISSUER: Kind = kind("cert-manager.io", "v1", "Issuer", "issuers", true, 2);
pub const CLUSTER_ISSUER: Kind = kind(
    "cert-manager.io",
    "v1",
    "ClusterIssuer",
    "clusterissuers",
    false,
    2,
);
pub const CERTIFICATE: Kind = kind(
    "cert-manager.io",
    "v1",
    "Certificate",
    "certificates",
    true,
    3,
);
pub const GATEWAY: Kind = kind("networking.istio.io", "v1", "Gateway", "gateways", true, 4);
pub const DESTINATION_RULE: Kind = kind(
    "networking.istio.io",
    "v1",
    "DestinationRule",
    "destinationrules",
    true,
    5,
);
pub const VIRTUAL_SERVICE: Kind = kind(
    "networking.istio.io",
    "v1",
    "VirtualService",
    "virtualservices",
    true,
    6,
);
pub const AUTHORIZATION_POLICY: Kind = kind(
    "security.istio.io",
    "v1",
    "AuthorizationPolicy",
    "authorizationpolicies",
    true,
    7,
);
pub const PEER_AUTHENTICATION: Kind = kind(
    "security.istio.io",
    "v1",
    "PeerAuthentication",
    "peerauthentications",
    true,
    7,
);
pub const DEPLOYMENT: Kind = kind("apps", "v1", "Deployment", "deployments", true, 8);

/// Every kind, in restore order.
pub const KINDS: &[Kind] = &[
    NAMESPACE,
    SECRET,
    CONFIG_MAP,
    ISSUER,
    CLUSTER_ISSUER,
    CERTIFICATE,
    GATEWAY,
    DESTINATION_RULE,
    VIRTUAL_SERVICE,
    AUTHORIZATION_POLICY,
    PEER_AUTHENTICATION,
    DEPLOYMENT,
];

/// Resources that are never backed up, and why.
pub const NEVER: &[(&str, &str)] = &[
    (
        "certificaterequests",
        "a CertificateRequest records one issuance; cert-manager makes new ones",
    ),
    (
        "orders",
        "an ACME Order belongs to one issuance; cert-manager makes new ones",
    ),
    (
        "challenges",
        "an ACME Challenge belongs to one issuance; cert-manager makes new ones",
    ),
];

const fn kind(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    phase: u8,
) -> Kind {
    Kind {
        group,
        version,
        kind,
        plural,
        namespaced,
        phase,
    }
}

/// The kind of an archive folder (`resource`, `group`), if the suite knows it.
pub fn by_resource(resource: &str, group: &str) -> Option<&'static Kind> {
    KINDS
        .iter()
        .find(|k| k.plural == resource && k.group == group)
}

/// The kind of an object's group and kind, if the suite knows it.
pub fn by_kind(group: &str, kind: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.kind == kind && k.group == group)
}

/// Objects every cluster makes by itself (the token controller's ServiceAccount token Secrets,
/// the root CA ConfigMap in every namespace): never backed up, never restored — a restored token
/// Secret would have the cluster mint a credential. The reason, for restore's finding.
pub fn made_by_cluster(kind: &Kind, name: &str, object: &Value) -> Option<&'static str> {
    if *kind == SECRET && object["type"].as_str() == Some("kubernetes.io/service-account-token") {
        Some(
            "a ServiceAccount token Secret is made by the cluster and would mint a credential; backup never takes one",
        )
    } else if *kind == CONFIG_MAP && name == "kube-root-ca.crt" {
        Some("kube-root-ca.crt is made by the cluster in every namespace; backup never takes it")
    } else {
        None
    }
}

/// The sources `backup create` could have taken an object of `kind` in `namespace` (None:
/// cluster-scoped) from. Empty: backup never takes such an object, so restore must not apply it.
/// The Namespace objects are not here: backup takes those of the namespaces it took objects from.
pub fn sources_covering(kind: &Kind, namespace: Option<&str>) -> Vec<Source> {
    catalogue()
        .into_iter()
        .filter(|s| s.kind == *kind)
        .filter(|s| match (&s.scope, namespace) {
            (Scope::In(ns), Some(found)) => *ns == found,
            (Scope::Everywhere | Scope::CertificateSecrets, Some(_)) => true,
            (Scope::Cluster, None) => true,
            _ => false,
        })
        .collect()
}

/// Where a source reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One namespace.
    In(&'static str),
    /// Every namespace (or those of `--namespaces`).
    Everywhere,
    /// A cluster-scoped kind.
    Cluster,
    /// The Secrets named by the Certificates' `spec.secretName`.
    CertificateSecrets,
}

/// One list to run during a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub part: Part,
    pub kind: Kind,
    pub scope: Scope,
}

const fn source(part: Part, kind: Kind, scope: Scope) -> Source {
    Source { part, kind, scope }
}

/// The guide's list, in restore order within each part.
fn catalogue() -> Vec<Source> {
    use Part::*;
    use Scope::*;
    vec![
        source(Istio, SECRET, In("istio-system")),
        source(Istio, CONFIG_MAP, In("istio-system")),
        source(Istio, GATEWAY, Everywhere),
        source(Istio, DESTINATION_RULE, Everywhere),
        source(Istio, VIRTUAL_SERVICE, Everywhere),
        source(Istio, AUTHORIZATION_POLICY, Everywhere),
        source(Istio, PEER_AUTHENTICATION, Everywhere),
        source(Sealos, SECRET, In("sealos-system")),
        source(Sealos, CONFIG_MAP, In("sealos-system")),
        source(Sealos, DEPLOYMENT, In("sealos-system")),
        source(Certificates, ISSUER, Everywhere),
        source(Certificates, CLUSTER_ISSUER, Cluster),
        source(Certificates, CERTIFICATE, Everywhere),
        source(Certificates, SECRET, CertificateSecrets),
    ]
}

/// What `--include`, `--resources` and `--exclude-secrets` select, in backup order. Unknown or
/// never-backed-up resources are refused (exit 2) before anything is read.
pub fn select(parts: &[Part], resources: &[String], exclude_secrets: bool) -> Result<Vec<Source>> {
    let parts: BTreeSet<Part> = if parts.is_empty() {
        Part::ALL.into_iter().collect()
    } else {
        parts.iter().copied().collect()
    };
    let mut wanted = BTreeSet::new();
    for name in resources {
        let name = name.trim().to_lowercase();
        if let Some((_, why)) = NEVER.iter().find(|(n, _)| *n == name) {
            return Err(Error::usage(format!(
                "--resources {name}: never backed up: {why}"
            )));
        }
        let kind = KINDS
            .iter()
            .find(|k| {
                k.plural == name
                    || k.kind.to_lowercase() == name
                    || format!("{}.{}", k.plural, k.group) == name
            })
            .filter(|k| k.plural != "namespaces")
            .ok_or_else(|| {
                Error::usage(format!(
                    "--resources {name}: not a resource backups hold (known: {})",
                    KINDS
                        .iter()
                        .skip(1)
                        .map(|k| k.plural)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        wanted.insert(kind.plural);
    }
    let sources: Vec<Source> = catalogue()
        .into_iter()
        .filter(|s| parts.contains(&s.part))
        .filter(|s| wanted.is_empty() || wanted.contains(s.kind.plural))
        .filter(|s| !(exclude_secrets && s.kind == SECRET))
        .collect();
    if sources.is_empty() {
        return Err(Error::usage(
            "nothing to back up: --include, --resources and --exclude-secrets leave no resource",
        ));
    }
    Ok(sources)
}

/// Whether an owner of this kind is in the backup (else references to it are dropped).
pub fn owner_kept(sources: &[Source], api_version: &str, kind: &str) -> bool {
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    sources
        .iter()
        .any(|s| s.kind.kind == kind && s.kind.group == group)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn everything_by_default_and_never_the_issuance_records() {
        let all = select(&[], &[], false).unwrap();
        assert_eq!(all.len(), 14);
        assert!(all.iter().any(|s| s.kind == CLUSTER_ISSUER));
        assert!(all.iter().any(|s| s.kind == ISSUER));
        assert!(all.iter().all(|s| s.kind.plural != "certificaterequests"));
        let err = select(&[], &["certificaterequests".into()], false).unwrap_err();
        assert!(err.to_string().contains("never backed up"), "{err}");
        assert!(select(&[], &["certificateissuer".into()], false).is_err());
    }

    #[test]
    fn selection_narrows() {
        let certs = select(&[Part::Certificates], &[], true).unwrap();
        assert!(certs.iter().all(|s| s.part == Part::Certificates));
        assert!(certs.iter().all(|s| s.kind != SECRET));
        let gateways = select(&[], &["Gateway".into()], false).unwrap();
        assert_eq!(gateways.len(), 1);
        assert_eq!(gateways[0].scope, Scope::Everywhere);
        assert!(select(&[Part::Sealos], &["gateways".into()], false).is_err());
    }

    #[test]
    fn what_backup_takes_from_where() {
        assert_eq!(
            sources_covering(&DEPLOYMENT, Some("sealos-system")).len(),
            1
        );
        assert!(sources_covering(&DEPLOYMENT, Some("kube-system")).is_empty());
        assert!(sources_covering(&CONFIG_MAP, Some("kube-system")).is_empty());
        let secrets = sources_covering(&SECRET, Some("istio-system"));
        assert!(secrets.iter().any(|s| s.scope == Scope::In("istio-system")));
        let elsewhere = sources_covering(&SECRET, Some("ns-alice"));
        assert_eq!(elsewhere.len(), 1);
        assert_eq!(elsewhere[0].scope, Scope::CertificateSecrets);
        assert_eq!(sources_covering(&CLUSTER_ISSUER, None).len(), 1);
        assert!(sources_covering(&CLUSTER_ISSUER, Some("ns-alice")).is_empty());
        assert!(sources_covering(&GATEWAY, None).is_empty());
        assert!(
            made_by_cluster(
                &SECRET,
                "t",
                &serde_json::json!({"type": "kubernetes.io/service-account-token"})
            )
            .is_some()
        );
        assert!(
            made_by_cluster(
                &SECRET,
                "t",
                &serde_json::json!({"type": "kubernetes.io/tls"})
            )
            .is_none()
        );
        assert_eq!(by_kind("apps", "Deployment"), Some(&DEPLOYMENT));
        assert_eq!(by_kind("", "Pod"), None);
    }

    #[test]
    fn kinds_are_in_restore_order() {
        assert!(KINDS.windows(2).all(|w| w[0].phase <= w[1].phase));
        assert_eq!(by_resource("secrets", ""), Some(&SECRET));
        assert_eq!(
            by_resource("gateways", "networking.istio.io"),
            Some(&GATEWAY)
        );
        assert_eq!(GATEWAY.api_version(), "networking.istio.io/v1");
        let sources = select(&[], &[], false).unwrap();
        assert!(owner_kept(&sources, "cert-manager.io/v1", "Certificate"));
        assert!(!owner_kept(&sources, "apps/v1", "ReplicaSet"));
    }
}
