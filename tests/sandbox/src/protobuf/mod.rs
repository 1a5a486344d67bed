//! Just enough of the Kubernetes protobuf encoding to read what kubectl sends as protobuf:
//! the `k8s\0` + `runtime.Unknown{typeMeta=1, raw=2}` envelope, ObjectMeta's identity, labels
//! and annotations, the simple maps of Namespaces, ConfigMaps and Secrets, and the workloads
//! kubectl's generators make (`create deployment`, `run`, `expose`).

mod rbac;
mod workloads;

use base64::Engine;
use serde_json::{Map, Value, json};

pub fn varint(buf: &[u8]) -> Option<(u64, &[u8])> {
    let mut v: u64 = 0;
    for (i, b) in buf.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, &buf[i + 1..]));
        }
    }
    None
}

/// The fields of one message as (number, payload); varint payloads are their raw bytes.
pub fn fields(mut buf: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let mut out = vec![];
    while !buf.is_empty() {
        let (tag, rest) = varint(buf)?;
        let (field, wire) = (tag >> 3, tag & 7);
        match wire {
            0 => {
                let (_, after) = varint(rest)?;
                out.push((field, &rest[..rest.len() - after.len()]));
                buf = after;
            }
            1 => {
                out.push((field, rest.get(..8)?));
                buf = &rest[8..];
            }
            2 => {
                let (len, after) = varint(rest)?;
                let len = usize::try_from(len).ok()?;
                out.push((field, after.get(..len)?));
                buf = &after[len..];
            }
            5 => {
                out.push((field, rest.get(..4)?));
                buf = &rest[4..];
            }
            _ => return None,
        }
    }
    Some(out)
}

pub fn field<'a>(fs: &[(u64, &'a [u8])], n: u64) -> Option<&'a [u8]> {
    fs.iter().find(|(f, _)| *f == n).map(|(_, p)| *p)
}

pub fn text(fs: &[(u64, &[u8])], n: u64) -> String {
    field(fs, n)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// A `map<string, string>` field (repeated entries of key=1, value=2); bytes values base64.
pub fn map(fs: &[(u64, &[u8])], n: u64, bytes: bool) -> Option<Value> {
    let mut m = Map::new();
    for (_, entry) in fs.iter().filter(|(f, _)| *f == n) {
        let e = fields(entry)?;
        let v = if bytes {
            base64::engine::general_purpose::STANDARD.encode(field(&e, 2).unwrap_or_default())
        } else {
            text(&e, 2)
        };
        m.insert(text(&e, 1), json!(v));
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

/// The envelope's (apiVersion, kind) and raw object bytes.
pub fn unwrap(body: &[u8]) -> Option<(String, String, Vec<u8>)> {
    let envelope = fields(body.strip_prefix(b"k8s\0")?)?;
    let type_meta = fields(field(&envelope, 1).unwrap_or_default())?;
    Some((
        text(&type_meta, 1),
        text(&type_meta, 2),
        field(&envelope, 2)?.to_vec(),
    ))
}

/// ObjectMeta: name=1, generateName=2, namespace=3, labels=11, annotations=12.
pub fn object_meta(buf: &[u8]) -> Option<Value> {
    let meta = fields(buf)?;
    let mut m = json!({ "name": text(&meta, 1) });
    for (n, key) in [(2, "generateName"), (3, "namespace")] {
        let v = text(&meta, n);
        if !v.is_empty() {
            m[key] = json!(v);
        }
    }
    for (n, key) in [(11, "labels"), (12, "annotations")] {
        if let Some(v) = map(&meta, n, false) {
            m[key] = v;
        }
    }
    // ownerReferences=13: kind=1 name=3 uid=4 apiVersion=5 controller=6 blockOwnerDeletion=7.
    let mut owners = vec![];
    for (_, r) in meta.iter().filter(|(f, _)| *f == 13) {
        let rf = fields(r)?;
        let mut o = json!({ "apiVersion": text(&rf, 5), "kind": text(&rf, 1), "name": text(&rf, 3), "uid": text(&rf, 4) });
        for (n, key) in [(6, "controller"), (7, "blockOwnerDeletion")] {
            if let Some(b) = field(&rf, n) {
                o[key] = json!(b == [1]);
            }
        }
        owners.push(o);
    }
    if !owners.is_empty() {
        m["ownerReferences"] = json!(owners);
    }
    Some(m)
}

/// The object kubectl sent, for the kinds whose protobuf this module reads; None otherwise.
pub fn decode_object(body: &[u8]) -> Option<Value> {
    let (api_version, kind, raw) = unwrap(body)?;
    let obj = fields(&raw)?;
    let m = object_meta(field(&obj, 1).unwrap_or_default())?;
    let mut out = json!({ "apiVersion": api_version, "kind": kind, "metadata": m });
    match kind.as_str() {
        "Namespace" => {}
        "ConfigMap" => {
            if let Some(d) = map(&obj, 2, false) {
                out["data"] = d;
            }
        }
        "Secret" => {
            if let Some(d) = map(&obj, 2, true) {
                out["data"] = d;
            }
            let t = text(&obj, 3);
            if !t.is_empty() {
                out["type"] = json!(t);
            }
        }
        "Deployment" => {
            out["spec"] = workloads::deployment_spec(field(&obj, 2).unwrap_or_default())?
        }
        "Pod" => out["spec"] = workloads::pod_spec(field(&obj, 2).unwrap_or_default())?,
        "Job" => out["spec"] = workloads::job_spec(field(&obj, 2).unwrap_or_default())?,
        "CronJob" => out["spec"] = workloads::cronjob_spec(field(&obj, 2).unwrap_or_default())?,
        "Service" => out["spec"] = workloads::service_spec(field(&obj, 2).unwrap_or_default())?,
        "ServiceAccount" => rbac::service_account(&obj, &mut out)?,
        "Role" | "ClusterRole" => out["rules"] = rbac::rules(&obj)?,
        "RoleBinding" | "ClusterRoleBinding" => rbac::binding(&obj, &mut out)?,
        _ => return None,
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ld(field: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![(field << 3) | 2, payload.len() as u8];
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn reads_a_namespace() {
        let mut tm = ld(1, b"v1");
        tm.extend(ld(2, b"Namespace"));
        let mut label = ld(1, b"team");
        label.extend(ld(2, b"a"));
        let mut meta = ld(1, b"foo");
        meta.extend(ld(11, &label));
        let raw = ld(1, &meta);
        let mut body = b"k8s\0".to_vec();
        body.extend(ld(1, &tm));
        body.extend(ld(2, &raw));
        let o = decode_object(&body).unwrap();
        assert_eq!(o["kind"], "Namespace");
        assert_eq!(o["metadata"]["name"], "foo");
        assert_eq!(o["metadata"]["labels"]["team"], "a");
    }
}
