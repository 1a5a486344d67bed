//! `kubectl sealos health monitor`: every --interval, judge the traffic in Prometheus and alert.
//!
//! Never silently blind: a failed query is not "OK", and after --max-query-failures consecutive
//! failures the monitor raises its own alert. While blind, alerts already firing stay firing
//! (an unknown signal is not a recovery), and so do the alerts of a service with no data.
//!
//! Never silently lost: an alert counts as sent to a sink only once that sink took it; until
//! then it is retried every round (see `sealos_shared::alert::state`). `--state` keeps this
//! across restarts and cron runs.

mod alerts;
mod deliver;
pub mod install;
pub mod install_status;
mod report;
mod round;
mod state_store;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use jiff::Timestamp;
use sealos_shared::alert::{SlackFlags, Syslog, SyslogFormat};
use sealos_shared::connection::Kube;
use sealos_shared::number;
use sealos_shared::output::{Format, Out};
use sealos_shared::traffic::{NoDataPolicy, TrafficSpec};
use sealos_shared::{Error, Exit, Result};

use sealos_shared::prometheus_flags::PrometheusFlags;

pub use alerts::{BLIND_KEY, alerts_of, measured};
pub use deliver::{MAX_DEADLINE, Sinks, deadline_for};
pub use report::{RoundReport, SentAlert, print, render_lines};
pub use round::Monitor;
pub use state_store::{
    CONFIGMAP_KEY, FORMAT, SavedState, StateLocation, StateStore, VERSION, decode,
};

/// `health monitor`: run the monitor here, or install it into the cluster.
#[derive(Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MonitorCommand {
    #[command(subcommand)]
    pub action: Option<MonitorAction>,
    #[command(flatten)]
    pub run: MonitorArgs,
    /// table: lines for people; json: one JSON document per round (JSON lines).
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

// Parsed once per process: the size of install's flags costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug, Clone)]
pub enum MonitorAction {
    /// Run the monitor in the cluster: a Deployment (1 replica, Recreate) under its own
    /// ServiceAccount with the least RBAC, state in a ConfigMap, webhook from a Secret.
    ///
    /// Server-side applies (field manager kubectl-sealos); --dry-run prints the manifest
    /// (-o yaml, which `kubectl apply -f -` takes). Namespace: -n, default monitoring.
    Install(install::InstallArgs),
    /// Delete what install made (everything labelled managed-by kubectl-sealos and
    /// component health-monitor in this instance), nothing else.
    Uninstall(install::UninstallArgs),
    /// The in-cluster monitor's readiness, firing alerts and last error, read from the cluster
    /// (not from the pod). Exit 1 when not ready or an alert is firing.
    Status(install_status::StatusArgs),
}

impl MonitorCommand {
    /// Whether the command talks to the cluster.
    pub fn needs_cluster(&self) -> bool {
        match &self.action {
            None => self.run.needs_cluster(),
            Some(MonitorAction::Install(install)) => !install.install.dry_run,
            Some(MonitorAction::Uninstall(_) | MonitorAction::Status(_)) => true,
        }
    }

    /// The `-o` that decides colour and data format.
    pub fn format(&self) -> Format {
        match &self.action {
            None => self.output,
            Some(MonitorAction::Install(install)) => match install.output {
                Some(install::ManifestFormat::Json) => Format::Json,
                Some(install::ManifestFormat::Yaml) => Format::Yaml,
                None if install.install.dry_run => Format::Yaml,
                None => Format::Table,
            },
            Some(MonitorAction::Uninstall(_)) => Format::Table,
            Some(MonitorAction::Status(status)) => status.output,
        }
    }
}

/// Runs `health monitor` or one of its actions; `requested_namespace` is `-n`.
pub async fn dispatch(
    command: &MonitorCommand,
    requested_namespace: Option<&str>,
    kube: Option<&Kube>,
    out: &mut Out,
) -> Result<Exit> {
    let Some(action) = &command.action else {
        return run(&command.run, kube, out).await;
    };
    let namespace = install::namespace(requested_namespace)?;
    let kube_or_fail = || kube.ok_or_else(|| Error::failed("no cluster to act on"));
    match action {
        MonitorAction::Install(args) => install::run_install(args, &namespace, kube, out).await,
        MonitorAction::Uninstall(args) => {
            install::run_uninstall(args, &namespace, kube_or_fail()?, out).await
        }
        MonitorAction::Status(args) => {
            install_status::run(args, &namespace, kube_or_fail()?, out).await
        }
    }
}

