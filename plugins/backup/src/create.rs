//! `create`: back up the configuration (the shared archive writer does the work).

use std::path::PathBuf;

use clap::Args;
use sealos_shared::archive::catalog::{self, Part};
use sealos_shared::archive::create::{Created, Plan, Target, create};
use sealos_shared::archive::crypt;
use sealos_shared::archive::index::ToolInfo;
use sealos_shared::archive::signing::SigningKey;
use sealos_shared::connection::Kube;
use sealos_shared::flags::{RenamedFormat, format_parser};
use sealos_shared::output::{Format, Out};
use sealos_shared::{Error, Exit, Result, s3};

use crate::MANAGER;

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Where to write: a directory (the archive gets a timestamped name) or a file ending in
    /// .tar.gz (.tar.gz.age when encrypted). Default: the current directory.
    #[arg(long, value_name = "DIR|FILE", conflicts_with = "s3")]
    pub to: Option<PathBuf>,
    /// Upload to S3 instead (standard AWS credential chain; AWS_ENDPOINT_URL for S3-compatible stores).
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    pub s3: Option<String>,
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
    /// Sign the index object with this OpenSSH private key (ed25519 or ECDSA P-256, without a
    /// passphrase), as `ssh-keygen -Y sign -n kubectl-sealos-backup` does: the signature goes
    /// beside it as NAME.index.json.sig, for `verify`/`restore --trusted-signers`.
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
    /// Objects per list request.
    #[arg(long, default_value_t = 500, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub page_size: u32,
    /// S3 multipart part size in MiB (S3's minimum is 5).
    #[arg(long, default_value_t = 8, value_name = "MIB", value_parser = clap::value_parser!(u64).range(5..=1024))]
    pub s3_part_size: u64,
    /// Report format.
    #[arg(short = 'o', long, default_value = "table", value_parser = format_parser("-o/--output is the report format; the backup directory or file is --to"))]
    pub output: Format,
    #[command(flatten)]
    pub renamed: RenamedFormat,
}

impl CreateArgs {
    /// The plan and target, or a usage error; sends nothing.
    pub fn plan(&self) -> Result<(Plan, Target)> {
        let sources = catalog::select(&self.include, &self.resources, self.exclude_secrets)?;
        let recipients = self
            .encrypt_to
            .iter()
            .map(|r| crypt::parse_recipient(r))
            .collect::<Result<Vec<_>>>()?;
        let target = Target::choose(
            self.to.as_deref(),
            self.s3.as_deref(),
            !recipients.is_empty(),
        )?;
        for ns in &self.namespaces {
            if ns.is_empty() || ns.contains('/') {
                return Err(Error::usage(format!(
                    "--namespaces {ns:?}: not a namespace"
                )));
            }
        }
        let mut selection: Vec<String> = Vec::new();
        let parts: Vec<&str> = if self.include.is_empty() {
            Part::ALL.iter().map(|p| p.as_str()).collect()
        } else {
            self.include.iter().map(|p| p.as_str()).collect()
        };
        selection.push(format!("include={}", parts.join(",")));
        if !self.namespaces.is_empty() {
            selection.push(format!("namespaces={}", self.namespaces.join(",")));
        }
        if !self.resources.is_empty() {
            selection.push(format!("resources={}", self.resources.join(",")));
        }
        if self.exclude_secrets {
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
        plan.namespaces = self.namespaces.clone();
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
    render(&created, out)?;
    Ok(Exit::Ok)
}

fn render(created: &Created, out: &mut Out) -> Result<()> {
    if out.format.is_machine() {
        return out.data(created);
    }
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
