//! The permissions a workload needs, as data: each [`Rule`] says what and why. The ServiceAccount,
//! Roles and bindings are built from these rules, and so is the README's RBAC table, so the two
//! cannot disagree.
//!
//! `resourceNames` narrows a rule to named objects, but only for verbs whose request names one:
//! `create` (the name is in the body), `list`, `watch` and `deletecollection` cannot be narrowed.
//! A workload that writes one object therefore gets it made by install and is granted only
//! `get`/`update` on it ([`Rule::validate`] refuses the rest).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::Workload;

/// One RBAC rule with its reason. `namespace` `None` means cluster-wide (a ClusterRole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub namespace: Option<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
    pub resource_names: Vec<String>,
    /// One line: what the workload does with it (the README's "why" column).
    pub reason: String,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Rule {
    /// A cluster-wide rule; narrow it with [`Rule::in_namespace`] and [`Rule::named`].
    pub fn new(reason: &str, api_groups: &[&str], resources: &[&str], verbs: &[&str]) -> Rule {
        Rule {
            namespace: None,
            api_groups: strings(api_groups),
            resources: strings(resources),
            verbs: strings(verbs),
            resource_names: Vec::new(),
            reason: reason.to_string(),
        }
    }

    pub fn in_namespace(mut self, namespace: &str) -> Rule {
        self.namespace = Some(namespace.to_string());
        self
    }

    pub fn named(mut self, names: &[&str]) -> Rule {
        self.resource_names = strings(names);
        self
    }

    /// Refuses a `resourceNames` rule with a verb that RBAC cannot narrow by name: it would
    /// look least-privilege and grant nothing (or, misread, everything).
    pub fn validate(&self) -> Result<(), String> {
        if self.resource_names.is_empty() {
            return Ok(());
        }
        match self
            .verbs
            .iter()
            .find(|v| matches!(v.as_str(), "create" | "list" | "watch" | "deletecollection"))
        {
            Some(verb) => Err(format!(
                "rule {:?}: {verb:?} cannot be limited by resourceNames; have install create the object instead",
                self.reason
            )),
            None => Ok(()),
        }
    }

    /// The rule as it goes into a Role or ClusterRole.
    pub fn to_policy_rule(&self) -> Value {
        let mut rule = json!({
            "apiGroups": self.api_groups,
            "resources": self.resources,
            "verbs": self.verbs,
        });
        if !self.resource_names.is_empty() {
            rule["resourceNames"] = json!(self.resource_names);
        }
        rule
    }

    /// `resource/name` style summary for error hints: `get services/proxy "prometheus"`.
    pub fn describe(&self) -> String {
        let names = match self.resource_names.as_slice() {
            [] => String::new(),
            names => format!(" {names:?}"),
        };
        let scope = match &self.namespace {
            Some(ns) => format!(" in {ns:?}"),
            None => " cluster-wide".to_string(),
        };
        format!(
            "{} {}{names}{scope}",
            self.verbs.join(","),
            self.resources.join(",")
        )
    }
}

/// The ServiceAccount, then per namespace a Role and RoleBinding, then (for cluster-wide rules)
/// a ClusterRole and ClusterRoleBinding, all bound to the workload's ServiceAccount. A Role in
/// another namespace than the workload's is named like a cluster-scoped object, so the same
/// workload installed in two namespaces gets two Roles there, not one overwritten.
pub fn objects(workload: &Workload, rules: &[Rule]) -> Vec<Value> {
    let subject = json!([{
        "kind": "ServiceAccount",
        "name": workload.name,
        "namespace": workload.namespace,
    }]);
    let mut objects = vec![json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": workload.metadata(&workload.name, Some(&workload.namespace)),
        // The API token is mounted because the workload talks to the API server.
        "automountServiceAccountToken": true,
    })];
    let namespaces: BTreeSet<&str> = rules
        .iter()
        .filter_map(|r| r.namespace.as_deref())
        .collect();
    for ns in namespaces {
        let name = if ns == workload.namespace {
            workload.name.clone()
        } else {
            workload.cluster_name()
        };
        let policy: Vec<Value> = rules
            .iter()
            .filter(|r| r.namespace.as_deref() == Some(ns))
            .map(Rule::to_policy_rule)
            .collect();
        objects.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": workload.metadata(&name, Some(ns)),
            "rules": policy,
        }));
        objects.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": workload.metadata(&name, Some(ns)),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": subject,
        }));
    }
    let cluster: Vec<Value> = rules
        .iter()
        .filter(|r| r.namespace.is_none())
        .map(Rule::to_policy_rule)
        .collect();
    if !cluster.is_empty() {
        let name = workload.cluster_name();
        objects.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": workload.metadata(&name, None),
            "rules": cluster,
        }));
        objects.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": workload.metadata(&name, None),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": subject,
        }));
    }
    objects
}

