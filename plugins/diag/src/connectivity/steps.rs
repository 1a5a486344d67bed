//! The steps of the path, one function each, in the order a request takes them. A step reads
//! the walk's inputs and what the steps before it learned, and says what it found.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use kube::{Api, ResourceExt};
use sealos_shared::certs::{self, Verdict};
use sealos_shared::error::{KubeContext, Result};
use sealos_shared::resources::istio::VirtualService;
use sealos_shared::retry::{self, Backoff};

use super::path::{self, SIDECAR};
use super::walk::{Checked, Inputs, Learned, SubsetRef, destinations, names};
use crate::envoy;
use crate::finding::{Finding, Level, ObjectRef};
use crate::list::all;
use sealos_shared::output::counted;

/// Step 1: The app's pods: Ready, not restarting, inside the mesh.
pub(super) fn pods(inputs: &Inputs<'_>) -> Checked {
    let (ns, selector, pods) = (inputs.ns, &inputs.selector, &inputs.pods);
    let mut found = Vec::new();
    if pods.is_empty() {
        found.push(Finding::new(
            "PODS_NONE",
            Level::Error,
            ObjectRef::new("Namespace", None, ns),
            format!("no pods match {selector:?} in {ns:?}"),
            "check the app name and namespace, or pass -l with the pods' labels",
        ));
    }
    for pod in pods {
        let object = ObjectRef::new("Pod", Some(ns), &pod.name_any());
        if !path::is_ready(pod) {
            let phase = pod
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Unknown".into());
            found.push(Finding::new(
                "POD_NOT_READY",
                Level::Error,
                object.clone(),
                format!("{phase}, not Ready: the Service sends it no traffic"),
                "kubectl describe pod / kubectl logs: readiness probe, crash or image problem",
            ));
        }
        let restarts = path::restarts(pod);
        if restarts >= path::RESTART_WARNING {
            found.push(Finding::new(
                "POD_RESTARTS",
                Level::Warning,
                object.clone(),
                format!("{restarts} container restarts"),
                "kubectl logs --previous shows why it restarted",
            ));
        }
        if !path::has_sidecar(pod) {
            let disabled = pod
                .annotations()
                .get("sidecar.istio.io/inject")
                .is_some_and(|v| v == "false");
            found.push(Finding::new(
                "SIDECAR_MISSING",
                Level::Error,
                object,
                format!("no {SIDECAR} container: the pod is outside the mesh"),
                if disabled {
                    "the pod template says sidecar.istio.io/inject: \"false\"; remove it and restart"
                } else {
                    "label the namespace istio-injection=enabled and restart the pods (kubectl rollout restart)"
                },
            ));
        } else if path::sidecar_ready(pod) == Some(false) {
            found.push(Finding::new(
                "SIDECAR_NOT_READY",
                Level::Error,
                object,
                format!(
                    "{SIDECAR} is not ready: it has not received its configuration from istiod"
                ),
                "kubectl logs -c istio-proxy; check istiod is running",
            ));
        }
    }
    let ready = pods.iter().filter(|p| path::is_ready(p)).count();
    Checked::Judged(
        format!(
            "{} for {selector:?}, {ready} ready",
            counted(pods.len(), "pod", "pods")
        ),
        found,
    )
}

