//! `plan COMPONENT --steps 10,25,50,100 --pause 10m`: move a controller through the steps; after
//! each step has rolled out and carried traffic for the pause, judge its 5xx ratio and P95 with
//! the health monitor's analysis (`sealos_shared::traffic`). A breach moves it back to the last
//! good step (or ingress) and exits 1; Ctrl-C leaves the current step in place and says how to
//! resume.

use std::time::Duration;

use clap::Args;
use sealos_shared::alert::{Alert, SlackFlags, Urgency};
use sealos_shared::audit::AuditLog;
use sealos_shared::cli::shutdown_signal;
use sealos_shared::connection::Kube;
use sealos_shared::output::{Out, Severity, Table};
use sealos_shared::prometheus::Prometheus;
use sealos_shared::prometheus_flags::PrometheusFlags;
use sealos_shared::traffic::{self, NoDataPolicy, TrafficReport, TrafficSpec, Verdict};
use sealos_shared::traffic_shift::{Change, Outcome, Percent, Setting, Shifter, valid_name};
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;

use crate::{OutputFlags, PLUGIN, controller_namespace};

/// `plan COMPONENT --steps ... --pause ...`.
#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    /// The controller (Deployment name, or deployment/NAME).
    #[arg(value_name = "COMPONENT")]
    pub component: String,
    /// The Istio percentages to move through, in order (integers 0-100).
    #[arg(
        long,
        value_name = "P,...",
        value_delimiter = ',',
        default_value = "10,25,50,100"
    )]
    pub steps: Vec<String>,
    /// How long each step carries traffic before it is judged.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = sealos_shared::number::duration_or_zero)]
    pub pause: Duration,
    /// Start at this step (1 = the first of --steps): how an interrupted plan resumes.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub from_step: usize,
    /// The traffic window judged after each step (default: the pause).
    #[arg(long, value_name = "DURATION", value_parser = sealos_shared::number::duration_or_zero)]
    pub window: Option<Duration>,
    /// A 5xx ratio above this is a breach (0.05 = 5%).
    #[arg(long, value_name = "RATIO", default_value_t = 0.05)]
    pub max_error_rate: f64,
    /// A P95 latency above this many milliseconds is a breach.
    #[arg(long, value_name = "MS", default_value_t = 500.0)]
    pub max_p95_ms: f64,
    /// Fewer requests than this in the window is "no data", not a ratio.
    #[arg(long, value_name = "N", default_value_t = 1.0)]
    pub min_requests: f64,
    /// A step with no (or too little) traffic: ok (go on), warn (go on, say so), alert (a breach).
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = NoDataPolicy::Alert)]
    pub on_no_data: NoDataPolicy,
    /// On a breach go back to ingress / 0%, not to the last good step.
    #[arg(long)]
    pub rollback_to_ingress: bool,
    /// Accept steps that lower the Istio share (below the current one, or below the step before).
    #[arg(long)]
    pub allow_decrease: bool,
    /// The destination service whose traffic is judged (default: the component's name).
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    #[command(flatten)]
    pub prometheus: PrometheusFlags,
    /// Why: recorded with each step in the history, audit log and Events.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// How long to wait for each step's rollout (0 waits for ever).
    #[arg(long, value_name = "DURATION", default_value = "300s", value_parser = sealos_shared::number::duration_or_zero)]
    pub timeout: Duration,
    /// The audit log (default: $XDG_STATE_HOME/kubectl-sealos/audit.jsonl).
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<std::path::PathBuf>,
    /// The container holding NETWORKING_MODE / ISTIO_PERCENTAGE (default: the one declaring them).
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
    /// Where a breach and its rollback are posted.
    #[command(flatten)]
    pub slack: SlackFlags,
    #[command(flatten)]
    pub output: OutputFlags,
}