/// The README's RBAC table: one row per rule of each workload, as installed with defaults.
pub fn markdown_table(workloads: &[(&str, Vec<Rule>)]) -> String {
    let mut out = String::from(
        "| Workload | Namespace | API group | Resources | Verbs | Names | Why |\n| --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for (workload, rules) in workloads {
        for rule in rules {
            let groups: Vec<String> = rule
                .api_groups
                .iter()
                .map(|g| {
                    if g.is_empty() {
                        "\"\"".into()
                    } else {
                        g.clone()
                    }
                })
                .collect();
            let cell = |items: &[String]| match items {
                [] => "(any)".to_string(),
                items => items
                    .iter()
                    .map(|i| format!("`{i}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            out.push_str(&format!(
                "| {workload} | {} | {} | {} | {} | {} | {} |\n",
                rule.namespace.as_deref().unwrap_or("(cluster)"),
                groups.join(", "),
                cell(&rule.resources),
                rule.verbs.join(", "),
                cell(&rule.resource_names),
                rule.reason.replace('|', "\\|"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rules() -> Vec<Rule> {
        vec![
            Rule::new("query Prometheus", &[""], &["services/proxy"], &["get"])
                .in_namespace("monitoring")
                .named(&["prometheus:9090"]),
            Rule::new("keep state", &[""], &["configmaps"], &["get", "update"])
                .in_namespace("ops")
                .named(&["state"]),
            Rule::new("read deployments", &["apps"], &["deployments"], &["list"]),
        ]
    }

    #[test]
    fn one_role_per_namespace_and_a_cluster_role_for_the_rest() {
        let w = Workload::new("mon", "health-monitor", "ops");
        let objects = objects(&w, &rules());
        let kinds: Vec<(&str, &str)> = objects
            .iter()
            .map(|o| {
                (
                    o["kind"].as_str().unwrap_or(""),
                    o["metadata"]["namespace"].as_str().unwrap_or("-"),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("ServiceAccount", "ops"),
                ("Role", "monitoring"),
                ("RoleBinding", "monitoring"),
                ("Role", "ops"),
                ("RoleBinding", "ops"),
                ("ClusterRole", "-"),
                ("ClusterRoleBinding", "-"),
            ]
        );
        assert_eq!(
            objects[1]["rules"][0]["resourceNames"][0],
            "prometheus:9090"
        );
        assert_eq!(objects[2]["subjects"][0]["namespace"], "ops");
        assert_eq!(objects[1]["metadata"]["name"], "kubectl-sealos:ops:mon");
        assert_eq!(objects[2]["roleRef"]["name"], "kubectl-sealos:ops:mon");
        assert_eq!(objects[3]["metadata"]["name"], "mon");
        assert!(objects[5]["rules"][0].get("resourceNames").is_none());
        assert_eq!(objects[6]["roleRef"]["name"], "kubectl-sealos:ops:mon");
    }

    #[test]
    fn create_cannot_be_narrowed_by_name() {
        let bad = Rule::new("make it", &[""], &["configmaps"], &["create"]).named(&["x"]);
        assert!(
            bad.validate()
                .unwrap_err()
                .contains("\"create\" cannot be limited")
        );
        assert!(rules().iter().all(|r| r.validate().is_ok()));
    }

    #[test]
    fn the_table_has_a_row_per_rule() {
        let table = markdown_table(&[("monitor", rules())]);
        assert_eq!(table.lines().count(), 5);
        assert!(table.contains(
            "| monitor | monitoring | \"\" | `services/proxy` | get | `prometheus:9090` | query Prometheus |"
        ));
        assert!(table.contains("| monitor | (cluster) | apps | `deployments` | list | (any) |"));
    }
}
