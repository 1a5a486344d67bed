//! kubectl's output as input: objects named `NAME`, `TYPE/NAME` (`deploy/x`,
//! `deployment.apps/x`, `certificate.cert-manager.io/x`) or read with `-f/--filename` (`-` is
//! stdin) from what `kubectl get` prints with `-o name`, `-o json` (an object or a List) and
//! `-o yaml` (one or many documents, or a List). An object of a kind the command does not act
//! on is refused, naming it, before anything is sent.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};

/// A resource type as kubectl names it: `deployment`, `deployments`, `deploy`,
/// `deployment.apps`, `deployments.apps`, `deployment.v1.apps`.
#[derive(Debug, PartialEq, Eq)]
pub struct Kind {
    pub kind: &'static str,
    /// The API group ("" for the core group).
    pub group: &'static str,
    pub plural: &'static str,
    pub short: &'static [&'static str],
}

pub const DEPLOYMENT: Kind = Kind {
    kind: "Deployment",
    group: "apps",
    plural: "deployments",
    short: &["deploy"],
};
pub const CERTIFICATE: Kind = Kind {
    kind: "Certificate",
    group: "cert-manager.io",
    plural: "certificates",
    short: &["cert", "certs"],
};
pub const SECRET: Kind = Kind {
    kind: "Secret",
    group: "",
    plural: "secrets",
    short: &[],
};
pub const SERVICE: Kind = Kind {
    kind: "Service",
    group: "",
    plural: "services",
    short: &["svc"],
};
pub const POD: Kind = Kind {
    kind: "Pod",
    group: "",
    plural: "pods",
    short: &["po"],
};

/// Kinds kubectl users feed by mistake: known so that the refusal names them.
const OTHERS: &[Kind] = &[
    Kind {
        kind: "ConfigMap",
        group: "",
        plural: "configmaps",
        short: &["cm"],
    },
    Kind {
        kind: "StatefulSet",
        group: "apps",
        plural: "statefulsets",
        short: &["sts"],
    },
    Kind {
        kind: "DaemonSet",
        group: "apps",
        plural: "daemonsets",
        short: &["ds"],
    },
    Kind {
        kind: "ReplicaSet",
        group: "apps",
        plural: "replicasets",
        short: &["rs"],
    },
    Kind {
        kind: "Namespace",
        group: "",
        plural: "namespaces",
        short: &["ns"],
    },
    Kind {
        kind: "Ingress",
        group: "networking.k8s.io",
        plural: "ingresses",
        short: &["ing"],
    },
    Kind {
        kind: "CertificateRequest",
        group: "cert-manager.io",
        plural: "certificaterequests",
        short: &["cr", "crs"],
    },
    Kind {
        kind: "Issuer",
        group: "cert-manager.io",
        plural: "issuers",
        short: &[],
    },
    Kind {
        kind: "ClusterIssuer",
        group: "cert-manager.io",
        plural: "clusterissuers",
        short: &[],
    },
];

const KNOWN: &[&Kind] = &[&DEPLOYMENT, &CERTIFICATE, &SECRET, &SERVICE, &POD];

impl Kind {
    /// True when kubectl's `TYPE` (any case, singular, plural, short, optionally `.group` or
    /// `.version.group`) names this kind.
    fn is_named(&self, typ: &str) -> bool {
        let typ = typ.to_ascii_lowercase();
        let (resource, group) = match typ.split_once('.') {
            Some((resource, rest)) => (resource.to_string(), Some(rest.to_string())),
            None => (typ, None),
        };
        let names_resource = resource == self.kind.to_ascii_lowercase()
            || resource == self.plural
            || self.short.contains(&resource.as_str());
        let names_group = match group {
            None => true,
            // `deployment.apps` or `deployment.v1.apps`.
            Some(rest) => {
                rest == self.group
                    || rest
                        .split_once('.')
                        .is_some_and(|(_version, group)| group == self.group)
            }
        };
        names_resource && names_group
    }

    /// True for an object's `apiVersion` and `kind`.
    fn is_object(&self, api_version: &str, kind: &str) -> bool {
        let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
        kind == self.kind && group == self.group
    }

    /// `deployment.apps`, `secret`: how kubectl's `-o name` spells the type.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_ascii_lowercase()
        } else {
            format!("{}.{}", self.kind.to_ascii_lowercase(), self.group)
        }
    }
}

