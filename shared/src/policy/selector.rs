//! Label selectors as the API server matches them, and the string patterns of Istio's
//! authorization fields.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `labels` satisfy `selector`: every matchLabels pair and every matchExpression
/// (In, NotIn, Exists, DoesNotExist). An empty selector matches everything; an unknown
/// operator matches nothing (the API server rejects it, so a policy never carries one).
pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let pairs = selector.match_labels.iter().flatten();
    let exprs = selector.match_expressions.iter().flatten();
    pairs.into_iter().all(|(k, v)| labels.get(k) == Some(v))
        && exprs.into_iter().all(|e| {
            let value = labels.get(&e.key);
            let values = e.values.as_deref().unwrap_or_default();
            match e.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

/// `k=v,k2 in (a,b)` for messages; `{}` for the empty selector.
pub fn display(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.as_deref().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            op => format!("{} {} ({values})", e.key, op.to_lowercase()),
        });
    }
    if parts.is_empty() {
        "{}".to_string()
    } else {
        parts.join(",")
    }
}

/// Istio's string match: `*` is presence (any non-empty value), `abc*` a prefix, `*abc` a
/// suffix, anything else exact. An absent value (None, or empty) matches no pattern.
pub fn istio_string(pattern: &str, value: Option<&str>) -> bool {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return false;
    };
    if pattern == "*" {
        true
    } else if let Some(prefix) = pattern.strip_suffix('*') {
        value.starts_with(prefix)
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        value.ends_with(suffix)
    } else {
        pattern == value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    /// https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#resources-that-support-set-based-requirements
    /// ("environment in (production, qa)", "tier notin (frontend, backend)", "partition", "!partition").
    type Case<'a> = (LabelSelectorRequirement, &'a [(&'a str, &'a str)], bool);

    #[test]
    fn set_based_requirements_match_as_the_labels_page_says() {
        let cases: &[Case] = &[
            (
                req("environment", "In", &["production", "qa"]),
                &[("environment", "qa")],
                true,
            ),
            (req("environment", "In", &["production", "qa"]), &[], false),
            (req("tier", "NotIn", &["frontend", "backend"]), &[], true),
            (
                req("tier", "NotIn", &["frontend", "backend"]),
                &[("tier", "backend")],
                false,
            ),
            (req("partition", "Exists", &[]), &[("partition", "")], true),
            (
                req("partition", "DoesNotExist", &[]),
                &[("partition", "a")],
                false,
            ),
        ];
        for (r, l, want) in cases {
            let s = LabelSelector {
                match_expressions: Some(vec![r.clone()]),
                ..LabelSelector::default()
            };
            assert_eq!(matches(&s, &labels(l)), *want, "{r:?} on {l:?}");
        }
        assert!(
            matches(&LabelSelector::default(), &labels(&[])),
            "empty selects all"
        );
    }

    /// https://istio.io/latest/docs/reference/config/security/authorization-policy/ (the
    /// "Rule" section: exact, prefix `abc*`, suffix `*abc`, presence `*`).
    #[test]
    fn istio_string_match_forms() {
        let cases = [
            (
                "cluster.local/ns/default/sa/sleep",
                Some("cluster.local/ns/default/sa/sleep"),
                true,
            ),
            ("/info*", Some("/info/x"), true),
            ("*/info", Some("/a/info"), true),
            ("*", Some("x"), true),
            ("*", Some(""), false),
            ("*", None, false),
            ("/info*", Some("/inf"), false),
        ];
        for (p, v, want) in cases {
            assert_eq!(istio_string(p, v), want, "{p} vs {v:?}");
        }
    }
}
