//! Server-side apply's field ownership: a field the same manager applied before and leaves out
//! now is removed, and a field another manager applied with a different value is a conflict
//! (409, upstream's message) unless `force=true` takes it over. Each manager's applied fields
//! are kept in `metadata.managedFields` (FieldsV1), as upstream keeps them. Only Apply
//! operations are tracked: fields set by updates and patches have no manager here.

use serde_json::{Map, Value, json};

/// Keys that identify an item of a list of objects (the built-ins' merge keys, most specific first).
const ITEM_KEYS: &[&[&str]] = &[
    &["containerPort", "protocol"],
    &["port", "protocol"],
    &["name"],
    &["mountPath"],
    &["devicePath"],
    &["type"],
    &["ip"],
];

fn item_key(item: &Value) -> Option<Map<String, Value>> {
    let o = item.as_object()?;
    ITEM_KEYS
        .iter()
        .find(|keys| o.contains_key(keys[0]))
        .map(|keys| {
            keys.iter()
                .filter_map(|k| o.get(*k).map(|v| (k.to_string(), v.clone())))
                .collect()
        })
}

/// FieldsV1 of an applied configuration: `f:` for object fields, `k:` for keyed list items,
/// `v:` for set members; lists of custom resources are atomic.
pub fn fieldset(v: &Value, atomic_lists: bool) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (format!("f:{k}"), fieldset(v, atomic_lists)))
                .collect(),
        ),
        Value::Array(a) if !atomic_lists => {
            let mut out = Map::new();
            for item in a {
                match (item, item_key(item)) {
                    (Value::Object(_), Some(key)) => {
                        let mut child = fieldset(item, atomic_lists);
                        child[".".to_string()] = json!({});
                        out.insert(format!("k:{}", Value::Object(key)), child);
                    }
                    (Value::Object(_), None) => return json!({}),
                    (other, _) => {
                        out.insert(format!("v:{other}"), json!({}));
                    }
                }
            }
            Value::Object(out)
        }
        _ => json!({}),
    }
}

/// The fields of an applied object that apply owns (not identity, not status).
pub fn owned_fields(applied: &Value, atomic_lists: bool) -> Value {
    let mut v = applied.clone();
    if let Some(o) = v.as_object_mut() {
        for k in ["apiVersion", "kind", "status"] {
            o.remove(k);
        }
        if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
            m.retain(|k, _| k == "labels" || k == "annotations");
        }
    }
    fieldset(&v, atomic_lists)
}

/// Remove from `obj` what `prev` owned and `now` does not.
pub fn remove_dropped(obj: &mut Value, prev: &Value, now: &Value) {
    let (Some(prev), Some(now_map)) = (prev.as_object(), now.as_object()) else {
        return;
    };
    for (entry, child) in prev {
        let still = now_map.get(entry);
        if let Some(field) = entry.strip_prefix("f:") {
            match (still, obj.get_mut(field)) {
                (None, Some(_)) => {
                    if let Some(o) = obj.as_object_mut() {
                        o.remove(field);
                    }
                }
                (Some(now_child), Some(target)) => remove_dropped(target, child, now_child),
                _ => {}
            }
        } else if let Some(key) = entry.strip_prefix("k:") {
            let Ok(Value::Object(key)) = serde_json::from_str::<Value>(key) else {
                continue;
            };
            let Some(items) = obj.as_array_mut() else {
                continue;
            };
            let matches = |item: &Value| key.iter().all(|(k, v)| item.get(k) == Some(v));
            match still {
                None => items.retain(|i| !matches(i)),
                Some(now_child) => {
                    if let Some(item) = items.iter_mut().find(|i| matches(i)) {
                        remove_dropped(item, child, now_child);
                    }
                }
            }
        } else if let Some(member) = entry.strip_prefix("v:")
            && still.is_none()
            && let (Ok(member), Some(items)) =
                (serde_json::from_str::<Value>(member), obj.as_array_mut())
        {
            items.retain(|i| *i != member);
        }
    }
}

/// The FieldsV1 a manager's last apply recorded on `obj`.
pub fn previous(obj: &Value, manager: &str) -> Option<Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == "Apply")
        .map(|e| e["fieldsV1"].clone())
}