/// How a plan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanResult {
    /// Every step rolled out and passed.
    Completed,
    /// A step breached (or failed to roll out) and the controller was moved back.
    RolledBack,
    /// Ctrl-C: the current step was left in place.
    Interrupted,
    /// Prometheus could not be asked; the controller was moved back.
    Blind,
}

/// The `-o json` shape of `plan`.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub namespace: String,
    pub name: String,
    pub steps: Vec<u8>,
    pub from_step: usize,
    /// The Istio share before the first step, when the controller's value was a valid one.
    pub started_at: Option<u8>,
    pub result: PlanResult,
    /// The setting it was moved back to, after a breach.
    pub rolled_back_to: Option<Setting>,
    /// What happened at each step tried.
    pub step_reports: Vec<StepReport>,
    /// One sentence: what happened and what to do.
    pub message: String,
}

/// One step.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// 1-based position in `steps`.
    pub step: usize,
    pub percentage: u8,
    pub rollout: Option<Outcome>,
    /// The traffic analysis (the health monitor's shape), when it ran.
    pub traffic: Option<TrafficReport>,
}

/// The validated plan: every check done before any request.
struct Validated {
    steps: Vec<Percent>,
    from: usize,
    spec: TrafficSpec,
}

fn validate(args: &PlanArgs, namespace: &str) -> Result<Validated> {
    if !valid_name(&args.component) {
        return Err(Error::usage(format!(
            "unknown component {:?}: not a valid Deployment name",
            args.component
        )));
    }
    let steps = args
        .steps
        .iter()
        .map(|s| s.trim().parse::<Percent>().map_err(Error::usage))
        .collect::<Result<Vec<_>>>()?;
    if steps.is_empty() {
        return Err(Error::usage("--steps needs at least one percentage"));
    }
    if steps.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::usage("--steps repeats a percentage back to back"));
    }
    if !args.allow_decrease
        && let Some(w) = steps.windows(2).find(|w| w[1] < w[0])
    {
        return Err(Error::usage(format!(
            "--steps {} lowers the Istio share from {}% to {}%: steps must increase \
             (--allow-decrease to move down on purpose)",
            path_of(None, &steps),
            w[0],
            w[1]
        )));
    }
    if args.from_step == 0 || args.from_step > steps.len() {
        return Err(Error::usage(format!(
            "--from-step {} is not a step: use 1 to {}",
            args.from_step,
            steps.len()
        )));
    }
    let window = args.window.unwrap_or(args.pause);
    if window.is_zero() {
        return Err(Error::usage(
            "the traffic window is zero: give --pause or --window a duration",
        ));
    }
    if !(0.0..=1.0).contains(&args.max_error_rate) {
        return Err(Error::usage(format!(
            "--max-error-rate {} is not a ratio from 0 to 1 (0.05 = 5%)",
            args.max_error_rate
        )));
    }
    if !(args.max_p95_ms.is_finite() && args.max_p95_ms > 0.0) {
        return Err(Error::usage("--max-p95-ms must be a positive number"));
    }
    if !(args.min_requests.is_finite() && args.min_requests >= 0.0) {
        return Err(Error::usage("--min-requests must be zero or more"));
    }
    let service = args
        .service
        .clone()
        .unwrap_or_else(|| args.component.clone());
    if !valid_name(&service) {
        return Err(Error::usage(format!(
            "--service {service:?} is not a valid name"
        )));
    }
    Ok(Validated {
        steps,
        from: args.from_step,
        spec: TrafficSpec {
            window,
            matchers: vec![
                (
                    "destination_service_namespace".into(),
                    namespace.to_string(),
                ),
                ("destination_service_name".into(), service),
            ],
            max_error_rate: args.max_error_rate,
            max_p95_ms: args.max_p95_ms,
            min_requests: args.min_requests,
            on_no_data: args.on_no_data,
            per_service: false,
        },
    })
}

/// `50% → 10% → 30%`: where a plan goes, from where it starts when that is known.
fn path_of(start: Option<Percent>, steps: &[Percent]) -> String {
    start
        .iter()
        .chain(steps)
        .map(|p| format!("{p}%"))
        .collect::<Vec<_>>()
        .join(" → ")
}

