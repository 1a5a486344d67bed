//! Field selectors (`fields.ParseSelector`) and the field labels each kind accepts, with the
//! refusal wording of its field label conversion.

use super::go_quote;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldTerm {
    field: String,
    value: String,
    negate: bool,
}

/// A parsed field selector: the AND of `field=value`, `field==value`, `field!=value` terms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

impl FieldSelector {
    /// Parses the `fieldSelector` query parameter and checks each field against `supported`,
    /// refusing others as the core/v1 kinds do: `field label not supported: X`.
    pub fn parse(s: &str, supported: &[&str]) -> Result<Self, String> {
        Self::parse_with(s, supported, |label| {
            format!("field label not supported: {label}")
        })
    }

    /// As [`Self::parse`], with the rejection message of the kind (see [`FieldLabels`]).
    pub fn parse_with(
        s: &str,
        supported: &[&str],
        reject: impl Fn(&str) -> String,
    ) -> Result<Self, String> {
        let mut parts = split_terms(s);
        parts.sort();
        let mut terms = Vec::new();
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(&part) else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            let value = unescape_value(&rhs)?;
            terms.push(FieldTerm {
                field: lhs,
                value,
                negate: op == "!=",
            });
        }
        for t in &terms {
            if !supported.contains(&t.field.as_str()) {
                return Err(reject(&t.field));
            }
        }
        Ok(FieldSelector { terms })
    }

    /// Whether the object's fields satisfy every term.
    pub fn matches(&self, obj: &Value) -> bool {
        self.terms
            .iter()
            .all(|t| (field_value(obj, &t.field) == t.value) != t.negate)
    }

    /// True when there are no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The value a `field=value` term requires, as `RequiresExactMatch` (used to narrow lists
    /// to `metadata.name`/`metadata.namespace`).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && !t.negate)
            .map(|t| t.value.as_str())
    }
}

fn split_terms(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            in_slash = false;
            current.push(c);
        } else if c == '\\' {
            in_slash = true;
            current.push(c);
        } else if c == ',' {
            terms.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    terms.push(current);
    terms
}

fn split_term(term: &str) -> Option<(String, &'static str, String)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for op in ["!=", "==", "="] {
            if let Some(rhs) = rest.strip_prefix(op) {
                return Some((term[..i].to_string(), op, rhs.to_string()));
            }
        }
    }
    None
}

fn unescape_value(s: &str) -> Result<String, String> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::new();
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                other => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    ));
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Go formats the rune with %v: its code point.
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                ));
            }
            other => out.push(other),
        }
    }
    if in_slash {
        return Err("invalid field selector: invalid escape sequence: \\".to_string());
    }
    Ok(out)
}

/// The value a field label has on an object, as the registries' `GetAttrs` field sets render it:
/// strings as is, booleans `true`/`false` (absent = `false`), missing fields as "".
fn field_value(obj: &Value, field: &str) -> String {
    match field {
        // Events select their source by component.
        "source" => return text_at(obj, &["source", "component"]),
        "spec.hostNetwork" | "spec.unschedulable" => {
            let path: Vec<&str> = field.split('.').collect();
            return value_at(obj, &path)
                .and_then(Value::as_bool)
                .unwrap_or(false)
                .to_string();
        }
        "status.podIPs" => {
            let ips: Vec<String> = obj
                .pointer("/status/podIPs")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.get("ip").and_then(Value::as_str).map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            return ips.join(",");
        }
        _ => {}
    }
    let path: Vec<&str> = field.split('.').collect();
    text_at(obj, &path)
}

fn value_at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, k| v.get(*k))
}

fn text_at(obj: &Value, path: &[&str]) -> String {
    match value_at(obj, path) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Which field labels a built-in resource accepts in a field selector, and how it words a refusal
/// (kube-apiserver 1.32: core/v1 kinds with their own conversion say `field label not supported: X`;
/// kinds without one fall back to `"X" is not a known field selector: only "metadata.name", "metadata.namespace"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldLabels {
    pub supported: &'static [&'static str],
    reject: Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reject {
    /// `field label not supported: X` (core/v1 conversions, custom resources).
    NotSupported,
    /// `field label not supported for appsv1.StatefulSet: X`.
    StatefulSet,
    /// `runtime.DefaultMetaV1FieldSelectorConversion`.
    MetaV1Default,
}

const META_ONLY: &[&str] = &["metadata.name", "metadata.namespace"];

impl FieldLabels {
    /// The rules of built-in `group`/`plural` (core group is ""). Kinds without a conversion of
    /// their own get `metadata.name` and `metadata.namespace` only; for custom resources use
    /// [`Self::for_custom_resource`].
    pub fn for_resource(group: &str, plural: &str) -> FieldLabels {
        let own = |supported| FieldLabels {
            supported,
            reject: Reject::NotSupported,
        };
        match (group, plural) {
            ("", "pods") => own(&[
                "metadata.name",
                "metadata.namespace",
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.podIPs",
                "status.nominatedNodeName",
            ]),
            ("", "nodes") => own(&["metadata.name", "spec.unschedulable"]),
            ("", "replicationcontrollers") => {
                own(&["metadata.name", "metadata.namespace", "status.replicas"])
            }
            ("", "events") => own(&[
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
                "metadata.namespace",
                "metadata.name",
            ]),
            ("", "namespaces") => own(&["status.phase", "metadata.name"]),
            ("", "secrets") => own(&["type", "metadata.namespace", "metadata.name"]),
            ("", "services") => own(&[
                "metadata.namespace",
                "metadata.name",
                "spec.clusterIP",
                "spec.type",
            ]),
            ("apps", "statefulsets") => FieldLabels {
                supported: &["metadata.name", "metadata.namespace", "status.successful"],
                reject: Reject::StatefulSet,
            },
            _ => FieldLabels {
                supported: META_ONLY,
                reject: Reject::MetaV1Default,
            },
        }
    }

