//! Which resources the server serves: the built-in kinds and every served version of every CRD in the store.

use serde_json::Value;
use std::sync::RwLock;

/// Where objects of one resource live in the store: (group, plural), independent of version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResKey {
    pub group: String,
    pub plural: String,
}

impl ResKey {
    pub fn new(group: &str, plural: &str) -> Self {
        ResKey {
            group: group.to_string(),
            plural: plural.to_string(),
        }
    }
}

/// One servable resource at one group/version.
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    /// Subresources beyond status/scale (log, eviction, portforward, proxy...).
    pub subresources: Vec<String>,
    pub status: bool,
    pub scale: bool,
    /// A CRD version's `additionalPrinterColumns`; None for built-ins.
    pub printer_columns: Option<Value>,
    pub custom: bool,
    /// Served from a computed source (metrics, reviews) rather than the store.
    pub virtual_only: bool,
}

const CRUD: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl ResourceInfo {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    pub fn key(&self) -> ResKey {
        ResKey::new(&self.group, &self.plural)
    }

    /// `deployments.apps`, as error messages name it.
    pub fn qualified(&self) -> String {
        crate::status::qualified(&self.group, &self.plural)
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    short: &'static [&'static str],
    namespaced: bool,
    status: bool,
    scale: bool,
    subresources: &'static [&'static str],
    all: bool,
}

const fn b(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    short: &'static [&'static str],
    namespaced: bool,
) -> Builtin {
    Builtin {
        group,
        version,
        kind,
        plural,
        short,
        namespaced,
        status: false,
        scale: false,
        subresources: &[],
        all: false,
    }
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        status: true,
        subresources: &["finalize"],
        ..b("", "v1", "Namespace", "namespaces", &["ns"], false)
    },
    Builtin {
        status: true,
        all: true,
        subresources: &["log", "eviction", "portforward", "proxy", "exec", "binding"],
        ..b("", "v1", "Pod", "pods", &["po"], true)
    },
    Builtin {
        status: true,
        all: true,
        subresources: &["proxy"],
        ..b("", "v1", "Service", "services", &["svc"], true)
    },
    b("", "v1", "Endpoints", "endpoints", &["ep"], true),
    b("", "v1", "ConfigMap", "configmaps", &["cm"], true),
    b("", "v1", "Secret", "secrets", &[], true),
    b("", "v1", "Event", "events", &["ev"], true),
    Builtin {
        subresources: &["token"],
        ..b("", "v1", "ServiceAccount", "serviceaccounts", &["sa"], true)
    },
    Builtin {
        status: true,
        subresources: &["proxy"],
        ..b("", "v1", "Node", "nodes", &["no"], false)
    },
    Builtin {
        status: true,
        scale: true,
        all: true,
        ..b("apps", "v1", "Deployment", "deployments", &["deploy"], true)
    },
    Builtin {
        status: true,
        scale: true,
        all: true,
        ..b("apps", "v1", "ReplicaSet", "replicasets", &["rs"], true)
    },
    Builtin {
        status: true,
        all: true,
        ..b("batch", "v1", "Job", "jobs", &[], true)
    },
    Builtin {
        status: true,
        all: true,
        ..b("batch", "v1", "CronJob", "cronjobs", &["cj"], true)
    },
    b(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        &["netpol"],
        true,
    ),
    Builtin {
        status: true,
        ..b(
            "networking.k8s.io",
            "v1",
            "Ingress",
            "ingresses",
            &["ing"],
            true,
        )
    },
    Builtin {
        status: true,
        ..b(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            &["pdb"],
            true,
        )
    },
    Builtin {
        status: true,
        ..b(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            &["crd", "crds"],
            false,
        )
    },
];

/// `rbac.authorization.k8s.io/v1`, served and enforced (`rbac.rs`).
const RBAC: &[Builtin] = &[
    b(
        crate::rbac::GROUP,
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        &[],
        false,
    ),
    b(
        crate::rbac::GROUP,
        "v1",
        "ClusterRole",
        "clusterroles",
        &[],
        false,
    ),
    b(
        crate::rbac::GROUP,
        "v1",
        "RoleBinding",
        "rolebindings",
        &[],
        true,
    ),
    b(crate::rbac::GROUP, "v1", "Role", "roles", &[], true),
];

fn builtin_infos() -> Vec<ResourceInfo> {
    let mut out: Vec<ResourceInfo> = BUILTINS
        .iter()
        .chain(RBAC)
        .map(|x| ResourceInfo {
            group: x.group.into(),
            version: x.version.into(),
            kind: x.kind.into(),
            plural: x.plural.into(),
            singular: x.kind.to_lowercase(),
            short_names: x.short.iter().map(|s| s.to_string()).collect(),
            categories: if x.all { vec!["all".into()] } else { vec![] },
            namespaced: x.namespaced,
            verbs: CRUD.iter().map(|s| s.to_string()).collect(),
            subresources: x.subresources.iter().map(|s| s.to_string()).collect(),
            status: x.status,
            scale: x.scale,
            printer_columns: None,
            custom: false,
            virtual_only: false,
        })
        .collect();
    let virt =
        |group: &str, version: &str, kind: &str, plural: &str, namespaced: bool, verbs: &[&str]| {
            ResourceInfo {
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
                plural: plural.into(),
                singular: kind.to_lowercase(),
                short_names: vec![],
                categories: vec![],
                namespaced,
                verbs: verbs.iter().map(|s| s.to_string()).collect(),
                subresources: vec![],
                status: false,
                scale: false,
                printer_columns: None,
                custom: false,
                virtual_only: true,
            }
        };
    out.push(virt(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        false,
        &["create"],
    ));
    out.push(virt(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        false,
        &["create"],
    ));
    out.push(virt(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        false,
        &["create"],
    ));
    out.push(virt(
        "metrics.k8s.io",
        "v1beta1",
        "PodMetrics",
        "pods",
        true,
        &["get", "list"],
    ));
    out.push(virt(
        "metrics.k8s.io",
        "v1beta1",
        "NodeMetrics",
        "nodes",
        false,
        &["get", "list"],
    ));
    out
}