/// The first step must not move the controller below where it is, unless asked: a plan is a way
/// up, and a plan that silently halves the Istio share first is a surprise (issue 21).
fn check_start(args: &PlanArgs, plan: &Validated, start: Option<Percent>) -> Result<()> {
    let first = plan.steps[plan.from - 1];
    match start {
        Some(current) if first < current && !args.allow_decrease => Err(Error::usage(format!(
            "{} is at {current}%: the plan {} would first lower it to {first}%; \
             give steps above {current}% (--allow-decrease to move down on purpose)",
            args.component,
            path_of(Some(current), &plan.steps[plan.from - 1..]),
        ))),
        _ => Ok(()),
    }
}

/// How to resume, for the interrupted and failed endings.
fn resume_hint(args: &PlanArgs, step: usize) -> String {
    let steps: Vec<String> = args.steps.iter().map(|s| s.trim().to_string()).collect();
    format!(
        "kubectl sealos rollout plan {} --steps {} --pause {} --from-step {step}",
        args.component,
        steps.join(","),
        // One shell word: "1m30s", which --pause reads back.
        humantime::format_duration(args.pause)
            .to_string()
            .replace(' ', "")
    )
}

pub async fn run(args: &PlanArgs, kube: &Kube, out: &mut Out) -> Result<Exit> {
    let report = plan(kube, args).await?;
    render(out, &report)?;
    Ok(report.exit())
}

impl PlanReport {
    /// 0 completed, 1 rolled back after a breach, 2 Prometheus could not be asked, 130 interrupted.
    pub fn exit(&self) -> Exit {
        match self.result {
            PlanResult::Completed => Exit::Ok,
            PlanResult::RolledBack => Exit::Problem,
            PlanResult::Blind => Exit::Failure,
            PlanResult::Interrupted => Exit::Interrupted,
        }
    }
}

/// Validates, runs the plan and notifies; returns the report without printing it.
pub async fn plan(kube: &Kube, args: &PlanArgs) -> Result<PlanReport> {
    let namespace = controller_namespace(kube)?;
    let plan = validate(args, &namespace)?;
    let slack = args.slack.webhook()?;
    let audit = AuditLog::new(args.audit_log.as_deref())?;
    let prom = args.prometheus.client(Some(kube))?;
    let shifter = Shifter::new(kube, &namespace, PLUGIN, audit);
    let report = execute(&shifter, args, &plan, &prom).await?;
    if let (Some(slack), PlanResult::RolledBack | PlanResult::Blind) = (&slack, report.result) {
        let alert = Alert::firing(
            &format!("rollout/plan/{}", report.name),
            &format!("rollout plan of {} rolled back", report.name),
            &report.message,
            Urgency::Critical,
        );
        crate::notify::notify(slack, &alert).await;
    }
    Ok(report)
}

/// What a step's gate decided.
enum Gate {
    Pass(Option<TrafficReport>),
    Breach(String, Option<TrafficReport>),
    Blind(String),
    Interrupted,
}

