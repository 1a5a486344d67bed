//! Generated objects for scale: `pods=20000,configmaps=20000,...` spread over namespaces
//! `scale-0`..`scale-19`, shaped like a Sealos user's (labels, owner-less pods Running and Ready,
//! TLS Secrets, VirtualServices, Certificates).

use serde_json::{Value, json};

/// How many namespaces generated objects spread over.
pub const NAMESPACES: usize = 20;

/// The kinds `--scale` knows, by plural.
pub const KINDS: &[&str] = &[
    "pods",
    "configmaps",
    "secrets",
    "services",
    "virtualservices",
    "certificates",
];

/// Parse `pods=20000,configmaps=100`.
pub fn parse(spec: &str) -> Result<Vec<(String, usize)>, String> {
    spec.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (kind, n) = pair
                .split_once('=')
                .ok_or_else(|| format!("scale: expected KIND=COUNT, got {pair:?}"))?;
            let kind = kind.trim();
            if !KINDS.contains(&kind) {
                return Err(format!(
                    "scale: unknown kind {kind:?} (known: {})",
                    KINDS.join(", ")
                ));
            }
            let n = n
                .trim()
                .parse()
                .map_err(|_| format!("scale: {n:?} is not a count"))?;
            Ok((kind.to_string(), n))
        })
        .collect()
}

/// The namespaces and objects for `counts`, namespaces first.
pub fn objects(counts: &[(String, usize)]) -> Vec<Value> {
    let now = crate::clock::now_rfc3339();
    let mut out: Vec<Value> = (0..NAMESPACES)
        .map(|n| json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": format!("scale-{n}"), "labels": { "sealos.io/generated": "true" } } }))
        .collect();
    for (kind, count) in counts {
        for i in 0..*count {
            let ns = format!("scale-{}", i % NAMESPACES);
            let app = format!("app-{}", i % 97);
            let meta = |name: String| json!({ "name": name, "namespace": ns, "labels": { "app": app, "sealos.io/generated": "true" } });
            out.push(match kind.as_str() {
                "pods" => json!({
                    "apiVersion": "v1", "kind": "Pod", "metadata": meta(format!("{app}-{i:06}")),
                    "spec": { "nodeName": "sealos-node-1", "containers": [
                        { "name": "app", "image": format!("registry.sealos.io/{app}:v1"), "ports": [{ "containerPort": 8080 }] },
                        { "name": "istio-proxy", "image": "istio/proxyv2:1.24.2" },
                    ] },
                    "status": { "phase": "Running", "podIP": format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255), "startTime": now,
                        "conditions": [{ "type": "Ready", "status": "True", "lastTransitionTime": now }],
                        "containerStatuses": [
                            { "name": "app", "ready": true, "restartCount": 0, "image": format!("registry.sealos.io/{app}:v1"), "state": { "running": { "startedAt": now } } },
                            { "name": "istio-proxy", "ready": true, "restartCount": 0, "image": "istio/proxyv2:1.24.2", "state": { "running": { "startedAt": now } } },
                        ] },
                }),
                "configmaps" => json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(format!("{app}-config-{i:06}")),
                    "data": { "config.yaml": "mode: istio\npercentage: 50\n" } }),
                "secrets" => json!({ "apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": meta(format!("{app}-secret-{i:06}")),
                    "data": { "password": "c2FuZGJveA==" } }),
                "services" => json!({ "apiVersion": "v1", "kind": "Service", "metadata": meta(format!("{app}-{i:06}")),
                    "spec": { "selector": { "app": app }, "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }], "type": "ClusterIP" } }),
                "virtualservices" => json!({ "apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": meta(format!("{app}-{i:06}")),
                    "spec": { "hosts": [format!("{app}-{i}.cloud.sealos.io")], "gateways": ["istio-system/sealos-gateway"],
                        "http": [{ "route": [{ "destination": { "host": format!("{app}.{ns}.svc.cluster.local"), "port": { "number": 80 } } }] }] } }),
                _ => json!({ "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": meta(format!("{app}-tls-{i:06}")),
                    "spec": { "secretName": format!("{app}-tls-{i:06}"), "dnsNames": [format!("{app}-{i}.cloud.sealos.io")],
                        "issuerRef": { "name": "sealos-ca", "kind": "ClusterIssuer" } },
                    "status": { "conditions": [{ "type": "Ready", "status": "True", "reason": "Ready", "message": "Certificate is up to date and has not expired", "lastTransitionTime": now }] } }),
            });
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_generates() {
        let c = parse("pods=40,certificates=3").unwrap();
        assert_eq!(
            c,
            vec![("pods".to_string(), 40), ("certificates".to_string(), 3)]
        );
        assert!(parse("widgets=3").is_err());
        assert!(parse("pods=many").is_err());
        let objs = objects(&c);
        assert_eq!(objs.len(), NAMESPACES + 43);
        assert_eq!(objs.iter().filter(|o| o["kind"] == "Pod").count(), 40);
        assert_eq!(objs[NAMESPACES + 21]["metadata"]["namespace"], "scale-1");
    }
}
