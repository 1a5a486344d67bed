//! Istio AuthorizationPolicy on the destination's proxy: CUSTOM, then DENY, then ALLOW (AUDIT
//! never decides). A policy applies to a workload from the root namespace (every workload, or
//! those its selector matches in any namespace) or from the workload's own namespace. Rules are
//! ORed; within a rule `from`, `to` and `when` are ANDed; within `from`/`to` the entries are
//! ORed; within an entry the fields are ANDed; a field's values are ORed, its `notX` form
//! matches when none does.

use std::net::IpAddr;

use serde::Deserialize;

use crate::resources::istio::AuthorizationPolicy;

use super::mtls::Transport;
use super::network::cidr_contains;
use super::selector::istio_string;
use super::{Connection, Decider, Decision, HttpRequest, Layer, Pod, Ruling, World};

/// One rule of `spec.rules`, as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuthzRule {
    #[serde(default)]
    pub from: Vec<From>,
    #[serde(default)]
    pub to: Vec<To>,
    #[serde(default)]
    pub when: Vec<Condition>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct From {
    #[serde(default)]
    pub source: Source,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct To {
    #[serde(default)]
    pub operation: Operation,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub principals: Option<Vec<String>>,
    pub not_principals: Option<Vec<String>>,
    pub request_principals: Option<Vec<String>>,
    pub not_request_principals: Option<Vec<String>>,
    pub namespaces: Option<Vec<String>>,
    pub not_namespaces: Option<Vec<String>>,
    pub ip_blocks: Option<Vec<String>>,
    pub not_ip_blocks: Option<Vec<String>>,
    pub remote_ip_blocks: Option<Vec<String>>,
    pub not_remote_ip_blocks: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub hosts: Option<Vec<String>>,
    pub not_hosts: Option<Vec<String>>,
    pub ports: Option<Vec<String>>,
    pub not_ports: Option<Vec<String>>,
    pub methods: Option<Vec<String>>,
    pub not_methods: Option<Vec<String>>,
    pub paths: Option<Vec<String>>,
    pub not_paths: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    pub key: String,
    pub values: Option<Vec<String>>,
    pub not_values: Option<Vec<String>>,
}

impl AuthzRule {
    /// None when the rule does not parse (the API server's schema would have refused it).
    pub fn parse(value: &serde_json::Value) -> Option<AuthzRule> {
        serde_json::from_value(value.clone()).ok()
    }
}

/// Whether an ALLOW rule lets in any caller: no `from`, or a `from` entry that names no
/// identity, namespace or address, and no `when` on the source.
pub fn rule_admits_any_caller(rule: &AuthzRule) -> bool {
    let narrows = |s: &Source| {
        [
            &s.principals,
            &s.not_principals,
            &s.request_principals,
            &s.not_request_principals,
            &s.namespaces,
            &s.not_namespaces,
            &s.ip_blocks,
            &s.not_ip_blocks,
            &s.remote_ip_blocks,
            &s.not_remote_ip_blocks,
        ]
        .iter()
        .any(|f| f.is_some())
    };
    let source_when = rule.when.iter().any(|c| {
        c.key.starts_with("source.")
            || c.key.starts_with("remote.")
            || c.key.starts_with("request.auth")
    });
    (rule.from.is_empty() || rule.from.iter().any(|f| !narrows(&f.source))) && !source_when
}

/// Three-valued matching: a field we cannot evaluate from the objects is Unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum M {
    Yes,
    No,
    Unknown,
}

fn all(items: impl IntoIterator<Item = M>) -> M {
    let mut out = M::Yes;
    for m in items {
        match m {
            M::No => return M::No,
            M::Unknown => out = M::Unknown,
            M::Yes => {}
        }
    }
    out
}

fn any(items: impl IntoIterator<Item = M>) -> M {
    let mut out = M::No;
    for m in items {
        match m {
            M::Yes => return M::Yes,
            M::Unknown => out = M::Unknown,
            M::No => {}
        }
    }
    out
}

fn yes(b: bool) -> M {
    if b { M::Yes } else { M::No }
}

/// What the destination's proxy knows about the request.
#[derive(Clone)]
struct Request<'a> {
    principal: Option<String>,
    namespace: Option<String>,
    source_ip: Option<IpAddr>,
    destination_ip: Option<IpAddr>,
    port: u16,
    http: Option<&'a HttpRequest>,
    /// DENY treats HTTP-only fields on TCP as matching (the stricter reading), ALLOW as not.
    deny: bool,
}

impl Request<'_> {
    /// A field only HTTP carries: on TCP, ignored in DENY rules and unmatched in ALLOW rules.
    fn http_only(&self, present: bool, on_http: impl FnOnce(&HttpRequest) -> M) -> M {
        if !present {
            return M::Yes;
        }
        match self.http {
            Some(h) => on_http(h),
            None => yes(self.deny),
        }
    }
}

/// `values` absent: no constraint; else one of them matches.
fn positive(values: &Option<Vec<String>>, hit: impl Fn(&str) -> bool) -> M {
    match values {
        None => M::Yes,
        Some(v) => yes(v.iter().any(|p| hit(p))),
    }
}

