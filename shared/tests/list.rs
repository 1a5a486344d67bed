//! `list`: every page of a long list, and a list whose continue token expired read again from
//! its start, against the sandbox's paging (500 a page, snapshots that expire).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::ListParams;
use sealos_sandbox::{Sandbox, SandboxOptions, scale};
use sealos_shared::connection::Kube;
use sealos_shared::list::{self, Pager};

async fn sandbox_with_pods(pods: usize) -> (Sandbox, Kube) {
    let sandbox = Sandbox::start(SandboxOptions::scenario("empty"))
        .await
        .unwrap();
    sandbox
        .add_generated(&scale::parse(&format!("pods={pods}")).unwrap())
        .unwrap();
    let kube = Kube::from_kubeconfig(sandbox.kubeconfig_path())
        .await
        .unwrap();
    (sandbox, kube)
}

fn names(pods: &[Pod]) -> BTreeSet<String> {
    pods.iter()
        .map(|p| format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any()))
        .collect()
}

#[tokio::test]
async fn a_long_list_is_read_to_its_last_page() {
    let (sandbox, kube) = sandbox_with_pods(1_200).await;
    let mark = sandbox.request_log().len();
    let pods: Vec<Pod> = list::in_scope(&kube.client, None, Some("sealos.io/generated=true"))
        .await
        .unwrap();
    assert_eq!(pods.len(), 1_200);
    assert_eq!(names(&pods).len(), 1_200, "no pod twice");
    // Three pages of at most 500, the later two continuing the first.
    let lists: Vec<_> = sandbox
        .request_log()
        .since(mark)
        .into_iter()
        .filter(|r| r.path == "/api/v1/pods")
        .collect();
    assert_eq!(lists.len(), 3, "{lists:#?}");
    assert!(lists.iter().all(|r| r.query.contains("limit=500")));
    assert!(lists[1..].iter().all(|r| r.query.contains("continue=")));
}

#[tokio::test]
async fn an_expired_continue_token_restarts_the_list() {
    let (sandbox, kube) = sandbox_with_pods(1_200).await;
    let api = list::api::<Pod>(&kube.client, None);
    let mut pager = Pager::new(&api, &ListParams::default(), "pods");
    let first = pager.next().await.unwrap().unwrap();
    assert_eq!(first.items.len(), 500);
    assert!(!first.restarted);

    // The server forgets the snapshot the token points into: the next page is a 410.
    sandbox.store().expire_snapshots();
    let again = pager.next().await.unwrap().unwrap();
    assert!(again.restarted, "the list started over");
    assert_eq!(
        names(&again.items),
        names(&first.items),
        "from its first page"
    );
    let mut rest = Vec::new();
    while let Some(page) = pager.next().await.unwrap() {
        assert!(!page.restarted);
        rest.extend(page.items);
    }
    assert_eq!(pager.restarts(), 1);
    assert_eq!(again.items.len() + rest.len(), 1_200);

    // `collect` keeps only the consistent list: 1,200 pods, none twice.
    let mut pager = Pager::new(&api, &ListParams::default(), "pods");
    let first = pager.next().await.unwrap().unwrap();
    sandbox.store().expire_snapshots();
    let all = pager.collect().await.unwrap();
    assert_eq!(all.len(), 1_200);
    assert_eq!(names(&all).len(), 1_200);
    assert!(names(&first.items).is_subset(&names(&all)));
}
