//! The per-worker rows beside a merged step: each worker's share and figures, so that skew
//! (a slow node, a saturated NIC) shows next to the exact merged percentiles.

use sealos_shared::output::{Severity, Table, Theme};
use serde::Serialize;

use crate::report::{StepReport, millis};

/// How a worker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerState {
    /// Sent its whole share and reported.
    Done,
    /// Stopped (the run was interrupted) and reported what it had measured.
    Interrupted,
    /// Failed, was evicted or deleted: its result, if any, is partial.
    Failed,
}

/// One worker of a step.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerRow {
    /// The Job's completion index.
    pub index: u32,
    pub pod: String,
    /// The node the pod ran on, when it was scheduled.
    pub node: Option<String>,
    pub state: WorkerState,
    /// Why a failed worker failed.
    pub message: Option<String>,
    /// The worker's share of the connections.
    pub concurrency: u32,
    pub requests: u64,
    pub failures: u64,
    pub rps: f64,
    pub duration_seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The worker's latency histogram as it sent it (HDR V2 + deflate, base64); null when it
    /// sent none.
    pub histogram: Option<String>,
}

pub fn table(step: &StepReport, workers: &[WorkerRow], theme: &Theme) -> Table {
    let mut table = Table::new([
        "worker", "pod", "node", "conc", "requests", "rps", "errors", "p50", "p99", "state",
    ]);
    for column in 3..=8 {
        table = table.align_right(column);
    }
    for w in workers {
        let state = match w.state {
            WorkerState::Done => theme.severity(Severity::Ok),
            WorkerState::Interrupted => theme.paint("interrupted", Severity::Warn),
            WorkerState::Failed => format!(
                "{} {}",
                theme.severity(Severity::Fail),
                w.message.as_deref().unwrap_or_default()
            ),
        };
        table.row([
            format!("{}/{}", w.index, step.service),
            w.pod.clone(),
            w.node.clone().unwrap_or_else(|| "-".into()),
            w.concurrency.to_string(),
            w.requests.to_string(),
            format!("{:.1}", w.rps),
            w.failures.to_string(),
            millis(w.p50_ms),
            millis(w.p99_ms),
            state,
        ]);
    }
    table
}
