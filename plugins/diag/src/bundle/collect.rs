//! Reading the cluster for a bundle: objects (paged), events in the window, bounded logs and
//! Envoy config dumps, each passed through the redaction rules before it is kept.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{ApiResource, ListParams};
use kube::{Client, Resource, ResourceExt};
use sealos_shared::Result;
use sealos_shared::connection::Kube;
use sealos_shared::list;
use sealos_shared::resources::certmanager::{
    Certificate, CertificateRequest, ClusterIssuer, Issuer,
};
use sealos_shared::resources::istio::{
    AuthorizationPolicy, DestinationRule, Gateway, PeerAuthentication, VirtualService,
};
use serde_json::Value;

use super::archive::{Contents, write_archive};
use super::redact::{Rules, Tally};
use super::{Plan, Redaction, SYSTEM_NAMESPACES, Summary, readme};
use crate::connectivity::path;
use crate::{envoy, logs};

fn strip_noise(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
}

async fn list_dynamic(
    client: &Client,
    resource: &ApiResource,
    namespace: Option<&str>,
) -> std::result::Result<Vec<Value>, String> {
    let api = list::dynamic_api(client, namespace, resource);
    let what = list::describe(&resource.plural, namespace);
    let items = list::list_all(&api, &ListParams::default(), &what)
        .await
        .map_err(|e| e.to_string())?;
    items
        .into_iter()
        .map(|item| {
            let mut value = serde_json::to_value(&item).map_err(|e| e.to_string())?;
            value["apiVersion"] = Value::String(resource.api_version.clone());
            value["kind"] = Value::String(resource.kind.clone());
            strip_noise(&mut value);
            Ok(value)
        })
        .collect()
}

fn resource<K: Resource<DynamicType = ()>>() -> ApiResource {
    ApiResource::erase::<K>(&())
}

fn within(event: &Value, since: Duration, now: jiff::Timestamp) -> bool {
    let time = ["lastTimestamp", "eventTime", "firstTimestamp"]
        .iter()
        .find_map(|k| event[k].as_str())
        .or_else(|| event["metadata"]["creationTimestamp"].as_str())
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let Ok(window) = jiff::SignedDuration::try_from(since) else {
        return true;
    };
    time.is_none_or(|t| now.duration_since(t) <= window)
}

/// The bundle being filled: the archive's contents, and the rules every value passes through.
struct Collector<'a> {
    contents: Contents,
    rules: &'a Rules,
    tally: Tally,
}

impl Collector<'_> {
    /// A `List` of `items`, each redacted, as YAML.
    fn list(&mut self, name: String, mut items: Vec<Value>) {
        for item in &mut items {
            self.rules.object(item, &mut self.tally);
        }
        self.contents.yaml(
            name,
            &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}),
        );
    }

    /// Text (a log, a dump), redacted.
    fn text(&mut self, name: String, text: &str) {
        let redacted = self.rules.text(text, &mut self.tally).into_owned();
        self.contents.add(name, redacted.into_bytes());
    }

    fn note(&mut self, note: String) {
        self.contents.summary.notes.push(note);
    }
}

