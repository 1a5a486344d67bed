//! `diag performance`: istio-proxy containers ranked by memory and CPU with the share of their
//! limits, istio-system pods' usage, and istiod's error lines in the window, grouped and counted.

use std::time::Duration;

use clap::Args;
use k8s_openapi::api::core::v1::Pod;
use sealos_shared::connection::Kube;
use sealos_shared::output::{Format, Out, Severity, Table};
use sealos_shared::{Exit, Result};
use serde::Serialize;

use crate::connectivity::path::SIDECAR;
use crate::logs::{self, ErrorGroup};
use crate::metrics::{self, ContainerUsage};
use sealos_shared::output::{counted, plural};

/// `performance` flags.
#[derive(Args, Debug, Clone)]
pub struct PerformanceArgs {
    /// The window of istiod's log to read ("10m", "1h").
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = sealos_shared::number::positive_duration)]
    pub since: Duration,
    /// A proxy at or above this share of its memory limit is a problem (percent).
    #[arg(long, value_name = "PERCENT", default_value_t = 90)]
    pub memory_percent: u32,
    /// Rows of the proxy ranking to show (the JSON has them all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

/// The performance report (`-o json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub since_seconds: u64,
    /// Every istio-proxy container, by memory then CPU, highest first.
    pub proxies: Vec<ContainerUsage>,
    /// Proxies at or above `memory_percent` of their memory limit.
    pub proxies_over_threshold: usize,
    pub memory_percent: u32,
    /// Every container of istio-system's pods.
    pub control_plane: Vec<ContainerUsage>,
    pub istiod_errors: Vec<ErrorGroup>,
    pub istiod_error_lines: usize,
    /// What could not be read or parsed.
    pub notes: Vec<String>,
    pub problem: bool,
}

pub async fn run(args: &PerformanceArgs, kube: &Kube, out: &mut Out) -> Result<Exit> {
    if args.since.is_zero() {
        return Err(sealos_shared::Error::usage("--since must be more than 0"));
    }
    let client = &kube.client;
    // The guide looks at every namespace; -n narrows the proxy ranking.
    let scope = kube.requested_scope();
    let mut notes = Vec::new();
    let usage = metrics::usage(client, scope, &mut notes).await?;
    let pods: Vec<Pod> = sealos_shared::list::in_scope::<Pod>(client, scope, None).await?;
    let mut proxies = metrics::join(&usage, &pods, |_, c| c == SIDECAR);
    proxies.sort_by(|a, b| {
        b.memory_bytes
            .cmp(&a.memory_bytes)
            .then(b.cpu_millis.cmp(&a.cpu_millis))
    });
    let threshold = f64::from(args.memory_percent) / 100.0;
    let over = proxies
        .iter()
        .filter(|p| p.memory_share.is_some_and(|s| s >= threshold))
        .count();
    let system_usage = if scope.is_some_and(|s| s != "istio-system") {
        metrics::usage(client, Some("istio-system"), &mut notes).await?
    } else {
        usage.clone()
    };
    let system_pods =
        sealos_shared::list::in_scope::<Pod>(client, Some("istio-system"), None).await?;
    let mut control_plane =
        metrics::join(&system_usage, &system_pods, |ns, _| ns == "istio-system");
    control_plane.sort_by_key(|c| std::cmp::Reverse(c.memory_bytes));
    let istiod = logs::read(client, "istio-system", "app=istiod", args.since, &mut notes).await?;
    let istiod_errors = logs::error_groups(&istiod, "istiod");
    let lines = istiod_errors.iter().map(|g| g.count).sum();
    let report = Report {
        since_seconds: args.since.as_secs(),
        proxies,
        proxies_over_threshold: over,
        memory_percent: args.memory_percent,
        control_plane,
        istiod_errors,
        istiod_error_lines: lines,
        notes,
        problem: over > 0 || lines > 0,
    };
    render(&report, args.top, out)?;
    Ok(Exit::problem_if(report.problem))
}

fn usage_table(rows: &[ContainerUsage], limit: usize, threshold: f64, out: &Out) -> Table {
    let mut table = Table::new([
        "namespace",
        "pod",
        "container",
        "memory",
        "mem limit",
        "mem %",
        "cpu",
        "cpu limit",
        "cpu %",
    ])
    .align_right(3)
    .align_right(4)
    .align_right(5)
    .align_right(6)
    .align_right(7)
    .align_right(8);
    for r in rows.iter().take(limit) {
        let severity = match r.memory_share {
            Some(s) if s >= 1.0 => Severity::Fail,
            Some(s) if s >= threshold => Severity::Warn,
            _ => Severity::Ok,
        };
        table.row([
            r.namespace.clone(),
            r.pod.clone(),
            r.container.clone(),
            metrics::bytes(r.memory_bytes),
            r.memory_limit_bytes
                .map(metrics::bytes)
                .unwrap_or_else(|| "-".into()),
            out.theme.paint(&metrics::share(r.memory_share), severity),
            metrics::cpu(r.cpu_millis),
            r.cpu_limit_millis
                .map(metrics::cpu)
                .unwrap_or_else(|| "-".into()),
            metrics::share(r.cpu_share),
        ]);
    }
    table
}

fn render(report: &Report, top: usize, out: &mut Out) -> Result<()> {
    if out.format.is_machine() {
        return out.data(report);
    }
    let threshold = f64::from(report.memory_percent) / 100.0;
    out.line(&out.theme.bold("istio-proxy containers, by memory"))?;
    if report.proxies.is_empty() {
        out.line("  none found")?;
    } else {
        let table = usage_table(&report.proxies, top, threshold, out);
        out.table(&table)?;
    }
    out.line(&format!(
        "{} at or above {}% of {} memory limit",
        counted(report.proxies_over_threshold, "proxy", "proxies"),
        report.memory_percent,
        plural(report.proxies_over_threshold, "its", "their")
    ))?;
    out.line("")?;
    out.line(&out.theme.bold("istio-system"))?;
    let table = usage_table(&report.control_plane, usize::MAX, threshold, out);
    out.table(&table)?;
    logs::render_groups(
        out,
        "istiod errors",
        report.since_seconds,
        &report.istiod_errors,
        &report.notes,
    )
}
