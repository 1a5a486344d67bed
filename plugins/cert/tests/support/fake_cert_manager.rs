//! The part of cert-manager a renewal waits for, played by the test until the sandbox has its
//! own simulation: it watches one Certificate, and when `Issuing=True` appears it either issues
//! a real certificate (Secret rewritten, revision bumped, Ready, Issuing removed) or records a
//! failed issuance, as cert-manager's controllers do.
#![allow(clippy::unwrap_used)]

use futures::{StreamExt, TryStreamExt};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use sealos_sandbox::pki::{Ca, LeafRequest};
use sealos_shared::resources::Condition;
use sealos_shared::resources::certmanager::Certificate;

use super::DAY;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Issue,
    Fail,
}

/// Starts answering the next trigger of `ns/name`; the handle ends once it has answered.
pub fn answer(client: Client, ns: &str, name: &str, answer: Answer) -> tokio::task::JoinHandle<()> {
    let ns = ns.to_string();
    let name = name.to_string();
    tokio::spawn(async move {
        let api: Api<Certificate> = Api::namespaced(client.clone(), &ns);
        let mut events = watcher(api.clone(), watcher::Config::default())
            .applied_objects()
            .boxed();
        while let Some(cert) = events.try_next().await.unwrap() {
            if cert.name_any() != name || !sealos_shared::certs::renew::is_issuing(&cert) {
                continue;
            }
            match answer {
                Answer::Issue => issue(&client, &api, cert).await,
                Answer::Fail => fail(&api, cert).await,
            }
            return;
        }
    })
}

async fn issue(client: &Client, api: &Api<Certificate>, mut cert: Certificate) {
    let ns = cert.namespace().unwrap();
    let now = Timestamp::now();
    let ca = Ca::new("fake cert-manager CA").unwrap();
    let names: Vec<&str> = cert.spec.dns_names.iter().map(String::as_str).collect();
    let leaf = ca
        .issue(&LeafRequest::for_dns(
            &names,
            now - SignedDuration::from_mins(1),
            now + DAY * 90,
        ))
        .unwrap();
    let not_after =
        sealos_shared::certs::parse_chain(leaf.cert_pem.as_bytes()).unwrap()[0].not_after;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let mut secret = secrets.get(&cert.spec.secret_name).await.unwrap();
    let data = secret.data.get_or_insert_with(Default::default);
    data.insert("tls.crt".into(), ByteString(leaf.cert_pem.into_bytes()));
    data.insert("tls.key".into(), ByteString(leaf.key_pem.into_bytes()));
    data.insert(
        "ca.crt".into(),
        ByteString(ca.cert_pem().as_bytes().to_vec()),
    );
    secrets
        .replace(&cert.spec.secret_name, &PostParams::default(), &secret)
        .await
        .unwrap();
    let status = cert.status.get_or_insert_with(Default::default);
    status.revision = Some(status.revision.unwrap_or(0) + 1);
    status.not_before = Some(
        (now - SignedDuration::from_mins(1))
            .round(jiff::Unit::Second)
            .unwrap()
            .to_string(),
    );
    status.not_after = Some(not_after.to_string());
    status.renewal_time = Some((not_after - DAY * 30).to_string());
    status.failed_issuance_attempts = None;
    status.last_failure_time = None;
    status.conditions.retain(|c| c.type_ != "Issuing");
    for c in status.conditions.iter_mut().filter(|c| c.type_ == "Ready") {
        c.status = "True".into();
        c.reason = Some("Ready".into());
        c.message = Some("Certificate is up to date and has not expired".into());
    }
    let name = cert.name_any();
    api.replace_status(&name, &PostParams::default(), &cert)
        .await
        .unwrap();
}

async fn fail(api: &Api<Certificate>, mut cert: Certificate) {
    let now = Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap()
        .to_string();
    let status = cert.status.get_or_insert_with(Default::default);
    status.failed_issuance_attempts = Some(status.failed_issuance_attempts.unwrap_or(0) + 1);
    status.last_failure_time = Some(now.clone());
    status.conditions.retain(|c| c.type_ != "Issuing");
    status.conditions.push(Condition {
        type_: "Issuing".into(),
        status: "False".into(),
        reason: Some("Failed".into()),
        message: Some("The certificate request has failed to complete and will be retried: the issuer refused".into()),
        last_transition_time: Some(now),
        observed_generation: cert.metadata.generation,
    });
    let name = cert.name_any();
    api.replace_status(&name, &PostParams::default(), &cert)
        .await
        .unwrap();
}
