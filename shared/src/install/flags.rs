//! The flags every `install`/`uninstall` takes.

use std::path::PathBuf;

use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct InstallFlags {
    /// Print what would be applied or deleted (install: the manifest, as -o says), send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where mutating commands record what they did (default: ~/.local/state/kubectl-sealos/audit.jsonl).
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
}
