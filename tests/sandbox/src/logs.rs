//! `pods/NAME/log`: text from the pod's `sandbox.sealos.io/logs` annotation (JSON, container →
//! text), filtered by `sinceSeconds` (lines that start with an RFC 3339 time) and `tailLines`,
//! then cut at `limitBytes` as the kubelet's limit writer does (mid-line if need be).
//! `previous` reads the `<container>/previous` entry, and needs a restart to have happened.

use crate::cluster::Cluster;
use crate::registry::ResKey;
use crate::response::{self, Resp};
use crate::server::ApiRequest;
use crate::status::ApiError;
use jiff::Timestamp;
use serde_json::Value;

pub const LOGS_ANNOTATION: &str = "sandbox.sealos.io/logs";

pub fn handle(cluster: &Cluster, req: &ApiRequest, ns: &str, name: &str) -> Result<Resp, ApiError> {
    let pod = cluster
        .store
        .get(&ResKey::new("", "pods"), ns, name)
        .ok_or_else(|| ApiError::not_found("", "pods", name))?;
    let containers: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let container = match req.query.value("container") {
        Some(c) => c.to_string(),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
    };
    let init: Vec<&str> = pod["spec"]["initContainers"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    if !containers.contains(&container) && !init.contains(&container.as_str()) {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    }
    if let Some(log) = cluster.kubelet.log(ns, name, &container) {
        return run_logs(req, &pod, name, &container, log);
    }
    let logs: Value = pod["metadata"]["annotations"][LOGS_ANNOTATION]
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null);
    let text = if req.query.flag("previous") {
        let restarts = pod["status"]["containerStatuses"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == container.as_str()))
            .and_then(|c| c["restartCount"].as_i64())
            .unwrap_or(0);
        if restarts == 0 {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        }
        logs[format!("{container}/previous")]
            .as_str()
            .unwrap_or("")
            .to_string()
    } else {
        logs[&container].as_str().unwrap_or("").to_string()
    };
    let since = req.query.number("sinceSeconds").and_then(|s| {
        crate::clock::now()
            .checked_sub(jiff::SignedDuration::from_secs(s))
            .ok()
    });
    let tail = req
        .query
        .number("tailLines")
        .and_then(|n| usize::try_from(n).ok());
    let timestamps = req.query.flag("timestamps");
    let limit = req
        .query
        .number("limitBytes")
        .and_then(|n| usize::try_from(n).ok());
    let mut text = filter(&text, since, tail, timestamps);
    if let Some(limit) = limit {
        truncate(&mut text, limit);
    }
    Ok(response::text(200, text))
}

/// Logs of a container the kubelet runs: what its process printed (`previous`: the run before),
/// and with `follow` the lines as they come until the run ends.
fn run_logs(
    req: &ApiRequest,
    pod: &Value,
    name: &str,
    container: &str,
    log: std::sync::Arc<crate::kubelet::logbuf::ContainerLog>,
) -> Result<Resp, ApiError> {
    let since = req.query.number("sinceSeconds").and_then(|s| {
        crate::clock::now()
            .checked_sub(jiff::SignedDuration::from_secs(s))
            .ok()
    });
    let tail = req
        .query
        .number("tailLines")
        .and_then(|n| usize::try_from(n).ok());
    let timestamps = req.query.flag("timestamps");
    let limit = req
        .query
        .number("limitBytes")
        .and_then(|n| usize::try_from(n).ok());
    let render = move |lines: &[crate::kubelet::logbuf::Line]| -> String {
        let mut out = String::new();
        for l in lines {
            if timestamps {
                out.push_str(&l.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ").to_string());
                out.push(' ');
            }
            out.push_str(&l.text);
            out.push('\n');
        }
        out
    };
    let select = |lines: Vec<crate::kubelet::logbuf::Line>| {
        let mut kept: Vec<_> = lines
            .into_iter()
            .filter(|l| since.is_none_or(|s| l.at >= s))
            .collect();
        if let Some(n) = tail {
            let skip = kept.len().saturating_sub(n);
            kept.drain(..skip);
        }
        kept
    };
    if req.query.flag("previous") {
        let restarts = pod["status"]["containerStatuses"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == container))
            .and_then(|c| c["restartCount"].as_i64())
            .unwrap_or(0);
        let Some(prev) = log.previous().filter(|_| restarts > 0) else {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        };
        let mut text = render(&select(prev));
        if let Some(limit) = limit {
            truncate(&mut text, limit);
        }
        return Ok(response::text(200, text));
    }
    let (run, mut from, lines) = log.snapshot();
    let mut text = render(&select(lines));
    if !req.query.flag("follow") {
        if let Some(limit) = limit {
            truncate(&mut text, limit);
        }
        return Ok(response::text(200, text));
    }
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        let mut budget = limit.unwrap_or(usize::MAX);
        let send = |budget: &mut usize, mut chunk: String| {
            truncate(&mut chunk, *budget);
            *budget -= chunk.len();
            chunk
        };
        let first = send(&mut budget, text);
        if !first.is_empty() && tx.send(bytes::Bytes::from(first)).await.is_err() {
            return;
        }
        loop {
            if budget == 0 {
                return;
            }
            let (fresh, open) = log.follow(run, &mut from).await;
            let chunk = send(&mut budget, render(&fresh));
            if !chunk.is_empty() && tx.send(bytes::Bytes::from(chunk)).await.is_err() {
                return;
            }
            if !open {
                return;
            }
        }
    });
    Ok(response::stream("text/plain", rx))
}

/// The first `limit` bytes (the kubelet counts bytes; a character it would split is left out,
/// as the answer here is a `String`).
pub fn truncate(text: &mut String, limit: usize) {
    if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

fn line_time(line: &str) -> Option<Timestamp> {
    line.split_whitespace().next().and_then(|w| w.parse().ok())
}

/// Keep lines newer than `since` (untimed lines stay), then the last `tail` of them.
pub fn filter(
    text: &str,
    since: Option<Timestamp>,
    tail: Option<usize>,
    timestamps: bool,
) -> String {
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| since.is_none_or(|s| line_time(l).is_none_or(|t| t >= s)))
        .collect();
    if let Some(n) = tail {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    let mut out = String::new();
    for l in lines {
        if timestamps && line_time(l).is_none() {
            out.push_str(&crate::clock::now_rfc3339());
            out.push(' ');
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_and_tail_filter_lines() {
        let text = "2026-11-25T10:00:00Z old\n2026-11-25T11:00:00Z new error\nuntimed\n";
        let since: Timestamp = "2026-11-25T10:30:00Z".parse().unwrap_or_default();
        assert_eq!(
            filter(text, Some(since), None, false),
            "2026-11-25T11:00:00Z new error\nuntimed\n"
        );
        assert_eq!(filter(text, None, Some(1), false), "untimed\n");
    }

    #[test]
    fn limit_bytes_cuts_mid_line() {
        let mut text = "abcdef\nghi\n".to_string();
        truncate(&mut text, 8);
        assert_eq!(text, "abcdef\ng");
        let mut text = "é".to_string();
        truncate(&mut text, 1);
        assert_eq!(text, "");
    }
}
