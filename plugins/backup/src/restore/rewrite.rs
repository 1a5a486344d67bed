//! References follow the namespace map. Moving only `metadata.namespace` (as velero does, its
//! issue #474) leaves a clone routing to the old namespace's Services and claiming the old
//! gateway references: every field of the kinds backup takes that names a namespace is rewritten
//! here — VirtualService hosts, destinations, mirrors, gateways and exportTo; DestinationRule host
//! and exportTo; Gateway server hosts (`ns/host`); AuthorizationPolicy principals, namespaces and
//! notNamespaces. External hosts (`x.cloud.sealos.io`) change only by `--host-map`, never silently.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// One changed field, for the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rewrite {
    /// Where, as a path: `spec.http[0].route[0].destination.host`.
    pub field: String,
    pub from: String,
    pub to: String,
}

/// `--host-map OLD=NEW`: a host equal to OLD, or ending in `.OLD`, gets NEW instead.
pub type HostMap = Vec<(String, String)>;

/// What a field holds, and so how it is rewritten.
#[derive(Clone, Copy)]
enum Holds {
    /// A host: `name`, `name.ns`, `name.ns.svc[.cluster.local]`, or an external name.
    Host,
    /// A namespace name (`.`, `*`, `~` stay).
    Namespace,
    /// A gateway reference: `ns/name`, `name` or `mesh`.
    GatewayRef,
    /// A Gateway server's host: `ns/host` or `host`.
    ServerHost,
    /// A SPIFFE-style principal: `cluster.local/ns/NS/sa/NAME`.
    Principal,
}

/// The fields of each kind that name a namespace or a host.
fn fields(group: &str, kind: &str) -> Vec<(&'static str, Holds)> {
    use Holds::*;
    match (group, kind) {
        ("networking.istio.io", "VirtualService") => {
            let mut f = vec![
                ("spec.hosts[]", Host),
                ("spec.gateways[]", GatewayRef),
                ("spec.exportTo[]", Namespace),
                ("spec.http[].mirror.host", Host),
                ("spec.http[].mirrors[].destination.host", Host),
            ];
            for (route, gateways, source) in [
                (
                    "spec.http[].route[].destination.host",
                    "spec.http[].match[].gateways[]",
                    "spec.http[].match[].sourceNamespace",
                ),
                (
                    "spec.tcp[].route[].destination.host",
                    "spec.tcp[].match[].gateways[]",
                    "spec.tcp[].match[].sourceNamespace",
                ),
                (
                    "spec.tls[].route[].destination.host",
                    "spec.tls[].match[].gateways[]",
                    "spec.tls[].match[].sourceNamespace",
                ),
            ] {
                f.extend([(route, Host), (gateways, GatewayRef), (source, Namespace)]);
            }
            f
        }
        ("networking.istio.io", "DestinationRule") => {
            vec![("spec.host", Host), ("spec.exportTo[]", Namespace)]
        }
        ("networking.istio.io", "Gateway") => vec![("spec.servers[].hosts[]", ServerHost)],
        ("security.istio.io", "AuthorizationPolicy") => vec![
            ("spec.rules[].from[].source.principals[]", Principal),
            ("spec.rules[].from[].source.notPrincipals[]", Principal),
            ("spec.rules[].from[].source.namespaces[]", Namespace),
            ("spec.rules[].from[].source.notNamespaces[]", Namespace),
        ],
        ("cert-manager.io", "Certificate") => {
            vec![("spec.dnsNames[]", Host), ("spec.commonName", Host)]
        }
        _ => Vec::new(),
    }
}

/// Rewrites references by the namespace map and the host map.
pub struct Rewriter<'a> {
    pub namespaces: &'a BTreeMap<String, String>,
    pub hosts: &'a HostMap,
}

