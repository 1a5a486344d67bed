//! Conflicts with what the cluster already holds, found before any write: a VirtualService
//! claiming an external host on a gateway where another VirtualService claims it (the clone would
//! silently take half the traffic), a Certificate writing the Secret another Certificate writes,
//! a Gateway serving a host on a port another Gateway serves it on.

use std::collections::BTreeSet;

use serde_json::Value;

/// The cluster's objects of the three kinds that can conflict.
#[derive(Debug, Default)]
pub struct Claimed {
    pub virtual_services: Vec<Value>,
    pub certificates: Vec<Value>,
    pub gateways: Vec<Value>,
}

/// One object about to be written, after rewriting.
pub struct Candidate<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub object: &'a Value,
}

/// Why `candidate` conflicts with an object the cluster holds (none: it does not).
pub fn find(candidate: &Candidate<'_>, claimed: &Claimed) -> Vec<String> {
    let others = |list: &'_ [Value]| -> Vec<Value> {
        list.iter()
            .filter(|o| {
                !(o["metadata"]["namespace"].as_str() == Some(candidate.namespace)
                    && o["metadata"]["name"].as_str() == Some(candidate.name))
            })
            .cloned()
            .collect()
    };
    match (candidate.group, candidate.kind) {
        ("networking.istio.io", "VirtualService") => {
            let mine = host_claims(candidate.object, candidate.namespace);
            let mut found = Vec::new();
            for other in others(&claimed.virtual_services) {
                let ns = other["metadata"]["namespace"].as_str().unwrap_or("");
                let theirs = host_claims(&other, ns);
                for (gateway, host) in mine.intersection(&theirs) {
                    found.push(format!(
                        "claims host {host} on gateway {gateway}, as VirtualService {ns}/{} already does",
                        other["metadata"]["name"].as_str().unwrap_or("")
                    ));
                }
            }
            found
        }
        ("cert-manager.io", "Certificate") => {
            let Some(secret) = candidate.object["spec"]["secretName"].as_str() else {
                return Vec::new();
            };
            others(&claimed.certificates)
                .iter()
                .filter(|o| o["metadata"]["namespace"].as_str() == Some(candidate.namespace))
                .filter(|o| o["spec"]["secretName"].as_str() == Some(secret))
                .map(|o| {
                    format!(
                        "writes Secret {}/{secret}, as Certificate {} already does",
                        candidate.namespace,
                        o["metadata"]["name"].as_str().unwrap_or("")
                    )
                })
                .collect()
        }
        ("networking.istio.io", "Gateway") => {
            let mine = served(candidate.object);
            let mut found = Vec::new();
            for other in others(&claimed.gateways) {
                for (port, host) in mine.intersection(&served(&other)) {
                    found.push(format!(
                        "serves {host} on port {port}, as Gateway {}/{} already does",
                        other["metadata"]["namespace"].as_str().unwrap_or(""),
                        other["metadata"]["name"].as_str().unwrap_or("")
                    ));
                }
            }
            found
        }
        _ => Vec::new(),
    }
}

