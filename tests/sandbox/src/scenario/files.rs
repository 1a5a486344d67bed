//! Scenario files: YAML (multi-document) or JSON (one value, an array, or a stream of values),
//! with `kind: List` and `*List` objects flattened into their items and empty documents
//! skipped. Errors name the file and the document, counted from 1 as `---` separates them.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ScenarioError;

/// Every object in `paths`, in file order then document order.
pub fn load_files(paths: &[PathBuf]) -> Result<Vec<Value>, ScenarioError> {
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.clone(),
            source,
        })?;
        out.extend(parse_text(path, &text)?);
    }
    Ok(out)
}

/// The objects in one file's text; `path` only names the file in errors.
pub(super) fn parse_text(path: &Path, text: &str) -> Result<Vec<Value>, ScenarioError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let trimmed = text.trim_start();
    let mut out = Vec::new();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        for (i, value) in stream.enumerate() {
            let document = i + 1;
            let value =
                value.map_err(|e| parse_error(path, document, format!("invalid JSON: {e}")))?;
            flatten(path, document, value, &mut out)?;
        }
        return Ok(out);
    }
    for (i, (first_line, doc)) in split_documents(text).into_iter().enumerate() {
        let document = i + 1;
        if !has_content(&doc) {
            continue;
        }
        let value: Value =
            serde_saphyr::from_str_with_options(&doc, yaml_options()).map_err(|e| {
                parse_error(
                    path,
                    document,
                    format!("invalid YAML (document starts at line {first_line}): {e}"),
                )
            })?;
        flatten(path, document, value, &mut out)?;
    }
    Ok(out)
}

/// YAML 1.2 booleans (`y`, `on`, `no` stay strings: a namespace may be called `y`), but
/// `0644` is octal as in the YAML 1.1 kubectl reads (file modes are written that way).
fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.legacy_octal_numbers = true;
    options
}

fn parse_error(path: &Path, document: usize, message: String) -> ScenarioError {
    ScenarioError::Parse {
        path: path.to_path_buf(),
        document,
        message,
    }
}

/// Splits YAML text at document markers (`---` at the start of a line, optionally followed by
/// content such as `--- {a: 1}`; `...` ends a document). Returns each document with the
/// 1-based line it starts on.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    let mut seen_marker = false;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let is_start = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        let is_end = line == "..." || line.starts_with("... ");
        if is_start {
            // Text before the first marker is a document only if it has content (a file may
            // begin with comments and then `---`).
            if seen_marker || has_content(&current) {
                docs.push((start, std::mem::take(&mut current)));
            } else {
                current.clear();
            }
            seen_marker = true;
            start = line_no;
            current.push_str(line[3..].trim_start());
            current.push('\n');
        } else if is_end {
            docs.push((start, std::mem::take(&mut current)));
            seen_marker = false;
            start = line_no + 1;
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    if seen_marker || has_content(&current) {
        docs.push((start, current));
    }
    docs
}

/// Whether a document holds anything but blank lines and comments.
fn has_content(doc: &str) -> bool {
    doc.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    })
}

