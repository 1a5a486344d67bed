//! Where an object lives inside an archive:
//! `resources/<resource>.<group>/namespaces/<ns>/<name>.json` or `.../cluster/<name>.json`
//! (core resources have no `.<group>`, as kubectl spells them: `secrets`, `gateways.networking.istio.io`).

use crate::error::{Error, Result};

/// The last entry of every archive.
pub const INDEX_ENTRY: &str = "index.json";

/// An object's identity as the archive path spells it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryPath {
    pub resource: String,
    pub group: String,
    /// None for cluster-scoped objects.
    pub namespace: Option<String>,
    pub name: String,
}

impl EntryPath {
    /// `resources/<resource>[.<group>]`: the folder for one resource.
    pub fn resource_dir(resource: &str, group: &str) -> String {
        if group.is_empty() {
            format!("resources/{resource}")
        } else {
            format!("resources/{resource}.{group}")
        }
    }

    pub fn render(&self) -> String {
        let dir = Self::resource_dir(&self.resource, &self.group);
        match &self.namespace {
            Some(ns) => format!("{dir}/namespaces/{ns}/{}.json", self.name),
            None => format!("{dir}/cluster/{}.json", self.name),
        }
    }

    /// Parses an entry path; names that could escape a folder are refused.
    pub fn parse(path: &str) -> Result<EntryPath> {
        let bad = |why: &str| Error::failed(format!("entry {path:?}: {why}"));
        let rest = path
            .strip_prefix("resources/")
            .ok_or_else(|| bad("not under resources/"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        let (res, namespace, file) = match parts.as_slice() {
            [res, "namespaces", ns, file] => (*res, Some(ns.to_string()), *file),
            [res, "cluster", file] => (*res, None, *file),
            _ => {
                return Err(bad(
                    "not resources/<resource>/(namespaces/<ns>|cluster)/<name>.json",
                ));
            }
        };
        let name = file
            .strip_suffix(".json")
            .ok_or_else(|| bad("not a .json file"))?;
        let (resource, group) = match res.split_once('.') {
            Some((r, g)) => (r, g),
            None => (res, ""),
        };
        let parsed = EntryPath {
            resource: resource.to_string(),
            group: group.to_string(),
            namespace,
            name: name.to_string(),
        };
        for part in [&parsed.resource, &parsed.name]
            .into_iter()
            .chain(parsed.namespace.as_ref())
        {
            if part.is_empty() || part == "." || part == ".." || part.contains('\\') {
                return Err(bad("a path component is empty or not a Kubernetes name"));
            }
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths_round_trip() {
        let namespaced = EntryPath {
            resource: "gateways".into(),
            group: "networking.istio.io".into(),
            namespace: Some("istio-system".into()),
            name: "sealos-gateway".into(),
        };
        let text = namespaced.render();
        assert_eq!(
            text,
            "resources/gateways.networking.istio.io/namespaces/istio-system/sealos-gateway.json"
        );
        assert_eq!(EntryPath::parse(&text).unwrap(), namespaced);
        let core = EntryPath {
            resource: "secrets".into(),
            group: String::new(),
            namespace: Some("ns".into()),
            name: "tls".into(),
        };
        assert_eq!(core.render(), "resources/secrets/namespaces/ns/tls.json");
        assert_eq!(EntryPath::parse(&core.render()).unwrap(), core);
        let cluster = EntryPath {
            resource: "clusterissuers".into(),
            group: "cert-manager.io".into(),
            namespace: None,
            name: "letsencrypt-prod".into(),
        };
        assert_eq!(EntryPath::parse(&cluster.render()).unwrap(), cluster);
    }

    #[test]
    fn odd_paths_are_refused() {
        for path in [
            "index.json",
            "resources/secrets/namespaces/ns/x.yaml",
            "resources/secrets/namespaces/../x.json",
            "resources/secrets/x.json",
            "resources/secrets/namespaces/ns/a/b.json",
        ] {
            assert!(EntryPath::parse(path).is_err(), "{path}");
        }
    }
}
