//! `diag runbook`: the guide's four emergency procedures as code. Each reads the cluster and
//! prints a plan; it acts only with `--yes` or a typed "yes" on a terminal (without either it
//! exits 2 before any write); `--dry-run` writes nothing; every action is audited; a report ends it.

mod certificate_expired;
mod high_error_rate;
mod memory_leak;
pub mod precondition;
mod service_down;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use sealos_shared::alert::SlackFlags;
use sealos_shared::audit::{AuditLog, ObjectRef, Record};
use sealos_shared::connection::Kube;
use sealos_shared::output::{Format, Out, Severity, Table, counted};
use sealos_shared::quantity::Quantity;
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;

use precondition::Precondition;

/// The plugin name in audit records.
pub const PLUGIN: &str = "diag";

/// `runbook` commands.
#[derive(Subcommand, Debug, Clone)]
// Parsed once per process: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum RunbookCommand {
    /// List the runbooks and what each does.
    List(ListArgs),
    /// Plan a runbook, confirm, act, report.
    Run(RunArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

/// The guide's four runbooks.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Name {
    /// Roll every Sealos controller back to Ingress, collect istiod logs and events, alert.
    HighErrorRate,
    /// Restart the Sealos controllers that are not ready, wait, verify.
    ServiceDown,
    /// Renew expired or failing certificates the cmctl way, wait for re-issue.
    CertificateExpired,
    /// Evict pods whose istio-proxy container uses more than --threshold, one at a time.
    MemoryLeak,
}

impl Name {
    pub const ALL: [Name; 4] = [
        Name::HighErrorRate,
        Name::ServiceDown,
        Name::CertificateExpired,
        Name::MemoryLeak,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Name::HighErrorRate => "high-error-rate",
            Name::ServiceDown => "service-down",
            Name::CertificateExpired => "certificate-expired",
            Name::MemoryLeak => "memory-leak",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Name::HighErrorRate => {
                "roll every Sealos controller back to ingress, collect istiod logs and recent events into a bundle, alert (Slack, syslog)"
            }
            Name::ServiceDown => {
                "restart (rollout restart) the Sealos controllers that are not ready, wait for the rollout, verify"
            }
            Name::CertificateExpired => {
                "renew expired, critical (--crit-days), renewal-overdue and failing certificates, most urgent first (Issuing=True, as cmctl renew), wait for re-issue"
            }
            Name::MemoryLeak => {
                "evict pods whose istio-proxy container is above --threshold, one at a time through the Eviction API (PodDisruptionBudgets hold)"
            }
        }
    }
}

/// `runbook run` flags.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Which runbook.
    #[arg(value_enum)]
    pub name: Name,
    /// Print the plan and stop: nothing is written.
    #[arg(long)]
    pub dry_run: bool,
    /// Act without asking.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Why this is being run (audit log, Events, alert).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// The audit log (default: $XDG_STATE_HOME/kubectl-sealos/audit.jsonl).
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
    /// How long to wait for each rollout, renewal or replacement pod.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = sealos_shared::number::positive_duration)]
    pub timeout: Duration,
    /// high-error-rate: the Slack incoming webhook to alert.
    #[command(flatten)]
    pub slack: SlackFlags,
    /// high-error-rate: a syslog socket to alert (e.g. /dev/log).
    #[arg(long, value_name = "PATH")]
    pub syslog: Option<PathBuf>,
    /// high-error-rate: where the bundle of istiod logs and events goes.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub bundle_dir: PathBuf,
    /// high-error-rate: how much of istiod's log and the events to collect.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = sealos_shared::number::positive_duration)]
    pub since: Duration,
    /// certificate-expired: a certificate expiring within this many days is critical and renewed
    /// (the same default as `cert check --crit-days`).
    #[arg(long, value_name = "DAYS", default_value_t = sealos_shared::certs::Thresholds::default().crit_days)]
    pub crit_days: i64,
    /// memory-leak: an istio-proxy container above this memory is evicted (any unit: 256Mi, 0.25Gi).
    #[arg(long, value_name = "QUANTITY", default_value = "256Mi")]
    pub threshold: String,
    /// memory-leak: evict at most this many pods.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_pods: usize,
    /// memory-leak: wait this long after a replacement is ready, before the next eviction.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = sealos_shared::number::duration_or_zero)]
    pub pause: Duration,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

impl RunArgs {
    pub fn threshold(&self) -> Result<Quantity> {
        let q = Quantity::parse(&self.threshold)
            .map_err(|e| Error::usage(format!("--threshold: {e}")))?;
        if q.value() <= 0 {
            return Err(Error::usage("--threshold must be more than 0"));
        }
        Ok(q)
    }

