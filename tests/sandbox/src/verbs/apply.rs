//! Server-side apply's field ownership, simplified to one rule that matters to clients: a field
//! the same manager applied before and leaves out now is removed. Each manager's applied fields
//! are kept in `metadata.managedFields` (FieldsV1), as upstream keeps them. Conflicts between
//! managers are not detected.

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
