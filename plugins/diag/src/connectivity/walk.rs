//! The walk itself: read what the path needs (lists, once each), then judge step by step.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Endpoints, Pod, Secret, Service};
use kube::{Api, Client, ResourceExt};
use sealos_shared::certs::{self, Thresholds, Verdict};
use sealos_shared::connection::Kube;
use sealos_shared::error::{KubeContext, Result};
use sealos_shared::resources::istio::{DestinationRule, Gateway, VirtualService};
use sealos_shared::retry::{self, Backoff};

use super::path::{self, SIDECAR};
use super::{ConnectivityArgs, Step};
use crate::envoy;
use crate::finding::{Finding, Level, ObjectRef};
use crate::list::all;

/// Collects findings and step verdicts.
struct Walk {
    findings: Vec<Finding>,
    steps: Vec<Step>,
    mark: usize,
}

impl Walk {
    fn add(
        &mut self,
        code: &'static str,
        level: Level,
        object: ObjectRef,
        message: String,
        hint: &str,
    ) {
        self.findings
            .push(Finding::new(code, level, object, message, hint));
    }

    /// Closes a step: its verdict is its worst finding.
    fn step(&mut self, step: &'static str, summary: String) {
        let worst = self.findings[self.mark..].iter().map(|f| f.level).max();
        let verdict = match worst {
            None => "ok",
            Some(Level::Info) => "info",
            Some(Level::Warning) => "warning",
            Some(Level::Error) => "error",
        };
        self.steps.push(Step {
            step,
            verdict: verdict.into(),
            summary,
        });
        self.mark = self.findings.len();
    }

    fn skip(&mut self, step: &'static str, why: &str) {
        self.steps.push(Step {
            step,
            verdict: "skipped".into(),
            summary: why.to_string(),
        });
    }
}

type Walked = (Vec<Step>, Vec<Finding>, String, Vec<String>);