impl Rewriter<'_> {
    /// Rewrites `object` in place; what changed, in field order.
    pub fn rewrite(&self, group: &str, kind: &str, object: &mut Value) -> Vec<Rewrite> {
        let mut done = Vec::new();
        for (path, holds) in fields(group, kind) {
            let steps: Vec<&str> = path.split('.').collect();
            visit(object, &steps, String::new(), &mut |field, value| {
                let Some(text) = value.as_str() else {
                    return;
                };
                if let Some(new) = self.one(holds, text)
                    && new != text
                {
                    done.push(Rewrite {
                        field,
                        from: text.to_string(),
                        to: new.clone(),
                    });
                    *value = Value::String(new);
                }
            });
        }
        done
    }

    fn one(&self, holds: Holds, text: &str) -> Option<String> {
        match holds {
            Holds::Host => self.host(text),
            Holds::Namespace => self.namespaces.get(text).cloned(),
            Holds::GatewayRef => match text.split_once('/') {
                Some((ns, name)) => Some(format!("{}/{name}", self.namespaces.get(ns)?)),
                // The legacy form `name.ns.svc.cluster.local` names a gateway too.
                None => self.in_cluster(text),
            },
            Holds::ServerHost => match text.split_once('/') {
                Some((ns, host)) => {
                    let ns = self.namespaces.get(ns).map_or(ns, String::as_str);
                    let host = self.host(host).unwrap_or_else(|| host.to_string());
                    Some(format!("{ns}/{host}"))
                }
                None => self.host(text),
            },
            Holds::Principal => {
                let parts: Vec<&str> = text.split('/').collect();
                match parts.as_slice() {
                    [domain, "ns", ns, rest @ ..] => {
                        let to = self.namespaces.get(*ns)?;
                        let mut out = vec![*domain, "ns", to.as_str()];
                        out.extend(rest);
                        Some(out.join("/"))
                    }
                    _ => None,
                }
            }
        }
    }

    /// A Service host in a mapped namespace moves with it; an external host only by `--host-map`.
    fn host(&self, host: &str) -> Option<String> {
        self.in_cluster(host).or_else(|| self.external(host))
    }

    /// `name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local` with `ns` mapped.
    fn in_cluster(&self, host: &str) -> Option<String> {
        let labels: Vec<&str> = host.split('.').collect();
        if let [name, ns, rest @ ..] = labels.as_slice()
            && matches!(rest, [] | ["svc"] | ["svc", "cluster", "local"])
            && let Some(to) = self.namespaces.get(*ns)
        {
            let mut out = vec![*name, to.as_str()];
            out.extend(rest);
            return Some(out.join("."));
        }
        None
    }

    /// `--host-map`, by suffix, the longest OLD first.
    pub fn external(&self, host: &str) -> Option<String> {
        let mut maps: Vec<&(String, String)> = self.hosts.iter().collect();
        maps.sort_by_key(|(old, _)| std::cmp::Reverse(old.len()));
        maps.into_iter().find_map(|(old, new)| {
            if host == old {
                Some(new.clone())
            } else {
                host.strip_suffix(old.as_str())
                    .filter(|head| head.ends_with('.'))
                    .map(|head| format!("{head}{new}"))
            }
        })
    }
}

