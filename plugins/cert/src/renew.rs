//! `renew`: cmctl-style renewal (`Issuing=True`, reason ManuallyTriggered, via `/status`) of
//! the Certificates chosen by name or selector, audited; `--dry-run` lists and writes nothing;
//! `--wait` watches until each is re-issued and Ready.

use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use sealos_shared::audit::{AuditLog, ObjectRef, Record};
use sealos_shared::certs::judge::backoff_until;
use sealos_shared::certs::renew::{self, Triggered, WaitOutcome, WaitTarget};
use sealos_shared::certs::{Thresholds, survey};
use sealos_shared::cli::shutdown_signal;
use sealos_shared::connection::Kube;
use sealos_shared::output::{Format, Out, Severity, Table};
use sealos_shared::resources::certmanager::Certificate;
use sealos_shared::resources::condition;
use sealos_shared::retry::{self, Backoff};
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;

#[derive(clap::Args, Debug, Clone)]
pub struct RenewArgs {
    /// Certificates to renew, by name (or certificate/NAME), in the namespace (-n).
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// The Certificates read from kubectl's `-o name|json|yaml` output.
    #[command(flatten)]
    pub filename: sealos_shared::input::FilenameFlags,
    /// Every Certificate in the namespace (or cluster with -A).
    #[arg(long)]
    pub all: bool,
    /// Certificates whose Ready condition is not True.
    #[arg(long)]
    pub not_ready: bool,
    /// Certificates that expire (by their X.509 data) within this long: "30d", "720h".
    #[arg(long, value_name = "DURATION", value_parser = sealos_shared::number::positive_duration)]
    pub expiring_within: Option<Duration>,
    /// Certificates with these labels (kubectl selector syntax); combines with the flags above.
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// List what would be renewed; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Watch until each certificate's revision moves and it is Ready again.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits in all.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = sealos_shared::number::positive_duration)]
    pub timeout: Duration,
    /// The audit log (default: $XDG_STATE_HOME/kubectl-sealos/audit.jsonl).
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

impl RenewArgs {
    /// Exactly one way of choosing: names, or selection flags.
    pub fn validate(&self, all_namespaces: bool) -> Result<()> {
        let selecting =
            self.all || self.not_ready || self.expiring_within.is_some() || self.selector.is_some();
        if self.names.is_empty() && !selecting {
            return Err(Error::usage(
                "name the certificates to renew, or choose them with --all, --not-ready, --expiring-within or -l",
            ));
        }
        if !self.names.is_empty() && selecting {
            return Err(Error::usage(
                "give certificate names or --all/--not-ready/--expiring-within/-l, not both",
            ));
        }
        if !self.names.is_empty() && all_namespaces {
            return Err(Error::usage(
                "a certificate cannot be named across all namespaces: use -n NAMESPACE",
            ));
        }
        Ok(())
    }
}

/// `-o json`: the documented shape (README, "Cert").
#[derive(Debug, Clone, Serialize)]
pub struct RenewReport {
    pub dry_run: bool,
    pub wait: bool,
    pub items: Vec<RenewRow>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `Issuing=True` written (or, in a dry run, would be).
    Renew,
    /// Already `Issuing=True`: left alone, as cmctl does.
    AlreadyIssuing,
    /// The write failed; see `error`.
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct RenewRow {
    pub namespace: String,
    pub name: String,
    pub revision: Option<i64>,
    pub action: Action,
    pub error: Option<String>,
    /// cert-manager ignores a manual renew until then (failed issuance backoff).
    pub backoff_until: Option<Timestamp>,
    /// With --wait: how the wait ended.
    pub wait: Option<WaitOutcome>,
}

impl RenewRow {
    fn problem(&self) -> bool {
        self.action == Action::Error
            || self
                .wait
                .as_ref()
                .is_some_and(|w| !matches!(w, WaitOutcome::Renewed { .. }))
    }
}

pub async fn run(kube: &Kube, args: &RenewArgs, out: &mut Out) -> Result<Exit> {
    args.validate(kube.all_namespaces)?;
    let audit = if args.dry_run {
        None
    } else {
        Some(AuditLog::new(args.audit_log.as_deref())?)
    };
    let targets = select(kube, args).await?;
    let started = Timestamp::now();
    let mut rows = Vec::with_capacity(targets.len());
    for cert in &targets {
        let namespace = cert.namespace().unwrap_or_default();
        let name = cert.name_any();
        let status = cert.status.clone().unwrap_or_default();
        let backoff = status
            .last_failure_time
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .map(|t| backoff_until(t, status.failed_issuance_attempts.unwrap_or(1)))
            .filter(|until| *until > started);
        let mut row = RenewRow {
            namespace: namespace.clone(),
            name: name.clone(),
            revision: status.revision,
            action: if renew::is_issuing(cert) {
                Action::AlreadyIssuing
            } else {
                Action::Renew
            },
            error: None,
            backoff_until: backoff,
            wait: None,
        };
        if let Some(audit) = &audit {
            let api: Api<Certificate> = Api::namespaced(kube.client.clone(), &namespace);
            match renew::trigger(&api, &name, Backoff::default()).await {
                Ok(Triggered::Triggered { revision }) => {
                    row.action = Action::Renew;
                    row.revision = revision;
                    audit.record(&record(kube, &row, "ok".into()))?;
                }
                Ok(Triggered::AlreadyIssuing { revision }) => {
                    row.action = Action::AlreadyIssuing;
                    row.revision = revision;
                }
                Err(e) => {
                    row.action = Action::Error;
                    row.error = Some(e.to_string());
                    audit.record(&record(kube, &row, e.to_string()))?;
                }
            }
        }
        rows.push(row);
    }

    if args.wait && !args.dry_run {
        let waiting: Vec<WaitTarget> = rows
            .iter()
            .filter(|r| r.action != Action::Error)
            .map(|r| WaitTarget {
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                revision_before: r.revision,
            })
            .collect();
        if !waiting.is_empty() {
            let wait =
                renew::wait_for_renewal(kube.client.clone(), &waiting, started, args.timeout);
            let outcomes = tokio::select! {
                outcomes = wait => outcomes,
                () = shutdown_signal() => return Ok(Exit::Interrupted),
            };
            for row in &mut rows {
                let key = WaitTarget {
                    namespace: row.namespace.clone(),
                    name: row.name.clone(),
                    revision_before: row.revision,
                };
                row.wait = outcomes.get(&key).cloned();
            }
        }
    }

    let report = RenewReport {
        dry_run: args.dry_run,
        wait: args.wait,
        items: rows,
    };
    render(&report, out)?;
    let failed: Vec<String> = report
        .items
        .iter()
        .filter(|r| r.problem())
        .map(|r| format!("{}/{}", r.namespace, r.name))
        .collect();
    if report.items.iter().any(|r| r.action == Action::Error) {
        eprintln!("error: could not renew: {}", failed.join(", "));
        return Ok(Exit::Failure);
    }
    if !failed.is_empty() {
        eprintln!(
            "not renewed within {}: {}",
            humantime::format_duration(args.timeout),
            failed.join(", ")
        );
        return Ok(Exit::Problem);
    }
    Ok(Exit::Ok)
}

fn record(kube: &Kube, row: &RenewRow, outcome: String) -> Record {
    let mut record = Record::now(
        "cert",
        "renew",
        ObjectRef {
            kind: "Certificate".into(),
            namespace: Some(row.namespace.clone()),
            name: row.name.clone(),
        },
    );
    record.context = kube.context.clone();
    record.user = kube.user.clone();
    record.before = serde_json::json!({ "revision": row.revision, "issuing": false });
    record.after = serde_json::json!({
        "issuing": true, "reason": renew::MANUAL_REASON,
    });
    record.reason = Some("manual renewal (cmctl renew)".into());
    record.outcome = outcome;
    record
}

/// The Certificates to renew, sorted by namespace and name.
pub async fn select(kube: &Kube, args: &RenewArgs) -> Result<Vec<Certificate>> {
    let mut chosen = Vec::new();
    if !args.names.is_empty() {
        let api: Api<Certificate> = Api::namespaced(kube.client.clone(), &kube.namespace);
        for name in &args.names {
            let cert = retry::read(Backoff::default(), || api.get(name))
                .await
                .map_err(|e| Error::Kube {
                    context: format!("get certificate {name:?} in {:?}", kube.namespace),
                    source: e,
                })?;
            chosen.push(cert);
        }
    } else {
        let listed =
            survey::list_certificates(&kube.client, kube.scope(), args.selector.as_deref()).await?;
        let listed: Vec<Certificate> = listed
            .into_iter()
            .filter(|cert| {
                let ready = cert
                    .status
                    .as_ref()
                    .and_then(|s| condition(&s.conditions, "Ready"))
                    .is_some_and(|c| c.status == "True");
                !(args.not_ready && ready)
            })
            .collect();
        match args.expiring_within {
            // Expiry from the X.509 data, as check reads it.
            Some(within) => {
                let now = Timestamp::now();
                let horizon = now
                    .checked_add(within)
                    .map_err(|e| Error::usage(format!("--expiring-within: {e}")))?;
                let judged =
                    survey::assess_all(&kube.client, listed, now, Thresholds::default()).await?;
                chosen.extend(
                    judged
                        .into_iter()
                        .filter(|s| s.assessment.not_after.is_some_and(|t| t <= horizon))
                        .map(|s| s.certificate),
                );
            }
            None => chosen = listed,
        }
    }
    chosen.sort_by_key(|c| (c.namespace(), c.name_any()));
    chosen.dedup_by_key(|c| (c.namespace(), c.name_any()));
    Ok(chosen)
}

pub fn render(report: &RenewReport, out: &mut Out) -> Result<()> {
    if out.format.is_machine() {
        return out.data(report);
    }
    if report.items.is_empty() {
        return out.line("No certificates matched.");
    }
    let mut header = vec!["namespace", "name", "revision", "action"];
    if report.wait {
        header.push("wait");
    }
    header.push("note");
    let mut table = Table::new(header).align_right(2);
    for row in &report.items {
        let action = match (&row.action, report.dry_run) {
            (Action::Renew, true) => out.theme.paint("would renew", Severity::Info),
            (Action::Renew, false) => out.theme.paint("renewal triggered", Severity::Ok),
            (Action::AlreadyIssuing, _) => out.theme.paint("already issuing", Severity::Info),
            (Action::Error, _) => out.theme.paint("error", Severity::Fail),
        };
        let mut cells = vec![
            row.namespace.clone(),
            row.name.clone(),
            row.revision
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into()),
            action,
        ];
        if report.wait {
            cells.push(match &row.wait {
                Some(WaitOutcome::Renewed { revision }) => out
                    .theme
                    .paint(&format!("renewed (revision {revision})"), Severity::Ok),
                Some(WaitOutcome::Failed(why)) => {
                    out.theme.paint(&format!("failed: {why}"), Severity::Fail)
                }
                Some(WaitOutcome::Deleted) => out.theme.paint("deleted", Severity::Fail),
                Some(WaitOutcome::TimedOut) => out.theme.paint("timed out", Severity::Fail),
                None => "-".into(),
            });
        }
        let note = match (&row.error, row.backoff_until) {
            (Some(error), _) => error.clone(),
            (None, Some(until)) => format!(
                "issuance failing: cert-manager backs off until {until} and may ignore this renewal until then"
            ),
            (None, None) => String::new(),
        };
        cells.push(note);
        table.row(cells);
    }
    out.table(&table)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    fn parse(argv: &[&str]) -> Result<(RenewArgs, bool), String> {
        let mut full = vec!["kubectl-sealos-cert"];
        full.extend(argv);
        let args = crate::Args::try_parse_from(full).map_err(|e| e.to_string())?;
        match args.command {
            crate::Command::Renew(r) => Ok((r, args.kube.all_namespaces)),
            _ => Err("not renew".into()),
        }
    }

