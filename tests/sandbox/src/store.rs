//! Objects by resource, namespace and name, with resourceVersions, an event history for watches
//! and list snapshots for `continue` tokens.
//!
//! Each resource's objects sit in an `Arc<BTreeMap>` keyed by (namespace, name): a list takes the
//! Arc (no copy), a namespace is a key range, and a write copies the map only while a snapshot
//! of it is still held by a paged list.

use crate::registry::ResKey;
use crate::status::ApiError;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

pub type Objects = BTreeMap<(String, String), Arc<Value>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watches and the simulation see it.
#[derive(Debug)]
pub struct StoreEvent {
    pub rv: u64,
    pub key: ResKey,
    pub namespace: String,
    pub name: String,
    pub kind: EventType,
    pub object: Arc<Value>,
    /// The object before the change (None for Added).
    pub old: Option<Arc<Value>>,
}

/// How many changes the store remembers for watches, and how many paged-list snapshots.
#[derive(Debug, Clone, Copy)]
pub struct StoreLimits {
    pub history: usize,
    pub snapshots: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            history: 20_000,
            snapshots: 64,
        }
    }
}

struct Inner {
    rv: u64,
    resources: HashMap<ResKey, Arc<Objects>>,
    history: VecDeque<Arc<StoreEvent>>,
    /// Watches may start from any resourceVersion >= this.
    oldest_watchable: u64,
    snapshots: VecDeque<(u64, ResKey, Arc<Objects>)>,
    uid_seq: u64,
}

pub struct Store {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<StoreEvent>>,
    limits: StoreLimits,
}

/// What a watch starts with: the retained events after its resourceVersion, and a live receiver
/// subscribed at the same instant (so nothing falls between them).
pub struct Subscription {
    pub backlog: Vec<Arc<StoreEvent>>,
    pub live: broadcast::Receiver<Arc<StoreEvent>>,
    pub current_rv: u64,
}

fn ns_name(obj: &Value) -> (String, String) {
    let m = &obj["metadata"];
    (
        m["namespace"].as_str().unwrap_or("").to_string(),
        m["name"].as_str().unwrap_or("").to_string(),
    )
}

/// Equal apart from resourceVersion and managedFields: a write that changes nothing else is a no-op.
pub fn same_content(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
            m.remove("managedFields");
        }
        v
    };
    strip(a) == strip(b)
}

pub fn rv_of(obj: &Value) -> Option<u64> {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
}