    fn validate(&self) -> Result<()> {
        self.threshold()?;
        if self.max_pods == 0 {
            return Err(Error::usage("--max-pods must be at least 1"));
        }
        if self.crit_days < 0 {
            return Err(Error::usage("--crit-days must be 0 or more"));
        }
        if self.since.is_zero() {
            return Err(Error::usage("--since must be more than 0"));
        }
        self.slack.webhook()?;
        Ok(())
    }

    pub fn reason(&self) -> String {
        self.reason
            .clone()
            .unwrap_or_else(|| format!("kubectl sealos diag runbook run {}", self.name.as_str()))
    }
}

/// One step of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    /// `shift`, `restart`, `renew`, `evict`, `collect`, `alert`.
    pub kind: &'static str,
    pub object: ObjectRef,
    pub detail: String,
    /// What the plan read of the object: the write is refused if it changed since.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precondition: Option<Precondition>,
}

impl Action {
    /// An action with no precondition: what it writes is right whatever changed since the plan.
    pub fn new(kind: &'static str, object: ObjectRef, detail: String) -> Action {
        Action {
            kind,
            object,
            detail,
            precondition: None,
        }
    }
}

/// An object a runbook looked at while planning, and why it is or is not in the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Considered {
    pub object: ObjectRef,
    /// True when the plan acts on it.
    pub planned: bool,
    pub why: String,
}

/// What planning produced: the actions in order, what was considered, and other notes.
#[derive(Debug, Default)]
pub struct Planned {
    pub actions: Vec<Action>,
    pub considered: Vec<Considered>,
    pub notes: Vec<String>,
}

impl Planned {
    /// Plans `action`, saying why it was chosen.
    pub fn take(&mut self, action: Action, why: impl Into<String>) {
        self.considered.push(Considered {
            object: action.object.clone(),
            planned: true,
            why: why.into(),
        });
        self.actions.push(action);
    }

    /// Records an object considered and left out, and why.
    pub fn leave_out(&mut self, object: ObjectRef, why: impl Into<String>) {
        self.considered.push(Considered {
            object,
            planned: false,
            why: why.into(),
        });
    }
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Done,
    Unchanged,
    /// Refused by the cluster on purpose (a PodDisruptionBudget): not retried.
    Blocked,
    /// The object changed since the plan (409 on its precondition): not acted on; re-plan.
    Stale,
    Failed,
    TimedOut,
    /// Not attempted, because an earlier action did not finish.
    Skipped,
}

impl Status {
    fn severity(self) -> Severity {
        match self {
            Status::Done | Status::Unchanged => Severity::Ok,
            Status::Blocked | Status::Stale | Status::TimedOut | Status::Skipped => Severity::Warn,
            Status::Failed => Severity::Fail,
        }
    }
}

/// One action's result.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub kind: &'static str,
    pub object: ObjectRef,
    pub status: Status,
    pub detail: String,
}

/// What a run did (`-o json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub runbook: Name,
    pub dry_run: bool,
    pub plan: Vec<Action>,
    /// Every object the runbook looked at: in the plan or left out, and why.
    pub considered: Vec<Considered>,
    /// What was found while planning that is not an action.
    pub notes: Vec<String>,
    pub results: Vec<Outcome>,
    /// True when every action is done or unchanged.
    pub success: bool,
}

/// Runs one audited action record.
pub struct Auditor {
    log: AuditLog,
    context: String,
    user: String,
    reason: String,
}

impl Auditor {
    pub fn new(kube: &Kube, args: &RunArgs) -> Result<Auditor> {
        Ok(Auditor {
            log: AuditLog::new(args.audit_log.as_deref())?,
            context: kube.context.clone(),
            user: kube.user.clone(),
            reason: args.reason(),
        })
    }

    pub fn log(&self) -> &AuditLog {
        &self.log
    }

    /// Records an action; a failure to record is returned as a note, never hides the action.
    pub fn record(
        &self,
        action: &str,
        object: &ObjectRef,
        before: serde_json::Value,
        after: serde_json::Value,
        outcome: &str,
    ) -> Option<String> {
        let mut record = Record::now(PLUGIN, action, object.clone());
        record.context = self.context.clone();
        record.user = self.user.clone();
        record.before = before;
        record.after = after;
        record.reason = Some(self.reason.clone());
        record.outcome = outcome.to_string();
        self.log.record(&record).err().map(|e| e.to_string())
    }
}

/// `runbook run`, confirming on the terminal.
pub async fn run(args: &RunArgs, kube: &Kube, out: &mut Out) -> Result<Exit> {
    run_one(args, kube, out, &mut TerminalConfirm).await
}

