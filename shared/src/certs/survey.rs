//! Reads Certificates and their Secrets from the cluster and judges each: what `cert check`
//! and `diag certificates` / the certificate runbook both start from.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt, stream};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::{Client, ResourceExt};

use super::judge::{Assessment, Thresholds, assess_certificate};
use crate::error::{KubeContext, Result};
use crate::resources::certmanager::Certificate;
use crate::retry::{self, Backoff};

/// How many Secret reads run at once.
const PARALLEL_READS: usize = 16;

/// One Certificate and its verdict (the Secret itself is not kept: it holds the private key).
#[derive(Debug, Clone)]
pub struct Surveyed {
    pub certificate: Certificate,
    pub assessment: Assessment,
}

/// Every Certificate in `namespace` (all with `None`) matching `selector`, 500 a page.
pub async fn list_certificates(
    client: &Client,
    namespace: Option<&str>,
    selector: Option<&str>,
) -> Result<Vec<Certificate>> {
    crate::list::in_scope(client, namespace, selector).await
}

/// The Secrets named by `(namespace, name)`, read concurrently; missing ones are absent.
pub async fn read_secrets(
    client: &Client,
    wanted: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<(String, String), Secret>> {
    let found: Vec<Option<((String, String), Secret)>> = stream::iter(wanted)
        .map(|(ns, name)| async move {
            let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
            let got = retry::read(Backoff::default(), || api.get_opt(&name))
                .await
                .kube_context(|| format!("get secret {name:?} in {ns:?}"))?;
            Ok::<_, crate::Error>(got.map(|s| ((ns, name), s)))
        })
        .buffer_unordered(PARALLEL_READS)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// Judges certificates already listed, reading their Secrets.
pub async fn assess_all(
    client: &Client,
    certificates: Vec<Certificate>,
    now: Timestamp,
    thresholds: Thresholds,
) -> Result<Vec<Surveyed>> {
    let key = |c: &Certificate| {
        (
            c.namespace().unwrap_or_default(),
            c.spec.secret_name.clone(),
        )
    };
    let secrets = read_secrets(client, certificates.iter().map(key)).await?;
    Ok(certificates
        .into_iter()
        .map(|certificate| {
            let assessment = assess_certificate(
                &certificate,
                secrets.get(&key(&certificate)),
                now,
                thresholds,
            );
            Surveyed {
                certificate,
                assessment,
            }
        })
        .collect())
}

/// Lists and judges: the certificates of `namespace` (all with `None`) matching `selector`.
pub async fn survey(
    client: &Client,
    namespace: Option<&str>,
    selector: Option<&str>,
    now: Timestamp,
    thresholds: Thresholds,
) -> Result<Vec<Surveyed>> {
    let certificates = list_certificates(client, namespace, selector).await?;
    assess_all(client, certificates, now, thresholds).await
}
