//! The workload specs kubectl's generators send as protobuf (`create deployment`, `run`,
//! `expose`): the fields those generators fill, by their generated.proto numbers.

use super::{field, fields, map, object_meta, text, varint};
use serde_json::{Map, Value, json};

type Fields<'a> = [(u64, &'a [u8])];

fn int(fs: &Fields, n: u64) -> Option<i64> {
    field(fs, n).and_then(|b| varint(b)).map(|(v, _)| v as i64)
}

fn strings(fs: &Fields, n: u64) -> Vec<String> {
    fs.iter()
        .filter(|(f, _)| *f == n)
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect()
}

fn messages<'a>(fs: &Fields<'a>, n: u64) -> impl Iterator<Item = &'a [u8]> {
    fs.iter().filter(move |(f, _)| *f == n).map(|(_, b)| *b)
}

fn put(o: &mut Value, key: &str, v: Value) {
    let empty = match &v {
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Null => true,
        _ => false,
    };
    if !empty {
        o[key] = v;
    }
}

/// ResourceList: map<string, Quantity{string=1}>.
fn resource_list(fs: &Fields, n: u64) -> Option<Value> {
    let mut m = Map::new();
    for entry in messages(fs, n) {
        let e = fields(entry)?;
        let q = fields(field(&e, 2).unwrap_or_default())?;
        m.insert(text(&e, 1), json!(text(&q, 1)));
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

/// Container: name=1 image=2 command=3 args=4 workingDir=5 ports=6 env=7 resources=8
/// imagePullPolicy=14 stdin=16 tty=18.
fn container(buf: &[u8]) -> Option<Value> {
    let fs = fields(buf)?;
    let mut c = json!({ "name": text(&fs, 1) });
    put(&mut c, "image", json!(text(&fs, 2)));
    put(&mut c, "command", json!(strings(&fs, 3)));
    put(&mut c, "args", json!(strings(&fs, 4)));
    put(&mut c, "workingDir", json!(text(&fs, 5)));
    let mut ports = vec![];
    for p in messages(&fs, 6) {
        let pf = fields(p)?;
        let mut port = json!({ "containerPort": int(&pf, 3).unwrap_or(0) });
        put(&mut port, "name", json!(text(&pf, 1)));
        put(&mut port, "protocol", json!(text(&pf, 4)));
        ports.push(port);
    }
    put(&mut c, "ports", json!(ports));
    let mut env = vec![];
    for e in messages(&fs, 7) {
        let ef = fields(e)?;
        let mut var = json!({ "name": text(&ef, 1) });
        match field(&ef, 3) {
            Some(from) => var["valueFrom"] = env_source(from)?,
            None => var["value"] = json!(text(&ef, 2)),
        }
        env.push(var);
    }
    put(&mut c, "env", json!(env));
    let mut env_from = vec![];
    for e in messages(&fs, 19) {
        let ef = fields(e)?;
        let mut src = json!({});
        put(&mut src, "prefix", json!(text(&ef, 1)));
        for (n, key) in [(2, "configMapRef"), (3, "secretRef")] {
            if let Some(r) = field(&ef, n) {
                let rf = fields(r)?;
                let mut v = json!({ "name": text(&fields(field(&rf, 1).unwrap_or_default())?, 1) });
                if int(&rf, 2) == Some(1) {
                    v["optional"] = json!(true);
                }
                src[key] = v;
            }
        }
        env_from.push(src);
    }
    put(&mut c, "envFrom", json!(env_from));
    put(&mut c, "terminationMessagePath", json!(text(&fs, 13)));
    put(&mut c, "terminationMessagePolicy", json!(text(&fs, 20)));
    let res = fields(field(&fs, 8).unwrap_or_default())?;
    let mut resources = json!({});
    if let Some(l) = resource_list(&res, 1) {
        resources["limits"] = l;
    }
    if let Some(r) = resource_list(&res, 2) {
        resources["requests"] = r;
    }
    c["resources"] = resources;
    put(&mut c, "imagePullPolicy", json!(text(&fs, 14)));
    for (n, key) in [(16, "stdin"), (18, "tty")] {
        if int(&fs, n) == Some(1) {
            c[key] = json!(true);
        }
    }
    Some(c)
}

/// EnvVarSource: fieldRef=1{apiVersion=1 fieldPath=2} configMapKeyRef=3 secretKeyRef=4
/// (each {localObjectReference=1{name=1} key=2 optional=3}).
fn env_source(buf: &[u8]) -> Option<Value> {
    let fs = fields(buf)?;
    if let Some(f) = field(&fs, 1) {
        let ff = fields(f)?;
        let mut r = json!({ "fieldPath": text(&ff, 2) });
        put(&mut r, "apiVersion", json!(text(&ff, 1)));
        return Some(json!({ "fieldRef": r }));
    }
    for (n, key) in [(3, "configMapKeyRef"), (4, "secretKeyRef")] {
        if let Some(r) = field(&fs, n) {
            let rf = fields(r)?;
            let name = text(&fields(field(&rf, 1).unwrap_or_default())?, 1);
            let mut v = json!({ "name": name, "key": text(&rf, 2) });
            if int(&rf, 3) == Some(1) {
                v["optional"] = json!(true);
            }
            return Some(json!({ key: v }));
        }
    }
    Some(json!({}))
}

/// JobSpec: parallelism=1 completions=2 activeDeadlineSeconds=3 selector=4 manualSelector=5
/// template=6 backoffLimit=7 ttlSecondsAfterFinished=8 completionMode=9 suspend=10
/// podReplacementPolicy=14.
pub fn job_spec(buf: &[u8]) -> Option<Value> {
    let fs = fields(buf)?;
    let template = fields(field(&fs, 6).unwrap_or_default())?;
    let mut meta = object_meta(field(&template, 1).unwrap_or_default())?;
    if meta["name"] == ""
        && let Some(m) = meta.as_object_mut()
    {
        m.remove("name");
    }
    let mut spec = json!({
        "template": { "metadata": meta, "spec": pod_spec(field(&template, 2).unwrap_or_default())? },
    });
    for (n, key) in [
        (1, "parallelism"),
        (2, "completions"),
        (3, "activeDeadlineSeconds"),
        (7, "backoffLimit"),
        (8, "ttlSecondsAfterFinished"),
    ] {
        if let Some(v) = int(&fs, n) {
            spec[key] = json!(v);
        }
    }
    for (n, key) in [(5, "manualSelector"), (10, "suspend")] {
        if let Some(v) = int(&fs, n) {
            spec[key] = json!(v == 1);
        }
    }
    if let Some(sel) = field(&fs, 4) {
        let sf = fields(sel)?;
        spec["selector"] = json!({ "matchLabels": map(&sf, 1, false).unwrap_or(json!({})) });
    }
    put(&mut spec, "completionMode", json!(text(&fs, 9)));
    put(&mut spec, "podReplacementPolicy", json!(text(&fs, 14)));
    Some(spec)
}

/// CronJobSpec: schedule=1 startingDeadlineSeconds=2 concurrencyPolicy=3 suspend=4
/// jobTemplate=5{metadata=1 spec=2} successfulJobsHistoryLimit=6 failedJobsHistoryLimit=7
/// timeZone=8.
pub fn cronjob_spec(buf: &[u8]) -> Option<Value> {
    let fs = fields(buf)?;
    let template = fields(field(&fs, 5).unwrap_or_default())?;
    let mut meta = object_meta(field(&template, 1).unwrap_or_default())?;
    if meta["name"] == ""
        && let Some(m) = meta.as_object_mut()
    {
        m.remove("name");
    }
    let mut spec = json!({
        "schedule": text(&fs, 1),
        "jobTemplate": { "metadata": meta, "spec": job_spec(field(&template, 2).unwrap_or_default())? },
    });
    for (n, key) in [
        (2, "startingDeadlineSeconds"),
        (6, "successfulJobsHistoryLimit"),
        (7, "failedJobsHistoryLimit"),
    ] {
        if let Some(v) = int(&fs, n) {
            spec[key] = json!(v);
        }
    }
    if let Some(v) = int(&fs, 4) {
        spec["suspend"] = json!(v == 1);
    }
    put(&mut spec, "concurrencyPolicy", json!(text(&fs, 3)));
    put(&mut spec, "timeZone", json!(text(&fs, 8)));
    Some(spec)
}

/// PodSpec: containers=2 restartPolicy=3 terminationGracePeriodSeconds=4 dnsPolicy=6
/// nodeSelector=7 serviceAccountName=8 initContainers=20.
pub fn pod_spec(buf: &[u8]) -> Option<Value> {
    let fs = fields(buf)?;
    let containers: Option<Vec<Value>> = messages(&fs, 2).map(container).collect();
    let init: Option<Vec<Value>> = messages(&fs, 20).map(container).collect();
    let mut spec = json!({ "containers": containers? });
    put(&mut spec, "initContainers", json!(init?));
    put(&mut spec, "restartPolicy", json!(text(&fs, 3)));
    if let Some(g) = int(&fs, 4) {
        spec["terminationGracePeriodSeconds"] = json!(g);
    }
    put(&mut spec, "dnsPolicy", json!(text(&fs, 6)));
    if let Some(sel) = map(&fs, 7, false) {
        spec["nodeSelector"] = sel;
    }
    put(&mut spec, "serviceAccountName", json!(text(&fs, 8)));
    Some(spec)
}

/// DeploymentSpec: replicas=1 selector=2{matchLabels=1} template=3{metadata=1, spec=2}
/// strategy=4{type=1} minReadySeconds=5 revisionHistoryLimit=6 progressDeadlineSeconds=9.
pub fn deployment_spec(buf: &[u8]) -> Option<Value> {
    let fs = fields(buf)?;
    let selector = fields(field(&fs, 2).unwrap_or_default())?;
    let template = fields(field(&fs, 3).unwrap_or_default())?;
    let mut spec = json!({
        "selector": { "matchLabels": map(&selector, 1, false).unwrap_or(json!({})) },
        "template": {
            "metadata": object_meta(field(&template, 1).unwrap_or_default())?,
            "spec": pod_spec(field(&template, 2).unwrap_or_default())?,
        },
    });
    if let Some(r) = int(&fs, 1) {
        spec["replicas"] = json!(r);
    }
    let strategy = fields(field(&fs, 4).unwrap_or_default())?;
    put(
        &mut spec,
        "strategy",
        if text(&strategy, 1).is_empty() {
            Value::Null
        } else {
            json!({ "type": text(&strategy, 1) })
        },
    );
    for (n, key) in [
        (5, "minReadySeconds"),
        (6, "revisionHistoryLimit"),
        (9, "progressDeadlineSeconds"),
    ] {
        if let Some(v) = int(&fs, n) {
            spec[key] = json!(v);
        }
    }
    if spec["template"]["metadata"]["name"] == ""
        && let Some(m) = spec["template"]["metadata"].as_object_mut()
    {
        m.remove("name");
    }
    Some(spec)
}

/// ServiceSpec: ports=1{name=1 protocol=2 port=3 targetPort=4{type=1 intVal=2 strVal=3}
/// nodePort=5} selector=2 clusterIP=3 type=4.
pub fn service_spec(buf: &[u8]) -> Option<Value> {
    let fs = fields(buf)?;
    let mut ports = vec![];
    for p in messages(&fs, 1) {
        let pf = fields(p)?;
        let mut port = json!({ "port": int(&pf, 3).unwrap_or(0) });
        put(&mut port, "name", json!(text(&pf, 1)));
        put(&mut port, "protocol", json!(text(&pf, 2)));
        if let Some(t) = field(&pf, 4) {
            let tf = fields(t)?;
            port["targetPort"] = if int(&tf, 1) == Some(1) {
                json!(text(&tf, 3))
            } else {
                json!(int(&tf, 2).unwrap_or(0))
            };
        }
        if let Some(np) = int(&pf, 5) {
            port["nodePort"] = json!(np);
        }
        ports.push(port);
    }
    let mut spec = json!({ "ports": ports });
    if let Some(sel) = map(&fs, 2, false) {
        spec["selector"] = sel;
    }
    put(&mut spec, "clusterIP", json!(text(&fs, 3)));
    put(&mut spec, "type", json!(text(&fs, 4)));
    Some(spec)
}
