//! What the API server fills in on create (admission and defaulting), per kind.

use crate::registry::ResourceInfo;
use crate::status::ApiError;
use crate::store::obj_meta;
use serde_json::{Value, json};

/// Make `obj` what a create stores: identity from the path, a name, defaults, generation.
/// `keep_status` is for seeding (scenario objects carry their status); clients' creates drop it
/// where a status subresource exists.
pub fn prepare_create(
    info: &ResourceInfo,
    obj: &mut Value,
    namespace: &str,
    keep_status: bool,
) -> Result<(), ApiError> {
    crate::validate::shape(info, obj)?;
    obj["apiVersion"] = json!(info.api_version());
    obj["kind"] = json!(info.kind);
    let meta = obj_meta(obj);
    if info.namespaced {
        meta.insert("namespace".into(), json!(namespace));
    } else {
        meta.remove("namespace");
    }
    let has_name = meta
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if !has_name {
        match meta.get("generateName").and_then(Value::as_str) {
            Some(prefix) if !prefix.is_empty() => {
                let name = format!("{prefix}{}", random_suffix(5));
                meta.insert("name".into(), json!(name));
            }
            _ => {
                return Err(ApiError::invalid(
                    &info.group,
                    &info.kind,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ));
            }
        }
    }
    meta.remove("resourceVersion");
    meta.remove("deletionTimestamp");
    if !info.group.is_empty() || info.custom {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    if info.status
        && !keep_status
        && let Some(o) = obj.as_object_mut()
    {
        o.remove("status");
    }
    defaults(info, obj);
    Ok(())
}

/// Lowercase letters and digits, as the API server's name generator uses (no vowels, as upstream).
pub fn random_suffix(n: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..n)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

fn set_default(v: &mut Value, key: &str, d: Value) {
    if let Some(o) = v.as_object_mut() {
        o.entry(key.to_string()).or_insert(d);
    }
}

fn container_defaults(spec: &mut Value) {
    for list in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs {
                set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
                set_default(c, "terminationMessagePolicy", json!("File"));
                set_default(c, "imagePullPolicy", json!("IfNotPresent"));
                set_default(c, "resources", json!({}));
                if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
                    for p in ports {
                        set_default(p, "protocol", json!("TCP"));
                    }
                }
            }
        }
    }
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "securityContext", json!({}));
}

