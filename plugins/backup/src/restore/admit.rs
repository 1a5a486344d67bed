//! The allow-list: restore applies only what `backup create` could have written — the catalogue's
//! kinds, each from the namespaces the catalogue takes it from, and only what the archive's own
//! selection says it took — plus the kinds the operator names with `--allow-kind`. Everything else
//! (Pods, RBAC, webhooks, ServiceAccount token Secrets, a Deployment in kube-system, ...) is refused
//! by name: an archive is data that whoever can write to the store controls.

use std::collections::BTreeSet;

use sealos_shared::archive::catalog::{self, Kind, Part, Scope};
use sealos_shared::archive::index::Index;

use super::archive::Archived;
use super::options::Options;

/// What restore does with one archived object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Apply it; `Some(flag)` when only an `--allow-kind` admits it.
    Admit(Option<String>),
    /// Never apply it, and say why.
    Refuse(String),
    /// Admissible, but not what `--namespaces`/`--include` ask for.
    Unselected,
}

/// What the archive says it took (`index.json`'s selection, as `backup create` writes it).
#[derive(Debug, Clone, Default)]
struct Taken {
    parts: BTreeSet<Part>,
    /// Empty: every namespace.
    namespaces: BTreeSet<String>,
}

impl Taken {
    fn from_selection(words: &[String]) -> Taken {
        let mut taken = Taken::default();
        for word in words {
            if let Some(parts) = word.strip_prefix("include=") {
                taken.parts.extend(
                    Part::ALL
                        .into_iter()
                        .filter(|p| parts.split(',').any(|w| w == p.as_str())),
                );
            } else if let Some(namespaces) = word.strip_prefix("namespaces=") {
                taken
                    .namespaces
                    .extend(namespaces.split(',').map(str::to_string));
            }
        }
        if taken.parts.is_empty() {
            taken.parts = Part::ALL.into_iter().collect();
        }
        taken
    }
}

/// Judges the objects of one archive.
pub struct Admission<'a> {
    options: &'a Options,
    taken: Taken,
    /// (namespace, name) of every Secret an archived Certificate names.
    certificate_secrets: BTreeSet<(String, String)>,
}

