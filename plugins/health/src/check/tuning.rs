//! Tuning: what the guide's mesh tuning really does. istiod reads mesh configuration from the
//! ConfigMap `istio` (key `mesh`) and the injector from `istio-sidecar-injector`; ConfigMaps
//! with other names change nothing. Trace sampling is a percentage (0–100), not a ratio. The
//! sidecar template's memory limit is compared with what the proxies use (metrics API).

use k8s_openapi::api::core::v1::ConfigMap;
use sealos_shared::output::Severity;
use sealos_shared::policy::load::PROXY_CONTAINER;
use sealos_shared::quantity::Quantity;
use serde_json::Value;

use super::collect::Snapshot;
use super::{Area, CheckArgs, Finding, ObjectRef};

/// The ConfigMaps the guide creates that no Istio component reads.
const UNREAD: [&str; 2] = ["istio-performance", "istio-proxy-config"];
/// Istio's default when the mesh config sets no sampling, in percent.
const DEFAULT_SAMPLING: f64 = 1.0;
/// Above this percentage, tracing costs more than it tells in production.
const MAX_SAMPLING: f64 = 10.0;
/// A proxy at this share of its limit has no headroom left.
const NEAR_LIMIT: f64 = 0.8;

fn data<'a>(cms: &'a [ConfigMap], name: &str, key: &str) -> Option<&'a str> {
    cms.iter()
        .find(|c| c.metadata.name.as_deref() == Some(name))?
        .data
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

fn yaml(text: &str) -> Option<Value> {
    serde_saphyr::from_str::<Value>(text).ok()
}

/// `tracing.sampling` of a ProxyConfig-shaped document, as a finite percentage in 0..=100.
fn sampling(proxy_config: &Value) -> Option<f64> {
    proxy_config["tracing"]["sampling"]
        .as_f64()
        .filter(|s| s.is_finite() && (0.0..=100.0).contains(s))
}

pub fn check(snapshot: &Snapshot, args: &CheckArgs) -> Vec<Finding> {
    let ns = args.istio_namespace.as_str();
    let Some(cms) = snapshot.istio_config_maps.as_deref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for name in UNREAD {
        let Some(cm) = cms
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
        else {
            continue;
        };
        let mut message = format!(
            "ConfigMap {name} is read by no Istio component (istiod reads ConfigMap istio, key mesh): its settings change nothing"
        );
        let proxy = cm.data.iter().flatten().find_map(|(_, v)| yaml(v));
        if let Some(s) = proxy.as_ref().and_then(sampling) {
            message.push_str(&format!(
                "; its tracing.sampling {s} is a percentage, so even applied it would sample {s}% of requests, not {}% as its comment assumes",
                s * 100.0
            ));
        }
        out.push(
            Finding::new(Area::Tuning, Severity::Warn, ObjectRef::new("ConfigMap", Some(ns), name), message)
                .coded(
                    "TUNE_CONFIG_NOT_READ",
                    "move the settings under meshConfig.defaultConfig in ConfigMap istio (tracing.sampling: 1 means 1%), then delete this ConfigMap",
                ),
        );
    }
    if let Some(mesh) = data(cms, "istio", "mesh").and_then(yaml) {
        let set = sampling(&mesh["defaultConfig"]);
        let s = set.unwrap_or(DEFAULT_SAMPLING);
        let source = if set.is_some() {
            "meshConfig.defaultConfig.tracing.sampling"
        } else {
            "Istio's default"
        };
        let object = ObjectRef::new("ConfigMap", Some(ns), "istio");
        if s > MAX_SAMPLING {
            out.push(
                Finding::new(Area::Tuning, Severity::Warn, object, format!("trace sampling {s}% ({source}): every traced request costs proxy CPU and tracing storage"))
                    .coded("TUNE_TRACE_SAMPLING_HIGH", "set meshConfig.defaultConfig.tracing.sampling to 1 (1%) or less in production"),
            );
        } else {
            out.push(Finding::new(
                Area::Tuning,
                Severity::Ok,
                object,
                format!("trace sampling {s}% ({source})"),
            ));
        }
    }
    out.extend(sidecar_memory(snapshot, cms, ns));
    out
}