/// Calls `each` with every value at `steps` (`name[]` walks an array), naming its field.
fn visit(value: &mut Value, steps: &[&str], at: String, each: &mut dyn FnMut(String, &mut Value)) {
    let Some((step, rest)) = steps.split_first() else {
        each(at, value);
        return;
    };
    let (key, array) = match step.strip_suffix("[]") {
        Some(key) => (key, true),
        None => (*step, false),
    };
    let field = if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    };
    let Some(next) = value.get_mut(key) else {
        return;
    };
    if array {
        if let Some(items) = next.as_array_mut() {
            for (i, item) in items.iter_mut().enumerate() {
                visit(item, rest, format!("{field}[{i}]"), each);
            }
        }
    } else {
        visit(next, rest, field, each);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn rewriter<'a>(namespaces: &'a BTreeMap<String, String>, hosts: &'a HostMap) -> Rewriter<'a> {
        Rewriter { namespaces, hosts }
    }

    #[test]
    fn virtual_service_destinations_gateways_and_export_follow_the_map() {
        let map = BTreeMap::from([("ns-alice".to_string(), "ns-alice2".to_string())]);
        let none = HostMap::new();
        let mut vs = json!({"spec": {
            "hosts": ["dbadmin-test.cloud.sealos.io", "dbadmin-test.ns-alice.svc.cluster.local"],
            "gateways": ["istio-system/sealos-gateway", "ns-alice/own", "mesh", "gw.ns-alice.svc.cluster.local"],
            "exportTo": [".", "ns-alice"],
            "http": [{
                "route": [
                    {"destination": {"host": "dbadmin-test.ns-alice.svc.cluster.local"}},
                    {"destination": {"host": "a.ns-alice"}},
                    {"destination": {"host": "b.ns-alice.svc"}},
                    {"destination": {"host": "short"}},
                    {"destination": {"host": "c.ns-bob.svc.cluster.local"}}
                ],
                "mirror": {"host": "m.ns-alice.svc.cluster.local"}
            }]
        }});
        let done = rewriter(&map, &none).rewrite("networking.istio.io", "VirtualService", &mut vs);
        let spec = &vs["spec"];
        assert_eq!(
            spec["hosts"][0],
            json!("dbadmin-test.cloud.sealos.io"),
            "external hosts stay"
        );
        assert_eq!(
            spec["hosts"][1],
            json!("dbadmin-test.ns-alice2.svc.cluster.local")
        );
        assert_eq!(
            spec["gateways"],
            json!([
                "istio-system/sealos-gateway",
                "ns-alice2/own",
                "mesh",
                "gw.ns-alice2.svc.cluster.local"
            ])
        );
        assert_eq!(spec["exportTo"], json!([".", "ns-alice2"]));
        let hosts: Vec<&str> = spec["http"][0]["route"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["destination"]["host"].as_str().unwrap())
            .collect();
        assert_eq!(
            hosts,
            [
                "dbadmin-test.ns-alice2.svc.cluster.local",
                "a.ns-alice2",
                "b.ns-alice2.svc",
                "short",
                "c.ns-bob.svc.cluster.local"
            ]
        );
        assert_eq!(
            spec["http"][0]["mirror"]["host"],
            json!("m.ns-alice2.svc.cluster.local")
        );
        assert_eq!(done.len(), 8, "{done:?}");
        assert_eq!(done[0].field, "spec.hosts[1]");
        assert!(
            done.iter()
                .any(|r| r.field == "spec.http[0].route[0].destination.host")
        );
    }

    #[test]
    fn external_hosts_move_only_by_the_host_map() {
        let map = BTreeMap::new();
        let hosts = vec![("cloud.sealos.io".to_string(), "clone.sealos.io".to_string())];
        let r = rewriter(&map, &hosts);
        assert_eq!(
            r.external("x.cloud.sealos.io").unwrap(),
            "x.clone.sealos.io"
        );
        assert_eq!(r.external("cloud.sealos.io").unwrap(), "clone.sealos.io");
        assert_eq!(r.external("xcloud.sealos.io"), None);
        let mut gw = json!({"spec": {"servers": [{"hosts": ["*/x.cloud.sealos.io", "other.io"]}]}});
        r.rewrite("networking.istio.io", "Gateway", &mut gw);
        assert_eq!(
            gw["spec"]["servers"][0]["hosts"],
            json!(["*/x.clone.sealos.io", "other.io"])
        );
        let mut cert = json!({"spec": {"dnsNames": ["x.cloud.sealos.io"], "secretName": "x"}});
        r.rewrite("cert-manager.io", "Certificate", &mut cert);
        assert_eq!(cert["spec"]["dnsNames"], json!(["x.clone.sealos.io"]));
    }

    #[test]
    fn authorization_policy_principals_and_namespaces_follow() {
        let map = BTreeMap::from([("ns-alice".to_string(), "ns-alice2".to_string())]);
        let none = HostMap::new();
        let mut policy = json!({"spec": {"rules": [{"from": [{"source": {
            "principals": ["cluster.local/ns/ns-alice/sa/terminal-test", "cluster.local/ns/istio-system/sa/x"],
            "namespaces": ["ns-alice"],
            "notNamespaces": ["ns-bob"]
        }}]}]}});
        let done =
            rewriter(&map, &none).rewrite("security.istio.io", "AuthorizationPolicy", &mut policy);
        let source = &policy["spec"]["rules"][0]["from"][0]["source"];
        assert_eq!(
            source["principals"],
            json!([
                "cluster.local/ns/ns-alice2/sa/terminal-test",
                "cluster.local/ns/istio-system/sa/x"
            ])
        );
        assert_eq!(source["namespaces"], json!(["ns-alice2"]));
        assert_eq!(source["notNamespaces"], json!(["ns-bob"]));
        assert_eq!(done.len(), 2);
    }
}
