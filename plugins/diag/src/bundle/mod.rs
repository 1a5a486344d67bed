//! `diag bundle`: a diagnostic archive like `istioctl bug-report`: Istio, Sealos and cert-manager
//! objects, events, the logs of istiod, the gateway and the controllers, Envoy config dumps of
//! selected pods, and a summary. Secret values are redacted unless `--include-secrets`. The
//! archive is written to a temporary file (mode 0600) beside the target and renamed into place,
//! so a reader never sees half an archive.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::{Api, Client, Resource, ResourceExt};
use sealos_shared::connection::{Kube, KubeFlags};
use sealos_shared::error::KubeContext;
use sealos_shared::output::Out;
use sealos_shared::quantity::Quantity;
use sealos_shared::resources::certmanager::{
    Certificate, CertificateRequest, ClusterIssuer, Issuer,
};
use sealos_shared::resources::istio::{
    AuthorizationPolicy, DestinationRule, Gateway, PeerAuthentication, VirtualService,
};
use sealos_shared::retry::{self, Backoff};
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;
use serde_json::Value;

use crate::connectivity::path;
use crate::envoy;
use crate::logs;

/// The namespaces every bundle covers.
pub const SYSTEM_NAMESPACES: [&str; 3] = ["istio-system", "sealos-system", "cert-manager"];

/// `bundle` flags.
#[derive(Args, Debug, Clone)]
pub struct BundleArgs {
    /// Where to write the archive (default: sealos-diag-<time>.tar.gz here).
    #[arg(short = 'o', long = "output", value_name = "FILE.tar.gz")]
    pub file: Option<PathBuf>,
    /// How much of the logs and events to keep.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = humantime::parse_duration)]
    pub since: Duration,
    /// Keep Secret values (redacted by default: only keys and sizes are kept).
    #[arg(long)]
    pub include_secrets: bool,
    /// Largest uncompressed content to collect ("100Mi"); files beyond it are listed as skipped.
    #[arg(long, value_name = "SIZE", default_value = "200Mi")]
    pub max_size: String,
    /// Envoy config dumps to take at most (the gateway's pods first).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_envoy_pods: usize,
    /// How long to wait for one Envoy admin answer.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub envoy_timeout: Duration,
}

/// What to collect.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Namespaces whose objects, events and logs are taken.
    pub namespaces: Vec<String>,
    pub since: Duration,
    pub include_secrets: bool,
    pub max_bytes: u64,
    pub max_envoy_pods: usize,
    pub envoy_timeout: Duration,
    /// Istio, cert-manager and namespace objects (false: logs and events only).
    pub objects: bool,
    /// Events of every namespace rather than `namespaces`.
    pub all_events: bool,
    /// `(namespace, selector)` of the pods whose logs are taken.
    pub logs: Vec<(String, String)>,
}

/// What the archive's `summary.json` says.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub created: String,
    pub context: String,
    pub server: String,
    pub namespaces: Vec<String>,
    pub since_seconds: u64,
    pub secrets_redacted: bool,
    pub files: Vec<String>,
    /// Files left out because of --max-size.
    pub skipped: Vec<String>,
    pub envoy_dumps: usize,
    pub bytes: u64,
    /// What could not be collected.
    pub notes: Vec<String>,
}

/// The archive being built: entries in memory until written, within a size budget.
struct Contents {
    files: Vec<(String, Vec<u8>)>,
    summary: Summary,
    max_bytes: u64,
}

impl Contents {
    fn add(&mut self, name: String, data: Vec<u8>) {
        let size = data.len() as u64;
        if self.summary.bytes + size > self.max_bytes {
            self.summary.skipped.push(name);
            return;
        }
        self.summary.bytes += size;
        self.summary.files.push(name.clone());
        self.files.push((name, data));
    }

    fn yaml(&mut self, name: String, value: &impl Serialize) {
        match serde_saphyr::to_string(value) {
            Ok(text) => self.add(name, text.into_bytes()),
            Err(e) => self.summary.notes.push(format!("{name}: encode YAML: {e}")),
        }
    }
}

