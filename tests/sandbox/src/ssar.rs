//! SelfSubjectAccessReview (JSON, and the protobuf envelope kubectl sends) and
//! SelfSubjectRulesReview, decided by the same authority as the requests themselves
//! (`authorize.rs`): RBAC for ServiceAccounts and other users, a token's explicit rules, or
//! everything for the admin.

use crate::auth::{Attributes, Authority, Rule, User};
use crate::cluster::Cluster;
use crate::protobuf::{field, fields, text, unwrap};
use crate::rbac::Request;
use crate::registry::ResourceInfo;
use crate::response::{self, Resp};
use crate::server::ApiRequest;
use crate::status::ApiError;
use serde_json::{Value, json};

pub fn handle(cluster: &Cluster, req: &ApiRequest, info: &ResourceInfo) -> Result<Resp, ApiError> {
    let review = if req
        .content_type
        .starts_with("application/vnd.kubernetes.protobuf")
    {
        if info.plural == "selfsubjectrulesreviews" {
            rules_review_from_protobuf(&req.body).ok_or_else(|| {
                ApiError::bad_request("unable to decode the protobuf SelfSubjectRulesReview")
            })?
        } else {
            from_protobuf(&req.body).ok_or_else(|| {
                ApiError::bad_request("unable to decode the protobuf SelfSubjectAccessReview")
            })?
        }
    } else {
        serde_json::from_slice::<Value>(&req.body).map_err(|e| {
            ApiError::bad_request(format!("the object provided is unrecognized: {e}"))
        })?
    };
    let mut out = json!({
        "kind": info.kind,
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": { "creationTimestamp": null },
        "spec": review.get("spec").cloned().unwrap_or(json!({})),
    });
    out["status"] = if info.plural == "selfsubjectrulesreviews" {
        let ns = out["spec"]["namespace"].as_str().unwrap_or("");
        if ns.is_empty() {
            return Err(ApiError::bad_request("no namespace on request"));
        }
        rules_status(cluster, &req.user, ns)
    } else {
        access_status(cluster, &req.user, &out["spec"])
    };
    Ok(response::json(201, &out))
}

/// SelfSubjectAccessReview: the decision the request itself would get.
fn access_status(cluster: &Cluster, user: &User, spec: &Value) -> Value {
    let s = |v: &Value, k: &str| v[k].as_str().filter(|v| !v.is_empty()).map(String::from);
    let ra = &spec["resourceAttributes"];
    let decision = if ra.is_object() {
        let resource = match s(ra, "subresource") {
            Some(sub) => format!("{}/{sub}", s(ra, "resource").unwrap_or_default()),
            None => s(ra, "resource").unwrap_or_default(),
        };
        let a = Attributes {
            verb: s(ra, "verb").unwrap_or_default(),
            group: s(ra, "group").unwrap_or_default(),
            resource,
            namespace: s(ra, "namespace"),
            name: s(ra, "name"),
        };
        crate::authorize::decide(cluster, user, &Request::Resource(&a))
    } else {
        let nra = &spec["nonResourceAttributes"];
        let verb = s(nra, "verb").unwrap_or_default();
        let path = s(nra, "path").unwrap_or_default();
        crate::authorize::decide(
            cluster,
            user,
            &Request::NonResource {
                verb: &verb,
                path: &path,
            },
        )
    };
    let mut status = json!({ "allowed": decision.allowed });
    if !decision.reason.is_empty() {
        status["reason"] = json!(decision.reason);
    }
    status
}

/// SelfSubjectRulesReview: the rules that apply in the namespace.
fn rules_status(cluster: &Cluster, user: &User, ns: &str) -> Value {
    if let Authority::Rules(rules) = cluster.tokens.authority(user) {
        return restricted_rules(&rules, ns);
    }
    let (rules, error) = crate::rbac::rules_for(&cluster.store, user, ns);
    let resource_rules: Vec<Value> = rules
        .iter()
        .filter(|r| r["resources"].as_array().is_some_and(|a| !a.is_empty()))
        .map(|r| {
            let mut out = json!({ "verbs": r["verbs"] });
            for key in ["apiGroups", "resources", "resourceNames"] {
                if r[key].as_array().is_some_and(|a| !a.is_empty()) {
                    out[key] = r[key].clone();
                }
            }
            out
        })
        .collect();
    let non_resource_rules: Vec<Value> = rules
        .iter()
        .filter(|r| {
            r["nonResourceURLs"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        })
        .map(|r| json!({ "verbs": r["verbs"], "nonResourceURLs": r["nonResourceURLs"] }))
        .collect();
    let mut status = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": false,
    });
    if let Some(e) = error {
        status["evaluationError"] = json!(e);
    }
    status
}

