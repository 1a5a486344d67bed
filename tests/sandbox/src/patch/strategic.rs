//! Strategic merge patch (apimachinery `strategicpatch`, apply side) with the patch metadata of
//! the built-in types: merge keys, strategies and the `$patch`, `$retainKeys`,
//! `$setElementOrder/`, `$deleteFromPrimitiveList/` directives.

use super::{PatchError, go_format, go_json_kind, remove_key};
use serde_json::{Map, Value};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

const ERR_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";
const ERR_LIST_OF_LISTS: &str = "lists of lists are not supported";

/// The struct types whose fields carry patch metadata. Anything else merges maps and replaces
/// lists, as a field without `patchStrategy` does upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Any,
    Generic,
    ObjectMeta,
    Pod,
    PodSpec,
    PodStatus,
    PodTemplateSpec,
    Container,
    /// Deployment, ReplicaSet, DaemonSet, StatefulSet, Job, ReplicationController.
    Workload,
    WorkloadSpec,
    /// Status types whose `conditions` merge by `type`.
    ConditionsStatus,
    CronJob,
    CronJobSpec,
    JobTemplateSpec,
    PodTemplate,
    Service,
    ServiceSpec,
    Node,
    NodeSpec,
    NodeStatus,
    ServiceAccount,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Any => "interface",
            Ty::Generic => "Object",
            Ty::ObjectMeta => "ObjectMeta",
            Ty::Pod => "Pod",
            Ty::PodSpec => "PodSpec",
            Ty::PodStatus => "PodStatus",
            Ty::PodTemplateSpec => "PodTemplateSpec",
            Ty::Container => "Container",
            Ty::Workload => "Workload",
            Ty::WorkloadSpec => "WorkloadSpec",
            Ty::ConditionsStatus => "Status",
            Ty::CronJob => "CronJob",
            Ty::CronJobSpec => "CronJobSpec",
            Ty::JobTemplateSpec => "JobTemplateSpec",
            Ty::PodTemplate => "PodTemplate",
            Ty::Service => "Service",
            Ty::ServiceSpec => "ServiceSpec",
            Ty::Node => "Node",
            Ty::NodeSpec => "NodeSpec",
            Ty::NodeStatus => "NodeStatus",
            Ty::ServiceAccount => "ServiceAccount",
        }
    }
}

/// How a list field is patched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ListRule {
    /// No `patchStrategy`: the patch's list replaces the live one.
    Replace,
    /// `patchStrategy:"merge"` with `patchMergeKey`.
    MergeKey(&'static str),
    /// `patchStrategy:"merge"` on a list of scalars: set union.
    MergeSet,
}

fn root_type(kind: &str) -> Ty {
    match kind {
        "Pod" => Ty::Pod,
        "Deployment"
        | "ReplicaSet"
        | "DaemonSet"
        | "StatefulSet"
        | "Job"
        | "ReplicationController" => Ty::Workload,
        "CronJob" => Ty::CronJob,
        "PodTemplate" => Ty::PodTemplate,
        "Service" => Ty::Service,
        "Node" => Ty::Node,
        "ServiceAccount" => Ty::ServiceAccount,
        // Their status.conditions merge by type.
        "Namespace"
        | "PersistentVolumeClaim"
        | "PodDisruptionBudget"
        | "HorizontalPodAutoscaler" => Ty::Workload,
        _ => Ty::Generic,
    }
}

/// Patch metadata of `key` inside a value of type `ty`: the type of the value (or of the list's
/// elements) and, for lists, how they are patched.
fn field_meta(ty: Ty, key: &str) -> (Ty, ListRule) {
    use ListRule::*;
    match (ty, key) {
        (
            Ty::Generic
            | Ty::Pod
            | Ty::Workload
            | Ty::CronJob
            | Ty::PodTemplate
            | Ty::Service
            | Ty::Node
            | Ty::ServiceAccount
            | Ty::PodTemplateSpec
            | Ty::JobTemplateSpec,
            "metadata",
        ) => (Ty::ObjectMeta, Replace),
        (Ty::ObjectMeta, "finalizers") => (Ty::Any, MergeSet),
        (Ty::ObjectMeta, "ownerReferences") => (Ty::Any, MergeKey("uid")),

        (Ty::Pod, "spec") => (Ty::PodSpec, Replace),
        (Ty::Pod, "status") => (Ty::PodStatus, Replace),
        (Ty::PodTemplate, "template") => (Ty::PodTemplateSpec, Replace),
        (Ty::PodTemplateSpec, "spec") => (Ty::PodSpec, Replace),

        (Ty::PodSpec, "containers" | "initContainers" | "ephemeralContainers") => {
            (Ty::Container, MergeKey("name"))
        }
        (Ty::PodSpec, "volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates") => {
            (Ty::Any, MergeKey("name"))
        }
        (Ty::PodSpec, "hostAliases") => (Ty::Any, MergeKey("ip")),
        (Ty::PodSpec, "topologySpreadConstraints") => (Ty::Any, MergeKey("topologyKey")),

        (Ty::Container, "ports") => (Ty::Any, MergeKey("containerPort")),
        (Ty::Container, "env") => (Ty::Any, MergeKey("name")),
        (Ty::Container, "volumeMounts") => (Ty::Any, MergeKey("mountPath")),
        (Ty::Container, "volumeDevices") => (Ty::Any, MergeKey("devicePath")),

        (Ty::PodStatus, "conditions") => (Ty::Any, MergeKey("type")),
        (Ty::PodStatus, "podIPs" | "hostIPs") => (Ty::Any, MergeKey("ip")),
        (Ty::PodStatus, "resourceClaimStatuses") => (Ty::Any, MergeKey("name")),

        (Ty::Workload, "spec") => (Ty::WorkloadSpec, Replace),
        (Ty::Workload | Ty::Service | Ty::CronJob, "status") => (Ty::ConditionsStatus, Replace),
        (Ty::WorkloadSpec, "template") => (Ty::PodTemplateSpec, Replace),
        (Ty::ConditionsStatus, "conditions") => (Ty::Any, MergeKey("type")),

        (Ty::CronJob, "spec") => (Ty::CronJobSpec, Replace),
        (Ty::CronJobSpec, "jobTemplate") => (Ty::JobTemplateSpec, Replace),
        (Ty::JobTemplateSpec, "spec") => (Ty::WorkloadSpec, Replace),

        (Ty::Service, "spec") => (Ty::ServiceSpec, Replace),
        (Ty::ServiceSpec, "ports") => (Ty::Any, MergeKey("port")),

        (Ty::Node, "spec") => (Ty::NodeSpec, Replace),
        (Ty::Node, "status") => (Ty::NodeStatus, Replace),
        (Ty::NodeSpec, "podCIDRs") => (Ty::Any, MergeSet),
        (Ty::NodeStatus, "conditions" | "addresses") => (Ty::Any, MergeKey("type")),

        (Ty::ServiceAccount, "secrets") => (Ty::Any, MergeKey("name")),
        _ => (Ty::Any, Replace),
    }
}