/// Replaces Secret values by their size, and drops the last-applied annotation that may repeat
/// them. Keys stay: which keys a Secret holds is often the diagnosis.
pub fn redact_secret(secret: &mut Value) {
    for field in ["data", "stringData"] {
        if let Some(map) = secret.get_mut(field).and_then(Value::as_object_mut) {
            for value in map.values_mut() {
                let size = value.as_str().map_or(0, str::len);
                *value = Value::String(format!("<redacted, {size} characters>"));
            }
        }
    }
    if let Some(annotations) = secret
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

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
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    };
    let mut params = ListParams::default().limit(500);
    let mut out = Vec::new();
    loop {
        let page = retry::read(Backoff::default(), || api.list(&params))
            .await
            .map_err(|e| e.to_string())?;
        for item in page.items {
            let mut value = serde_json::to_value(&item).map_err(|e| e.to_string())?;
            value["apiVersion"] = Value::String(resource.api_version.clone());
            value["kind"] = Value::String(resource.kind.clone());
            strip_noise(&mut value);
            out.push(value);
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(out),
        }
    }
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

/// Collects what `plan` names and writes the archive to `file`.
pub async fn collect(kube: &Kube, plan: &Plan, file: &Path) -> Result<Summary> {
    let client = &kube.client;
    let now = jiff::Timestamp::now();
    let mut contents = Contents {
        files: Vec::new(),
        summary: Summary {
            created: now.to_string(),
            context: kube.context.clone(),
            server: kube.server.clone(),
            namespaces: plan.namespaces.clone(),
            since_seconds: plan.since.as_secs(),
            secrets_redacted: !plan.include_secrets,
            ..Summary::default()
        },
        max_bytes: plan.max_bytes,
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
        ];
        for (dir, res) in &cluster_wide {
            match list_dynamic(client, res, None).await {
                Ok(items) => contents.yaml(
                    format!("resources/{dir}/{}.yaml", res.plural),
                    &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}),
                ),
                Err(e) => contents
                    .summary
                    .notes
                    .push(format!("list {}: {e}", res.plural)),
            }
        }
        let cluster_issuers = resource::<ClusterIssuer>();
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &cluster_issuers);
        let params = ListParams::default();
        match retry::read(Backoff::default(), || api.list(&params)).await {
            Ok(list) => contents.yaml(
                "resources/cert-manager/clusterissuers.yaml".into(),
                &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": list.items}),
            ),
            Err(e) => contents
                .summary
                .notes
                .push(format!("list clusterissuers: {e}")),
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
                    Ok(mut items) => {
                        if res.kind == "Secret" && !plan.include_secrets {
                            items.iter_mut().for_each(redact_secret);
                        }
                        contents.yaml(
                            format!("resources/{ns}/{}.yaml", res.plural),
                            &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}),
                        );
                    }
                    Err(e) => contents
                        .summary
                        .notes
                        .push(format!("list {} in {ns}: {e}", res.plural)),
                }
            }
        }
        if !plan.all_events {
            match list_dynamic(client, &events, Some(ns)).await {
                Ok(items) => {
                    let items: Vec<Value> = items
                        .into_iter()
                        .filter(|e| within(e, plan.since, now))
                        .collect();
                    contents.yaml(
                        format!("events/{ns}.yaml"),
                        &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}),
                    );
                }
                Err(e) => contents
                    .summary
                    .notes
                    .push(format!("list events in {ns}: {e}")),
            }
        }
        bar.inc(1);
    }
    if plan.all_events {
        match list_dynamic(client, &events, None).await {
            Ok(items) => {
                let items: Vec<Value> = items
                    .into_iter()
                    .filter(|e| within(e, plan.since, now))
                    .collect();
                contents.yaml(
                    "events/all-namespaces.yaml".into(),
                    &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}),
                );
            }
            Err(e) => contents.summary.notes.push(format!("list events: {e}")),
        }
    }
    bar.inc(1);

    for (ns, selector) in &plan.logs {
        let mut notes = Vec::new();
        match logs::read(client, ns, selector, plan.since, &mut notes).await {
            Ok(found) => {
                for log in found {
                    contents.add(
                        format!("logs/{}/{}/{}.log", log.namespace, log.pod, log.container),
                        log.text.into_bytes(),
                    );
                }
            }
            Err(e) => notes.push(e.to_string()),
        }
        contents.summary.notes.extend(notes);
        bar.inc(1);
    }

    if plan.max_envoy_pods > 0 {
        let mut candidates: Vec<Pod> = Vec::new();
        let mut seen = BTreeSet::new();
        let gateway_pods =
            crate::list::all::<Pod>(client, Some("istio-system"), Some("istio=ingressgateway"))
                .await
                .unwrap_or_default();
        candidates.extend(gateway_pods);
        for ns in plan
            .namespaces
            .iter()
            .filter(|n| !SYSTEM_NAMESPACES.contains(&n.as_str()))
        {
            let pods = crate::list::all::<Pod>(client, Some(ns), None)
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
                    contents.add(
                        format!("envoy/{ns}/{name}/config_dump.json"),
                        dump.into_bytes(),
                    );
                    contents.summary.envoy_dumps += 1;
                }
                Err(e) => contents
                    .summary
                    .notes
                    .push(format!("envoy config dump of {ns}/{name}: {e}")),
            }
        }
    }
    bar.inc(1);
    bar.finish_and_clear();
    write_archive(file, &contents.files, &contents.summary)?;
    Ok(contents.summary)
}