impl Store {
    pub fn new(limits: StoreLimits) -> Self {
        let (tx, _) = broadcast::channel(limits.history.clamp(1024, 65_536));
        Store {
            inner: Mutex::new(Inner {
                rv: 1,
                resources: HashMap::new(),
                history: VecDeque::new(),
                oldest_watchable: 1,
                snapshots: VecDeque::new(),
                uid_seq: 0,
            }),
            tx,
            limits,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    pub fn oldest_watchable(&self) -> u64 {
        self.lock().oldest_watchable
    }

    pub fn get(&self, key: &ResKey, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let g = self.lock();
        g.resources
            .get(key)?
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// The resource's objects as of now, and the resourceVersion they are consistent with.
    pub fn snapshot(&self, key: &ResKey) -> (u64, Arc<Objects>) {
        let g = self.lock();
        (g.rv, g.resources.get(key).cloned().unwrap_or_default())
    }

    /// Keep a snapshot so a `continue` token naming `rv` can page through it later.
    pub fn keep_snapshot(&self, rv: u64, key: &ResKey, objects: Arc<Objects>) {
        let mut g = self.lock();
        if g.snapshots.iter().any(|(r, k, _)| *r == rv && k == key) {
            return;
        }
        g.snapshots.push_back((rv, key.clone(), objects));
        while g.snapshots.len() > self.limits.snapshots {
            g.snapshots.pop_front();
        }
    }

    pub fn snapshot_at(&self, rv: u64, key: &ResKey) -> Option<Arc<Objects>> {
        let g = self.lock();
        g.snapshots
            .iter()
            .find(|(r, k, _)| *r == rv && k == key)
            .map(|(_, _, o)| o.clone())
    }

    /// Forget every kept snapshot: outstanding continue tokens then answer 410.
    pub fn expire_snapshots(&self) {
        self.lock().snapshots.clear();
    }

    /// Every stored object of a resource in one namespace (or all), in key order.
    pub fn list(&self, key: &ResKey, namespace: Option<&str>) -> Vec<Arc<Value>> {
        let (_, objs) = self.snapshot(key);
        namespace_range(&objs, namespace)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn keys(&self) -> Vec<ResKey> {
        self.lock().resources.keys().cloned().collect()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoreEvent>> {
        self.tx.subscribe()
    }

    /// Events after `rv` (from the history) and a live receiver; 410-worthy when `rv` is older
    /// than what the history still holds.
    pub fn subscribe_from(&self, rv: u64) -> Result<Subscription, ApiError> {
        let g = self.lock();
        if rv < g.oldest_watchable {
            return Err(ApiError::expired(format!(
                "too old resource version: {rv} ({})",
                g.oldest_watchable
            )));
        }
        let start = g.history.partition_point(|e| e.rv <= rv);
        let backlog = g.history.iter().skip(start).cloned().collect();
        Ok(Subscription {
            backlog,
            live: self.tx.subscribe(),
            current_rv: g.rv,
        })
    }

    fn record(&self, g: &mut Inner, ev: StoreEvent) {
        let ev = Arc::new(ev);
        g.history.push_back(ev.clone());
        while g.history.len() > self.limits.history {
            if let Some(old) = g.history.pop_front() {
                g.oldest_watchable = old.rv;
            }
        }
        // No receivers is fine: nobody watches yet.
        let _ = self.tx.send(ev);
    }

    fn next_uid(g: &mut Inner) -> String {
        g.uid_seq += 1;
        let n = g.uid_seq;
        let r = fastrand::u64(..);
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            r >> 32,
            (r >> 16) & 0xffff,
            n & 0xfff,
            (n >> 12) & 0xfff,
            (r & 0xffff) << 32 | (n & 0xffff_ffff)
        )
    }

    /// Store a new object: assigns uid, creationTimestamp (unless set) and resourceVersion.
    pub fn create(&self, key: &ResKey, mut obj: Value) -> Result<Arc<Value>, ApiError> {
        let (ns, name) = ns_name(&obj);
        let mut g = self.lock();
        let exists = g
            .resources
            .get(key)
            .is_some_and(|m| m.contains_key(&(ns.clone(), name.clone())));
        if exists {
            return Err(ApiError::already_exists(&key.group, &key.plural, &name));
        }
        g.rv += 1;
        let rv = g.rv;
        let uid = Self::next_uid(&mut g);
        let meta = obj_meta(&mut obj);
        // Clients send `creationTimestamp: null`; seeded objects carry real ones, kept.
        for (field, fresh) in [
            ("uid", json!(uid)),
            ("creationTimestamp", json!(crate::clock::now_rfc3339())),
        ] {
            if meta.get(field).is_none_or(|v| !v.is_string()) {
                meta.insert(field.into(), fresh);
            }
        }
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        let obj = Arc::new(obj);
        let map = g.resources.entry(key.clone()).or_default();
        Arc::make_mut(map).insert((ns.clone(), name.clone()), obj.clone());
        self.record(
            &mut g,
            StoreEvent {
                rv,
                key: key.clone(),
                namespace: ns,
                name,
                kind: EventType::Added,
                object: obj.clone(),
                old: None,
            },
        );
        Ok(obj)
    }

    /// Read-modify-write under the store lock. `f` gets the current object and returns the new
    /// one; a result equal to the current one changes nothing (no new resourceVersion, no event).
    /// Returns (object, changed).
    pub fn update_with<F>(
        &self,
        key: &ResKey,
        namespace: &str,
        name: &str,
        f: F,
    ) -> Result<(Arc<Value>, bool), ApiError>
    where
        F: FnOnce(&Value) -> Result<Value, ApiError>,
    {
        let mut g = self.lock();
        let k = (namespace.to_string(), name.to_string());
        let Some(current) = g.resources.get(key).and_then(|m| m.get(&k)).cloned() else {
            return Err(ApiError::not_found(&key.group, &key.plural, name));
        };
        let mut next = f(&current)?;
        if same_content(&current, &next) {
            return Ok((current, false));
        }
        g.rv += 1;
        let rv = g.rv;
        {
            let meta = obj_meta(&mut next);
            // Identity fields are the server's, whatever the client sent.
            for f in ["uid", "creationTimestamp", "name", "namespace"] {
                match current["metadata"].get(f) {
                    Some(v) => meta.insert(f.into(), v.clone()),
                    None => meta.remove(f),
                };
            }
            meta.insert("resourceVersion".into(), json!(rv.to_string()));
        }
        let next = Arc::new(next);
        if let Some(map) = g.resources.get_mut(key) {
            Arc::make_mut(map).insert(k, next.clone());
        }
        self.record(
            &mut g,
            StoreEvent {
                rv,
                key: key.clone(),
                namespace: namespace.into(),
                name: name.into(),
                kind: EventType::Modified,
                object: next.clone(),
                old: Some(current),
            },
        );
        Ok((next, true))
    }

    /// Remove an object; the DELETED event carries it with a fresh resourceVersion.
    pub fn delete(
        &self,
        key: &ResKey,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        let mut g = self.lock();
        let k = (namespace.to_string(), name.to_string());
        let removed = g
            .resources
            .get_mut(key)
            .and_then(|m| Arc::make_mut(m).remove(&k));
        let Some(old) = removed else {
            return Err(ApiError::not_found(&key.group, &key.plural, name));
        };
        g.rv += 1;
        let rv = g.rv;
        let mut last = (*old).clone();
        obj_meta(&mut last).insert("resourceVersion".into(), json!(rv.to_string()));
        let last = Arc::new(last);
        self.record(
            &mut g,
            StoreEvent {
                rv,
                key: key.clone(),
                namespace: namespace.into(),
                name: name.into(),
                kind: EventType::Deleted,
                object: last.clone(),
                old: Some(old),
            },
        );
        Ok(last)
    }
}

/// The objects of one namespace (a key range), or all of them.
pub fn namespace_range<'a>(
    objs: &'a Objects,
    namespace: Option<&str>,
) -> impl Iterator<Item = (&'a (String, String), &'a Arc<Value>)> + Send + 'a {
    let ns = namespace.map(str::to_string);
    let start = (ns.clone().unwrap_or_default(), String::new());
    objs.range(start..)
        .take_while(move |((n, _), _)| ns.as_ref().is_none_or(|x| x == n))
}

/// `metadata` as a mutable map, created if missing.
pub fn obj_meta(obj: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let m = obj
        .as_object_mut()
        .map(|o| o.entry("metadata").or_insert_with(|| json!({})));
    match m {
        Some(v) => {
            if !v.is_object() {
                *v = json!({});
            }
            v.as_object_mut()
                .unwrap_or_else(|| unreachable!("metadata was just made an object"))
        }
        None => unreachable!("obj was just made an object"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn obj(ns: &str, name: &str, x: i64) -> Value {
        json!({"metadata": {"namespace": ns, "name": name}, "spec": {"x": x}})
    }

    #[test]
    fn create_update_delete_move_resource_version() {
        let s = Store::new(StoreLimits::default());
        let k = ResKey::new("", "configmaps");
        let a = s.create(&k, obj("a", "one", 1)).unwrap();
        let rv1 = rv_of(&a).unwrap();
        assert!(s.create(&k, obj("a", "one", 1)).is_err());
        let (same, changed) = s
            .update_with(&k, "a", "one", |cur| Ok(cur.clone()))
            .unwrap();
        assert!(!changed);
        assert_eq!(rv_of(&same), Some(rv1));
        let (b, changed) = s
            .update_with(&k, "a", "one", |_| Ok(obj("a", "one", 2)))
            .unwrap();
        assert!(changed && rv_of(&b).unwrap() > rv1);
        assert_eq!(b["metadata"]["uid"], a["metadata"]["uid"]);
        s.create(&k, obj("b", "two", 1)).unwrap();
        assert_eq!(s.list(&k, Some("a")).len(), 1);
        assert_eq!(s.list(&k, None).len(), 2);
        s.delete(&k, "a", "one").unwrap();
        assert!(s.get(&k, "a", "one").is_none());
    }

    #[test]
    fn history_window_expires_old_versions() {
        let s = Store::new(StoreLimits {
            history: 3,
            snapshots: 2,
        });
        let k = ResKey::new("", "configmaps");
        for i in 0..10 {
            s.create(&k, obj("a", &format!("n{i}"), i)).unwrap();
        }
        assert!(s.subscribe_from(2).is_err());
        let sub = s.subscribe_from(s.current_rv() - 2).unwrap();
        assert_eq!(sub.backlog.len(), 2);
    }

    #[test]
    fn snapshot_survives_later_writes() {
        let s = Store::new(StoreLimits::default());
        let k = ResKey::new("", "configmaps");
        s.create(&k, obj("a", "one", 1)).unwrap();
        let (rv, snap) = s.snapshot(&k);
        s.keep_snapshot(rv, &k, snap);
        s.create(&k, obj("a", "two", 1)).unwrap();
        assert_eq!(s.snapshot_at(rv, &k).unwrap().len(), 1);
        assert_eq!(s.list(&k, None).len(), 2);
    }
}