/// `notValues` absent: no constraint; else none of them matches.
fn negative(values: &Option<Vec<String>>, hit: impl Fn(&str) -> bool) -> M {
    match values {
        None => M::Yes,
        Some(v) => yes(!v.iter().any(|p| hit(p))),
    }
}

fn ip_in(block: &str, ip: Option<IpAddr>) -> bool {
    let Some(ip) = ip else { return false };
    if block.contains('/') {
        cidr_contains(block, ip) == Some(true)
    } else {
        block.parse::<IpAddr>().is_ok_and(|b| b == ip)
    }
}

fn source_matches(s: &Source, r: &Request) -> M {
    let principal = r.principal.as_deref();
    let namespace = r.namespace.as_deref();
    all([
        positive(&s.principals, |p| istio_string(p, principal)),
        negative(&s.not_principals, |p| istio_string(p, principal)),
        // The request carries no JWT: no request principal.
        r.http_only(s.request_principals.is_some(), |_| {
            positive(&s.request_principals, |p| istio_string(p, None))
        }),
        r.http_only(s.not_request_principals.is_some(), |_| {
            negative(&s.not_request_principals, |p| istio_string(p, None))
        }),
        positive(&s.namespaces, |p| istio_string(p, namespace)),
        negative(&s.not_namespaces, |p| istio_string(p, namespace)),
        positive(&s.ip_blocks, |b| ip_in(b, r.source_ip)),
        negative(&s.not_ip_blocks, |b| ip_in(b, r.source_ip)),
        // Inside the mesh the original client is the peer itself (no X-Forwarded-For).
        positive(&s.remote_ip_blocks, |b| ip_in(b, r.source_ip)),
        negative(&s.not_remote_ip_blocks, |b| ip_in(b, r.source_ip)),
    ])
}

fn path_match(pattern: &str, path: &str) -> M {
    // `{*}`/`{**}` templates are not modelled.
    if pattern.contains('{') {
        return M::Unknown;
    }
    yes(istio_string(pattern, Some(path)))
}

fn operation_matches(o: &Operation, r: &Request) -> M {
    let port = r.port.to_string();
    let host = |h: &HttpRequest| h.host.clone();
    all([
        r.http_only(o.hosts.is_some(), |h| match host(h) {
            Some(v) => positive(&o.hosts, |p| {
                istio_string(&p.to_lowercase(), Some(&v.to_lowercase()))
            }),
            None => M::Unknown,
        }),
        r.http_only(o.not_hosts.is_some(), |h| match host(h) {
            Some(v) => negative(&o.not_hosts, |p| {
                istio_string(&p.to_lowercase(), Some(&v.to_lowercase()))
            }),
            None => M::Unknown,
        }),
        positive(&o.ports, |p| p == port),
        negative(&o.not_ports, |p| p == port),
        r.http_only(o.methods.is_some(), |h| {
            positive(&o.methods, |m| istio_string(m, Some(&h.method)))
        }),
        r.http_only(o.not_methods.is_some(), |h| {
            negative(&o.not_methods, |m| istio_string(m, Some(&h.method)))
        }),
        r.http_only(o.paths.is_some(), |h| match &o.paths {
            Some(v) => any(v.iter().map(|p| path_match(p, &h.path))),
            None => M::Yes,
        }),
        r.http_only(o.not_paths.is_some(), |h| match &o.not_paths {
            Some(v) => match any(v.iter().map(|p| path_match(p, &h.path))) {
                M::Yes => M::No,
                M::No => M::Yes,
                M::Unknown => M::Unknown,
            },
            None => M::Yes,
        }),
    ])
}

fn condition_matches(c: &Condition, r: &Request) -> M {
    let value: Result<Option<String>, ()> = match c.key.as_str() {
        "source.ip" | "remote.ip" => {
            return all([
                positive(&c.values, |b| ip_in(b, r.source_ip)),
                negative(&c.not_values, |b| ip_in(b, r.source_ip)),
            ]);
        }
        "destination.ip" => {
            return all([
                positive(&c.values, |b| ip_in(b, r.destination_ip)),
                negative(&c.not_values, |b| ip_in(b, r.destination_ip)),
            ]);
        }
        "source.namespace" => Ok(r.namespace.clone()),
        "source.principal" => Ok(r.principal.clone()),
        "destination.port" => Ok(Some(r.port.to_string())),
        key if key.starts_with("request.") => {
            if r.http.is_none() {
                return yes(r.deny);
            }
            if key.starts_with("request.auth.") {
                // No JWT on the request.
                Ok(None)
            } else {
                Err(())
            }
        }
        _ => Err(()),
    };
    let Ok(value) = value else {
        return M::Unknown;
    };
    let value = value.as_deref();
    all([
        positive(&c.values, |p| istio_string(p, value)),
        negative(&c.not_values, |p| istio_string(p, value)),
    ])
}

fn rule_matches(rule: &AuthzRule, r: &Request) -> M {
    let from = if rule.from.is_empty() {
        M::Yes
    } else {
        any(rule.from.iter().map(|f| source_matches(&f.source, r)))
    };
    let to = if rule.to.is_empty() {
        M::Yes
    } else {
        any(rule.to.iter().map(|t| operation_matches(&t.operation, r)))
    };
    all([
        from,
        to,
        all(rule.when.iter().map(|c| condition_matches(c, r))),
    ])
}

