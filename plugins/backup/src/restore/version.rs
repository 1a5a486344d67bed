//! Versions the cluster serves: an object is written at the version discovery recommends for its
//! group and kind, not the one written in the archive (an archive taken where Istio served
//! `v1beta1` must restore where only `v1` is served). The apiVersion changes only between
//! versions whose schema is identical; otherwise the object is a finding, not a 404.

use kube::core::ApiResource;
use serde_json::{Value, json};

use super::rewrite::Rewrite;

/// Groups whose versions share one schema for the kinds backup takes: Istio's `v1alpha3`,
/// `v1beta1` and `v1` networking and `v1beta1`/`v1` security APIs are the same types served
/// under several names. cert-manager's old versions differ from `v1`, so they are not here.
const SAME_SCHEMA: &[(&str, &[&str])] = &[
    ("networking.istio.io", &["v1alpha3", "v1beta1", "v1"]),
    ("security.istio.io", &["v1beta1", "v1"]),
];

/// Sets `object`'s apiVersion to the served one when they differ and the schema is the same
/// (the change comes back, for the plan); why not, when it cannot be written at all.
pub fn to_served(object: &mut Value, served: &ApiResource) -> Result<Option<Rewrite>, String> {
    let archived = object["apiVersion"].as_str().unwrap_or("").to_string();
    if archived == served.api_version {
        return Ok(None);
    }
    let version = archived
        .rsplit_once('/')
        .map_or(archived.as_str(), |(_, v)| v);
    let same = SAME_SCHEMA.iter().any(|(group, versions)| {
        *group == served.group
            && versions.contains(&version)
            && versions.contains(&served.version.as_str())
    });
    if !same {
        return Err(format!(
            "the archive has {archived}, the cluster serves {} {} and no identical schema: convert the object first",
            served.kind, served.api_version
        ));
    }
    object["apiVersion"] = json!(served.api_version);
    Ok(Some(Rewrite {
        field: "apiVersion".into(),
        from: archived,
        to: served.api_version.clone(),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use kube::core::GroupVersionKind;

    fn served(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
    }

    #[test]
    fn istio_versions_convert_and_others_are_findings() {
        let v1 = served(
            "networking.istio.io",
            "v1",
            "VirtualService",
            "virtualservices",
        );
        let mut vs = json!({"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService"});
        let change = to_served(&mut vs, &v1).unwrap().unwrap();
        assert_eq!(vs["apiVersion"], json!("networking.istio.io/v1"));
        assert_eq!(change.from, "networking.istio.io/v1beta1");
        assert_eq!(to_served(&mut vs, &v1).unwrap(), None);
        let certs = served("cert-manager.io", "v1", "Certificate", "certificates");
        let mut old = json!({"apiVersion": "cert-manager.io/v1alpha2", "kind": "Certificate"});
        let why = to_served(&mut old, &certs).unwrap_err();
        assert!(why.contains("no identical schema"), "{why}");
        assert_eq!(old["apiVersion"], json!("cert-manager.io/v1alpha2"));
    }
}
