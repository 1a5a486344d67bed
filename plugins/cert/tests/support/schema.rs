//! Checks a JSON document against the plugin's schema files. Implements the part of JSON Schema
//! (2020-12) those files use: `type` (one or several), `enum`, `required`, `properties`,
//! `additionalProperties: false`, `items`, and `$ref` to `#/$defs/...`. Any other keyword in a
//! schema is refused, so a schema cannot silently say more than is checked.
#![allow(clippy::unwrap_used)]

use serde_json::Value;

const KNOWN: &[&str] = &[
    "$schema",
    "$id",
    "title",
    "description",
    "$defs",
    "type",
    "enum",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "$ref",
];

/// Every violation, as `path: problem`; empty when `doc` conforms.
pub fn violations(schema: &Value, doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(schema, schema, doc, "$", &mut out);
    out
}

fn check(root: &Value, schema: &Value, doc: &Value, path: &str, out: &mut Vec<String>) {
    let Some(rules) = schema.as_object() else {
        out.push(format!("{path}: schema is not an object"));
        return;
    };
    for key in rules.keys() {
        assert!(
            KNOWN.contains(&key.as_str()),
            "schema keyword {key:?} is not checked"
        );
    }
    if let Some(reference) = rules.get("$ref").and_then(Value::as_str) {
        let name = reference.strip_prefix("#/$defs/").unwrap();
        check(root, &root["$defs"][name], doc, path, out);
    }
    if let Some(types) = rules.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !allowed.iter().any(|t| is_type(doc, t)) {
            out.push(format!("{path}: {doc} is not of type {allowed:?}"));
            return;
        }
    }
    if let Some(values) = rules.get("enum").and_then(Value::as_array)
        && !values.contains(doc)
    {
        out.push(format!("{path}: {doc} is not one of {values:?}"));
    }
    if let Some(object) = doc.as_object() {
        for name in rules
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap();
            if !object.contains_key(name) {
                out.push(format!("{path}: missing {name:?}"));
            }
        }
        let properties = rules.get("properties").and_then(Value::as_object);
        for (name, value) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(sub) => check(root, sub, value, &format!("{path}.{name}"), out),
                None if rules.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    out.push(format!("{path}: unexpected property {name:?}"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (rules.get("items"), doc.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check(root, items, item, &format!("{path}[{i}]"), out);
        }
    }
}

fn is_type(doc: &Value, t: &str) -> bool {
    match t {
        "object" => doc.is_object(),
        "array" => doc.is_array(),
        "string" => doc.is_string(),
        "integer" => doc.is_i64() || doc.is_u64(),
        "number" => doc.is_number(),
        "boolean" => doc.is_boolean(),
        "null" => doc.is_null(),
        _ => false,
    }
}

#[test]
fn the_checker_catches_what_it_claims() {
    let schema = serde_json::json!({
        "type": "object", "required": ["a"], "additionalProperties": false,
        "properties": {"a": {"type": ["integer", "null"]}, "b": {"enum": ["x"]},
                       "c": {"type": "array", "items": {"$ref": "#/$defs/s"}}},
        "$defs": {"s": {"type": "string"}},
    });
    assert!(violations(&schema, &serde_json::json!({"a": 1, "b": "x", "c": ["s"]})).is_empty());
    let bad = violations(
        &schema,
        &serde_json::json!({"a": "1", "b": "y", "c": [1], "d": 0}),
    );
    assert_eq!(bad.len(), 4, "{bad:?}");
    assert_eq!(
        violations(&schema, &serde_json::json!({})),
        ["$: missing \"a\""]
    );
}
