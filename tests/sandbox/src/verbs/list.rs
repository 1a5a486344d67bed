//! GET of a collection: selectors, `limit`/`continue` over a snapshot (one resourceVersion across
//! pages, 410 once the snapshot is gone), and the Table / PartialObjectMetadata renderings.

use crate::cluster::Cluster;
use crate::query::Query;
use crate::registry::ResourceInfo;
use crate::response::{self, Resp};
use crate::router::Target;
use crate::selector::{FieldLabels, FieldSelector, LabelSelector};
use crate::server::ApiRequest;
use crate::status::ApiError;
use crate::table::{IncludeObject, to_table};
use base64::Engine;
use serde::Serialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::ops::Bound;
use std::sync::Arc;

/// Label and field selectors from a query.
#[derive(Default)]
pub struct Selectors {
    label: Option<LabelSelector>,
    field: Option<FieldSelector>,
}

impl Selectors {
    pub fn from_query(q: &Query, info: &ResourceInfo) -> Result<Self, ApiError> {
        let label = match q.value("labelSelector") {
            Some(s) => Some(LabelSelector::parse(s).map_err(ApiError::bad_request)?),
            None => None,
        };
        let field = match q.value("fieldSelector") {
            Some(s) => Some(
                FieldLabels::for_resource(&info.group, &info.plural)
                    .parse(s)
                    .map_err(ApiError::bad_request)?,
            ),
            None => None,
        };
        Ok(Selectors { label, field })
    }

    pub fn is_empty(&self) -> bool {
        self.label.is_none() && self.field.is_none()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.label
            .as_ref()
            .is_none_or(|l| l.matches(obj["metadata"].get("labels")))
            && self.field.as_ref().is_none_or(|f| f.matches(obj))
    }
}

/// Upstream's continue token: base64 JSON naming the list's resourceVersion and where to resume.
fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    let t = json!({ "v": "meta.k8s.io/v1", "rv": rv, "start": format!("{ns}/{name}\u{0}") });
    base64::engine::general_purpose::URL_SAFE.encode(t.to_string())
}

fn decode_continue(token: &str) -> Result<(u64, (String, String)), ApiError> {
    let bad = |why: &str| ApiError::bad_request(format!("continue key is not valid: {why}"));
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(token))
        .map_err(|_| bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
    let v: Value = serde_json::from_slice(&raw)
        .map_err(|_| bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
    let rv = v["rv"]
        .as_u64()
        .ok_or_else(|| bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
    let start = v["start"]
        .as_str()
        .ok_or_else(|| bad("no start"))?
        .trim_end_matches('\u{0}');
    let (ns, name) = start
        .split_once('/')
        .ok_or_else(|| bad("start is not a key"))?;
    Ok((rv, (ns.to_string(), name.to_string())))
}

#[derive(Serialize)]
struct ListOut<'a> {
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: String,
    metadata: Value,
    items: Vec<Cow<'a, Value>>,
}

pub fn list(cluster: &Cluster, req: &ApiRequest, t: &Target) -> Result<Resp, ApiError> {
    let info = &t.info;
    let sel = Selectors::from_query(&req.query, info)?;
    let ns = if info.namespaced {
        t.namespace.as_deref()
    } else {
        None
    };
    let limit = req
        .query
        .number("limit")
        .filter(|l| *l > 0)
        .map(|l| l as usize);
    let key = info.key();
    let (rv, objs, after) = match req.query.value("continue") {
        Some(token) => {
            let (rv, start) = decode_continue(token)?;
            let objs = cluster.store.snapshot_at(rv, &key).ok_or_else(|| {
                ApiError::expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
            })?;
            (rv, objs, Some(start))
        }
        None => {
            let (rv, objs) = cluster.store.snapshot(&key);
            (rv, objs, None)
        }
    };
    // Resume right after the continue key (a range, not a scan), inside the namespace's keys.
    let lower = match after {
        Some(a) => Bound::Excluded(a),
        None => Bound::Included((ns.unwrap_or("").to_string(), String::new())),
    };
    let mut range = objs
        .range((lower, Bound::Unbounded))
        .take_while(|((n, _), _)| ns.is_none_or(|x| x == n))
        .filter(|(_, o)| sel.matches(o));
    let mut items: Vec<&Arc<Value>> = vec![];
    let mut last_key = None;
    for (k, o) in range.by_ref() {
        items.push(o);
        last_key = Some(k);
        if limit.is_some_and(|l| items.len() >= l) {
            break;
        }
    }
    let mut next_key = None;
    let mut remaining = 0usize;
    if limit.is_some_and(|l| items.len() >= l) && range.next().is_some() {
        next_key = last_key.cloned();
        // Counting is only cheap (and only upstream's) without selectors.
        if sel.is_empty() {
            remaining = 1 + range.count();
        }
    }
    let mut meta = json!({ "resourceVersion": rv.to_string() });
    if let Some((kns, kname)) = &next_key {
        meta["continue"] = json!(encode_continue(rv, kns, kname));
        if sel.is_empty() {
            meta["remainingItemCount"] = json!(remaining);
        }
        cluster.store.keep_snapshot(rv, &key, objs.clone());
    }
    let accept = req.accept.split(',').next().unwrap_or("");
    if accept.contains("as=Table") {
        let owned: Vec<Value> = items.iter().map(|o| super::versioned(o, info)).collect();
        return Ok(response::json(
            200,
            &table_of(cluster, req, info, &owned, &meta),
        ));
    }
    if accept.contains("as=PartialObjectMetadataList") {
        let items: Vec<Value> = items.iter().map(|o| json!({ "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"] })).collect();
        return Ok(response::json(
            200,
            &json!({ "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items }),
        ));
    }
    let api_version = info.api_version();
    let out = ListOut {
        kind: info.list_kind(),
        api_version: api_version.clone(),
        metadata: meta,
        items: items
            .into_iter()
            .map(|o| {
                if o["apiVersion"] == api_version.as_str() {
                    Cow::Borrowed(o.as_ref())
                } else {
                    Cow::Owned(super::versioned(o, info))
                }
            })
            .collect(),
    };
    Ok(response::with_type(
        200,
        "application/json",
        serde_json::to_vec(&out).unwrap_or_default(),
    ))
}

/// A Table of `objects` with the kind's columns (H2's table module).
pub fn table_of(
    _cluster: &Cluster,
    req: &ApiRequest,
    info: &ResourceInfo,
    objects: &[Value],
    list_meta: &Value,
) -> Value {
    let include = match req.query.value("includeObject") {
        Some("None") => IncludeObject::None,
        Some("Object") => IncludeObject::Object,
        _ => IncludeObject::Metadata,
    };
    to_table(
        &info.group,
        &info.plural,
        info.printer_columns.as_ref(),
        objects,
        include,
        list_meta,
        crate::clock::now(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn continue_token_round_trips() {
        let t = encode_continue(42, "ns", "name");
        assert_eq!(
            decode_continue(&t).unwrap(),
            (42, ("ns".into(), "name".into()))
        );
        assert!(decode_continue("!!!").is_err());
    }
}