    #[test]
    fn choosing_takes_names_or_selectors_never_both() {
        let ok = |argv: &[&str]| {
            let (args, all) = parse(argv).unwrap();
            args.validate(all).map_err(|e| e.to_string())
        };
        assert!(ok(&["renew", "a", "b"]).is_ok());
        assert!(ok(&["renew", "--all", "-A"]).is_ok());
        assert!(ok(&["renew", "--not-ready", "-l", "app=x"]).is_ok());
        assert!(
            ok(&["renew"])
                .unwrap_err()
                .contains("name the certificates")
        );
        assert!(
            ok(&["renew", "a", "--not-ready"])
                .unwrap_err()
                .contains("not both")
        );
        assert!(
            ok(&["renew", "a", "-A"])
                .unwrap_err()
                .contains("all namespaces")
        );
    }

    #[test]
    fn durations_take_units_and_refuse_zero() {
        let (args, _) = parse(&["renew", "--expiring-within", "7d", "--timeout", "90s"]).unwrap();
        assert_eq!(args.expiring_within, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(args.timeout, Duration::from_secs(90));
        let (args, _) = parse(&["renew", "--all"]).unwrap();
        assert_eq!(args.timeout, Duration::from_secs(300));
        assert!(parse(&["renew", "--all", "--timeout", "0"]).is_err());
        assert!(parse(&["renew", "--expiring-within", "soon"]).is_err());
    }

    #[test]
    fn the_table_says_what_happened_and_why_it_may_not_work() {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut out = Out::to_writer(Box::new(Sink(buffer.clone())), Format::Table);
        let row = |name: &str, action: Action, wait: Option<WaitOutcome>| RenewRow {
            namespace: "ns".into(),
            name: name.into(),
            revision: Some(2),
            action,
            error: None,
            backoff_until: None,
            wait,
        };
        let mut failing = row("b", Action::Renew, Some(WaitOutcome::TimedOut));
        failing.backoff_until = Some("2026-11-25T20:00:00Z".parse().unwrap());
        let report = RenewReport {
            dry_run: false,
            wait: true,
            items: vec![
                row(
                    "a",
                    Action::Renew,
                    Some(WaitOutcome::Renewed { revision: 3 }),
                ),
                failing,
            ],
        };
        render(&report, &mut out).unwrap();
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["NAMESPACE", "NAME", "REVISION", "ACTION", "WAIT", "NOTE"]
        );
        assert!(
            lines[1].contains("renewal triggered") && lines[1].contains("renewed (revision 3)")
        );
        assert!(
            lines[2].contains("timed out")
                && lines[2].contains("backs off until 2026-11-25T20:00:00Z")
        );
        assert!(!report.items[0].problem() && report.items[1].problem());
    }
}
