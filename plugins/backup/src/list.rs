//! `list`: the backups in a directory or under an S3 prefix.

use std::path::PathBuf;

use clap::Args;
use sealos_shared::archive::location::{self, Listed};
use sealos_shared::flags::{RenamedFormat, format_parser};
use sealos_shared::output::{Format, Out, Severity, Table};
use sealos_shared::{Exit, Result};
use serde::Serialize;

#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    /// The backup directory (default: the current directory).
    #[arg(long, value_name = "DIR", conflicts_with = "s3")]
    pub dir: Option<PathBuf>,
    /// An S3 prefix instead.
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    pub s3: Option<String>,
    /// Report format.
    #[arg(short = 'o', long, default_value = "table", value_parser = format_parser("-o/--output is the report format; the backup directory is --dir DIR"))]
    pub output: Format,
    #[command(flatten)]
    pub renamed: RenamedFormat,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub location: String,
    pub backups: Vec<Listed>,
}

pub async fn run(args: &ListArgs, out: &mut Out) -> Result<Exit> {
    let location = crate::location(args.dir.as_ref(), args.s3.as_deref())?;
    let backups = location::list(&location).await?;
    let report = Report {
        location: location.describe(),
        backups,
    };
    render(&report, out)?;
    Ok(Exit::Ok)
}

fn render(report: &Report, out: &mut Out) -> Result<()> {
    if out.format.is_machine() {
        return out.data(report);
    }
    if report.backups.is_empty() {
        return out.line(&format!("no backups in {}", report.location));
    }
    let mut table = Table::new(["name", "created", "size", "objects", "complete", "detail"])
        .align_right(2)
        .align_right(3);
    for b in &report.backups {
        let complete = if b.complete {
            out.theme.paint("yes", Severity::Ok)
        } else {
            out.theme.paint("no", Severity::Warn)
        };
        let detail = match &b.reason {
            Some(reason) => reason.clone(),
            None => {
                let counts: Vec<String> =
                    b.counts.iter().map(|(k, n)| format!("{k}={n}")).collect();
                let enc = if b.encrypted { "encrypted " } else { "" };
                format!("{enc}{}", counts.join(","))
            }
        };
        table.row([
            b.name.clone(),
            b.created_at.clone().unwrap_or_else(|| "-".into()),
            b.size
                .map(sealos_shared::quantity::bytes)
                .unwrap_or_else(|| "-".into()),
            b.objects
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            complete,
            detail,
        ]);
    }
    out.table(&table)
}