/// Step 2: The Services selecting the pods (or named after the app), their ports and Endpoints.
pub(super) fn service(inputs: &Inputs<'_>, learned: &mut Learned<'_>) -> Checked {
    let (ns, app) = (inputs.ns, &inputs.args.app);
    let mut found = Vec::new();
    let pod_labels: Vec<BTreeMap<String, String>> =
        inputs.pods.iter().map(|p| p.labels().clone()).collect();
    let named = inputs.services.iter().find(|s| s.name_any() == *app);
    let mut app_services: Vec<&Service> = inputs
        .services
        .iter()
        .filter(|s| {
            let selector = path::service_selector(s);
            pod_labels.iter().any(|l| path::selects(&selector, l))
        })
        .collect();
    if let Some(svc) = named
        && !app_services.iter().any(|s| s.name_any() == svc.name_any())
    {
        let selector = path::service_selector(svc);
        found.push(Finding::new(
            "SVC_SELECTOR_MISMATCH",
            Level::Error,
            ObjectRef::new("Service", Some(ns), &svc.name_any()),
            format!(
                "its selector {:?} matches none of the app's pods",
                path::selector_string(&selector)
            ),
            "make spec.selector match the pod labels (kubectl get pods --show-labels)",
        ));
        app_services.push(svc);
    }
    if app_services.is_empty() {
        found.push(Finding::new(
            "SVC_MISSING",
            Level::Error,
            ObjectRef::new("Service", Some(ns), app),
            format!("no Service named {app:?} or selecting the app's pods"),
            "create a Service whose selector matches the pods",
        ));
    }
    for svc in &app_services {
        let name = svc.name_any();
        let object = ObjectRef::new("Service", Some(ns), &name);
        let selector = path::service_selector(svc);
        let selected: Vec<&Pod> = inputs
            .pods
            .iter()
            .filter(|p| path::selects(&selector, p.labels()))
            .collect();
        for (port, target) in path::service_ports(svc) {
            if let Some(pod) = selected.first()
                && path::pod_serves(pod, &target) == Some(false)
            {
                found.push(Finding::new(
                    "SVC_TARGET_PORT",
                    Level::Error,
                    object.clone(),
                    format!(
                        "port {port} targets {target:?}, which no container of the pods declares"
                    ),
                    "set targetPort to the container port the app listens on",
                ));
            }
        }
        let ready_addresses = inputs
            .endpoints
            .iter()
            .find(|e| e.name_any() == name)
            .map(path::ready_addresses);
        if ready_addresses.is_none_or(|n| n == 0) {
            found.push(Finding::new(
                "ENDPOINTS_EMPTY",
                Level::Error,
                ObjectRef::new("Endpoints", Some(ns), &name),
                "no ready addresses: requests to the Service have nowhere to go",
                "the selector matches no Ready pod: fix the selector or the pods' readiness",
            ));
        }
    }
    learned.service_names = app_services.iter().map(|s| s.name_any()).collect();
    let summary = if learned.service_names.is_empty() {
        "no Service".into()
    } else {
        format!("Service {}", learned.service_names.join(", "))
    };
    Checked::Judged(summary, found)
}

