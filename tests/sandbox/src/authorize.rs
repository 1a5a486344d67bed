//! One decision for every request and every review: the admin may do everything, a token with
//! explicit rules is held to them (reviews and discovery always allowed, as before RBAC), and
//! everyone else is decided by RBAC over the stored objects.

use crate::auth::{self, Attributes, Authority, User};
use crate::cluster::Cluster;
use crate::query::Query;
use crate::rbac::{self, Decision, Request};
use crate::status::ApiError;

/// Whether `user` may do what `req` asks, and why.
pub fn decide(cluster: &Cluster, user: &User, req: &Request) -> Decision {
    let allow = |reason: &str| Decision {
        allowed: true,
        reason: reason.to_string(),
    };
    match cluster.tokens.authority(user) {
        Authority::Everything => allow(""),
        Authority::Rules(rules) => match req {
            Request::NonResource { .. } => allow("non-resource URLs are readable by every user"),
            Request::Resource(a) if is_review(a) => allow("reviews are open to every user"),
            Request::Resource(a) if rules.iter().any(|r| r.allows(a)) => {
                allow("allowed by the token's rules")
            }
            Request::Resource(_) => Decision {
                allowed: false,
                reason: String::new(),
            },
        },
        Authority::Rbac => rbac::authorize(&cluster.store, user, req),
    }
}

fn is_review(a: &Attributes) -> bool {
    a.group == "authorization.k8s.io" || a.group == "authentication.k8s.io"
}

/// Authorize one HTTP request: Ok, or the 403 upstream answers.
pub fn check(
    cluster: &Cluster,
    user: &User,
    method: &str,
    path: &str,
    query: &Query,
) -> Result<(), ApiError> {
    match auth::request_attributes(method, path, query) {
        Some(a) => {
            let d = decide(cluster, user, &Request::Resource(&a));
            if d.allowed {
                Ok(())
            } else {
                Err(auth::forbidden_because(user, &a, &d.reason))
            }
        }
        None => {
            let verb = method.to_lowercase();
            let d = decide(cluster, user, &Request::NonResource { verb: &verb, path });
            if d.allowed {
                Ok(())
            } else {
                Err(auth::forbidden_path(user, &verb, path, &d.reason))
            }
        }
    }
}