/// Strategic merge patch of a built-in object of kind `kind` ("Deployment", "Pod", "Service"...),
/// with the merge keys of its Go types: containers, initContainers, ephemeralContainers, env,
/// volumes, imagePullSecrets by `name`, hostAliases by `ip`, container ports by `containerPort`,
/// Service ports by `port`, volumeMounts by `mountPath`, conditions by `type`, ownerReferences
/// by `uid`, finalizers as a set; lists without a strategy (tolerations, args, command...) are
/// replaced. Honours `$patch: replace|delete` (maps and list elements), `$retainKeys`,
/// `$setElementOrder/<field>`, `$deleteFromPrimitiveList/<field>`, and `null` deleting a key.
/// `$patch: merge` is refused as upstream refuses it. Unknown kinds only get `metadata` metadata.
/// The API server refuses this patch type for custom resources (415); that check is the caller's.
pub fn strategic_merge_patch(
    target: &Value,
    patch: &Value,
    kind: &str,
) -> Result<Value, PatchError> {
    let patch_map = match patch {
        Value::Object(m) => m.clone(),
        Value::Null => return Ok(target.clone()),
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                go_json_kind(other)
            )));
        }
    };
    let original = match target {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    merge_map(original, patch_map, root_type(kind))
        .map(Value::Object)
        .map_err(classify)
}

/// interpretStrategicMergePatchError: which messages are 400, which 422, the rest 500.
fn classify(msg: String) -> PatchError {
    match msg.as_str() {
        ERR_RETAIN_KEYS
        | ERR_SET_ELEMENT_ORDER
        | "invalid JSON document"
        | "invalid patch format of primitive list" => PatchError::BadRequest(msg),
        ERR_LIST_OF_LISTS | "patch content doesn't match retainKeys list" => {
            PatchError::Unprocessable(msg)
        }
        _ => PatchError::Internal(msg),
    }
}

fn err_no_merge_key(m: &Map<String, Value>, key: &str) -> String {
    format!(
        "map: {} does not contain declared merge key: {key}",
        go_format(&Value::Object(m.clone()))
    )
}