impl<'a> Admission<'a> {
    pub fn new(options: &'a Options, index: &Index, objects: &[Archived]) -> Admission<'a> {
        let certificate_secrets = objects
            .iter()
            .filter(|a| {
                catalog::by_resource(&a.path.resource, &a.path.group) == Some(&catalog::CERTIFICATE)
            })
            .filter_map(|a| {
                Some((
                    a.path.namespace.clone()?,
                    a.object["spec"]["secretName"].as_str()?.to_string(),
                ))
            })
            .collect();
        Admission {
            options,
            taken: Taken::from_selection(&index.head.selection),
            certificate_secrets,
        }
    }

    pub fn judge(&self, archived: &Archived) -> Verdict {
        let path = &archived.path;
        let kind = archived.kind();
        let ns = path.namespace.as_deref();
        let known = catalog::by_resource(&path.resource, &path.group);
        if let Some(known) = known
            && let Some(why) = catalog::made_by_cluster(known, &path.name, &archived.object)
        {
            return Verdict::Refuse(why.to_string());
        }
        if let Some(allow) = self.options.allowed_by(&path.group, kind) {
            // Named by the operator: any namespace; cluster-scoped ones too, as they were asked for.
            let wanted = ns.is_none_or(|ns| self.wanted_namespace(ns));
            return if wanted {
                Verdict::Admit(Some(allow.flag.clone()))
            } else {
                Verdict::Unselected
            };
        }
        let Some(known) = known else {
            return Verdict::Refuse(never_taken(&path.group, kind));
        };
        let sources: Vec<_> = catalog::sources_covering(known, ns)
            .into_iter()
            .filter(|s| {
                s.scope != Scope::CertificateSecrets
                    || ns.is_some_and(|ns| {
                        self.certificate_secrets
                            .contains(&(ns.to_string(), path.name.clone()))
                    })
            })
            .collect();
        if sources.is_empty() {
            return Verdict::Refuse(not_from_here(known, ns));
        }
        if !sources.iter().any(|s| self.taken.parts.contains(&s.part)) {
            return Verdict::Refuse(format!(
                "the archive says it took only {}, which holds no {kind}",
                words(&self.taken.parts)
            ));
        }
        if let Some(ns) = ns
            && !self.taken.namespaces.is_empty()
            && !self.taken.namespaces.contains(ns)
        {
            return Verdict::Refuse(format!(
                "the archive says it took only namespaces {}, not {ns}",
                self.taken
                    .namespaces
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
        let parts = &self.options.parts;
        let part_wanted = parts.is_empty() || sources.iter().any(|s| parts.contains(&s.part));
        let ns_wanted = match ns {
            Some(ns) => self.wanted_namespace(ns),
            // -n narrows cluster-scoped objects too: a ClusterIssuer only when --include names
            // its part.
            None => {
                self.options.namespaces.is_empty()
                    || sources.iter().any(|s| parts.contains(&s.part))
            }
        };
        if part_wanted && ns_wanted {
            Verdict::Admit(None)
        } else {
            Verdict::Unselected
        }
    }

    fn wanted_namespace(&self, ns: &str) -> bool {
        self.options.namespaces.is_empty() || self.options.namespaces.contains(ns)
    }
}

/// Why a kind outside the catalogue is refused.
fn never_taken(group: &str, kind: &str) -> String {
    let why = match (group, kind) {
        ("rbac.authorization.k8s.io", _) => "it grants permissions",
        ("admissionregistration.k8s.io", _) => "it sees or changes every write to the cluster",
        ("", "Pod" | "ReplicationController")
        | ("apps", "ReplicaSet" | "DaemonSet" | "StatefulSet")
        | ("batch", "Job" | "CronJob") => "it runs containers",
        ("", "ServiceAccount") => "it is an identity pods run as",
        _ => "restore applies only what backup takes",
    };
    let flag = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    format!("backup never takes a {kind} ({why}); --allow-kind {flag} admits it")
}

/// Why a catalogue kind is refused in this namespace.
fn not_from_here(kind: &Kind, ns: Option<&str>) -> String {
    let from: Vec<&str> = catalog::select(&[], &[], false)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.kind == *kind)
        .filter_map(|s| match s.scope {
            Scope::In(ns) => Some(ns),
            _ => None,
        })
        .collect();
    match (kind.kind, ns) {
        ("Secret", Some(ns)) => format!(
            "backup takes a Secret from {ns} only when an archived Certificate there names it (spec.secretName); none does"
        ),
        (_, Some(ns)) if !from.is_empty() => format!(
            "backup takes {}s only from {}, not from {ns}",
            kind.kind,
            from.join(" and ")
        ),
        _ => format!("backup never takes a {} here", kind.kind),
    }
}

fn words(parts: &BTreeSet<Part>) -> String {
    parts
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::restore::options::AllowKind;
    use sealos_shared::archive::index::{ClusterInfo, IndexHead, ToolInfo};
    use sealos_shared::archive::path::EntryPath;
    use serde_json::{Value, json};

    fn index(selection: &[&str]) -> Index {
        Index {
            head: IndexHead {
                format: "kubectl-sealos-backup/v1".into(),
                name: "b".into(),
                created_at: "t".into(),
                cluster: ClusterInfo::default(),
                tool: ToolInfo::default(),
                selection: selection.iter().map(|s| s.to_string()).collect(),
                resources: vec![],
                objects: 0,
                notes: vec![],
            },
            entries: vec![],
        }
    }

    fn object(path: &str, kind: &str, extra: Value) -> Archived {
        let path = EntryPath::parse(path).unwrap();
        let mut object = json!({"kind": kind, "metadata": {"name": path.name}});
        if let Some(ns) = &path.namespace {
            object["metadata"]["namespace"] = json!(ns);
        }
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            object[k] = v;
        }
        Archived { path, object }
    }

    fn verdicts(options: &Options, selection: &[&str], objects: &[Archived]) -> Vec<Verdict> {
        let index = index(selection);
        let admission = Admission::new(options, &index, objects);
        objects.iter().map(|o| admission.judge(o)).collect()
    }

    fn forged() -> Vec<Archived> {
        vec![
            object(
                "resources/pods/namespaces/kube-system/root.json",
                "Pod",
                json!({}),
            ),
            object(
                "resources/clusterrolebindings.rbac.authorization.k8s.io/cluster/own.json",
                "ClusterRoleBinding",
                json!({}),
            ),
            object(
                "resources/secrets/namespaces/istio-system/sa-token.json",
                "Secret",
                json!({"type": "kubernetes.io/service-account-token"}),
            ),
            object(
                "resources/deployments.apps/namespaces/kube-system/miner.json",
                "Deployment",
                json!({}),
            ),
            object(
                "resources/secrets/namespaces/ns-alice/stray.json",
                "Secret",
                json!({"type": "Opaque"}),
            ),
        ]
    }

    #[test]
    fn what_backup_never_takes_is_refused_by_reason() {
        let found = verdicts(&Options::default(), &[], &forged());
        let reasons: Vec<String> = found
            .iter()
            .map(|v| match v {
                Verdict::Refuse(why) => why.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(reasons[0].contains("runs containers"), "{}", reasons[0]);
        assert!(reasons[1].contains("grants permissions"), "{}", reasons[1]);
        assert!(reasons[1].contains("--allow-kind ClusterRoleBinding.rbac.authorization.k8s.io"));
        assert!(reasons[2].contains("mint a credential"), "{}", reasons[2]);
        assert!(
            reasons[3].contains("only from sealos-system"),
            "{}",
            reasons[3]
        );
        assert!(reasons[4].contains("Certificate"), "{}", reasons[4]);
    }

    #[test]
    fn what_backup_takes_is_admitted_and_certificate_secrets_need_their_certificate() {
        let objects = vec![
            object(
                "resources/configmaps/namespaces/istio-system/istio.json",
                "ConfigMap",
                json!({}),
            ),
            object(
                "resources/certificates.cert-manager.io/namespaces/ns-alice/c.json",
                "Certificate",
                json!({"spec": {"secretName": "c-tls"}}),
            ),
            object(
                "resources/secrets/namespaces/ns-alice/c-tls.json",
                "Secret",
                json!({"type": "kubernetes.io/tls"}),
            ),
            object(
                "resources/clusterissuers.cert-manager.io/cluster/ca.json",
                "ClusterIssuer",
                json!({}),
            ),
        ];
        let all = verdicts(&Options::default(), &[], &objects);
        assert!(all.iter().all(|v| *v == Verdict::Admit(None)), "{all:?}");
    }

    #[test]
    fn namespaces_narrow_cluster_scoped_objects_and_include_brings_issuers_back() {
        let objects = vec![
            object(
                "resources/gateways.networking.istio.io/namespaces/ns-alice/g.json",
                "Gateway",
                json!({}),
            ),
            object(
                "resources/gateways.networking.istio.io/namespaces/ns-bob/g.json",
                "Gateway",
                json!({}),
            ),
            object(
                "resources/clusterissuers.cert-manager.io/cluster/ca.json",
                "ClusterIssuer",
                json!({}),
            ),
        ];
        let mut options = Options::default();
        options.namespaces.insert("ns-alice".into());
        let found = verdicts(&options, &[], &objects);
        assert_eq!(
            found,
            [
                Verdict::Admit(None),
                Verdict::Unselected,
                Verdict::Unselected
            ]
        );
        options.parts.insert(Part::Certificates);
        let found = verdicts(&options, &[], &objects);
        assert_eq!(found[2], Verdict::Admit(None));
        assert_eq!(found[0], Verdict::Unselected, "gateways are istio's");
    }

    #[test]
    fn the_archive_selection_bounds_what_it_may_hold() {
        let objects = vec![object(
            "resources/gateways.networking.istio.io/namespaces/ns-bob/g.json",
            "Gateway",
            json!({}),
        )];
        let found = verdicts(
            &Options::default(),
            &["include=istio", "namespaces=ns-alice"],
            &objects,
        );
        assert!(
            matches!(&found[0], Verdict::Refuse(w) if w.contains("not ns-bob")),
            "{found:?}"
        );
        let found = verdicts(&Options::default(), &["include=sealos"], &objects);
        assert!(
            matches!(&found[0], Verdict::Refuse(w) if w.contains("only sealos")),
            "{found:?}"
        );
    }

    #[test]
    fn allow_kind_admits_what_it_names_but_never_a_token() {
        let options = Options {
            allow_kinds: vec![
                AllowKind::parse("Pod").unwrap(),
                AllowKind::parse("Secret").unwrap(),
            ],
            ..Options::default()
        };
        let found = verdicts(&options, &[], &forged());
        assert_eq!(found[0], Verdict::Admit(Some("Pod".into())));
        assert!(matches!(found[1], Verdict::Refuse(_)));
        assert!(matches!(&found[2], Verdict::Refuse(w) if w.contains("token")));
        assert_eq!(found[4], Verdict::Admit(Some("Secret".into())));
    }
}
