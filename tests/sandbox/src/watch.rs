//! Watch streams: one JSON event per line, from a resourceVersion (410 `Expired` as an ERROR
//! event when it is older than the history), or from the current state (synthetic ADDED events,
//! and for streaming lists a closing BOOKMARK marked `k8s.io/initial-events-end`); bookmarks;
//! `timeoutSeconds`.

use crate::cluster::Cluster;
use crate::registry::ResourceInfo;
use crate::response::{self, Resp};
use crate::router::Target;
use crate::server::ApiRequest;
use crate::status::ApiError;
use crate::store::{EventType, StoreEvent, namespace_range};
use crate::verbs::{Selectors, versioned};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

struct Filter {
    info: ResourceInfo,
    /// `kubectl get -w` asks for Table events: each object becomes a one-row Table.
    table: bool,
    namespace: Option<String>,
    name: Option<String>,
    sel: Selectors,
}

impl Filter {
    fn matches(&self, obj: &Value) -> bool {
        let m = &obj["metadata"];
        self.namespace
            .as_deref()
            .is_none_or(|ns| m["namespace"].as_str().unwrap_or("") == ns)
            && self
                .name
                .as_deref()
                .is_none_or(|n| m["name"].as_str() == Some(n))
            && self.sel.matches(obj)
    }

    /// How a store event looks through this watch's filter (objects moving out of a selector
    /// are DELETED for it, moving in ADDED), or None if the watch does not see it.
    fn view(&self, ev: &StoreEvent) -> Option<(&'static str, Value)> {
        if ev.key != self.info.key() {
            return None;
        }
        let now = self.matches(&ev.object);
        let before = ev.old.as_deref().is_some_and(|o| self.matches(o));
        let ty = match (ev.kind, before, now) {
            (EventType::Added, _, true) => "ADDED",
            (EventType::Deleted, _, _) if before || now => "DELETED",
            (EventType::Modified, true, true) => "MODIFIED",
            (EventType::Modified, false, true) => "ADDED",
            (EventType::Modified, true, false) => "DELETED",
            _ => return None,
        };
        Some((ty, self.render(&ev.object)))
    }

    fn render(&self, obj: &Value) -> Value {
        let obj = versioned(obj, &self.info);
        if !self.table {
            return obj;
        }
        let meta = json!({ "resourceVersion": obj["metadata"]["resourceVersion"] });
        crate::table::to_table(
            &self.info.group,
            &self.info.plural,
            self.info.printer_columns.as_ref(),
            &[obj],
            crate::table::IncludeObject::Metadata,
            &meta,
            crate::clock::now(),
        )
    }
}

fn line(ty: &str, obj: &Value) -> Bytes {
    let mut s = serde_json::to_vec(&json!({ "type": ty, "object": obj })).unwrap_or_default();
    s.push(b'\n');
    Bytes::from(s)
}

fn bookmark(info: &ResourceInfo, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({ "resourceVersion": rv.to_string(), "creationTimestamp": null });
    if initial_end {
        meta["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
    }
    line(
        "BOOKMARK",
        &json!({ "kind": info.kind, "apiVersion": info.api_version(), "metadata": meta }),
    )
}

pub fn serve(cluster: &Arc<Cluster>, req: &ApiRequest, t: &Target) -> Resp {
    let sel = match Selectors::from_query(&req.query, &t.info) {
        Ok(s) => s,
        Err(e) => return response::error(&e),
    };
    let filter = Filter {
        info: t.info.clone(),
        table: crate::verbs::wants_table(&req.accept),
        namespace: if t.info.namespaced {
            t.namespace.clone()
        } else {
            None
        },
        name: t.name.clone(),
        sel,
    };
    let q = &req.query;
    let bookmarks = q.flag("allowWatchBookmarks");
    let send_initial = q.get("sendInitialEvents").map(|v| v == "true");
    let rv = q
        .value("resourceVersion")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let timeout = q
        .number("timeoutSeconds")
        .filter(|s| *s > 0)
        .map(|s| s as u64)
        .unwrap_or(1800);
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let cluster = cluster.clone();
    let interval = cluster.settings.bookmark_interval;
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        let _ = tokio::select! {
            r = run(&cluster, &filter, rv, send_initial, bookmarks, interval, &tx) => r,
            _ = &mut deadline => Ok(()),
        };
    });
    response::stream("application/json", rx)
}