fn go_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn err_bad_arg_type(expected: &str, actual: &Value) -> String {
    format!(
        "expected a {expected}, but received a {}",
        go_type_name(actual)
    )
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    ty: Ty,
) -> Result<Map<String, Value>, String> {
    if let Some(directive) = patch.get(DIRECTIVE).cloned() {
        return match directive.as_str() {
            Some("replace") => {
                remove_key(&mut patch, DIRECTIVE);
                Ok(clean_map(patch))
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(format!(
                "unknown patch type: {} in map: {}",
                go_format(&directive),
                go_format(&Value::Object(patch))
            )),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order(&mut original, &mut patch, ty)?;

    for (raw_key, patch_v) in patch {
        let (key, is_delete_list) = match raw_key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            Some(k) => (k.to_string(), true),
            None => (raw_key, false),
        };
        // An unknown directive names no field of the type: the typed decode drops it.
        if key.starts_with('$') {
            continue;
        }
        if patch_v.is_null() {
            remove_key(&mut original, &key);
            continue;
        }
        let Some(slot) = original.get_mut(&key) else {
            if !is_delete_list {
                original.insert(key, clean(patch_v));
            }
            continue;
        };
        let live = std::mem::take(slot);
        let merged = match (live, patch_v) {
            (Value::Object(o), Value::Object(p)) => {
                let (sub, _) = field_meta(ty, &key);
                Value::Object(merge_map(o, p, sub)?)
            }
            (Value::Array(o), Value::Array(p)) => {
                let (sub, rule) = field_meta(ty, &key);
                Value::Array(merge_slice_handler(o, p, sub, rule, is_delete_list)?)
            }
            (live, p) => {
                if is_delete_list && go_json_kind(&live) != go_json_kind(&p) {
                    live
                } else {
                    clean(p)
                }
            }
        };
        *slot = merged;
    }
    Ok(original)
}

/// What a typed decode of a patch value keeps: no `null` members, no directive members.
fn clean(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(clean_map(m)),
        Value::Array(items) => Value::Array(items.into_iter().map(clean).collect()),
        other => other,
    }
}

fn clean_map(m: Map<String, Value>) -> Map<String, Value> {
    m.into_iter()
        .filter(|(k, v)| !v.is_null() && !k.starts_with('$'))
        .map(|(k, v)| (k, clean(v)))
        .collect()
}

fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), String> {
    let Some(retain) = remove_key(patch, RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(ERR_RETAIN_KEYS.to_string());
    };
    let listed = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || k.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !listed(k) {
            return Err(ERR_RETAIN_KEYS.to_string());
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// `mergePatchIntoOriginal`: merges each list that has a `$setElementOrder/<field>` directive
/// and orders it: directive order, then the patch's, then the live list's.
fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    ty: Ty,
) -> Result<(), String> {
    let directive_keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for directive_key in directive_keys {
        let Some(order) = remove_key(patch, &directive_key) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(err_bad_arg_type("[]interface {}", &order));
        };
        let field = &directive_key[SET_ELEMENT_ORDER.len()..];
        let live = match original.get(field) {
            Some(Value::Array(a)) => Some(a.clone()),
            Some(other) => return Err(err_bad_arg_type("[]interface {}", other)),
            None => None,
        };
        let patch_list = match patch.get(field) {
            Some(Value::Array(a)) => Some(a.clone()),
            Some(other) => return Err(err_bad_arg_type("[]interface {}", other)),
            None => None,
        };
        let (sub, rule) = field_meta(ty, field);
        let merge_key = match rule {
            ListRule::MergeKey(k) => Some(k),
            _ => None,
        };
        validate_patch_with_set_order_list(
            patch_list.as_deref().unwrap_or(&[]),
            &order,
            merge_key,
        )?;
        let merged = match (&live, &patch_list) {
            (Some(l), None) => l.clone(),
            (None, Some(p)) => p.iter().cloned().map(clean).collect(),
            (Some(l), Some(p)) => merge_slice_handler(l.clone(), p.clone(), sub, rule, false)?,
            (None, None) => continue,
        };
        let (in_order, server_only) = partition_by_presence(&merged, &order, merge_key)?;
        let kind = slice_element_kind(&[
            live.as_deref().unwrap_or(&[]),
            patch_list.as_deref().unwrap_or(&[]),
        ])?;
        let live_order = live.unwrap_or_default();
        let both =
            normalize_element_order(in_order, server_only, &order, &live_order, merge_key, kind)?;
        original.insert(field.to_string(), Value::Array(both));
        remove_key(patch, field);
    }
    Ok(())
}

fn validate_patch_with_set_order_list(
    patch_list: &[Value],
    order: &[Value],
    merge_key: Option<&str>,
) -> Result<(), String> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<&Value> = match merge_key {
        Some(_) => {
            let mut kept = Vec::new();
            for v in patch_list {
                let Value::Object(m) = v else {
                    return Err(err_bad_arg_type("map[string]interface {}", v));
                };
                if m.get(DIRECTIVE).and_then(Value::as_str) != Some("delete") {
                    kept.push(v);
                }
            }
            kept
        }
        None => patch_list.iter().collect(),
    };
    let (mut pi, mut oi) = (0, 0);
    while pi < non_delete.len() && oi < order.len() {
        if non_delete[pi].get(DIRECTIVE).is_some() {
            pi += 1;
            continue;
        }
        if merge_key_value_equal(non_delete[pi], &order[oi], merge_key)? {
            pi += 1;
        }
        oi += 1;
    }
    if pi < non_delete.len() && oi >= order.len() {
        return Err(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            go_format(&Value::Array(patch_list.to_vec())),
            go_format(&Value::Array(order.to_vec()))
        ));
    }
    Ok(())
}

fn merge_key_value_equal(
    left: &Value,
    right: &Value,
    merge_key: Option<&str>,
) -> Result<bool, String> {
    let Some(key) = merge_key else {
        return Ok(left == right);
    };
    let Value::Object(l) = left else {
        return Err(err_bad_arg_type("map[string]interface {}", left));
    };
    let Value::Object(r) = right else {
        return Err(err_bad_arg_type("map[string]interface {}", right));
    };
    let lv = l.get(key).ok_or_else(|| err_no_merge_key(l, key))?;
    let rv = r.get(key).ok_or_else(|| err_no_merge_key(r, key))?;
    Ok(lv == rv)
}