/// Adds `value` to `out`: lists and arrays by their items, objects after checking they are
/// Kubernetes objects, nulls (empty documents) not at all.
fn flatten(
    path: &Path,
    document: usize,
    value: Value,
    out: &mut Vec<Value>,
) -> Result<(), ScenarioError> {
    match value {
        Value::Null => Ok(()),
        Value::Array(items) => items
            .into_iter()
            .try_for_each(|item| flatten(path, document, item, out)),
        Value::Object(mut map) => {
            let kind = map
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) {
                let items = map.remove("items").unwrap_or(Value::Null);
                return flatten(path, document, items, out);
            }
            let api_version = map
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let name = map
                .get("metadata")
                .and_then(|m| m.get("name").or_else(|| m.get("generateName")))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let missing: Vec<&str> = [
                ("apiVersion", api_version),
                ("kind", kind.as_str()),
                ("metadata.name", name),
            ]
            .iter()
            .filter(|(_, v)| v.is_empty())
            .map(|(field, _)| *field)
            .collect();
            if !missing.is_empty() {
                return Err(parse_error(
                    path,
                    document,
                    format!("not a Kubernetes object: {} not set", missing.join(", ")),
                ));
            }
            out.push(Value::Object(map));
            Ok(())
        }
        other => Err(parse_error(
            path,
            document,
            format!(
                "not a Kubernetes object: expected a mapping, found {}",
                type_name(&other)
            ),
        )),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(text: &str) -> Result<Vec<Value>, ScenarioError> {
        parse_text(Path::new("scenario.yaml"), text)
    }

    fn names(objs: &[Value]) -> Vec<&str> {
        objs.iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn multi_document_yaml_skips_empty_documents() {
        let text = "# leading comment\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: a\ndata:\n  port: \"80\"\n...\n";
        let objs = parse(text).unwrap();
        assert_eq!(names(&objs), ["a", "b"]);
        assert_eq!(objs[1]["data"]["port"], "80");
    }

    #[test]
    fn yaml_without_markers_is_one_document() {
        let objs = parse("apiVersion: v1\nkind: Namespace\nmetadata: {name: solo}\n").unwrap();
        assert_eq!(names(&objs), ["solo"]);
    }

    #[test]
    fn numbers_and_booleans_keep_their_types() {
        let objs = parse("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 3\n  paused: false\n  template:\n    spec:\n      volumes:\n      - name: on\n        secret: {secretName: n, defaultMode: 0644}\n").unwrap();
        assert_eq!(objs[0]["spec"]["replicas"], 3);
        assert_eq!(objs[0]["spec"]["paused"], false);
        let volume = &objs[0]["spec"]["template"]["spec"]["volumes"][0];
        assert_eq!(volume["name"], "on");
        assert_eq!(volume["secret"]["secretName"], "n");
        assert_eq!(volume["secret"]["defaultMode"], 420);
    }

    #[test]
    fn lists_are_flattened() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: x}\n- apiVersion: v1\n  kind: ConfigMapList\n  items:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: y, namespace: x}}\n";
        assert_eq!(names(&parse(text).unwrap()), ["x", "y"]);
    }

    #[test]
    fn json_value_array_and_stream() {
        let one = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"j"}}]}"#;
        assert_eq!(names(&parse_text(Path::new("a.json"), one).unwrap()), ["j"]);
        let array = r#"[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"k"}}]"#;
        assert_eq!(
            names(&parse_text(Path::new("b.json"), array).unwrap()),
            ["k"]
        );
        let stream = "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"l\"}}\n{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"m\"}}\n";
        assert_eq!(
            names(&parse_text(Path::new("c.json"), stream).unwrap()),
            ["l", "m"]
        );
    }

    #[test]
    fn errors_name_the_file_and_document() {
        let text =
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\n---\nkey: [unclosed\n";
        let err = parse(text).unwrap_err();
        assert!(
            matches!(err, ScenarioError::Parse { document: 3, .. }),
            "{err:?}"
        );
        let shown = err.to_string();
        assert!(
            shown.starts_with("scenario.yaml: document 3: invalid YAML"),
            "{shown}"
        );

        let err = parse("apiVersion: v1\nmetadata: {name: nokind}\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "scenario.yaml: document 1: not a Kubernetes object: kind not set"
        );

        let err = parse("---\n- 1\n").unwrap_err();
        assert!(
            err.to_string().contains(
                "document 1: not a Kubernetes object: expected a mapping, found a number"
            ),
            "{err}"
        );

        let err = parse_text(Path::new("d.json"), "{\"apiVersion\": ").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("d.json: document 1: invalid JSON"),
            "{err}"
        );
    }

    #[test]
    fn load_files_reads_each_file_in_order_and_names_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.json");
        std::fs::write(
            &a,
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: first}\n",
        )
        .unwrap();
        std::fs::write(
            &b,
            r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"second"}}"#,
        )
        .unwrap();
        let objs = load_files(&[a.clone(), b]).unwrap();
        assert_eq!(names(&objs), ["first", "second"]);
        let missing = dir.path().join("missing.yaml");
        let err = load_files(&[a, missing.clone()]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("read {}:", missing.display())),
            "{err}"
        );
    }
}
