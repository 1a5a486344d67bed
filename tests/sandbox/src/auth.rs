//! Bearer-token authentication, and which authority decides what a user may do: the admin
//! (`system:masters`) may do everything, a token added with explicit rules is held to them, every
//! other user (ServiceAccount tokens, tokens added with `Tokens::add`) is decided by RBAC
//! (`rbac.rs`).

use std::collections::HashMap;
use std::sync::RwLock;

/// Who a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

/// The group whose members the API server allows everything, before any authorizer is asked.
pub const MASTERS: &str = "system:masters";
/// The group every authenticated user is in.
pub const AUTHENTICATED: &str = "system:authenticated";

impl User {
    /// `system:serviceaccount:NS:NAME` with the groups upstream's token authenticator gives it.
    pub fn service_account(namespace: &str, name: &str) -> User {
        User {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                AUTHENTICATED.into(),
            ],
        }
    }

    /// (namespace, name) when the user is a ServiceAccount.
    pub fn service_account_parts(&self) -> Option<(&str, &str)> {
        let rest = self.name.strip_prefix("system:serviceaccount:")?;
        let (ns, name) = rest.split_once(':')?;
        (!ns.is_empty() && !name.is_empty() && !name.contains(':')).then_some((ns, name))
    }

    /// Add the groups every authenticated user, and every ServiceAccount, is in (upstream's
    /// authenticators add them whatever the token says).
    fn with_implied_groups(mut self) -> User {
        let mut implied = vec![];
        if let Some((ns, _)) = self.service_account_parts() {
            implied.push("system:serviceaccounts".to_string());
            implied.push(format!("system:serviceaccounts:{ns}"));
        }
        implied.push(AUTHENTICATED.to_string());
        for g in implied {
            if !self.groups.contains(&g) {
                self.groups.push(g);
            }
        }
        self
    }
}

/// Who decides a user's requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authority {
    /// `system:masters`: everything.
    Everything,
    /// A token added with explicit rules (`add_restricted`, `--token-file`).
    Rules(Vec<Rule>),
    /// The stored Roles, ClusterRoles and their bindings.
    Rbac,
}

/// A token minted by a TokenRequest: valid until it expires, and while its ServiceAccount is the
/// one it was issued for (deleting the ServiceAccount revokes it, as upstream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub namespace: String,
    pub service_account: String,
    pub uid: String,
    pub expires: jiff::Timestamp,
}

#[derive(Debug, Default)]
pub struct Tokens {
    users: RwLock<HashMap<String, User>>,
    /// Rules per user name, for tokens added with explicit rules.
    rules: RwLock<HashMap<String, Vec<Rule>>>,
    bound: RwLock<HashMap<String, Bound>>,
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

    /// The user's explicit rules; None when the user has none.
    pub fn rules(&self, user: &User) -> Option<Vec<Rule>> {
        let g = match self.rules.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.get(&user.name).cloned()
    }

    /// Who decides what the user may do.
    pub fn authority(&self, user: &User) -> Authority {
        if user.groups.iter().any(|g| g == MASTERS) {
            return Authority::Everything;
        }
        match self.rules(user) {
            Some(rules) => Authority::Rules(rules),
            None => Authority::Rbac,
        }
    }

    /// A token for `user`. Users outside `system:masters` are authorized by RBAC; the kubelet
    /// mints a pod's token with `User::service_account(ns, sa)`.
    pub fn add(&self, token: &str, user: User) {
        match self.users.write() {
            Ok(mut g) => g.insert(token.to_string(), user),
            Err(p) => p.into_inner().insert(token.to_string(), user),
        };
    }

    /// A TokenRequest's token: the ServiceAccount's user, bound to its uid and an expiry.
    pub fn add_bound(&self, token: &str, bound: Bound) {
        self.add(
            token,
            User::service_account(&bound.namespace, &bound.service_account),
        );
        match self.bound.write() {
            Ok(mut g) => g.insert(token.to_string(), bound),
            Err(p) => p.into_inner().insert(token.to_string(), bound),
        };
    }

    /// What a TokenRequest token is bound to (None for other tokens).
    pub fn binding(&self, authorization: Option<&str>) -> Option<Bound> {
        let token = bearer(authorization)?;
        let g = match self.bound.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.get(token).cloned()
    }

    /// The user behind an `Authorization` header value, if it carries a known bearer token.
    pub fn authenticate(&self, authorization: Option<&str>) -> Option<User> {
        let token = bearer(authorization)?;
        let g = match self.users.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.get(token).cloned().map(User::with_implied_groups)
    }
}

