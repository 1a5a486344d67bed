//! `kubectl sealos health policies --print`: the guide's security-policies.yaml and
//! network-policies.yaml, corrected so that the `security` and `network` checks pass, as one
//! `v1 List` for `kubectl apply -f -` (YAML: one document per object; JSON: a `v1 List`):
//! - the AuthorizationPolicy as ONE rule with `from` and `to` (two rules are ORed: the guide's
//!   second rule admits any caller);
//! - the NetworkPolicy selecting namespaces by `kubernetes.io/metadata.name` (set on every
//!   namespace by the API server; `name` is set by nobody), with egress to DNS, to the API
//!   server's endpoints, and within the namespace (its ingress rule admits those pods, but
//!   their own egress must let them send).

use std::net::IpAddr;

use clap::Args;
use k8s_openapi::api::core::v1::Endpoints;
use kube::Api;
use sealos_shared::connection::Kube;
use sealos_shared::error::KubeContext;
use sealos_shared::output::{Out, to_yaml};
use sealos_shared::{Error, Exit, Result};
use serde_json::{Value, json};

use crate::rules::RulesFormat;

#[derive(Args, Debug, Clone)]
pub struct PoliciesArgs {
    /// Print the corrected policies (apply them with `| kubectl apply -f -`).
    #[arg(long)]
    pub print: bool,
    /// The namespace of the Sealos controllers the policies protect.
    #[arg(long, value_name = "NS", default_value = "sealos-system")]
    pub sealos_namespace: String,
    /// The namespace of the ingress gateway (and istiod).
    #[arg(long, value_name = "NS", default_value = "istio-system")]
    pub istio_namespace: String,
    /// The ingress gateway's service account, whose principal the AuthorizationPolicy admits.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "istio-ingressgateway-service-account"
    )]
    pub gateway_service_account: String,
    /// The API server's address and port (IP:PORT, repeatable); default: the endpoints of
    /// service default/kubernetes, read from the cluster.
    #[arg(long, value_name = "IP:PORT")]
    pub api_server: Vec<String>,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: RulesFormat,
}

impl PoliciesArgs {
    /// Rejects bad input before anything is read.
    pub fn validate(&self) -> Result<Vec<(IpAddr, u16)>> {
        if !self.print {
            return Err(Error::usage(
                "say --print: kubectl sealos health policies --print | kubectl apply -f -",
            ));
        }
        self.api_server
            .iter()
            .map(|s| {
                let parsed = s.rsplit_once(':').and_then(|(ip, port)| {
                    let ip = ip.trim_start_matches('[').trim_end_matches(']');
                    Some((
                        ip.parse::<IpAddr>().ok()?,
                        port.parse::<u16>().ok().filter(|p| *p > 0)?,
                    ))
                });
                parsed.ok_or_else(|| {
                    Error::usage(format!(
                        "--api-server {s:?} is not IP:PORT (e.g. 192.168.10.2:6443)"
                    ))
                })
            })
            .collect()
    }

    /// A cluster is read only to find the API server.
    pub fn needs_cluster(&self) -> bool {
        self.api_server.is_empty()
    }
}

/// The API server's endpoints, as `kubectl get endpoints kubernetes -n default` shows them.
async fn api_endpoints(kube: &Kube) -> Result<Vec<(IpAddr, u16)>> {
    let api: Api<Endpoints> = Api::namespaced(kube.client.clone(), "default");
    let ep = api
        .get("kubernetes")
        .await
        .kube_context(|| "get endpoints \"kubernetes\" in \"default\"".to_string())?;
    let mut out = Vec::new();
    for subset in ep.subsets.iter().flatten() {
        let Some(port) = subset
            .ports
            .iter()
            .flatten()
            .find_map(|p| u16::try_from(p.port).ok())
        else {
            continue;
        };
        for a in subset.addresses.iter().flatten() {
            if let Ok(ip) = a.ip.parse() {
                out.push((ip, port));
            }
        }
    }
    if out.is_empty() {
        return Err(Error::failed(
            "endpoints default/kubernetes list no address: pass --api-server IP:PORT",
        ));
    }
    Ok(out)
}

fn meta(name: &str, namespace: &str) -> Value {
    json!({
        "name": name,
        "namespace": namespace,
        "labels": { "app.kubernetes.io/managed-by": "kubectl-sealos" },
    })
}

/// The corrected set, as a `v1 List`.
pub fn corrected(args: &PoliciesArgs, api_servers: &[(IpAddr, u16)]) -> Value {
    let ns = args.sealos_namespace.as_str();
    let istio = args.istio_namespace.as_str();
    let principal = format!(
        "cluster.local/ns/{istio}/sa/{}",
        args.gateway_service_account
    );
    let by_name = |n: &str| json!({ "matchLabels": { "kubernetes.io/metadata.name": n } });
    let mut egress = vec![
        json!({
            "to": [{ "namespaceSelector": by_name("kube-system"), "podSelector": { "matchLabels": { "k8s-app": "kube-dns" } } }],
            "ports": [{ "protocol": "UDP", "port": 53 }, { "protocol": "TCP", "port": 53 }],
        }),
        json!({ "to": [{ "namespaceSelector": by_name(istio) }] }),
        json!({ "to": [{ "podSelector": {} }] }),
    ];
    for (ip, port) in api_servers {
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        egress.push(json!({
            "to": [{ "ipBlock": { "cidr": format!("{ip}/{bits}") } }],
            "ports": [{ "protocol": "TCP", "port": port }],
        }));
    }
    json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "AuthorizationPolicy",
                "metadata": meta("sealos-system-access", ns),
                "spec": {
                    "action": "ALLOW",
                    "rules": [{
                        "from": [{ "source": { "principals": [principal] } }],
                        "to": [{ "operation": { "methods": ["GET", "POST", "PUT", "DELETE"] } }],
                    }],
                },
            },
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "PeerAuthentication",
                "metadata": meta("sealos-mtls", ns),
                "spec": { "mtls": { "mode": "STRICT" } },
            },
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": meta("sealos-system-isolation", ns),
                "spec": {
                    "podSelector": {},
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": [
                        { "from": [{ "namespaceSelector": by_name(istio) }] },
                        { "from": [{ "podSelector": {} }] },
                    ],
                    "egress": egress,
                },
            },
        ],
    })
}

pub async fn run(args: &PoliciesArgs, kube: Option<&Kube>, out: &mut Out) -> Result<Exit> {
    let mut api_servers = args.validate()?;
    if api_servers.is_empty() {
        let kube = kube.ok_or_else(|| {
            Error::usage("no cluster to read the API server from: pass --api-server IP:PORT")
        })?;
        api_servers = api_endpoints(kube).await?;
    }
    let list = corrected(args, &api_servers);
    match args.output {
        RulesFormat::Json => out.data(&list)?,
        // One document per object: `kubectl apply -f -` reads them without the List's
        // round of OpenAPI v2 validation.
        RulesFormat::Yaml => {
            for item in list["items"].as_array().into_iter().flatten() {
                out.text(&format!("---\n{}", to_yaml(item)?))?;
            }
        }
    }
    Ok(Exit::Ok)
}