pub async fn walk(args: &ConnectivityArgs, kube: &Kube) -> Result<Walked> {
    let client = &kube.client;
    let ns = kube.namespace.as_str();
    let selector = args
        .selector
        .clone()
        .unwrap_or_else(|| format!("app={}", args.app));
    let (pods, services, endpoints, virtual_services, gateways, rules) = futures::try_join!(
        all::<Pod>(client, Some(ns), Some(&selector)),
        all::<Service>(client, Some(ns), None),
        all::<Endpoints>(client, Some(ns), None),
        all::<VirtualService>(client, None, None),
        all::<Gateway>(client, None, None),
        all::<DestinationRule>(client, None, None),
    )?;
    let mut w = Walk {
        findings: Vec::new(),
        steps: Vec::new(),
        mark: 0,
    };

    // 1. Pods.
    let ready = pods.iter().filter(|p| path::is_ready(p)).count();
    if pods.is_empty() {
        w.add(
            "PODS_NONE",
            Level::Error,
            ObjectRef::new("Namespace", None, ns),
            format!("no pods match {selector:?} in {ns:?}"),
            "check the app name and namespace, or pass -l with the pods' labels",
        );
    }
    for pod in &pods {
        let object = ObjectRef::new("Pod", Some(ns), &pod.name_any());
        if !path::is_ready(pod) {
            let phase = pod
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Unknown".into());
            w.add(
                "POD_NOT_READY",
                Level::Error,
                object.clone(),
                format!("{phase}, not Ready: the Service sends it no traffic"),
                "kubectl describe pod / kubectl logs: readiness probe, crash or image problem",
            );
        }
        let restarts = path::restarts(pod);
        if restarts >= path::RESTART_WARNING {
            w.add(
                "POD_RESTARTS",
                Level::Warning,
                object.clone(),
                format!("{restarts} container restarts"),
                "kubectl logs --previous shows why it restarted",
            );
        }
        if !path::has_sidecar(pod) {
            let disabled = pod
                .annotations()
                .get("sidecar.istio.io/inject")
                .is_some_and(|v| v == "false");
            w.add(
                "SIDECAR_MISSING",
                Level::Error,
                object,
                format!("no {SIDECAR} container: the pod is outside the mesh"),
                if disabled {
                    "the pod template says sidecar.istio.io/inject: \"false\"; remove it and restart"
                } else {
                    "label the namespace istio-injection=enabled and restart the pods (kubectl rollout restart)"
                },
            );
        } else if path::sidecar_ready(pod) == Some(false) {
            w.add(
                "SIDECAR_NOT_READY",
                Level::Error,
                object,
                format!(
                    "{SIDECAR} is not ready: it has not received its configuration from istiod"
                ),
                "kubectl logs -c istio-proxy; check istiod is running",
            );
        }
    }
    w.step(
        "pods",
        format!("{} pod(s) for {selector:?}, {ready} ready", pods.len()),
    );

    // 2. Service and Endpoints.
    let pod_labels: Vec<BTreeMap<String, String>> =
        pods.iter().map(|p| p.labels().clone()).collect();
    let named = services.iter().find(|s| s.name_any() == args.app);
    let mut app_services: Vec<&Service> = services
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
        w.add(
            "SVC_SELECTOR_MISMATCH",
            Level::Error,
            ObjectRef::new("Service", Some(ns), &svc.name_any()),
            format!(
                "its selector {:?} matches none of the app's pods",
                path::selector_string(&selector)
            ),
            "make spec.selector match the pod labels (kubectl get pods --show-labels)",
        );
        app_services.push(svc);
    }
    if app_services.is_empty() {
        w.add(
            "SVC_MISSING",
            Level::Error,
            ObjectRef::new("Service", Some(ns), &args.app),
            format!(
                "no Service named {:?} or selecting the app's pods",
                args.app
            ),
            "create a Service whose selector matches the pods",
        );
    }
    for svc in &app_services {
        let name = svc.name_any();
        let object = ObjectRef::new("Service", Some(ns), &name);
        let selector = path::service_selector(svc);
        let selected: Vec<&Pod> = pods
            .iter()
            .filter(|p| path::selects(&selector, p.labels()))
            .collect();
        for (port, target) in path::service_ports(svc) {
            if let Some(pod) = selected.first()
                && path::pod_serves(pod, &target) == Some(false)
            {
                w.add(
                    "SVC_TARGET_PORT",
                    Level::Error,
                    object.clone(),
                    format!(
                        "port {port} targets {target:?}, which no container of the pods declares"
                    ),
                    "set targetPort to the container port the app listens on",
                );
            }
        }
        let ready_addresses = endpoints
            .iter()
            .find(|e| e.name_any() == name)
            .map(path::ready_addresses);
        match ready_addresses {
            Some(n) if n > 0 => {}
            Some(_) | None => w.add(
                "ENDPOINTS_EMPTY",
                Level::Error,
                ObjectRef::new("Endpoints", Some(ns), &name),
                "no ready addresses: requests to the Service have nowhere to go".into(),
                "the selector matches no Ready pod: fix the selector or the pods' readiness",
            ),
        }
    }
    let service_names: Vec<String> = app_services.iter().map(|s| s.name_any()).collect();
    w.step(
        "service",
        if service_names.is_empty() {
            "no Service".into()
        } else {
            format!("Service {}", service_names.join(", "))
        },
    );

    // 3. VirtualServices routing to the app (or serving --host).
    let targets: BTreeSet<(String, String)> = if service_names.is_empty() {
        [(ns.to_string(), args.app.clone())].into()
    } else {
        service_names
            .iter()
            .map(|n| (ns.to_string(), n.clone()))
            .collect()
    };
    let relevant: Vec<&VirtualService> = virtual_services
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
        w.add(
            "VS_MISSING",
            if args.host.is_some() {
                Level::Error
            } else {
                Level::Warning
            },
            ObjectRef::new("VirtualService", Some(ns), &args.app),
            "no VirtualService routes to the app's Service".to_string(),
            "create a VirtualService bound to the gateway with the app's host",
        );
    }
    let mut used_gateways: BTreeSet<(String, String)> = BTreeSet::new();
    let mut subset_checks: Vec<(String, String, String, ObjectRef)> = Vec::new();
    for vs in &relevant {
        let vs_ns = vs.namespace().unwrap_or_default();
        let object = ObjectRef::new("VirtualService", Some(&vs_ns), &vs.name_any());
        for reference in &vs.spec.gateways {
            let Some((gw_ns, gw_name)) = path::gateway_ref(reference, &vs_ns) else {
                continue;
            };
            let exists = gateways.iter().any(|g| {
                g.name_any() == gw_name && g.namespace().as_deref() == Some(gw_ns.as_str())
            });
            if exists {
                used_gateways.insert((gw_ns, gw_name));
            } else {
                w.add(
                    "VS_GATEWAY_MISSING",
                    Level::Error,
                    object.clone(),
                    format!("gateway {reference:?} does not exist"),
                    "create the Gateway or fix spec.gateways (namespace/name)",
                );
            }
        }
        for destination in destinations(vs) {
            let Some((dest_ns, dest_name)) = path::resolve_host(&destination.host, &vs_ns) else {
                continue;
            };
            let svc = if dest_ns == ns {
                services.iter().find(|s| s.name_any() == dest_name).cloned()
            } else {
                let api: Api<Service> = Api::namespaced(kube.client.clone(), &dest_ns);
                retry::read(Backoff::default(), || api.get_opt(&dest_name))
                    .await
                    .kube_context(|| format!("get service {dest_name:?} in {dest_ns:?}"))?
            };
            let Some(svc) = svc else {
                w.add(
                    "VS_DEST_MISSING",
                    Level::Error,
                    object.clone(),
                    format!(
                        "destination {:?} names Service {dest_ns}/{dest_name}, which does not exist",
                        destination.host
                    ),
                    "fix the destination host or create the Service",
                );
                continue;
            };
            let ports: Vec<i32> = path::service_ports(&svc).iter().map(|(p, _)| *p).collect();
            match &destination.port {
                Some(port)
                    if !ports
                        .iter()
                        .any(|p| i64::from(*p) == i64::from(port.number)) =>
                {
                    w.add(
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
                    );
                }
                None if ports.len() > 1 => w.add(
                    "VS_DEST_PORT",
                    Level::Warning,
                    object.clone(),
                    format!(
                        "destination {:?} names no port but the Service has {}",
                        destination.host,
                        ports.len()
                    ),
                    "name the port: Istio cannot choose among several",
                ),
                _ => {}
            }
            if let Some(subset) = &destination.subset {
                subset_checks.push((
                    dest_ns.clone(),
                    dest_name.clone(),
                    subset.clone(),
                    object.clone(),
                ));
            }
        }
    }
    w.step(
        "virtualservice",
        if relevant.is_empty() {
            "none".into()
        } else {
            relevant
                .iter()
                .map(|vs| format!("{}/{}", vs.namespace().unwrap_or_default(), vs.name_any()))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );

    // 4. DestinationRule subsets: defined, and matching pods.
    for (dest_ns, dest_name, subset, vs_object) in &subset_checks {
        let rule = rules.iter().find(|r| {
            let r_ns = r.namespace().unwrap_or_default();
            path::resolve_host(&r.spec.host, &r_ns).as_ref()
                == Some(&(dest_ns.clone(), dest_name.clone()))
        });
        let defined = rule.and_then(|r| r.spec.subsets.iter().find(|s| &s.name == subset));
        let (Some(rule), Some(defined)) = (rule, defined) else {
            w.add(
                "VS_SUBSET_UNDEFINED",
                Level::Error,
                vs_object.clone(),
                format!(
                    "subset {subset:?} of {dest_ns}/{dest_name} is defined by no DestinationRule"
                ),
                "add the subset to the DestinationRule for this host",
            );
            continue;
        };
        let svc = services
            .iter()
            .find(|s| s.name_any() == *dest_name && dest_ns == ns)
            .map(path::service_selector)
            .unwrap_or_default();
        let mut labels = svc.clone();
        labels.extend(defined.labels.clone());
        let matching =
            all::<Pod>(client, Some(dest_ns), Some(&path::selector_string(&labels))).await?;
        let ready = matching.iter().filter(|p| path::is_ready(p)).count();
        let object = ObjectRef::new(
            "DestinationRule",
            rule.namespace().as_deref(),
            &rule.name_any(),
        );
        if ready == 0 {
            w.add(
                "DR_SUBSET_NO_PODS",
                Level::Error,
                object,
                format!(
                    "subset {subset:?} ({}) matches {} pod(s), none ready: its share of traffic fails",
                    path::selector_string(&defined.labels),
                    matching.len()
                ),
                "fix the subset labels or deploy that version",
            );
        }
    }
    if subset_checks.is_empty() {
        w.skip("destinationrule", "no route names a subset");
    } else {
        w.step(
            "destinationrule",
            format!("{} subset reference(s) checked", subset_checks.len()),
        );
    }

    // 5. Gateways: pods behind the selector, hosts, TLS credential.
    let now = jiff::Timestamp::now();
    let thresholds = Thresholds {
        warn_days: args.warn_days,
        crit_days: args.crit_days,
    };
    let external = relevant.iter().any(|vs| {
        let vs_ns = vs.namespace().unwrap_or_default();
        vs.spec
            .gateways
            .iter()
            .any(|g| path::gateway_ref(g, &vs_ns).is_some())
    });
    if !relevant.is_empty() && !external {
        w.add(
            "GW_MISSING",
            if args.host.is_some() {
                Level::Error
            } else {
                Level::Info
            },
            ObjectRef::new("VirtualService", Some(ns), &args.app),
            "the app's VirtualServices bind no Gateway: it is reachable only inside the mesh"
                .into(),
            "add the ingress gateway to spec.gateways to expose it",
        );
    }
    let mut credential_secrets: Vec<(String, String)> = Vec::new();
    for (gw_ns, gw_name) in &used_gateways {
        let Some(gateway) = gateways
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
            w.add(
                "GW_NO_PODS",
                Level::Error,
                object.clone(),
                format!(
                    "its selector {selector:?} matches {} pod(s), none ready: nothing serves it",
                    gw_pods.len()
                ),
                "check the ingress gateway Deployment in istio-system and the selector labels",
            );
        }
        for host in &hosts {
            let covering: Vec<_> = gateway
                .spec
                .servers
                .iter()
                .filter(|s| s.hosts.iter().any(|p| path::host_covers(p, host)))
                .collect();
            if covering.is_empty() {
                w.add(
                    "GW_HOST_NOT_COVERED",
                    Level::Error,
                    object.clone(),
                    format!("no server of the Gateway lists host {host:?}"),
                    "add the host (or a wildcard) to a server's hosts",
                );
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
                    let assessment = certs::assess_secret(
                        secret.as_ref(),
                        &credential,
                        std::slice::from_ref(host),
                        now,
                        thresholds,
                    );
                    let secret_object = ObjectRef::new("Secret", Some(secret_ns), &credential);
                    if secret.is_none() {
                        w.add(
                        "GW_TLS_SECRET_MISSING",
                        Level::Error,
                        secret_object,
                        format!("the Gateway's credentialName {credential:?} does not exist in {secret_ns:?}, where its gateway pods run: HTTPS for {host} fails"),
                        "create the Secret (or the Certificate that writes it) in the gateway pods' namespace",
                    );
                    } else if matches!(assessment.verdict, Verdict::Broken | Verdict::Expired) {
                        let why = assessment
                            .findings
                            .first()
                            .map(|f| f.message.clone())
                            .unwrap_or_default();
                        w.add(
                            "GW_TLS_INVALID",
                            Level::Error,
                            secret_object,
                            format!(
                                "the certificate the Gateway serves for {host} is {}: {why}",
                                assessment.verdict.label().to_lowercase()
                            ),
                            "renew the certificate (kubectl sealos cert renew) or fix the Secret",
                        );
                    }
                    credential_secrets.push((secret_ns.clone(), credential.clone()));
                }
            }
        }
    }
    if used_gateways.is_empty() {
        w.step("gateway", "no Gateway in the path".into());
    } else {
        w.step(
            "gateway",
            used_gateways
                .iter()
                .map(|(n, g)| format!("{n}/{g}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }

    // 6. Envoy: the sidecar's own view of the Service's clusters.
    envoy_step(args, kube, &pods, &service_names, &mut w).await;

    // 7. The certificates behind the hosts.
    certificate_step(client, &hosts, &credential_secrets, now, thresholds, &mut w).await?;

    Ok((w.steps, w.findings, selector, hosts))
}

fn destinations(
    vs: &VirtualService,
) -> impl Iterator<Item = &sealos_shared::resources::istio::Destination> {
    vs.spec
        .http
        .iter()
        .chain(&vs.spec.tcp)
        .chain(&vs.spec.tls)
        .flat_map(|r| r.route.iter().map(|d| &d.destination))
}

async fn envoy_step(
    args: &ConnectivityArgs,
    kube: &Kube,
    pods: &[Pod],
    service_names: &[String],
    w: &mut Walk,
) {
    if args.skip_envoy {
        w.skip("envoy", "--skip-envoy");
        return;
    }
    let candidate = pods
        .iter()
        .filter(|p| path::has_sidecar(p))
        .max_by_key(|p| path::is_ready(p));
    let Some(pod) = candidate else {
        w.skip("envoy", "no pod with a sidecar");
        return;
    };
    let ns = kube.namespace.as_str();
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
    let clusters = body.and_then(|b| envoy::parse_clusters(&b));
    let clusters = match clusters {
        Ok(clusters) => clusters,
        Err(why) => {
            w.add(
                "ENVOY_UNREACHABLE",
                Level::Warning,
                object,
                format!("Envoy's admin port {} could not be read: {why}", envoy::ADMIN_PORT),
                "needs pods/portforward permission and a running istio-proxy; the other steps still stand",
            );
            w.step("envoy", format!("{name}: admin port unreachable"));
            return;
        }
    };
    let mut seen = 0;
    for svc in service_names {
        let fqdn = path::fqdn(ns, svc);
        let mine: Vec<&envoy::Cluster> = clusters
            .iter()
            .filter(|c| matches!(c.parts(), Some(("outbound", _, _, host)) if host == fqdn))
            .collect();
        seen += mine.len();
        if mine.is_empty() {
            w.add(
                "ENVOY_CLUSTER_MISSING",
                Level::Error,
                object.clone(),
                format!("the proxy has no outbound cluster for {fqdn}: istiod has not pushed it"),
                "check istiod's logs and `kubectl sealos diag performance` for push errors",
            );
        }
        for cluster in mine {
            let healthy = cluster.healthy_hosts();
            let total = cluster.hosts.len();
            if healthy == 0 {
                w.add(
                    "ENVOY_CLUSTER_UNHEALTHY",
                    Level::Error,
                    object.clone(),
                    format!(
                        "cluster {} has {total} endpoint(s), none healthy",
                        cluster.name
                    ),
                    "the endpoints fail health or outlier checks: see the app's logs",
                );
            } else if healthy < total {
                let bad: Vec<String> = cluster
                    .hosts
                    .iter()
                    .filter(|h| !h.healthy)
                    .map(|h| format!("{} ({})", h.address, h.detail))
                    .collect();
                w.add(
                    "ENVOY_CLUSTER_UNHEALTHY",
                    Level::Warning,
                    object.clone(),
                    format!(
                        "cluster {}: {healthy}/{total} endpoints healthy; unhealthy: {}",
                        cluster.name,
                        bad.join(", ")
                    ),
                    "outlier detection ejected them: see the app's logs",
                );
            }
        }
    }
    w.step(
        "envoy",
        format!(
            "{name}: {} cluster(s), {seen} for the Service",
            clusters.len()
        ),
    );
}

async fn certificate_step(
    client: &Client,
    hosts: &[String],
    credential_secrets: &[(String, String)],
    now: jiff::Timestamp,
    thresholds: Thresholds,
    w: &mut Walk,
) -> Result<()> {
    if hosts.is_empty() {
        w.skip("certificate", "no host to check");
        return Ok(());
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
            }) || credential_secrets
                .iter()
                .any(|(ns, name)| *ns == c_ns && *name == c.spec.secret_name)
        })
        .collect();
    if relevant.is_empty() {
        w.add(
            "CERT_MISSING",
            Level::Info,
            ObjectRef::new("Certificate", None, &hosts.join(",")),
            "no cert-manager Certificate names these hosts".into(),
            "if HTTPS is served, its Secret is managed by hand: watch its expiry",
        );
        w.step("certificate", "none".into());
        return Ok(());
    }
    let surveyed = certs::survey::assess_all(client, relevant, now, thresholds).await?;
    let mut summary = Vec::new();
    for s in &surveyed {
        let c = &s.certificate;
        let object = ObjectRef::new("Certificate", c.namespace().as_deref(), &c.name_any());
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
        w.add(code, level, object, format!("{days}: {why}"), hint);
    }
    w.step("certificate", summary.join(", "));
    Ok(())
}
