//! Bearer-token authentication. Tokens are kept in a table so that restricted tokens (the depth
//! issue) can be added beside the all-powerful default one.

use std::collections::HashMap;
use std::sync::RwLock;

/// Who a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Tokens {
    users: RwLock<HashMap<String, User>>,
    /// Rules per user name; a user without an entry may do everything.
    rules: RwLock<HashMap<String, Vec<Rule>>>,
}

impl Tokens {
    /// A token whose user may do only what `rules` allow.
    pub fn add_restricted(&self, token: &str, user: User, rules: Vec<Rule>) {
        match self.rules.write() {
            Ok(mut g) => g.insert(user.name.clone(), rules),
            Err(p) => p.into_inner().insert(user.name.clone(), rules),
        };
        self.add(token, user);
    }

    /// The user's rules; None when unrestricted.
    pub fn rules(&self, user: &User) -> Option<Vec<Rule>> {
        let g = match self.rules.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.get(&user.name).cloned()
    }

    /// Whether the user may do this.
    pub fn allows(&self, user: &User, a: &Attributes) -> bool {
        self.rules(user)
            .is_none_or(|rules| rules.iter().any(|r| r.allows(a)))
    }

    pub fn add(&self, token: &str, user: User) {
        match self.users.write() {
            Ok(mut g) => g.insert(token.to_string(), user),
            Err(p) => p.into_inner().insert(token.to_string(), user),
        };
    }

    /// The user behind an `Authorization` header value, if it carries a known bearer token.
    pub fn authenticate(&self, authorization: Option<&str>) -> Option<User> {
        let token = authorization?.strip_prefix("Bearer ")?.trim();
        let g = match self.users.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.get(token).cloned()
    }
}

/// A restricted token from a token file.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenEntry {
    pub token: String,
    pub user: String,
    pub rules: Vec<Rule>,
}

/// Parse a token file: a YAML list of `{token, user, preset: read-only|no-secrets, namespace}`
/// or `{token, user, rules: [{verbs, apiGroups, resources, namespaces, exceptResources}]}`
/// (a `namespace` alone means everything in that namespace).
pub fn parse_token_file(text: &str) -> Result<Vec<TokenEntry>, String> {
    let doc: serde_json::Value =
        serde_saphyr::from_str(text).map_err(|e| format!("token file: {e}"))?;
    let list = doc
        .as_array()
        .ok_or("token file: expected a list of tokens")?;
    list.iter()
        .enumerate()
        .map(|(i, e)| token_entry(e).map_err(|why| format!("token {}: {why}", i + 1)))
        .collect()
}

fn token_entry(e: &serde_json::Value) -> Result<TokenEntry, String> {
    let text = |k: &str| e[k].as_str().map(String::from);
    let token = text("token").ok_or("missing token")?;
    let user = text("user").ok_or("missing user")?;
    let list = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    };
    let mut rules = match (text("preset").as_deref(), e["rules"].as_array()) {
        (Some("read-only"), _) => read_only(),
        (Some("no-secrets"), _) => no_secrets(),
        (Some(other), _) => {
            return Err(format!("unknown preset {other:?} (read-only, no-secrets)"));
        }
        (None, Some(rs)) => rs
            .iter()
            .map(|r| Rule {
                verbs: list(&r["verbs"]),
                api_groups: list(&r["apiGroups"]),
                resources: list(&r["resources"]),
                namespaces: list(&r["namespaces"]),
                except_resources: list(&r["exceptResources"]),
            })
            .collect(),
        (None, None) => vec![Rule::new(&["*"], &["*"], &["*"])],
    };
    if let Some(ns) = text("namespace") {
        for r in &mut rules {
            r.namespaces = vec![ns.clone()];
        }
    }
    Ok(TokenEntry { token, user, rules })
}

/// A random token of 32 hex digits.
pub fn random_token() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_known_bearer_tokens_pass() {
        let t = Tokens::default();
        t.add(
            "abc",
            User {
                name: "admin".into(),
                groups: vec![],
            },
        );
        assert!(t.authenticate(Some("Bearer abc")).is_some());
        assert!(t.authenticate(Some("Bearer abd")).is_none());
        assert!(t.authenticate(Some("Basic abc")).is_none());
        assert!(t.authenticate(None).is_none());
    }

    #[test]
    fn rules_and_token_files() {
        let pods = |verb: &str, ns: Option<&str>| Attributes {
            verb: verb.into(),
            group: "".into(),
            resource: "pods".into(),
            namespace: ns.map(String::from),
            name: None,
        };
        assert!(read_only()[0].allows(&pods("list", None)));
        assert!(!read_only()[0].allows(&pods("delete", Some("a"))));
        assert!(one_namespace("a")[0].allows(&pods("delete", Some("a"))));
        assert!(!one_namespace("a")[0].allows(&pods("list", None)));
        let secrets = Attributes {
            resource: "secrets".into(),
            ..pods("get", Some("a"))
        };
        assert!(!no_secrets()[0].allows(&secrets));
        let f = parse_token_file("- {token: t1, user: viewer, preset: read-only}\n- {token: t2, user: team, namespace: ns-a}\n- {token: t3, user: x, rules: [{verbs: [get], apiGroups: [''], resources: [pods]}]}\n").unwrap();
        assert_eq!(f[0].rules, read_only());
        assert_eq!(f[1].rules, one_namespace("ns-a"));
        assert!(f[2].rules[0].allows(&pods("get", Some("z"))));
        assert!(!f[2].rules[0].allows(&pods("list", Some("z"))));
        assert!(parse_token_file("- {token: t, user: u, preset: admin}").is_err());
        assert_eq!(
            attributes(
                "GET",
                "/apis/apps/v1/namespaces/a/deployments/web/scale",
                false
            )
            .unwrap()
            .resource,
            "deployments/scale"
        );
        assert_eq!(attributes("GET", "/api/v1", false), None);
    }
}

