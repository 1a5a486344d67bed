//! Lists as kubectl reads them: 500 a page, reads retried, errors naming what was listed.

use kube::api::{ListParams, ObjectList};
use kube::{Api, Client, Resource};
use sealos_shared::error::{KubeContext, Result};
use sealos_shared::retry::{self, Backoff};
use serde::de::DeserializeOwned;

/// Every object of a kind, in one namespace or all, 500 a page.
pub async fn all<K>(
    client: &Client,
    namespace: Option<&str>,
    selector: Option<&str>,
) -> Result<Vec<K>>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let mut params = ListParams::default().limit(500);
    if let Some(selector) = selector {
        params = params.labels(selector);
    }
    let mut items = Vec::new();
    loop {
        let page: ObjectList<K> = retry::read(Backoff::default(), || api.list(&params))
            .await
            .kube_context(|| {
                format!(
                    "list {} in {}",
                    K::plural(&()),
                    namespace.map_or("all namespaces".to_string(), |n| format!("{n:?}"))
                )
            })?;
        items.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(items),
        }
    }
}
