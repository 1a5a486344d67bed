//! `restore`'s flags and the validated options they make (bad input is refused here, before the
//! archive is read or the cluster asked).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use sealos_shared::archive::catalog::Part;
use sealos_shared::flags::RenamedFormat;
use sealos_shared::output::Format;
use sealos_shared::{Error, Result};
use serde::Serialize;

use super::rewrite::HostMap;

/// What to do with an object that already exists.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Existing {
    /// Leave it as it is (reported as skipped).
    #[default]
    Skip,
    /// Apply the backed-up fields over it (server-side apply, forced, on the version read when
    /// planning: a change made since then is a conflict, not overwritten).
    Update,
}

#[derive(Args, Debug, Clone)]
pub struct RestoreArgs {
    /// The archive: a path, or s3://BUCKET/PREFIX/NAME.tar.gz.
    #[arg(value_name = "ARCHIVE|s3://...")]
    pub archive: String,
    /// Use the server's dry run: validate every object, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only these parts of the configuration. With -n/--namespaces, naming `certificates` here
    /// is what restores the ClusterIssuers too.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub include: Vec<Part>,
    /// Only objects from these namespaces, as named in the backup (`-n NS` means the same), and
    /// of the cluster-scoped objects only their Namespace objects.
    #[arg(long, value_delimiter = ',', value_name = "NS,...")]
    pub namespaces: Vec<String>,
    /// Restore namespace A's objects into B (repeatable).
    #[arg(long, value_delimiter = ',', value_name = "A=B")]
    pub namespace_map: Vec<String>,
    /// Rewrite external hosts by suffix: `cloud.sealos.io=clone.sealos.io` turns
    /// `x.cloud.sealos.io` into `x.clone.sealos.io` (VirtualService and Gateway hosts,
    /// Certificate DNS names); repeatable. Without it external hosts are never changed.
    #[arg(long, value_delimiter = ',', value_name = "OLD=NEW")]
    pub host_map: Vec<String>,
    /// Write even where a restored object conflicts with one the cluster holds (the same external
    /// host on the same gateway, the same certificate Secret, the same Gateway host and port).
    /// Without it a conflict stops the restore before any write.
    #[arg(long)]
    pub allow_conflicts: bool,
    /// Objects that already exist: skip them, or update them.
    #[arg(long, value_enum, default_value_t)]
    pub existing: Existing,
    /// Also apply objects of this kind, which `backup create` never writes (e.g. `ServiceAccount`,
    /// `Role.rbac.authorization.k8s.io`); repeatable. Without a group, the kind in any group.
    /// Restore otherwise refuses every kind backup does not take.
    #[arg(long, value_name = "KIND[.GROUP]")]
    pub allow_kind: Vec<String>,
    /// The age identity file for an encrypted archive. Given, a plaintext archive is refused.
    #[arg(long, value_name = "FILE")]
    pub decrypt_key: Option<PathBuf>,
    /// Restore only an archive signed by a key in this allowed_signers file (see `verify`);
    /// anything else is refused before any object is applied.
    #[arg(long, value_name = "FILE")]
    pub trusted_signers: Option<PathBuf>,
    /// The audit log (default: $XDG_STATE_HOME/kubectl-sealos/audit.jsonl).
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
    /// Report format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
    #[command(flatten)]
    pub renamed: RenamedFormat,
}

/// A kind named by `--allow-kind`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AllowKind {
    /// As the operator wrote it, for the report.
    pub flag: String,
    pub kind: String,
    /// None: any group.
    pub group: Option<String>,
}

impl AllowKind {
    pub fn parse(text: &str) -> Result<AllowKind> {
        let bad = |why: &str| {
            Error::usage(format!(
                "--allow-kind {text:?}: {why} (expected KIND or KIND.GROUP, e.g. ServiceAccount or Role.rbac.authorization.k8s.io)"
            ))
        };
        let (kind, group) = match text.split_once('.') {
            Some((kind, group)) => (kind, Some(group)),
            None => (text, None),
        };
        if !valid_kind(kind) {
            return Err(bad("not a kind"));
        }
        if let Some(group) = group
            && !valid_group(group)
        {
            return Err(bad("not an API group"));
        }
        Ok(AllowKind {
            flag: text.to_string(),
            kind: kind.to_string(),
            group: group.map(str::to_string),
        })
    }

    /// Kinds match as kubectl matches them, whatever the case.
    pub fn matches(&self, group: &str, kind: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind) && self.group.as_deref().is_none_or(|g| g == group)
    }
}

/// The validated options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub map: BTreeMap<String, String>,
    pub hosts: HostMap,
    pub namespaces: BTreeSet<String>,
    pub parts: BTreeSet<Part>,
    pub allow_kinds: Vec<AllowKind>,
    pub existing: Existing,
    pub allow_conflicts: bool,
    pub dry_run: bool,
}