/// The infos one CRD object serves: one per served version.
pub fn crd_infos(crd: &Value) -> Vec<ResourceInfo> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (Some(group), Some(kind), Some(plural)) = (
        spec["group"].as_str(),
        names["kind"].as_str(),
        names["plural"].as_str(),
    ) else {
        return vec![];
    };
    let singular = names["singular"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| kind.to_lowercase());
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let Some(versions) = spec["versions"].as_array() else {
        return vec![];
    };
    versions
        .iter()
        .filter(|v| v["served"].as_bool().unwrap_or(true))
        .filter_map(|v| {
            let version = v["name"].as_str()?;
            Some(ResourceInfo {
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
                plural: plural.into(),
                singular: singular.clone(),
                short_names: strs(&names["shortNames"]),
                categories: strs(&names["categories"]),
                namespaced,
                verbs: CRUD.iter().map(|s| s.to_string()).collect(),
                subresources: vec![],
                status: v["subresources"]["status"].is_object(),
                scale: v["subresources"]["scale"].is_object(),
                printer_columns: Some(v["additionalPrinterColumns"].clone())
                    .filter(|c| c.is_array()),
                custom: true,
                virtual_only: false,
            })
        })
        .collect()
}

/// Built-ins plus what the CRDs in the store serve; CRD-served entries are replaced wholesale
/// whenever a CRD changes.
pub struct Registry {
    builtins: Vec<ResourceInfo>,
    custom: RwLock<Vec<ResourceInfo>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            builtins: builtin_infos(),
            custom: RwLock::new(vec![]),
        }
    }
}

impl Registry {
    pub fn set_crds<'a>(&self, crds: impl Iterator<Item = &'a Value>) {
        let infos: Vec<ResourceInfo> = crds.flat_map(crd_infos).collect();
        match self.custom.write() {
            Ok(mut g) => *g = infos,
            Err(p) => *p.into_inner() = infos,
        }
    }

    /// Every servable resource, built-ins first (their order is discovery's order).
    pub fn all(&self) -> Vec<ResourceInfo> {
        let mut out = self.builtins.clone();
        match self.custom.read() {
            Ok(g) => out.extend(g.iter().cloned()),
            Err(p) => out.extend(p.into_inner().iter().cloned()),
        }
        out
    }

    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<ResourceInfo> {
        if let Some(i) = self
            .builtins
            .iter()
            .find(|i| i.group == group && i.version == version && i.plural == plural)
        {
            return Some(i.clone());
        }
        let g = match self.custom.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.iter()
            .find(|i| i.group == group && i.version == version && i.plural == plural)
            .cloned()
    }

    /// The info for `apiVersion` + `kind` (how manifests name what they are).
    pub fn lookup_kind(&self, api_version: &str, kind: &str) -> Option<ResourceInfo> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let hit = |i: &&ResourceInfo| {
            i.group == group && i.version == version && i.kind == kind && !i.virtual_only
        };
        if let Some(i) = self.builtins.iter().find(hit) {
            return Some(i.clone());
        }
        let g = match self.custom.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.iter().find(hit).cloned()
    }

    /// The info for a stored resource at any served version (the first one), e.g. for watches and tables.
    pub fn by_key(&self, key: &ResKey) -> Option<ResourceInfo> {
        self.all()
            .into_iter()
            .find(|i| i.group == key.group && i.plural == key.plural && !i.virtual_only)
    }

    /// (group, versions in order) for every group, core ("") first.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = vec![];
        for i in self.all() {
            match out.iter_mut().find(|(g, _)| *g == i.group) {
                Some((_, vs)) => {
                    if !vs.contains(&i.version) {
                        vs.push(i.version.clone());
                    }
                }
                None => out.push((i.group.clone(), vec![i.version.clone()])),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn crd_serves_each_served_version() {
        let crd = json!({"spec": {"group": "x.io", "scope": "Namespaced",
            "names": {"kind": "Foo", "plural": "foos", "shortNames": ["fo"]},
            "versions": [{"name": "v1", "served": true, "subresources": {"status": {}}}, {"name": "v0", "served": false}]}});
        let infos = crd_infos(&crd);
        assert_eq!(infos.len(), 1);
        assert!(infos[0].status && infos[0].custom && infos[0].namespaced);
        let r = Registry::default();
        r.set_crds([crd].iter());
        assert!(r.lookup("x.io", "v1", "foos").is_some());
        assert!(
            r.lookup("apps", "v1", "deployments")
                .is_some_and(|i| i.scale)
        );
    }
}
