//! The one way to list: pages of 500 as kubectl reads them, each page retried (`retry::read`),
//! and a list whose continue token expired (410 Gone) read again from its start, so what a caller
//! gets is one consistent list and never a silent first page.

use kube::api::{Api, ApiResource, DynamicObject, ListParams, ObjectList};
use kube::core::NamespaceResourceScope;
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use crate::error::{Error, KubeContext, Result};
use crate::retry::{self, Backoff};

/// Objects a page: big enough to be few requests, small enough for a busy server (kubectl's).
pub const PAGE: u32 = 500;

/// How often one list may start over after its continue token expired before it gives up.
pub const RESTARTS: u32 = 3;

/// An `Api` for one namespace, or all of them with `None`.
pub fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// [`api`] for a resource known at run time (a CRD, a kind named by an archive).
pub fn dynamic_api(
    client: &Client,
    namespace: Option<&str>,
    resource: &ApiResource,
) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    }
}

/// What a list reads, as errors name it: `pods in "ns"`, `pods in all namespaces`.
pub fn describe(plural: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("{plural} in {ns:?}"),
        None => format!("{plural} in all namespaces"),
    }
}

/// Every `K` in `namespace` (all with `None`) matching the label `selector`.
pub async fn in_scope<K>(
    client: &Client,
    namespace: Option<&str>,
    selector: Option<&str>,
) -> Result<Vec<K>>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let mut params = ListParams::default();
    if let Some(selector) = selector.filter(|s| !s.is_empty()) {
        params = params.labels(selector);
    }
    let what = match &params.label_selector {
        Some(selector) => describe(
            &format!("{} with labels {selector:?}", K::plural(&())),
            namespace,
        ),
        None => describe(&K::plural(&()), namespace),
    };
    list_all(&api(client, namespace), &params, &what).await
}

/// Every object `api` lists with `params`, page by page; `what` names the list in errors.
pub async fn list_all<K>(api: &Api<K>, params: &ListParams, what: &str) -> Result<Vec<K>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    Pager::new(api, params, what).collect().await
}

/// One page, and whether the list started over from its beginning to give it.
#[derive(Debug)]
pub struct Page<K> {
    pub items: Vec<K>,
    /// True on the first page after an expired continue token: pages given before are repeated.
    pub restarted: bool,
}

/// A list read one page at a time, for callers that act on each page as it comes (streaming
/// a backup) instead of holding the whole list.
pub struct Pager<'a, K: Clone + DeserializeOwned> {
    api: &'a Api<K>,
    params: ListParams,
    what: String,
    backoff: Backoff,
    token: Option<String>,
    restarts: u32,
    restarted: bool,
    done: bool,
}

impl<'a, K> Pager<'a, K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    /// `params` as given, 500 a page unless they set a limit.
    pub fn new(api: &'a Api<K>, params: &ListParams, what: &str) -> Self {
        let mut params = params.clone();
        if params.limit.is_none() {
            params.limit = Some(PAGE);
        }
        Pager {
            api,
            params,
            what: what.to_string(),
            backoff: Backoff::default(),
            token: None,
            restarts: 0,
            restarted: false,
            done: false,
        }
    }

    /// Retries each page with `backoff` instead of the default.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The next page, `None` after the last.
    pub async fn next(&mut self) -> Result<Option<Page<K>>> {
        loop {
            if self.done {
                return Ok(None);
            }
            let mut params = self.params.clone();
            params.continue_token = self.token.clone();
            let page: std::result::Result<ObjectList<K>, kube::Error> =
                retry::read(self.backoff, || self.api.list(&params)).await;
            let page = match page {
                Err(kube::Error::Api(status)) if status.code == 410 && self.token.is_some() => {
                    // client-go's pager relists too: the continue token outlived the server's
                    // snapshot, and only a fresh list is consistent.
                    self.restarts += 1;
                    if self.restarts > RESTARTS {
                        return Err(Error::failed(format!(
                            "list {}: the continue token expired {} times",
                            self.what, self.restarts
                        )));
                    }
                    self.token = None;
                    self.restarted = true;
                    continue;
                }
                other => other.kube_context(|| format!("list {}", self.what))?,
            };
            self.token = page.metadata.continue_.filter(|c| !c.is_empty());
            self.done = self.token.is_none();
            return Ok(Some(Page {
                items: page.items,
                restarted: std::mem::take(&mut self.restarted),
            }));
        }
    }

    /// Every object, the pages joined; a restart drops what the pages before it gave.
    pub async fn collect(mut self) -> Result<Vec<K>> {
        let mut items = Vec::new();
        while let Some(page) = self.next().await? {
            if page.restarted {
                items.clear();
            }
            items.extend(page.items);
        }
        Ok(items)
    }

    /// Times the list started over.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }
}
