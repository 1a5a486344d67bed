//! `backup schedule install|uninstall|list`: scheduled backups as a CronJob of the suite's image,
//! installed with the shared kit (`sealos_shared::install`: labels, ServiceAccount and RBAC from
//! rules, restricted pod, server-side apply, uninstall by label).
//!
//! Each run is one process, `kubectl-sealos-backup create --s3 URL --prune-keep N`: the image has
//! no shell to chain `create && prune`, and one process prunes only after its own backup is
//! complete. The S3 credentials come from a Secret through `envFrom`, so they are never in the
//! manifest, the output or the audit log.

pub mod cron;
pub mod cronjob;
pub mod install;
pub mod rbac;
pub mod runs;

use clap::{Args, Subcommand};
use sealos_shared::connection::{Kube, KubeFlags};
use sealos_shared::output::{Format, Out};
use sealos_shared::{Exit, Result};

/// The kit's `app.kubernetes.io/component` of a backup schedule.
pub const COMPONENT: &str = "backup-schedule";

#[derive(Args, Debug)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub command: ScheduleCommand,
}

#[derive(Subcommand, Debug)]
pub enum ScheduleCommand {
    /// Install (or update) a CronJob that backs up to S3 on a schedule and keeps the newest N,
    /// with its own ServiceAccount allowed to read exactly what the backup reads.
    ///
    /// Exit 0 applied (or printed with --dry-run), 2 bad input (nothing written) or a refused write.
    Install(Box<install::InstallArgs>),
    /// Delete everything `install` made for this schedule (found by its labels), and its Jobs.
    Uninstall(install::UninstallArgs),
    /// The installed schedules and their runs (the Jobs' status), from the API server only.
    ///
    /// Exit 0, or 1 when a schedule's newest run failed.
    List(runs::ListArgs),
}

impl ScheduleArgs {
    pub fn format(&self) -> Format {
        match &self.command {
            ScheduleCommand::Install(a) => a.output,
            ScheduleCommand::Uninstall(a) => a.output,
            ScheduleCommand::List(a) => a.output,
        }
    }
}

impl ScheduleArgs {
    /// Only `install --dry-run` works without a cluster (it still takes the context's
    /// namespace when there is a kubeconfig).
    pub fn needs_cluster(&self) -> bool {
        !matches!(&self.command, ScheduleCommand::Install(a) if a.install.dry_run)
    }
}

/// Runs a schedule command; `kube` is `None` only for `install --dry-run` without a kubeconfig.
pub async fn run(
    args: &ScheduleArgs,
    flags: &KubeFlags,
    kube: Option<&Kube>,
    out: &mut Out,
) -> Result<Exit> {
    let requested = flags.namespace.as_deref();
    match (&args.command, kube) {
        (ScheduleCommand::Install(a), kube) => install::install(a, requested, kube, out).await,
        (ScheduleCommand::Uninstall(a), Some(kube)) => {
            install::uninstall(a, requested, kube, out).await
        }
        (ScheduleCommand::List(a), Some(kube)) => runs::list(a, kube, kube.scope(), out).await,
        (_, None) => Err(sealos_shared::Error::failed(
            "schedule uninstall and list need a cluster client",
        )),
    }
}

/// The value of `flag` in a command line (`--flag VALUE` or `--flag=VALUE`), as read back from a
/// CronJob's container.
pub fn arg_value(args: &[String], flag: &str) -> Option<String> {
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == flag {
            return it.next().cloned();
        }
        if let Some(value) = arg
            .strip_prefix(flag)
            .and_then(|rest| rest.strip_prefix('='))
        {
            return Some(value.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_back_from_a_command_line() {
        let args: Vec<String> = ["create", "--s3", "s3://b/p/", "--prune-keep=3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(arg_value(&args, "--s3").as_deref(), Some("s3://b/p/"));
        assert_eq!(arg_value(&args, "--prune-keep").as_deref(), Some("3"));
        assert_eq!(arg_value(&args, "--include"), None);
    }
}