async fn execute(
    shifter: &Shifter,
    args: &PlanArgs,
    plan: &Validated,
    prom: &Prometheus,
) -> Result<PlanReport> {
    let container = args.container.as_deref();
    let start = shifter.read(&args.component, container).await?;
    let started_at = start.setting.percent();
    check_start(args, plan, started_at)?;
    // The whole path, before the first write.
    eprintln!(
        "plan: {} {}{}",
        args.component,
        match started_at {
            Some(_) => path_of(started_at, &plan.steps[plan.from - 1..]),
            None => format!(
                "{} → {}",
                start.setting.describe(),
                path_of(None, &plan.steps[plan.from - 1..])
            ),
        },
        if plan.from > 1 {
            format!(" (from step {} of {})", plan.from, plan.steps.len())
        } else {
            String::new()
        }
    );
    // The step to return to on a breach: the one before --from-step, else where it started.
    let mut last_good = match plan.from.checked_sub(2) {
        Some(previous) => plan.steps[previous],
        None => start.setting.percent().unwrap_or(Percent::ZERO),
    };
    let mut report = PlanReport {
        namespace: shifter.namespace().to_string(),
        name: args.component.clone(),
        steps: plan.steps.iter().map(|p| p.get()).collect(),
        from_step: plan.from,
        started_at: started_at.map(Percent::get),
        result: PlanResult::Completed,
        rolled_back_to: None,
        step_reports: Vec::new(),
        message: String::new(),
    };
    let total = plan.steps.len();
    let reason = |step: usize| {
        let mut text = format!("plan step {step}/{total}");
        if let Some(r) = &args.reason {
            text.push_str(&format!(": {r}"));
        }
        text
    };
    for (index, percent) in plan.steps.iter().enumerate().skip(plan.from - 1) {
        let step = index + 1;
        // Said up front as well: whatever ends the process, the way back in is on screen.
        eprintln!(
            "step {step}/{total}: {} → {percent}% ({}); if interrupted, resume with: {}",
            args.component,
            percent.mode(),
            resume_hint(args, step)
        );
        let change = Change {
            percent: *percent,
            action: "plan".into(),
            reason: Some(reason(step)),
        };
        let shifted = shifter
            .shift(
                &args.component,
                container,
                &change,
                &sealos_shared::traffic_shift::Quiet,
            )
            .await?;
        for w in &shifted.warnings {
            eprintln!("warning: {w}");
        }
        report.step_reports.push(StepReport {
            step,
            percentage: percent.get(),
            rollout: None,
            traffic: None,
        });
        let wait = shifter.wait(&args.component, shifted.generation, args.timeout, |_| {});
        let outcome = tokio::select! {
            outcome = wait => outcome,
            () = shutdown_signal() => return Ok(interrupted(report, args, step)),
        };
        if let Some(last) = report.step_reports.last_mut() {
            last.rollout = Some(outcome.clone());
        }
        let gate = if outcome.is_complete() {
            eprintln!(
                "step {step}/{total}: rolled out; judging its traffic after {}",
                humantime::format_duration(args.pause)
            );
            judge_after_pause(args.pause, prom, &plan.spec).await
        } else {
            let why = match outcome {
                Outcome::Failed(why) | Outcome::TimedOut(why) => why,
                Outcome::Complete => String::new(),
            };
            Gate::Breach(format!("the rollout did not finish: {why}"), None)
        };
        match gate {
            Gate::Interrupted => return Ok(interrupted(report, args, step)),
            Gate::Pass(traffic) => {
                if let Some(t) = &traffic {
                    for f in &t.overall.findings {
                        eprintln!("step {step}/{total}: {}", f.message);
                    }
                }
                if let Some(last) = report.step_reports.last_mut() {
                    last.traffic = traffic;
                }
                last_good = *percent;
            }
            Gate::Breach(why, traffic) => {
                if let Some(last) = report.step_reports.last_mut() {
                    last.traffic = traffic;
                }
                let back = if args.rollback_to_ingress {
                    Percent::ZERO
                } else {
                    last_good
                };
                return roll_back(
                    shifter,
                    args,
                    report,
                    step,
                    &why,
                    back,
                    PlanResult::RolledBack,
                )
                .await;
            }
            Gate::Blind(why) => {
                let back = if args.rollback_to_ingress {
                    Percent::ZERO
                } else {
                    last_good
                };
                return roll_back(shifter, args, report, step, &why, back, PlanResult::Blind).await;
            }
        }
    }
    let taken = total + 1 - plan.from;
    report.message = format!(
        "{} reached {}% through {taken} {}",
        args.component,
        plan.steps[total - 1],
        sealos_shared::output::plural(taken, "step", "steps")
    );
    Ok(report)
}

