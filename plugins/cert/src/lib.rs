//! `kubectl sealos cert`: check, renew, inspect and back up cert-manager certificates from their X.509 data.
//!
//! Its commands land one by one; a command not built yet does not appear in `--help`.

pub mod backup;
pub mod check;
pub mod cluster;
pub mod inspect;
pub mod renew;

use clap::{CommandFactory, Parser, Subcommand};
use sealos_shared::cli::{CompletionArgs, GlobalFlags, examples, write_completion};
use sealos_shared::connection::{Kube, KubeFlags};
use sealos_shared::output::{Format, Out};
use sealos_shared::{Exit, Result};

/// check, renew and inspect cert-manager certificates from their X.509 data.
#[derive(Parser, Debug)]
#[command(
    name = "kubectl-sealos-cert",
    bin_name = "kubectl sealos cert",
    version = sealos_shared::version::VERSION,
    after_help = examples(&[
        "kubectl sealos cert check -A",
        "kubectl sealos cert check -n ns-alice --warn-days 45 --fail-on warn -o json",
        "kubectl sealos cert renew --not-ready -A --dry-run",
        "kubectl sealos cert renew terminal-test-tls -n ns-alice --wait --timeout 2m",
        "kubectl sealos cert renew --expiring-within 7d -A",
        "kubectl sealos cert inspect dbadmin-test-tls -n ns-alice",
        "kubectl sealos cert inspect --secret wildcard-cloud-sealos-io-tls -n istio-system",
        "kubectl sealos cert backup --to /backup/certs -A",
        "kubectl sealos cert backup --s3 s3://sealos-backups/certs --encrypt-to age1... -o json",
        "kubectl sealos cert completion bash > /etc/bash_completion.d/kubectl-sealos-cert",
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
    /// One row per Certificate (and Gateway TLS Secret without one): expiry from the X.509
    /// data, readiness, renewal, failing issuance, SANs and key. Exit 1 on problems.
    Check(check::CheckArgs),
    /// Trigger re-issuance as `cmctl renew` does (Issuing=True, never a delete), optionally
    /// waiting until each certificate is re-issued and Ready.
    Renew(renew::RenewArgs),
    /// The decoded chain, key match, status and latest CertificateRequest of one certificate.
    Inspect(inspect::InspectArgs),
    /// Back up Certificates, Issuers, ClusterIssuers and the certificates' Secrets in the
    /// suite's backup format (`kubectl sealos backup verify|restore` read it). Exit 2 if incomplete.
    Backup(backup::BackupArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell), or `install` the
    /// kubectl_complete-* links for completion inside kubectl (1.26+).
    Completion(CompletionArgs),
}

impl Args {
    /// The command's `-o`.
    pub fn format(&self) -> Format {
        match &self.command {
            Command::Check(c) => c.output,
            Command::Renew(r) => r.output,
            Command::Inspect(i) => i.output,
            Command::Backup(b) => b.output,
            Command::Completion(_) => Format::default(),
        }
    }
}

pub async fn run(args: Args) -> Result<Exit> {
    let mut out = Out::stdout(args.format(), args.global.color);
    execute(args, &mut out).await
}

/// `run` with the output given: tests pass a buffer. Bad input is refused before the one
/// client is built.
pub async fn execute(mut args: Args, out: &mut Out) -> Result<Exit> {
    // kubectl's `TYPE/NAME` and `-f` forms become names first: a wrong kind is refused here.
    match &mut args.command {
        Command::Renew(renew) => {
            renew.names = sealos_shared::input::resolve(
                &renew.names,
                &renew.filename,
                &[&sealos_shared::input::CERTIFICATE],
                &mut args.kube,
            )?;
        }
        Command::Inspect(inspect) => inspect.take_input()?,
        _ => {}
    }
    match &args.command {
        Command::Completion(completion) => {
            return write_completion::<Args>(completion, out.raw());
        }
        Command::Check(check) => drop(check.thresholds()?),
        Command::Renew(renew) => renew.validate(args.kube.all_namespaces)?,
        Command::Inspect(_) => {}
        Command::Backup(backup) => drop(backup.plan(args.kube.requested_scope())?),
    }
    let kube = args.kube.connect().await?;
    on_cluster(&args.command, &kube, out).await
}

/// Runs a command with the client and output given (tests pass the sandbox's and a buffer).
pub async fn on_cluster(command: &Command, kube: &Kube, out: &mut Out) -> Result<Exit> {
    match command {
        Command::Check(check) => check::run(kube, check, out).await,
        Command::Renew(renew) => renew::run(kube, renew, out).await,
        Command::Inspect(inspect) => inspect::run(kube, inspect, out).await,
        Command::Backup(backup) => {
            // Without -n (or with -A) every namespace, as `kubectl sealos backup create`.
            let (plan, target) = backup.plan(kube.requested_scope())?;
            backup::run(kube, &plan, &target, out).await
        }
        Command::Completion(completion) => write_completion::<Args>(completion, out.raw()),
    }
}

/// The clap command, for tests and documentation.
pub fn command() -> clap::Command {
    Args::command()
}

/// Completion's names from the cluster: Certificates, and TLS Secrets for `inspect`.
pub fn completion_sources(path: &[String], arg: &str) -> Option<sealos_shared::complete::Source> {
    use sealos_shared::complete::Source;
    match (path.first().map(String::as_str), arg) {
        (Some("renew"), "names") => Some(Source::Certificates),
        (Some("inspect"), "name") => Some(Source::CertificatesAndTlsSecrets),
        (Some("inspect"), "secret") => Some(Source::TlsSecrets),
        _ => None,
    }
}
