//! RFC 6902 JSON patch, as the json-patch library kube-apiserver vendors
//! (gopkg.in/evanphx/json-patch.v4 v4.12) applies it, error texts and leniencies included.

use super::{PatchError, go_json_kind, remove_key};
use serde_json::Value;

/// JSON patch (RFC 6902): `add`, `remove`, `replace`, `move`, `copy`, `test`, JSON pointer
/// escaping (`~0`, `~1`), `-` to append, negative indices from the end. Behaves as the json-patch
/// library kube-apiserver uses, including its leniencies: `replace` of a missing object member
/// adds it, and `test` of a missing member against `null` passes. A body that is not a list of
/// operations is a 400; an operation that does not apply is a 422.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops = match patch {
        Value::Array(ops) => ops,
        Value::Null => return Ok(target.clone()),
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                go_json_kind(other)
            )));
        }
    };
    for op in ops {
        if !matches!(op, Value::Object(_) | Value::Null) {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                go_json_kind(op)
            )));
        }
    }
    let mut doc = target.clone();
    let mut accumulated = 0usize;
    for op in ops {
        apply_op(&mut doc, op, &mut accumulated).map_err(PatchError::Unprocessable)?;
    }
    Ok(doc)
}

const MISSING: &str = "missing value";
const INVALID_INDEX: &str = "invalid index referenced";