/// One object a command was asked to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub kind: &'static Kind,
    /// The namespace the input said (JSON/YAML objects), else `None`: the command's.
    pub namespace: Option<String>,
    pub name: String,
}

/// `-f/--filename`, on commands that take object names.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct FilenameFlags {
    /// Read the objects from FILE ("-" for stdin): kubectl's `-o name`, `-o json` or `-o yaml`
    /// output. Repeatable.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub filename: Vec<PathBuf>,
}

impl FilenameFlags {
    /// Every object named by `words` (`NAME` or `TYPE/NAME`) and by the files, in order, each
    /// of one of the `accepted` kinds (the first is what a bare name means).
    pub fn objects(&self, words: &[String], accepted: &[&'static Kind]) -> Result<Vec<Named>> {
        let mut objects = words
            .iter()
            .map(|word| parse_word(word, accepted))
            .collect::<Result<Vec<_>>>()?;
        for path in &self.filename {
            let (label, text) = read_source(path)?;
            objects.extend(parse_stream(&text, &label, accepted)?);
        }
        Ok(objects)
    }

    pub fn is_empty(&self) -> bool {
        self.filename.is_empty()
    }
}

/// The names of the objects `words` and `files` give, read before connecting: when the input says
/// the namespace (`-o json`/`-o yaml`) and `-n` does not, the command acts there, as kubectl
/// does with `-f`; a different `-n` is refused rather than acting on other objects.
pub fn resolve(
    words: &[String],
    files: &FilenameFlags,
    accepted: &[&'static Kind],
    kube: &mut crate::connection::KubeFlags,
) -> Result<Vec<String>> {
    if files.is_empty() && words.iter().all(|w| !w.contains('/')) {
        // Bare names: the command checks them as before.
        return Ok(words.to_vec());
    }
    let objects = files.objects(words, accepted)?;
    let names = match (namespace_of(&objects)?, kube.namespace.as_deref()) {
        (Some(ns), None) => {
            kube.namespace = Some(ns.clone());
            names_in(&objects, &ns)?
        }
        (Some(_), Some(given)) => names_in(&objects, given)?,
        // No object says a namespace.
        (None, _) => names_in(&objects, "")?,
    };
    if names.is_empty() {
        return Err(Error::usage(format!(
            "no objects in {}",
            files
                .filename
                .iter()
                .map(|p| if p == Path::new("-") {
                    "stdin".to_string()
                } else {
                    p.display().to_string()
                })
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(names)
}

/// Names only: every object must be in `namespace` (when the input says one), else the command
/// would act somewhere the user did not mean.
pub fn names_in(objects: &[Named], namespace: &str) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::with_capacity(objects.len());
    for object in objects {
        if let Some(ns) = object.namespace.as_deref()
            && ns != namespace
        {
            return Err(Error::usage(format!(
                "{}/{} is in namespace {ns:?}, and this command acts in {namespace:?}: add -n {ns}",
                object.kind.qualified(),
                object.name
            )));
        }
        if !names.contains(&object.name) {
            names.push(object.name.clone());
        }
    }
    Ok(names)
}

/// The one namespace the objects name, if they name one; several are refused.
pub fn namespace_of(objects: &[Named]) -> Result<Option<String>> {
    let mut found: Option<&str> = None;
    for ns in objects.iter().filter_map(|o| o.namespace.as_deref()) {
        match found {
            Some(seen) if seen != ns => {
                return Err(Error::usage(format!(
                    "the objects are in several namespaces ({seen:?}, {ns:?}): give one namespace at a time"
                )));
            }
            _ => found = Some(ns),
        }
    }
    Ok(found.map(String::from))
}

/// `NAME` (the first accepted kind) or `TYPE/NAME`.
pub fn parse_word(word: &str, accepted: &[&'static Kind]) -> Result<Named> {
    let Some(&default) = accepted.first() else {
        return Err(Error::usage("this command takes no object names"));
    };
    let (kind, name) = match word.split_once('/') {
        None => (default, word),
        Some((typ, name)) => (kind_of_type(typ, word, accepted)?, name),
    };
    if !valid_name(name) {
        return Err(Error::usage(format!(
            "{word:?}: {name:?} is not a valid object name"
        )));
    }
    Ok(Named {
        kind,
        namespace: None,
        name: name.to_string(),
    })
}

fn kind_of_type(typ: &str, word: &str, accepted: &[&'static Kind]) -> Result<&'static Kind> {
    if let Some(&kind) = accepted.iter().find(|k| k.is_named(typ)) {
        return Ok(kind);
    }
    let known = KNOWN
        .iter()
        .copied()
        .chain(OTHERS.iter())
        .find(|k| k.is_named(typ));
    Err(match known {
        Some(kind) => wrong_kind(kind.kind, word, accepted),
        None => Error::usage(format!(
            "{word:?}: the server doesn't have a resource type {typ:?} this command knows (it takes {})",
            takes(accepted)
        )),
    })
}

fn wrong_kind(kind: &str, what: &str, accepted: &[&'static Kind]) -> Error {
    Error::usage(format!(
        "{what}: a {kind}, and this command takes {}",
        takes(accepted)
    ))
}

fn takes(accepted: &[&'static Kind]) -> String {
    accepted
        .iter()
        .map(|k| format!("{}s", k.kind))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// A DNS-1123 subdomain, as object names are: data, never a path.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// The text of `-f PATH`, and how errors name it.
fn read_source(path: &Path) -> Result<(String, String)> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::io("read objects from stdin", e))?;
        return Ok(("stdin".into(), text));
    }
    let label = path.display().to_string();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(|e| Error::io(format!("read objects from {label}"), e))?;
    Ok((label, text))
}

/// kubectl's `-o name` (a `TYPE/NAME` a line), `-o json` or `-o yaml`.
pub fn parse_stream(text: &str, label: &str, accepted: &[&'static Kind]) -> Result<Vec<Named>> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let value: Value = serde_json::from_str(trimmed)
            .map_err(|e| Error::usage(format!("{label}: not kubectl's JSON output: {e}")))?;
        return from_values(vec![value], label, accepted);
    }
    let is_names = trimmed.lines().map(str::trim).all(|line| {
        line.is_empty() || (line.contains('/') && !line.contains(':') && !line.contains(' '))
    });
    if is_names {
        return trimmed
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(|line| {
                if line.contains('/') {
                    parse_word(line, accepted)
                } else {
                    Err(Error::usage(format!("{label}: {line:?} is not TYPE/NAME")))
                }
            })
            .collect();
    }
    let documents: Vec<Value> = serde_saphyr::from_multiple(trimmed)
        .map_err(|e| Error::usage(format!("{label}: not kubectl's YAML output: {e}")))?;
    from_values(documents, label, accepted)
}

/// Objects and Lists (`kind: List` or `...List` with `items`), flattened.
fn from_values(values: Vec<Value>, label: &str, accepted: &[&'static Kind]) -> Result<Vec<Named>> {
    let mut objects = Vec::new();
    let mut queue: std::collections::VecDeque<Value> = values.into();
    while let Some(value) = queue.pop_front() {
        if value.is_null() {
            continue;
        }
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(items) = value.get("items").and_then(Value::as_array)
            && kind.ends_with("List")
        {
            queue.extend(items.iter().cloned());
            continue;
        }
        objects.push(from_object(&value, label, accepted)?);
    }
    Ok(objects)
}

fn from_object(value: &Value, label: &str, accepted: &[&'static Kind]) -> Result<Named> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    let api_version = text(value.get("apiVersion"));
    let kind = text(value.get("kind"));
    let metadata = value.get("metadata");
    let name = text(metadata.and_then(|m| m.get("name")));
    let namespace = metadata
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .map(String::from);
    if kind.is_empty() || name.is_empty() {
        return Err(Error::usage(format!(
            "{label}: an object without kind or metadata.name"
        )));
    }
    let Some(&found) = accepted.iter().find(|k| k.is_object(&api_version, &kind)) else {
        let what = format!("{}/{name}", kind.to_ascii_lowercase());
        return Err(wrong_kind(&kind, &format!("{label}: {what}"), accepted));
    };
    if !valid_name(&name) || namespace.as_deref().is_some_and(|ns| !valid_name(ns)) {
        return Err(Error::usage(format!(
            "{label}: {name:?} is not a valid object name"
        )));
    }
    Ok(Named {
        kind: found,
        namespace,
        name,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const DEPLOY: &[&Kind] = &[&DEPLOYMENT];
    const CERTS: &[&Kind] = &[&CERTIFICATE, &SECRET];

    fn names(objects: &[Named]) -> Vec<String> {
        objects
            .iter()
            .map(|o| format!("{}/{}", o.kind.kind, o.name))
            .collect()
    }

    #[test]
    fn words_take_kubectl_type_spellings() {
        for word in [
            "x",
            "deploy/x",
            "deployment/x",
            "deployments/x",
            "Deployment/x",
            "deployment.apps/x",
            "deployments.apps/x",
            "deployment.v1.apps/x",
        ] {
            let named = parse_word(word, DEPLOY).unwrap();
            assert_eq!(
                (named.kind, named.name.as_str()),
                (&DEPLOYMENT, "x"),
                "{word}"
            );
        }
        let cert = parse_word("certificate.cert-manager.io/web", CERTS).unwrap();
        assert_eq!(cert.kind, &CERTIFICATE);
        assert_eq!(parse_word("secret/web-tls", CERTS).unwrap().kind, &SECRET);
        assert_eq!(parse_word("web", CERTS).unwrap().kind, &CERTIFICATE);
    }

    #[test]
    fn a_wrong_type_is_named() {
        let err = parse_word("configmap/x", DEPLOY).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configmap/x: a ConfigMap, and this command takes Deployments"
        );
        assert_eq!(err.exit().code(), 2);
        // A group that is not the kind's is another kind.
        assert!(parse_word("deployment.example.com/x", DEPLOY).is_err());
        let err = parse_word("widget/x", DEPLOY).unwrap_err();
        assert!(err.to_string().contains("\"widget\""), "{err}");
        let err = parse_word("deploy/../etc", DEPLOY).unwrap_err();
        assert!(err.to_string().contains("not a valid object name"), "{err}");
    }

    #[test]
    fn o_name_output() {
        let text = "certificate.cert-manager.io/a\ncertificate.cert-manager.io/b\n";
        let objects = parse_stream(text, "stdin", CERTS).unwrap();
        assert_eq!(names(&objects), ["Certificate/a", "Certificate/b"]);
        let err = parse_stream("configmap/kube-root-ca.crt\n", "stdin", CERTS).unwrap_err();
        assert!(err.to_string().contains("a ConfigMap"), "{err}");
    }

    #[test]
    fn o_json_list_and_object() {
        let list = r#"{"apiVersion":"v1","kind":"List","items":[
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a","namespace":"ns"}},
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"b","namespace":"ns"}}]}"#;
        let objects = parse_stream(list, "stdin", DEPLOY).unwrap();
        assert_eq!(names(&objects), ["Deployment/a", "Deployment/b"]);
        assert_eq!(namespace_of(&objects).unwrap().as_deref(), Some("ns"));
        assert_eq!(names_in(&objects, "ns").unwrap(), ["a", "b"]);
        let err = names_in(&objects, "other").unwrap_err();
        assert!(err.to_string().contains("add -n ns"), "{err}");
        let one = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a"}}"#;
        assert_eq!(parse_stream(one, "f.json", DEPLOY).unwrap().len(), 1);
        let cm = r#"{"kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}]}"#;
        let err = parse_stream(cm, "stdin", DEPLOY).unwrap_err();
        assert_eq!(
            err.to_string(),
            "stdin: configmap/c: a ConfigMap, and this command takes Deployments"
        );
    }

    #[test]
    fn o_yaml_documents_and_lists() {
        let docs = "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: a\n  namespace: ns\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: a-tls\n";
        let objects = parse_stream(docs, "f.yaml", CERTS).unwrap();
        assert_eq!(names(&objects), ["Certificate/a", "Secret/a-tls"]);
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: cert-manager.io/v1\n  kind: Certificate\n  metadata: {name: b}\nmetadata:\n  resourceVersion: \"\"\n";
        assert_eq!(
            names(&parse_stream(list, "f", CERTS).unwrap()),
            ["Certificate/b"]
        );
        // A Certificate of another group is not cert-manager's.
        let other = "apiVersion: example.com/v1\nkind: Certificate\nmetadata: {name: c}\n";
        assert!(parse_stream(other, "f", CERTS).is_err());
    }

    #[test]
    fn several_namespaces_are_refused() {
        let objects = vec![
            Named {
                kind: &DEPLOYMENT,
                namespace: Some("a".into()),
                name: "x".into(),
            },
            Named {
                kind: &DEPLOYMENT,
                namespace: Some("b".into()),
                name: "y".into(),
            },
        ];
        assert!(namespace_of(&objects).is_err());
    }
}
