//! Error lines of istiod and cert-manager, read with `sinceSeconds` (as `kubectl logs --since`)
//! and grouped: lines that differ only in pod names, addresses or counts are one group with a count.
//!
//! istiod writes `TIME<TAB>level<TAB>scope<TAB>message`; cert-manager writes klog
//! (`E1125 19:30:01.123456  1 file.go:167] "message" err="..."`), behind the runtime's time.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams};
use kube::{Api, Client, ResourceExt};
use sealos_shared::Result;
use sealos_shared::list;
use sealos_shared::retry::{self, Backoff};
use serde::Serialize;

/// The logs of one container.
#[derive(Debug, Clone)]
pub struct ContainerLog {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub text: String,
}

/// Reads the last `since` of the main container of every pod matching `selector` in `namespace`.
/// A pod whose log cannot be read is skipped with a note (a crashing pod must not hide others).
pub async fn read(
    client: &Client,
    namespace: &str,
    selector: &str,
    since: Duration,
    notes: &mut Vec<String>,
) -> Result<Vec<ContainerLog>> {
    read_bounded(client, namespace, selector, since, None, notes).await
}

/// As [`read`], each container's log cut at `limit_bytes` by the server (`limitBytes`), so a
/// chatty pod costs at most that much memory here.
pub async fn read_bounded(
    client: &Client,
    namespace: &str,
    selector: &str,
    since: Duration,
    limit_bytes: Option<i64>,
    notes: &mut Vec<String>,
) -> Result<Vec<ContainerLog>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut params = ListParams::default();
    if !selector.is_empty() {
        params = params.labels(selector);
    }
    let pods = list::list_all(
        &api,
        &params,
        &format!("pods {selector:?} in {namespace:?}"),
    )
    .await?;
    let mut out = Vec::new();
    for pod in pods {
        let name = pod.name_any();
        let container = main_container(&pod);
        let params = LogParams {
            container: Some(container.clone()),
            since_seconds: Some(i64::try_from(since.as_secs()).unwrap_or(i64::MAX).max(1)),
            limit_bytes: limit_bytes.map(|l| l.max(1)),
            ..LogParams::default()
        };
        match retry::read(Backoff::default(), || api.logs(&name, &params)).await {
            Ok(text) => out.push(ContainerLog {
                namespace: namespace.to_string(),
                pod: name,
                container,
                text,
            }),
            Err(e) => notes.push(format!(
                "logs of {namespace}/{name} ({container}) unreadable: {e}"
            )),
        }
    }
    Ok(out)
}

/// The container `kubectl logs` would pick: the default-container annotation, else the first
/// that is not the sidecar.
pub fn main_container(pod: &Pod) -> String {
    if let Some(name) = pod
        .annotations()
        .get("kubectl.kubernetes.io/default-container")
    {
        return name.clone();
    }
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    containers
        .iter()
        .find(|c| c.name != "istio-proxy")
        .or_else(|| containers.first())
        .map(|c| c.name.clone())
        .unwrap_or_default()
}

/// One line, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub time: Option<String>,
    /// `error`, `warn`, `info`, `debug`, or `unknown`.
    pub level: String,
    /// istiod's scope, or klog's `file.go:line`.
    pub scope: String,
    pub message: String,
}

/// Parses one istiod or klog line (with or without the runtime's leading time).
pub fn parse_line(raw: &str) -> Line {
    let mut rest = raw.trim_end();
    let mut time = None;
    if let Some((first, tail)) = rest.split_once(['\t', ' '])
        && first.len() >= 20
        && first.as_bytes().get(4) == Some(&b'-')
        && first.contains('T')
    {
        time = Some(first.to_string());
        rest = tail.trim_start();
    }
    // klog: a level letter, MMDD, time, thread id, `file:line]`.
    let bytes = rest.as_bytes();
    if bytes.len() > 5
        && matches!(bytes[0], b'I' | b'W' | b'E' | b'F')
        && bytes[1..5].iter().all(u8::is_ascii_digit)
        && let Some((head, message)) = rest.split_once("] ")
    {
        let level = match bytes[0] {
            b'E' | b'F' => "error",
            b'W' => "warn",
            _ => "info",
        };
        let scope = head.rsplit(' ').next().unwrap_or_default().to_string();
        return Line {
            time,
            level: level.into(),
            scope,
            message: message.to_string(),
        };
    }
    let mut fields = rest.splitn(3, '\t');
    let first = fields.next().unwrap_or_default();
    let level = match first.to_ascii_lowercase().as_str() {
        l @ ("error" | "warn" | "warning" | "info" | "debug" | "fatal") => {
            if l == "fatal" {
                "error".to_string()
            } else if l == "warning" {
                "warn".to_string()
            } else {
                l.to_string()
            }
        }
        _ => {
            return Line {
                time,
                level: if rest.to_ascii_lowercase().contains("error") {
                    "error".into()
                } else {
                    "unknown".into()
                },
                scope: String::new(),
                message: rest.to_string(),
            };
        }
    };
    let (scope, message) = match (fields.next(), fields.next()) {
        (Some(scope), Some(message)) => (scope.to_string(), message.to_string()),
        (Some(message), None) => (String::new(), message.to_string()),
        _ => (String::new(), String::new()),
    };
    Line {
        time,
        level,
        scope,
        message,
    }
}

