//! `kubectl sealos bench`: a load generator as fast as wrk with honest latency statistics
//! (HDR histograms, coordinated-omission-corrected open loop, failures counted), concurrency
//! sweeps, SLO verdicts, baseline comparison and cluster-derived targets.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use sealos_shared::cli::{CompletionArgs, GlobalFlags, examples, write_completion};
use sealos_shared::connection::Kube;
use sealos_shared::output::{Format, Out};
use sealos_shared::{Error, Exit, Result};

pub mod client;
pub mod compare;
pub mod csv;
pub mod engine;
pub mod fleet;
pub mod load;
pub mod plan;
pub mod report;
pub mod run;
pub mod slo;
pub mod stats;
pub mod targets;

/// benchmark services with honest latency statistics.
#[derive(Parser, Debug)]
#[command(
    name = "kubectl-sealos-bench",
    bin_name = "kubectl sealos bench",
    version = sealos_shared::version::VERSION,
    after_help = examples(&[
        "kubectl sealos bench run http://127.0.0.1:8080/ -c 1,10,50,100 -z 30s",
        "kubectl sealos bench run https://app.example.com/ -c 50 --rate 2000 -z 1m --slo 'p95<500ms,success>=99.9%'",
        "kubectl sealos bench run --from-cluster --gateway-url http://10.0.0.10/ -n 1000 --csv results.csv",
        "kubectl sealos bench compare baseline.csv results.csv --max-p95-regression 20%",
        "kubectl sealos bench targets --gateway-url http://10.0.0.10/",
    ]),
)]
pub struct Args {
    #[command(flatten)]
    pub global: GlobalFlags,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Load URLs at each concurrency; print latency percentiles, rps, success and errors.
    Run(Box<run::RunArgs>),
    /// Compare two result files (the JSON report or the CSV) step by step; exit 1 on regression.
    Compare(CompareArgs),
    /// List the hosts VirtualServices bind to the ingress gateway (what --from-cluster runs).
    Targets(TargetsArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell), or `install` the
    /// kubectl_complete-* links for completion inside kubectl (1.26+).
    Completion(CompletionArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct CompareArgs {
    /// The baseline results: a `run -o json` report or a `--csv` file.
    #[arg(value_name = "BASELINE")]
    pub baseline: PathBuf,
    /// The current results, in either format.
    #[arg(value_name = "CURRENT")]
    pub current: PathBuf,
    /// A p95 latency higher than the baseline's by more than this is a regression.
    #[arg(long, value_name = "PERCENT", default_value = "20%", value_parser = parse_regression)]
    pub max_p95_regression: f64,
    /// Requests per second lower than the baseline's by more than this is a regression.
    #[arg(long, value_name = "PERCENT", default_value = "10%", value_parser = parse_share)]
    pub max_rps_drop: f64,
    /// A success rate below this is a regression.
    #[arg(long, value_name = "PERCENT", default_value = "99%", value_parser = parse_share)]
    pub min_success: f64,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(clap::Args, Debug, Clone)]
pub struct TargetsArgs {
    /// The ingress gateway's URL: targets are requested there with their host as Host header.
    #[arg(long, value_name = "URL", value_parser = check_url)]
    pub gateway_url: Option<String>,
    #[command(flatten)]
    pub cluster: targets::ClusterFlags,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

fn check_url(text: &str) -> std::result::Result<String, String> {
    plan::parse_url(text).map(|_| text.to_string())
}

/// `20%` or `20`: a share of something, 0 to 100 percent.
fn parse_share(text: &str) -> std::result::Result<f64, String> {
    percent(text, 100.0)
}

/// A regression in percent: 0 and up (a p95 may double: 100%, or worse).
fn parse_regression(text: &str) -> std::result::Result<f64, String> {
    percent(text, 1e6)
}

fn percent(text: &str, max: f64) -> std::result::Result<f64, String> {
    sealos_shared::number::float(text.trim().trim_end_matches('%'), 0.0, max)
        .map_err(|why| format!("{why}: not a percentage (e.g. 20%)"))
}

pub async fn run(args: Args) -> Result<Exit> {
    let (format, cluster) = match &args.command {
        // --workers creates a Job (the workers themselves read no cluster).
        Command::Run(r) => (
            r.output,
            (r.from_cluster || (r.workers.is_some() && r.fleet.worker_of.is_none()))
                .then_some(&r.cluster),
        ),
        Command::Compare(c) => (c.output, None),
        Command::Targets(t) => (t.output, Some(&t.cluster)),
        Command::Completion(completion) => {
            return write_completion::<Args>(completion, &mut std::io::stdout());
        }
    };
    // Bad --workers input is refused before any connection is made.
    if let Command::Run(r) = &args.command
        && let Some(workers) = r.workers
    {
        fleet::validate(r, workers)?;
    }
    let mut out = Out::stdout(format, args.global.color);
    // Only --from-cluster and `targets` read the cluster.
    let kube = match cluster {
        Some(flags) => Some(flags.kube_flags().connect().await?),
        None => None,
    };
    execute(&args.command, kube.as_ref(), &mut out).await
}

/// Runs a command with the client (where it reads the cluster) and output given: tests pass
/// the sandbox's client and a buffer.
pub async fn execute(command: &Command, kube: Option<&Kube>, out: &mut Out) -> Result<Exit> {
    match command {
        // `run` listens for Ctrl-C itself: it stops the load and still reports.
        Command::Run(run_args) => run::execute(run_args, kube, out).await,
        other => {
            tokio::select! {
                result = dispatch(other, kube, out) => result,
                () = sealos_shared::cli::shutdown_signal() => Err(Error::Interrupted),
            }
        }
    }
}

async fn dispatch(command: &Command, kube: Option<&Kube>, out: &mut Out) -> Result<Exit> {
    match (command, kube) {
        (Command::Run(run_args), _) => run::execute(run_args, kube, out).await,
        (Command::Compare(args), _) => compare_files(args, out),
        (Command::Targets(args), Some(kube)) => targets::run(args, kube, out).await,
        (Command::Targets(_), None) => Err(Error::failed("targets needs a cluster client")),
        (Command::Completion(completion), _) => write_completion::<Args>(completion, out.raw()),
    }
}

fn compare_files(args: &CompareArgs, out: &mut Out) -> Result<Exit> {
    let baseline = compare::load(&args.baseline)?;
    let current = compare::load(&args.current)?;
    let thresholds = compare::Thresholds {
        max_p95_regression: args.max_p95_regression,
        max_rps_drop: args.max_rps_drop,
        min_success: args.min_success,
    };
    let steps = compare::compare(&baseline, &current, thresholds);
    let regressions = steps
        .iter()
        .filter(|d| d.verdict == compare::Verdict::Regression)
        .count();
    let comparison = compare::Comparison {
        kind: "BenchComparison",
        baseline: args.baseline.display().to_string(),
        current: args.current.display().to_string(),
        max_p95_regression: args.max_p95_regression,
        max_rps_drop: args.max_rps_drop,
        min_success: args.min_success,
        regressions,
        passed: regressions == 0,
        steps,
    };
    if out.format.is_machine() {
        out.data(&comparison)?;
    } else {
        let table = compare::table(&comparison.steps, &out.theme);
        out.table(&table)?;
    }
    Ok(Exit::problem_if(regressions > 0))
}

/// The clap command, for tests and documentation.
pub fn command() -> clap::Command {
    Args::command()
}
