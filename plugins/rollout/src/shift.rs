//! `set` and `rollback`: validate, read every selected controller, then (unless `--dry-run`)
//! shift each one and wait for the rollouts together, then report.

use std::time::Duration;

use clap::Args;
use sealos_shared::alert::SlackFlags;
use sealos_shared::audit::AuditLog;
use sealos_shared::connection::Kube;
use sealos_shared::output::{Out, Severity, Table};
use sealos_shared::traffic_shift::{
    Change, Current, Observer, Outcome, Percent, RolloutState, Setting, Shifted, Shifter,
};
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;

use crate::select::{Selection, split_percent};
use crate::{MutationFlags, OutputFlags, PLUGIN, controller_namespace};

/// `set COMPONENT... PERCENT` or `set --all PERCENT`.
#[derive(Args, Debug, Clone)]
pub struct SetArgs {
    /// The controllers (Deployment names or deployment/NAME) and, last, the Istio percentage:
    /// an integer 0-100.
    #[arg(value_name = "COMPONENT... PERCENT", required = true, num_args = 1..)]
    pub args: Vec<String>,
    /// The controllers read from kubectl's `-o name|json|yaml` output.
    #[command(flatten)]
    pub filename: sealos_shared::input::FilenameFlags,
    /// Every controller: the guide's three and every Deployment declaring NETWORKING_MODE.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub mutation: MutationFlags,
    #[command(flatten)]
    pub output: OutputFlags,
}

/// `rollback COMPONENT...` or `rollback --all`.
#[derive(Args, Debug, Clone)]
pub struct RollbackArgs {
    /// The controllers (Deployment names or deployment/NAME) to move back to ingress / 0%.
    #[arg(value_name = "COMPONENT")]
    pub components: Vec<String>,
    /// The controllers read from kubectl's `-o name|json|yaml` output.
    #[command(flatten)]
    pub filename: sealos_shared::input::FilenameFlags,
    /// Every controller.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub mutation: MutationFlags,
    /// Where what was rolled back is posted.
    #[command(flatten)]
    pub slack: SlackFlags,
    #[command(flatten)]
    pub output: OutputFlags,
}

/// What `set` and `rollback` did (the `-o json` shape).
#[derive(Debug, Clone, Serialize)]
pub struct ShiftReport {
    /// `set` or `rollback`.
    pub action: String,
    pub namespace: String,
    pub percentage: u8,
    pub mode: String,
    pub reason: Option<String>,
    pub dry_run: bool,
    pub results: Vec<ControllerResult>,
}

/// One controller's change.
#[derive(Debug, Clone, Serialize)]
pub struct ControllerResult {
    pub name: String,
    pub container: String,
    pub before: Setting,
    pub after: Setting,
    /// False when it already had the setting (nothing written), or in a dry run.
    pub changed: bool,
    /// 409 conflicts retried on a fresh read.
    pub conflicts: u32,
    /// How the rollout ended: `{"state": "complete"}`, `{"state": "failed"|"timed_out",
    /// "detail": "..."}`; null when not waited for (`--no-wait`, `--dry-run`, a write failed).
    pub rollout: Option<Outcome>,
    /// Why the write failed, if it did.
    pub error: Option<String>,
    pub warnings: Vec<String>,
}

impl ShiftReport {
    /// The exit code: 2 when a write failed, 1 when a rollout failed or timed out, else 0.
    pub fn exit(&self) -> Exit {
        if self.results.iter().any(|r| r.error.is_some()) {
            Exit::Failure
        } else {
            Exit::problem_if(
                self.results
                    .iter()
                    .any(|r| matches!(r.rollout, Some(ref o) if !o.is_complete())),
            )
        }
    }
}

pub async fn run_set(args: &SetArgs, kube: &Kube, out: &mut Out) -> Result<Exit> {
    let (names, percent) = split_percent(&args.args)?;
    let percent: Percent = percent.parse().map_err(Error::usage)?;
    let selection = Selection::parse(names, args.all)?;
    let report = execute(kube, "set", selection, percent, &args.mutation).await?;
    render(out, &report)?;
    finish(&report)
}

