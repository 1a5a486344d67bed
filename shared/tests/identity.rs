//! `--as` and `--token` against the sandbox: the impersonation headers reach the API server, and
//! a refusal of the impersonated user is worded for that user.
#![allow(clippy::unwrap_used)]

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::ListParams;
use sealos_sandbox::{Sandbox, SandboxOptions};
use sealos_shared::connection::KubeFlags;
use sealos_shared::error::{KubeContext, render};
use sealos_shared::identity::{IdentityFlags, Token};

fn flags(sandbox: &Sandbox, identity: IdentityFlags) -> KubeFlags {
    KubeFlags {
        kubeconfig: Some(sandbox.kubeconfig_path().to_path_buf()),
        identity,
        ..KubeFlags::default()
    }
}

#[tokio::test]
async fn as_reaches_the_server_and_its_refusals_name_that_user() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let user = "system:serviceaccount:ns-alice:nobody";
    let kube = flags(
        &sandbox,
        IdentityFlags {
            as_user: Some(user.into()),
            ..IdentityFlags::default()
        },
    )
    .connect()
    .await
    .unwrap();
    let mark = sandbox.request_log().len();
    let err = Api::<Deployment>::namespaced(kube.client.clone(), "sealos-system")
        .list(&ListParams::default())
        .await
        .kube_context(|| "list deployments in \"sealos-system\"")
        .unwrap_err();
    let requests = sandbox.request_log().since(mark);
    let list = requests
        .iter()
        .find(|r| r.path == "/apis/apps/v1/namespaces/sealos-system/deployments")
        .unwrap();
    // The sandbox acted as the impersonated user, on behalf of the kubeconfig's.
    assert_eq!(list.user, user, "{requests:#?}");
    assert!(
        list.impersonator.as_deref().is_some_and(|by| by != user),
        "{requests:#?}"
    );
    assert_eq!(list.status, 403);
    let text = render(&err, false);
    assert!(
        text.contains(&format!(
            "User \"{user}\" cannot list resource \"deployments\""
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("hint: \"{user}\" (--as) lacks a permission")),
        "{text}"
    );
    assert_eq!(err.exit().code(), 2);
}

#[tokio::test]
async fn a_token_flag_replaces_the_kubeconfig_credentials() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let kube = flags(
        &sandbox,
        IdentityFlags {
            token: Some(Token::from("not-a-token-the-sandbox-knows")),
            ..IdentityFlags::default()
        },
    )
    .connect()
    .await
    .unwrap();
    let err = Api::<Deployment>::namespaced(kube.client.clone(), "sealos-system")
        .list(&ListParams::default())
        .await
        .kube_context(|| "list deployments")
        .unwrap_err();
    assert_eq!(err.status_code(), Some(401), "{err}");
    // The token itself is in no message.
    assert!(!render(&err, true).contains("not-a-token"));
}