/// The rules of a token with explicit rules, as RBAC would write them.
fn restricted_rules(rules: &[Rule], ns: &str) -> Value {
    let resource_rules: Vec<Value> = rules
        .iter()
        .filter(|r| r.namespaces.is_empty() || r.namespaces.iter().any(|n| n == "*" || n == ns))
        .map(|r| json!({ "verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources }))
        .collect();
    json!({
        "resourceRules": resource_rules,
        "nonResourceRules": [{ "verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/version", "/openapi/*"] }],
        // Exclusions (`except_resources`) cannot be written as RBAC rules.
        "incomplete": rules.iter().any(|r| !r.except_resources.is_empty()),
    })
}

/// SelfSubjectReview (`kubectl auth whoami`): who the token belongs to. The body says nothing
/// the answer needs, so it is not decoded.
pub fn whoami(req: &ApiRequest) -> Resp {
    response::json(
        201,
        &json!({
            "kind": "SelfSubjectReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": { "creationTimestamp": null },
            "status": { "userInfo": { "username": req.user.name, "groups": req.user.groups } },
        }),
    )
}

/// A SelfSubjectRulesReview: spec=2 → namespace=1.
pub fn rules_review_from_protobuf(body: &[u8]) -> Option<Value> {
    let (_, _, raw) = unwrap(body)?;
    let review = fields(&raw)?;
    let spec = fields(field(&review, 2).unwrap_or_default())?;
    Some(json!({ "spec": { "namespace": text(&spec, 1) } }))
}

/// `k8s\0` + Unknown{typeMeta=1, raw=2}; raw is the review: spec=2 → resourceAttributes=1 →
/// namespace=1, verb=2, group=3, version=4, resource=5, subresource=6, name=7;
/// nonResourceAttributes=2 → path=1, verb=2.
pub fn from_protobuf(body: &[u8]) -> Option<Value> {
    let (_, _, raw) = unwrap(body)?;
    let review = fields(&raw)?;
    let spec = fields(field(&review, 2).unwrap_or_default())?;
    let mut out = json!({});
    if let Some(ra) = field(&spec, 1) {
        let ra = fields(ra)?;
        out["resourceAttributes"] = json!({
            "namespace": text(&ra, 1), "verb": text(&ra, 2), "group": text(&ra, 3), "version": text(&ra, 4),
            "resource": text(&ra, 5), "subresource": text(&ra, 6), "name": text(&ra, 7),
        });
    }
    if let Some(nra) = field(&spec, 2) {
        let nra = fields(nra)?;
        out["nonResourceAttributes"] = json!({ "path": text(&nra, 1), "verb": text(&nra, 2) });
    }
    Some(json!({ "spec": out }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ld(field: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![(field << 3) | 2, payload.len() as u8];
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn decodes_kubectl_envelope() {
        let mut attrs = ld(1, b"sealos-system");
        attrs.extend(ld(2, b"patch"));
        attrs.extend(ld(3, b"apps"));
        attrs.extend(ld(5, b"deployments"));
        let spec = ld(1, &attrs);
        let review = ld(2, &spec);
        let mut body = b"k8s\0".to_vec();
        body.extend(ld(1, &ld(1, b"authorization.k8s.io/v1")));
        body.extend(ld(2, &review));
        let v = from_protobuf(&body).unwrap();
        let ra = &v["spec"]["resourceAttributes"];
        assert_eq!(ra["verb"], "patch");
        assert_eq!(ra["resource"], "deployments");
        assert_eq!(ra["namespace"], "sealos-system");
        assert!(from_protobuf(b"nope").is_none());
    }
}
