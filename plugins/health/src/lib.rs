//! `kubectl sealos health`: judge the health of a Sealos + Istio platform, watch its traffic and
//! alert, and manage the guide's Prometheus alert rules.

pub mod check;
pub mod monitor;
pub mod rules;

use clap::{CommandFactory, Parser, Subcommand};
use sealos_shared::cli::{CompletionArgs, GlobalFlags, examples, write_completion};
use sealos_shared::connection::{Kube, KubeFlags};
use sealos_shared::output::Out;
use sealos_shared::{Exit, Result};

/// judge the health of a Sealos + Istio platform, and watch it.
///
/// Without a command, runs `check`.
#[derive(Parser, Debug)]
#[command(
    name = "kubectl-sealos-health",
    bin_name = "kubectl sealos health",
    version = sealos_shared::version::VERSION,
    after_help = examples(&[
        "kubectl sealos health",
        "kubectl sealos health --only gateways,certificates -o json",
        "kubectl sealos health --fail-on warn --skip traffic",
        "kubectl sealos health monitor --once --state ~/.local/state/sealos-monitor.json --slack-webhook \"$SLACK_WEBHOOK_URL\"",
        "kubectl sealos health monitor install --slack-webhook-secret slack/url --dry-run -o yaml",
        "kubectl sealos health monitor status",
        "kubectl sealos health rules --apply --dry-run",
    ]),
)]
pub struct Args {
    #[command(flatten)]
    pub global: GlobalFlags,
    #[command(flatten)]
    pub kube: KubeFlags,
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub check: check::CheckArgs,
}

// Parsed once per process: the size of the monitor's flags costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run every check concurrently and print one row per finding, worst first (the default).
    ///
    /// Exit 0 healthy, 1 a finding at or above --fail-on, 2 could not check.
    Check(check::CheckArgs),
    /// Watch the 5xx ratio and P95 latency in Prometheus and alert to Slack, syslog and stdout.
    ///
    /// Alerts fire on the transition to bad, repeat no more often than --repeat, and resolve;
    /// each sink is retried every round until it takes them. --state keeps this across restarts
    /// and cron runs (a file, or configmap/NAMESPACE/NAME).
    Monitor(monitor::MonitorCommand),
    /// Print (or --apply) the guide's five alert rules as a PrometheusRule.
    Rules(rules::RulesArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion(CompletionArgs),
}

pub async fn run(args: Args) -> Result<Exit> {
    // Bad input is refused before the client is built; a command that needs no cluster
    // (rules without --apply, Prometheus by URL) runs without a kubeconfig.
    let (format, needs_cluster) = match &args.command {
        None => (args.check.output, check::needs_cluster(&args.check)?),
        Some(Command::Check(check)) => (check.output, check::needs_cluster(check)?),
        Some(Command::Monitor(monitor)) => (monitor.format(), monitor.needs_cluster()),
        Some(Command::Rules(rules)) => (rules.output.into(), rules.apply),
        Some(Command::Completion(completion)) => {
            return write_completion::<Args>(completion.shell, &mut std::io::stdout());
        }
    };
    let mut out = Out::stdout(format, args.global.color);
    let kube = match needs_cluster {
        true => Some(args.kube.connect().await?),
        false => None,
    };
    execute(&args, kube.as_ref(), &mut out).await
}

/// Runs the command with the client (if it needs one) and output given: tests pass the
/// sandbox's client and a buffer.
pub async fn execute(args: &Args, kube: Option<&Kube>, out: &mut Out) -> Result<Exit> {
    match &args.command {
        None => check::run(&args.check, kube, out).await,
        Some(Command::Check(check)) => check::run(check, kube, out).await,
        Some(Command::Monitor(monitor)) => {
            monitor::dispatch(monitor, args.kube.requested_scope(), kube, out).await
        }
        Some(Command::Rules(rules)) => rules::run(rules, kube, out).await,
        Some(Command::Completion(completion)) => {
            write_completion::<Args>(completion.shell, out.raw())
        }
    }
}

/// The clap command, for tests and documentation.
pub fn command() -> clap::Command {
    Args::command()
}