/// Lines that differ only in variable tokens share a pattern: a token with a digit (a pod name,
/// an address, a count, a revision) becomes `*`.
pub fn pattern(message: &str) -> String {
    message
        .split(' ')
        .map(|token| {
            if token.bytes().any(|b| b.is_ascii_digit()) {
                "*"
            } else {
                token
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Error lines with the same scope and pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorGroup {
    pub source: String,
    pub scope: String,
    pub pattern: String,
    pub count: usize,
    pub first: Option<String>,
    pub last: Option<String>,
    /// One line as written.
    pub example: String,
}

/// Groups the error lines of `logs`, most frequent first.
pub fn error_groups(logs: &[ContainerLog], source: &str) -> Vec<ErrorGroup> {
    let mut groups: BTreeMap<(String, String), ErrorGroup> = BTreeMap::new();
    for log in logs {
        for raw in log.text.lines().filter(|l| !l.trim().is_empty()) {
            let line = parse_line(raw);
            if line.level != "error" {
                continue;
            }
            let key = (line.scope.clone(), pattern(&line.message));
            let group = groups.entry(key.clone()).or_insert_with(|| ErrorGroup {
                source: source.to_string(),
                scope: key.0.clone(),
                pattern: key.1.clone(),
                count: 0,
                first: line.time.clone(),
                last: None,
                example: line.message.clone(),
            });
            group.count += 1;
            group.last = line.time.clone();
        }
    }
    let mut out: Vec<ErrorGroup> = groups.into_values().collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.pattern.cmp(&b.pattern))
    });
    out
}

/// Prints error groups under a bold title (`none` when there are none), then the notes: the
/// closing part of `performance` and `certificates`.
pub fn render_groups(
    out: &mut sealos_shared::output::Out,
    title: &str,
    since_seconds: u64,
    groups: &[ErrorGroup],
    notes: &[String],
) -> sealos_shared::Result<()> {
    out.line("")?;
    out.line(&out.theme.bold(&format!(
        "{title} in the last {}",
        humantime::format_duration(std::time::Duration::from_secs(since_seconds))
    )))?;
    if groups.is_empty() {
        out.line("  none")?;
    } else {
        let mut table = sealos_shared::output::Table::new(["count", "source", "last", "pattern"])
            .align_right(0);
        for g in groups {
            table.row([
                g.count.to_string(),
                g.scope.clone(),
                g.last.clone().unwrap_or_default(),
                g.pattern.clone(),
            ]);
        }
        out.table(&table)?;
    }
    for note in notes {
        out.line(&format!("note: {note}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(text: &str) -> ContainerLog {
        ContainerLog {
            namespace: "istio-system".into(),
            pod: "istiod-1".into(),
            container: "discovery".into(),
            text: text.into(),
        }
    }

    #[test]
    fn istiod_lines() {
        let line = parse_line(
            "2026-11-25T19:30:00.123456Z\terror\tads\tADS:CDS: ACK ERROR pod-7c8b.sealos-system-31 Internal",
        );
        assert_eq!(line.time.as_deref(), Some("2026-11-25T19:30:00.123456Z"));
        assert_eq!(line.level, "error");
        assert_eq!(line.scope, "ads");
        assert!(line.message.starts_with("ADS:CDS"));
        let line = parse_line("2026-11-25T19:30:00Z\twarn\tmodel\tsubset v3 has no endpoints");
        assert_eq!(line.level, "warn");
    }

    #[test]
    fn klog_lines_behind_a_runtime_time() {
        let line = parse_line(
            "2026-11-25T19:30:00.000001Z\tE1125 19:30:00.000001       1 controller.go:167] \"re-queuing item\" err=\"x\"",
        );
        assert_eq!(line.level, "error");
        assert_eq!(line.scope, "controller.go:167");
        assert_eq!(line.message, "\"re-queuing item\" err=\"x\"");
        let line = parse_line("I1125 19:30:00.000001       1 setup.go:208] \"skipping\"");
        assert_eq!(line.level, "info");
        assert_eq!(line.time, None);
    }

    #[test]
    fn errors_group_by_scope_and_pattern() {
        let text = "2026-11-25T19:00:00Z\terror\tads\tACK ERROR pod-a-1 failed\n\
2026-11-25T19:01:00Z\terror\tads\tACK ERROR pod-b-2 failed\n\
2026-11-25T19:02:00Z\tinfo\tads\tpush 3\n\
2026-11-25T19:03:00Z\terror\tklog\tFailed to watch\n";
        let groups = error_groups(&[log(text)], "istiod");
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].count, 2);
        assert_eq!(groups[0].pattern, "ACK ERROR * failed");
        assert_eq!(groups[0].first.as_deref(), Some("2026-11-25T19:00:00Z"));
        assert_eq!(groups[0].last.as_deref(), Some("2026-11-25T19:01:00Z"));
        assert_eq!(groups[1].scope, "klog");
    }
}
