//! `prune`: delete old complete backups (never an incomplete one: it may be in progress).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use sealos_shared::archive::location::{self, Listed, Location};
use sealos_shared::flags::{RenamedFormat, format_parser};
use sealos_shared::output::counted;
use sealos_shared::output::{Format, Out, Table};
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;

#[derive(Args, Debug, Clone)]
#[command(group = clap::ArgGroup::new("rule").required(true).args(["keep", "older_than"]))]
pub struct PruneArgs {
    /// Keep the newest N complete backups, delete the rest.
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Delete complete backups older than this (e.g. 30d, 12h).
    #[arg(long, value_name = "DURATION", value_parser = sealos_shared::number::positive_duration)]
    pub older_than: Option<Duration>,
    /// The backup directory (default: the current directory).
    #[arg(long, value_name = "DIR", conflicts_with = "s3")]
    pub dir: Option<PathBuf>,
    /// An S3 prefix instead.
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    pub s3: Option<String>,
    /// Say what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
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
    pub dry_run: bool,
    pub deleted: Vec<Listed>,
    pub kept: Vec<String>,
}

/// Which complete backups go: newest first in `complete`.
pub fn choose(
    complete: &[Listed],
    keep: Option<usize>,
    older_than: Option<Duration>,
    now: jiff::Timestamp,
) -> Vec<usize> {
    let cutoff = older_than.and_then(|d| {
        jiff::SignedDuration::try_from(d)
            .ok()
            .and_then(|d| now.checked_sub(d).ok())
    });
    complete
        .iter()
        .enumerate()
        .filter(|(i, b)| {
            let by_count = keep.is_some_and(|k| *i >= k);
            let by_age = cutoff.is_some_and(|cutoff| {
                b.created_at
                    .as_deref()
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    .is_some_and(|t| t < cutoff)
            });
            by_count || by_age
        })
        .map(|(i, _)| i)
        .collect()
}

pub async fn run(args: &PruneArgs, out: &mut Out) -> Result<Exit> {
    if args.keep == Some(0) {
        return Err(Error::usage(
            "--keep 0 would delete every backup; delete them by hand if you mean it",
        ));
    }
    let location = crate::location(args.dir.as_ref(), args.s3.as_deref())?;
    let report = prune(&location, args.keep, args.older_than, args.dry_run).await?;
    if out.format.is_machine() {
        out.data(&report)?;
    } else {
        render(&report, out)?;
    }
    Ok(Exit::Ok)
}

/// Deletes (or with `dry_run` names) the complete backups at `location` that the rules choose;
/// `create --prune-keep` runs the same step after its backup is complete.
pub async fn prune(
    location: &Location,
    keep: Option<usize>,
    older_than: Option<Duration>,
    dry_run: bool,
) -> Result<Report> {
    let complete: Vec<Listed> = location::list(location)
        .await?
        .into_iter()
        .filter(|b| b.complete)
        .collect();
    let doomed = choose(&complete, keep, older_than, jiff::Timestamp::now());
    let mut report = Report {
        location: location.describe(),
        dry_run,
        deleted: Vec::new(),
        kept: Vec::new(),
    };
    for (i, backup) in complete.into_iter().enumerate() {
        if doomed.contains(&i) {
            if !dry_run {
                location::delete(location, &backup).await?;
            }
            report.deleted.push(backup);
        } else {
            report.kept.push(backup.name);
        }
    }
    Ok(report)
}

/// The table and the one-line summary.
pub fn render(report: &Report, out: &mut Out) -> Result<()> {
    let verb = if report.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    let mut table = Table::new(["action", "name", "created"]);
    for b in &report.deleted {
        table.row([
            verb.to_string(),
            b.name.clone(),
            b.created_at.clone().unwrap_or_default(),
        ]);
    }
    out.table(&table)?;
    out.line(&format!(
        "{} {}, kept {} in {}",
        verb,
        counted(report.deleted.len(), "backup", "backups"),
        report.kept.len(),
        report.location
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(name: &str, created: &str) -> Listed {
        Listed {
            name: name.into(),
            archive: name.into(),
            created_at: Some(created.into()),
            size: Some(1),
            objects: Some(1),
            counts: Default::default(),
            encrypted: false,
            complete: true,
            reason: None,
            keys: vec![],
        }
    }

    #[test]
    fn keep_and_age_rules() {
        let now: jiff::Timestamp = "2026-11-25T00:00:00Z".parse().unwrap_or_default();
        let list = vec![
            at("c", "2026-11-24T00:00:00Z"),
            at("b", "2026-11-01T00:00:00Z"),
            at("a", "2026-09-01T00:00:00Z"),
        ];
        assert_eq!(choose(&list, Some(1), None, now), vec![1, 2]);
        assert_eq!(choose(&list, Some(5), None, now), Vec::<usize>::new());
        let month = Duration::from_secs(30 * 86400);
        assert_eq!(choose(&list, None, Some(month), now), vec![2]);
    }
}
