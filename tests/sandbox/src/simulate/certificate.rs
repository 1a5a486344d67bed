//! cert-manager: a Certificate with `Issuing=True`, or created without a valid Secret, gets a real
//! X.509 certificate from its (Cluster)Issuer (selfSigned or ca), written to its Secret, with
//! status (revision, notBefore, notAfter, renewalTime, Ready), a CertificateRequest and Events.
//! Knob `sandbox.sealos.io/issue-fails: "true"`: issuance fails and the Secret is left alone.

use crate::cluster::Cluster;
use crate::pki::{self, LeafRequest};
use crate::registry::ResKey;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

/// Certificate knob: issuance fails.
pub const ISSUE_FAILS: &str = "sandbox.sealos.io/issue-fails";
/// Where ClusterIssuers' CA Secrets live (cert-manager's `--cluster-resource-namespace`).
const CLUSTER_RESOURCE_NAMESPACE: &str = "cert-manager";
const COMPONENT: &str = "cert-manager-certificates-issuing";

pub fn certificates() -> ResKey {
    ResKey::new("cert-manager.io", "certificates")
}

fn condition_true(cert: &Value, t: &str) -> bool {
    cert["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == t && c["status"] == "True")
}

/// Whether a store event on a Certificate calls for issuance.
pub fn wants_issuance(cert: &Value, created: bool) -> bool {
    condition_true(cert, "Issuing") || created
}

/// A Go duration (`2160h`, `720h0m0s`, `90m`, `1h30m45s`).
pub fn parse_go_duration(s: &str) -> Option<jiff::SignedDuration> {
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.trim().chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push('s');
            chars.next();
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        total += n * match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        any = true;
    }
    (any && num.is_empty()).then(|| jiff::SignedDuration::from_secs_f64(total))
}

