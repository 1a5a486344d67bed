//! Impersonation (`kubectl --as=... --as-group=... --as-uid=...`): the `Impersonate-User`,
//! `Impersonate-Group` and `Impersonate-Uid` headers, each authorized as upstream's filter does
//! (verb `impersonate` on `users`, `serviceaccounts` in their namespace, `groups`, or `uids` in
//! `authentication.k8s.io`), then the request goes on as the impersonated user.

use crate::auth::{AUTHENTICATED, Attributes, User};
use crate::cluster::Cluster;
use crate::rbac::Request;
use crate::status::ApiError;

/// What the impersonation headers ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asked {
    pub user: Option<String>,
    pub groups: Vec<String>,
    pub uid: Option<String>,
    /// `Impersonate-Extra-*` header names, which only count for "without a user".
    pub extra: bool,
}

impl Asked {
    pub fn from_headers(headers: &hyper::HeaderMap) -> Asked {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(String::from)
        };
        Asked {
            user: text("impersonate-user"),
            groups: headers
                .get_all("impersonate-group")
                .iter()
                .filter_map(|v| v.to_str().ok().map(String::from))
                .collect(),
            uid: text("impersonate-uid"),
            extra: headers
                .keys()
                .any(|k| k.as_str().starts_with("impersonate-extra-")),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.user.is_none() && self.groups.is_empty() && self.uid.is_none() && !self.extra
    }
}

/// The user the request acts as, after checking `requestor` may impersonate every part of it.
pub fn resolve(cluster: &Cluster, requestor: &User, asked: &Asked) -> Result<User, ApiError> {
    let Some(name) = &asked.user else {
        return Err(ApiError::internal(
            "requested impersonation of groups, a uid or extra fields without impersonating a user",
        ));
    };
    let sa = User {
        name: name.clone(),
        groups: vec![],
    };
    let sa = sa.service_account_parts();
    let mut checks = vec![match sa {
        Some((ns, n)) => attrs("serviceaccounts", "", Some(ns), n),
        None => attrs("users", "", None, name),
    }];
    checks.extend(asked.groups.iter().map(|g| attrs("groups", "", None, g)));
    if let Some(uid) = &asked.uid {
        checks.push(attrs("uids", "authentication.k8s.io", None, uid));
    }
    for a in &checks {
        let d = crate::authorize::decide(cluster, requestor, &Request::Resource(a));
        if !d.allowed {
            return Err(crate::auth::forbidden_because(requestor, a, &d.reason));
        }
    }
    let mut groups = asked.groups.clone();
    if groups.is_empty()
        && let Some((ns, _)) = sa
    {
        groups = vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{ns}"),
        ];
    }
    if !groups
        .iter()
        .any(|g| g == AUTHENTICATED || g == "system:unauthenticated")
    {
        groups.push(AUTHENTICATED.into());
    }
    Ok(User {
        name: name.clone(),
        groups,
    })
}

fn attrs(resource: &str, group: &str, namespace: Option<&str>, name: &str) -> Attributes {
    Attributes {
        verb: "impersonate".into(),
        group: group.into(),
        resource: resource.into(),
        namespace: namespace.map(String::from),
        name: Some(name.into()),
    }
}
