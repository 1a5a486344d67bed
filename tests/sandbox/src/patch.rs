//! deps: serde_json
//!
//! The three PATCH bodies the API server accepts besides server-side apply, applied the way
//! kube-apiserver 1.32 applies them:
//! - `application/merge-patch+json`: RFC 7386 ([`merge_patch`]);
//! - `application/json-patch+json`: RFC 6902 with the behaviour of the json-patch library the
//!   API server vendors (gopkg.in/evanphx/json-patch.v4 v4.12), quirks included ([`json_patch`]);
//! - `application/strategic-merge-patch+json`: apimachinery's strategicpatch with the patch
//!   metadata (merge keys, strategies) of the built-in types ([`strategic_merge_patch`]).
//!
//! Errors carry the text the API server puts in its `Status`, and [`PatchError::status`] builds
//! that `Status` with upstream's code and reason.

use serde_json::{Map, Value, json};
use std::fmt;

mod json;
mod strategic;

pub use json::json_patch;
pub use strategic::strategic_merge_patch;

/// Why a patch could not be applied, classified as kube-apiserver classifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// 400 `BadRequest`: the patch document is malformed.
    BadRequest(String),
    /// 422 `Invalid`: a well-formed JSON patch that does not apply to this object. Upstream
    /// answers with a fixed message; the library's text is kept here for logs and tests.
    Unprocessable(String),
    /// 500 with an empty reason: strategic-merge failures upstream does not classify
    /// (a list element without its merge key, an unknown `$patch` directive...).
    Internal(String),
}

const UNPROCESSABLE_MESSAGE: &str =
    "the server rejected our request due to an error in our request";

impl PatchError {
    /// HTTP status code of the answer.
    pub fn code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::Unprocessable(_) => 422,
            PatchError::Internal(_) => 500,
        }
    }

    /// The underlying error text (for 422 this is not what the wire carries; see [`Self::status`]).
    pub fn message(&self) -> &str {
        match self {
            PatchError::BadRequest(m) | PatchError::Unprocessable(m) | PatchError::Internal(m) => m,
        }
    }

    /// The `Status` object kube-apiserver answers with.
    pub fn status(&self) -> Value {
        match self {
            PatchError::BadRequest(m) => json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": m, "reason": "BadRequest", "code": 400
            }),
            // NewGenericServerResponse(422, ...): the library's message does not reach the client,
            // which is why kubectl says "The request is invalid: the server rejected our request...".
            PatchError::Unprocessable(_) => json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": UNPROCESSABLE_MESSAGE, "reason": "Invalid", "details": {}, "code": 422
            }),
            // A plain Go error reaching ErrorToAPIStatus: reason StatusReasonUnknown (""), omitted.
            PatchError::Internal(m) => json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": m, "code": 500
            }),
        }
    }
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for PatchError {}

// ---------------------------------------------------------------------------------------------
// Go's %v, which upstream error messages use to print decoded JSON.

/// Formats a decoded JSON value as Go's `fmt` `%v` prints a `map[string]interface{}` tree:
/// `map[a:1 b:[x y]]`, `<nil>`, floats in `%g` form. Upstream error texts embed such values.
pub fn go_format(v: &Value) -> String {
    let mut out = String::new();
    write_go(&mut out, v);
    out
}

fn write_go(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_go(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push_str("map[");
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                if let Some(val) = map.get(k.as_str()) {
                    write_go(out, val);
                }
            }
            out.push(']');
        }
    }
}

/// Integers as decimals (the API server decodes JSON integers as int64); other numbers as Go's
/// `%v` of a float64, i.e. `%g` with the shortest digits: exponent form when the exponent is
/// below -4 or at least 6 (`1e+06`).
fn go_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    go_float(f)
}