/// (gateway `ns/name`, external host) pairs a VirtualService in `ns` claims. Service hosts
/// (`name`, `name.ns.svc...`) and the `mesh` gateway are not claims on an ingress.
fn host_claims(vs: &Value, ns: &str) -> BTreeSet<(String, String)> {
    let gateways: Vec<String> = vs["spec"]["gateways"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|g| *g != "mesh")
        .map(|g| gateway_key(g, ns))
        .collect();
    let hosts: Vec<&str> = vs["spec"]["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|h| external(h))
        .collect();
    gateways
        .iter()
        .flat_map(|g| hosts.iter().map(move |h| (g.clone(), h.to_string())))
        .collect()
}

/// `ns/name` of a gateway reference from a VirtualService in `ns`: `ns/name`, the legacy
/// `name.ns[.svc.cluster.local]`, or a bare name in the VirtualService's namespace.
fn gateway_key(reference: &str, ns: &str) -> String {
    if let Some((gw_ns, name)) = reference.split_once('/') {
        return format!("{gw_ns}/{name}");
    }
    match reference.split('.').collect::<Vec<_>>().as_slice() {
        [name, gw_ns, ..] => format!("{gw_ns}/{name}"),
        _ => format!("{ns}/{reference}"),
    }
}

/// (port, host) pairs a Gateway serves (a server's `ns/host` counts by its host).
fn served(gateway: &Value) -> BTreeSet<(u64, String)> {
    let mut out = BTreeSet::new();
    for server in gateway["spec"]["servers"].as_array().into_iter().flatten() {
        let Some(port) = server["port"]["number"].as_u64() else {
            continue;
        };
        for host in server["hosts"].as_array().into_iter().flatten() {
            if let Some(host) = host.as_str() {
                let host = host.split_once('/').map_or(host, |(_, h)| h);
                if host != "*" {
                    out.insert((port, host.to_string()));
                }
            }
        }
    }
    out
}

/// A host reached from outside the mesh: not a short Service name, not `*.svc[.cluster.local]`.
fn external(host: &str) -> bool {
    host.contains('.')
        && !host.ends_with(".svc")
        && !host.ends_with(".svc.cluster.local")
        && host != "*"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vs(ns: &str, name: &str, host: &str, gateway: &str) -> Value {
        json!({"metadata": {"namespace": ns, "name": name},
               "spec": {"hosts": [host], "gateways": [gateway]}})
    }

    fn candidate<'a>(kind: &'a str, group: &'a str, object: &'a Value) -> Candidate<'a> {
        Candidate {
            group,
            kind,
            namespace: object["metadata"]["namespace"].as_str().unwrap_or(""),
            name: object["metadata"]["name"].as_str().unwrap_or(""),
            object,
        }
    }

    #[test]
    fn a_host_claimed_twice_on_one_gateway_conflicts() {
        let claimed = Claimed {
            virtual_services: vec![vs(
                "ns-alice",
                "dbadmin-test",
                "dbadmin-test.cloud.sealos.io",
                "istio-system/sealos-gateway",
            )],
            ..Claimed::default()
        };
        let clone = vs(
            "ns-alice2",
            "dbadmin-test",
            "dbadmin-test.cloud.sealos.io",
            "istio-system/sealos-gateway",
        );
        let found = find(
            &candidate("VirtualService", "networking.istio.io", &clone),
            &claimed,
        );
        assert_eq!(found.len(), 1);
        assert!(
            found[0].contains("dbadmin-test.cloud.sealos.io"),
            "{found:?}"
        );
        assert!(found[0].contains("ns-alice/dbadmin-test"), "{found:?}");
        // Itself (an update in place), another host, or the mesh: no conflict.
        let same = vs(
            "ns-alice",
            "dbadmin-test",
            "dbadmin-test.cloud.sealos.io",
            "istio-system/sealos-gateway",
        );
        assert!(
            find(
                &candidate("VirtualService", "networking.istio.io", &same),
                &claimed
            )
            .is_empty()
        );
        let moved = vs(
            "ns-alice2",
            "x",
            "x.clone.sealos.io",
            "istio-system/sealos-gateway",
        );
        assert!(
            find(
                &candidate("VirtualService", "networking.istio.io", &moved),
                &claimed
            )
            .is_empty()
        );
        let legacy = vs(
            "ns-alice2",
            "x",
            "dbadmin-test.cloud.sealos.io",
            "sealos-gateway.istio-system.svc.cluster.local",
        );
        assert_eq!(
            find(
                &candidate("VirtualService", "networking.istio.io", &legacy),
                &claimed
            )
            .len(),
            1
        );
        let mesh = vs("ns-alice2", "x", "dbadmin-test.cloud.sealos.io", "mesh");
        assert!(
            find(
                &candidate("VirtualService", "networking.istio.io", &mesh),
                &claimed
            )
            .is_empty()
        );
    }

    #[test]
    fn certificates_sharing_a_secret_and_gateways_sharing_a_port_conflict() {
        let claimed = Claimed {
            certificates: vec![
                json!({"metadata": {"namespace": "ns", "name": "a"}, "spec": {"secretName": "tls"}}),
            ],
            gateways: vec![
                json!({"metadata": {"namespace": "istio-system", "name": "g"},
                "spec": {"servers": [{"port": {"number": 443}, "hosts": ["*.cloud.sealos.io"]}]}}),
            ],
            ..Claimed::default()
        };
        let cert =
            json!({"metadata": {"namespace": "ns", "name": "b"}, "spec": {"secretName": "tls"}});
        assert_eq!(
            find(
                &candidate("Certificate", "cert-manager.io", &cert),
                &claimed
            )
            .len(),
            1
        );
        let elsewhere =
            json!({"metadata": {"namespace": "ns2", "name": "b"}, "spec": {"secretName": "tls"}});
        assert!(
            find(
                &candidate("Certificate", "cert-manager.io", &elsewhere),
                &claimed
            )
            .is_empty()
        );
        let gw = json!({"metadata": {"namespace": "ns", "name": "g2"},
            "spec": {"servers": [{"port": {"number": 443}, "hosts": ["ns/*.cloud.sealos.io"]}]}});
        assert_eq!(
            find(&candidate("Gateway", "networking.istio.io", &gw), &claimed).len(),
            1
        );
        let other_port = json!({"metadata": {"namespace": "ns", "name": "g2"},
            "spec": {"servers": [{"port": {"number": 8443}, "hosts": ["*.cloud.sealos.io"]}]}});
        assert!(
            find(
                &candidate("Gateway", "networking.istio.io", &other_port),
                &claimed
            )
            .is_empty()
        );
    }
}