/// Collects what `plan` names, redacted by `rules`, and writes the archive to `file`.
pub async fn collect(kube: &Kube, plan: &Plan, rules: &Rules, file: &Path) -> Result<Summary> {
    let client = &kube.client;
    let now = jiff::Timestamp::now();
    let mut c = Collector {
        contents: Contents {
            files: Vec::new(),
            summary: Summary {
                created: now.to_string(),
                context: kube.context.clone(),
                server: kube.server.clone(),
                namespaces: plan.namespaces.clone(),
                since_seconds: plan.since.as_secs(),
                secrets_redacted: rules.enabled && rules.secrets,
                ..Summary::default()
            },
            max_bytes: plan.max_bytes,
        },
        rules,
        tally: Tally::default(),
    };
    let steps = 2 + plan.namespaces.len() as u64 + plan.logs.len() as u64 + 1;
    let bar = sealos_shared::progress::bar(steps, "collecting");

    if plan.objects {
        let cluster_wide: Vec<(&str, ApiResource)> = vec![
            ("istio", resource::<Gateway>()),
            ("istio", resource::<VirtualService>()),
            ("istio", resource::<DestinationRule>()),
            ("istio", resource::<AuthorizationPolicy>()),
            ("istio", resource::<PeerAuthentication>()),
            ("cert-manager", resource::<Certificate>()),
            ("cert-manager", resource::<Issuer>()),
            ("cert-manager", resource::<CertificateRequest>()),
            ("cert-manager", resource::<ClusterIssuer>()),
        ];
        for (dir, res) in &cluster_wide {
            match list_dynamic(client, res, None).await {
                Ok(items) => c.list(format!("resources/{dir}/{}.yaml", res.plural), items),
                Err(e) => c.note(format!("list {}: {e}", res.plural)),
            }
        }
    }
    bar.inc(1);

    let namespaced: Vec<ApiResource> = vec![
        resource::<k8s_openapi::api::apps::v1::Deployment>(),
        resource::<Pod>(),
        resource::<k8s_openapi::api::core::v1::Service>(),
        resource::<k8s_openapi::api::core::v1::Endpoints>(),
        resource::<k8s_openapi::api::core::v1::ConfigMap>(),
        resource::<k8s_openapi::api::core::v1::Secret>(),
        resource::<k8s_openapi::api::policy::v1::PodDisruptionBudget>(),
    ];
    let events = resource::<k8s_openapi::api::core::v1::Event>();
    for ns in &plan.namespaces {
        if plan.objects {
            for res in &namespaced {
                match list_dynamic(client, res, Some(ns)).await {
                    Ok(items) => c.list(format!("resources/{ns}/{}.yaml", res.plural), items),
                    Err(e) => c.note(format!("list {} in {ns}: {e}", res.plural)),
                }
            }
        }
        if !plan.all_events {
            match list_dynamic(client, &events, Some(ns)).await {
                Ok(items) => {
                    let items = items
                        .into_iter()
                        .filter(|e| within(e, plan.since, now))
                        .collect();
                    c.list(format!("events/{ns}.yaml"), items);
                }
                Err(e) => c.note(format!("list events in {ns}: {e}")),
            }
        }
        bar.inc(1);
    }
    if plan.all_events {
        match list_dynamic(client, &events, None).await {
            Ok(items) => {
                let items = items
                    .into_iter()
                    .filter(|e| within(e, plan.since, now))
                    .collect();
                c.list("events/all-namespaces.yaml".into(), items);
            }
            Err(e) => c.note(format!("list events: {e}")),
        }
    }
    bar.inc(1);

    for (ns, selector) in &plan.logs {
        let mut notes = Vec::new();
        // Never more than the per-container limit, nor than what the budget has left.
        let limit = plan.log_limit.min(c.contents.room()).max(1);
        let limit_bytes = i64::try_from(limit).unwrap_or(i64::MAX);
        match logs::read_bounded(
            client,
            ns,
            selector,
            plan.since,
            Some(limit_bytes),
            &mut notes,
        )
        .await
        {
            Ok(found) => {
                for log in found {
                    if log.text.len() as u64 >= limit {
                        notes.push(format!(
                            "logs of {}/{} ({}) cut at {limit} bytes",
                            log.namespace, log.pod, log.container
                        ));
                    }
                    c.text(
                        format!("logs/{}/{}/{}.log", log.namespace, log.pod, log.container),
                        &log.text,
                    );
                }
            }
            Err(e) => notes.push(e.to_string()),
        }
        c.contents.summary.notes.extend(notes);
        bar.inc(1);
    }

    if plan.max_envoy_pods > 0 {
        envoy_dumps(&mut c, client, plan).await;
    }
    bar.inc(1);
    bar.finish_and_clear();
    let mut summary = c.contents.summary;
    summary.redaction = Redaction {
        enabled: rules.enabled,
        secrets: rules.enabled && rules.secrets,
        patterns: rules.patterns.clone(),
        counts: c.tally,
    };
    let readme = readme::text(rules, &summary);
    write_archive(file, &readme, &c.contents.files, &summary)?;
    Ok(summary)
}

/// Config dumps of the gateway's pods first, then of sidecars in the chosen namespaces.
async fn envoy_dumps(c: &mut Collector<'_>, client: &Client, plan: &Plan) {
    let mut candidates: Vec<Pod> = Vec::new();
    let mut seen = BTreeSet::new();
    let gateway_pods =
        list::in_scope::<Pod>(client, Some("istio-system"), Some("istio=ingressgateway"))
            .await
            .unwrap_or_default();
    candidates.extend(gateway_pods);
    for ns in plan
        .namespaces
        .iter()
        .filter(|n| !SYSTEM_NAMESPACES.contains(&n.as_str()))
    {
        let pods = list::in_scope::<Pod>(client, Some(ns), None)
            .await
            .unwrap_or_default();
        candidates.extend(pods.into_iter().filter(path::has_sidecar));
    }
    for pod in candidates
        .iter()
        .filter(|p| path::is_ready(p))
        .take(plan.max_envoy_pods)
    {
        let ns = pod.namespace().unwrap_or_default();
        let name = pod.name_any();
        if !seen.insert((ns.clone(), name.clone())) {
            continue;
        }
        match envoy::admin_get(client, &ns, &name, "/config_dump", plan.envoy_timeout).await {
            Ok(dump) => {
                c.text(format!("envoy/{ns}/{name}/config_dump.json"), &dump);
                c.contents.summary.envoy_dumps += 1;
            }
            Err(e) => c.note(format!("envoy config dump of {ns}/{name}: {e}")),
        }
    }
}