fn merge_slice_handler(
    original: Vec<Value>,
    patch: Vec<Value>,
    elem: Ty,
    rule: ListRule,
    is_delete_list: bool,
) -> Result<Vec<Value>, String> {
    match rule {
        ListRule::Replace if !is_delete_list => Ok(patch.into_iter().map(clean).collect()),
        ListRule::MergeKey(k) => merge_slice(original, patch, elem, Some(k), is_delete_list),
        _ => merge_slice(original, patch, elem, None, is_delete_list),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ElemKind {
    Scalar,
    Map,
}

/// `sliceElementType`: all elements of all lists share one type, which is not a list.
fn slice_element_kind(lists: &[&[Value]]) -> Result<ElemKind, String> {
    let mut seen: Option<&'static str> = None;
    for list in lists {
        for v in list.iter() {
            let t = go_type_name(v);
            match seen {
                None => {
                    if matches!(v, Value::Array(_)) {
                        return Err(ERR_LIST_OF_LISTS.to_string());
                    }
                    seen = Some(t);
                }
                Some(prev) if prev != t => {
                    let all: Vec<Value> = lists.iter().map(|l| Value::Array(l.to_vec())).collect();
                    return Err(format!(
                        "list element types are not identical: {}",
                        go_format(&Value::Array(all))
                    ));
                }
                Some(_) => {}
            }
        }
    }
    match seen {
        None => Err("no elements in any of the given slices".to_string()),
        Some("map[string]interface {}") => Ok(ElemKind::Map),
        Some(_) => Ok(ElemKind::Scalar),
    }
}

fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    elem: Ty,
    merge_key: Option<&'static str>,
    is_delete_list: bool,
) -> Result<Vec<Value>, String> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = slice_element_kind(&[&original, &patch])?;
    let (original, patch, merged) = if kind == ElemKind::Scalar {
        if is_delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(patch.iter()) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        (original, patch, merged)
    } else {
        let Some(key) = merge_key else {
            return Err(format!(
                "cannot merge lists without merge key for {}",
                elem.name()
            ));
        };
        let (original, patch) = merge_slice_with_special_elements(original, patch, key)?;
        let merged =
            merge_slice_without_special_elements(original.clone(), patch.clone(), key, elem)?;
        (original, patch, merged)
    };
    let key = if kind == ElemKind::Map {
        merge_key
    } else {
        None
    };
    let (in_patch, server_only) = partition_by_presence(&merged, &patch, key)?;
    normalize_element_order(in_patch, server_only, &patch, &original, key, kind)
}

/// Applies `$patch: delete` and `$patch: replace` elements; returns the live list and the patch
/// without them.
fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
) -> Result<(Vec<Value>, Vec<Value>), String> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for v in patch {
        let Value::Object(m) = &v else {
            return Err(err_bad_arg_type("map[string]interface {}", &v));
        };
        match m.get(DIRECTIVE) {
            None => plain.push(v),
            Some(d) => match d.as_str() {
                Some("delete") => {
                    let target = m.get(key).ok_or_else(|| err_no_merge_key(m, key))?.clone();
                    original.retain(|item| item.get(key) != Some(&target));
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err("merging lists cannot yet be specified in the patch".to_string());
                }
                _ => {
                    return Err(format!(
                        "unknown patch type: {} in map: {}",
                        go_format(d),
                        go_format(&v)
                    ));
                }
            },
        }
    }
    if replace {
        return Ok((plain.into_iter().map(clean).collect(), Vec::new()));
    }
    Ok((original, plain))
}