/// `runbook list`: needs no cluster.
pub fn list_runbooks(out: &mut Out) -> Result<Exit> {
    #[derive(Serialize)]
    struct Entry {
        name: &'static str,
        description: &'static str,
    }
    let entries: Vec<Entry> = Name::ALL
        .iter()
        .map(|n| Entry {
            name: n.as_str(),
            description: n.describe(),
        })
        .collect();
    if out.format.is_machine() {
        out.data(&entries)?;
    } else {
        let mut table = Table::new(["name", "description"]);
        for e in &entries {
            table.row([e.name, e.description]);
        }
        out.table(&table)?;
    }
    Ok(Exit::Ok)
}

/// How a run asks for confirmation.
pub trait Confirm {
    /// `None` when no one can be asked (no terminal); else whether they typed "yes".
    fn ask(&mut self, question: &str) -> Option<bool>;
}

/// Asks on the terminal: stdin and stderr must both be one.
pub struct TerminalConfirm;

impl Confirm for TerminalConfirm {
    fn ask(&mut self, question: &str) -> Option<bool> {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return None;
        }
        eprint!("{question} Type \"yes\" to proceed: ");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).ok()?;
        Some(line.trim() == "yes")
    }
}

/// A stop asked for (Ctrl-C, SIGTERM) while acting: the action under way finishes, the rest are
/// skipped and reported, and the run exits 130.
#[derive(Clone, Default)]
pub struct Stop {
    flag: Arc<AtomicBool>,
    notify: Arc<tokio::sync::Notify>,
}

impl Stop {
    pub fn request(&self) {
        self.flag.store(true, Ordering::SeqCst);
        // A stored permit: a sleep that starts after this still wakes at once.
        self.notify.notify_one();
    }

    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Sleeps `duration` unless a stop comes first.
    pub async fn sleep(&self, duration: Duration) {
        if self.requested() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            () = self.notify.notified() => {}
        }
    }

    pub fn skipped(&self, action: &Action) -> Outcome {
        outcome(
            action,
            Status::Skipped,
            "not attempted: interrupted".into(),
            None,
        )
    }
}

/// Plans, confirms and acts.
pub async fn run_one(
    args: &RunArgs,
    kube: &Kube,
    out: &mut Out,
    confirm: &mut dyn Confirm,
) -> Result<Exit> {
    args.validate()?;
    // Cluster-wide, as the guide's scripts are, unless -n narrows it.
    let scope = kube.requested_scope();
    let planned = match args.name {
        Name::HighErrorRate => high_error_rate::plan(args, kube, scope).await?,
        Name::ServiceDown => service_down::plan(args, kube, scope).await?,
        Name::CertificateExpired => certificate_expired::plan(args, kube, scope).await?,
        Name::MemoryLeak => memory_leak::plan(args, kube, scope).await?,
    };
    let mut report = Report {
        runbook: args.name,
        dry_run: args.dry_run,
        plan: planned.actions,
        considered: planned.considered,
        notes: planned.notes,
        results: Vec::new(),
        success: true,
    };
    if !out.format.is_machine() {
        render_plan(&report, out)?;
    }
    if args.dry_run || report.plan.is_empty() {
        if out.format.is_machine() {
            out.data(&report)?;
        } else if args.dry_run {
            out.line("\ndry run: nothing was changed.")?;
        } else {
            out.line("\nnothing to do.")?;
        }
        return Ok(Exit::Ok);
    }
    if !args.yes {
        let question = format!(
            "Run {} ({}) against context {:?}?",
            args.name.as_str(),
            counted(report.plan.len(), "action", "actions"),
            kube.context
        );
        match confirm.ask(&question) {
            None => {
                return Err(Error::usage(format!(
                    "runbook {} changes the cluster: pass --yes, or run it on a terminal to confirm (nothing was changed)",
                    args.name.as_str()
                )));
            }
            Some(false) => {
                return Err(Error::failed("not confirmed: nothing was changed"));
            }
            Some(true) => {}
        }
    }
    let auditor = Auditor::new(kube, args)?;
    let stop = Stop::default();
    let listener = {
        let stop = stop.clone();
        tokio::spawn(async move {
            sealos_shared::cli::shutdown_signal().await;
            stop.request();
        })
    };
    report.results = match args.name {
        Name::HighErrorRate => {
            high_error_rate::execute(args, kube, &report.plan, &auditor, &stop).await
        }
        Name::ServiceDown => service_down::execute(args, kube, &report.plan, &auditor, &stop).await,
        Name::CertificateExpired => {
            certificate_expired::execute(args, kube, &report.plan, &auditor, &stop).await
        }
        Name::MemoryLeak => memory_leak::execute(args, kube, &report.plan, &auditor, &stop).await,
    };
    listener.abort();
    report.success = report
        .results
        .iter()
        .all(|r| matches!(r.status, Status::Done | Status::Unchanged));
    if out.format.is_machine() {
        out.data(&report)?;
    } else {
        render_results(&report, out)?;
    }
    if stop.requested() {
        return Ok(Exit::Interrupted);
    }
    Ok(Exit::problem_if(!report.success))
}