impl RestoreArgs {
    pub fn options(&self) -> Result<Options> {
        let mut map = BTreeMap::new();
        for pair in &self.namespace_map {
            let (from, to) = pair
                .split_once('=')
                .filter(|(a, b)| valid_ns(a) && valid_ns(b))
                .ok_or_else(|| {
                    Error::usage(format!(
                        "--namespace-map {pair:?}: expected FROM=TO namespaces"
                    ))
                })?;
            if map.insert(from.to_string(), to.to_string()).is_some() {
                return Err(Error::usage(format!(
                    "--namespace-map: {from:?} is mapped twice"
                )));
            }
        }
        for ns in &self.namespaces {
            if !valid_ns(ns) {
                return Err(Error::usage(format!(
                    "--namespaces {ns:?}: not a namespace"
                )));
            }
        }
        let mut hosts = HostMap::new();
        for pair in &self.host_map {
            let (from, to) = pair
                .split_once('=')
                .filter(|(a, b)| valid_name(a) && valid_name(b))
                .ok_or_else(|| {
                    Error::usage(format!(
                        "--host-map {pair:?}: expected OLD=NEW host suffixes (cloud.sealos.io=clone.sealos.io)"
                    ))
                })?;
            if hosts.iter().any(|(f, _)| f == from) {
                return Err(Error::usage(format!(
                    "--host-map: {from:?} is mapped twice"
                )));
            }
            hosts.push((from.to_string(), to.to_string()));
        }
        let allow_kinds = self
            .allow_kind
            .iter()
            .map(|k| AllowKind::parse(k))
            .collect::<Result<Vec<_>>>()?;
        Ok(Options {
            map,
            hosts,
            namespaces: self.namespaces.iter().cloned().collect(),
            parts: self.include.iter().copied().collect(),
            allow_kinds,
            existing: self.existing,
            allow_conflicts: self.allow_conflicts,
            dry_run: self.dry_run,
        })
    }
}

impl Options {
    pub fn target_ns(&self, ns: &str) -> String {
        self.map.get(ns).cloned().unwrap_or_else(|| ns.to_string())
    }

    /// The `--allow-kind` that admits this kind, if one does.
    pub fn allowed_by(&self, group: &str, kind: &str) -> Option<&AllowKind> {
        self.allow_kinds.iter().find(|a| a.matches(group, kind))
    }
}

/// A namespace name (an RFC 1123 label).
pub fn valid_ns(ns: &str) -> bool {
    !ns.is_empty()
        && ns.len() <= 63
        && ns
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !ns.starts_with('-')
        && !ns.ends_with('-')
}

/// An object name (an RFC 1123 subdomain, as most kinds require).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A kind as the API spells it: `ConfigMap`, `ClusterRoleBinding`.
pub fn valid_kind(kind: &str) -> bool {
    kind.len() <= 63
        && kind.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && kind.chars().all(|c| c.is_ascii_alphanumeric())
}

/// An API group: a DNS subdomain (`apps`, `cert-manager.io`).
pub fn valid_group(group: &str) -> bool {
    valid_name(group)
}

/// An API version: `v1`, `v1beta1`, `v2alpha3`.
pub fn valid_version(version: &str) -> bool {
    let Some(rest) = version.strip_prefix('v') else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 || version.len() > 20 {
        return false;
    }
    let tail = &rest[digits..];
    tail.is_empty()
        || ["alpha", "beta"].iter().any(|stage| {
            tail.strip_prefix(stage)
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn allow_kind_reads_kind_and_group() {
        let pod = AllowKind::parse("Pod").unwrap();
        assert!(pod.matches("", "Pod"));
        assert!(pod.matches("", "pod"));
        let role = AllowKind::parse("Role.rbac.authorization.k8s.io").unwrap();
        assert!(role.matches("rbac.authorization.k8s.io", "Role"));
        assert!(!role.matches("", "Role"));
        for bad in ["", "Pod/x", "Pod.", ".apps", "Pod.Bad_Group", "1Pod"] {
            let err = AllowKind::parse(bad).unwrap_err();
            assert!(err.to_string().contains("--allow-kind"), "{bad}: {err}");
        }
    }

    #[test]
    fn names_and_versions() {
        assert!(valid_ns("ns-alice") && !valid_ns("-x") && !valid_ns("Ns") && !valid_ns(""));
        assert!(valid_name("a.b-c") && !valid_name("a..b") && !valid_name("a/b"));
        assert!(valid_name("istio-ca-root-cert") && !valid_name("x?y"));
        for good in ["v1", "v1beta1", "v2alpha3", "v10"] {
            assert!(valid_version(good), "{good}");
        }
        for bad in ["", "1", "v", "vbeta1", "v1beta", "v1/../x", "v1gamma1"] {
            assert!(!valid_version(bad), "{bad}");
        }
        assert!(valid_kind("ClusterRoleBinding") && !valid_kind("Pod/exec") && !valid_kind(""));
    }
}