fn merge_slice_without_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
    elem: Ty,
) -> Result<Vec<Value>, String> {
    for v in patch {
        let Value::Object(pm) = v else {
            return Err(err_bad_arg_type("map[string]interface {}", &v));
        };
        let merge_value = pm
            .get(key)
            .ok_or_else(|| err_no_merge_key(&pm, key))?
            .clone();
        let mut found = None;
        for (i, item) in original.iter().enumerate() {
            let Value::Object(om) = item else {
                return Err(format!("value for key {i} is not a map."));
            };
            if om.get(key) == Some(&merge_value) {
                found = Some(i);
                break;
            }
        }
        match found {
            Some(i) => {
                let live = match std::mem::take(&mut original[i]) {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                original[i] = Value::Object(merge_map(live, pm, elem)?);
            }
            None => original.push(clean(Value::Object(pm))),
        }
    }
    Ok(original)
}

/// Splits `items` into those present in `by` (by merge key for maps, by value for scalars) and
/// the rest, keeping their order.
fn partition_by_presence(
    items: &[Value],
    by: &[Value],
    merge_key: Option<&str>,
) -> Result<(Vec<Value>, Vec<Value>), String> {
    let mut present = Vec::new();
    let mut absent = Vec::new();
    for v in items {
        let found = match merge_key {
            None => by.contains(v),
            Some(key) => {
                let Value::Object(m) = v else {
                    return Err(err_bad_arg_type("map[string]interface {}", v));
                };
                let kv = m.get(key).ok_or_else(|| err_no_merge_key(m, key))?;
                let mut hit = false;
                for (i, b) in by.iter().enumerate() {
                    let Value::Object(bm) = b else {
                        return Err(format!("value for key {i} is not a map."));
                    };
                    if bm.get(key) == Some(kv) {
                        hit = true;
                        break;
                    }
                }
                hit
            }
        };
        if found {
            present.push(v.clone());
        } else {
            absent.push(v.clone());
        }
    }
    Ok((present, absent))
}

fn order_index(order: &[Value], item: &Value, merge_key: Option<&str>, kind: ElemKind) -> i64 {
    let id = |v: &Value| -> Option<Value> {
        match (kind, merge_key) {
            (ElemKind::Map, Some(k)) => Some(v.get(k).cloned().unwrap_or(Value::Null)),
            _ => Some(v.clone()),
        }
    };
    let wanted = id(item);
    order
        .iter()
        .position(|v| id(v) == wanted)
        .map_or(-1, |i| i as i64)
}

/// `normalizeElementOrder`: patch items in `patch_order`, server-only items in `server_order`,
/// then interleaved so that both relative orders hold and live order decides between them.
fn normalize_element_order(
    mut patch_items: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
    kind: ElemKind,
) -> Result<Vec<Value>, String> {
    if let (ElemKind::Map, Some(key)) = (kind, merge_key) {
        for list in [&patch_items, &server_only] {
            for item in list.iter() {
                let Value::Object(m) = item else {
                    return Err(err_bad_arg_type("map[string]interface {}", item));
                };
                if !m.contains_key(key) {
                    return Err(err_no_merge_key(m, key));
                }
            }
        }
    }
    patch_items.sort_by_key(|v| order_index(patch_order, v, merge_key, kind));
    server_only.sort_by_key(|v| order_index(server_order, v, merge_key, kind));

    let total = patch_items.len() + server_only.len();
    let mut out = Vec::with_capacity(total);
    let (mut left, mut right) = (
        server_only.into_iter().peekable(),
        patch_items.into_iter().peekable(),
    );
    while out.len() < total {
        let take_left = match (left.peek(), right.peek()) {
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                let li = order_index(server_order, l, merge_key, kind);
                let ri = order_index(server_order, r, merge_key, kind);
                li >= 0 && ri >= 0 && li < ri
            }
            (None, None) => break,
        };
        let next = if take_left { left.next() } else { right.next() };
        if let Some(v) = next {
            out.push(v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;
    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "terminal-controller", "namespace": "sealos-system",
                         "labels": {"app": "terminal"}, "finalizers": ["a", "b"]},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "terminal"}},
                "template": {
                    "metadata": {"labels": {"app": "terminal"}},
                    "spec": {
                        "containers": [
                            {"name": "controller", "image": "ghcr.io/labring/terminal:v5.0",
                             "args": ["--leader-elect"],
                             "env": [
                                 {"name": "NETWORKING_MODE", "value": "ingress"},
                                 {"name": "ISTIO_PERCENTAGE", "value": "0"},
                                 {"name": "LOG_LEVEL", "value": "info"}
                             ],
                             "ports": [{"containerPort": 8080, "name": "http"},
                                       {"containerPort": 9443, "name": "webhook"}],
                             "volumeMounts": [{"name": "certs", "mountPath": "/certs"}]},
                            {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.20.1",
                             "args": ["proxy", "sidecar"]}
                        ],
                        "volumes": [{"name": "certs", "secret": {"secretName": "webhook-certs"}}],
                        "tolerations": [{"key": "a", "operator": "Exists"}]
                    }
                }
            }
        })
    }

    fn containers(v: &Value) -> &Vec<Value> {
        v["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
    }

    #[test]
    fn strategic_patch_of_one_env_var_keeps_everything_else() {
        let patch = json!({"spec":{"template":{"spec":{"containers":[
            {"name":"controller","env":[{"name":"NETWORKING_MODE","value":"istio"}]}
        ]}}}});
        let got = strategic_merge_patch(&deployment(), &patch, "Deployment").unwrap();
        let cs = containers(&got);
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0]["name"], "controller");
        assert_eq!(cs[0]["image"], "ghcr.io/labring/terminal:v5.0");
        assert_eq!(cs[0]["args"], json!(["--leader-elect"]));
        assert_eq!(
            cs[0]["env"],
            json!([
                {"name": "NETWORKING_MODE", "value": "istio"},
                {"name": "ISTIO_PERCENTAGE", "value": "0"},
                {"name": "LOG_LEVEL", "value": "info"}
            ])
        );
        assert_eq!(cs[0]["ports"].as_array().unwrap().len(), 2);
        assert_eq!(cs[1]["name"], "istio-proxy");
        assert_eq!(cs[1]["image"], "docker.io/istio/proxyv2:1.20.1");
        assert_eq!(
            got["spec"]["template"]["spec"]["volumes"],
            deployment()["spec"]["template"]["spec"]["volumes"]
        );
        // Nothing else moved.
        let mut expected = deployment();
        expected["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = json!("istio");
        assert_eq!(got, expected);
    }

    #[test]
    fn strategic_new_list_items_go_where_upstream_puts_them() {
        let patch = json!({"spec":{"template":{"spec":{"containers":[
            {"name":"controller","env":[{"name":"NEW","value":"1"}]},
            {"name":"sidecar","image":"busybox"}
        ]}}}});
        let got = strategic_merge_patch(&deployment(), &patch, "Deployment").unwrap();
        let names: Vec<&str> = containers(&got)
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        // mergeSortedSlice: a patch item unknown to the live list wins every comparison, so new
        // items land right after the patch items before them, ahead of server-only items.
        assert_eq!(names, ["controller", "sidecar", "istio-proxy"]);
        let env: Vec<&str> = containers(&got)[0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            env,
            ["NEW", "NETWORKING_MODE", "ISTIO_PERCENTAGE", "LOG_LEVEL"]
        );
    }

    #[test]
    fn strategic_lists_without_merge_key_are_replaced() {
        let patch = json!({"spec":{"template":{"spec":{
            "containers":[{"name":"controller","args":["--v=2"]}],
            "tolerations":[{"key":"b","operator":"Exists"}]
        }}}});
        let got = strategic_merge_patch(&deployment(), &patch, "Deployment").unwrap();
        assert_eq!(containers(&got)[0]["args"], json!(["--v=2"]));
        assert_eq!(
            got["spec"]["template"]["spec"]["tolerations"],
            json!([{"key":"b","operator":"Exists"}])
        );
        assert_eq!(containers(&got)[0]["env"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn strategic_merge_keys_of_ports_mounts_volumes() {
        let patch = json!({"spec":{"template":{"spec":{
            "containers":[{"name":"controller",
                "ports":[{"containerPort":9443,"name":"hooks"}],
                "volumeMounts":[{"mountPath":"/certs","readOnly":true}]}],
            "volumes":[{"name":"extra","emptyDir":{}}]
        }}}});
        let got = strategic_merge_patch(&deployment(), &patch, "Deployment").unwrap();
        let c = &containers(&got)[0];
        assert_eq!(
            c["ports"],
            json!([{"containerPort":8080,"name":"http"},{"containerPort":9443,"name":"hooks"}])
        );
        assert_eq!(
            c["volumeMounts"],
            json!([{"name":"certs","mountPath":"/certs","readOnly":true}])
        );
        let vols: Vec<&str> = got["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(vols, ["extra", "certs"]);
    }

    #[test]
    fn strategic_service_ports_merge_by_port() {
        let svc = json!({"kind":"Service","spec":{"ports":[
            {"name":"http","port":80,"targetPort":8080},
            {"name":"https","port":443,"targetPort":8443}
        ],"selector":{"app":"gw"}}});
        let patch = json!({"spec":{"ports":[{"port":443,"targetPort":9443}]}});
        let got = strategic_merge_patch(&svc, &patch, "Service").unwrap();
        assert_eq!(
            got["spec"]["ports"],
            json!([{"name":"http","port":80,"targetPort":8080},{"name":"https","port":443,"targetPort":9443}])
        );
    }

    #[test]
    fn strategic_conditions_merge_by_type() {
        let dep = json!({"status":{"conditions":[
            {"type":"Available","status":"True"},{"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable"}
        ]}});
        let patch = json!({"status":{"conditions":[{"type":"Progressing","reason":"ProgressDeadlineExceeded","status":"False"}]}});
        let got = strategic_merge_patch(&dep, &patch, "Deployment").unwrap();
        assert_eq!(
            got["status"]["conditions"],
            json!([{"type":"Available","status":"True"},{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded"}])
        );
        let pod = json!({"status":{"conditions":[{"type":"Ready","status":"False"}]}});
        let got = strategic_merge_patch(
            &pod,
            &json!({"status":{"conditions":[{"type":"Ready","status":"True"}]}}),
            "Pod",
        )
        .unwrap();
        assert_eq!(
            got["status"]["conditions"],
            json!([{"type":"Ready","status":"True"}])
        );
    }

    #[test]
    fn strategic_finalizers_merge_as_a_set_and_owner_refs_by_uid() {
        let obj =
            json!({"metadata":{"finalizers":["a","b"],"ownerReferences":[{"uid":"1","name":"x"}]}});
        let patch = json!({"metadata":{"finalizers":["c","a"],"ownerReferences":[{"uid":"2","name":"y"},{"uid":"1","kind":"K"}]}});
        let got = strategic_merge_patch(&obj, &patch, "ConfigMap").unwrap();
        assert_eq!(got["metadata"]["finalizers"], json!(["c", "a", "b"]));
        assert_eq!(
            got["metadata"]["ownerReferences"],
            json!([{"uid":"2","name":"y"},{"uid":"1","name":"x","kind":"K"}])
        );
    }

    #[test]
    fn strategic_delete_from_primitive_list() {
        let obj = json!({"metadata":{"finalizers":["a","b","c"]}});
        let patch = json!({"metadata":{"$deleteFromPrimitiveList/finalizers":["b"]}});
        let got = strategic_merge_patch(&obj, &patch, "Pod").unwrap();
        assert_eq!(got, json!({"metadata":{"finalizers":["a","c"]}}));
        // A missing list stays missing.
        let got = strategic_merge_patch(&json!({"metadata":{}}), &patch, "Pod").unwrap();
        assert_eq!(got, json!({"metadata":{}}));
    }

    #[test]
    fn strategic_null_deletes_and_unmatched_nulls_are_dropped() {
        let patch = json!({"metadata":{"labels":{"app":null,"new":"1","gone":null}}});
        let got = strategic_merge_patch(&deployment(), &patch, "Deployment").unwrap();
        assert_eq!(got["metadata"]["labels"], json!({"new":"1"}));
        let got =
            strategic_merge_patch(&json!({}), &json!({"spec":{"a":null,"b":1}}), "Deployment")
                .unwrap();
        assert_eq!(got, json!({"spec":{"b":1}}));
    }

    #[test]
    fn strategic_patch_delete_directive_in_list_and_map() {
        let patch = json!({"spec":{"template":{"spec":{"containers":[
            {"name":"istio-proxy","$patch":"delete"},
            {"name":"controller","env":[{"name":"LOG_LEVEL","$patch":"delete"}]}
        ]}}}});
        let got = strategic_merge_patch(&deployment(), &patch, "Deployment").unwrap();
        assert_eq!(containers(&got).len(), 1);
        let env: Vec<&str> = containers(&got)[0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(env, ["NETWORKING_MODE", "ISTIO_PERCENTAGE"]);

        let got = strategic_merge_patch(
            &deployment(),
            &json!({"spec":{"selector":{"$patch":"delete"}}}),
            "Deployment",
        )
        .unwrap();
        assert_eq!(got["spec"]["selector"], json!({}));
    }

    #[test]
    fn strategic_patch_replace_directive_in_list_and_map() {
        let patch = json!({"spec":{"template":{"spec":{"containers":[
            {"name":"only","image":"x"},{"$patch":"replace"}
        ]}}}});
        let got = strategic_merge_patch(&deployment(), &patch, "Deployment").unwrap();
        assert_eq!(containers(&got), &vec![json!({"name":"only","image":"x"})]);

        let patch = json!({"metadata":{"labels":{"$patch":"replace","fresh":"yes"}}});
        let got = strategic_merge_patch(&deployment(), &patch, "Deployment").unwrap();
        assert_eq!(got["metadata"]["labels"], json!({"fresh":"yes"}));
    }

    #[test]
    fn strategic_patch_merge_directive_is_refused_like_upstream() {
        let patch = json!({"spec":{"template":{"spec":{"containers":[{"$patch":"merge"}]}}}});
        let err = strategic_merge_patch(&deployment(), &patch, "Deployment").unwrap_err();
        assert_eq!(
            err,
            PatchError::Internal("merging lists cannot yet be specified in the patch".into())
        );
        let err = strategic_merge_patch(
            &deployment(),
            &json!({"spec":{"$patch":"merge"}}),
            "Deployment",
        )
        .unwrap_err();
        assert_eq!(
            err.message(),
            "unknown patch type: merge in map: map[$patch:merge]"
        );
        assert_eq!(err.code(), 500);
    }

    #[test]
    fn strategic_retain_keys_clears_unlisted_fields() {
        let dep =
            json!({"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}});
        let patch = json!({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}});
        let got = strategic_merge_patch(&dep, &patch, "Deployment").unwrap();
        assert_eq!(got, json!({"spec":{"strategy":{"type":"Recreate"}}}));
        let bad = json!({"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":{}}}});
        let err = strategic_merge_patch(&dep, &bad, "Deployment").unwrap_err();
        assert_eq!(
            err,
            PatchError::BadRequest("invalid patch format of retainKeys".into())
        );
    }

    #[test]
    fn strategic_set_element_order_orders_the_merged_list() {
        let patch = json!({"spec":{"template":{"spec":{
            "$setElementOrder/containers":[{"name":"istio-proxy"},{"name":"controller"}],
            "containers":[{"name":"controller","image":"new"}]
        }}}});
        let got = strategic_merge_patch(&deployment(), &patch, "Deployment").unwrap();
        let names: Vec<&str> = containers(&got)
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["istio-proxy", "controller"]);
        assert_eq!(containers(&got)[1]["image"], "new");
        assert_eq!(containers(&got)[1]["env"].as_array().unwrap().len(), 3);
        assert!(
            got["spec"]["template"]["spec"]
                .get("$setElementOrder/containers")
                .is_none()
        );
    }

    #[test]
    fn strategic_set_element_order_for_env_as_kubectl_apply_sends_it() {
        let patch = json!({"spec":{"template":{"spec":{
            "$setElementOrder/containers":[{"name":"controller"},{"name":"istio-proxy"}],
            "containers":[{"name":"controller",
                "$setElementOrder/env":[{"name":"LOG_LEVEL"},{"name":"NETWORKING_MODE"},{"name":"ISTIO_PERCENTAGE"}],
                "env":[{"name":"LOG_LEVEL","value":"debug"}]}]
        }}}});
        let got = strategic_merge_patch(&deployment(), &patch, "Deployment").unwrap();
        let env = &containers(&got)[0]["env"];
        assert_eq!(
            env,
            &json!([{"name":"LOG_LEVEL","value":"debug"},{"name":"NETWORKING_MODE","value":"ingress"},{"name":"ISTIO_PERCENTAGE","value":"0"}])
        );
    }

    #[test]
    fn strategic_set_element_order_mismatch_is_an_error() {
        let patch = json!({"spec":{"template":{"spec":{
            "$setElementOrder/containers":[{"name":"controller"}],
            "containers":[{"name":"brand-new","image":"x"}]
        }}}});
        let err = strategic_merge_patch(&deployment(), &patch, "Deployment").unwrap_err();
        assert!(
            err.message().starts_with("The order in patch list:"),
            "{err}"
        );
    }

    #[test]
    fn strategic_missing_merge_key_is_a_500_worded_like_upstream() {
        let patch = json!({"spec":{"template":{"spec":{"containers":[{"image":"nginx"}]}}}});
        let err = strategic_merge_patch(&deployment(), &patch, "Deployment").unwrap_err();
        assert_eq!(
            err,
            PatchError::Internal(
                "map: map[image:nginx] does not contain declared merge key: name".into()
            )
        );
        assert_eq!(err.status()["code"], 500);
        assert!(err.status().get("reason").is_none());
    }

    #[test]
    fn strategic_restart_annotation_as_kubectl_rollout_restart_sends_it() {
        let patch = json!({"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-11-25T10:00:00Z"}}}}});
        let got = strategic_merge_patch(&deployment(), &patch, "Deployment").unwrap();
        assert_eq!(
            got["spec"]["template"]["metadata"],
            json!({"labels":{"app":"terminal"},"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-11-25T10:00:00Z"}})
        );
        assert_eq!(containers(&got), containers(&deployment()));
    }

    #[test]
    fn strategic_non_object_patch_is_a_bad_request() {
        let err = strategic_merge_patch(&deployment(), &json!([1]), "Deployment").unwrap_err();
        assert_eq!(
            err,
            PatchError::BadRequest(
                "json: cannot unmarshal array into Go value of type map[string]interface {}".into()
            )
        );
    }

    #[test]
    fn strategic_list_of_lists_is_unprocessable() {
        let obj = json!({"metadata":{"finalizers":[["a"]]}});
        let err = strategic_merge_patch(&obj, &json!({"metadata":{"finalizers":[["b"]]}}), "Pod")
            .unwrap_err();
        assert_eq!(
            err,
            PatchError::Unprocessable("lists of lists are not supported".into())
        );
    }

    #[test]
    fn strategic_unknown_kind_merges_maps_and_replaces_lists() {
        let cm = json!({"data":{"a":"1","b":"2"},"items":[1,2]});
        let got = strategic_merge_patch(&cm, &json!({"data":{"b":"3"},"items":[3]}), "ConfigMap")
            .unwrap();
        assert_eq!(got, json!({"data":{"a":"1","b":"3"},"items":[3]}));
    }

    #[test]
    fn strategic_unknown_directives_are_dropped() {
        let got = strategic_merge_patch(
            &json!({"a": 1}),
            &json!({"$unknown": {"x": 1}, "b": 2}),
            "Pod",
        )
        .unwrap();
        assert_eq!(got, json!({"a": 1, "b": 2}));
    }

    #[test]
    fn strategic_directives_do_not_leak_into_added_values() {
        let got = strategic_merge_patch(
            &json!({"spec":{}}),
            &json!({"spec":{"template":{"spec":{"containers":[{"name":"a","$patch":"replace","x":null}]}}}}),
            "Deployment",
        )
        .unwrap();
        assert_eq!(
            got,
            json!({"spec":{"template":{"spec":{"containers":[{"name":"a"}]}}}})
        );
    }

    #[test]
    fn strategic_merge_keys_reach_through_every_pod_template() {
        let cron = json!({"spec":{"jobTemplate":{"spec":{"template":{"spec":{
            "initContainers":[{"name":"init","image":"busybox"}],
            "containers":[{"name":"job","image":"x","env":[{"name":"A","value":"1"}]}]}}}}}});
        let patch = json!({"spec":{"jobTemplate":{"spec":{"template":{"spec":{
            "containers":[{"name":"job","env":[{"name":"B","value":"2"}]}]}}}}}});
        let got = strategic_merge_patch(&cron, &patch, "CronJob").unwrap();
        let env = &got["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(env.as_array().unwrap().len(), 2);
        assert_eq!(
            got["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"],
            "x"
        );

        let pod = json!({"spec":{"containers":[{"name":"a","image":"a"}],
            "ephemeralContainers":[{"name":"debug","image":"busybox"}],
            "hostAliases":[{"ip":"10.0.0.1","hostnames":["a"]}]}});
        let patch = json!({"spec":{"ephemeralContainers":[{"name":"debug2","image":"busybox"}],
            "hostAliases":[{"ip":"10.0.0.1","hostnames":["b"]}]}});
        let got = strategic_merge_patch(&pod, &patch, "Pod").unwrap();
        assert_eq!(
            got["spec"]["ephemeralContainers"].as_array().unwrap().len(),
            2
        );
        assert_eq!(
            got["spec"]["hostAliases"],
            json!([{"ip":"10.0.0.1","hostnames":["b"]}])
        );
        assert_eq!(got["spec"]["containers"], json!([{"name":"a","image":"a"}]));
    }

    #[test]
    fn strategic_node_and_service_account_lists() {
        let node = json!({"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.1"},{"type":"Hostname","address":"n1"}]}});
        let got = strategic_merge_patch(
            &node,
            &json!({"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.2"}]}}),
            "Node",
        )
        .unwrap();
        assert_eq!(
            got["status"]["addresses"],
            json!([{"type":"InternalIP","address":"10.0.0.2"},{"type":"Hostname","address":"n1"}])
        );
        let sa = json!({"secrets":[{"name":"a"}],"imagePullSecrets":[{"name":"x"}]});
        let got = strategic_merge_patch(
            &sa,
            &json!({"secrets":[{"name":"b"}],"imagePullSecrets":[{"name":"y"}]}),
            "ServiceAccount",
        )
        .unwrap();
        assert_eq!(got["secrets"].as_array().unwrap().len(), 2);
        // ServiceAccount.imagePullSecrets has no patch strategy: replaced.
        assert_eq!(got["imagePullSecrets"], json!([{"name":"y"}]));
    }

    #[test]
    fn strategic_set_element_order_of_a_primitive_list() {
        let obj = json!({"metadata":{"finalizers":["a","b"]}});
        let patch =
            json!({"metadata":{"$setElementOrder/finalizers":["b","c","a"],"finalizers":["c"]}});
        let got = strategic_merge_patch(&obj, &patch, "ConfigMap").unwrap();
        assert_eq!(got["metadata"]["finalizers"], json!(["b", "c", "a"]));
        // The directive alone reorders the live list.
        let got = strategic_merge_patch(
            &obj,
            &json!({"metadata":{"$setElementOrder/finalizers":["b","a"]}}),
            "ConfigMap",
        )
        .unwrap();
        assert_eq!(got["metadata"]["finalizers"], json!(["b", "a"]));
    }

    #[test]
    fn strategic_patch_never_mutates_its_inputs() {
        let target = deployment();
        let patch = json!({"spec":{"template":{"spec":{"containers":[{"name":"controller","$patch":"delete"}]}}}});
        let before = (target.clone(), patch.clone());
        let got = strategic_merge_patch(&target, &patch, "Deployment").unwrap();
        assert_eq!(containers(&got).len(), 1);
        assert_eq!((target, patch), before);
    }
}
