//! What the cert plugin's tests share: a sandbox, `execute` with captured output, a kube client,
//! and crafted Certificates and Secrets made with real X.509 data (the sandbox's `pki`).
#![allow(dead_code, clippy::unwrap_used)]

pub mod conflict_proxy;

use std::io::Write;
use std::sync::{Arc, Mutex};

use clap::Parser;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use kubectl_sealos_cert::Args;
use sealos_sandbox::pki::{Ca, Leaf, LeafRequest};
use sealos_sandbox::{Sandbox, SandboxOptions};
use sealos_shared::Exit;
use sealos_shared::output::Out;
use sealos_shared::resources::certmanager::{Certificate, CertificateStatus};
use serde_json::{Value, json};

pub const DAY: SignedDuration = SignedDuration::from_hours(24);

pub async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions::scenario("sealos"))
        .await
        .unwrap()
}

#[derive(Clone, Default)]
pub struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What one in-process run gave.
#[derive(Debug)]
pub struct Run {
    pub argv: Vec<String>,
    pub result: Result<Exit, String>,
    pub stdout: String,
}

impl Run {
    pub fn exit(&self) -> Exit {
        match &self.result {
            Ok(exit) => *exit,
            Err(e) => panic!("{:?} failed: {e}\n{}", self.argv, self.stdout),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{:?}: not JSON ({e}):\n{}", self.argv, self.stdout))
    }
}

/// Runs the plugin's `execute` against the sandbox, output captured.
pub async fn run(sandbox: &Sandbox, argv: &[&str]) -> Run {
    let mut full = vec![
        "kubectl-sealos-cert".to_string(),
        "--kubeconfig".into(),
        sandbox.kubeconfig_path().display().to_string(),
    ];
    full.extend(argv.iter().map(|a| a.to_string()));
    run_argv(full).await
}

pub async fn run_argv(argv: Vec<String>) -> Run {
    let args = Args::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let buffer = Buffer::default();
    let mut out = Out::to_writer(Box::new(buffer.clone()), args.format());
    let result = kubectl_sealos_cert::execute(args, &mut out)
        .await
        .map_err(|e| e.to_string());
    let stdout = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    Run {
        argv,
        result,
        stdout,
    }
}

pub async fn client(sandbox: &Sandbox) -> Client {
    let kubeconfig = Kubeconfig::read_from(sandbox.kubeconfig_path()).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// A stored Certificate as the sandbox holds it.
pub fn stored(sandbox: &Sandbox, ns: &str, name: &str) -> Certificate {
    serde_json::from_value(
        sandbox
            .object("cert-manager.io", "certificates", ns, name)
            .unwrap(),
    )
    .unwrap()
}

/// The `Issuing` condition's (status, reason), if any.
pub fn issuing(cert: &Certificate) -> Option<(String, Option<String>)> {
    cert.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Issuing")
        .map(|c| (c.status.clone(), c.reason.clone()))
}

/// `ns/name` of the Certificate a `.../certificates/NAME/status` path names.
fn status_target(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    match segments.as_slice() {
        [.., "namespaces", ns, "certificates", name, "status"] => Some(format!("{ns}/{name}")),
        _ => None,
    }
}

/// The Certificates written through their status subresource since `mark`, one entry per PUT
/// (sorted), each with its answer; panics on any other write but the status PUTs.
pub fn status_puts(sandbox: &Sandbox, mark: usize) -> Vec<(String, u16)> {
    let mut puts: Vec<(String, u16)> = sandbox
        .request_log()
        .since(mark)
        .into_iter()
        .filter(|r| r.is_write())
        .map(|r| {
            assert_eq!(r.method, "PUT", "only status PUTs expected: {r:?}");
            (
                status_target(&r.path).unwrap_or_else(|| panic!("{r:?}")),
                r.status,
            )
        })
        .collect();
    puts.sort();
    puts
}

/// Watches `ns/name` until `done` holds (the sandbox's cert-manager answers asynchronously); the
/// outer timeout only stops a hung test.
pub async fn await_certificate(
    sandbox: &Sandbox,
    ns: &str,
    name: &str,
    done: impl Fn(&Certificate) -> bool + Send + 'static,
) -> Certificate {
    let api: Api<Certificate> = Api::namespaced(client(sandbox).await, ns);
    let cond = move |c: Option<&Certificate>| c.is_some_and(&done);
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        kube::runtime::wait::await_condition(api, name, cond),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "{ns}/{name} never reached the condition: {:?}",
            stored(sandbox, ns, name)
        )
    })
    .unwrap()
    .unwrap()
}

