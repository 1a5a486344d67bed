//! What `backup create` writes, structurally: an object whose apiVersion, kind or metadata
//! disagree with its entry path or the index (a Role filed under `configmaps/`, a version that is
//! not a version, a name that is not a name) was not written by it. Such an archive is refused
//! whole (exit 2, nothing applied) rather than object by object: restore decides what an object
//! is from its path and index, so when those disagree with the object no decision about it can be
//! trusted — not even the name a finding would give it. (Well-formed objects of kinds backup never
//! takes are refused one by one instead, see `admit`.)

use sealos_shared::archive::catalog;
use sealos_shared::archive::index::Index;

use super::archive::Archived;
use super::options::{valid_group, valid_kind, valid_name, valid_ns, valid_version};

/// Why `archived` is malformed, if it is.
pub fn check(archived: &Archived, index: &Index) -> Result<(), String> {
    let path = &archived.path;
    let object = &archived.object;
    if !object.is_object() {
        return Err("not a JSON object".into());
    }
    if !valid_resource(&path.resource) || !(path.group.is_empty() || valid_group(&path.group)) {
        return Err("the resource folder is not a resource".into());
    }
    let Some(api_version) = object["apiVersion"].as_str() else {
        return Err("no apiVersion".into());
    };
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    if !valid_version(version) || !(group.is_empty() || valid_group(group)) {
        return Err(format!("apiVersion {api_version:?} is not group/version"));
    }
    let kind = archived.kind();
    if !valid_kind(kind) {
        return Err(format!("kind {kind:?} is not a kind"));
    }
    if group != path.group {
        return Err(format!(
            "apiVersion {api_version:?} is not of the group its folder names ({:?})",
            path.group
        ));
    }
    let listed = index
        .head
        .resources
        .iter()
        .find(|r| r.resource == path.resource && r.group == path.group);
    match listed {
        None => return Err("its resource is not in index.json".into()),
        Some(r) if r.kind != kind => {
            return Err(format!("a {kind} where index.json says {}", r.kind));
        }
        Some(r) if r.namespaced != path.namespace.is_some() => {
            return Err("namespaced or not, unlike what index.json says".into());
        }
        Some(_) => {}
    }
    let known = catalog::by_resource(&path.resource, &path.group);
    if let Some(known) = known {
        if known.kind != kind {
            return Err(format!("a {kind} where {} are kept", known.plural));
        }
        if known.namespaced != path.namespace.is_some() {
            return Err(format!(
                "{} are {}",
                known.plural,
                if known.namespaced {
                    "namespaced"
                } else {
                    "cluster-scoped"
                }
            ));
        }
    }
    let meta = &object["metadata"];
    if !meta.is_object() {
        return Err("metadata is not an object".into());
    }
    for field in ["labels", "annotations"] {
        if let Some(map) = meta.get(field)
            && !map.is_object()
        {
            return Err(format!("metadata.{field} is not a map"));
        }
    }
    if let Some(ns) = &path.namespace
        && !valid_ns(ns)
    {
        return Err(format!("namespace {ns:?} is not a namespace name"));
    }
    let name_ok = match known {
        Some(k) if *k == catalog::NAMESPACE => valid_ns(&path.name),
        Some(_) => valid_name(&path.name),
        None => valid_segment(&path.name),
    };
    if !name_ok {
        return Err(format!("name {:?} is not a {kind} name", path.name));
    }
    Ok(())
}

/// The index's resources: each a group, version, kind and resource name, and the catalogue's
/// own kinds as the catalogue has them. Their version goes into request URLs.
pub fn check_index(index: &Index) -> Vec<String> {
    let mut problems = Vec::new();
    for r in &index.head.resources {
        let name = format!("index.json resource {:?}", r.resource);
        if !valid_resource(&r.resource)
            || !(r.group.is_empty() || valid_group(&r.group))
            || !valid_version(&r.version)
            || !valid_kind(&r.kind)
        {
            problems.push(format!("{name}: not a group, version, kind and resource"));
        } else if let Some(known) = catalog::by_resource(&r.resource, &r.group)
            && (known.kind != r.kind || known.namespaced != r.namespaced)
        {
            problems.push(format!(
                "{name}: {} (namespaced {}), where it is {} (namespaced {})",
                r.kind, r.namespaced, known.kind, known.namespaced
            ));
        }
    }
    problems
}

