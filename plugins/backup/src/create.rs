//! `create`: back up the configuration (the shared archive writer does the work).

use std::path::PathBuf;

use clap::Args;
use sealos_shared::archive::catalog::{self, Part};
use sealos_shared::archive::create::{Created, Plan, Target, create};
use sealos_shared::archive::crypt;
use sealos_shared::archive::index::ToolInfo;
use sealos_shared::archive::location::Location;
use sealos_shared::archive::signing::SigningKey;
use sealos_shared::connection::Kube;
use sealos_shared::flags::{RenamedFormat, format_parser};
use sealos_shared::output::{Format, Out};
use sealos_shared::{Error, Exit, Result, s3};
use serde::Serialize;

use crate::{MANAGER, prune};

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Where to write: a directory (the archive gets a timestamped name) or a file ending in
    /// .tar.gz (.tar.gz.age when encrypted). Default: the current directory.
    #[arg(long, value_name = "DIR|FILE", conflicts_with = "s3")]
    pub to: Option<PathBuf>,
    /// Upload to S3 instead (standard AWS credential chain; AWS_ENDPOINT_URL for S3-compatible stores).
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    pub s3: Option<String>,
    #[command(flatten)]
    pub selection: Selection,
    /// Sign the index object with this OpenSSH private key (ed25519 or ECDSA P-256, without a
    /// passphrase), as `ssh-keygen -Y sign -n kubectl-sealos-backup` does: the signature goes
    /// beside it as NAME.index.json.sig, for `verify`/`restore --trusted-signers`.
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
    /// Objects per list request.
    #[arg(long, default_value_t = 500, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub page_size: u32,
    /// Once this backup is complete, delete the complete backups beyond the newest N at the same
    /// place (as `backup prune --keep N`): one process, so a scheduled run needs no shell, and
    /// nothing is pruned when the backup fails.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100000))]
    pub prune_keep: Option<u32>,
    /// S3 multipart part size in MiB (S3's minimum is 5).
    #[arg(long, default_value_t = 8, value_name = "MIB", value_parser = clap::value_parser!(u64).range(5..=1024))]
    pub s3_part_size: u64,
    /// Report format.
    #[arg(short = 'o', long, default_value = "table", value_parser = format_parser("-o/--output is the report format; the backup directory or file is --to"))]
    pub output: Format,
    #[command(flatten)]
    pub renamed: RenamedFormat,
}

/// What a backup takes, and for whom it is encrypted: `create`'s flags, which a schedule passes on.
#[derive(Args, Debug, Clone, Default)]
pub struct Selection {
    /// Which parts of the configuration (default: all three).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub include: Vec<Part>,
    /// Only these namespaces (default: every namespace the parts cover; `-n NS` means the same).
    #[arg(long, value_delimiter = ',', value_name = "NS,...")]
    pub namespaces: Vec<String>,
    /// Only these resources (e.g. gateways,secrets); cert-manager's CertificateRequests, Orders
    /// and Challenges are never backed up.
    #[arg(long, value_delimiter = ',', value_name = "RESOURCE,...")]
    pub resources: Vec<String>,
    /// Leave every Secret out.
    #[arg(long)]
    pub exclude_secrets: bool,
    /// Encrypt the whole archive for this age recipient (age1...); may be repeated.
    #[arg(long, value_name = "RECIPIENT")]
    pub encrypt_to: Vec<String>,
}

impl Selection {
    /// The same selection as `create` flags, for a command line that another process runs.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        let mut list = |flag: &str, items: Vec<String>| {
            if !items.is_empty() {
                args.push(flag.to_string());
                args.push(items.join(","));
            }
        };
        list(
            "--include",
            self.include
                .iter()
                .map(|p| p.as_str().to_string())
                .collect(),
        );
        list("--namespaces", self.namespaces.clone());
        list("--resources", self.resources.clone());
        if self.exclude_secrets {
            args.push("--exclude-secrets".into());
        }
        for recipient in &self.encrypt_to {
            args.push("--encrypt-to".into());
            args.push(recipient.clone());
        }
        args
    }
}

impl CreateArgs {
    /// The plan and target, or a usage error; sends nothing.
    pub fn plan(&self) -> Result<(Plan, Target)> {
        let chosen = &self.selection;
        let sources = catalog::select(&chosen.include, &chosen.resources, chosen.exclude_secrets)?;
        let recipients = chosen
            .encrypt_to
            .iter()
            .map(|r| crypt::parse_recipient(r))
            .collect::<Result<Vec<_>>>()?;
        let target = Target::choose(
            self.to.as_deref(),
            self.s3.as_deref(),
            !recipients.is_empty(),
        )?;
        if self.prune_keep.is_some() && matches!(target, Target::File(_)) {
            return Err(Error::usage(
                "--prune-keep prunes the place backups are written to: give --s3 or a --to directory, not a file",
            ));
        }
        for ns in &chosen.namespaces {
            if ns.is_empty() || ns.contains('/') {
                return Err(Error::usage(format!(
                    "--namespaces {ns:?}: not a namespace"
                )));
            }
        }
        let mut selection: Vec<String> = Vec::new();
        let parts: Vec<&str> = if chosen.include.is_empty() {
            Part::ALL.iter().map(|p| p.as_str()).collect()
        } else {
            chosen.include.iter().map(|p| p.as_str()).collect()
        };
        selection.push(format!("include={}", parts.join(",")));
        if !chosen.namespaces.is_empty() {
            selection.push(format!("namespaces={}", chosen.namespaces.join(",")));
        }
        if !chosen.resources.is_empty() {
            selection.push(format!("resources={}", chosen.resources.join(",")));
        }
        if chosen.exclude_secrets {
            selection.push("exclude-secrets".into());
        }
        let mut plan = Plan::new(
            sources,
            ToolInfo {
                name: MANAGER.to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                git_revision: sealos_shared::version::GIT_REVISION.to_string(),
            },
        );
        plan.namespaces = chosen.namespaces.clone();
        plan.recipients = recipients;
        plan.sign_key = self.sign_key.as_deref().map(SigningKey::load).transpose()?;
        plan.selection = selection;
        plan.page_size = self.page_size;
        plan.part_size =
            usize::try_from(self.s3_part_size * 1024 * 1024).unwrap_or(s3::DEFAULT_PART_SIZE);
        Ok((plan, target))
    }
}

