//! cert-manager simulation through kube-rs: issuance on creation without a Secret, renewal by a
//! status PUT setting `Issuing=True` (as `cmctl renew` does), checked on the real X.509 dates and
//! SANs, and a failing issuer.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use common::{sandbox, wait_for};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::{Client, Config};
use serde_json::{Value, json};
use x509_parser::prelude::*;

async fn client(sb: &sealos_sandbox::Sandbox) -> Client {
    let kc = kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).unwrap();
    let config = Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

fn certificate(name: &str, issuer: (&str, &str), fails: bool) -> Value {
    let mut c = json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": { "name": name, "namespace": "default", "generation": 1 },
        "spec": {
            "secretName": format!("{name}-secret"),
            "dnsNames": ["web.example.com", "www.example.com"],
            "duration": "720h",
            "issuerRef": { "name": issuer.1, "kind": issuer.0, "group": "cert-manager.io" },
        },
    });
    if fails {
        c["metadata"]["annotations"] =
            json!({ sealos_sandbox::simulate::certificate::ISSUE_FAILS: "true" });
    }
    c
}

fn secret_field(sb: &sealos_sandbox::Sandbox, name: &str, key: &str) -> Vec<u8> {
    let s = sb.object("", "secrets", "default", name).unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(s["data"][key].as_str().unwrap())
        .unwrap()
}

fn revision(sb: &sealos_sandbox::Sandbox, name: &str) -> i64 {
    sb.object("cert-manager.io", "certificates", "default", name)
        .unwrap()["status"]["revision"]
        .as_i64()
        .unwrap_or(0)
}

/// (notBefore, notAfter, DNS SANs, serial) of a PEM certificate, after checking it against `ca`.
fn inspect(cert_pem: &[u8], ca_pem: &[u8]) -> (i64, i64, Vec<String>, String) {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem).unwrap();
    let cert = pem.parse_x509().unwrap();
    let (_, ca_pem) = x509_parser::pem::parse_x509_pem(ca_pem).unwrap();
    let ca = ca_pem.parse_x509().unwrap();
    cert.verify_signature(Some(ca.public_key())).unwrap();
    let sans = cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(d.to_string()),
            _ => None,
        })
        .collect();
    (
        cert.validity().not_before.timestamp(),
        cert.validity().not_after.timestamp(),
        sans,
        cert.raw_serial_as_string(),
    )
}

fn ts(v: &Value) -> i64 {
    v.as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_second()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issued_on_creation_then_renewed_through_the_status_subresource() {
    let sb = sandbox().await;
    sb.create(certificate("web", ("ClusterIssuer", "sealos-ca"), false))
        .unwrap();
    wait_for("first issuance", || {
        (revision(&sb, "web") == 1).then_some(())
    })
    .await;
    let (nb1, na1, sans, serial1) = inspect(
        &secret_field(&sb, "web-secret", "tls.crt"),
        &secret_field(&sb, "web-secret", "ca.crt"),
    );
    assert_eq!(sans, vec!["web.example.com", "www.example.com"]);
    assert_eq!(na1 - nb1, 720 * 3600);
    let status = sb
        .object("cert-manager.io", "certificates", "default", "web")
        .unwrap()["status"]
        .clone();
    assert_eq!(ts(&status["notBefore"]), nb1);
    assert_eq!(ts(&status["notAfter"]), na1);
    assert_eq!(
        ts(&status["renewalTime"]),
        nb1 + 480 * 3600,
        "2/3 of the duration"
    );
    assert!(
        sb.object("cert-manager.io", "certificaterequests", "default", "web-1")
            .is_some()
    );

    // Renew as cmctl does: PUT the whole object to /status with Issuing=True.
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cert-manager.io", "v1", "Certificate"),
        "certificates",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client(&sb).await, "default", &ar);
    let mut cert = api.get("web").await.unwrap();
    cert.data["status"]["conditions"].as_array_mut().unwrap().push(json!({
        "type": "Issuing", "status": "True", "reason": "ManuallyTriggered",
        "message": "Certificate re-issuance manually triggered", "lastTransitionTime": "2026-11-25T10:00:00Z",
    }));
    api.replace_status("web", &PostParams::default(), &cert)
        .await
        .unwrap();
    wait_for("re-issuance", || (revision(&sb, "web") == 2).then_some(())).await;
    let (nb2, na2, sans2, serial2) = inspect(
        &secret_field(&sb, "web-secret", "tls.crt"),
        &secret_field(&sb, "web-secret", "ca.crt"),
    );
    assert_ne!(serial1, serial2);
    assert!(nb2 >= nb1);
    assert_eq!(na2 - nb2, 720 * 3600);
    assert_eq!(sans2, sans);
    let cert = api.get("web").await.unwrap();
    let conds = cert.data["status"]["conditions"].as_array().unwrap();
    assert!(conds.iter().all(|c| c["type"] != "Issuing"), "{conds:?}");
    assert!(
        conds
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True"),
        "{conds:?}"
    );
    assert!(
        sb.object("cert-manager.io", "certificaterequests", "default", "web-2")
            .is_some()
    );
    let events = sb.objects("", "events", Some("default"));
    assert!(events.iter().any(|e| e["involvedObject"]["name"] == "web"
        && e["reason"] == "Requested"
        && e["message"] == "Created new CertificateRequest resource \"web-2\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_issuer_and_renew_before() {
    let sb = sandbox().await;
    sb.create(json!({"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": {"name": "own", "namespace": "default"}, "spec": {"selfSigned": {}}})).unwrap();
    let mut c = certificate("own", ("Issuer", "own"), false);
    c["spec"]["renewBefore"] = json!("24h");
    sb.create(c).unwrap();
    wait_for("issuance", || (revision(&sb, "own") == 1).then_some(())).await;
    let crt = secret_field(&sb, "own-secret", "tls.crt");
    assert_eq!(
        crt,
        secret_field(&sb, "own-secret", "ca.crt"),
        "a self-signed certificate is its own CA"
    );
    let (_, na, _, _) = inspect(&crt, &crt);
    let status = sb
        .object("cert-manager.io", "certificates", "default", "own")
        .unwrap()["status"]
        .clone();
    assert_eq!(ts(&status["renewalTime"]), na - 24 * 3600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_issuer_leaves_the_secret_alone() {
    let sb = sandbox().await;
    sb.create(certificate("broken", ("ClusterIssuer", "sealos-ca"), true))
        .unwrap();
    let failed = wait_for("the failed attempt", || {
        let s = sb
            .object("cert-manager.io", "certificates", "default", "broken")
            .unwrap()["status"]
            .clone();
        (s["failedIssuanceAttempts"] == 1).then_some(s)
    })
    .await;
    assert!(failed["lastFailureTime"].is_string());
    let ready = failed["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["status"], "False");
    assert!(
        sb.object("", "secrets", "default", "broken-secret")
            .is_none()
    );
    assert!(failed.get("revision").is_none());
}
