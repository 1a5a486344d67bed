//! Reads from the cluster: Secrets that may be missing, the latest CertificateRequest of a
//! Certificate. Every read retries what `retry::read` allows; lists are `sealos_shared::list`.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use sealos_shared::error::{KubeContext, Result};
use sealos_shared::list::list_all;
use sealos_shared::resources::certmanager::{Certificate, CertificateRequest};
use sealos_shared::retry::{self, Backoff};

/// A Secret, or `None` when it does not exist.
pub async fn secret(client: &Client, namespace: &str, name: &str) -> Result<Option<Secret>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    retry::read(Backoff::default(), || api.get_opt(name))
        .await
        .kube_context(|| format!("get secret {name:?} in {namespace:?}"))
}

/// The CertificateRequest of the certificate's highest revision (by cert-manager's
/// `certificate-name` and `certificate-revision` annotations, else by owner).
pub async fn latest_request(
    client: &Client,
    cert: &Certificate,
) -> Result<Option<CertificateRequest>> {
    let ns = cert.namespace().unwrap_or_default();
    let api: Api<CertificateRequest> = Api::namespaced(client.clone(), &ns);
    let requests = list_all(
        &api,
        &ListParams::default(),
        &format!("certificaterequests in {ns:?}"),
    )
    .await?;
    let name = cert.name_any();
    let uid = cert.uid();
    let revision = |r: &CertificateRequest| {
        r.annotations()
            .get("cert-manager.io/certificate-revision")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    Ok(requests
        .into_iter()
        .filter(|r| {
            r.annotations().get("cert-manager.io/certificate-name") == Some(&name)
                || r.owner_references()
                    .iter()
                    .any(|o| o.kind == "Certificate" && Some(&o.uid) == uid.as_ref())
        })
        .max_by_key(|r| (revision(r), r.creation_timestamp().map(|t| t.0))))
}

/// True for a 404 from the API server (a CRD that is not installed, an object that is gone).
pub fn is_not_found(err: &sealos_shared::Error) -> bool {
    err.status_code() == Some(404)
}