/// Writes `files` and `summary.json` to a temporary file beside `target` (0600), then renames it.
pub fn write_archive(target: &Path, files: &[(String, Vec<u8>)], summary: &Summary) -> Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let context = || format!("write bundle {}", target.display());
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "bundle".into());
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .tempfile_in(&dir)
        .map_err(|e| Error::io(context(), e))?;
    let mtime = jiff::Timestamp::now().as_second().max(0) as u64;
    {
        let gz = flate2::write::GzEncoder::new(temp.as_file(), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let summary_json = serde_json::to_vec_pretty(summary)
            .map_err(|e| Error::failed(format!("encode summary: {e}")))?;
        let all = std::iter::once(("summary.json", summary_json.as_slice()))
            .chain(files.iter().map(|(n, d)| (n.as_str(), d.as_slice())));
        for (name, data) in all {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            header.set_mtime(mtime);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, name, data)
                .map_err(|e| Error::io(context(), e))?;
        }
        let gz = tar.into_inner().map_err(|e| Error::io(context(), e))?;
        let mut file = gz.finish().map_err(|e| Error::io(context(), e))?;
        file.flush().map_err(|e| Error::io(context(), e))?;
        file.sync_all().map_err(|e| Error::io(context(), e))?;
    }
    temp.persist(target)
        .map_err(|e| Error::io(context(), e.error))?;
    Ok(())
}

/// `sealos-diag-20261125T193000Z.tar.gz`.
pub fn default_name(prefix: &str) -> PathBuf {
    let now = jiff::Timestamp::now();
    PathBuf::from(format!(
        "{prefix}-{}.tar.gz",
        now.strftime("%Y%m%dT%H%M%SZ")
    ))
}

impl BundleArgs {
    /// The plan for `namespaces` (from `-n`, comma-separated), the system ones always included.
    pub fn plan(&self, namespaces: Option<&str>) -> Result<Plan> {
        let max = Quantity::parse(&self.max_size)
            .map_err(|e| Error::usage(format!("--max-size: {e}")))?
            .value();
        if max <= 0 {
            return Err(Error::usage("--max-size must be more than 0"));
        }
        if self.since.is_zero() {
            return Err(Error::usage("--since must be more than 0"));
        }
        let mut all: Vec<String> = SYSTEM_NAMESPACES.iter().map(|s| s.to_string()).collect();
        for ns in namespaces.into_iter().flat_map(|n| n.split(',')) {
            let ns = ns.trim();
            if ns.is_empty() {
                continue;
            }
            if !sealos_shared::traffic_shift::valid_name(ns) {
                return Err(Error::usage(format!("invalid namespace {ns:?}")));
            }
            if !all.iter().any(|n| n == ns) {
                all.push(ns.to_string());
            }
        }
        Ok(Plan {
            namespaces: all,
            since: self.since,
            include_secrets: self.include_secrets,
            max_bytes: u64::try_from(max).unwrap_or(u64::MAX),
            max_envoy_pods: self.max_envoy_pods,
            envoy_timeout: self.envoy_timeout,
            objects: true,
            all_events: false,
            logs: vec![
                ("istio-system".into(), "app=istiod".into()),
                ("istio-system".into(), "istio=ingressgateway".into()),
                ("sealos-system".into(), String::new()),
                ("cert-manager".into(), String::new()),
            ],
        })
    }
}

