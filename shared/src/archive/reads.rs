//! What `create` asks the API server for: per source, a list in some namespaces (or everywhere),
//! or gets of named objects; and the Namespace objects of the namespaces it took objects from.
//! The walk in `create` runs exactly these requests, and a scheduled backup's RBAC is built from
//! them (`backup schedule install`), so the permissions granted are the requests made.
//!
//! Discovery (`/apis/GROUP`) and `/version` need no rule: every authenticated user may read them
//! (the bootstrap `system:discovery` and `system:public-info-viewer` roles).

use super::catalog::{self, Kind, Scope, Source};

/// The requests one source makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reads {
    /// Paged lists of the kind in each namespace (`None`: every namespace, or a cluster-scoped
    /// kind). Empty when `--namespaces` leaves the source's namespace out.
    List(Vec<Option<String>>),
    /// Gets by name, in these namespaces (`None`: any): the Secrets that the Certificates name.
    Get(Vec<Option<String>>),
}

impl Source {
    /// The requests this source makes when the backup is narrowed to `namespaces` (empty: all).
    pub fn reads(&self, namespaces: &[String]) -> Reads {
        let anywhere = || {
            if namespaces.is_empty() {
                vec![None]
            } else {
                namespaces.iter().cloned().map(Some).collect()
            }
        };
        match &self.scope {
            Scope::In(ns) if namespaces.is_empty() || namespaces.iter().any(|f| f == ns) => {
                Reads::List(vec![Some(ns.to_string())])
            }
            Scope::In(_) => Reads::List(Vec::new()),
            Scope::Everywhere => Reads::List(anywhere()),
            Scope::Cluster => Reads::List(vec![None]),
            // Certificates are listed in the same namespaces, so their Secrets are read there.
            Scope::CertificateSecrets => Reads::Get(anywhere()),
        }
    }
}

/// One permission a backup needs: `verb` on `kind`, in `namespace` (`None`: cluster-wide),
/// limited to `names` when not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub kind: Kind,
    pub verb: &'static str,
    pub namespace: Option<String>,
    pub names: Vec<String>,
    /// What the backup does with it, in a few words.
    pub reason: String,
}

/// Every permission a backup of `sources` narrowed to `namespaces` needs, in request order,
/// without repeats.
pub fn access(sources: &[Source], namespaces: &[String]) -> Vec<Access> {
    let mut all: Vec<Access> = Vec::new();
    let mut add = |access: Access| {
        if let Some(same) = all.iter_mut().find(|a| {
            a.kind == access.kind
                && a.verb == access.verb
                && a.namespace == access.namespace
                && a.names == access.names
        }) {
            if !same.reason.contains(&access.reason) {
                same.reason = format!("{}; {}", same.reason, access.reason);
            }
        } else {
            all.push(access);
        }
    };
    let mut namespaced = false;
    for source in sources {
        let (verb, scopes, reason) = match source.reads(namespaces) {
            Reads::List(scopes) => ("list", scopes, format!("back up the {}", describe(source))),
            Reads::Get(scopes) => (
                "get",
                scopes,
                "back up the Secrets that the Certificates name".to_string(),
            ),
        };
        namespaced |= source.kind.namespaced && !scopes.is_empty();
        for namespace in scopes {
            add(Access {
                kind: source.kind,
                verb,
                namespace,
                names: Vec::new(),
                reason: reason.clone(),
            });
        }
    }
    if namespaced {
        // Narrowed, the backup reads only those Namespace objects; else any it took objects from.
        add(Access {
            kind: catalog::NAMESPACE,
            verb: "get",
            namespace: None,
            names: namespaces.to_vec(),
            reason: "back up the Namespace objects of the namespaces backed up".to_string(),
        });
    }
    all
}

fn describe(source: &Source) -> String {
    let plural = source.kind.plural;
    match &source.scope {
        Scope::In(ns) => format!("{plural} of {ns}"),
        Scope::Everywhere => format!("{plural} of every namespace"),
        Scope::Cluster => plural.to_string(),
        Scope::CertificateSecrets => "Secrets that the Certificates name".to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::archive::catalog::{Part, select};

    fn rows(list: &[Access]) -> Vec<String> {
        list.iter()
            .map(|a| {
                format!(
                    "{} {} {} {}",
                    a.verb,
                    a.kind.plural,
                    a.namespace.as_deref().unwrap_or("*"),
                    a.names.join(",")
                )
                .trim_end()
                .to_string()
            })
            .collect()
    }

    #[test]
    fn everything_reads_the_catalogue_and_nothing_else() {
        let all = access(&select(&[], &[], false).unwrap(), &[]);
        assert_eq!(
            rows(&all),
            [
                "list secrets istio-system",
                "list configmaps istio-system",
                "list gateways *",
                "list destinationrules *",
                "list virtualservices *",
                "list authorizationpolicies *",
                "list peerauthentications *",
                "list secrets sealos-system",
                "list configmaps sealos-system",
                "list deployments sealos-system",
                "list issuers *",
                "list clusterissuers *",
                "list certificates *",
                "get secrets *",
                "get namespaces *",
            ]
        );
        assert!(all.iter().all(|a| matches!(a.verb, "get" | "list")));
    }

    #[test]
    fn narrowing_narrows_the_reads() {
        let sources = select(&[Part::Sealos, Part::Certificates], &[], true).unwrap();
        let ns = vec!["sealos-system".to_string(), "ns-a".to_string()];
        assert_eq!(
            rows(&access(&sources, &ns)),
            [
                "list configmaps sealos-system",
                "list deployments sealos-system",
                "list issuers sealos-system",
                "list issuers ns-a",
                "list clusterissuers *",
                "list certificates sealos-system",
                "list certificates ns-a",
                "get namespaces * sealos-system,ns-a",
            ]
        );
        let cluster_only = select(&[], &["clusterissuers".into()], false).unwrap();
        assert_eq!(rows(&access(&cluster_only, &[])), ["list clusterissuers *"]);
        let istio_elsewhere = select(&[Part::Istio], &["configmaps".into()], false).unwrap();
        assert_eq!(
            istio_elsewhere[0].reads(&["ns-a".to_string()]),
            Reads::List(vec![])
        );
    }
}