/// Waits out the pause (Ctrl-C ends it), then asks Prometheus.
async fn judge_after_pause(pause: Duration, prom: &Prometheus, spec: &TrafficSpec) -> Gate {
    tokio::select! {
        () = tokio::time::sleep(pause) => {},
        () = shutdown_signal() => return Gate::Interrupted,
    }
    let analysis = tokio::select! {
        analysis = traffic::analyse(prom, spec) => analysis,
        () = shutdown_signal() => return Gate::Interrupted,
    };
    match analysis {
        Err(e) => Gate::Blind(format!("cannot judge the step: {e}")),
        Ok(report) => match report.verdict {
            Verdict::Alert => {
                let why = report
                    .overall
                    .findings
                    .iter()
                    .filter(|f| f.verdict == Verdict::Alert)
                    .map(|f| f.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ");
                Gate::Breach(why, Some(report))
            }
            Verdict::Warn | Verdict::Ok => Gate::Pass(Some(report)),
        },
    }
}

fn interrupted(mut report: PlanReport, args: &PlanArgs, step: usize) -> PlanReport {
    report.result = PlanResult::Interrupted;
    report.message = format!(
        "interrupted at step {step}: {} left at {}% (the step's change stays); resume with: {}",
        args.component,
        report.steps[step - 1],
        resume_hint(args, step)
    );
    report
}

async fn roll_back(
    shifter: &Shifter,
    args: &PlanArgs,
    mut report: PlanReport,
    step: usize,
    why: &str,
    back: Percent,
    result: PlanResult,
) -> Result<PlanReport> {
    eprintln!(
        "step {step}: {why}; moving {} back to {back}%",
        args.component
    );
    let change = Change {
        percent: back,
        action: "rollback".into(),
        reason: Some(format!("plan step {step} failed its gate: {why}")),
    };
    let shifted = shifter
        .shift(
            &args.component,
            args.container.as_deref(),
            &change,
            &sealos_shared::traffic_shift::Quiet,
        )
        .await?;
    let outcome = shifter
        .wait(&args.component, shifted.generation, args.timeout, |_| {})
        .await;
    report.result = result;
    report.rolled_back_to = Some(shifted.after.clone());
    report.message = format!(
        "step {step} ({}%) failed its gate: {why}; {} moved back to {}{}",
        report.steps[step - 1],
        args.component,
        shifted.after.describe(),
        match &outcome {
            Outcome::Complete => String::new(),
            Outcome::Failed(w) | Outcome::TimedOut(w) =>
                format!(" (its rollout did not finish: {w})"),
        }
    );
    eprintln!("error: {}", report.message);
    Ok(report)
}

pub fn render(out: &mut Out, report: &PlanReport) -> Result<()> {
    if out.format.is_machine() {
        return out.data(report);
    }
    let mut table = Table::new([
        "step", "istio%", "rollout", "requests", "5xx", "p95 ms", "verdict",
    ])
    .align_right(0)
    .align_right(1)
    .align_right(3);
    for s in &report.step_reports {
        let traffic = s.traffic.as_ref().map(|t| &t.overall);
        let verdict = s.traffic.as_ref().map(|t| t.verdict);
        table.row([
            s.step.to_string(),
            s.percentage.to_string(),
            match &s.rollout {
                None => "-".to_string(),
                Some(Outcome::Complete) => "rolled out".to_string(),
                Some(Outcome::Failed(_)) => out.theme.paint("failed", Severity::Fail),
                Some(Outcome::TimedOut(_)) => out.theme.paint("timed out", Severity::Fail),
            },
            traffic
                .map(|t| format!("{:.0}", t.requests))
                .unwrap_or_else(|| "-".into()),
            traffic
                .and_then(|t| t.error_rate)
                .map(traffic::percent)
                .unwrap_or_else(|| "-".into()),
            traffic
                .and_then(|t| t.p95_ms)
                .map(|v| format!("{v:.0}"))
                .unwrap_or_else(|| "-".into()),
            match verdict {
                None => "-".to_string(),
                Some(Verdict::Ok) => out.theme.paint("ok", Severity::Ok),
                Some(Verdict::Warn) => out.theme.paint("warn", Severity::Warn),
                Some(Verdict::Alert) => out.theme.paint("breach", Severity::Fail),
            },
        ]);
    }
    out.table(&table)?;
    out.line(&report.message)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> PlanArgs {
        let mut argv = vec!["kubectl-sealos-rollout", "plan", "terminal-controller"];
        argv.extend(extra);
        match crate::Args::try_parse_from(argv).unwrap().command {
            crate::Command::Plan(plan) => plan,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_issue() {
        let a = args(&[]);
        let plan = validate(&a, "sealos-system").unwrap();
        let steps: Vec<u8> = plan.steps.iter().map(|p| p.get()).collect();
        assert_eq!(steps, [10, 25, 50, 100]);
        assert_eq!(plan.spec.window, Duration::from_secs(600));
        assert_eq!(plan.spec.on_no_data, NoDataPolicy::Alert);
        assert_eq!(
            plan.spec.matchers,
            [
                (
                    "destination_service_namespace".to_string(),
                    "sealos-system".to_string()
                ),
                (
                    "destination_service_name".to_string(),
                    "terminal-controller".to_string()
                ),
            ]
        );
        assert!(!plan.spec.per_service);
    }

    #[test]
    fn bad_plans_are_refused_before_any_request() {
        for (extra, message) in [
            (&["--steps", "10,150"][..], "invalid percentage \"150\""),
            (&["--steps", "10,abc"], "invalid percentage \"abc\""),
            (&["--steps", "10,10"], "back to back"),
            (
                &["--steps", "10,30,20"],
                "--steps 10% → 30% → 20% lowers the Istio share from 30% to 20%",
            ),
            (
                &["--from-step", "5"],
                "--from-step 5 is not a step: use 1 to 4",
            ),
            (&["--from-step", "0"], "not a step"),
            (&["--pause", "0s"], "window is zero"),
            (&["--max-error-rate", "5"], "not a ratio"),
            (&["--service", "Bad_Name"], "not a valid name"),
        ] {
            let err = validate(&args(extra), "sealos-system").err().unwrap();
            assert_eq!(err.exit(), Exit::Failure);
            assert!(err.to_string().contains(message), "{extra:?}: {err}");
        }
    }

    #[test]
    fn a_first_step_below_the_current_share_is_refused_unless_allowed() {
        let a = args(&["--steps", "10,30"]);
        let plan = validate(&a, "sealos-system").unwrap();
        let err = check_start(&a, &plan, Percent::new(50)).err().unwrap();
        assert_eq!(err.exit(), Exit::Failure);
        assert!(
            err.to_string().contains(
                "terminal-controller is at 50%: the plan 50% → 10% → 30% would first lower it to 10%"
            ),
            "{err}"
        );
        // Resuming at the step it was left on is no decrease.
        let a = args(&["--steps", "10,50,100", "--from-step", "2"]);
        let plan = validate(&a, "sealos-system").unwrap();
        assert!(check_start(&a, &plan, Percent::new(50)).is_ok());
        let a = args(&["--steps", "30,10", "--allow-decrease"]);
        let plan = validate(&a, "sealos-system").unwrap();
        assert!(check_start(&a, &plan, Percent::new(50)).is_ok());
    }

    #[test]
    fn the_resume_hint_repeats_the_plan_from_the_step() {
        let a = args(&["--steps", "10, 50,100", "--pause", "90s"]);
        assert_eq!(
            resume_hint(&a, 2),
            "kubectl sealos rollout plan terminal-controller --steps 10,50,100 --pause 1m30s --from-step 2"
        );
        assert_eq!(
            sealos_shared::number::duration_or_zero("1m30s").unwrap(),
            Duration::from_secs(90)
        );
    }
}
