//! Generated objects for scale (`Sandbox::add_generated`, `--scale`), seen by kube-rs paging and
//! the real kubectl.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Kubectl, sandbox};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_objects_page_and_print() {
    let sb = sandbox().await;
    let counts = sealos_sandbox::scale::parse(
        "pods=400,configmaps=100,secrets=40,services=40,virtualservices=40,certificates=40",
    )
    .unwrap();
    let stored = sb.add_generated(&counts).unwrap();
    assert_eq!(stored, sealos_sandbox::scale::NAMESPACES + 660);
    let kc = kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let pods: Api<Pod> = Api::all(kube::Client::try_from(config).unwrap());
    let (mut seen, mut token) = (0, None::<String>);
    loop {
        let mut lp = ListParams::default()
            .labels("sealos.io/generated=true")
            .limit(50);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = pods.list(&lp).await.unwrap();
        seen += page.items.len();
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, 400);
    let out = Kubectl::new(&sb)
        .ok(&["get", "pods", "-n", "scale-3", "--no-headers"])
        .await;
    assert_eq!(out.lines().count(), 20, "{out}");
    assert!(
        out.lines()
            .all(|l| l.contains("2/2") && l.contains("Running")),
        "{out}"
    );
    // Generated certificates claim Ready and are not re-issued.
    assert!(
        sb.objects("cert-manager.io", "certificaterequests", Some("scale-0"))
            .is_empty()
    );
}