pub async fn run_rollback(args: &RollbackArgs, kube: &Kube, out: &mut Out) -> Result<Exit> {
    let selection = Selection::parse(&args.components, args.all)?;
    let slack = args.slack.webhook()?;
    let report = execute(kube, "rollback", selection, Percent::ZERO, &args.mutation).await?;
    render(out, &report)?;
    if let Some(slack) = slack
        && !report.dry_run
        && report.results.iter().any(|r| r.changed)
    {
        crate::notify::notify(&slack, &rollback_alert(&report)).await;
    }
    finish(&report)
}

/// Prints the failures on stderr, kubectl-style, and returns the exit code.
fn finish(report: &ShiftReport) -> Result<Exit> {
    for r in &report.results {
        if let Some(e) = &r.error {
            eprintln!("error: {e}");
        }
        match &r.rollout {
            Some(Outcome::Failed(why)) => eprintln!(
                "error: rollout of deployment {:?} in {:?} failed: {why}",
                r.name, report.namespace
            ),
            Some(Outcome::TimedOut(why)) => eprintln!(
                "error: rollout of deployment {:?} in {:?} did not finish: {why}",
                r.name, report.namespace
            ),
            _ => {}
        }
        for w in &r.warnings {
            eprintln!("warning: deployment {:?}: {w}", r.name);
        }
    }
    Ok(report.exit())
}

fn rollback_alert(report: &ShiftReport) -> sealos_shared::alert::Alert {
    let changed: Vec<String> = report
        .results
        .iter()
        .filter(|r| r.changed)
        .map(|r| {
            format!(
                "{} ({} → {})",
                r.name,
                r.before.describe(),
                r.after.describe()
            )
        })
        .collect();
    let mut message = format!(
        "rolled back to ingress in {}: {}",
        report.namespace,
        changed.join(", ")
    );
    if let Some(reason) = &report.reason {
        message.push_str(&format!("\nreason: {reason}"));
    }
    sealos_shared::alert::Alert::firing(
        "rollout/rollback",
        "Sealos controllers rolled back to ingress",
        &message,
        sealos_shared::alert::Urgency::Critical,
    )
}

/// Reports conflicts on stderr as they happen.
struct ConflictNotes;
impl Observer for ConflictNotes {
    fn conflict(&self, attempt: u32) {
        eprintln!("note: conflict on write (attempt {attempt}): retrying on a fresh read");
    }
}

/// Reads every selected controller, then (unless a dry run) shifts each and waits.
pub async fn execute(
    kube: &Kube,
    action: &str,
    selection: Selection,
    percent: Percent,
    flags: &MutationFlags,
) -> Result<ShiftReport> {
    execute_with(kube, action, selection, percent, flags, &ConflictNotes).await
}

/// `execute` with an observer of the read-modify-write loops (tests interpose writes here).
pub async fn execute_with(
    kube: &Kube,
    action: &str,
    selection: Selection,
    percent: Percent,
    flags: &MutationFlags,
    observer: &dyn Observer,
) -> Result<ShiftReport> {
    let audit = AuditLog::new(flags.audit_log.as_deref())?;
    let namespace = controller_namespace(kube)?;
    let shifter = Shifter::new(kube, &namespace, PLUGIN, audit);
    let current = selection
        .resolve(&shifter, flags.container.as_deref())
        .await?;
    let mut report = ShiftReport {
        action: action.to_string(),
        namespace: namespace.clone(),
        percentage: percent.get(),
        mode: percent.mode().to_string(),
        reason: flags.reason.clone(),
        dry_run: flags.dry_run,
        results: Vec::new(),
    };
    if flags.dry_run {
        report.results = current.iter().map(|c| preview(c, percent)).collect();
        return Ok(report);
    }
    let change = Change {
        percent,
        action: action.to_string(),
        reason: flags.reason.clone(),
    };
    // Writes one by one (each is a read-modify-write), then all rollouts are waited for together.
    let mut waits = Vec::new();
    for c in &current {
        // The container found in the selection pass is used for the write too.
        match shifter
            .shift(c.name(), Some(&c.container), &change, observer)
            .await
        {
            Ok(shifted) => {
                waits.push((report.results.len(), shifted.generation));
                report.results.push(result_of(shifted));
            }
            Err(e) => report.results.push(ControllerResult {
                name: c.name().to_string(),
                container: c.container.clone(),
                before: c.setting.clone(),
                after: c.setting.clone(),
                changed: false,
                conflicts: 0,
                rollout: None,
                error: Some(e.to_string()),
                warnings: Vec::new(),
            }),
        }
    }
    if !flags.no_wait && !waits.is_empty() {
        let outcomes = wait_all(&shifter, &report, &waits, flags.timeout).await;
        for ((index, _), outcome) in waits.iter().zip(outcomes) {
            report.results[*index].rollout = Some(outcome);
        }
    }
    Ok(report)
}

