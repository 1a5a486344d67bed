//! deps: serde_json, jiff
//!
//! `meta.k8s.io/v1` `Table` answers (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), with
//! the columns and cells kube-apiserver 1.32 produces: the built-in printers of
//! pkg/printers/internalversion (always printed wide; kubectl hides `priority: 1` columns unless
//! `-o wide`), the CRD convertor for custom resources (`additionalPrinterColumns`), and the
//! default convertor (NAME, CREATED AT) for resources without a printer.

mod builtin;
mod jsonpath;
mod rbac;

use jiff::{SignedDuration, Timestamp};
use jsonpath::JsonPath;
use serde_json::{Map, Value, json};

/// `ObjectMeta.name`'s documentation, the description of every NAME column.
const DESC_NAME: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
/// `ObjectMeta.creationTimestamp`'s documentation, the description of every AGE column.
const DESC_CREATED: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// What each row's `object` carries (the `includeObject` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// `"object": null`.
    None,
    /// A `PartialObjectMetadata` with the object's whole `metadata` (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Reads the query parameter: absent or empty means `Metadata`; anything unknown is the
    /// 400 message upstream answers with.
    pub fn from_query(value: Option<&str>) -> Result<IncludeObject, String> {
        match value.unwrap_or_default() {
            "" | "Metadata" => Ok(IncludeObject::Metadata),
            "None" => Ok(IncludeObject::None),
            "Object" => Ok(IncludeObject::Object),
            other => Err(format!("unrecognized includeObject value: {other:?}")),
        }
    }
}

/// A `TableColumnDefinition`; upstream serialises every field, empty or zero included.
fn col(name: &str, ty: &str, format: &str, description: &str, priority: i64) -> Value {
    json!({"name": name, "type": ty, "format": format, "description": description, "priority": priority})
}

/// apimachinery `duration.HumanDuration`: "45s", "3m20s", "12m", "3h12m", "10h", "5d3h",
/// "30d", "2y10d", "9y"; "0s" for up to 2s in the future, "<invalid>" beyond.
pub fn human_duration(d: SignedDuration) -> String {
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

fn since_text(ts: Timestamp, now: Timestamp) -> String {
    human_duration(now.duration_since(ts))
}

/// `translateTimestampSince` of a timestamp field (e.g. `metadata.creationTimestamp`):
/// `<unknown>` when absent, null or not RFC 3339.
pub fn age(timestamp: Option<&Value>, now: Timestamp) -> String {
    match timestamp
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok())
    {
        Some(ts) => since_text(ts, now),
        None => "<unknown>".to_string(),
    }
}

/// The `columnDefinitions` of a built-in resource (`group` "" for core), or `None` when upstream
/// has no printer for it (see [`default_columns`]).
pub fn builtin_columns(group: &str, plural: &str) -> Option<Vec<Value>> {
    builtin::columns(group, plural)
}

/// The columns of the default table convertor (resources without a printer, CRDs themselves):
/// NAME and CREATED AT, a `date` column whose cells are RFC 3339 times.
pub fn default_columns() -> Vec<Value> {
    vec![
        col("Name", "string", "name", DESC_NAME, 0),
        col("Created At", "date", "", DESC_CREATED, 0),
    ]
}

/// The `columnDefinitions` for a custom resource version whose `additionalPrinterColumns` are
/// `printer_columns`: NAME first, then each declared column; a version that declares none gets
/// AGE (`.metadata.creationTimestamp`, type `date`), as the apiextensions server defaults it.
pub fn crd_columns(printer_columns: &Value) -> Vec<Value> {
    let mut out = vec![col("Name", "string", "name", DESC_NAME, 0)];
    for c in effective_crd_columns(printer_columns) {
        let path = c
            .get("jsonPath")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let description = match c
            .get("description")
            .and_then(Value::as_str)
            .filter(|d| !d.is_empty())
        {
            Some(d) => d.to_string(),
            None => format!("Custom resource definition column (in JSONPath format): {path}"),
        };
        out.push(col(
            c.get("name").and_then(Value::as_str).unwrap_or_default(),
            c.get("type").and_then(Value::as_str).unwrap_or_default(),
            c.get("format").and_then(Value::as_str).unwrap_or_default(),
            &description,
            c.get("priority").and_then(Value::as_i64).unwrap_or(0),
        ));
    }
    out
}

fn effective_crd_columns(printer_columns: &Value) -> Vec<Value> {
    match printer_columns.as_array() {
        Some(cols) if !cols.is_empty() => cols.clone(),
        _ => vec![
            json!({"name": "Age", "type": "date", "description": DESC_CREATED,
                         "jsonPath": ".metadata.creationTimestamp"}),
        ],
    }
}