fn bearer(authorization: Option<&str>) -> Option<&str> {
    Some(authorization?.strip_prefix("Bearer ")?.trim())
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
    let query = if watch {
        crate::query::Query::parse(Some("watch=true"))
    } else {
        crate::query::Query::default()
    };
    request_attributes(method, path, &query)
}

/// As upstream's RequestInfoFactory reads a resource path: `/api/V/...` or `/apis/G/V/...`,
/// `namespaces/NS/` (whose `status` and `finalize` are the Namespace's own subresources), the
/// verb from the method, and for a list or watch the name a `metadata.name=X` field selector
/// pins (so `resourceNames` rules cover `kubectl get pod x -w`).
pub fn request_attributes(
    method: &str,
    path: &str,
    query: &crate::query::Query,
) -> Option<Attributes> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, mut rest) = match segs.as_slice() {
        ["api", _, rest @ ..] if !rest.is_empty() => ("", rest),
        ["apis", g, _, rest @ ..] if !rest.is_empty() => (*g, rest),
        _ => return None,
    };
    let mut namespace = None;
    if let ["namespaces", ns, tail @ ..] = rest {
        namespace = Some(ns.to_string());
        if !tail.is_empty() && !matches!(tail[0], "status" | "finalize") {
            rest = tail;
        }
    }
    let (plural, mut name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(n.to_string()), None),
        [p, n, s, ..] => (
            *p,
            Some(n.split(':').next().unwrap_or(n).to_string()),
            Some(*s),
        ),
        [] => return None,
    };
    let watch = query.flag("watch");
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
    if name.is_none() && (verb == "list" || verb == "watch") {
        name = query
            .get("fieldSelector")
            .and_then(field_selector_name)
            .map(String::from);
    }
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

/// The name a field selector requires exactly (`metadata.name=x`, `metadata.name==x`), if it
/// is a valid path segment.
fn field_selector_name(selector: &str) -> Option<&str> {
    let mut found = None;
    for term in selector.split(',') {
        let value = term
            .strip_prefix("metadata.name==")
            .or_else(|| term.strip_prefix("metadata.name="));
        if let Some(v) = value {
            found = Some(v);
        }
    }
    found.filter(|n| !n.is_empty() && *n != "." && *n != ".." && !n.contains(['/', '%']))
}

/// The 403 upstream answers, word for word.
pub fn forbidden(user: &User, a: &Attributes) -> crate::status::ApiError {
    forbidden_because(user, a, "")
}

/// The 403 upstream answers, with the authorizer's reason (e.g. `RBAC: role... not found`)
/// after a colon when there is one.
pub fn forbidden_because(user: &User, a: &Attributes, reason: &str) -> crate::status::ApiError {
    let base = a.resource.split('/').next().unwrap_or("");
    let qualified = crate::status::qualified(&a.group, base);
    let subject = match &a.name {
        Some(n) if !n.is_empty() => format!("{qualified} \"{n}\""),
        _ => qualified,
    };
    let scope = match &a.namespace {
        Some(ns) if !ns.is_empty() => format!("in the namespace \"{ns}\""),
        _ => "at the cluster scope".to_string(),
    };
    let mut details = serde_json::json!({ "kind": base });
    if let Some(n) = a.name.as_ref().filter(|n| !n.is_empty()) {
        details["name"] = serde_json::json!(n);
    }
    if !a.group.is_empty() {
        details["group"] = serde_json::json!(a.group);
    }
    let why = format!(
        "User \"{}\" cannot {} resource \"{}\" in API group \"{}\" {scope}",
        user.name, a.verb, a.resource, a.group
    );
    crate::status::ApiError {
        details: Some(details),
        ..crate::status::ApiError::new(
            403,
            "Forbidden",
            format!("{subject} is forbidden: {}", with_reason(why, reason)),
        )
    }
}

/// The 403 for a non-resource path (`/version`, `/apis`, ...).
pub fn forbidden_path(
    user: &User,
    verb: &str,
    path: &str,
    reason: &str,
) -> crate::status::ApiError {
    let why = format!("User \"{}\" cannot {verb} path \"{path}\"", user.name);
    crate::status::ApiError {
        details: Some(serde_json::json!({})),
        ..crate::status::ApiError::new(
            403,
            "Forbidden",
            format!("forbidden: {}", with_reason(why, reason)),
        )
    }
}

fn with_reason(why: String, reason: &str) -> String {
    if reason.is_empty() {
        why
    } else {
        format!("{why}: {reason}")
    }
}
