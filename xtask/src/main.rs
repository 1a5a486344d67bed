//! `cargo xtask package`: builds each plugin, packs `kubectl-sealos-<verb>_v<version>_<os>_<arch>.tar.gz`
//! (the binary, LICENSE, README.md) into `dist/`, and writes each archive's sha256 into the
//! matching platform entry of `krew-manifests/sealos-<verb>.yaml`.
//! `cargo xtask readme-flags [--check]`: the README's tables of flags, from clap.

mod manifest;
mod package;
mod readme_flags;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "Project chores")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the release archives for the host platform (or --target) and record their sha256.
    Package(package::Options),
    /// Regenerate the README's tables of flags from the plugins' clap commands.
    ReadmeFlags(readme_flags::Options),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Package(options) => package::run(&options, &workspace_root()),
        Command::ReadmeFlags(options) => readme_flags::run(&options, &workspace_root()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// The workspace root: xtask lives one level below it.
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}