/// A resource's plural name: `configmaps`, `virtualservices`.
fn valid_resource(resource: &str) -> bool {
    resource.len() <= 63
        && resource
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase())
        && resource
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// A name some kinds allow beyond DNS names (`system:controller:x` for RBAC): one URL path
/// segment, nothing that could leave it.
fn valid_segment(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:@".contains(c))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sealos_shared::archive::index::{ClusterInfo, IndexHead, ResourceCount, ToolInfo};
    use sealos_shared::archive::path::EntryPath;
    use serde_json::{Value, json};

    fn index(resources: Vec<(&str, &str, &str, &str, bool)>) -> Index {
        Index {
            head: IndexHead {
                format: "kubectl-sealos-backup/v1".into(),
                name: "b".into(),
                created_at: "t".into(),
                cluster: ClusterInfo::default(),
                tool: ToolInfo::default(),
                selection: vec![],
                resources: resources
                    .into_iter()
                    .map(
                        |(group, version, kind, resource, namespaced)| ResourceCount {
                            group: group.into(),
                            version: version.into(),
                            kind: kind.into(),
                            resource: resource.into(),
                            namespaced,
                            count: 1,
                        },
                    )
                    .collect(),
                objects: 1,
                notes: vec![],
            },
            entries: vec![],
        }
    }

    fn archived(path: &str, object: Value) -> Archived {
        Archived {
            path: EntryPath::parse(path).unwrap(),
            object,
        }
    }

    fn cm(ns: &str, name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}})
    }

    #[test]
    fn what_create_writes_is_well_formed() {
        let index = index(vec![("", "v1", "ConfigMap", "configmaps", true)]);
        let ok = archived(
            "resources/configmaps/namespaces/istio-system/istio.json",
            cm("istio-system", "istio"),
        );
        assert_eq!(check(&ok, &index), Ok(()));
        assert!(check_index(&index).is_empty());
    }

    #[test]
    fn disguises_and_odd_values_are_malformed() {
        let index = index(vec![
            ("", "v1", "ConfigMap", "configmaps", true),
            ("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
        ]);
        let role_as_cm = archived(
            "resources/configmaps/namespaces/ns/x.json",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "x", "namespace": "ns"}}),
        );
        assert!(check(&role_as_cm, &index).unwrap_err().contains("group"));
        let kind_swapped = archived(
            "resources/configmaps/namespaces/ns/x.json",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x", "namespace": "ns"}}),
        );
        assert!(check(&kind_swapped, &index).is_err());
        let mut bad_version = cm("ns", "x");
        bad_version["apiVersion"] = json!("v1/../../apis");
        let bad_version = archived("resources/configmaps/namespaces/ns/x.json", bad_version);
        assert!(
            check(&bad_version, &index)
                .unwrap_err()
                .contains("apiVersion")
        );
        let mut bad_labels = cm("ns", "x");
        bad_labels["metadata"]["labels"] = json!(["a"]);
        let bad_labels = archived("resources/configmaps/namespaces/ns/x.json", bad_labels);
        assert!(check(&bad_labels, &index).unwrap_err().contains("labels"));
        let unlisted = archived(
            "resources/pods/namespaces/ns/p.json",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}}),
        );
        assert!(check(&unlisted, &index).unwrap_err().contains("index.json"));
        let role = archived(
            "resources/roles.rbac.authorization.k8s.io/namespaces/ns/system:x.json",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "system:x", "namespace": "ns"}}),
        );
        assert_eq!(check(&role, &index), Ok(()));
    }

    #[test]
    fn an_index_that_renames_a_catalogue_kind_is_malformed() {
        let lying = index(vec![("", "v1", "Pod", "configmaps", true)]);
        assert_eq!(check_index(&lying).len(), 1);
        let url = index(vec![("", "v1/../x", "ConfigMap", "configmaps", true)]);
        assert_eq!(check_index(&url).len(), 1);
    }
}