    /// The rules of a custom resource (the apiextensions converter): `metadata.name`, plus
    /// `metadata.namespace` when the resource is namespaced; others are `field label not supported`.
    pub fn for_custom_resource(namespaced: bool) -> FieldLabels {
        FieldLabels {
            supported: if namespaced {
                META_ONLY
            } else {
                &["metadata.name"]
            },
            reject: Reject::NotSupported,
        }
    }

    /// The refusal upstream answers for an unsupported `label`.
    pub fn rejection(&self, label: &str) -> String {
        match self.reject {
            Reject::NotSupported => format!("field label not supported: {label}"),
            Reject::StatefulSet => {
                format!("field label not supported for appsv1.StatefulSet: {label}")
            }
            Reject::MetaV1Default => format!(
                "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                go_quote(label)
            ),
        }
    }

    /// Parses `s` against these rules.
    pub fn parse(&self, s: &str) -> Result<FieldSelector, String> {
        FieldSelector::parse_with(s, self.supported, |label| self.rejection(label))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn field_selectors_parse_and_match() {
        let pod = json!({"metadata": {"name": "istiod-1", "namespace": "istio-system"},
                         "spec": {"nodeName": "node-1"}, "status": {"phase": "Running"}});
        let rules = FieldLabels::for_resource("", "pods");
        let s = rules.parse("metadata.name=istiod-1").unwrap();
        assert!(s.matches(&pod));
        assert_eq!(s.requires_exact_match("metadata.name"), Some("istiod-1"));
        assert!(
            rules
                .parse("metadata.name==istiod-1,status.phase=Running")
                .unwrap()
                .matches(&pod)
        );
        assert!(!rules.parse("status.phase!=Running").unwrap().matches(&pod));
        assert!(
            rules
                .parse("spec.nodeName!=node-2,metadata.namespace=istio-system")
                .unwrap()
                .matches(&pod)
        );
        assert!(rules.parse("spec.hostNetwork=false").unwrap().matches(&pod));
        assert!(rules.parse("").unwrap().is_empty());
        // Escaped separators in values.
        let odd = json!({"metadata": {"name": "a,b=c"}});
        assert!(
            FieldSelector::parse("metadata.name=a\\,b\\=c", META_ONLY)
                .unwrap()
                .matches(&odd)
        );
    }

    #[test]
    fn field_selector_errors_are_worded_like_upstream() {
        assert_eq!(
            FieldLabels::for_resource("", "pods")
                .parse("spec.foo=x")
                .unwrap_err(),
            "field label not supported: spec.foo"
        );
        assert_eq!(
            FieldSelector::parse("status.phase=Running", &["metadata.name"]).unwrap_err(),
            "field label not supported: status.phase"
        );
        assert_eq!(
            FieldLabels::for_resource("apps", "deployments")
                .parse("status.phase=Running")
                .unwrap_err(),
            "\"status.phase\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        assert_eq!(
            FieldSelector::parse("metadata.name", META_ONLY).unwrap_err(),
            "invalid selector: 'metadata.name'; can't understand 'metadata.name'"
        );
        assert_eq!(
            FieldSelector::parse("metadata.name=a\\x", META_ONLY).unwrap_err(),
            "invalid field selector: invalid escape sequence: \\x"
        );
        assert_eq!(
            FieldSelector::parse("metadata.name=a=b", META_ONLY).unwrap_err(),
            "invalid field selector: unescaped character in value: 61"
        );
    }

    #[test]
    fn custom_resources_and_statefulsets_word_refusals_their_own_way() {
        let cr = FieldLabels::for_custom_resource(true);
        assert!(cr.parse("metadata.namespace=istio-system").is_ok());
        assert_eq!(
            cr.parse("spec.host=x").unwrap_err(),
            "field label not supported: spec.host"
        );
        let cluster = FieldLabels::for_custom_resource(false);
        assert_eq!(
            cluster.parse("metadata.namespace=x").unwrap_err(),
            "field label not supported: metadata.namespace"
        );
        assert_eq!(
            FieldLabels::for_resource("apps", "statefulsets")
                .parse("spec.x=1")
                .unwrap_err(),
            "field label not supported for appsv1.StatefulSet: spec.x"
        );
    }

    #[test]
    fn field_label_tables_cover_the_sandbox_kinds() {
        assert!(
            FieldLabels::for_resource("", "events")
                .supported
                .contains(&"involvedObject.name")
        );
        assert!(
            FieldLabels::for_resource("", "namespaces")
                .parse("status.phase=Active")
                .is_ok()
        );
        assert!(
            FieldLabels::for_resource("", "secrets")
                .parse("type=kubernetes.io/tls")
                .is_ok()
        );
        assert!(
            FieldLabels::for_resource("cert-manager.io", "certificates")
                .parse("metadata.namespace=x")
                .is_ok()
        );
        let event = json!({"source": {"component": "deployment-controller"}, "type": "Normal"});
        assert!(
            FieldLabels::for_resource("", "events")
                .parse("source=deployment-controller,type=Normal")
                .unwrap()
                .matches(&event)
        );
    }
}