/// One CRD column's cell (the apiextensions table convertor): the first JSONPath result,
/// rendered by column type; `null` when the path finds nothing. `date` cells are ages.
fn crd_cell(path: Option<&JsonPath>, ty: &str, obj: &Value, now: Timestamp) -> Value {
    let Some(value) = path.and_then(|p| p.find(obj).into_iter().next()) else {
        return Value::Null;
    };
    match ty {
        // jsonpath's PrintResults: lists and maps as compact JSON, strings as is, other scalars
        // as Go's fmt prints them, a null as text/template's "<no value>".
        "string" => match value {
            Value::String(s) => json!(s),
            Value::Null => json!("<no value>"),
            Value::Array(_) | Value::Object(_) => json!(go_json(value)),
            other => json!(crate::patch::go_format(other)),
        },
        "integer" => match value {
            Value::Number(n) => n.as_i64().map_or_else(
                || n.as_f64().map_or(Value::Null, |f| json!(f as i64)),
                |i| json!(i),
            ),
            _ => Value::Null,
        },
        "number" => value.as_f64().map_or(Value::Null, |f| json!(f)),
        "boolean" => value.as_bool().map_or(Value::Null, |b| json!(b)),
        "date" => match value {
            Value::String(s) if s.is_empty() || s == "null" => json!("<unknown>"),
            Value::String(s) => match s.parse::<Timestamp>() {
                Ok(ts) => json!(since_text(ts, now)),
                Err(_) => json!("<invalid>"),
            },
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}

/// Go's `json.Marshal` of a decoded value: compact, map keys sorted, `<`, `>`, `&`, U+2028 and
/// U+2029 escaped, integral floats without a fraction.
fn go_json(v: &Value) -> String {
    match v {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(go_json).collect::<Vec<_>>().join(",")
        ),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let members: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        go_json(&json!(k)),
                        map.get(k.as_str()).map(go_json).unwrap_or_default()
                    )
                })
                .collect();
            format!("{{{}}}", members.join(","))
        }
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::String(_) => v
            .to_string()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029"),
        other => other.to_string(),
    }
}

/// The default convertor's CREATED AT cell: the creation time in UTC, RFC 3339, seconds.
fn created_at(obj: &Value) -> String {
    let ts = obj
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok());
    match ts {
        Some(ts) => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => "0001-01-01T00:00:00Z".to_string(),
    }
}

/// A row's cells and its `conditions`.
type RowParts = (Vec<Value>, Option<Value>);

/// A `meta.k8s.io/v1` `Table` of `objects` of resource `group`/`plural`.
///
/// `printer_columns` is `Some(version["additionalPrinterColumns"])` (may be `null`) for custom
/// resources and `None` for built-ins, which use their upstream printer, or the default
/// convertor when upstream has none. `list_meta` is the list's `metadata` (for a single GET,
/// `{"resourceVersion": ...}` of the object); its `resourceVersion`, `continue` and
/// `remainingItemCount` are carried over. `now` dates the AGE cells.
pub fn to_table(
    group: &str,
    plural: &str,
    printer_columns: Option<&Value>,
    objects: &[Value],
    include_object: IncludeObject,
    list_meta: &Value,
    now: Timestamp,
) -> Value {
    let (columns, rows): (Vec<Value>, Vec<RowParts>) = match printer_columns {
        Some(pc) => {
            let defs = effective_crd_columns(pc);
            let compiled: Vec<(Option<JsonPath>, String)> = defs
                .iter()
                .map(|c| {
                    let path = c
                        .get("jsonPath")
                        .and_then(Value::as_str)
                        .and_then(|p| JsonPath::parse(p).ok());
                    (
                        path,
                        c.get("type")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect();
            let rows = objects
                .iter()
                .map(|obj| {
                    let mut cells = vec![json!(
                        obj.pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                    )];
                    cells.extend(
                        compiled
                            .iter()
                            .map(|(p, ty)| crd_cell(p.as_ref(), ty, obj, now)),
                    );
                    (cells, None)
                })
                .collect();
            (crd_columns(pc), rows)
        }
        None => match builtin::columns(group, plural) {
            Some(columns) => {
                let rows = objects
                    .iter()
                    .map(|obj| {
                        let cells = builtin::cells(group, plural, obj, now).unwrap_or_default();
                        (cells, builtin::row_conditions(group, plural, obj))
                    })
                    .collect();
                (columns, rows)
            }
            None => {
                let rows = objects
                    .iter()
                    .map(|obj| {
                        let name = obj
                            .pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        (vec![json!(name), json!(created_at(obj))], None)
                    })
                    .collect();
                (default_columns(), rows)
            }
        },
    };

    let rows: Vec<Value> = rows
        .into_iter()
        .zip(objects)
        .map(|((cells, conditions), obj)| {
            let mut row = Map::new();
            row.insert("cells".to_string(), Value::Array(cells));
            if let Some(c) = conditions {
                row.insert("conditions".to_string(), c);
            }
            let object = match include_object {
                IncludeObject::None => Value::Null,
                IncludeObject::Object => obj.clone(),
                IncludeObject::Metadata => json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
                }),
            };
            row.insert("object".to_string(), object);
            Value::Object(row)
        })
        .collect();

    let mut metadata = Map::new();
    for key in ["resourceVersion", "continue"] {
        if let Some(v) = list_meta
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            metadata.insert(key.to_string(), json!(v));
        }
    }
    if let Some(n) = list_meta
        .get("remainingItemCount")
        .filter(|v| v.is_number())
    {
        metadata.insert("remainingItemCount".to_string(), n.clone());
    }

    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests;
