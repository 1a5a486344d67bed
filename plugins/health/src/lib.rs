//! `kubectl sealos health`: judge the health of a Sealos + Istio platform, and watch it.
//!
//! Its commands land one by one; a command not built yet does not appear in `--help`.

use clap::{CommandFactory, Parser, Subcommand};
use sealos_shared::cli::{CompletionArgs, GlobalFlags, examples, write_completion};
use sealos_shared::{Exit, Result};

/// judge the health of a Sealos + Istio platform, and watch it.
#[derive(Parser, Debug)]
#[command(
    name = "kubectl-sealos-health",
    bin_name = "kubectl sealos health",
    version = sealos_shared::version::VERSION,
    after_help = examples(&[
        "kubectl sealos health --help",
        "kubectl sealos health completion bash > /etc/bash_completion.d/kubectl-sealos-health",
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
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion(CompletionArgs),
}

pub async fn run(args: Args) -> Result<Exit> {
    match args.command {
        Command::Completion(completion) => {
            write_completion::<Args>(completion.shell, &mut std::io::stdout())
        }
    }
}

/// The clap command, for tests and documentation.
pub fn command() -> clap::Command {
    Args::command()
}
