//! Names for completion read from the kubeconfig or the cluster: one list, bounded by a short
//! timeout, with the connection flags already typed on the line; any error gives no names (a
//! completion that prints an error lands in the user's prompt).

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use kube::api::{Api, ListParams};
use kube::core::PartialObjectMeta;
use kube::{Client, ResourceExt};

use super::{Candidate, Place, Source};
use crate::connection::KubeFlags;
use crate::resources::certmanager::Certificate;

/// How long completion may wait for the API server: a TAB that hangs is worse than none.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// The names `source` offers for `place`; empty on any error.
pub fn names(source: &Source, place: &Place) -> Vec<Candidate> {
    let flags = flags(place);
    match source {
        Source::Files | Source::Dirs => Vec::new(),
        Source::Contexts | Source::Clusters | Source::Users => {
            from_kubeconfig(source, &flags).unwrap_or_default()
        }
        _ => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return Vec::new();
            };
            runtime
                .block_on(async {
                    tokio::time::timeout(TIMEOUT, from_cluster(source, &flags))
                        .await
                        .ok()
                        .flatten()
                })
                .unwrap_or_default()
        }
    }
}

/// The connection flags typed before the word.
fn flags(place: &Place) -> KubeFlags {
    let text = |id: &str| place.value(id).filter(|v| !v.is_empty()).map(String::from);
    KubeFlags {
        kubeconfig: text("kubeconfig").map(Into::into),
        context: text("context"),
        cluster: text("cluster"),
        user: text("user"),
        namespace: text("namespace"),
        request_timeout: TIMEOUT,
        ..KubeFlags::default()
    }
}

fn from_kubeconfig(source: &Source, flags: &KubeFlags) -> Option<Vec<Candidate>> {
    let config = flags.load_kubeconfig().ok()??;
    let names: Vec<Candidate> = match source {
        Source::Contexts => config
            .contexts
            .iter()
            .map(|c| {
                let cluster = c
                    .context
                    .as_ref()
                    .map(|x| x.cluster.clone())
                    .unwrap_or_default();
                Candidate::new(&c.name, cluster)
            })
            .collect(),
        Source::Clusters => config
            .clusters
            .iter()
            .map(|c| Candidate::new(&c.name, ""))
            .collect(),
        Source::Users => config
            .auth_infos
            .iter()
            .map(|u| Candidate::new(&u.name, ""))
            .collect(),
        _ => Vec::new(),
    };
    Some(names)
}

async fn from_cluster(source: &Source, flags: &KubeFlags) -> Option<Vec<Candidate>> {
    let kube = flags.connect().await.ok()?;
    let client = kube.client.clone();
    let namespace = kube.namespace.clone();
    let one_page = ListParams::default().limit(500);
    let names = match source {
        Source::Namespaces => {
            let list = Api::<Namespace>::all(client)
                .list_metadata(&one_page)
                .await
                .ok()?;
            names_of(&list.items, "")
        }
        Source::Controllers { default_namespace } => {
            // Not the context's namespace: the controllers live in theirs unless -n says.
            let ns = flags.namespace.as_deref().unwrap_or(default_namespace);
            let list = Api::<Deployment>::namespaced(client, ns)
                .list(&one_page)
                .await
                .ok()?;
            crate::traffic_shift::locate::controllers(&list.items)
                .into_iter()
                .map(|d| Candidate::new(d.name_any(), format!("controller in {ns}")))
                .collect()
        }
        Source::Certificates => certificates(client, &namespace, "").await?,
        Source::TlsSecrets => tls_secrets(client, &namespace, "").await?,
        Source::CertificatesAndTlsSecrets => {
            let mut names = certificates(client.clone(), &namespace, "").await?;
            names.extend(
                tls_secrets(client, &namespace, "secret/")
                    .await
                    .unwrap_or_default(),
            );
            names
        }
        Source::Apps => {
            let list = Api::<Pod>::namespaced(client, &namespace)
                .list_metadata(&one_page.labels("app"))
                .await
                .ok()?;
            let mut apps: Vec<String> = list
                .items
                .iter()
                .filter_map(|p| p.labels().get("app").cloned())
                .collect();
            apps.sort();
            apps.dedup();
            apps.into_iter()
                .map(|a| Candidate::new(a, format!("app in {namespace}")))
                .collect()
        }
        Source::Contexts | Source::Clusters | Source::Users | Source::Files | Source::Dirs => {
            Vec::new()
        }
    };
    Some(names)
}

async fn certificates(client: Client, ns: &str, prefix: &str) -> Option<Vec<Candidate>> {
    let list = Api::<Certificate>::namespaced(client, ns)
        .list_metadata(&ListParams::default().limit(500))
        .await
        .ok()?;
    Some(names_of_described(
        &list.items,
        prefix,
        &format!("Certificate in {ns}"),
    ))
}

/// Metadata only: a completion never holds a Secret's data.
async fn tls_secrets(client: Client, ns: &str, prefix: &str) -> Option<Vec<Candidate>> {
    let list = Api::<Secret>::namespaced(client, ns)
        .list_metadata(
            &ListParams::default()
                .fields("type=kubernetes.io/tls")
                .limit(500),
        )
        .await
        .ok()?;
    Some(names_of_described(
        &list.items,
        prefix,
        &format!("TLS Secret in {ns}"),
    ))
}

fn names_of<K>(items: &[PartialObjectMeta<K>], prefix: &str) -> Vec<Candidate> {
    names_of_described(items, prefix, "")
}

fn names_of_described<K>(
    items: &[PartialObjectMeta<K>],
    prefix: &str,
    description: &str,
) -> Vec<Candidate> {
    items
        .iter()
        .filter_map(|o| o.metadata.name.as_deref())
        // A name is data: one that would break the protocol's lines is not offered.
        .filter(|n| !n.contains(['\n', '\t', '\r']))
        .map(|n| Candidate::new(format!("{prefix}{n}"), description))
        .collect()
}
