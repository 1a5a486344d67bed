//! From a path to what answers it: discovery, OpenAPI, or a resource (with namespace, name and
//! subresource) handed to the verbs.

use crate::cluster::Cluster;
use crate::registry::ResourceInfo;
use crate::response::{self, Resp};
use crate::server::ApiRequest;
use crate::status::ApiError;
use crate::{discovery, openapi, verbs};
use hyper::Method;
use std::sync::Arc;

/// A resource path, resolved against the registry.
#[derive(Debug, Clone)]
pub struct Target {
    pub info: ResourceInfo,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

pub async fn route(cluster: &Arc<Cluster>, req: ApiRequest) -> Resp {
    let path = req.path.trim_end_matches('/').to_string();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if req.method == Method::GET {
        match segs.as_slice() {
            ["version"] => return response::json(200, &discovery::version()),
            ["healthz"] | ["livez"] | ["readyz"] => return response::text(200, "ok".into()),
            ["api"] => return discovery::api(cluster, &req.accept),
            ["apis"] => return discovery::apis(cluster, &req.accept),
            ["api", v] => return found(discovery::resource_list(cluster, "", v)),
            ["apis", g] => return found(discovery::group(cluster, g)),
            ["apis", g, v] => return found(discovery::resource_list(cluster, g, v)),
            ["openapi", "v3"] => return response::json(200, &openapi::index(cluster)),
            ["openapi", "v3", rest @ ..] => {
                return found(openapi::document_at(cluster, &rest.join("/")));
            }
            _ => {}
        }
    }
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return response::error(&ApiError::no_route()),
    };
    match resolve(cluster, group, version, rest) {
        Some(t) => verbs::handle(cluster, &req, t).await,
        None => response::error(&ApiError::no_route()),
    }
}

fn found(doc: Option<serde_json::Value>) -> Resp {
    match doc {
        Some(d) => response::json(200, &d),
        None => response::error(&ApiError::no_route()),
    }
}

/// `[namespaces, NS, plural, name?, sub?]` or `[plural, name?, sub?]`.
fn resolve(cluster: &Cluster, group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let own = |s: &str| Some(s.to_string());
    if let ["namespaces", ns, plural, tail @ ..] = rest
        && let Some(info) = cluster
            .registry
            .lookup(group, version, plural)
            .filter(|i| i.namespaced)
    {
        return match tail {
            [] => Some(Target {
                info,
                namespace: own(ns),
                name: None,
                subresource: None,
            }),
            [name] => Some(Target {
                info,
                namespace: own(ns),
                name: own(name),
                subresource: None,
            }),
            [name, sub] => Some(Target {
                info,
                namespace: own(ns),
                name: own(name),
                subresource: own(sub),
            }),
            _ => None,
        };
    }
    let (plural, tail) = rest.split_first()?;
    let info = cluster.registry.lookup(group, version, plural)?;
    let (name, subresource) = match tail {
        [] => (None, None),
        [name] => (own(name), None),
        [name, sub] => (own(name), own(sub)),
        _ => return None,
    };
    Some(Target {
        info,
        namespace: None,
        name,
        subresource,
    })
}
