//! `cargo xtask package`: builds each plugin, packs `kubectl-sealos-<verb>_v<version>_<os>_<arch>.tar.gz`
//! (the binary, LICENSE, README.md) and the suite's `kubectl-sealos_v<version>_<os>_<arch>.tar.gz`
//! (all seven binaries) into `dist/`, and writes each archive's sha256 into the matching platform
//! entry of its krew manifest. `cargo xtask check-manifests`: krew's own manifest rules.
//! `cargo xtask readme-flags [--check]`: the README's tables of flags, from clap.
//! `cargo xtask readme-rbac [--check]`: the README's RBAC table, from the rules install writes.

mod krew;
mod manifest;
mod package;
mod readme_flags;
mod readme_rbac;
#[cfg(test)] // krew-release-bot renders .krew.yaml on a release; here only the test does.
mod release_bot;

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
    /// Regenerate the README's RBAC table from the rules `install` writes.
    ReadmeRbac(readme_rbac::Options),
    /// Check every krew manifest by krew's rules, and the archives in --dist against them.
    CheckManifests(CheckOptions),
    /// Write the sha256 of every archive found in --dist into its manifest (a release's five
    /// platforms, built on five machines).
    RecordManifests(CheckOptions),
}

#[derive(clap::Args)]
struct CheckOptions {
    /// The directory of krew manifests (every *.yaml in it).
    #[arg(long, default_value = "krew-manifests")]
    manifests: PathBuf,
    /// Where built archives are; those present are checked (sha256, bin and LICENSE inside).
    #[arg(long)]
    dist: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Package(options) => package::run(&options, &workspace_root()),
        Command::CheckManifests(options) => return check_manifests(&options),
        Command::RecordManifests(options) => record_manifests(&options),
        Command::ReadmeFlags(options) => readme_flags::run(&options, &workspace_root()),
        Command::ReadmeRbac(options) => readme_rbac::run(&options, &workspace_root()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn record_manifests(options: &CheckOptions) -> anyhow::Result<()> {
    let root = workspace_root();
    let dist = root.join(options.dist.as_deref().unwrap_or("dist".as_ref()));
    let mut recorded = 0;
    for path in manifest_paths(&root.join(&options.manifests))? {
        recorded += package::record_present(&path, &dist)?;
    }
    if recorded == 0 {
        anyhow::bail!("no archive named by a manifest is in {}", dist.display());
    }
    Ok(())
}

/// The `*.yaml` files of a manifest directory, sorted.
fn manifest_paths(dir: &std::path::Path) -> anyhow::Result<Vec<PathBuf>> {
    use anyhow::Context;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Prints each manifest's problems; exit 1 when there are any, 2 when one cannot be read.
fn check_manifests(options: &CheckOptions) -> ExitCode {
    let root = workspace_root();
    let dir = root.join(&options.manifests);
    let dist = options.dist.as_ref().map(|d| root.join(d));
    let paths = match manifest_paths(&dir) {
        Ok(paths) => paths,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::from(2);
        }
    };
    let mut found = 0;
    for path in &paths {
        match krew::check_file(path, dist.as_deref()) {
            Ok(problems) if problems.is_empty() => println!("ok    {}", path.display()),
            Ok(problems) => {
                found += problems.len();
                for problem in problems {
                    println!("FAIL  {}: {problem}", path.display());
                }
            }
            Err(err) => {
                eprintln!("error: {err:#}");
                return ExitCode::from(2);
            }
        }
    }
    if found == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
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