pub async fn run(args: &BundleArgs, flags: &KubeFlags, out: &mut Out) -> Result<Exit> {
    let plan = args.plan(flags.namespace.as_deref())?;
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| default_name("sealos-diag"));
    if file.is_dir() {
        return Err(Error::usage(format!(
            "{} is a directory: name the archive file",
            file.display()
        )));
    }
    let kube = flags.connect().await?;
    // An unreachable cluster is exit 2, not an empty archive.
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(kube.client.clone());
    retry::read(Backoff::default(), || api.get_opt("istio-system"))
        .await
        .kube_context(|| "get namespace \"istio-system\"")?;
    let summary = collect(&kube, &plan, &file).await?;
    out.line(&format!(
        "bundle written to {} ({} files, {} bytes before compression, {} skipped{})",
        file.display(),
        summary.files.len() + 1,
        summary.bytes,
        summary.skipped.len(),
        if summary.secrets_redacted {
            ", Secret values redacted"
        } else {
            ", Secret values INCLUDED"
        }
    ))?;
    for note in &summary.notes {
        eprintln!("note: {note}");
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Read;

    #[test]
    fn secrets_keep_keys_and_lose_values() {
        let mut secret = serde_json::json!({
            "metadata": {"name": "s", "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"tls.key\":\"c2VjcmV0\"}}",
                "keep": "me"}},
            "data": {"tls.key": "c2VjcmV0", "tls.crt": "Y2VydA=="},
            "stringData": {"password": "hunter2"},
        });
        redact_secret(&mut secret);
        let text = secret.to_string();
        assert!(
            !text.contains("c2VjcmV0") && !text.contains("hunter2"),
            "{text}"
        );
        assert_eq!(secret["data"]["tls.key"], "<redacted, 8 characters>");
        assert_eq!(secret["metadata"]["annotations"]["keep"], "me");
    }

    #[test]
    fn archives_are_private_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("b.tar.gz");
        let summary = Summary {
            files: vec!["a/b.txt".into()],
            ..Summary::default()
        };
        write_archive(&target, &[("a/b.txt".into(), b"hello".to_vec())], &summary).unwrap();
        let mode = std::fs::metadata(&target).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(
            std::fs::File::open(&target).unwrap(),
        ));
        let mut names = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            if name == "a/b.txt" {
                assert_eq!(text, "hello");
            }
            names.push(name);
        }
        assert_eq!(names, ["summary.json", "a/b.txt"]);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_size_budget_skips_what_does_not_fit() {
        let mut contents = Contents {
            files: Vec::new(),
            summary: Summary::default(),
            max_bytes: 10,
        };
        contents.add("a".into(), vec![0; 6]);
        contents.add("b".into(), vec![0; 6]);
        contents.add("c".into(), vec![0; 4]);
        assert_eq!(contents.summary.files, ["a", "c"]);
        assert_eq!(contents.summary.skipped, ["b"]);
    }

    #[test]
    fn plans_take_comma_separated_namespaces_and_refuse_bad_sizes() {
        let args = BundleArgs {
            file: None,
            since: Duration::from_secs(60),
            include_secrets: false,
            max_size: "1Mi".into(),
            max_envoy_pods: 1,
            envoy_timeout: Duration::from_secs(1),
        };
        let plan = args.plan(Some("ns-bob, ns-carol,istio-system")).unwrap();
        assert_eq!(
            plan.namespaces,
            [
                "istio-system",
                "sealos-system",
                "cert-manager",
                "ns-bob",
                "ns-carol"
            ]
        );
        assert_eq!(plan.max_bytes, 1 << 20);
        let bad = BundleArgs {
            max_size: "lots".into(),
            ..args.clone()
        };
        assert!(matches!(bad.plan(None), Err(Error::Usage(_))));
        assert!(matches!(args.plan(Some("Bad_NS")), Err(Error::Usage(_))));
    }
}