/// Feed the stream until the client leaves or the history can no longer serve it.
async fn run(
    cluster: &Cluster,
    f: &Filter,
    rv: u64,
    send_initial: Option<bool>,
    bookmarks: bool,
    interval: Duration,
    tx: &mpsc::Sender<Bytes>,
) -> Result<(), ()> {
    let send = |b: Bytes| async move { tx.send(b).await.map_err(|_| ()) };
    let key = f.info.key();
    // rv 0 (or none) means "from the current state": ADDED for each object, then changes.
    let from_state = rv == 0 || send_initial == Some(true);
    let (mut live, mut last_rv) = if from_state {
        let (snap_rv, objs, live) = {
            let sub = cluster.store.subscribe_from(cluster.store.current_rv());
            let (snap_rv, objs) = cluster.store.snapshot(&key);
            match sub {
                Ok(s) => (snap_rv, objs, s.live),
                Err(e) => return send(line("ERROR", &e.to_status())).await,
            }
        };
        for (_, o) in namespace_range(&objs, f.namespace.as_deref()) {
            if f.matches(o) {
                send(line("ADDED", &f.render(o))).await?;
            }
        }
        if send_initial == Some(true) {
            send(bookmark(&f.info, snap_rv, true)).await?;
        }
        (live, snap_rv)
    } else {
        match cluster.store.subscribe_from(rv) {
            Ok(sub) => {
                for ev in &sub.backlog {
                    if let Some((ty, obj)) = f.view(ev) {
                        send(line(ty, &obj)).await?;
                    }
                }
                let last = sub.backlog.last().map(|e| e.rv).unwrap_or(rv);
                (sub.live, last)
            }
            Err(e) => return send(line("ERROR", &e.to_status())).await,
        }
    };
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        tokio::select! {
            ev = live.recv() => match ev {
                Ok(ev) => {
                    if ev.rv <= last_rv {
                        continue;
                    }
                    last_rv = ev.rv;
                    if let Some((ty, obj)) = f.view(&ev) {
                        send(line(ty, &obj)).await?;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let e = ApiError::expired(format!("too old resource version: {last_rv} ({})", cluster.store.oldest_watchable()));
                    return send(line("ERROR", &e.to_status())).await;
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            _ = ticker.tick(), if bookmarks => {
                send(bookmark(&f.info, last_rv, false)).await?;
            }
            _ = tx.closed() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::query::Query;
    use crate::registry::{Registry, ResKey};

    fn filter(selector: &str) -> Filter {
        let info = Registry::default().lookup("", "v1", "configmaps").unwrap();
        let q = Query::parse(Some(&format!("labelSelector={selector}")));
        Filter {
            sel: Selectors::from_query(&q, &info).unwrap(),
            info,
            table: false,
            namespace: Some("a".into()),
            name: None,
        }
    }

    fn event(kind: EventType, old: Option<&str>, new: &str, ns: &str) -> StoreEvent {
        let obj = |app: &str| {
            Arc::new(
                json!({ "metadata": { "name": "x", "namespace": ns, "labels": { "app": app } } }),
            )
        };
        StoreEvent {
            rv: 5,
            key: ResKey::new("", "configmaps"),
            namespace: ns.into(),
            name: "x".into(),
            kind,
            object: obj(new),
            old: old.map(obj),
        }
    }

    #[test]
    fn objects_moving_across_a_selector_are_added_or_deleted() {
        let f = filter("app=web");
        assert_eq!(
            f.view(&event(EventType::Added, None, "web", "a"))
                .unwrap()
                .0,
            "ADDED"
        );
        assert!(f.view(&event(EventType::Added, None, "db", "a")).is_none());
        assert_eq!(
            f.view(&event(EventType::Modified, Some("web"), "web", "a"))
                .unwrap()
                .0,
            "MODIFIED"
        );
        assert_eq!(
            f.view(&event(EventType::Modified, Some("db"), "web", "a"))
                .unwrap()
                .0,
            "ADDED"
        );
        assert_eq!(
            f.view(&event(EventType::Modified, Some("web"), "db", "a"))
                .unwrap()
                .0,
            "DELETED"
        );
        assert!(
            f.view(&event(EventType::Added, None, "web", "b")).is_none(),
            "other namespace"
        );
        let obj = f
            .view(&event(EventType::Deleted, Some("web"), "web", "a"))
            .unwrap();
        assert_eq!(
            (obj.0, obj.1["kind"].as_str()),
            ("DELETED", Some("ConfigMap"))
        );
    }
}
