//! `diag certificates`: the certificates that are not Ready or close to expiry, with reasons
//! (the shared judgement `cert check` uses), and cert-manager's error lines in the window.

use std::time::Duration;

use clap::Args;
use kube::ResourceExt;
use sealos_shared::certs::{self, Thresholds, Verdict};
use sealos_shared::connection::Kube;
use sealos_shared::output::{Format, Out, Table};
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;

use crate::logs::{self, ErrorGroup};

/// `certificates` flags.
#[derive(Args, Debug, Clone)]
pub struct CertificatesArgs {
    /// The window of cert-manager's log to read.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = sealos_shared::number::positive_duration)]
    pub since: Duration,
    /// Days before expiry from which a certificate is reported.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub warn_days: i64,
    /// Days before expiry from which it is critical.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub crit_days: i64,
    /// The namespace cert-manager runs in.
    #[arg(long, value_name = "NS", default_value = "cert-manager")]
    pub cert_manager_namespace: String,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

/// One certificate that needs attention.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub namespace: String,
    pub name: String,
    pub secret: String,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// Every reason, worst first.
    pub reasons: Vec<String>,
}

/// The report (`-o json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checked: usize,
    pub problems: Vec<Problem>,
    pub since_seconds: u64,
    pub cert_manager_errors: Vec<ErrorGroup>,
    pub cert_manager_error_lines: usize,
    pub notes: Vec<String>,
}

pub async fn run(args: &CertificatesArgs, kube: &Kube, out: &mut Out) -> Result<Exit> {
    if args.crit_days > args.warn_days {
        return Err(Error::usage("--crit-days must not exceed --warn-days"));
    }
    if args.since.is_zero() {
        return Err(Error::usage("--since must be more than 0"));
    }
    let scope = kube.requested_scope();
    let thresholds = Thresholds {
        warn_days: args.warn_days,
        crit_days: args.crit_days,
    };
    let surveyed = certs::survey(
        &kube.client,
        scope,
        None,
        jiff::Timestamp::now(),
        thresholds,
    )
    .await?;
    let mut problems: Vec<Problem> = surveyed
        .iter()
        .filter(|s| s.assessment.verdict != Verdict::Ok)
        .map(|s| Problem {
            namespace: s.certificate.namespace().unwrap_or_default(),
            name: s.certificate.name_any(),
            secret: s.certificate.spec.secret_name.clone(),
            verdict: s.assessment.verdict,
            days_left: s.assessment.days_left,
            not_after: s.assessment.not_after.map(|t| t.to_string()),
            reasons: s
                .assessment
                .findings
                .iter()
                .map(|f| f.message.clone())
                .collect(),
        })
        .collect();
    problems.sort_by(|a, b| {
        b.verdict
            .cmp(&a.verdict)
            .then(a.days_left.cmp(&b.days_left))
            .then_with(|| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)))
    });
    let mut notes = Vec::new();
    let logs = logs::read(
        &kube.client,
        &args.cert_manager_namespace,
        "app.kubernetes.io/name=cert-manager,app.kubernetes.io/component=controller",
        args.since,
        &mut notes,
    )
    .await?;
    let logs = if logs.is_empty() {
        logs::read(
            &kube.client,
            &args.cert_manager_namespace,
            "app=cert-manager",
            args.since,
            &mut notes,
        )
        .await?
    } else {
        logs
    };
    let groups = logs::error_groups(&logs, "cert-manager");
    let lines = groups.iter().map(|g| g.count).sum();
    let report = Report {
        checked: surveyed.len(),
        problems,
        since_seconds: args.since.as_secs(),
        cert_manager_errors: groups,
        cert_manager_error_lines: lines,
        notes,
    };
    render(&report, out)?;
    Ok(Exit::problem_if(
        !report.problems.is_empty() || report.cert_manager_error_lines > 0,
    ))
}

fn render(report: &Report, out: &mut Out) -> Result<()> {
    if out.format.is_machine() {
        return out.data(report);
    }
    if report.problems.is_empty() {
        out.line(&format!(
            "{} Ready and far from expiry.",
            match report.checked {
                1 => "The one certificate is".to_string(),
                n => format!("All {n} certificates are"),
            }
        ))?;
    } else {
        let mut table =
            Table::new(["namespace", "name", "verdict", "days", "reasons"]).align_right(3);
        for p in &report.problems {
            table.row([
                p.namespace.clone(),
                p.name.clone(),
                out.theme.paint(p.verdict.label(), p.verdict.severity()),
                p.days_left
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into()),
                p.reasons.join("; "),
            ]);
        }
        out.table(&table)?;
    }
    logs::render_groups(
        out,
        "cert-manager errors",
        report.since_seconds,
        &report.cert_manager_errors,
        &report.notes,
    )
}
