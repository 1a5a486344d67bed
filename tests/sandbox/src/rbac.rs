//! The RBAC authorizer, as upstream's `plugin/pkg/auth/authorizer/rbac` decides: the rules of
//! every ClusterRoleBinding, then every RoleBinding in the request's namespace, whose subjects
//! include the user, are visited in turn until one allows the request. A binding whose role is
//! missing is skipped, and named in the refusal's reason.

use crate::auth::{Attributes, User};
use crate::registry::ResKey;
use crate::store::Store;
use serde_json::{Value, json};

pub const GROUP: &str = "rbac.authorization.k8s.io";

/// What is asked: a resource request or a non-resource path (`/version`, `/apis`, ...).
#[derive(Debug, Clone)]
pub enum Request<'a> {
    Resource(&'a Attributes),
    NonResource { verb: &'a str, path: &'a str },
}

/// The answer, with upstream's reason (`RBAC: allowed by ...`, or the errors met on the way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

fn strings(v: &Value) -> impl Iterator<Item = &str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str)
}

fn has(list: &Value, want: &str) -> bool {
    strings(list).any(|x| x == "*" || x == want)
}

/// One PolicyRule against one request, rule by rule as `RuleAllows`.
pub fn rule_allows(rule: &Value, req: &Request) -> bool {
    match req {
        Request::Resource(a) => {
            let sub = a.resource.split_once('/').map(|(_, s)| s).unwrap_or("");
            has(&rule["verbs"], &a.verb)
                && has(&rule["apiGroups"], &a.group)
                && resource_matches(&rule["resources"], &a.resource, sub)
                && name_matches(&rule["resourceNames"], a.name.as_deref().unwrap_or(""))
        }
        Request::NonResource { verb, path } => {
            has(&rule["verbs"], verb)
                && strings(&rule["nonResourceURLs"]).any(|u| {
                    u == "*"
                        || u == *path
                        || u.strip_suffix('*').is_some_and(|p| path.starts_with(p))
                })
        }
    }
}

/// `*`, the exact `resource[/subresource]`, or `*/subresource`.
fn resource_matches(resources: &Value, combined: &str, sub: &str) -> bool {
    strings(resources).any(|r| {
        r == "*"
            || r == combined
            || (!sub.is_empty() && r.strip_prefix("*/").is_some_and(|s| s == sub))
    })
}

/// No resourceNames: any name. Otherwise the request must name one of them, so a list, watch
/// or create (which name nothing) never matches.
fn name_matches(names: &Value, name: &str) -> bool {
    let mut listed = strings(names).peekable();
    listed.peek().is_none() || listed.any(|n| n == name)
}