/// Record (replace) the manager's Apply entry in `metadata.managedFields`.
pub fn record(obj: &mut Value, manager: &str, api_version: &str, fields: Value) {
    let entry = json!({
        "manager": manager, "operation": "Apply", "apiVersion": api_version,
        "time": crate::clock::now_rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": fields,
    });
    let meta = crate::store::obj_meta(obj);
    let list = meta.entry("managedFields").or_insert_with(|| json!([]));
    if let Some(a) = list.as_array_mut() {
        a.retain(|e| !(e["manager"] == manager && e["operation"] == "Apply"));
        a.push(entry);
    } else {
        *list = json!([entry]);
    }
}

/// One field another manager owns and this apply would change.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub manager: String,
    /// FieldsV1 entries from the root (`f:spec`, `f:replicas`).
    pub entries: Vec<String>,
}

impl Conflict {
    /// As structured-merge-diff prints a path: `.spec.containers[name="web"].image`.
    pub fn path(&self) -> String {
        self.entries
            .iter()
            .map(|e| {
                if let Some(f) = e.strip_prefix("f:") {
                    format!(".{f}")
                } else if let Some(k) = e.strip_prefix("k:") {
                    let key: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
                    let mut parts: Vec<(String, String)> = key
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_string()))
                        .collect();
                    parts.sort();
                    let inner: Vec<String> =
                        parts.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("[{}]", inner.join(","))
                } else if let Some(v) = e.strip_prefix("v:") {
                    format!("[={v}]")
                } else {
                    e.clone()
                }
            })
            .collect()
    }
}

/// Every leaf of a FieldsV1 set (the item markers `.` left out).
fn leaves(set: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let Some(m) = set.as_object() else { return };
    for (entry, child) in m {
        if entry == "." {
            continue;
        }
        at.push(entry.clone());
        let children = child
            .as_object()
            .map_or(0, |c| c.keys().filter(|k| *k != ".").count());
        if children == 0 {
            out.push(at.clone());
        } else {
            leaves(child, at, out);
        }
        at.pop();
    }
}

fn contains(set: &Value, entries: &[String]) -> bool {
    entries.iter().try_fold(set, |s, e| s.get(e)).is_some()
}

/// The value at a FieldsV1 path in an object.
fn value_at<'a>(obj: &'a Value, entries: &[String]) -> Option<&'a Value> {
    entries.iter().try_fold(obj, |v, e| {
        if let Some(f) = e.strip_prefix("f:") {
            v.get(f)
        } else if let Some(k) = e.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(k).ok()?;
            v.as_array()?
                .iter()
                .find(|i| key.iter().all(|(k, kv)| i.get(k) == Some(kv)))
        } else {
            Some(v)
        }
    })
}

/// The fields `applied` sets that another Apply manager owns with a different live value.
pub fn conflicts(live: &Value, applied: &Value, owned: &Value, manager: &str) -> Vec<Conflict> {
    let mut mine = vec![];
    leaves(owned, &mut vec![], &mut mine);
    let mut out = vec![];
    for entry in live["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let other = entry["manager"].as_str().unwrap_or("");
        if other == manager || entry["operation"] != "Apply" {
            continue;
        }
        for path in &mine {
            // Maps and lists (metadata left without labels) hold fields; they are not values.
            let scalar = value_at(applied, path).is_some_and(|v| !v.is_object() && !v.is_array());
            if scalar
                && contains(&entry["fieldsV1"], path)
                && value_at(live, path) != value_at(applied, path)
            {
                out.push(Conflict {
                    manager: other.to_string(),
                    entries: path.clone(),
                });
            }
        }
    }
    out
}

