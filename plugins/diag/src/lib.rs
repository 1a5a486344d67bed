//! `kubectl sealos diag`: diagnose connectivity and performance, run runbooks, collect bundles.
//!
//! Its commands land one by one; a command not built yet does not appear in `--help`.

use clap::{CommandFactory, Parser, Subcommand};
use sealos_shared::cli::{CompletionArgs, GlobalFlags, examples, write_completion};
use sealos_shared::{Exit, Result};

/// diagnose connectivity and performance, run runbooks, collect bundles.
#[derive(Parser, Debug)]
#[command(
    name = "kubectl-sealos-diag",
    bin_name = "kubectl sealos diag",
    version = sealos_shared::version::VERSION,
    after_help = examples(&[
        "kubectl sealos diag --help",
        "kubectl sealos diag completion bash > /etc/bash_completion.d/kubectl-sealos-diag",
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
