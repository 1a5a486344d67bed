//! `backup`: the certificates, issuers, cluster issuers and the certificates' Secrets, in the
//! suite's backup format (the shared archive writer does the work, as in `kubectl sealos backup`),
//! so `kubectl sealos backup verify|restore` read what this writes.

use std::path::PathBuf;

use clap::Args;
use sealos_shared::archive::catalog::{self, Part};
use sealos_shared::archive::create::{Created, Plan, Target, create};
use sealos_shared::archive::crypt;
use sealos_shared::archive::index::ToolInfo;
use sealos_shared::connection::Kube;
use sealos_shared::flags::{RenamedFormat, format_parser};
use sealos_shared::output::{Format, Out, Table};
use sealos_shared::{Error, Exit, Result};

/// The tool name recorded in the archive's index.
const TOOL: &str = "kubectl-sealos-cert";

#[derive(Args, Debug, Clone)]
pub struct BackupArgs {
    /// Where to write: a directory (the archive gets a timestamped name) or a file ending in
    /// .tar.gz (.tar.gz.age when encrypted). Default: the current directory.
    #[arg(long, value_name = "DIR|FILE", conflicts_with = "s3")]
    pub to: Option<PathBuf>,
    /// Upload to S3 instead (standard AWS credential chain; AWS_ENDPOINT_URL for S3-compatible stores).
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    pub s3: Option<String>,
    /// Encrypt the whole archive for this age recipient (age1...); may be repeated.
    #[arg(long, value_name = "RECIPIENT")]
    pub encrypt_to: Vec<String>,
    /// Report format.
    #[arg(
        short = 'o',
        long,
        default_value = "table",
        value_parser = format_parser("-o/--output is the report format; the backup directory or file is --to")
    )]
    pub output: Format,
    #[command(flatten)]
    pub renamed: RenamedFormat,
}

impl BackupArgs {
    /// The plan and target for `-n NS` (None: every namespace), or a usage error; sends nothing.
    pub fn plan(&self, namespace: Option<&str>) -> Result<(Plan, Target)> {
        let sources = catalog::select(&[Part::Certificates], &[], false)?;
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
        let mut plan = Plan::new(
            sources,
            ToolInfo {
                name: TOOL.to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                git_revision: sealos_shared::version::GIT_REVISION.to_string(),
            },
        );
        plan.recipients = recipients;
        plan.selection = vec![format!("include={}", Part::Certificates.as_str())];
        if let Some(ns) = namespace {
            if ns.is_empty() || ns.contains('/') {
                return Err(Error::usage(format!("-n {ns:?}: not a namespace")));
            }
            plan.namespaces = vec![ns.to_string()];
            plan.selection.push(format!("namespaces={ns}"));
        }
        Ok((plan, target))
    }
}

/// Writes the archive; an incomplete backup is an error (exit 2) and leaves nothing marked complete.
pub async fn run(kube: &Kube, plan: &Plan, target: &Target, out: &mut Out) -> Result<Exit> {
    let progress = sealos_shared::progress::spinner("backing up certificates");
    let created = create(
        kube,
        plan,
        target,
        &progress,
        sealos_shared::cli::shutdown_signal(),
    )
    .await;
    progress.finish_and_clear();
    render(&created?, out)?;
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
    out.line(&format!("  sha256   {}", s.archive.sha256))?;
    let mut table = Table::new(["KIND", "GROUP", "COUNT"]).align_right(2);
    for r in &s.head.resources {
        table.row([r.kind.clone(), r.group.clone(), r.count.to_string()]);
    }
    out.table(&table)?;
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
        args: BackupArgs,
    }

    fn plan(argv: &[&str], ns: Option<&str>) -> Result<(Plan, Target)> {
        let mut all = vec!["x"];
        all.extend_from_slice(argv);
        Cli::try_parse_from(all).unwrap().args.plan(ns)
    }

    #[test]
    fn backs_up_the_certificates_part_only() {
        let (p, t) = plan(&[], None).unwrap();
        assert_eq!(t, Target::Dir(PathBuf::from(".")));
        let plurals: Vec<&str> = p.sources.iter().map(|s| s.kind.plural).collect();
        for want in ["certificates", "issuers", "clusterissuers", "secrets"] {
            assert!(plurals.contains(&want), "{plurals:?}");
        }
        assert!(!plurals.contains(&"certificaterequests"));
        assert!(p.sources.iter().all(|s| s.part == Part::Certificates));
        let (p, _) = plan(&[], Some("ns-alice")).unwrap();
        assert_eq!(p.namespaces, vec!["ns-alice"]);
    }

    #[test]
    fn bad_input_is_refused_before_any_request() {
        assert!(plan(&["--encrypt-to", "age1bad"], None).is_err());
        assert!(plan(&["--s3", "bucket/prefix"], None).is_err());
        assert!(plan(&["--to", "/b/x.tar.gz.age"], None).is_err());
        assert!(plan(&[], Some("a/b")).is_err());
        assert_eq!(
            plan(&["--to", "/b/x.tar.gz"], None).unwrap().1,
            Target::File(PathBuf::from("/b/x.tar.gz"))
        );
    }

    #[test]
    fn old_spellings_exit_2_with_the_new_one() {
        for (argv, hint) in [
            (
                &["x", "--output", "/b"][..],
                "\"/b\": -o/--output is the report format; the backup directory or file is --to",
            ),
            (
                &["x", "--format", "json"],
                "--format was renamed: use -o/--output",
            ),
        ] {
            let err = Cli::try_parse_from(argv).err().unwrap();
            assert_eq!(err.exit_code(), 2, "{argv:?}");
            assert!(err.to_string().contains(hint), "{argv:?}: {err}");
        }
    }
}
