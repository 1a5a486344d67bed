//! The objects an install writes, in the order they are applied, and how they print.

use kube::api::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use crate::audit::ObjectRef;
use crate::error::{Error, Result};

/// The kinds an install may write. Uninstall looks for exactly these, workloads first so that
/// nothing runs without its permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Deployment,
    CronJob,
    ConfigMap,
    RoleBinding,
    Role,
    ClusterRoleBinding,
    ClusterRole,
    ServiceAccount,
}

impl Kind {
    /// Every kind, in uninstall order.
    pub const ALL: [Kind; 8] = [
        Kind::Deployment,
        Kind::CronJob,
        Kind::ConfigMap,
        Kind::RoleBinding,
        Kind::Role,
        Kind::ClusterRoleBinding,
        Kind::ClusterRole,
        Kind::ServiceAccount,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Deployment => "Deployment",
            Kind::CronJob => "CronJob",
            Kind::ConfigMap => "ConfigMap",
            Kind::RoleBinding => "RoleBinding",
            Kind::Role => "Role",
            Kind::ClusterRoleBinding => "ClusterRoleBinding",
            Kind::ClusterRole => "ClusterRole",
            Kind::ServiceAccount => "ServiceAccount",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// (group, version, plural)
    fn gvr(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Kind::Deployment => ("apps", "v1", "deployments"),
            Kind::CronJob => ("batch", "v1", "cronjobs"),
            Kind::ConfigMap => ("", "v1", "configmaps"),
            Kind::RoleBinding => ("rbac.authorization.k8s.io", "v1", "rolebindings"),
            Kind::Role => ("rbac.authorization.k8s.io", "v1", "roles"),
            Kind::ClusterRoleBinding => ("rbac.authorization.k8s.io", "v1", "clusterrolebindings"),
            Kind::ClusterRole => ("rbac.authorization.k8s.io", "v1", "clusterroles"),
            Kind::ServiceAccount => ("", "v1", "serviceaccounts"),
        }
    }

    pub fn namespaced(self) -> bool {
        !matches!(self, Kind::ClusterRole | Kind::ClusterRoleBinding)
    }

    pub fn api_resource(self) -> ApiResource {
        let (group, version, plural) = self.gvr();
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(group, version, self.name()),
            plural,
        )
    }

    /// As kubectl prints it: `deployment.apps`, `serviceaccount`.
    pub fn resource_label(self) -> String {
        let (group, _, _) = self.gvr();
        let kind = self.name().to_lowercase();
        if group.is_empty() {
            kind
        } else {
            format!("{kind}.{group}")
        }
    }
}

/// The objects of one install, in apply order (ServiceAccount and RBAC before the workload).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    pub objects: Vec<Value>,
}

impl Manifest {
    pub fn new(objects: Vec<Value>) -> Manifest {
        Manifest { objects }
    }

    /// A multi-document YAML stream, as `kubectl apply -f -` reads it.
    pub fn to_yaml(&self) -> Result<String> {
        let mut out = String::new();
        for object in &self.objects {
            out.push_str("---\n");
            out.push_str(&crate::output::to_yaml(object)?);
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        Ok(out)
    }

    /// A `v1` `List`, as `kubectl get -o json` prints several objects.
    pub fn to_list(&self) -> Value {
        json!({"apiVersion": "v1", "kind": "List", "items": self.objects, "metadata": {}})
    }

    /// Kind, namespace and name of each object; an object the kit cannot write is an error.
    pub fn refs(&self) -> Result<Vec<(Kind, ObjectRef)>> {
        self.objects.iter().map(object_ref).collect()
    }
}

pub(super) fn object_ref(object: &Value) -> Result<(Kind, ObjectRef)> {
    let kind_name = object["kind"].as_str().unwrap_or_default();
    let kind = Kind::from_name(kind_name)
        .ok_or_else(|| Error::failed(format!("install cannot write a {kind_name:?}")))?;
    let name = object["metadata"]["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::failed(format!("a {kind_name} without a name")))?;
    let namespace = object["metadata"]["namespace"].as_str();
    if kind.namespaced() != namespace.is_some() {
        return Err(Error::failed(format!(
            "{kind_name} {name:?}: namespace {namespace:?} does not fit its scope"
        )));
    }
    Ok((kind, ObjectRef::new(kind.name(), namespace, name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_is_a_stream_of_documents() {
        let m = Manifest::new(vec![
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a", "namespace": "n"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "n"}}),
        ]);
        let yaml = m.to_yaml().unwrap_or_default();
        assert_eq!(yaml.matches("---\n").count(), 2, "{yaml}");
        assert!(yaml.contains("kind: ConfigMap"));
        let refs = m.refs().unwrap_or_default();
        assert_eq!(refs[1].1.display(), "configmap/n/b");
        assert_eq!(Kind::Deployment.resource_label(), "deployment.apps");
        assert_eq!(Kind::ServiceAccount.resource_label(), "serviceaccount");
    }

    #[test]
    fn objects_out_of_scope_are_refused() {
        let cluster_role_in_ns =
            json!({"kind": "ClusterRole", "metadata": {"name": "a", "namespace": "n"}});
        assert!(object_ref(&cluster_role_in_ns).is_err());
        assert!(
            object_ref(&json!({"kind": "Secret", "metadata": {"name": "a", "namespace": "n"}}))
                .is_err()
        );
    }
}