enum Field {
    Present(String),
    Absent,
    NotString(&'static str),
}

fn op_field(op: &Value, name: &str) -> Field {
    match op.get(name) {
        None | Some(Value::Null) => Field::Absent,
        Some(Value::String(s)) => Field::Present(s.clone()),
        Some(other) => Field::NotString(go_json_kind(other)),
    }
}

/// `Operation.Path()`: the path, or the library's error text.
fn op_path(op: &Value) -> Result<String, String> {
    match op_field(op, "path") {
        Field::Present(p) => Ok(p),
        Field::Absent => Err(format!("operation missing path field: {MISSING}")),
        Field::NotString(kind) => Err(format!(
            "json: cannot unmarshal {kind} into Go value of type string"
        )),
    }
}

fn op_from(op: &Value) -> Result<String, String> {
    match op_field(op, "from") {
        Field::Present(p) => Ok(p),
        Field::Absent => Err(format!("operation, missing from field: {MISSING}")),
        Field::NotString(kind) => Err(format!(
            "json: cannot unmarshal {kind} into Go value of type string"
        )),
    }
}

/// The `value` member; absent and `null` both insert `null`.
fn op_value(op: &Value) -> Option<&Value> {
    op.get("value")
}

fn apply_op(doc: &mut Value, op: &Value, accumulated: &mut usize) -> Result<(), String> {
    let kind = match op.get("op") {
        Some(Value::String(s)) => s.as_str(),
        _ => "unknown",
    };
    match kind {
        "add" => {
            let path = op_path(op)
                .map_err(|_| format!("add operation failed to decode path: {MISSING}"))?;
            let value = op_value(op).cloned().unwrap_or(Value::Null);
            let (parent, key) = find_object(doc, &path).ok_or_else(|| {
                format!("add operation does not apply: doc is missing path: \"{path}\": {MISSING}")
            })?;
            container_add(parent, &key, value)
                .map_err(|e| format!("error in add for path: '{path}': {e}"))
        }
        "remove" => {
            let path = op_path(op)
                .map_err(|_| format!("remove operation failed to decode path: {MISSING}"))?;
            let (parent, key) = find_object(doc, &path).ok_or_else(|| {
                format!(
                    "remove operation does not apply: doc is missing path: \"{path}\": {MISSING}"
                )
            })?;
            container_remove(parent, &key)
                .map(|_| ())
                .map_err(|e| format!("error in remove for path: '{path}': {e}"))
        }
        "replace" => {
            let path =
                op_path(op).map_err(|e| format!("replace operation failed to decode path: {e}"))?;
            let value = op_value(op).cloned().unwrap_or(Value::Null);
            if path.is_empty() {
                // The library wraps a nil error here, so a scalar for the whole document is
                // silently ignored.
                if matches!(value, Value::Object(_) | Value::Array(_)) {
                    *doc = value;
                }
                return Ok(());
            }
            let (parent, key) = find_object(doc, &path).ok_or_else(|| {
                format!("replace operation does not apply: doc is missing path: {path}: {MISSING}")
            })?;
            if container_get(parent, &key).is_err() {
                return Err(format!(
                    "replace operation does not apply: doc is missing key: {path}: {MISSING}"
                ));
            }
            container_set(parent, &key, value)
                .map_err(|e| format!("error in remove for path: '{path}': {e}"))
        }
        "move" => {
            let from =
                op_from(op).map_err(|e| format!("move operation failed to decode from: {e}"))?;
            let (parent, key) = find_object(doc, &from).ok_or_else(|| {
                format!(
                    "move operation does not apply: doc is missing from path: {from}: {MISSING}"
                )
            })?;
            container_get(parent, &key)
                .map_err(|e| format!("error in move for path: '{key}': {e}"))?;
            let moved = container_remove(parent, &key)
                .map_err(|e| format!("error in move for path: '{key}': {e}"))?;
            let path =
                op_path(op).map_err(|e| format!("move operation failed to decode path: {e}"))?;
            let (parent, key) = find_object(doc, &path).ok_or_else(|| {
                format!("move operation does not apply: doc is missing destination path: {path}: {MISSING}")
            })?;
            container_add(parent, &key, moved)
                .map_err(|e| format!("error in move for path: '{path}': {e}"))
        }
        "test" => {
            let path =
                op_path(op).map_err(|e| format!("test operation failed to decode path: {e}"))?;
            let failed = || format!("testing value {path} failed: test failed");
            if path.is_empty() {
                return if op_value(op) == Some(&*doc) {
                    Ok(())
                } else {
                    Err(failed())
                };
            }
            let (parent, key) = find_object(doc, &path).ok_or_else(|| {
                format!("test operation does not apply: is missing path: {path}: {MISSING}")
            })?;
            let current = container_get(parent, &key)
                .map_err(|e| format!("error in test for path: '{path}': {e}"))?;
            match (current, op_value(op)) {
                // A missing member and a JSON null are the same nil node to the library.
                (None | Some(Value::Null), None | Some(Value::Null)) => Ok(()),
                (None | Some(Value::Null), Some(_)) | (Some(_), None) => Err(failed()),
                (Some(cur), Some(want)) => {
                    if json_equal(cur, want) {
                        Ok(())
                    } else {
                        Err(failed())
                    }
                }
            }
        }
        "copy" => {
            let from =
                op_from(op).map_err(|e| format!("copy operation failed to decode from: {e}"))?;
            let (parent, key) = find_object(doc, &from).ok_or_else(|| {
                format!(
                    "copy operation does not apply: doc is missing from path: {from}: {MISSING}"
                )
            })?;
            let copied = container_get(parent, &key)
                .map_err(|e| format!("error in copy for from: '{from}': {e}"))?
                .cloned()
                .unwrap_or(Value::Null);
            let path = op_path(op)
                .map_err(|_| format!("copy operation failed to decode path: {MISSING}"))?;
            *accumulated += copied.to_string().len();
            let (parent, key) = find_object(doc, &path).ok_or_else(|| {
                format!("copy operation does not apply: doc is missing destination path: {path}: {MISSING}")
            })?;
            container_add(parent, &key, copied)
                .map_err(|e| format!("error while adding value during copy: {e}"))
        }
        other => Err(format!("Unexpected kind: {other}")),
    }
}

/// Structural equality; numbers compare by their JSON text, as the library compares raw bytes.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| json_equal(v, w))
        }
        _ => a == b,
    }
}

fn decode_patch_key(k: &str) -> String {
    k.replace("~1", "/").replace("~0", "~")
}

/// `findObject`: the container holding the last segment, and that segment decoded. The first
/// segment (before the leading `/`) is ignored, as the library ignores it.
fn find_object<'a>(doc: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let split: Vec<&str> = path.split('/').collect();
    if split.len() < 2 {
        return None;
    }
    let mut cur = doc;
    for part in &split[1..split.len() - 1] {
        let key = decode_patch_key(part);
        let next = match cur {
            Value::Object(m) => m.get_mut(&key),
            Value::Array(a) => {
                let idx = array_index(a.len(), &key).ok()?;
                a.get_mut(idx)
            }
            _ => None,
        }?;
        if !matches!(next, Value::Object(_) | Value::Array(_)) {
            return None;
        }
        cur = next;
    }
    let last = split[split.len() - 1];
    Some((cur, decode_patch_key(last)))
}