pub async fn run(args: &CreateArgs, kube: &Kube, out: &mut Out) -> Result<Exit> {
    let (mut plan, target) = args.plan()?;
    // kubectl's `-n NS` (without -A) narrows the backup as `--namespaces NS` does.
    if plan.namespaces.is_empty()
        && let Some(ns) = kube.requested_scope()
    {
        plan.namespaces = vec![ns.to_string()];
        plan.selection.push(format!("namespaces={ns}"));
    }
    let progress = sealos_shared::progress::spinner("backing up");
    let created = create(
        kube,
        &plan,
        &target,
        &progress,
        sealos_shared::cli::shutdown_signal(),
    )
    .await;
    progress.finish_and_clear();
    let created = created?;
    let pruned = match (args.prune_keep, place(&target)) {
        (Some(keep), Some(location)) => {
            // The backup is complete: a failed prune is reported (exit 2) but does not undo it.
            let pruned = prune::prune(&location, Some(keep as usize), None, false)
                .await
                .map_err(|e| {
                    Error::failed(format!(
                        "backup {} complete, but pruning {} failed: {e}",
                        created.summary.head.name,
                        location.describe()
                    ))
                })?;
            Some(pruned)
        }
        _ => None,
    };
    render(
        &Report {
            created,
            prune: pruned,
        },
        out,
    )?;
    Ok(Exit::Ok)
}

/// `create -o json`: the backup, and what `--prune-keep` deleted.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    #[serde(flatten)]
    pub created: Created,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prune: Option<prune::Report>,
}

/// Where `--prune-keep` prunes: the directory or S3 prefix written to.
fn place(target: &Target) -> Option<Location> {
    match target {
        Target::Dir(dir) => Some(Location::Dir(dir.clone())),
        Target::S3(url) => Some(Location::S3(url.clone())),
        Target::File(_) => None,
    }
}

fn render(report: &Report, out: &mut Out) -> Result<()> {
    if out.format.is_machine() {
        return out.data(report);
    }
    let created = &report.created;
    let s = &created.summary;
    let encrypted = if s.archive.encrypted {
        ", encrypted"
    } else {
        ""
    };
    out.line(&format!(
        "backup {} complete: {} objects, {}{encrypted}",
        s.head.name,
        s.head.objects,
        sealos_shared::quantity::bytes(s.archive.size)
    ))?;
    out.line(&format!("  archive  {}", created.archive))?;
    out.line(&format!("  index    {}", created.index))?;
    if let (Some(signature), Some(key)) = (&created.signature, &created.signed_by) {
        out.line(&format!("  signed   {signature} ({key})"))?;
    }
    out.line(&format!("  sha256   {}", s.archive.sha256))?;
    out.line(&format!("  counts   {}", s.head.counts_text()))?;
    for note in &s.head.notes {
        out.line(&format!("  note     {note}"))?;
    }
    if let Some(pruned) = &report.prune {
        prune::render(pruned, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: CreateArgs,
    }

    fn plan(argv: &[&str]) -> Result<(Plan, Target)> {
        let mut all = vec!["x"];
        all.extend_from_slice(argv);
        Cli::try_parse_from(all).unwrap().args.plan()
    }

    #[test]
    fn targets_follow_the_flags() {
        assert_eq!(plan(&[]).unwrap().1, Target::Dir(PathBuf::from(".")));
        assert_eq!(
            plan(&["--to", "/b/x.tar.gz"]).unwrap().1,
            Target::File(PathBuf::from("/b/x.tar.gz"))
        );
        assert!(matches!(
            plan(&["--s3", "s3://b/p"]).unwrap().1,
            Target::S3(_)
        ));
        assert!(plan(&["--to", "/b/x.tar.gz.age"]).is_err());
        assert!(plan(&["--s3", "b/p"]).is_err());
        let err = plan(&["--to", "/b/x.tar.gz", "--prune-keep", "3"]).unwrap_err();
        assert!(err.to_string().contains("--prune-keep"), "{err}");
        assert!(plan(&["--s3", "s3://b/p", "--prune-keep", "3"]).is_ok());
        assert!(Cli::try_parse_from(["x", "--prune-keep", "0"]).is_err());
    }

    #[test]
    fn bad_input_is_refused_before_any_request() {
        assert!(plan(&["--resources", "orders"]).is_err());
        assert!(plan(&["--encrypt-to", "age1bad"]).is_err());
        assert!(plan(&["--namespaces", "a/b"]).is_err());
        let err = plan(&["--sign-key", "/nonexistent/key"]).unwrap_err();
        assert!(
            err.to_string().contains("--sign-key /nonexistent/key"),
            "{err}"
        );
        let (p, _) = plan(&["--include", "sealos", "--exclude-secrets"]).unwrap();
        assert_eq!(p.sources.len(), 2);
        assert_eq!(p.selection, vec!["include=sealos", "exclude-secrets"]);
    }
}