fn meta(p: &AuthorizationPolicy) -> (&str, &str) {
    (
        p.metadata.namespace.as_deref().unwrap_or_default(),
        p.metadata.name.as_deref().unwrap_or_default(),
    )
}

/// Whether the policy applies to `pod`'s sidecar.
pub fn applies(world: &World, p: &AuthorizationPolicy, pod: &Pod) -> bool {
    let (ns, _) = meta(p);
    if p.spec.extra.contains_key("targetRef") || p.spec.extra.contains_key("targetRefs") {
        return false;
    }
    if ns != pod.namespace && ns != world.root() {
        return false;
    }
    p.spec.selector.as_ref().is_none_or(|s| {
        s.match_labels
            .iter()
            .all(|(k, v)| pod.labels.get(k) == Some(v))
    })
}

fn action(p: &AuthorizationPolicy) -> &str {
    p.spec.action.as_deref().unwrap_or("ALLOW")
}

/// The rules of the given policies that match (Yes) and that might (Unknown). A rule that
/// does not parse counts as Unknown.
fn matching(policies: &[&AuthorizationPolicy], r: &Request) -> (Vec<Decider>, Vec<Decider>) {
    let mut hit = Vec::new();
    let mut maybe = Vec::new();
    for p in policies {
        let (ns, name) = meta(p);
        for (i, raw) in p.spec.rules.iter().enumerate() {
            let d = Decider::new("AuthorizationPolicy", ns, name, Some(format!("rules[{i}]")));
            match AuthzRule::parse(raw).map(|rule| rule_matches(&rule, r)) {
                Some(M::Yes) => hit.push(d),
                Some(M::No) => {}
                Some(M::Unknown) | None => maybe.push(d),
            }
        }
    }
    (hit, maybe)
}

pub fn evaluate(world: &World, conn: &Connection, transport: Option<&Transport>) -> Ruling {
    let (Some(dst), Some(transport)) = (conn.to.pod(), transport) else {
        return Ruling::new(
            Layer::Authorization,
            Decision::Allowed,
            format!(
                "{} has no sidecar: no AuthorizationPolicy is enforced",
                conn.to.display()
            ),
        );
    };
    let src = conn.from.pod();
    let base = Request {
        principal: src.filter(|_| transport.mtls).map(Pod::principal),
        namespace: src.filter(|_| transport.mtls).map(|p| p.namespace.clone()),
        source_ip: conn.from.ip(),
        destination_ip: dst.ip,
        port: conn.port,
        http: conn.http.as_ref(),
        deny: false,
    };
    let of = |a: &str| -> Vec<&AuthorizationPolicy> {
        world
            .authorization_policies
            .iter()
            .filter(|p| action(p) == a && applies(world, p, dst))
            .collect()
    };
    let (custom, deny, allow) = (of("CUSTOM"), of("DENY"), of("ALLOW"));
    let (custom_hit, custom_maybe) = matching(&custom, &base);
    if !custom_hit.is_empty() || !custom_maybe.is_empty() {
        return Ruling::new(
            Layer::Authorization,
            Decision::Unknown,
            "a CUSTOM policy sends the request to an external authorizer, which decides",
        )
        .by([custom_hit, custom_maybe].concat());
    }
    let (deny_hit, deny_maybe) = matching(
        &deny,
        &Request {
            deny: true,
            ..base.clone()
        },
    );
    if !deny_hit.is_empty() {
        return Ruling::new(
            Layer::Authorization,
            Decision::Refused,
            "a DENY rule matches",
        )
        .by(deny_hit);
    }
    let (allow_hit, allow_maybe) = matching(&allow, &base);
    if !deny_maybe.is_empty() {
        return Ruling::new(
            Layer::Authorization,
            Decision::Unknown,
            "a DENY rule depends on what the objects do not say (a header, a path template)",
        )
        .by(deny_maybe);
    }
    if allow.is_empty() {
        return Ruling::new(
            Layer::Authorization,
            Decision::Allowed,
            format!(
                "no ALLOW policy applies to {}: allowed by default",
                dst.name
            ),
        );
    }
    if !allow_hit.is_empty() {
        return Ruling::new(
            Layer::Authorization,
            Decision::Allowed,
            "an ALLOW rule matches",
        )
        .by(allow_hit);
    }
    if !allow_maybe.is_empty() {
        return Ruling::new(
            Layer::Authorization,
            Decision::Unknown,
            "only ALLOW rules that depend on what the objects do not say could match",
        )
        .by(allow_maybe);
    }
    let all_allow = allow
        .iter()
        .map(|p| {
            let (ns, name) = meta(p);
            Decider::new("AuthorizationPolicy", ns, name, None)
        })
        .collect();
    Ruling::new(
        Layer::Authorization,
        Decision::Refused,
        format!(
            "ALLOW policies apply to {} and no rule matches the request",
            dst.name
        ),
    )
    .by(all_allow)
}