fn go_atoi(key: &str) -> Result<i64, String> {
    let digits = key.strip_prefix(['+', '-']).unwrap_or(key);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing \"{key}\": invalid syntax"));
    }
    key.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing \"{key}\": value out of range"))
}

/// An existing element's index; negative counts from the end.
fn array_index(len: usize, key: &str) -> Result<usize, String> {
    let idx = go_atoi(key)?;
    let len_i = len as i64;
    let invalid = || format!("Unable to access invalid index: {idx}: {INVALID_INDEX}");
    let resolved = if idx < 0 {
        if idx < -len_i {
            return Err(invalid());
        }
        idx + len_i
    } else {
        idx
    };
    if resolved >= len_i {
        return Err(invalid());
    }
    Ok(resolved as usize)
}

fn container_get<'a>(c: &'a Value, key: &str) -> Result<Option<&'a Value>, String> {
    match c {
        Value::Object(m) => Ok(m.get(key)),
        Value::Array(a) => {
            let idx = array_index(a.len(), key)?;
            Ok(a.get(idx))
        }
        _ => Ok(None),
    }
}

fn container_set(c: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match c {
        Value::Object(m) => {
            m.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(a) => {
            let idx = array_index(a.len(), key)?;
            if let Some(slot) = a.get_mut(idx) {
                *slot = value;
            }
            Ok(())
        }
        _ => Err(format!("unknown object type: {key}")),
    }
}

fn container_add(c: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match c {
        Value::Object(m) => {
            m.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(a) => {
            if key == "-" {
                a.push(value);
                return Ok(());
            }
            let idx = go_atoi(key)
                .map_err(|e| format!("value was not a proper array index: '{key}': {e}"))?;
            let new_len = a.len() as i64 + 1;
            let invalid = || format!("Unable to access invalid index: {idx}: {INVALID_INDEX}");
            if idx >= new_len || idx < -new_len {
                return Err(invalid());
            }
            let at = if idx < 0 { idx + new_len } else { idx };
            a.insert(at as usize, value);
            Ok(())
        }
        _ => Err(format!("unknown object type: {key}")),
    }
}

fn container_remove(c: &mut Value, key: &str) -> Result<Value, String> {
    match c {
        Value::Object(m) => remove_key(m, key)
            .ok_or_else(|| format!("Unable to remove nonexistent key: {key}: {MISSING}")),
        Value::Array(a) => {
            let idx = array_index(a.len(), key)?;
            Ok(a.remove(idx))
        }
        _ => Err(format!("unknown object type: {key}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_rfc6902_operations() {
        let doc = json!({"foo": "bar", "list": [1, 2, 3], "obj": {"a/b": 1, "m~n": 2}});
        let ops = json!([
            {"op": "add", "path": "/baz", "value": "qux"},
            {"op": "add", "path": "/list/1", "value": 9},
            {"op": "add", "path": "/list/-", "value": 4},
            {"op": "remove", "path": "/foo"},
            {"op": "replace", "path": "/obj/a~1b", "value": 10},
            {"op": "test", "path": "/obj/m~0n", "value": 2},
            {"op": "copy", "from": "/obj/m~0n", "path": "/copied"},
            {"op": "move", "from": "/baz", "path": "/obj/moved"}
        ]);
        let got = json_patch(&doc, &ops).unwrap();
        assert_eq!(
            got,
            json!({"list": [1, 9, 2, 3, 4], "obj": {"a/b": 10, "m~n": 2, "moved": "qux"}, "copied": 2})
        );
    }

    #[test]
    fn json_patch_negative_index_counts_from_the_end() {
        let got = json_patch(
            &json!({"a":[1,2,3]}),
            &json!([{"op":"remove","path":"/a/-1"}]),
        )
        .unwrap();
        assert_eq!(got, json!({"a":[1,2]}));
        let got = json_patch(
            &json!({"a":[1,2,3]}),
            &json!([{"op":"replace","path":"/a/-3","value":0}]),
        )
        .unwrap();
        assert_eq!(got, json!({"a":[0,2,3]}));
    }

    #[test]
    fn json_patch_errors_are_worded_like_the_library() {
        let doc = json!({"spec": {"replicas": 1, "list": [1]}});
        let cases = [
            (
                json!([{"op":"add","path":"/spec/missing/x","value":1}]),
                "add operation does not apply: doc is missing path: \"/spec/missing/x\": missing value",
            ),
            (
                json!([{"op":"remove","path":"/spec/nope"}]),
                "error in remove for path: '/spec/nope': Unable to remove nonexistent key: nope: missing value",
            ),
            (
                json!([{"op":"replace","path":"/spec/list/5","value":1}]),
                "replace operation does not apply: doc is missing key: /spec/list/5: missing value",
            ),
            (
                json!([{"op":"replace","path":"/nope/x","value":1}]),
                "replace operation does not apply: doc is missing path: /nope/x: missing value",
            ),
            (
                json!([{"op":"test","path":"/spec/replicas","value":3}]),
                "testing value /spec/replicas failed: test failed",
            ),
            (
                json!([{"op":"add","path":"/spec/list/3","value":1}]),
                "error in add for path: '/spec/list/3': Unable to access invalid index: 3: invalid index referenced",
            ),
            (
                json!([{"op":"move","from":"/spec/x","path":"/y"}]),
                "error in move for path: 'x': Unable to remove nonexistent key: x: missing value",
            ),
            (
                json!([{"op":"copy","from":"/a/b","path":"/y"}]),
                "copy operation does not apply: doc is missing from path: /a/b: missing value",
            ),
            (
                json!([{"op":"frobnicate","path":"/a"}]),
                "Unexpected kind: frobnicate",
            ),
            (
                json!([{"op":"add","value":1}]),
                "add operation failed to decode path: missing value",
            ),
            (
                json!([{"op":"replace","value":1}]),
                "replace operation failed to decode path: operation missing path field: missing value",
            ),
            (
                json!([{"op":"add","path":"/spec/list/x","value":1}]),
                "error in add for path: '/spec/list/x': value was not a proper array index: 'x': strconv.Atoi: parsing \"x\": invalid syntax",
            ),
        ];
        for (ops, want) in cases {
            let err = json_patch(&doc, &ops).unwrap_err();
            assert_eq!(
                err,
                PatchError::Unprocessable(want.to_string()),
                "ops {ops}"
            );
            assert_eq!(err.code(), 422);
        }
    }

    #[test]
    fn json_patch_is_all_or_nothing_and_keeps_library_leniencies() {
        let doc = json!({"a": 1});
        // replace of a missing member adds it, as json-patch v4 does.
        assert_eq!(
            json_patch(&doc, &json!([{"op":"replace","path":"/b","value":2}])).unwrap(),
            json!({"a":1,"b":2})
        );
        // test of a missing member against null passes.
        assert!(json_patch(&doc, &json!([{"op":"test","path":"/b","value":null}])).is_ok());
        // a failing op leaves the caller's document untouched.
        let ops = json!([{"op":"add","path":"/c","value":3},{"op":"test","path":"/a","value":2}]);
        assert!(json_patch(&doc, &ops).is_err());
        assert_eq!(doc, json!({"a": 1}));
    }

    #[test]
    fn json_patch_malformed_bodies_are_bad_requests() {
        let err = json_patch(&json!({}), &json!({"op":"add"})).unwrap_err();
        assert_eq!(
            err,
            PatchError::BadRequest(
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch".into()
            )
        );
        assert_eq!(err.status()["reason"], "BadRequest");
        assert_eq!(err.status()["code"], 400);
        let err = json_patch(&json!({}), &json!(["x"])).unwrap_err();
        assert_eq!(err.code(), 400);
    }

    #[test]
    fn unprocessable_status_carries_upstream_fixed_message() {
        let err =
            json_patch(&json!({}), &json!([{"op":"test","path":"/a","value":1}])).unwrap_err();
        let status = err.status();
        assert_eq!(status["code"], 422);
        assert_eq!(status["reason"], "Invalid");
        assert_eq!(status["message"], super::super::UNPROCESSABLE_MESSAGE);
    }
}