/// The monitor's settings (everything but `-o`): what `install` passes to the Deployment.
#[derive(Args, Debug, Clone)]
pub struct MonitorArgs {
    /// Time between rounds. A round's deliveries end by min(interval/2, 30s); what did not get
    /// through is retried next round.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = sealos_shared::number::positive_duration)]
    pub interval: Duration,
    /// Run one round and exit (for cron, with --state): 0 all good, 1 an alert is firing, 2
    /// Prometheus failed or the state could not be read or written.
    #[arg(long)]
    pub once: bool,
    /// The window the signals are measured over.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = sealos_shared::number::positive_duration)]
    pub window: Duration,
    /// A 5xx ratio above this alerts (0.05 = 5%).
    #[arg(long, value_name = "RATIO", default_value_t = 0.05)]
    pub error_rate: f64,
    /// A P95 latency above this many milliseconds alerts.
    #[arg(long, value_name = "MS", default_value_t = 500.0)]
    pub p95_ms: f64,
    /// Fewer requests than this in the window are "no data", not a ratio.
    #[arg(long, value_name = "N", default_value_t = 1.0)]
    pub min_requests: f64,
    /// What no traffic (empty result, NaN, zero requests) means. Whatever it says, an alert
    /// already firing for a scope with no data stays firing: no data is not a recovery.
    #[arg(long, value_enum, default_value_t = NoDataPolicy::Warn)]
    pub on_no_data: NoDataPolicy,
    /// Only traffic matching these labels (repeatable), e.g. destination_service_namespace=sealos-system.
    #[arg(long = "match", value_name = "LABEL=VALUE", value_parser = parse_matcher)]
    pub matchers: Vec<(String, String)>,
    /// Judge the total only, not each destination service.
    #[arg(long)]
    pub no_per_service: bool,
    /// Consecutive failed rounds before the monitor alerts that it is blind.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub max_query_failures: u32,
    /// A firing alert is repeated no more often than this.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = sealos_shared::number::positive_duration)]
    pub repeat: Duration,
    /// Keep alert state here between rounds, restarts and cron runs: a FILE, or
    /// configmap/NAMESPACE/NAME (the in-cluster monitor). Without it a restart forgets what was
    /// sent, and every --once run fires every bad alert and resolves none.
    #[arg(long, value_name = "FILE|configmap/NS/NAME")]
    pub state: Option<StateLocation>,
    #[command(flatten)]
    pub slack: SlackFlags,
    /// The syslog socket (a Unix datagram socket).
    #[arg(long, value_name = "PATH", default_value = "/dev/log")]
    pub syslog_socket: PathBuf,
    /// How syslog messages are framed.
    #[arg(long, value_enum, default_value_t)]
    pub syslog_format: SyslogFormat,
    /// Do not send to syslog.
    #[arg(long)]
    pub no_syslog: bool,
    #[command(flatten)]
    pub prometheus: PrometheusFlags,
}

fn parse_matcher(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v))
            if !k.is_empty()
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !k.starts_with(|c: char| c.is_ascii_digit()) =>
        {
            Ok((k.to_string(), v.to_string()))
        }
        _ => Err(format!(
            "{text:?} is not LABEL=VALUE with a Prometheus label name"
        )),
    }
}

impl MonitorArgs {
    /// Whether Prometheus or the state is reached through the cluster.
    pub fn needs_cluster(&self) -> bool {
        self.prometheus.needs_cluster()
            || matches!(self.state, Some(StateLocation::ConfigMap { .. }))
    }

    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(Error::usage(format!(
                "--error-rate {} is not a ratio between 0 and 1 (5% is 0.05)",
                self.error_rate
            )));
        }
        // NaN and inf fail too: a NaN threshold would never alert.
        if number::check(self.p95_ms, f64::MIN_POSITIVE, f64::MAX).is_err()
            || number::check(self.min_requests, 0.0, f64::MAX).is_err()
        {
            return Err(Error::usage(
                "--p95-ms must be positive and --min-requests not negative",
            ));
        }
        if self.window.is_zero() || self.interval.is_zero() || self.max_query_failures == 0 {
            return Err(Error::usage(
                "--window, --interval and --max-query-failures must be positive",
            ));
        }
        self.prometheus.validate()
    }

    pub fn spec(&self) -> TrafficSpec {
        TrafficSpec {
            window: self.window,
            matchers: self.matchers.clone(),
            max_error_rate: self.error_rate,
            max_p95_ms: self.p95_ms,
            min_requests: self.min_requests,
            on_no_data: self.on_no_data,
            per_service: !self.no_per_service,
        }
    }
}