/// One authorization rule: verbs × API groups × resources × namespaces. `"*"` matches anything; an
/// empty `namespaces` means every namespace and the cluster scope. `except_resources` carves
/// resources out (the sandbox's way to say "everything but secrets").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    /// Plural names, `pods/log` for a subresource.
    pub resources: Vec<String>,
    pub namespaces: Vec<String>,
    pub except_resources: Vec<String>,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl Rule {
    pub fn new(verbs: &[&str], api_groups: &[&str], resources: &[&str]) -> Rule {
        Rule {
            verbs: strings(verbs),
            api_groups: strings(api_groups),
            resources: strings(resources),
            namespaces: vec![],
            except_resources: vec![],
        }
    }

    pub fn in_namespaces(mut self, namespaces: &[&str]) -> Rule {
        self.namespaces = strings(namespaces);
        self
    }

    pub fn except(mut self, resources: &[&str]) -> Rule {
        self.except_resources = strings(resources);
        self
    }

    pub fn allows(&self, a: &Attributes) -> bool {
        let any = |list: &[String], v: &str| list.iter().any(|x| x == "*" || x == v);
        let base = a.resource.split('/').next().unwrap_or("");
        any(&self.verbs, &a.verb)
            && any(&self.api_groups, &a.group)
            && (any(&self.resources, &a.resource) || any(&self.resources, base))
            && !self
                .except_resources
                .iter()
                .any(|x| x == &a.resource || x == base)
            && (self.namespaces.is_empty()
                || a.namespace
                    .as_deref()
                    .is_some_and(|n| any(&self.namespaces, n)))
    }
}

/// Read-only on everything.
pub fn read_only() -> Vec<Rule> {
    vec![Rule::new(&["get", "list", "watch"], &["*"], &["*"])]
}

/// Everything except Secrets.
pub fn no_secrets() -> Vec<Rule> {
    vec![Rule::new(&["*"], &["*"], &["*"]).except(&["secrets"])]
}

/// Everything, inside one namespace only.
pub fn one_namespace(ns: &str) -> Vec<Rule> {
    vec![Rule::new(&["*"], &["*"], &["*"]).in_namespaces(&[ns])]
}

/// What a request asks to do, as the authorizer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    /// Plural, with `/subresource` when there is one.
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

/// The attributes of a resource request; None for discovery, OpenAPI and other non-resource paths.
pub fn attributes(method: &str, path: &str, watch: bool) -> Option<Attributes> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, rest) = match segs.as_slice() {
        ["api", _, rest @ ..] => ("", rest),
        ["apis", g, _, rest @ ..] => (*g, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(ns.to_string()), tail),
        other => (None, other),
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(n.to_string()), None),
        [p, n, s, ..] => (
            *p,
            Some(n.split(':').next().unwrap_or(n).to_string()),
            Some(*s),
        ),
        _ => return None,
    };
    // A namespace object itself: `namespaces/NS` is cluster-scoped, named NS.
    let (namespace, name) = match (rest, namespace) {
        (["namespaces", n, ..], None) if plural == "namespaces" => {
            (Some(n.to_string()), Some(n.to_string()))
        }
        (_, ns) => (ns, name),
    };
    let verb = match method {
        "GET" | "HEAD" if watch => "watch",
        "GET" | "HEAD" if name.is_some() => "get",
        "GET" | "HEAD" => "list",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" if name.is_some() => "delete",
        "DELETE" => "deletecollection",
        other => other,
    }
    .to_lowercase();
    let resource = match sub {
        Some(s) => format!("{plural}/{s}"),
        None => plural.to_string(),
    };
    Some(Attributes {
        verb,
        group: group.to_string(),
        resource,
        namespace,
        name,
    })
}

/// The 403 upstream answers, word for word.
pub fn forbidden(user: &User, a: &Attributes) -> crate::status::ApiError {
    let base = a.resource.split('/').next().unwrap_or("");
    let qualified = crate::status::qualified(&a.group, base);
    let subject = match &a.name {
        Some(n) => format!("{qualified} \"{n}\""),
        None => qualified,
    };
    let scope = match &a.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    let mut details = serde_json::json!({ "kind": base });
    if let Some(n) = &a.name {
        details["name"] = serde_json::json!(n);
    }
    if !a.group.is_empty() {
        details["group"] = serde_json::json!(a.group);
    }
    crate::status::ApiError {
        details: Some(details),
        ..crate::status::ApiError::new(
            403,
            "Forbidden",
            format!(
                "{subject} is forbidden: User \"{}\" cannot {} resource \"{}\" in API group \"{}\" {scope}",
                user.name, a.verb, a.resource, a.group
            ),
        )
    }
}
