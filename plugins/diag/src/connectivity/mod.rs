//! `diag connectivity APP`: walks the path a request takes (pods, Service, Endpoints,
//! VirtualService, Gateway, DestinationRule subsets, the sidecar's Envoy, the certificate behind
//! the host) and gives a verdict at each step, each finding with a stable code and a hint.

pub mod path;
mod steps;
mod walk;

use std::time::Duration;

use clap::Args;
use sealos_shared::connection::Kube;
use sealos_shared::flags::{FailOn, Renamed};
use sealos_shared::output::{Format, Out, Severity, Table};
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;

use crate::finding::{self, Finding, Level};

/// `connectivity` flags.
#[derive(Args, Debug, Clone)]
pub struct ConnectivityArgs {
    /// The app: pods labelled app=APP (or -l), the Service and VirtualServices in front of them.
    pub app: String,
    /// The host users call (default: the hosts of the app's VirtualServices).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Select the app's pods by this label selector instead of app=APP.
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Exit 1 on warnings too, or only on errors.
    #[arg(long, value_name = "LEVEL", default_value = "fail", value_parser = FailOn::parser())]
    pub fail_on: FailOn,
    #[arg(
        long = "failure-threshold",
        hide = true,
        num_args = 0..=1,
        default_missing_value = "",
        value_parser = Renamed("--failure-threshold was renamed: use --fail-on warn|fail")
    )]
    pub renamed_failure_threshold: Option<String>,
    /// How long to wait for a pod's Envoy admin port (through a port-forward).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = sealos_shared::number::positive_duration)]
    pub envoy_timeout: Duration,
    /// Do not port-forward to Envoy.
    #[arg(long)]
    pub skip_envoy: bool,
    /// Days before expiry from which a certificate is a warning.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub warn_days: i64,
    /// Days before expiry from which a certificate is an error.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub crit_days: i64,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

/// One step of the path and its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub verdict: Verdict,
    pub summary: String,
}

/// A step's verdict: its worst finding's level, `ok` without one, or `skipped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Info,
    Warning,
    Error,
    Skipped,
}

impl Verdict {
    /// The verdict of a step that found `findings`.
    pub fn of(findings: &[Finding]) -> Verdict {
        match findings.iter().map(|f| f.level).max() {
            None => Verdict::Ok,
            Some(Level::Info) => Verdict::Info,
            Some(Level::Warning) => Verdict::Warning,
            Some(Level::Error) => Verdict::Error,
        }
    }

    /// As in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Info => "info",
            Verdict::Warning => "warning",
            Verdict::Error => "error",
            Verdict::Skipped => "skipped",
        }
    }

    fn severity(self) -> Severity {
        match self {
            Verdict::Ok | Verdict::Skipped => Severity::Ok,
            Verdict::Info => Level::Info.severity(),
            Verdict::Warning => Level::Warning.severity(),
            Verdict::Error => Level::Error.severity(),
        }
    }
}

/// The whole diagnosis (`-o json` prints exactly this).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub app: String,
    pub namespace: String,
    pub selector: String,
    pub hosts: Vec<String>,
    pub steps: Vec<Step>,
    pub findings: Vec<Finding>,
    pub failure_threshold: Level,
    /// True when a finding reaches the threshold (the exit code is then 1).
    pub failed: bool,
}

impl ConnectivityArgs {
    /// Bad input is refused before any request.
    pub fn validate(&self) -> Result<()> {
        if !sealos_shared::traffic_shift::valid_name(&self.app) {
            return Err(Error::usage(format!(
                "invalid app name {:?}: use a Kubernetes name (lower case, digits, '-')",
                self.app
            )));
        }
        if self
            .selector
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            return Err(Error::usage("empty --selector"));
        }
        if self.crit_days > self.warn_days {
            return Err(Error::usage("--crit-days must not exceed --warn-days"));
        }
        Ok(())
    }
}

pub async fn run(args: &ConnectivityArgs, kube: &Kube, out: &mut Out) -> Result<Exit> {
    args.validate()?;
    let report = diagnose(args, kube).await?;
    render(&report, out)?;
    Ok(Exit::problem_if(report.failed))
}

/// Collects and judges; prints nothing.
pub async fn diagnose(args: &ConnectivityArgs, kube: &Kube) -> Result<Report> {
    let walk::Walked {
        steps,
        mut findings,
        selector,
        hosts,
    } = walk::walk(args, kube).await?;
    finding::sort(&mut findings);
    let threshold = Level::threshold(args.fail_on);
    let failed = finding::fails(&findings, threshold);
    Ok(Report {
        app: args.app.clone(),
        namespace: kube.namespace.clone(),
        selector,
        hosts,
        steps,
        findings,
        failure_threshold: threshold,
        failed,
    })
}

pub fn render(report: &Report, out: &mut Out) -> Result<()> {
    if out.format.is_machine() {
        return out.data(report);
    }
    let mut steps = Table::new(["step", "verdict", "summary"]);
    for step in &report.steps {
        steps.row([
            step.step.to_string(),
            out.theme.paint(
                &step.verdict.as_str().to_uppercase(),
                step.verdict.severity(),
            ),
            step.summary.clone(),
        ]);
    }
    out.table(&steps)?;
    if report.findings.is_empty() {
        return out.line("\nNo findings: every step of the path looks right.");
    }
    out.line("")?;
    let mut table = Table::new(["level", "code", "object", "message", "hint"]);
    for f in &report.findings {
        table.row([
            out.theme.paint(f.level.label(), f.level.severity()),
            f.code.to_string(),
            f.object.display(),
            f.message.clone(),
            f.hint.clone(),
        ]);
    }
    out.table(&table)
}
