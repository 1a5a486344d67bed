//! `kubectl sealos rollout`: shift each Sealos controller's traffic between Ingress and Istio,
//! safely: status, set, rollback, history, and progressive plans gated on live traffic.
//!
//! The shifting itself (finding the container, the patch, conflicts, the rollout wait, history,
//! audit and Events) is `sealos_shared::traffic_shift`, which `diag`'s runbooks reuse; this crate
//! holds the commands, their reports and rendering, and the plan.

pub mod history;
pub mod notify;
pub mod plan;
pub mod select;
pub mod shift;
pub mod status;

use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use sealos_shared::cli::{CompletionArgs, GlobalFlags, examples, write_completion};
use sealos_shared::connection::{Kube, KubeFlags};
use sealos_shared::output::{Format, Out};
use sealos_shared::{Exit, Result};

pub use history::HistoryArgs;
pub use plan::PlanArgs;
pub use shift::{RollbackArgs, SetArgs, ShiftReport};
pub use status::{StatusArgs, StatusReport};

/// The plugin name in audit records.
pub const PLUGIN: &str = "rollout";

/// shift each Sealos controller's traffic between Ingress and Istio, safely.
#[derive(Parser, Debug)]
#[command(
    name = "kubectl-sealos-rollout",
    bin_name = "kubectl sealos rollout",
    version = sealos_shared::version::VERSION,
    allow_negative_numbers = true,
    after_help = examples(&[
        "kubectl sealos rollout status",
        "kubectl sealos rollout set terminal-controller 25 --reason \"canary\"",
        "kubectl sealos rollout set --all 100 --dry-run",
        "kubectl sealos rollout rollback --all --reason \"5xx spike\"",
        "kubectl sealos rollout history terminal-controller",
        "kubectl sealos rollout plan terminal-controller --steps 10,25,50,100 --pause 10m",
        "kubectl sealos rollout completion bash > /etc/bash_completion.d/kubectl-sealos-rollout",
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
    /// One row per controller: mode, Istio share, readiness, rollout, last change, warnings.
    Status(StatusArgs),
    /// Set the Istio share (0-100) of controllers; the mode follows (0 ingress, 100 istio, else dual).
    #[command(allow_negative_numbers = true)]
    Set(SetArgs),
    /// Move controllers back to ingress / 0% at once (the emergency path).
    Rollback(RollbackArgs),
    /// The previous settings of a controller, with time, actor and reason.
    History(HistoryArgs),
    /// Move a controller through steps, checking its 5xx ratio and P95 between them.
    Plan(PlanArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell), or `install` the
    /// kubectl_complete-* links for completion inside kubectl (1.26+).
    Completion(CompletionArgs),
}

/// Flags of the commands that change controllers.
#[derive(clap::Args, Debug, Clone)]
pub struct MutationFlags {
    /// Why: recorded in the history annotation, the audit log and the Event.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print the change (before → after) and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How long to wait for the rollouts ("300s", "5m"; 0 waits for ever).
    #[arg(long, value_name = "DURATION", default_value = "300s", value_parser = sealos_shared::number::duration_or_zero)]
    pub timeout: Duration,
    /// Return once the change is written, without waiting for the rollout.
    #[arg(long)]
    pub no_wait: bool,
    /// The audit log (default: $XDG_STATE_HOME/kubectl-sealos/audit.jsonl).
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
    /// The container holding NETWORKING_MODE / ISTIO_PERCENTAGE (default: the one declaring them).
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
}

/// The namespace the controllers are looked for in: `-n`, else `sealos-system` (not the
/// context's namespace: the controllers live there whatever the context says). `-A` is refused:
/// a change must name the namespace it acts in.
pub fn controller_namespace(kube: &Kube) -> Result<String> {
    if kube.all_namespaces {
        return Err(sealos_shared::Error::usage(
            "rollout works in one namespace: use -n NAMESPACE (default sealos-system), not -A",
        ));
    }
    Ok(kube
        .requested_namespace
        .clone()
        .unwrap_or_else(|| sealos_shared::traffic_shift::NAMESPACE.to_string()))
}

/// Runs a command with the client and output given: the one place commands get them (tests
/// pass the sandbox's client and a buffer).
pub async fn execute(command: &Command, kube: &Kube, out: &mut Out) -> Result<Exit> {
    match command {
        Command::Status(a) => status::run(a, kube, out).await,
        Command::Set(a) => shift::run_set(a, kube, out).await,
        Command::Rollback(a) => shift::run_rollback(a, kube, out).await,
        Command::History(a) => history::run(a, kube, out).await,
        Command::Plan(a) => plan::run(a, kube, out).await,
        Command::Completion(completion) => write_completion::<Args>(completion, out.raw()),
    }
}

/// kubectl's forms of naming controllers (`deployment/x`, `-f -` with `kubectl get -o
/// name|json|yaml`) made into the names the commands take, before anything is sent: a wrong kind
/// ends the command here with exit 2. A namespace the input names becomes `-n`'s.
pub fn take_input(args: &mut Args) -> Result<()> {
    use sealos_shared::input::{DEPLOYMENT, parse_word, resolve};
    let kube = &mut args.kube;
    match &mut args.command {
        Command::Status(a) => {
            a.components = resolve(&a.components, &a.filename, &[&DEPLOYMENT], kube)?
        }
        Command::Set(a) => {
            let (names, percent) = select::split_percent(&a.args)?;
            let percent = percent.to_string();
            let mut names = resolve(names, &a.filename, &[&DEPLOYMENT], kube)?;
            names.push(percent);
            a.args = names;
        }
        Command::Rollback(a) => {
            a.components = resolve(&a.components, &a.filename, &[&DEPLOYMENT], kube)?
        }
        Command::History(a) => a.component = parse_word(&a.component, &[&DEPLOYMENT])?.name,
        Command::Plan(a) => a.component = parse_word(&a.component, &[&DEPLOYMENT])?.name,
        Command::Completion(_) => {}
    }
    Ok(())
}

pub async fn run(mut args: Args) -> Result<Exit> {
    take_input(&mut args)?;
    let output = match &args.command {
        Command::Status(a) => &a.output,
        Command::Set(a) => &a.output,
        Command::Rollback(a) => &a.output,
        Command::History(a) => &a.output,
        Command::Plan(a) => &a.output,
        Command::Completion(completion) => {
            return write_completion::<Args>(completion, &mut std::io::stdout());
        }
    };
    let mut out = Out::stdout(output.output, args.global.color);
    let kube = args.kube.connect().await?;
    execute(&args.command, &kube, &mut out).await
}

/// `-o` for every command with output.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OutputFlags {
    /// Output format: table, wide, json or yaml.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

/// The clap command, for tests and documentation.
pub fn command() -> clap::Command {
    Args::command()
}

/// Completion's names from the cluster: the controllers wherever a command takes them.
pub fn completion_sources(path: &[String], arg: &str) -> Option<sealos_shared::complete::Source> {
    let controllers = sealos_shared::complete::Source::Controllers {
        default_namespace: sealos_shared::traffic_shift::NAMESPACE,
    };
    match (path.first().map(String::as_str), arg) {
        (Some("set"), "args")
        | (Some("rollback"), "components")
        | (Some("history" | "plan"), "component")
        | (Some("status"), "components") => Some(controllers),
        _ => None,
    }
}
