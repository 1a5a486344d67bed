//! The little validation that keeps careless writes from producing objects a real API server
//! would refuse: every container of a Pod or pod template needs a name and an image.

use crate::registry::ResourceInfo;
use crate::status::ApiError;
use serde_json::{Value, json};

fn required(info: &ResourceInfo, name: &str, field: &str) -> ApiError {
    let qualified_kind = if info.group.is_empty() {
        info.kind.clone()
    } else {
        format!("{}.{}", info.kind, info.group)
    };
    let mut details = json!({ "name": name, "kind": info.kind, "causes": [{ "reason": "FieldValueRequired", "message": "Required value", "field": field }] });
    if !info.group.is_empty() {
        details["group"] = json!(info.group);
    }
    ApiError {
        code: 422,
        reason: "Invalid",
        message: format!("{qualified_kind} \"{name}\" is invalid: {field}: Required value"),
        details: Some(details),
    }
}

pub fn validate(info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    let (spec, prefix) = match (info.group.as_str(), info.plural.as_str()) {
        ("", "pods") => (&obj["spec"], "spec"),
        ("apps", "deployments") | ("apps", "replicasets") | ("batch", "jobs") => {
            (&obj["spec"]["template"]["spec"], "spec.template.spec")
        }
        ("batch", "cronjobs") => {
            crate::simulate::cronjob::validate(info, obj)?;
            (
                &obj["spec"]["jobTemplate"]["spec"]["template"]["spec"],
                "spec.jobTemplate.spec.template.spec",
            )
        }
        _ => return Ok(()),
    };
    if info.group == "batch" {
        crate::simulate::job::validate_restart_policy(info, name, spec, prefix)?;
    }
    let containers = spec["containers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if containers.is_empty() {
        return Err(required(info, name, &format!("{prefix}.containers")));
    }
    for (i, c) in containers.iter().enumerate() {
        for f in ["name", "image"] {
            if c[f].as_str().is_none_or(str::is_empty) {
                return Err(required(
                    info,
                    name,
                    &format!("{prefix}.containers[{i}].{f}"),
                ));
            }
        }
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The parts the server reads and writes must be objects where present, as decoding into the
/// typed structs requires: a 400 like upstream's decode error instead of a malformed object.
pub fn shape(info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    let cannot = |path: &str, v: &Value| {
        ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: json: cannot unmarshal {t} into Go struct field {kind}.{path} of type object",
            kind = info.kind,
            version = info.version,
            t = type_name(v),
        ))
    };
    if !obj.is_object() {
        return Err(cannot("", obj));
    }
    let mut paths: Vec<&[&str]> = vec![
        &["metadata"],
        &["metadata", "labels"],
        &["metadata", "annotations"],
    ];
    if !info.custom {
        paths.extend([&["spec"][..], &["status"]]);
    }
    if info.group == "apps" {
        paths.extend([
            &["spec", "selector"][..],
            &["spec", "template"],
            &["spec", "template", "metadata"],
            &["spec", "template", "metadata", "labels"],
            &["spec", "template", "metadata", "annotations"],
            &["spec", "template", "spec"],
        ]);
    }
    for path in paths {
        let v = path.iter().try_fold(obj, |v, k| v.get(*k));
        if let Some(v) = v.filter(|v| !v.is_object() && !v.is_null()) {
            return Err(cannot(&path.join("."), v));
        }
    }
    Ok(())
}
