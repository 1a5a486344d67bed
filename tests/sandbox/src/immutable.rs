//! Fields an update may not change, refused as upstream's update validation refuses them
//! (422 `Invalid`, the new value printed as Go prints it): a Deployment's or ReplicaSet's
//! `spec.selector`, a Secret's `type`, a Service's cluster IPs, a binding's `roleRef`, and the
//! data of a ConfigMap or Secret marked `immutable`.

use crate::registry::ResourceInfo;
use crate::status::{ApiError, FieldError};
use serde_json::Value;

const IMMUTABLE: &str = "field is immutable";

pub fn check(info: &ResourceInfo, old: &Value, new: &Value) -> Result<(), ApiError> {
    let errors = problems(info, old, new);
    if errors.is_empty() {
        return Ok(());
    }
    let name = new["metadata"]["name"].as_str().unwrap_or("");
    Err(ApiError::invalid_fields(
        &info.group,
        &info.kind,
        name,
        &errors,
    ))
}

fn problems(info: &ResourceInfo, old: &Value, new: &Value) -> Vec<FieldError> {
    match (info.group.as_str(), info.plural.as_str()) {
        ("apps", "deployments" | "replicasets") => {
            let (o, n) = (&old["spec"]["selector"], &new["spec"]["selector"]);
            if o == n {
                return vec![];
            }
            vec![FieldError::invalid(
                "spec.selector",
                &label_selector_string(n),
                IMMUTABLE,
            )]
        }
        ("", "secrets") => {
            let ty = |v: &Value| v["type"].as_str().unwrap_or("Opaque").to_string();
            let mut errs = vec![];
            if ty(old) != ty(new) {
                errs.push(FieldError::invalid(
                    "type",
                    &format!("{:?}", ty(new)),
                    IMMUTABLE,
                ));
            }
            errs.extend(immutable_data(old, new, &["data", "stringData"]));
            errs
        }
        ("", "configmaps") => immutable_data(old, new, &["data", "binaryData"]),
        ("", "services") => cluster_ips(old, new),
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => {
            let r = |v: &Value, k: &str| v["roleRef"][k].as_str().unwrap_or("").to_string();
            if ["apiGroup", "kind", "name"]
                .iter()
                .all(|k| r(old, k) == r(new, k))
            {
                return vec![];
            }
            vec![FieldError::invalid(
                "roleRef",
                &format!(
                    "rbac.RoleRef{{APIGroup:{:?}, Kind:{:?}, Name:{:?}}}",
                    r(new, "apiGroup"),
                    r(new, "kind"),
                    r(new, "name")
                ),
                "cannot change roleRef",
            )]
        }
        _ => vec![],
    }
}

/// `immutable: true` freezes the data and the flag itself.
fn immutable_data(old: &Value, new: &Value, fields: &[&str]) -> Vec<FieldError> {
    if old["immutable"] != true {
        return vec![];
    }
    const WHY: &str = "field is immutable when `immutable` is set";
    let mut errs = vec![];
    if new["immutable"] != true {
        errs.push(FieldError::forbidden("immutable", WHY));
    }
    for f in fields {
        let empty = |v: &Value| v.is_null() || v.as_object().is_some_and(|m| m.is_empty());
        let (o, n) = (&old[*f], &new[*f]);
        if o != n && !(empty(o) && empty(n)) {
            errs.push(FieldError::forbidden(f, WHY));
        }
    }
    errs
}