fn render_plan(report: &Report, out: &mut Out) -> Result<()> {
    out.line(&out.theme.bold(&format!(
        "Plan for {}{}:",
        report.runbook.as_str(),
        if report.dry_run { " (dry run)" } else { "" }
    )))?;
    if report.plan.is_empty() {
        out.line("  nothing to do")?;
    } else {
        let mut table = Table::new(["#", "action", "object", "detail"]).align_right(0);
        for (i, a) in report.plan.iter().enumerate() {
            table.row([
                (i + 1).to_string(),
                a.kind.to_string(),
                a.object.display(),
                a.detail.clone(),
            ]);
        }
        out.table(&table)?;
    }
    let left_out: Vec<&Considered> = report.considered.iter().filter(|c| !c.planned).collect();
    out.line(&format!(
        "Considered {}: {} in the plan, {} left out{}",
        counted(report.considered.len(), "object", "objects"),
        report.considered.len() - left_out.len(),
        left_out.len(),
        if left_out.is_empty() { "." } else { ":" }
    ))?;
    if !left_out.is_empty() {
        let mut table = Table::new(["left out", "why"]);
        for c in left_out {
            table.row([c.object.display(), c.why.clone()]);
        }
        out.table(&table)?;
    }
    for note in &report.notes {
        out.line(&format!("note: {note}"))?;
    }
    Ok(())
}

fn render_results(report: &Report, out: &mut Out) -> Result<()> {
    out.line("")?;
    out.line(&out.theme.bold("Report:"))?;
    let mut table = Table::new(["action", "object", "status", "detail"]);
    for r in &report.results {
        let status = format!("{:?}", r.status).to_uppercase();
        table.row([
            r.kind.to_string(),
            r.object.display(),
            out.theme.paint(&status, r.status.severity()),
            r.detail.clone(),
        ]);
    }
    out.table(&table)
}

/// A finished action, with its audit note folded into the detail.
pub fn outcome(
    action: &Action,
    status: Status,
    detail: String,
    audit_note: Option<String>,
) -> Outcome {
    let detail = match audit_note {
        Some(note) => format!("{detail} (audit log: {note})"),
        None => detail,
    };
    Outcome {
        kind: action.kind,
        object: action.object.clone(),
        status,
        detail,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    #[test]
    fn flags_parse_and_validate() {
        let cli = Cli::try_parse_from([
            "x",
            "memory-leak",
            "--threshold",
            "0.25Gi",
            "--max-pods",
            "2",
        ])
        .unwrap();
        assert_eq!(cli.run.name, Name::MemoryLeak);
        assert_eq!(cli.run.threshold().unwrap().value(), 268_435_456);
        cli.run.validate().unwrap();
        let cli = Cli::try_parse_from(["x", "memory-leak", "--threshold", "256MB"]).unwrap();
        assert!(matches!(cli.run.validate(), Err(Error::Usage(_))));
        let cli = Cli::try_parse_from(["x", "memory-leak", "--max-pods", "0"]).unwrap();
        assert!(matches!(cli.run.validate(), Err(Error::Usage(_))));
        assert!(Cli::try_parse_from(["x", "memory_leak"]).is_err());
        let cli = Cli::try_parse_from([
            "x",
            "high-error-rate",
            "--slack-webhook",
            "hooks.slack.com/x",
        ])
        .unwrap();
        assert!(matches!(cli.run.validate(), Err(Error::Usage(_))));
    }

    #[tokio::test]
    async fn a_stop_ends_pauses_and_skips_what_is_left() {
        let stop = Stop::default();
        assert!(!stop.requested());
        let sleeper = {
            let stop = stop.clone();
            tokio::spawn(async move { stop.sleep(Duration::from_secs(3600)).await })
        };
        stop.request();
        // Bounded so a broken stop fails the test instead of hanging it.
        tokio::time::timeout(Duration::from_secs(30), sleeper)
            .await
            .unwrap()
            .unwrap();
        stop.sleep(Duration::from_secs(3600)).await;
        let action = Action::new(
            "evict",
            ObjectRef::new("Pod", Some("ns"), "p"),
            String::new(),
        );
        let skipped = stop.skipped(&action);
        assert_eq!(skipped.status, Status::Skipped);
        assert_eq!(serde_json::to_value(&skipped).unwrap()["status"], "skipped");
    }

    #[test]
    fn every_runbook_is_listed_with_its_cli_name() {
        for name in Name::ALL {
            let value = name.to_possible_value().unwrap();
            assert_eq!(value.get_name(), name.as_str());
            assert!(!name.describe().is_empty());
        }
    }
}