fn defaults(info: &ResourceInfo, obj: &mut Value) {
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "namespaces") => {
            let name = obj["metadata"]["name"].clone();
            let meta = obj_meta(obj);
            let labels = meta.entry("labels").or_insert_with(|| json!({}));
            set_default(labels, "kubernetes.io/metadata.name", name);
            set_default(obj, "spec", json!({ "finalizers": ["kubernetes"] }));
            set_default(obj, "status", json!({ "phase": "Active" }));
        }
        ("", "pods") => {
            set_default(obj, "spec", json!({}));
            container_defaults(&mut obj["spec"]);
        }
        ("", "services") => {
            set_default(obj, "spec", json!({}));
            let spec = &mut obj["spec"];
            set_default(spec, "type", json!("ClusterIP"));
            set_default(spec, "sessionAffinity", json!("None"));
            if spec["type"] != "ExternalName" && spec.get("clusterIP").is_none() {
                let ip = format!("10.96.{}.{}", fastrand::u8(1..255), fastrand::u8(1..255));
                spec["clusterIP"] = json!(ip);
                spec["clusterIPs"] = json!([ip]);
            }
            set_default(spec, "ipFamilies", json!(["IPv4"]));
            set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
            set_default(spec, "internalTrafficPolicy", json!("Cluster"));
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports {
                    set_default(p, "protocol", json!("TCP"));
                    let port = p["port"].clone();
                    set_default(p, "targetPort", port);
                }
            }
            set_default(obj, "status", json!({ "loadBalancer": {} }));
        }
        ("", "secrets") => set_default(obj, "type", json!("Opaque")),
        ("apps", "deployments") | ("apps", "replicasets") => {
            set_default(obj, "spec", json!({}));
            let spec = &mut obj["spec"];
            set_default(spec, "replicas", json!(1));
            set_default(spec, "revisionHistoryLimit", json!(10));
            if info.plural == "deployments" {
                set_default(spec, "progressDeadlineSeconds", json!(600));
                set_default(
                    spec,
                    "strategy",
                    json!({ "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } }),
                );
            }
            set_default(spec, "template", json!({}));
            set_default(&mut spec["template"], "spec", json!({}));
            container_defaults(&mut spec["template"]["spec"]);
            set_default(obj, "status", json!({}));
        }
        ("batch", "jobs") => job_defaults(obj),
        ("batch", "cronjobs") => {
            set_default(obj, "spec", json!({}));
            let spec = &mut obj["spec"];
            set_default(spec, "concurrencyPolicy", json!("Allow"));
            set_default(spec, "suspend", json!(false));
            set_default(spec, "successfulJobsHistoryLimit", json!(3));
            set_default(spec, "failedJobsHistoryLimit", json!(1));
            set_default(spec, "jobTemplate", json!({}));
            set_default(&mut spec["jobTemplate"], "spec", json!({}));
            job_spec_defaults(&mut spec["jobTemplate"]["spec"]);
            set_default(obj, "status", json!({}));
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            let names = obj["spec"]["names"].clone();
            let stored: Vec<Value> = obj["spec"]["versions"]
                .as_array()
                .map(|vs| {
                    vs.iter()
                        .filter(|v| v["storage"] == true)
                        .map(|v| v["name"].clone())
                        .collect()
                })
                .unwrap_or_default();
            let now = crate::clock::now_rfc3339();
            let cond = |t: &str, reason: &str, msg: &str| json!({ "type": t, "status": "True", "lastTransitionTime": now, "reason": reason, "message": msg });
            obj["status"] = json!({
                "acceptedNames": names,
                "storedVersions": stored,
                "conditions": [
                    cond("NamesAccepted", "NoConflicts", "no conflicts found"),
                    cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
                ],
            });
        }
        _ => {}
    }
}

/// A uid in the API server's format, for objects whose defaults need it before they are stored.
pub fn random_uid() -> String {
    let (a, b) = (fastrand::u64(..), fastrand::u64(..));
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// What `SetDefaults_JobSpec` fills in (a Job's and a CronJob's jobTemplate's).
fn job_spec_defaults(spec: &mut Value) {
    if spec.get("completions").is_none_or(Value::is_null)
        && spec.get("parallelism").is_none_or(Value::is_null)
    {
        spec["completions"] = json!(1);
    }
    set_default(spec, "parallelism", json!(1));
    set_default(spec, "backoffLimit", json!(6));
    set_default(spec, "completionMode", json!("NonIndexed"));
    set_default(spec, "suspend", json!(false));
    set_default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    set_default(spec, "template", json!({}));
    set_default(&mut spec["template"], "spec", json!({}));
    container_defaults(&mut spec["template"]["spec"]);
}

/// A Job gets its uid now: the selector and the template's labels name it
/// (`batch.kubernetes.io/controller-uid`), as upstream's create strategy does.
fn job_defaults(obj: &mut Value) {
    set_default(obj, "spec", json!({}));
    job_spec_defaults(&mut obj["spec"]);
    let meta = obj_meta(obj);
    let uid = match meta.get("uid").and_then(Value::as_str) {
        Some(u) if !u.is_empty() => u.to_string(),
        _ => {
            let u = random_uid();
            meta.insert("uid".into(), json!(u));
            u
        }
    };
    let name = meta.get("name").cloned().unwrap_or(Value::Null);
    let spec = &mut obj["spec"];
    if spec["manualSelector"] != true {
        let labels = json!({
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        });
        if spec.get("selector").is_none_or(Value::is_null) {
            spec["selector"] =
                json!({ "matchLabels": { "batch.kubernetes.io/controller-uid": uid } });
        }
        let tmeta = &mut spec["template"]["metadata"];
        if !tmeta.is_object() {
            *tmeta = json!({});
        }
        set_default(tmeta, "labels", json!({}));
        if let (Some(l), Some(add)) = (tmeta["labels"].as_object_mut(), labels.as_object()) {
            for (k, v) in add {
                l.entry(k.clone()).or_insert(v.clone());
            }
        }
    }
    set_default(obj, "status", json!({}));
}