/// A Service keeps the cluster IPs it was given; an update that leaves them out keeps them
/// (the caller fills them in), one that changes the first reads as upstream's
/// `spec.clusterIPs[0]: Invalid value: []string{"10.96.0.9"}: may not change once set`.
fn cluster_ips(old: &Value, new: &Value) -> Vec<FieldError> {
    let external = |v: &Value| v["spec"]["type"] == "ExternalName";
    if external(old) || external(new) {
        return vec![];
    }
    // clusterIPs, or the one clusterIP where an object predates the list.
    let ips = |v: &Value| -> Vec<String> {
        let list: Vec<String> = v["spec"]["clusterIPs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(String::from))
            .collect();
        match v["spec"]["clusterIP"].as_str() {
            Some(ip) if list.is_empty() && !ip.is_empty() => vec![ip.to_string()],
            _ => list,
        }
    };
    let (old_ips, mut new_ips) = (ips(old), ips(new));
    let new_ip = new["spec"]["clusterIP"].as_str().unwrap_or("");
    let old_ip = old["spec"]["clusterIP"].as_str().unwrap_or("");
    // A changed clusterIP with clusterIPs left alone changes the first of them.
    if !new_ip.is_empty() && new_ip != old_ip && new_ips == old_ips && !new_ips.is_empty() {
        new_ips[0] = new_ip.to_string();
    }
    if new_ips.is_empty() || (old_ip == "None" && new_ip == "None") {
        return vec![];
    }
    let printed = format!(
        "[]string{{{}}}",
        new_ips
            .iter()
            .map(|ip| format!("{ip:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    old_ips
        .iter()
        .zip(&new_ips)
        .enumerate()
        .filter(|(_, (o, n))| o != n)
        .map(|(i, _)| {
            FieldError::invalid(
                &format!("spec.clusterIPs[{i}]"),
                &printed,
                "may not change once set",
            )
        })
        .collect()
}

/// A `*metav1.LabelSelector` as its generated `String()` prints it.
pub fn label_selector_string(sel: &Value) -> String {
    if sel.is_null() {
        return "null".into();
    }
    let mut labels: Vec<(&String, &Value)> = sel["matchLabels"]
        .as_object()
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    labels.sort_by(|a, b| a.0.cmp(b.0));
    let labels: String = labels
        .iter()
        .map(|(k, v)| format!("{k}: {},", v.as_str().unwrap_or("")))
        .collect();
    let exprs: String = sel["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let values: Vec<&str> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            format!(
                "LabelSelectorRequirement{{Key:{},Operator:{},Values:[{}],}},",
                e["key"].as_str().unwrap_or(""),
                e["operator"].as_str().unwrap_or(""),
                values.join(" ")
            )
        })
        .collect();
    format!(
        "&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )
}

/// What the server allocated and an update may leave out (a Service's cluster IPs) is kept,
/// as upstream's Service storage does before validating.
pub fn keep_allocated(info: &ResourceInfo, old: &Value, new: &mut Value) {
    if (info.group.as_str(), info.plural.as_str()) != ("", "services") {
        return;
    }
    let missing = |v: &Value, k: &str| {
        v["spec"][k].is_null()
            || v["spec"][k] == ""
            || v["spec"][k].as_array().is_some_and(|a| a.is_empty())
    };
    for k in ["clusterIP", "clusterIPs"] {
        if missing(new, k)
            && !missing(old, k)
            && let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut)
        {
            spec.insert(k.to_string(), old["spec"][k].clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_print_as_go_does() {
        assert_eq!(
            label_selector_string(&json!({"matchLabels": {"b": "2", "a": "1"}})),
            "&LabelSelector{MatchLabels:map[string]string{a: 1,b: 2,},MatchExpressions:[]LabelSelectorRequirement{},}"
        );
    }

    #[test]
    fn cluster_ip_changes_are_refused() {
        let old = json!({"spec": {"clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"]}});
        let new = json!({"spec": {"clusterIP": "10.96.0.2", "clusterIPs": ["10.96.0.1"]}});
        let errs = cluster_ips(&old, &new);
        assert_eq!(errs[0].field, "spec.clusterIPs[0]");
        assert_eq!(
            errs[0].body,
            "Invalid value: []string{\"10.96.0.2\"}: may not change once set"
        );
        assert!(cluster_ips(&old, &old).is_empty());
    }
}