fn ready(c: &Certificate) -> bool {
    c.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// Waits for the sandbox to re-issue: revision past `before`, Ready, `Issuing` gone.
pub async fn reissued(sandbox: &Sandbox, ns: &str, name: &str, before: Option<i64>) -> Certificate {
    await_certificate(sandbox, ns, name, move |c| {
        let revision = c.status.as_ref().and_then(|s| s.revision);
        revision > before && ready(c) && issuing(c).is_none()
    })
    .await
}

/// Waits for the sandbox to record one more failed issuance than `attempts_before`.
pub async fn failed_again(
    sandbox: &Sandbox,
    ns: &str,
    name: &str,
    attempts_before: Option<i64>,
) -> Certificate {
    let want = attempts_before.unwrap_or(0) + 1;
    await_certificate(sandbox, ns, name, move |c| {
        c.status.as_ref().and_then(|s| s.failed_issuance_attempts) == Some(want)
    })
    .await
}

/// The Certificate's status revision as stored.
pub fn revision(sandbox: &Sandbox, ns: &str, name: &str) -> Option<i64> {
    stored(sandbox, ns, name).status.and_then(|s| s.revision)
}

/// The parsed `tls.crt` of a Secret.
pub async fn secret_chain(
    sandbox: &Sandbox,
    ns: &str,
    name: &str,
) -> Vec<sealos_shared::certs::CertInfo> {
    let secret = Api::<Secret>::namespaced(client(sandbox).await, ns)
        .get(name)
        .await
        .unwrap();
    let crt = &secret.data.unwrap()["tls.crt"];
    sealos_shared::certs::parse_chain(&crt.0).unwrap()
}

/// Marks a Certificate so the sandbox's issuance fails (a change that does not trigger one).
pub fn make_issuance_fail(sandbox: &Sandbox, ns: &str, name: &str) {
    sandbox
        .modify("cert-manager.io", "certificates", ns, name, |o| {
            o["metadata"]["annotations"]["sandbox.sealos.io/issue-fails"] = json!("true");
        })
        .unwrap();
}

/// The crafted namespace and its cases.
pub const NS: &str = "crafted";

pub struct Crafter {
    pub client: Client,
    pub ca: Ca,
    pub now: Timestamp,
}

/// What a crafted Secret holds.
pub enum Material {
    /// A leaf with its own key.
    Leaf(Leaf),
    /// A leaf's certificate with another leaf's key.
    WrongKey(Leaf, Leaf),
    /// Raw `tls.crt` bytes (garbage, DER, empty) with a valid key.
    Raw(Vec<u8>, String),
    /// No Secret at all.
    Missing,
}

impl Crafter {
    pub async fn new(sandbox: &Sandbox) -> Crafter {
        let client = client(sandbox).await;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": NS}})).unwrap();
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .unwrap();
        Crafter {
            client,
            ca: Ca::new("Crafted CA").unwrap(),
            now: Timestamp::now(),
        }
    }

    /// A leaf for `names`, valid until `days_left` days from now (negative: expired), 90 days long.
    pub fn leaf(&self, names: &[&str], days_left: i64) -> Leaf {
        let not_after = self.now + DAY * days_left as i32 + SignedDuration::from_hours(1);
        self.ca
            .issue(&LeafRequest::for_dns(
                names,
                not_after - DAY * 90,
                not_after,
            ))
            .unwrap()
    }

    pub async fn secret(&self, name: &str, material: &Material) {
        let (crt, key) = match material {
            Material::Leaf(leaf) => (leaf.cert_pem.clone().into_bytes(), leaf.key_pem.clone()),
            Material::WrongKey(leaf, other) => {
                (leaf.cert_pem.clone().into_bytes(), other.key_pem.clone())
            }
            Material::Raw(crt, key) => (crt.clone(), key.clone()),
            Material::Missing => return,
        };
        let mut data = std::collections::BTreeMap::new();
        data.insert("tls.crt".to_string(), ByteString(crt));
        data.insert("tls.key".to_string(), ByteString(key.into_bytes()));
        data.insert(
            "ca.crt".to_string(),
            ByteString(self.ca.cert_pem().as_bytes().to_vec()),
        );
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                namespace: Some(NS.into()),
                ..Default::default()
            },
            type_: Some("kubernetes.io/tls".into()),
            data: Some(data),
            ..Default::default()
        };
        let api: Api<Secret> = Api::namespaced(self.client.clone(), NS);
        api.create(&PostParams::default(), &secret).await.unwrap();
    }

    /// A Certificate and its Secret; the status says Ready (or not) with `not_after` and a
    /// renewal time a third of the duration before it, as cert-manager writes them.
    pub async fn certificate(
        &self,
        name: &str,
        dns_names: &[&str],
        material: Material,
        ready: bool,
        status_not_after: Timestamp,
        labels: &[(&str, &str)],
    ) {
        self.secret(name, &material).await;
        // cert-manager copies the dates from the certificate it wrote.
        let status_not_after = match &material {
            Material::Leaf(leaf) | Material::WrongKey(leaf, _) => expired_not_after(leaf),
            _ => status_not_after,
        };
        let labels: serde_json::Map<String, Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let cert: Certificate = serde_json::from_value(json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"secretName": name, "dnsNames": dns_names,
                     "issuerRef": {"name": "crafted-ca", "kind": "Issuer", "group": "cert-manager.io"}},
        }))
        .unwrap();
        let api: Api<Certificate> = Api::namespaced(self.client.clone(), NS);
        api.create(&PostParams::default(), &cert).await.unwrap();
        let (status, reason) = if ready {
            ("True", "Ready")
        } else {
            ("False", "DoesNotExist")
        };
        let crafted_status: CertificateStatus = serde_json::from_value(json!({
            "conditions": [{"type": "Ready", "status": status, "reason": reason,
                            "message": "crafted", "observedGeneration": 1}],
            "notBefore": (status_not_after - DAY * 90).to_string(),
            "notAfter": status_not_after.to_string(),
            "renewalTime": (status_not_after - DAY * 30).to_string(),
            "revision": 1,
        }))
        .unwrap();
        // The sandbox's cert-manager may write the status first (409): re-read and write again.
        for attempt in 1.. {
            let mut current = api.get(name).await.unwrap();
            current.status = Some(crafted_status.clone());
            match api
                .replace_status(name, &PostParams::default(), &current)
                .await
            {
                Ok(_) => break,
                Err(kube::Error::Api(e)) if e.code == 409 && attempt < 10 => continue,
                Err(e) => panic!("write the status of certificate {name:?}: {e}"),
            }
        }
    }

    /// Every crafted case of the issue, plus a Gateway serving a Secret no Certificate makes.
    pub async fn all_cases(&self) {
        let at = |days: i64| self.now + DAY * days as i32;
        let name = |n: &str| format!("{n}.crafted.example.com");
        let healthy = self.leaf(&[&name("healthy")], 80);
        self.certificate(
            "healthy",
            &[&name("healthy")],
            Material::Leaf(healthy),
            true,
            at(80),
            &[("tier", "edge")],
        )
        .await;
        let expired = self.leaf(&[&name("expired")], -3);
        let expired_after = expired_not_after(&expired);
        self.certificate(
            "expired-ready",
            &[&name("expired")],
            Material::Leaf(expired),
            true,
            expired_after,
            &[("tier", "edge")],
        )
        .await;
        let soon = self.leaf(&[&name("soon")], 2);
        let soon_after = expired_not_after(&soon);
        self.certificate(
            "expiring-2d",
            &[&name("soon")],
            Material::Leaf(soon),
            true,
            soon_after,
            &[],
        )
        .await;
        let other = self.leaf(&["other.example.org"], 60);
        self.certificate(
            "san-mismatch",
            &[&name("san")],
            Material::Leaf(other),
            true,
            at(60),
            &[],
        )
        .await;
        let mine = self.leaf(&[&name("key")], 60);
        let theirs = self.leaf(&[&name("key")], 60);
        self.certificate(
            "wrong-key",
            &[&name("key")],
            Material::WrongKey(mine, theirs),
            true,
            at(60),
            &[],
        )
        .await;
        let key = self.leaf(&[&name("raw")], 60).key_pem;
        self.certificate(
            "garbage",
            &[&name("raw")],
            Material::Raw(b"this is not a certificate".to_vec(), key.clone()),
            true,
            at(60),
            &[],
        )
        .await;
        let der = pem_body(&self.leaf(&[&name("raw")], 60).cert_pem);
        self.certificate(
            "der",
            &[&name("raw")],
            Material::Raw(der, key.clone()),
            true,
            at(60),
            &[],
        )
        .await;
        self.certificate(
            "empty",
            &[&name("raw")],
            Material::Raw(Vec::new(), key),
            true,
            at(60),
            &[],
        )
        .await;
        self.certificate(
            "missing-secret",
            &[&name("missing")],
            Material::Missing,
            false,
            at(60),
            &[],
        )
        .await;
        // A Gateway serving "healthy" (managed), "gw-only-tls" (no Certificate) and a Secret that
        // does not exist. Its selector matches no pod, so Istio (and the check) read its
        // Secrets in the Gateway's own namespace.
        self.secret(
            "gw-only-tls",
            &Material::Leaf(self.leaf(&["shop.crafted.example.com"], 20)),
        )
        .await;
        let gateway: sealos_shared::resources::istio::Gateway = serde_json::from_value(json!({
            "apiVersion": "networking.istio.io/v1", "kind": "Gateway",
            "metadata": {"name": "crafted-gw", "namespace": NS},
            "spec": {"selector": {"istio": "crafted-gateway"}, "servers": [
                {"port": {"number": 443, "name": "https-healthy", "protocol": "HTTPS"},
                 "hosts": [name("healthy")], "tls": {"mode": "SIMPLE", "credentialName": "healthy"}},
                {"port": {"number": 443, "name": "https-shop", "protocol": "HTTPS"},
                 "hosts": ["shop.crafted.example.com"], "tls": {"mode": "SIMPLE", "credentialName": "gw-only-tls"}},
                {"port": {"number": 443, "name": "https-gone", "protocol": "HTTPS"},
                 "hosts": ["gone.crafted.example.com"], "tls": {"mode": "SIMPLE", "credentialName": "gw-missing-tls"}},
            ]},
        }))
        .unwrap();
        Api::namespaced(self.client.clone(), NS)
            .create(&PostParams::default(), &gateway)
            .await
            .unwrap();
    }
}

/// The leaf's notAfter, read back from its PEM (the status agrees with it).
pub fn expired_not_after(leaf: &Leaf) -> Timestamp {
    sealos_shared::certs::parse_chain(leaf.cert_pem.as_bytes()).unwrap()[0].not_after
}

/// The DER bytes inside a PEM block.
pub fn pem_body(pem: &str) -> Vec<u8> {
    x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
        .next()
        .unwrap()
        .unwrap()
        .contents
}
