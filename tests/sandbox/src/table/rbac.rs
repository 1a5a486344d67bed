//! The printers of RoleBindings and ClusterRoleBindings (Roles and ClusterRoles print NAME and
//! CREATED AT, as the default convertor does).

use super::{DESC_CREATED, DESC_NAME, age, col};
use jiff::Timestamp;
use serde_json::{Value, json};

const ROLE_REF: &str = "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.";
const CLUSTER_ROLE_REF: &str = "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.";

pub(super) fn columns(group: &str, plural: &str) -> Option<Vec<Value>> {
    let (role_ref, what) = match (group, plural) {
        (crate::rbac::GROUP, "rolebindings") => (ROLE_REF, "roleBinding"),
        (crate::rbac::GROUP, "clusterrolebindings") => (CLUSTER_ROLE_REF, "clusterRoleBinding"),
        _ => return None,
    };
    Some(vec![
        col("Name", "string", "name", DESC_NAME, 0),
        col("Role", "string", "", role_ref, 0),
        col("Age", "string", "", DESC_CREATED, 0),
        col("Users", "string", "", &format!("Users in the {what}"), 1),
        col("Groups", "string", "", &format!("Groups in the {what}"), 1),
        col(
            "ServiceAccounts",
            "string",
            "",
            &format!("ServiceAccounts in the {what}"),
            1,
        ),
    ])
}

/// NAME, ROLE (`Kind/name`), AGE, then users, groups and `namespace:name` service accounts.
pub(super) fn cells(group: &str, plural: &str, obj: &Value, now: Timestamp) -> Option<Vec<Value>> {
    columns(group, plural)?;
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let binding_ns = text(&obj["metadata"]["namespace"]);
    let (mut users, mut groups, mut sas) = (vec![], vec![], vec![]);
    for s in obj["subjects"].as_array().into_iter().flatten() {
        let name = text(&s["name"]);
        match s["kind"].as_str() {
            Some("User") => users.push(name),
            Some("Group") => groups.push(name),
            Some("ServiceAccount") => {
                let ns = s["namespace"]
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .unwrap_or(&binding_ns);
                sas.push(format!("{ns}:{name}"));
            }
            _ => {}
        }
    }
    Some(vec![
        json!(text(&obj["metadata"]["name"])),
        json!(format!(
            "{}/{}",
            text(&obj["roleRef"]["kind"]),
            text(&obj["roleRef"]["name"])
        )),
        json!(age(obj.pointer("/metadata/creationTimestamp"), now)),
        json!(users.join(", ")),
        json!(groups.join(", ")),
        json!(sas.join(", ")),
    ])
}
