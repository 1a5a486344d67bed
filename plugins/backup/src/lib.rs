//! `kubectl sealos backup`: restorable, verifiable, streaming backups of the Istio, Sealos and
//! certificate configuration, to a file or S3. The format and S3 code live in
//! `sealos_shared::archive` and `sealos_shared::s3` (the cert plugin's `backup` writes the same).

pub mod create;
pub mod list;
pub mod prune;
pub mod restore;
pub mod schedule;
pub mod verify;

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use sealos_shared::cli::{CompletionArgs, GlobalFlags, examples, write_completion};
use sealos_shared::connection::{Kube, KubeFlags};
use sealos_shared::output::{Format, Out};
use sealos_shared::{Error, Exit, Result};

/// The field manager of restores, and the tool name in indexes.
pub const MANAGER: &str = "kubectl-sealos-backup";

/// restorable, verifiable backups of the Istio, Sealos and certificate configuration.
#[derive(Parser, Debug)]
#[command(
    name = "kubectl-sealos-backup",
    bin_name = "kubectl sealos backup",
    version = sealos_shared::version::VERSION,
    after_help = examples(&[
        "kubectl sealos backup create --to /backup/sealos-istio",
        "kubectl sealos backup create --s3 s3://sealos-backups/sealos-istio --encrypt-to age1...",
        "kubectl sealos backup list --s3 s3://sealos-backups/sealos-istio",
        "kubectl sealos backup list --dir /backup/sealos-istio -o json",
        "kubectl sealos backup create --to /backup/sealos-istio --sign-key ~/.ssh/backup_ed25519",
        "kubectl sealos backup verify /backup/sealos-istio/sealos-backup-20261125T191800.042Z-3f9a1c.tar.gz --trusted-signers allowed_signers",
        "kubectl sealos backup restore ARCHIVE --dry-run --namespace-map ns-old=ns-new",
        "kubectl sealos backup restore ARCHIVE -n ns-a --namespace-map ns-a=ns-b --host-map cloud.sealos.io=clone.sealos.io",
        "kubectl sealos backup prune --s3 s3://sealos-backups/sealos-istio --keep 14",
        "kubectl sealos backup schedule install nightly -n backups --schedule '0 3 * * *' --time-zone Asia/Shanghai --s3 s3://sealos-backups/prod --s3-secret backup-s3 --keep 14",
        "kubectl sealos backup schedule list -A",
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
    /// Back up the configuration into one streamed .tar.gz (a directory, a file, or S3).
    ///
    /// Exit 0 written and complete, 2 could not (nothing is left marked complete).
    Create(create::CreateArgs),
    /// List the backups in a directory or under an S3 prefix: time, size, counts, complete or not.
    List(list::ListArgs),
    /// Check every checksum, every object and the index of one archive.
    ///
    /// Exit 0 sound, 1 a mismatch (named) or, with --trusted-signers, a missing or untrusted
    /// signature, 2 could not read it (or its index object names a path, or is oversize).
    Verify(verify::VerifyArgs),
    /// Verify, then write an archive's objects in dependency order: only the kinds backup makes
    /// (and those named by --allow-kind), references following --namespace-map.
    ///
    /// Exit 0 all applied, 1 an object refused, failed or in conflict, 2 could not restore (bad or
    /// malformed archive, no cluster; nothing written).
    Restore(restore::RestoreArgs),
    /// Delete old complete backups: keep the newest N, or those younger than a duration.
    Prune(prune::PruneArgs),
    /// Scheduled backups in the cluster: a CronJob of the suite's image with read-only RBAC.
    Schedule(schedule::ScheduleArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell), or `install` the
    /// kubectl_complete-* links for completion inside kubectl (1.26+).
    Completion(CompletionArgs),
}

pub async fn run(args: Args) -> Result<Exit> {
    if let Command::Completion(completion) = &args.command {
        return write_completion::<Args>(completion, &mut std::io::stdout());
    }
    let mut out = Out::stdout(format_of(&args.command), args.global.color);
    run_with(&args, &mut out).await
}

/// The report format a command asked for.
pub fn format_of(command: &Command) -> Format {
    match command {
        Command::Create(a) => a.output,
        Command::List(a) => a.output,
        Command::Verify(a) => a.output,
        Command::Restore(a) => a.output,
        Command::Prune(a) => a.output,
        Command::Schedule(a) => a.format(),
        Command::Completion(_) => Format::Table,
    }
}

/// Runs a command, printing to `out` (tests pass a buffer). Only create, restore and schedule
/// reach the cluster: list, verify and prune read archives and work without a kubeconfig.
pub async fn run_with(args: &Args, out: &mut Out) -> Result<Exit> {
    // restore reads and verifies its archive first: a bad one is exit 2 with or without a cluster.
    let prepared = match &args.command {
        Command::Restore(a) => Some(restore::prepare(a, args.kube.requested_scope()).await?),
        Command::Create(_) => None,
        // A dry-run install prints without a cluster; the context's namespace when there is one.
        Command::Schedule(a) if !a.needs_cluster() => {
            let kube = args.kube.connect().await.ok();
            return execute(args, kube.as_ref(), out).await;
        }
        Command::Schedule(_) => None,
        _ => return execute(args, None, out).await,
    };
    let kube = args.kube.connect().await?;
    match prepared {
        Some(prepared) => restore::apply(prepared, &kube, out).await,
        None => execute(args, Some(&kube), out).await,
    }
}

/// Runs a command with the client (create and restore) and output given: tests pass the
/// sandbox's client and a buffer.
pub async fn execute(args: &Args, kube: Option<&Kube>, out: &mut Out) -> Result<Exit> {
    match (&args.command, kube) {
        (Command::Create(a), Some(kube)) => create::run(a, kube, out).await,
        (Command::Restore(a), Some(kube)) => restore::run(a, kube, out).await,
        (Command::Create(_) | Command::Restore(_), None) => {
            Err(Error::failed("create and restore need a cluster client"))
        }
        (Command::Schedule(a), kube) => schedule::run(a, &args.kube, kube, out).await,
        (Command::List(a), _) => list::run(a, out).await,
        (Command::Verify(a), _) => verify::run(a, out).await,
        (Command::Prune(a), _) => prune::run(a, out).await,
        (Command::Completion(completion), _) => write_completion::<Args>(completion, out.raw()),
    }
}

/// The clap command, for tests and documentation.
pub fn command() -> clap::Command {
    Args::command()
}

/// Where backups live, from `--dir DIR` / `--s3 URL` (default: the current directory).
pub(crate) fn location(
    output: Option<&PathBuf>,
    s3: Option<&str>,
) -> Result<sealos_shared::archive::location::Location> {
    use sealos_shared::archive::location::Location;
    match (output, s3) {
        (Some(_), Some(_)) => Err(Error::usage("give --dir or --s3, not both")),
        (_, Some(url)) => Ok(Location::S3(url.parse()?)),
        (Some(dir), None) => Ok(Location::Dir(dir.clone())),
        (None, None) => Ok(Location::Dir(PathBuf::from("."))),
    }
}

/// Completion's names: archives are local files (an s3:// URL is typed).
pub fn completion_sources(path: &[String], arg: &str) -> Option<sealos_shared::complete::Source> {
    match (path.first().map(String::as_str), arg) {
        (Some("verify" | "restore"), "archive") => Some(sealos_shared::complete::Source::Files),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn places_are_one_or_the_other() {
        assert!(location(Some(&PathBuf::from("/b")), Some("s3://x")).is_err());
        assert!(location(None, Some("bucket")).is_err());
    }

    /// `-o/--output` is the format everywhere; the old spellings are refused with the new one.
    #[test]
    fn old_spellings_exit_2_with_the_new_one() {
        for (args, hint) in [
            (
                &["x", "create", "--output", "/backup"][..],
                "\"/backup\": -o/--output is the report format; the backup directory or file is --to",
            ),
            (
                &["x", "list", "--output", "/backup"],
                "\"/backup\": -o/--output is the report format; the backup directory is --dir DIR",
            ),
            (
                &["x", "prune", "--keep", "3", "--output", "/b"],
                "the backup directory is --dir DIR",
            ),
            (
                &["x", "verify", "a.tar.gz", "--format", "json"],
                "--format was renamed: use -o/--output",
            ),
            (
                &["x", "create", "--format", "json"],
                "--format was renamed: use -o/--output",
            ),
            (
                &["x", "restore", "a.tar.gz", "--format"],
                "--format was renamed: use -o/--output",
            ),
        ] {
            let err = Args::try_parse_from(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
            assert!(err.to_string().contains(hint), "{args:?}: {err}");
        }
        let args = Args::try_parse_from(["x", "create", "--to", "/b", "--output", "json"]).unwrap();
        let Command::Create(create) = args.command else {
            panic!("not create");
        };
        assert_eq!(
            (create.to.unwrap(), create.output),
            (PathBuf::from("/b"), Format::Json)
        );
    }

    #[test]
    fn every_command_parses() {
        command().debug_assert();
        let args = Args::try_parse_from([
            "x",
            "restore",
            "a.tar.gz",
            "--namespace-map",
            "a=b",
            "--existing",
            "update",
            "--dry-run",
            "-o",
            "json",
        ])
        .unwrap();
        assert!(matches!(args.command, Command::Restore(_)));
    }
}