/// Whether a binding's subject is this user (a ServiceAccount without a namespace is in the
/// binding's).
fn subject_is(subject: &Value, user: &User, binding_ns: &str) -> bool {
    let name = subject["name"].as_str().unwrap_or("");
    match subject["kind"].as_str() {
        Some("User") => user.name == name,
        Some("Group") => user.groups.iter().any(|g| g == name),
        Some("ServiceAccount") => {
            let ns = subject["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_ns);
            !ns.is_empty() && user.name == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

fn describe_subject(subject: &Value, binding_ns: &str) -> String {
    let kind = subject["kind"].as_str().unwrap_or("");
    let name = subject["name"].as_str().unwrap_or("");
    if kind == "ServiceAccount" {
        let ns = subject["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or(binding_ns);
        return format!("{kind} \"{name}/{ns}\"");
    }
    format!("{kind} \"{name}\"")
}

/// The rules a roleRef names, or upstream's lister error (`role.rbac.authorization.k8s.io "x"
/// not found`).
fn role_rules(store: &Store, role_ref: &Value, binding_ns: &str) -> Result<Vec<Value>, String> {
    let name = role_ref["name"].as_str().unwrap_or("");
    let (plural, singular, ns) = match role_ref["kind"].as_str() {
        Some("Role") => ("roles", "role", binding_ns),
        Some("ClusterRole") => ("clusterroles", "clusterrole", ""),
        other => {
            return Err(format!(
                "unsupported role reference kind: \"{}\"",
                other.unwrap_or("")
            ));
        }
    };
    let role = store
        .get(&ResKey::new(GROUP, plural), ns, name)
        .ok_or_else(|| format!("{singular}.{GROUP} \"{name}\" not found"))?;
    Ok(role["rules"].as_array().cloned().unwrap_or_default())
}

/// Visit every rule that applies to `user` in `namespace` ("" for the cluster scope): the
/// ClusterRoleBindings' first, then the namespace's RoleBindings'. `visit(source, rule)`
/// returns false to stop. Returns the errors met (missing roles).
fn visit_rules(
    store: &Store,
    user: &User,
    namespace: &str,
    mut visit: impl FnMut(&dyn Fn() -> String, &Value) -> bool,
) -> Vec<String> {
    let mut errors = vec![];
    let mut bindings: Vec<(String, std::sync::Arc<Value>)> = store
        .list(&ResKey::new(GROUP, "clusterrolebindings"), None)
        .into_iter()
        .map(|b| (String::new(), b))
        .collect();
    if !namespace.is_empty() {
        bindings.extend(
            store
                .list(&ResKey::new(GROUP, "rolebindings"), Some(namespace))
                .into_iter()
                .map(|b| (namespace.to_string(), b)),
        );
    }
    for (ns, binding) in &bindings {
        let Some(subject) = binding["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| subject_is(s, user, ns))
        else {
            continue;
        };
        let rules = match role_rules(store, &binding["roleRef"], ns) {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let source = || {
            let name = binding["metadata"]["name"].as_str().unwrap_or("");
            let role = format!(
                "{} \"{}\"",
                binding["roleRef"]["kind"].as_str().unwrap_or(""),
                binding["roleRef"]["name"].as_str().unwrap_or("")
            );
            if ns.is_empty() {
                format!(
                    "ClusterRoleBinding \"{name}\" of {role} to {}",
                    describe_subject(subject, "")
                )
            } else {
                format!(
                    "RoleBinding \"{name}/{ns}\" of {role} to {}",
                    describe_subject(subject, ns)
                )
            }
        };
        for rule in &rules {
            if !visit(&source, rule) {
                return errors;
            }
        }
    }
    errors
}

/// upstream's aggregate of errors: one as it is, several in brackets.
fn aggregate(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// Decide a request by the stored RBAC objects.
pub fn authorize(store: &Store, user: &User, req: &Request) -> Decision {
    let namespace = match req {
        Request::Resource(a) => a.namespace.as_deref().unwrap_or(""),
        Request::NonResource { .. } => "",
    };
    let mut allowed_by = None;
    let errors = visit_rules(store, user, namespace, |source, rule| {
        if rule_allows(rule, req) {
            allowed_by = Some(source());
            return false;
        }
        true
    });
    match allowed_by {
        Some(source) => Decision {
            allowed: true,
            reason: format!("RBAC: allowed by {source}"),
        },
        None if errors.is_empty() => Decision {
            allowed: false,
            reason: String::new(),
        },
        None => Decision {
            allowed: false,
            reason: format!("RBAC: {}", aggregate(&errors)),
        },
    }
}

/// Every rule that applies to `user` in `namespace` (for SelfSubjectRulesReview), and the
/// evaluation error, if any.
pub fn rules_for(store: &Store, user: &User, namespace: &str) -> (Vec<Value>, Option<String>) {
    let mut rules = vec![];
    let errors = visit_rules(store, user, namespace, |_, rule| {
        rules.push(rule.clone());
        true
    });
    (rules, (!errors.is_empty()).then(|| aggregate(&errors)))
}

/// rbac/v1 defaulting: a binding's roleRef, and its User and Group subjects, are in the RBAC
/// API group unless they say otherwise.
pub fn default(info: &crate::registry::ResourceInfo, obj: &mut Value) {
    if info.group != GROUP || !info.plural.ends_with("bindings") {
        return;
    }
    let empty = |v: &Value| v.as_str().is_none_or(str::is_empty);
    if obj["roleRef"].is_object() && empty(&obj["roleRef"]["apiGroup"]) {
        obj["roleRef"]["apiGroup"] = json!(GROUP);
    }
    if let Some(subjects) = obj.get_mut("subjects").and_then(Value::as_array_mut) {
        for s in subjects {
            let user_or_group = matches!(s["kind"].as_str(), Some("User" | "Group"));
            if user_or_group && empty(&s["apiGroup"]) {
                s["apiGroup"] = json!(GROUP);
            }
        }
    }
}

/// A binding's roleRef and subjects, as upstream's `ValidateRoleBinding` checks them.
pub fn validate(
    info: &crate::registry::ResourceInfo,
    obj: &Value,
) -> Result<(), crate::status::ApiError> {
    use crate::status::FieldError;
    let cluster = match (info.group.as_str(), info.plural.as_str()) {
        (GROUP, "rolebindings") => false,
        (GROUP, "clusterrolebindings") => true,
        _ => return Ok(()),
    };
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let r = &obj["roleRef"];
    let mut errs = vec![];
    if text(&r["apiGroup"]) != GROUP {
        errs.push(FieldError::not_supported(
            "roleRef.apiGroup",
            &text(&r["apiGroup"]),
            &[GROUP],
        ));
    }
    let kinds: &[&str] = if cluster {
        &["ClusterRole"]
    } else {
        &["Role", "ClusterRole"]
    };
    if !kinds.contains(&text(&r["kind"]).as_str()) {
        errs.push(FieldError::not_supported(
            "roleRef.kind",
            &text(&r["kind"]),
            kinds,
        ));
    }
    if text(&r["name"]).is_empty() {
        errs.push(FieldError::required("roleRef.name"));
    }
    for (i, s) in obj["subjects"].as_array().into_iter().flatten().enumerate() {
        let at = |f: &str| format!("subjects[{i}].{f}");
        if text(&s["name"]).is_empty() {
            errs.push(FieldError::required(&at("name")));
        }
        match text(&s["kind"]).as_str() {
            "ServiceAccount" => {
                if !text(&s["apiGroup"]).is_empty() {
                    errs.push(FieldError::not_supported(
                        &at("apiGroup"),
                        &text(&s["apiGroup"]),
                        &[""],
                    ));
                }
                if cluster && text(&s["namespace"]).is_empty() {
                    errs.push(FieldError::required(&at("namespace")));
                }
            }
            "User" | "Group" => {
                if text(&s["apiGroup"]) != GROUP {
                    errs.push(FieldError::not_supported(
                        &at("apiGroup"),
                        &text(&s["apiGroup"]),
                        &[GROUP],
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                &at("kind"),
                other,
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }
    if errs.is_empty() {
        return Ok(());
    }
    Err(crate::status::ApiError::invalid_fields(
        &info.group,
        &info.kind,
        obj["metadata"]["name"].as_str().unwrap_or(""),
        &errs,
    ))
}

fn bootstrap_meta(name: &str) -> Value {
    json!({
        "name": name,
        "labels": { "kubernetes.io/bootstrapping": "rbac-defaults" },
        "annotations": { "rbac.authorization.kubernetes.io/autoupdate": "true" },
    })
}

fn cluster_role(name: &str, rules: Value) -> Value {
    json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": bootstrap_meta(name), "rules": rules })
}

fn cluster_role_binding(name: &str, groups: &[&str]) -> Value {
    let subjects: Vec<Value> = groups
        .iter()
        .map(|g| json!({ "apiGroup": GROUP, "kind": "Group", "name": g }))
        .collect();
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": bootstrap_meta(name),
        "roleRef": { "apiGroup": GROUP, "kind": "ClusterRole", "name": name },
        "subjects": subjects,
    })
}

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];

fn rule(verbs: &[&str], group: &str, resources: &[&str]) -> Value {
    json!({ "verbs": verbs, "apiGroups": [group], "resources": resources })
}

/// `view`: read what a namespace holds, except Secrets (upstream's aggregated rules, for the
/// resources this server serves).
fn view_rules() -> Vec<Value> {
    vec![
        rule(
            READ,
            "",
            &[
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
            ],
        ),
        rule(
            READ,
            "",
            &[
                "bindings",
                "events",
                "limitranges",
                "namespaces/status",
                "pods/log",
                "pods/status",
                "replicationcontrollers/status",
                "resourcequotas",
                "resourcequotas/status",
            ],
        ),
        rule(READ, "", &["namespaces"]),
        rule(READ, "discovery.k8s.io", &["endpointslices"]),
        rule(
            READ,
            "apps",
            &[
                "controllerrevisions",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "statefulsets",
                "statefulsets/scale",
                "statefulsets/status",
            ],
        ),
        rule(
            READ,
            "autoscaling",
            &[
                "horizontalpodautoscalers",
                "horizontalpodautoscalers/status",
            ],
        ),
        rule(
            READ,
            "batch",
            &["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
        ),
        rule(
            READ,
            "policy",
            &["poddisruptionbudgets", "poddisruptionbudgets/status"],
        ),
        rule(
            READ,
            "networking.k8s.io",
            &["ingresses", "ingresses/status", "networkpolicies"],
        ),
    ]
}

/// `edit`: `view`, plus writing workloads, Secrets and the pod subresources people use.
fn edit_rules() -> Vec<Value> {
    let all: Vec<&str> = READ.iter().chain(WRITE).copied().collect();
    let mut rules = vec![
        rule(
            &["create", "delete", "deletecollection", "patch", "update"],
            "",
            &[
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "secrets",
                "serviceaccounts",
                "services",
                "services/proxy",
            ],
        ),
        rule(
            &["create"],
            "",
            &[
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
                "pods/eviction",
                "serviceaccounts/token",
            ],
        ),
        rule(
            &["get", "list", "watch"],
            "",
            &[
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
                "secrets",
                "services/proxy",
            ],
        ),
        rule(&["impersonate"], "", &["serviceaccounts"]),
        rule(
            &all,
            "apps",
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
            ],
        ),
        rule(&all, "autoscaling", &["horizontalpodautoscalers"]),
        rule(&all, "batch", &["cronjobs", "jobs"]),
        rule(&all, "policy", &["poddisruptionbudgets"]),
        rule(&all, "networking.k8s.io", &["ingresses", "networkpolicies"]),
        rule(
            &["create", "delete", "deletecollection", "patch", "update"],
            "discovery.k8s.io",
            &["endpointslices"],
        ),
    ];
    rules.extend(view_rules());
    rules
}

/// `admin`: `edit`, plus Roles and RoleBindings in the namespace.
fn admin_rules() -> Vec<Value> {
    let all: Vec<&str> = READ.iter().chain(WRITE).copied().collect();
    let mut rules = vec![
        rule(&all, GROUP, &["rolebindings", "roles"]),
        rule(
            &["create"],
            "authorization.k8s.io",
            &["localsubjectaccessreviews"],
        ),
    ];
    rules.extend(edit_rules());
    rules
}

/// The roles and bindings a new cluster has (upstream's bootstrap policy, the part that matters
/// here): cluster-admin for `system:masters`, discovery, the reviews and public info for every
/// authenticated user, and the user-facing `admin`, `edit` and `view` (aggregation left out).
pub fn bootstrap_objects() -> Vec<Value> {
    let discovery_urls = [
        "/api",
        "/api/*",
        "/apis",
        "/apis/*",
        "/healthz",
        "/livez",
        "/openapi",
        "/openapi/*",
        "/readyz",
        "/version",
        "/version/",
    ];
    let public_urls = ["/healthz", "/livez", "/readyz", "/version", "/version/"];
    vec![
        cluster_role(
            "cluster-admin",
            json!([
                { "verbs": ["*"], "apiGroups": ["*"], "resources": ["*"] },
                { "verbs": ["*"], "nonResourceURLs": ["*"] },
            ]),
        ),
        cluster_role(
            "system:discovery",
            json!([{ "verbs": ["get"], "nonResourceURLs": discovery_urls }]),
        ),
        cluster_role(
            "system:basic-user",
            json!([
                { "verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"] },
                { "verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"] },
            ]),
        ),
        cluster_role(
            "system:public-info-viewer",
            json!([{ "verbs": ["get"], "nonResourceURLs": public_urls }]),
        ),
        cluster_role("admin", json!(admin_rules())),
        cluster_role("edit", json!(edit_rules())),
        cluster_role("view", json!(view_rules())),
        cluster_role_binding("cluster-admin", &["system:masters"]),
        cluster_role_binding("system:discovery", &["system:authenticated"]),
        cluster_role_binding("system:basic-user", &["system:authenticated"]),
        cluster_role_binding(
            "system:public-info-viewer",
            &["system:authenticated", "system:unauthenticated"],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(
        verb: &str,
        group: &str,
        resource: &str,
        ns: Option<&str>,
        name: Option<&str>,
    ) -> Attributes {
        Attributes {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            namespace: ns.map(String::from),
            name: name.map(String::from),
        }
    }

    #[test]
    fn rules_match_as_upstream() {
        let pods = json!({ "verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"] });
        let get = attrs("get", "", "pods", Some("a"), Some("p"));
        assert!(rule_allows(&pods, &Request::Resource(&get)));
        let log = attrs("get", "", "pods/log", Some("a"), Some("p"));
        assert!(
            !rule_allows(&pods, &Request::Resource(&log)),
            "pods does not cover pods/log"
        );
        let scale = json!({ "verbs": ["*"], "apiGroups": ["*"], "resources": ["*/scale"] });
        let dscale = attrs("patch", "apps", "deployments/scale", Some("a"), Some("d"));
        assert!(rule_allows(&scale, &Request::Resource(&dscale)));
        assert!(!rule_allows(&scale, &Request::Resource(&get)));
        let named = json!({ "verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["p"] });
        assert!(rule_allows(&named, &Request::Resource(&get)));
        let list = attrs("list", "", "pods", Some("a"), None);
        assert!(!rule_allows(&named, &Request::Resource(&list)));
        let urls = json!({ "verbs": ["get"], "nonResourceURLs": ["/healthz", "/apis/*"] });
        for (path, ok) in [
            ("/healthz", true),
            ("/healthz/x", false),
            ("/apis/apps", true),
            ("/api", false),
        ] {
            assert_eq!(
                rule_allows(&urls, &Request::NonResource { verb: "get", path }),
                ok,
                "{path}"
            );
        }
        assert!(!rule_allows(
            &urls,
            &Request::NonResource {
                verb: "post",
                path: "/healthz"
            }
        ));
    }

    #[test]
    fn subjects_default_their_namespace_to_the_binding() {
        let sa = User::service_account("ns", "robot");
        assert!(subject_is(
            &json!({ "kind": "ServiceAccount", "name": "robot" }),
            &sa,
            "ns"
        ));
        assert!(!subject_is(
            &json!({ "kind": "ServiceAccount", "name": "robot" }),
            &sa,
            ""
        ));
        assert!(subject_is(
            &json!({ "kind": "ServiceAccount", "name": "robot", "namespace": "ns" }),
            &sa,
            ""
        ));
        assert!(subject_is(
            &json!({ "kind": "Group", "name": "system:serviceaccounts:ns" }),
            &sa,
            ""
        ));
        assert!(!subject_is(
            &json!({ "kind": "User", "name": "robot" }),
            &sa,
            ""
        ));
    }
}
