//! `kubectl sealos diag`: diagnose connectivity (a verdict at each step of a request's path),
//! performance and certificates, run the guide's emergency runbooks with plans, confirmation
//! and an audit trail, and collect a redacted diagnostic bundle.

pub mod bundle;
pub mod certificates;
pub mod connectivity;
pub mod envoy;
pub mod finding;
pub mod list;
pub mod logs;
pub mod metrics;
pub mod performance;
pub mod reachability;
pub mod runbook;

use clap::{CommandFactory, Parser, Subcommand};
use sealos_shared::cli::{CompletionArgs, GlobalFlags, examples, write_completion};
use sealos_shared::connection::{Kube, KubeFlags};
use sealos_shared::output::Out;
use sealos_shared::{Exit, Result};

/// diagnose connectivity, performance and certificates, run runbooks, collect bundles.
#[derive(Parser, Debug)]
#[command(
    name = "kubectl-sealos-diag",
    bin_name = "kubectl sealos diag",
    version = sealos_shared::version::VERSION,
    after_help = examples(&[
        "kubectl sealos diag connectivity app-test -n ns-bob",
        "kubectl sealos diag connectivity blog -n ns-carol --host blog-test.cloud.sealos.io -o json",
        "kubectl sealos diag reachability ingress-gateway deployment/terminal-controller -n sealos-system --port 8080",
        "kubectl sealos diag reachability --all-from --all-to -n sealos-system -o json",
        "kubectl sealos diag performance --since 30m",
        "kubectl sealos diag certificates",
        "kubectl sealos diag runbook list",
        "kubectl sealos diag runbook run memory-leak --threshold 256Mi --dry-run",
        "kubectl sealos diag runbook run high-error-rate --yes --reason \"5xx at 12%\"",
        "kubectl sealos diag bundle --to /tmp/diag.tar.gz --since 1h -n ns-bob,ns-carol",
    ]),
)]
pub struct Args {
    #[command(flatten)]
    pub global: GlobalFlags,
    #[command(flatten)]
    pub kube: KubeFlags,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Walk a request's path to APP and give a verdict at each step.
    ///
    /// Exit 0 when no finding reaches --fail-on, 1 when one does, 2 could not check.
    Connectivity(connectivity::ConnectivityArgs),
    /// May FROM talk to TO? NetworkPolicies, mTLS and AuthorizationPolicies, layer by layer,
    /// with the objects that decide.
    ///
    /// Exit 0 allowed, 1 refused, 2 cannot judge.
    Reachability(reachability::ReachabilityArgs),
    /// Rank istio-proxy containers by memory and CPU against their limits; istiod's errors.
    ///
    /// Exit 1 when a proxy is at or above --memory-percent of its limit or istiod logged errors.
    Performance(performance::PerformanceArgs),
    /// Certificates not Ready or close to expiry, and cert-manager's errors.
    ///
    /// Exit 1 when a certificate needs attention or cert-manager logged errors.
    Certificates(certificates::CertificatesArgs),
    /// The guide's emergency runbooks: plan, confirm, act, audit, report.
    #[command(subcommand)]
    Runbook(runbook::RunbookCommand),
    /// Write a diagnostic archive (objects, events, logs, Envoy config dumps), Secrets redacted,
    /// to --to FILE.
    ///
    /// -n takes a comma-separated list of extra namespaces.
    Bundle(bundle::BundleArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell), or `install` the
    /// kubectl_complete-* links for completion inside kubectl (1.26+).
    Completion(CompletionArgs),
}

pub async fn run(args: Args) -> Result<Exit> {
    let format = match &args.command {
        Command::Connectivity(c) => c.output,
        Command::Reachability(r) => {
            r.plan()?;
            r.output
        }
        Command::Performance(p) => p.output,
        Command::Certificates(c) => c.output,
        Command::Runbook(runbook::RunbookCommand::Run(r)) => r.output,
        Command::Runbook(runbook::RunbookCommand::List(list)) => {
            let mut out = Out::stdout(list.output, args.global.color);
            return runbook::list_runbooks(&mut out);
        }
        Command::Bundle(b) => b.output,
        Command::Completion(completion) => {
            return write_completion::<Args>(completion, &mut std::io::stdout());
        }
    };
    let mut out = Out::stdout(format, args.global.color);
    let kube = args.kube.connect().await?;
    execute(&args.command, &kube, &mut out).await
}

/// Runs a command that needs the cluster, with the client and output given (tests pass the
/// sandbox's client and a buffer).
pub async fn execute(command: &Command, kube: &Kube, out: &mut Out) -> Result<Exit> {
    match command {
        Command::Connectivity(c) => connectivity::run(c, kube, out).await,
        Command::Reachability(r) => reachability::run(r, kube, out).await,
        Command::Performance(p) => performance::run(p, kube, out).await,
        Command::Certificates(c) => certificates::run(c, kube, out).await,
        Command::Runbook(runbook::RunbookCommand::Run(r)) => runbook::run(r, kube, out).await,
        Command::Runbook(runbook::RunbookCommand::List(_)) => runbook::list_runbooks(out),
        Command::Bundle(b) => bundle::run(b, kube, out).await,
        Command::Completion(completion) => write_completion::<Args>(completion, out.raw()),
    }
}

/// The clap command, for tests and documentation.
pub fn command() -> clap::Command {
    Args::command()
}

/// Completion's names from the cluster: the apps `connectivity` walks.
pub fn completion_sources(path: &[String], arg: &str) -> Option<sealos_shared::complete::Source> {
    match (path.first().map(String::as_str), arg) {
        (Some("connectivity"), "app") => Some(sealos_shared::complete::Source::Apps),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        command().debug_assert();
        let args = Args::try_parse_from([
            "x",
            "connectivity",
            "app-test",
            "-n",
            "ns-bob",
            "--fail-on",
            "warn",
            "-o",
            "json",
        ])
        .unwrap();
        assert_eq!(args.kube.namespace.as_deref(), Some("ns-bob"));
        let Command::Connectivity(c) = args.command else {
            panic!("not connectivity");
        };
        assert_eq!(c.fail_on, sealos_shared::flags::FailOn::Warn);
        assert!(Args::try_parse_from(["x", "connectivity", "a", "--fail-on", "fatal"]).is_err());
        let args =
            Args::try_parse_from(["x", "bundle", "--to", "/tmp/x.tar.gz", "-n", "a,b"]).unwrap();
        assert!(matches!(args.command, Command::Bundle(_)));
        // One duration rule everywhere: a bare number is seconds.
        let args = Args::try_parse_from(["x", "performance", "--since", "30"]).unwrap();
        let Command::Performance(p) = args.command else {
            panic!("not performance");
        };
        assert_eq!(p.since, std::time::Duration::from_secs(30));
        for bad in [
            ["x", "runbook", "run", "memory-leak", "--timeout", "1e20"],
            ["x", "runbook", "run", "memory-leak", "--pause", "inf"],
            ["x", "performance", "--since", "500000000y", "-o", "json"],
        ] {
            assert!(Args::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
