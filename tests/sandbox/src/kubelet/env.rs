//! A container's environment as the kubelet builds it: the `kubernetes` service's variables,
//! then `envFrom` (ConfigMaps and Secrets, with prefixes), then `env` (literal values with
//! `$(VAR)` expansion, `configMapKeyRef`, `secretKeyRef`, `fieldRef`, `resourceFieldRef`). A
//! missing source that is not optional is the kubelet's `CreateContainerConfigError`.

use crate::cluster::Cluster;
use crate::registry::ResKey;
use base64::Engine;
use serde_json::Value;

/// The text of one source's key, or why it cannot be had.
fn lookup(
    cluster: &Cluster,
    ns: &str,
    secret: bool,
    name: &str,
    key: &str,
) -> Result<Option<String>, String> {
    let (plural, kind) = if secret {
        ("secrets", "Secret")
    } else {
        ("configmaps", "ConfigMap")
    };
    let obj = cluster
        .store
        .get(&ResKey::new("", plural), ns, name)
        .ok_or_else(|| format!("{} \"{name}\" not found", kind.to_lowercase()))?;
    let value = if secret {
        obj["data"][key]
            .as_str()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    } else {
        obj["data"][key].as_str().map(String::from).or_else(|| {
            obj["binaryData"][key]
                .as_str()
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        })
    };
    match value {
        Some(v) => Ok(Some(v)),
        None => Err(format!("couldn't find key {key} in {kind} {ns}/{name}")),
    }
}

/// Every key of a ConfigMap or Secret, decoded.
fn all_keys(
    cluster: &Cluster,
    ns: &str,
    secret: bool,
    name: &str,
) -> Result<Vec<(String, String)>, String> {
    let plural = if secret { "secrets" } else { "configmaps" };
    let obj = cluster
        .store
        .get(&ResKey::new("", plural), ns, name)
        .ok_or_else(|| {
            format!(
                "{} \"{name}\" not found",
                if secret { "secret" } else { "configmap" }
            )
        })?;
    let mut out = vec![];
    for field in ["data", "binaryData"] {
        let decode = secret || field == "binaryData";
        if let Some(m) = obj[field].as_object() {
            for (k, v) in m {
                let Some(s) = v.as_str() else { continue };
                let text = if decode {
                    match base64::engine::general_purpose::STANDARD.decode(s) {
                        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                        Err(_) => continue,
                    }
                } else {
                    s.to_string()
                };
                out.push((k.clone(), text));
            }
        }
    }
    Ok(out)
}

/// `metadata.labels['k']` and friends, read from the pod as the kubelet sees it.
fn field(pod: &Value, path: &str) -> Option<String> {
    let bracket = |prefix: &str| -> Option<String> {
        let rest = path.strip_prefix(prefix)?.strip_suffix("']")?;
        let map = if prefix.contains("labels") {
            "labels"
        } else {
            "annotations"
        };
        Some(
            pod["metadata"][map][rest]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    };
    if let Some(v) = bracket("metadata.labels['").or_else(|| bracket("metadata.annotations['")) {
        return Some(v);
    }
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Some(match path {
        "metadata.name" => s(&pod["metadata"]["name"]),
        "metadata.namespace" => s(&pod["metadata"]["namespace"]),
        "metadata.uid" => s(&pod["metadata"]["uid"]),
        "spec.nodeName" => s(&pod["spec"]["nodeName"]),
        "spec.serviceAccountName" => s(&pod["spec"]["serviceAccountName"]),
        "status.podIP" | "status.podIPs" => s(&pod["status"]["podIP"]),
        "status.hostIP" | "status.hostIPs" => s(&pod["status"]["hostIP"]),
        _ => return None,
    })
}

/// `$(VAR)` replaced by an earlier variable's value; `$$(VAR)` is a literal `$(VAR)`;
/// unknown references stay as written.
pub fn expand(value: &str, vars: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
        {
            let name = &inner[..end];
            match vars.iter().rev().find(|(k, _)| k == name) {
                Some((_, v)) => out.push_str(v),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn set(vars: &mut Vec<(String, String)>, k: String, v: String) {
    vars.retain(|(x, _)| *x != k);
    vars.push((k, v));
}

/// The variables the container's process gets, after `base` (service variables, PATH...).
pub fn resolve(
    cluster: &Cluster,
    pod: &Value,
    container: &Value,
    base: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, String> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let mut vars = base;
    for src in container["envFrom"].as_array().into_iter().flatten() {
        let prefix = src["prefix"].as_str().unwrap_or("");
        for (secret, r) in [(false, &src["configMapRef"]), (true, &src["secretRef"])] {
            let Some(name) = r["name"].as_str() else {
                continue;
            };
            match all_keys(cluster, ns, secret, name) {
                Ok(kv) => {
                    for (k, v) in kv {
                        set(&mut vars, format!("{prefix}{k}"), v);
                    }
                }
                Err(_) if r["optional"] == true => {}
                Err(e) => return Err(e),
            }
        }
    }
    for e in container["env"].as_array().into_iter().flatten() {
        let Some(name) = e["name"].as_str() else {
            continue;
        };
        let from = &e["valueFrom"];
        let value = if from.is_object() {
            let keyref = |secret: bool, r: &Value| -> Result<Option<String>, String> {
                let (Some(n), Some(k)) = (r["name"].as_str(), r["key"].as_str()) else {
                    return Ok(None);
                };
                match lookup(cluster, ns, secret, n, k) {
                    Ok(v) => Ok(v),
                    Err(_) if r["optional"] == true => Ok(None),
                    Err(e) => Err(e),
                }
            };
            if from["configMapKeyRef"].is_object() {
                keyref(false, &from["configMapKeyRef"])?
            } else if from["secretKeyRef"].is_object() {
                keyref(true, &from["secretKeyRef"])?
            } else if let Some(path) = from["fieldRef"]["fieldPath"].as_str() {
                field(pod, path)
            } else if let Some(res) = from["resourceFieldRef"]["resource"].as_str() {
                let (kind, what) = res.split_once('.').unwrap_or(("limits", res));
                Some(
                    container["resources"][kind][what]
                        .as_str()
                        .map(String::from)
                        .or_else(|| {
                            container["resources"][kind][what]
                                .as_i64()
                                .map(|n| n.to_string())
                        })
                        .unwrap_or_else(|| "0".into()),
                )
            } else {
                None
            }
        } else {
            Some(expand(e["value"].as_str().unwrap_or(""), &vars))
        };
        if let Some(v) = value {
            set(&mut vars, name.to_string(), v);
        }
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_expand_from_earlier_variables() {
        let vars = vec![("A".to_string(), "x".to_string())];
        assert_eq!(expand("$(A)-$(B)-$$(A)-$", &vars), "x-$(B)-$(A)-$");
    }

    #[test]
    fn field_paths_read_the_pod() {
        let pod = json!({"metadata": {"name": "p", "namespace": "n",
            "labels": {"batch.kubernetes.io/job-completion-index": "2"}},
            "status": {"podIP": "127.0.0.1"}});
        assert_eq!(field(&pod, "metadata.name").as_deref(), Some("p"));
        assert_eq!(
            field(
                &pod,
                "metadata.labels['batch.kubernetes.io/job-completion-index']"
            )
            .as_deref(),
            Some("2")
        );
        assert_eq!(field(&pod, "status.podIP").as_deref(), Some("127.0.0.1"));
        assert_eq!(field(&pod, "spec.bogus"), None);
    }
}