fn go_float(f: f64) -> String {
    if f == 0.0 {
        return "0".to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.5e-5", "8e1".
    let sci = format!("{f:e}");
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<i32>().unwrap_or(0)),
        None => return sci,
    };
    if !(-4..6).contains(&exp) {
        let (sign, digits) = match mantissa.strip_prefix('-') {
            Some(d) => ("-", d.to_string()),
            None => ("", mantissa.clone()),
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{digits}e{esign}{:02}", exp.abs());
    }
    format!("{f}")
}

/// Removes a member keeping the order of the others, whether or not serde_json preserves order.
fn remove_key(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let value = map.get(key).cloned()?;
    map.retain(|k, _| k != key);
    Some(value)
}

// ---------------------------------------------------------------------------------------------
// RFC 7386

/// JSON merge patch (RFC 7386): objects merge recursively, `null` deletes a key, anything else
/// (arrays included) replaces. As in the json-patch library the API server uses, values taken
/// from the patch lose their `null` members, also inside objects held in arrays.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    match patch {
        Value::Object(_) => merge_into(Some(target), patch),
        other => prune_nulls(other.clone()),
    }
}

fn merge_into(current: Option<&Value>, patch: &Value) -> Value {
    let (Some(Value::Object(cur)), Value::Object(patch_map)) = (current, patch) else {
        return match current {
            // A live object replaced by a non-object keeps the patch value as sent.
            Some(Value::Object(_)) => patch.clone(),
            _ => prune_nulls(patch.clone()),
        };
    };
    let mut result = cur.clone();
    for (k, pv) in patch_map {
        if pv.is_null() {
            remove_key(&mut result, k);
            continue;
        }
        let merged = merge_into(result.get(k).filter(|v| !v.is_null()), pv);
        match result.get_mut(k) {
            Some(slot) => *slot = merged,
            None => {
                result.insert(k.clone(), merged);
            }
        }
    }
    Value::Object(result)
}

/// `pruneNulls`: drops `null` members of objects, recursively, keeping `null` array elements.
fn prune_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, prune_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(prune_nulls).collect()),
        other => other,
    }
}

/// How encoding/json names a JSON value in "cannot unmarshal X into ..." errors.
fn go_json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn merge_patch_follows_rfc7386_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
            // json-patch's pruneNulls: null members go, null array elements stay.
            (
                json!({}),
                json!({"a":[{"b":null,"c":1},null]}),
                json!({"a":[{"c":1},null]}),
            ),
            (
                json!({"a":{"x":1}}),
                json!({"a":[{"b":null}]}),
                json!({"a":[{"b":null}]}),
            ),
        ];
        for (target, patch, want) in cases {
            assert_eq!(
                merge_patch(&target, &patch),
                want,
                "target {target} patch {patch}"
            );
        }
    }

    #[test]
    fn merge_patch_replaces_whole_container_lists() {
        let dep = json!({"spec":{"template":{"spec":{"containers":[
            {"name":"controller","image":"c:1","env":[{"name":"A","value":"1"}]},
            {"name":"istio-proxy","image":"p:1"}
        ]}}}});
        let patched = merge_patch(
            &dep,
            &json!({"spec":{"template":{"spec":{"containers":[{"name":"controller","image":"x"}]}}}}),
        );
        assert_eq!(
            patched["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert!(
            patched["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()[0]
                .get("env")
                .is_none()
        );
    }

    #[test]
    fn go_format_prints_like_fmt_v() {
        assert_eq!(
            go_format(&json!({"b":[1,"x"],"a":null,"c":{"d":true}})),
            "map[a:<nil> b:[1 x] c:map[d:true]]"
        );
        assert_eq!(go_format(&json!(1.5)), "1.5");
        assert_eq!(go_format(&json!(1e21)), "1e+21");
        assert_eq!(go_format(&json!(1234567.0)), "1.234567e+06");
        assert_eq!(go_format(&json!(0.00001)), "1e-05");
        assert_eq!(go_format(&json!(-2.5e-7)), "-2.5e-07");
        assert_eq!(go_format(&json!(100000.0)), "100000");
    }
}
