//! Which version of each kind the server serves: core and apps are fixed; Istio and cert-manager
//! are discovered (a cluster may serve only `v1beta1`), and a group the server lacks is reported.

use std::collections::HashMap;

use kube::Client;
use kube::core::{ApiResource, GroupVersionKind};

use super::catalog::Kind;
use crate::error::{KubeContext, Result};
use crate::retry::{self, Backoff};

/// Discovery answers, one request per group.
#[derive(Default)]
pub struct Resolver {
    groups: HashMap<String, Option<kube::discovery::ApiGroup>>,
}

impl Resolver {
    /// The served resource for `kind`, or None when the server does not serve it.
    pub async fn resolve(&mut self, client: &Client, kind: &Kind) -> Result<Option<ApiResource>> {
        if kind.group.is_empty() || kind.group == "apps" {
            return Ok(Some(fixed(kind)));
        }
        if !self.groups.contains_key(kind.group) {
            // Discovery is a read like any other: a 429 or 503 here must not end a backup.
            let found = match retry::read(Backoff::default(), || {
                kube::discovery::group(client, kind.group)
            })
            .await
            {
                Ok(group) => Some(group),
                Err(kube::Error::Discovery(_)) => None,
                Err(e) => {
                    return Err(e).kube_context(|| format!("discover API group {}", kind.group));
                }
            };
            self.groups.insert(kind.group.to_string(), found);
        }
        Ok(self
            .groups
            .get(kind.group)
            .and_then(Option::as_ref)
            .and_then(|g| g.recommended_kind(kind.kind))
            .map(|(resource, _)| resource))
    }
}

/// The resource at the catalogue's own version.
pub fn fixed(kind: &Kind) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(kind.group, kind.version, kind.kind),
        kind.plural,
    )
}