/// The `istio-proxy` memory limit of the injector's template.
fn template_limit(cms: &[ConfigMap]) -> Option<Quantity> {
    let config = yaml(data(cms, "istio-sidecar-injector", "config")?)?;
    let template = yaml(config["template"].as_str()?)?;
    let containers = template["spec"]["containers"].as_array()?;
    let proxy = containers.iter().find(|c| c["name"] == PROXY_CONTAINER)?;
    Quantity::parse(proxy["resources"]["limits"]["memory"].as_str()?).ok()
}

fn proxies_count(n: usize) -> String {
    if n == 1 {
        "1 proxy".into()
    } else {
        format!("{n} proxies")
    }
}

fn sidecar_memory(snapshot: &Snapshot, cms: &[ConfigMap], ns: &str) -> Vec<Finding> {
    let Some(limit) = template_limit(cms) else {
        return Vec::new();
    };
    let object = ObjectRef::new("ConfigMap", Some(ns), "istio-sidecar-injector");
    let limit_text = limit.format_bytes();
    let usage = match &snapshot.usage {
        None => return Vec::new(),
        Some(Err(e)) => {
            return vec![
                Finding::new(
                    Area::Tuning,
                    Severity::Warn,
                    object,
                    format!("sidecar memory limit {limit_text} not compared with use: {e}"),
                )
                .coded(
                    "TUNE_NO_METRICS",
                    "install metrics-server so pods.metrics.k8s.io answers",
                ),
            ];
        }
        Some(Ok(usage)) => usage,
    };
    let mut proxies: Vec<(String, Quantity, f64)> = usage
        .iter()
        .filter(|((_, _, container), _)| container == PROXY_CONTAINER)
        .filter_map(|((pns, pod, _), (_, memory))| {
            Some((format!("{pns}/{pod}"), *memory, memory.ratio(limit)?))
        })
        .collect();
    proxies.sort_by(|a, b| b.2.total_cmp(&a.2));
    let list = |ps: &[&(String, Quantity, f64)]| {
        ps.iter()
            .map(|(p, m, _)| format!("{p} {}", m.format_bytes()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let over: Vec<_> = proxies.iter().filter(|p| p.2 > 1.0).collect();
    let near: Vec<_> = proxies
        .iter()
        .filter(|p| (NEAR_LIMIT..=1.0).contains(&p.2))
        .collect();
    let hint = "raise the istio-proxy memory limit in the injector template (or per pod, annotation sidecar.istio.io/proxyMemoryLimit) above the observed peak with headroom, e.g. 512Mi";
    let mut out = Vec::new();
    if !over.is_empty() {
        out.push(
            Finding::new(Area::Tuning, Severity::Fail, object.clone(), format!(
                "the sidecar template's memory limit {limit_text} is below the observed use of {}: {} (injected with this limit they are OOM-killed)",
                proxies_count(over.len()), list(&over)
            ))
            .coded("TUNE_SIDECAR_MEMORY_LIMIT", hint),
        );
    }
    if !near.is_empty() {
        out.push(
            Finding::new(
                Area::Tuning,
                Severity::Warn,
                object.clone(),
                format!(
                    "{} use {:.0}% or more of the sidecar template's memory limit {limit_text}: {}",
                    proxies_count(near.len()),
                    NEAR_LIMIT * 100.0,
                    list(&near)
                ),
            )
            .coded("TUNE_SIDECAR_MEMORY_HEADROOM", hint),
        );
    }
    if out.is_empty() {
        out.push(Finding::new(
            Area::Tuning,
            Severity::Ok,
            object,
            format!(
                "{} proxies use less than {:.0}% of the sidecar memory limit {limit_text}",
                proxies.len(),
                NEAR_LIMIT * 100.0
            ),
        ));
    }
    out
}
