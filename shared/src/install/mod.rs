//! Installing a workload of the suite into the cluster: the monitor as a Deployment, scheduled
//! backups as a CronJob. One kit, so every workload the suite installs is labelled, secured,
//! applied, audited and removed the same way.
//!
//! - [`Workload`]: who it is. Every object carries `app.kubernetes.io/managed-by: kubectl-sealos`
//!   and the workload's `app.kubernetes.io/name`, `app.kubernetes.io/component` and
//!   `app.kubernetes.io/instance` (the namespace it runs in); uninstall
//!   selects on exactly these, so it never touches what it did not make.
//! - [`rbac`]: the rules a workload needs, as plain data with a one-line reason each. The
//!   ServiceAccount, Roles, ClusterRole and bindings are built from them, and so is the README's
//!   RBAC table (`cargo xtask readme-rbac`): what is documented is what is installed.
//! - [`pod`]: the restricted security context, resources, the suite's image.
//! - [`Manifest`]: the objects, printed as a multi-document YAML stream (`--dry-run -o yaml`,
//!   which `kubectl apply -f -` takes) or a JSON `List`.
//! - [`apply()`] / [`uninstall()`]: server-side apply with field manager `kubectl-sealos`, and
//!   delete by label; one audit record per object.
//!
//! A plugin builds a [`Manifest`] from its flags (pure, testable without a cluster), then either
//! prints it or hands it to [`apply()`].

mod apply;
mod flags;
mod manifest;
pub mod pod;
pub mod rbac;

use std::collections::BTreeMap;

use serde_json::{Value, json};

pub use apply::{Applied, apply, uninstall};
pub use flags::InstallFlags;
pub use manifest::{Kind, Manifest};
pub use rbac::Rule;

/// The label every installed object carries, and its value.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGER: &str = "kubectl-sealos";
/// The workload's name and component labels.
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
/// The namespace the workload was installed into: two installs of one workload in two
/// namespaces are two instances, and uninstalling one leaves the other.
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// Server-side apply's field manager for everything installed.
pub const FIELD_MANAGER: &str = "kubectl-sealos";

/// One installed workload: `name` names its objects (ServiceAccount, Roles, the Deployment or
/// CronJob), `component` is what it is (`health-monitor`, `backup-schedule`), `namespace` where
/// it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub name: String,
    pub component: String,
    pub namespace: String,
}

impl Workload {
    pub fn new(name: &str, component: &str, namespace: &str) -> Workload {
        Workload {
            name: name.to_string(),
            component: component.to_string(),
            namespace: namespace.to_string(),
        }
    }

    /// The labels on every object of this workload (and on its pods).
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (MANAGED_BY.to_string(), MANAGER.to_string()),
            (NAME_LABEL.to_string(), self.name.clone()),
            (COMPONENT_LABEL.to_string(), self.component.clone()),
            (INSTANCE_LABEL.to_string(), self.namespace.clone()),
        ])
    }

    /// The label selector that finds exactly this workload's objects.
    pub fn selector(&self) -> String {
        format!(
            "{MANAGED_BY}={MANAGER},{NAME_LABEL}={},{COMPONENT_LABEL}={},{INSTANCE_LABEL}={}",
            self.name, self.component, self.namespace
        )
    }

    /// `metadata` for one of its objects: `namespace` `None` for a cluster-scoped one.
    pub fn metadata(&self, name: &str, namespace: Option<&str>) -> Value {
        let mut meta = json!({"name": name, "labels": self.labels()});
        if let Some(ns) = namespace {
            meta["namespace"] = json!(ns);
        }
        meta
    }

    /// The name of its cluster-scoped objects (ClusterRole, ClusterRoleBinding), which must be
    /// unique across namespaces.
    pub fn cluster_name(&self) -> String {
        format!("{MANAGER}:{}:{}", self.namespace, self.name)
    }
}

/// Whether `s` is a DNS-1123 label (a namespace, a Service, most object names).
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Whether `s` is a DNS-1123 subdomain (ConfigMap, Secret names).
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_selector_name_the_workload() {
        let w = Workload::new("sealos-health-monitor", "health-monitor", "monitoring");
        assert_eq!(
            w.selector(),
            "app.kubernetes.io/managed-by=kubectl-sealos,app.kubernetes.io/name=sealos-health-monitor,app.kubernetes.io/component=health-monitor,app.kubernetes.io/instance=monitoring"
        );
        let meta = w.metadata("x", Some("monitoring"));
        assert_eq!(meta["labels"][MANAGED_BY], "kubectl-sealos");
        assert_eq!(meta["namespace"], "monitoring");
        assert!(w.metadata("x", None).get("namespace").is_none());
        assert_eq!(
            w.cluster_name(),
            "kubectl-sealos:monitoring:sealos-health-monitor"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(is_dns_label("monitoring"));
        assert!(!is_dns_label("Monitoring"));
        assert!(!is_dns_label("../x"));
        assert!(is_dns_subdomain("a.b"));
        assert!(!is_dns_subdomain("a/b"));
    }
}