/// `kube` is `None` only when [`MonitorArgs::needs_cluster`] says so.
pub async fn run(args: &MonitorArgs, kube: Option<&Kube>, out: &mut Out) -> Result<Exit> {
    args.validate()?;
    let slack = args.slack.webhook()?;
    let syslog = (!args.no_syslog).then(|| Syslog::new(&args.syslog_socket, args.syslog_format));
    // Read before anything is sent: a state that cannot be used is exit 2, not a fresh start.
    let (mut store, saved) = match &args.state {
        Some(location) => {
            let (store, saved) = StateStore::open(location, kube).await?;
            (Some(store), saved)
        }
        None => (None, None),
    };
    let prom = args.prometheus.client(kube)?;
    // With --once there is no next round to count failures in: one failure is enough to alert.
    let max_failures = if args.once {
        1
    } else {
        args.max_query_failures
    };
    // Cron decides when --once runs again; the deadline is the cap.
    let deadline = if args.once {
        MAX_DEADLINE
    } else {
        deadline_for(args.interval)
    };
    let mut monitor = Monitor::new(prom, args.spec(), max_failures, args.repeat, slack, syslog)
        .with_deadline(deadline);
    if let (Some(store), Some(saved)) = (&store, saved) {
        restore(&mut monitor, store, saved)?;
    }
    if args.once {
        let round = monitor.round(Timestamp::now()).await;
        print(out, &round)?;
        if let Some(store) = &mut store {
            store.save(&monitor.saved()).await?;
        }
        return Ok(if round.error.is_some() {
            Exit::Failure
        } else {
            Exit::problem_if(monitor.firing())
        });
    }
    let shutdown = sealos_shared::cli::shutdown_signal();
    tokio::pin!(shutdown);
    // Polled once now so the handlers are installed before the first round: a SIGTERM that
    // comes while a round is printed or its state written then ends the loop, not the process.
    if futures::FutureExt::now_or_never(&mut shutdown).is_some() {
        return Ok(Exit::Interrupted);
    }
    loop {
        let round = tokio::select! {
            round = monitor.round(Timestamp::now()) => round,
            () = &mut shutdown => break,
        };
        print(out, &round)?;
        if let Some(store) = &mut store {
            save_or_take_over(&mut monitor, store).await;
        }
        tokio::select! {
            () = tokio::time::sleep(args.interval) => {},
            () = &mut shutdown => break,
        }
    }
    // What was recorded before the interruption is kept: nothing taken is sent again.
    if let Some(store) = &mut store {
        save_or_take_over(&mut monitor, store).await;
    }
    Ok(Exit::Interrupted)
}

fn restore(monitor: &mut Monitor, store: &StateStore, saved: SavedState) -> Result<()> {
    monitor.restore(saved, Timestamp::now()).map_err(|e| {
        Error::usage(format!(
            "read monitor {}: {e}; move it aside to start afresh (its firing alerts would be sent again)",
            store.location()
        ))
    })
}

/// A failed save is reported and tried again next round. A conflict (another monitor wrote the
/// ConfigMap since it was read) is not overwritten: its state is taken up instead, so at worst
/// a notification is sent twice, never lost.
async fn save_or_take_over(monitor: &mut Monitor, store: &mut StateStore) {
    let Err(e) = store.save(&monitor.saved()).await else {
        return;
    };
    eprintln!("warning: {e}");
    if e.status_code() == Some(409) {
        match store.reload().await {
            Ok(Some(saved)) => {
                if let Err(e) = restore(monitor, store, saved) {
                    eprintln!("warning: {e}");
                }
            }
            Ok(None) => {}
            Err(e) => eprintln!("warning: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_webhook_never_shows_in_debug_output() {
        use clap::Parser;
        #[derive(Parser, Debug)]
        struct Cli {
            #[command(flatten)]
            monitor: MonitorArgs,
        }
        let cli = Cli::try_parse_from([
            "x",
            "--slack-webhook",
            "https://hooks.slack.com/services/T/B/SECRET",
        ])
        .unwrap();
        assert_eq!(
            cli.monitor.slack.slack_webhook.as_deref().unwrap(),
            "https://hooks.slack.com/services/T/B/SECRET"
        );
        assert!(!format!("{cli:?}").contains("SECRET"));
    }

    #[test]
    fn matchers_parse_as_label_value() {
        assert_eq!(
            parse_matcher("destination_service_namespace=sealos-system").unwrap(),
            (
                "destination_service_namespace".into(),
                "sealos-system".into()
            )
        );
        assert!(parse_matcher("no-equals").is_err());
        assert!(parse_matcher("bad-label=x").is_err());
        assert!(parse_matcher("1abc=x").is_err());
    }
}
