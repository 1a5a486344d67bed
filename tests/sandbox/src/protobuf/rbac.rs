//! The RBAC objects and ServiceAccounts `kubectl create role|clusterrole|rolebinding|
//! clusterrolebinding|serviceaccount` send as protobuf, by their generated.proto numbers.

use super::{field, fields, text, varint};
use serde_json::{Value, json};

type Fields<'a> = [(u64, &'a [u8])];

fn strings(fs: &Fields, n: u64) -> Vec<String> {
    fs.iter()
        .filter(|(f, _)| *f == n)
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect()
}

/// PolicyRule: verbs=1, apiGroups=2, resources=3, resourceNames=4, nonResourceURLs=5.
fn policy_rule(buf: &[u8]) -> Option<Value> {
    let fs = fields(buf)?;
    let mut rule = json!({ "verbs": strings(&fs, 1) });
    for (n, key) in [
        (2, "apiGroups"),
        (3, "resources"),
        (4, "resourceNames"),
        (5, "nonResourceURLs"),
    ] {
        let v = strings(&fs, n);
        // apiGroups may hold the core group's "": present means listed.
        if !v.is_empty() {
            rule[key] = json!(v);
        }
    }
    Some(rule)
}

/// Role and ClusterRole: rules=2 (aggregationRule=3 is not read).
pub fn rules(obj: &Fields) -> Option<Value> {
    obj.iter()
        .filter(|(f, _)| *f == 2)
        .map(|(_, b)| policy_rule(b))
        .collect::<Option<Vec<Value>>>()
        .map(Value::Array)
}

/// RoleBinding and ClusterRoleBinding: subjects=2 (kind=1, apiGroup=2, name=3, namespace=4),
/// roleRef=3 (apiGroup=1, kind=2, name=3).
pub fn binding(obj: &Fields, out: &mut Value) -> Option<()> {
    let mut subjects = vec![];
    for (_, b) in obj.iter().filter(|(f, _)| *f == 2) {
        let s = fields(b)?;
        let mut subject = json!({ "kind": text(&s, 1), "name": text(&s, 3) });
        for (n, key) in [(2, "apiGroup"), (4, "namespace")] {
            let v = text(&s, n);
            if !v.is_empty() {
                subject[key] = json!(v);
            }
        }
        subjects.push(subject);
    }
    if !subjects.is_empty() {
        out["subjects"] = json!(subjects);
    }
    let r = fields(field(obj, 3).unwrap_or_default())?;
    out["roleRef"] = json!({ "apiGroup": text(&r, 1), "kind": text(&r, 2), "name": text(&r, 3) });
    Some(())
}

/// ServiceAccount: automountServiceAccountToken=4.
pub fn service_account(obj: &Fields, out: &mut Value) -> Option<()> {
    if let Some(b) = field(obj, 4) {
        out["automountServiceAccountToken"] = json!(varint(b)?.0 != 0);
    }
    Some(())
}