/// Step 3: The VirtualServices routing to the app's Services (or serving --host): their
/// gateways, destinations and ports.
pub(super) async fn virtual_service<'a>(
    inputs: &'a Inputs<'_>,
    learned: &mut Learned<'a>,
) -> Result<Checked> {
    let (ns, args) = (inputs.ns, inputs.args);
    let mut found = Vec::new();
    let targets: BTreeSet<(String, String)> = if learned.service_names.is_empty() {
        [(ns.to_string(), args.app.clone())].into()
    } else {
        learned
            .service_names
            .iter()
            .map(|n| (ns.to_string(), n.clone()))
            .collect()
    };
    let relevant: Vec<&VirtualService> = inputs
        .virtual_services
        .iter()
        .filter(|vs| {
            let vs_ns = vs.namespace().unwrap_or_default();
            let routes_here = destinations(vs)
                .any(|d| path::resolve_host(&d.host, &vs_ns).is_some_and(|t| targets.contains(&t)));
            let serves_host = args
                .host
                .as_deref()
                .is_some_and(|h| vs.spec.hosts.iter().any(|p| path::host_covers(p, h)));
            routes_here || serves_host
        })
        .collect();
    let mut hosts: Vec<String> = match &args.host {
        Some(h) => vec![h.clone()],
        None => relevant
            .iter()
            .flat_map(|vs| {
                let vs_ns = vs.namespace().unwrap_or_default();
                vs.spec
                    .hosts
                    .iter()
                    .filter(move |h| path::is_external_host(h, &vs_ns))
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect(),
    };
    hosts.sort();
    hosts.dedup();
    if relevant.is_empty() {
        found.push(Finding::new(
            "VS_MISSING",
            if args.host.is_some() {
                Level::Error
            } else {
                Level::Warning
            },
            ObjectRef::new("VirtualService", Some(ns), &args.app),
            "no VirtualService routes to the app's Service",
            "create a VirtualService bound to the gateway with the app's host",
        ));
    }
    for vs in &relevant {
        let vs_ns = vs.namespace().unwrap_or_default();
        let object = ObjectRef::new("VirtualService", Some(&vs_ns), &vs.name_any());
        for reference in &vs.spec.gateways {
            let Some((gw_ns, gw_name)) = path::gateway_ref(reference, &vs_ns) else {
                continue;
            };
            let exists = inputs.gateways.iter().any(|g| {
                g.name_any() == gw_name && g.namespace().as_deref() == Some(gw_ns.as_str())
            });
            if exists {
                learned.used_gateways.insert((gw_ns, gw_name));
            } else {
                found.push(Finding::new(
                    "VS_GATEWAY_MISSING",
                    Level::Error,
                    object.clone(),
                    format!("gateway {reference:?} does not exist"),
                    "create the Gateway or fix spec.gateways (namespace/name)",
                ));
            }
        }
        for destination in destinations(vs) {
            let Some((dest_ns, dest_name)) = path::resolve_host(&destination.host, &vs_ns) else {
                continue;
            };
            let svc = if dest_ns == ns {
                inputs
                    .services
                    .iter()
                    .find(|s| s.name_any() == dest_name)
                    .cloned()
            } else {
                let api: Api<Service> = Api::namespaced(inputs.kube.client.clone(), &dest_ns);
                retry::read(Backoff::default(), || api.get_opt(&dest_name))
                    .await
                    .kube_context(|| format!("get service {dest_name:?} in {dest_ns:?}"))?
            };
            let Some(svc) = svc else {
                found.push(Finding::new(
                    "VS_DEST_MISSING",
                    Level::Error,
                    object.clone(),
                    format!(
                        "destination {:?} names Service {dest_ns}/{dest_name}, which does not exist",
                        destination.host
                    ),
                    "fix the destination host or create the Service",
                ));
                continue;
            };
            let ports: Vec<i32> = path::service_ports(&svc).iter().map(|(p, _)| *p).collect();
            match &destination.port {
                Some(port)
                    if !ports
                        .iter()
                        .any(|p| i64::from(*p) == i64::from(port.number)) =>
                {
                    found.push(Finding::new(
                        "VS_DEST_PORT",
                        Level::Error,
                        object.clone(),
                        format!(
                            "destination {:?} port {} is not a port of Service {dest_ns}/{dest_name} ({})",
                            destination.host,
                            port.number,
                            ports.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                        ),
                        "set destination.port.number to one of the Service's ports",
                    ));
                }
                None if ports.len() > 1 => found.push(Finding::new(
                    "VS_DEST_PORT",
                    Level::Warning,
                    object.clone(),
                    format!(
                        "destination {:?} names no port but the Service has {}",
                        destination.host,
                        ports.len()
                    ),
                    "name the port: Istio cannot choose among several",
                )),
                _ => {}
            }
            if let Some(subset) = &destination.subset {
                learned.subsets.push(SubsetRef {
                    namespace: dest_ns.clone(),
                    service: dest_name.clone(),
                    subset: subset.clone(),
                    route: object.clone(),
                });
            }
        }
    }
    let summary = if relevant.is_empty() {
        "none".into()
    } else {
        names(&relevant)
    };
    learned.relevant = relevant;
    learned.hosts = hosts;
    Ok(Checked::Judged(summary, found))
}

/// Step 4: The subsets routes name: defined by a DestinationRule, and matching Ready pods.
pub(super) async fn destination_rule(
    inputs: &Inputs<'_>,
    learned: &Learned<'_>,
) -> Result<Checked> {
    if learned.subsets.is_empty() {
        return Ok(Checked::Skipped("no route names a subset".into()));
    }
    let mut found = Vec::new();
    for reference in &learned.subsets {
        let SubsetRef {
            namespace: dest_ns,
            service: dest_name,
            subset,
            route,
        } = reference;
        let rule = inputs.rules.iter().find(|r| {
            let r_ns = r.namespace().unwrap_or_default();
            path::resolve_host(&r.spec.host, &r_ns).as_ref()
                == Some(&(dest_ns.clone(), dest_name.clone()))
        });
        let defined = rule.and_then(|r| r.spec.subsets.iter().find(|s| &s.name == subset));
        let (Some(rule), Some(defined)) = (rule, defined) else {
            found.push(Finding::new(
                "VS_SUBSET_UNDEFINED",
                Level::Error,
                route.clone(),
                format!(
                    "subset {subset:?} of {dest_ns}/{dest_name} is defined by no DestinationRule"
                ),
                "add the subset to the DestinationRule for this host",
            ));
            continue;
        };
        let mut labels = inputs
            .services
            .iter()
            .find(|s| s.name_any() == *dest_name && dest_ns == inputs.ns)
            .map(path::service_selector)
            .unwrap_or_default();
        labels.extend(defined.labels.clone());
        let matching = all::<Pod>(
            &inputs.kube.client,
            Some(dest_ns),
            Some(&path::selector_string(&labels)),
        )
        .await?;
        let ready = matching.iter().filter(|p| path::is_ready(p)).count();
        if ready == 0 {
            found.push(Finding::new(
                "DR_SUBSET_NO_PODS",
                Level::Error,
                ObjectRef::new(
                    "DestinationRule",
                    rule.namespace().as_deref(),
                    &rule.name_any(),
                ),
                format!(
                    "subset {subset:?} ({}) matches {}, none ready: its share of traffic fails",
                    path::selector_string(&defined.labels),
                    counted(matching.len(), "pod", "pods")
                ),
                "fix the subset labels or deploy that version",
            ));
        }
    }
    Ok(Checked::Judged(
        format!(
            "{} checked",
            counted(
                learned.subsets.len(),
                "subset reference",
                "subset references"
            )
        ),
        found,
    ))
}

/// Step 5: The Gateways: bound at all, pods behind their selector, the hosts, the TLS credential.
pub(super) async fn gateway(inputs: &Inputs<'_>, learned: &mut Learned<'_>) -> Result<Checked> {
    let (ns, args, client) = (inputs.ns, inputs.args, &inputs.kube.client);
    let mut found = Vec::new();
    let external = learned.relevant.iter().any(|vs| {
        let vs_ns = vs.namespace().unwrap_or_default();
        vs.spec
            .gateways
            .iter()
            .any(|g| path::gateway_ref(g, &vs_ns).is_some())
    });
    if !learned.relevant.is_empty() && !external {
        found.push(Finding::new(
            "GW_MISSING",
            if args.host.is_some() {
                Level::Error
            } else {
                Level::Info
            },
            ObjectRef::new("VirtualService", Some(ns), &args.app),
            "the app's VirtualServices bind no Gateway: it is reachable only inside the mesh",
            "add the ingress gateway to spec.gateways to expose it",
        ));
    }
    for (gw_ns, gw_name) in &learned.used_gateways {
        let Some(gateway) = inputs
            .gateways
            .iter()
            .find(|g| g.name_any() == *gw_name && g.namespace().as_deref() == Some(gw_ns.as_str()))
        else {
            continue;
        };
        let object = ObjectRef::new("Gateway", Some(gw_ns), gw_name);
        let selector = path::selector_string(&gateway.spec.selector);
        let gw_pods = if selector.is_empty() {
            Vec::new()
        } else {
            all::<Pod>(client, None, Some(&selector)).await?
        };
        // Istio reads credentialName Secrets where the gateway's pods run, not where the Gateway is.
        let secret_namespaces = gateway.credential_namespaces(
            gw_pods
                .iter()
                .filter_map(|p| p.metadata.namespace.as_deref()),
        );
        let gw_ready = gw_pods.iter().filter(|p| path::is_ready(p)).count();
        if gw_ready == 0 {
            found.push(Finding::new(
                "GW_NO_PODS",
                Level::Error,
                object.clone(),
                format!(
                    "its selector {selector:?} matches {}, none ready: nothing serves it",
                    counted(gw_pods.len(), "pod", "pods")
                ),
                "check the ingress gateway Deployment in istio-system and the selector labels",
            ));
        }
        for host in &learned.hosts {
            let covering: Vec<_> = gateway
                .spec
                .servers
                .iter()
                .filter(|s| s.hosts.iter().any(|p| path::host_covers(p, host)))
                .collect();
            if covering.is_empty() {
                found.push(Finding::new(
                    "GW_HOST_NOT_COVERED",
                    Level::Error,
                    object.clone(),
                    format!("no server of the Gateway lists host {host:?}"),
                    "add the host (or a wildcard) to a server's hosts",
                ));
            }
            for server in covering {
                let Some(credential) = server.tls.as_ref().and_then(|t| t.credential_name.clone())
                else {
                    continue;
                };
                for secret_ns in &secret_namespaces {
                    let api: Api<Secret> = Api::namespaced(client.clone(), secret_ns);
                    let secret = retry::read(Backoff::default(), || api.get_opt(&credential))
                        .await
                        .kube_context(|| format!("get secret {credential:?} in {secret_ns:?}"))?;
                    found.extend(tls_finding(
                        inputs,
                        secret.as_ref(),
                        secret_ns,
                        &credential,
                        host,
                    ));
                    learned
                        .credential_secrets
                        .push((secret_ns.clone(), credential.clone()));
                }
            }
        }
    }
    let summary = if learned.used_gateways.is_empty() {
        "no Gateway in the path".into()
    } else {
        learned
            .used_gateways
            .iter()
            .map(|(n, g)| format!("{n}/{g}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(Checked::Judged(summary, found))
}

/// A Gateway's credential Secret for `host`: missing, or holding an expired or broken certificate.
fn tls_finding(
    inputs: &Inputs<'_>,
    secret: Option<&Secret>,
    secret_ns: &str,
    credential: &str,
    host: &str,
) -> Option<Finding> {
    let object = ObjectRef::new("Secret", Some(secret_ns), credential);
    let Some(secret) = secret else {
        return Some(Finding::new(
            "GW_TLS_SECRET_MISSING",
            Level::Error,
            object,
            format!(
                "the Gateway's credentialName {credential:?} does not exist in {secret_ns:?}, where its gateway pods run: HTTPS for {host} fails"
            ),
            "create the Secret (or the Certificate that writes it) in the gateway pods' namespace",
        ));
    };
    let assessment = certs::assess_secret(
        Some(secret),
        credential,
        &[host.to_string()],
        inputs.now,
        inputs.thresholds,
    );
    if !matches!(assessment.verdict, Verdict::Broken | Verdict::Expired) {
        return None;
    }
    let why = assessment
        .findings
        .first()
        .map(|f| f.message.clone())
        .unwrap_or_default();
    Some(Finding::new(
        "GW_TLS_INVALID",
        Level::Error,
        object,
        format!(
            "the certificate the Gateway serves for {host} is {}: {why}",
            assessment.verdict.label().to_lowercase()
        ),
        "renew the certificate (kubectl sealos cert renew) or fix the Secret",
    ))
}

/// Step 6: Envoy: the sidecar's own view of the Service's clusters, through its admin port.
pub(super) async fn envoy(inputs: &Inputs<'_>, learned: &Learned<'_>) -> Checked {
    let (args, kube, ns) = (inputs.args, inputs.kube, inputs.ns);
    if args.skip_envoy {
        return Checked::Skipped("--skip-envoy".into());
    }
    let candidate = inputs
        .pods
        .iter()
        .filter(|p| path::has_sidecar(p))
        .max_by_key(|p| path::is_ready(p));
    let Some(pod) = candidate else {
        return Checked::Skipped("no pod with a sidecar".into());
    };
    let name = pod.name_any();
    let object = ObjectRef::new("Pod", Some(ns), &name);
    let body = envoy::admin_get(
        &kube.client,
        ns,
        &name,
        "/clusters?format=json",
        args.envoy_timeout,
    )
    .await;
    let clusters = match body.and_then(|b| envoy::parse_clusters(&b)) {
        Ok(clusters) => clusters,
        Err(why) => {
            let finding = Finding::new(
                "ENVOY_UNREACHABLE",
                Level::Warning,
                object,
                format!(
                    "Envoy's admin port {} could not be read: {why}",
                    envoy::ADMIN_PORT
                ),
                "needs pods/portforward permission and a running istio-proxy; the other steps still stand",
            );
            return Checked::Judged(format!("{name}: admin port unreachable"), vec![finding]);
        }
    };
    let mut found = Vec::new();
    let mut seen = 0;
    for svc in &learned.service_names {
        let fqdn = path::fqdn(ns, svc);
        let mine: Vec<&envoy::Cluster> = clusters
            .iter()
            .filter(|c| matches!(c.parts(), Some(("outbound", _, _, host)) if host == fqdn))
            .collect();
        seen += mine.len();
        if mine.is_empty() {
            found.push(Finding::new(
                "ENVOY_CLUSTER_MISSING",
                Level::Error,
                object.clone(),
                format!("the proxy has no outbound cluster for {fqdn}: istiod has not pushed it"),
                "check istiod's logs and `kubectl sealos diag performance` for push errors",
            ));
        }
        for cluster in mine {
            let healthy = cluster.healthy_hosts();
            let total = cluster.hosts.len();
            if healthy == 0 {
                found.push(Finding::new(
                    "ENVOY_CLUSTER_UNHEALTHY",
                    Level::Error,
                    object.clone(),
                    format!(
                        "cluster {} has {}, none healthy",
                        cluster.name,
                        counted(total, "endpoint", "endpoints")
                    ),
                    "the endpoints fail health or outlier checks: see the app's logs",
                ));
            } else if healthy < total {
                let bad: Vec<String> = cluster
                    .hosts
                    .iter()
                    .filter(|h| !h.healthy)
                    .map(|h| format!("{} ({})", h.address, h.detail))
                    .collect();
                found.push(Finding::new(
                    "ENVOY_CLUSTER_UNHEALTHY",
                    Level::Warning,
                    object.clone(),
                    format!(
                        "cluster {}: {healthy}/{total} endpoints healthy; unhealthy: {}",
                        cluster.name,
                        bad.join(", ")
                    ),
                    "outlier detection ejected them: see the app's logs",
                ));
            }
        }
    }
    Checked::Judged(
        format!(
            "{name}: {}, {seen} for the Service",
            counted(clusters.len(), "cluster", "clusters")
        ),
        found,
    )
}

/// Step 7: The cert-manager Certificates behind the hosts (by SAN, or writing a Gateway's Secret).
pub(super) async fn certificate(inputs: &Inputs<'_>, learned: &Learned<'_>) -> Result<Checked> {
    let (hosts, client) = (&learned.hosts, &inputs.kube.client);
    if hosts.is_empty() {
        return Ok(Checked::Skipped("no host to check".into()));
    }
    let all = certs::survey::list_certificates(client, None, None).await?;
    let relevant: Vec<_> = all
        .into_iter()
        .filter(|c| {
            let c_ns = c.namespace().unwrap_or_default();
            hosts.iter().any(|h| {
                c.spec
                    .dns_names
                    .iter()
                    .any(|san| certs::x509::san_covers(san, h))
            }) || learned
                .credential_secrets
                .iter()
                .any(|(ns, name)| *ns == c_ns && *name == c.spec.secret_name)
        })
        .collect();
    if relevant.is_empty() {
        let finding = Finding::new(
            "CERT_MISSING",
            Level::Info,
            ObjectRef::new("Certificate", None, &hosts.join(",")),
            "no cert-manager Certificate names these hosts",
            "if HTTPS is served, its Secret is managed by hand: watch its expiry",
        );
        return Ok(Checked::Judged("none".into(), vec![finding]));
    }
    let surveyed =
        certs::survey::assess_all(client, relevant, inputs.now, inputs.thresholds).await?;
    let mut found = Vec::new();
    let mut summary = Vec::new();
    for s in &surveyed {
        let c = &s.certificate;
        let a = &s.assessment;
        let days = a
            .days_left
            .map(|d| format!("{d} days left"))
            .unwrap_or_else(|| "expiry unknown".into());
        summary.push(format!("{}: {}", c.name_any(), days));
        let why = a
            .findings
            .first()
            .map(|f| f.message.clone())
            .unwrap_or_default();
        let (code, level, hint) = match a.verdict {
            Verdict::Ok => continue,
            Verdict::Expired => (
                "CERT_EXPIRED",
                Level::Error,
                "kubectl sealos diag runbook run certificate-expired",
            ),
            Verdict::Critical => (
                "CERT_EXPIRING",
                Level::Error,
                "renew now: kubectl sealos cert renew",
            ),
            Verdict::NotReady => (
                "CERT_NOT_READY",
                Level::Error,
                "kubectl describe certificate; check the issuer",
            ),
            Verdict::Broken => (
                "CERT_INVALID",
                Level::Error,
                "kubectl sealos cert check shows what is wrong with the Secret",
            ),
            Verdict::Warning if a.has(certs::Code::ExpiringSoon) => (
                "CERT_EXPIRING",
                Level::Warning,
                "cert-manager should renew it before then; check it does",
            ),
            Verdict::Warning => (
                "CERT_RENEWAL_PROBLEM",
                Level::Warning,
                "kubectl describe certificate; check cert-manager's logs",
            ),
        };
        let object = ObjectRef::new("Certificate", c.namespace().as_deref(), &c.name_any());
        found.push(Finding::new(
            code,
            level,
            object,
            format!("{days}: {why}"),
            hint,
        ));
    }
    Ok(Checked::Judged(summary.join(", "), found))
}