fn preview(c: &Current, percent: Percent) -> ControllerResult {
    let after = Setting::for_percent(percent);
    ControllerResult {
        name: c.name().to_string(),
        container: c.container.clone(),
        changed: false,
        before: c.setting.clone(),
        after,
        conflicts: 0,
        rollout: None,
        error: None,
        warnings: Vec::new(),
    }
}

fn result_of(s: Shifted) -> ControllerResult {
    ControllerResult {
        name: s.name,
        container: s.container,
        before: s.before,
        after: s.after,
        changed: s.changed,
        conflicts: s.conflicts,
        rollout: None,
        error: None,
        warnings: s.warnings,
    }
}

/// Waits for every rollout at once under one deadline, with one bar on a terminal.
async fn wait_all(
    shifter: &Shifter,
    report: &ShiftReport,
    waits: &[(usize, i64)],
    timeout: Duration,
) -> Vec<Outcome> {
    let bar = sealos_shared::progress::bar(waits.len() as u64, "rolling out");
    let futures = waits.iter().map(|(index, generation)| {
        let name = report.results[*index].name.clone();
        let bar = &bar;
        async move {
            let outcome = shifter
                .wait(&name, *generation, timeout, |state| {
                    if let RolloutState::Waiting { message, .. } = state {
                        bar.set_message(message.clone());
                    }
                })
                .await;
            bar.inc(1);
            outcome
        }
    });
    let outcomes = futures::future::join_all(futures).await;
    bar.finish_and_clear();
    outcomes
}

/// The table (or JSON/YAML) of a shift report.
pub fn render(out: &mut Out, report: &ShiftReport) -> Result<()> {
    if out.format.is_machine() {
        return out.data(report);
    }
    let mut table = Table::new([
        "namespace",
        "name",
        "container",
        "before",
        "after",
        "result",
    ]);
    let mut rows: Vec<(Severity, Vec<String>)> = report
        .results
        .iter()
        .map(|r| {
            let (severity, text) = describe(report, r);
            (
                severity,
                vec![
                    report.namespace.clone(),
                    r.name.clone(),
                    r.container.clone(),
                    r.before.describe(),
                    r.after.describe(),
                    out.theme.paint(&text, severity),
                ],
            )
        })
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.0));
    for (_, row) in rows {
        table.row(row);
    }
    if report.dry_run {
        out.line(&out.theme.dim("dry run: nothing was written"))?;
    }
    out.table(&table)
}

fn describe(report: &ShiftReport, r: &ControllerResult) -> (Severity, String) {
    if let Some(e) = &r.error {
        return (Severity::Fail, format!("not changed: {e}"));
    }
    if report.dry_run {
        let text = if r.before == r.after {
            "would not change"
        } else {
            "would change"
        };
        return (Severity::Info, text.to_string());
    }
    let write = if r.changed { "changed" } else { "unchanged" };
    match &r.rollout {
        None => (Severity::Ok, format!("{write}, not waited for")),
        Some(Outcome::Complete) => (Severity::Ok, format!("{write}, rolled out")),
        Some(Outcome::Failed(why)) => (Severity::Fail, format!("{write}, rollout failed: {why}")),
        Some(Outcome::TimedOut(why)) => (Severity::Fail, format!("{write}, {why}")),
    }
}