/// upstream's `NewConflictError` message.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [one] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {:?}: {}",
            one.manager,
            one.path()
        );
    }
    let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
    managers.sort();
    managers.dedup();
    let mut lines = vec![];
    for m in managers {
        lines.push(format!("conflicts with {m:?}:"));
        for c in conflicts.iter().filter(|c| c.manager == m) {
            lines.push(format!("- {}", c.path()));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// `force=true`: the conflicting fields leave their other managers (an entry left owning
/// nothing is dropped).
pub fn take_over(obj: &mut Value, conflicts: &[Conflict]) {
    let Some(entries) = obj
        .pointer_mut("/metadata/managedFields")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for c in conflicts {
        for e in entries
            .iter_mut()
            .filter(|e| e["manager"] == c.manager.as_str())
        {
            remove_path(&mut e["fieldsV1"], &c.entries);
        }
    }
    entries.retain(|e| e["fieldsV1"].as_object().is_none_or(|m| !m.is_empty()));
}

fn remove_path(set: &mut Value, entries: &[String]) {
    let Some((first, rest)) = entries.split_first() else {
        return;
    };
    let Some(m) = set.as_object_mut() else { return };
    if rest.is_empty() {
        m.remove(first);
        return;
    }
    if let Some(child) = m.get_mut(first) {
        remove_path(child, rest);
        if child
            .as_object()
            .is_some_and(|c| c.keys().all(|k| k == "."))
        {
            m.remove(first);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_left_out_of_the_next_apply_is_removed() {
        let first = json!({ "metadata": { "labels": { "a": "1", "b": "2" } }, "spec": { "template": { "spec": { "containers": [
            { "name": "web", "image": "x", "env": [{ "name": "A", "value": "1" }, { "name": "B", "value": "2" }] },
            { "name": "side", "image": "y" } ] } } } });
        let second = json!({ "metadata": { "labels": { "a": "1" } }, "spec": { "template": { "spec": { "containers": [
            { "name": "web", "image": "x", "env": [{ "name": "A", "value": "1" }] } ] } } } });
        let mut live = first.clone();
        if let Some(env) = live["spec"]["template"]["spec"]["containers"][0]["env"].as_array_mut() {
            env.push(json!({ "name": "OTHER", "value": "kept" }));
        }
        remove_dropped(
            &mut live,
            &owned_fields(&first, false),
            &owned_fields(&second, false),
        );
        assert_eq!(live["metadata"]["labels"], json!({ "a": "1" }));
        let containers = live["spec"]["template"]["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            containers.len(),
            1,
            "the sidecar this manager applied before is gone"
        );
        let env: Vec<&str> = containers[0]["env"]
            .as_array()
            .map(|e| e.iter().filter_map(|v| v["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            env,
            ["A", "OTHER"],
            "fields this manager never applied stay"
        );
    }

    #[test]
    fn another_managers_field_is_a_conflict_unless_the_value_agrees() {
        let mut live = json!({ "spec": { "replicas": 2, "template": { "spec": { "containers": [{ "name": "web", "image": "a" }] } } } });
        let theirs = json!({ "spec": { "replicas": 2, "template": { "spec": { "containers": [{ "name": "web", "image": "a" }] } } } });
        record(&mut live, "them", "apps/v1", owned_fields(&theirs, false));
        let same = json!({ "spec": { "replicas": 2 } });
        assert!(conflicts(&live, &same, &owned_fields(&same, false), "me").is_empty());
        let other = json!({ "spec": { "replicas": 3, "template": { "spec": { "containers": [{ "name": "web", "image": "b" }] } } } });
        let found = conflicts(&live, &other, &owned_fields(&other, false), "me");
        let paths: Vec<String> = found.iter().map(Conflict::path).collect();
        assert_eq!(
            paths,
            [
                ".spec.replicas",
                ".spec.template.spec.containers[name=\"web\"].image"
            ]
        );
        assert_eq!(
            conflict_message(&found[..1]),
            "Apply failed with 1 conflict: conflict with \"them\": .spec.replicas"
        );
        assert_eq!(
            conflict_message(&found),
            "Apply failed with 2 conflicts: conflicts with \"them\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"].image"
        );
        take_over(&mut live, &found[..1]);
        assert!(conflicts(&live, &other, &owned_fields(&other, false), "me").len() == 1);
    }

    #[test]
    fn keyed_items_and_set_members_are_named_as_upstream_names_them() {
        let f = fieldset(
            &json!({ "ports": [{ "containerPort": 80, "protocol": "TCP" }], "args": ["-v"] }),
            false,
        );
        assert!(
            f["f:ports"]
                .get(r#"k:{"containerPort":80,"protocol":"TCP"}"#)
                .is_some(),
            "{f}"
        );
        assert!(f["f:args"].get(r#"v:"-v""#).is_some(), "{f}");
    }
}