fn secret_is_valid(cluster: &Cluster, ns: &str, name: &str) -> bool {
    let Some(secret) = cluster.store.get(&ResKey::new("", "secrets"), ns, name) else {
        return false;
    };
    let pem = secret["data"]["tls.crt"]
        .as_str()
        .and_then(|b| B64.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    pem.is_some_and(|p| p.contains("BEGIN CERTIFICATE"))
}

/// Issue (or fail to issue) for one Certificate when it asks for it.
pub fn reconcile(cluster: &Cluster, ns: &str, name: &str, created: bool) {
    let Some(cert) = cluster.store.get(&certificates(), ns, name) else {
        return;
    };
    let secret_name = cert["spec"]["secretName"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let issuing = condition_true(&cert, "Issuing");
    // Objects stored with a Ready status (scenarios, generated scale) are taken at their word.
    let missing_secret =
        created && !condition_true(&cert, "Ready") && !secret_is_valid(cluster, ns, &secret_name);
    if !issuing && !missing_secret {
        return;
    }
    let now = crate::clock::now();
    let now_s = crate::clock::rfc3339(now);
    let fails = cert["metadata"]["annotations"][ISSUE_FAILS] == "true";
    let outcome = if fails {
        Err("the issuer refused to sign the request (sandbox.sealos.io/issue-fails)".to_string())
    } else {
        issue(cluster, &cert, ns, now)
    };
    match outcome {
        Ok(issued) => {
            write_secret(cluster, &cert, ns, &secret_name, &issued);
            let revision = cert["status"]["revision"].as_i64().unwrap_or(0) + 1;
            create_request(cluster, &cert, ns, revision, &issued);
            let _ = cluster.store.update_with(&certificates(), ns, name, |cur| {
                let mut o = cur.clone();
                let mut conds: Vec<Value> = cur["status"]["conditions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|c| c["type"] != "Issuing" && c["type"] != "Ready")
                    .collect();
                conds.push(json!({
                    "type": "Ready", "status": "True", "reason": "Ready",
                    "message": "Certificate is up to date and has not expired",
                    "lastTransitionTime": now_s,
                    "observedGeneration": cur["metadata"]["generation"],
                }));
                let status = o["status"].as_object_mut();
                let mut s = status.cloned().unwrap_or_default();
                s.remove("failedIssuanceAttempts");
                s.remove("lastFailureTime");
                s.insert("conditions".into(), json!(conds));
                s.insert("revision".into(), json!(revision));
                s.insert(
                    "notBefore".into(),
                    json!(crate::clock::rfc3339(issued.not_before)),
                );
                s.insert(
                    "notAfter".into(),
                    json!(crate::clock::rfc3339(issued.not_after)),
                );
                s.insert(
                    "renewalTime".into(),
                    json!(crate::clock::rfc3339(issued.renewal)),
                );
                o["status"] = Value::Object(s);
                Ok(o)
            });
            crate::events::record(
                cluster,
                &cert,
                "Normal",
                "Issuing",
                "The certificate has been successfully issued",
                COMPONENT,
            );
        }
        Err(why) => {
            let _ = cluster.store.update_with(&certificates(), ns, name, |cur| {
                let mut o = cur.clone();
                let mut conds: Vec<Value> = cur["status"]["conditions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|c| c["type"] != "Issuing" && c["type"] != "Ready")
                    .collect();
                conds.push(json!({
                    "type": "Ready", "status": "False", "reason": "Failed",
                    "message": format!("The certificate request has failed to complete and will be retried: {why}"),
                    "lastTransitionTime": now_s,
                    "observedGeneration": cur["metadata"]["generation"],
                }));
                conds.push(json!({
                    "type": "Issuing", "status": "False", "reason": "Failed",
                    "message": format!("The certificate request has failed to complete and will be retried: {why}"),
                    "lastTransitionTime": now_s,
                    "observedGeneration": cur["metadata"]["generation"],
                }));
                let attempts = cur["status"]["failedIssuanceAttempts"].as_i64().unwrap_or(0) + 1;
                if !o["status"].is_object() {
                    o["status"] = json!({});
                }
                o["status"]["conditions"] = json!(conds);
                o["status"]["failedIssuanceAttempts"] = json!(attempts);
                o["status"]["lastFailureTime"] = json!(now_s);
                Ok(o)
            });
            crate::events::record(
                cluster,
                &cert,
                "Warning",
                "Failed",
                &format!(
                    "The certificate request has failed to complete and will be retried: {why}"
                ),
                COMPONENT,
            );
        }
    }
}

struct Issued {
    leaf: pki::Leaf,
    ca_pem: String,
    csr_pem: String,
    not_before: jiff::Timestamp,
    not_after: jiff::Timestamp,
    renewal: jiff::Timestamp,
}

fn issue(
    cluster: &Cluster,
    cert: &Value,
    ns: &str,
    now: jiff::Timestamp,
) -> Result<Issued, String> {
    let spec = &cert["spec"];
    let duration = spec["duration"]
        .as_str()
        .and_then(parse_go_duration)
        .unwrap_or(jiff::SignedDuration::from_hours(2160));
    let not_before = now;
    let not_after = now + duration;
    let renewal = match spec["renewBefore"].as_str().and_then(parse_go_duration) {
        Some(before) if before < duration => not_after - before,
        _ => now + duration * 2 / 3,
    };
    let dns: Vec<String> = spec["dnsNames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str().map(String::from))
        .collect();
    let req = LeafRequest {
        common_name: spec["commonName"]
            .as_str()
            .map(String::from)
            .or_else(|| dns.first().cloned()),
        dns_names: dns,
        ips: Vec::new(),
        not_before,
        not_after,
    };
    let issuer_ref = &spec["issuerRef"];
    let issuer_name = issuer_ref["name"].as_str().unwrap_or("");
    let cluster_kind = issuer_ref["kind"] == "ClusterIssuer";
    let (plural, issuer_ns, secret_ns) = if cluster_kind {
        ("clusterissuers", "", CLUSTER_RESOURCE_NAMESPACE)
    } else {
        ("issuers", ns, ns)
    };
    let issuer = cluster
        .store
        .get(
            &ResKey::new("cert-manager.io", plural),
            issuer_ns,
            issuer_name,
        )
        .ok_or_else(|| {
            let kind = if cluster_kind {
                "ClusterIssuer"
            } else {
                "Issuer"
            };
            format!("{kind}.cert-manager.io \"{issuer_name}\" not found")
        })?;
    let (leaf, ca_pem) = if issuer["spec"]["selfSigned"].is_object() {
        let leaf = pki::self_signed(&req).map_err(|e| e.to_string())?;
        let ca = leaf.cert_pem.clone();
        (leaf, ca)
    } else if let Some(secret_name) = issuer["spec"]["ca"]["secretName"].as_str() {
        let secret = cluster
            .store
            .get(&ResKey::new("", "secrets"), secret_ns, secret_name)
            .ok_or_else(|| format!("secret \"{secret_name}\" not found"))?;
        let field = |k: &str| {
            secret["data"][k]
                .as_str()
                .and_then(|b| B64.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| format!("secret \"{secret_name}\" has no {k}"))
        };
        let ca_cert = field("tls.crt")?;
        let ca = pki::Ca::from_pem(&ca_cert, &field("tls.key")?).map_err(|e| e.to_string())?;
        (ca.issue(&req).map_err(|e| e.to_string())?, ca_cert)
    } else {
        return Err(format!(
            "issuer \"{issuer_name}\" is neither selfSigned nor ca"
        ));
    };
    let csr_pem = pki::csr_pem(&req, &leaf.key_pem).map_err(|e| e.to_string())?;
    Ok(Issued {
        leaf,
        ca_pem,
        csr_pem,
        not_before,
        not_after,
        renewal,
    })
}

fn write_secret(cluster: &Cluster, cert: &Value, ns: &str, name: &str, issued: &Issued) {
    let data = json!({
        "tls.crt": B64.encode(&issued.leaf.cert_pem),
        "tls.key": B64.encode(&issued.leaf.key_pem),
        "ca.crt": B64.encode(&issued.ca_pem),
    });
    let annotations = json!({
        "cert-manager.io/certificate-name": cert["metadata"]["name"],
        "cert-manager.io/issuer-name": cert["spec"]["issuerRef"]["name"],
        "cert-manager.io/issuer-kind": cert["spec"]["issuerRef"]["kind"].as_str().unwrap_or("Issuer"),
        "cert-manager.io/issuer-group": "cert-manager.io",
        "cert-manager.io/alt-names": cert["spec"]["dnsNames"].as_array().map(|a| a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(",")).unwrap_or_default(),
    });
    let key = ResKey::new("", "secrets");
    if cluster.store.get(&key, ns, name).is_some() {
        let _ = cluster.store.update_with(&key, ns, name, |cur| {
            let mut o = cur.clone();
            o["type"] = json!("kubernetes.io/tls");
            if !o["data"].is_object() {
                o["data"] = json!({});
            }
            for (k, v) in data.as_object().into_iter().flatten() {
                o["data"][k] = v.clone();
            }
            if !o["metadata"]["annotations"].is_object() {
                o["metadata"]["annotations"] = json!({});
            }
            for (k, v) in annotations.as_object().into_iter().flatten() {
                o["metadata"]["annotations"][k] = v.clone();
            }
            Ok(o)
        });
        return;
    }
    if let Some(info) = cluster.registry.lookup("", "v1", "secrets") {
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": { "name": name, "namespace": ns, "annotations": annotations },
            "data": data,
        });
        let _ = crate::verbs::create_object(cluster, &info, ns, secret, true, false);
    }
}

fn create_request(cluster: &Cluster, cert: &Value, ns: &str, revision: i64, issued: &Issued) {
    let Some(info) = cluster
        .registry
        .lookup("cert-manager.io", "v1", "certificaterequests")
    else {
        return;
    };
    let name = format!(
        "{}-{revision}",
        cert["metadata"]["name"].as_str().unwrap_or("")
    );
    let now = crate::clock::now_rfc3339();
    let cond = |t: &str, reason: &str, message: &str| json!({ "type": t, "status": "True", "reason": reason, "message": message, "lastTransitionTime": now });
    let cr = json!({
        "apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
        "metadata": {
            "name": name, "namespace": ns,
            "annotations": {
                "cert-manager.io/certificate-name": cert["metadata"]["name"],
                "cert-manager.io/certificate-revision": revision.to_string(),
            },
            "ownerReferences": [{
                "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "name": cert["metadata"]["name"],
                "uid": cert["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "request": B64.encode(&issued.csr_pem),
            "issuerRef": cert["spec"]["issuerRef"],
            "duration": cert["spec"]["duration"].as_str().unwrap_or("2160h0m0s"),
            "usages": ["digital signature", "key encipherment"],
        },
        "status": {
            "certificate": B64.encode(&issued.leaf.cert_pem),
            "ca": B64.encode(&issued.ca_pem),
            "conditions": [
                cond("Approved", "cert-manager.io", "Certificate request has been approved by cert-manager.io"),
                cond("Ready", "Issued", "Certificate fetched from issuer successfully"),
            ],
        },
    });
    if crate::verbs::create_object(cluster, &info, ns, cr, true, false).is_ok() {
        crate::events::record(
            cluster,
            cert,
            "Normal",
            "Requested",
            &format!("Created new CertificateRequest resource \"{name}\""),
            COMPONENT,
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("2160h").unwrap().as_secs(), 2160 * 3600);
        assert_eq!(parse_go_duration("720h0m0s").unwrap().as_secs(), 720 * 3600);
        assert_eq!(parse_go_duration("1h30m45s").unwrap().as_secs(), 5445);
        assert!(parse_go_duration("12").is_none());
        assert!(parse_go_duration("3d").is_none());
    }
}
