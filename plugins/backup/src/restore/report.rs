//! What `restore` reports (`schema/restore.schema.json`), and the table.

use sealos_shared::Result;
use sealos_shared::output::{Out, Severity, Table};
use serde::Serialize;

use super::rewrite::Rewrite;

/// One object's fate. Ordered worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Never applied: backup does not make such an object.
    Refused,
    Failed,
    /// Changed (or created) by someone else since the plan read it: not overwritten.
    Conflict,
    Created,
    Updated,
    Unchanged,
    Skipped,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
            Outcome::Conflict => "conflict",
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectResult {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub result: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// References changed to follow the namespace and host maps.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rewrites: Vec<Rewrite>,
}

impl ObjectResult {
    pub fn new(kind: &str, namespace: Option<&str>, name: &str, result: Outcome) -> ObjectResult {
        ObjectResult {
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            result,
            message: None,
            rewrites: Vec::new(),
        }
    }

    pub fn with(mut self, message: impl Into<String>) -> ObjectResult {
        self.message = Some(message.into());
        self
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub skipped: u64,
    pub failed: u64,
    pub refused: u64,
    pub conflicts: u64,
}

/// A kind admitted by `--allow-kind`, and how many of its objects were.
#[derive(Debug, Clone, Serialize)]
pub struct Allowed {
    /// The flag's value as given.
    pub flag: String,
    /// `Kind` or `Kind.group`, as found in the archive.
    pub kinds: Vec<String>,
    pub objects: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub archive: String,
    pub backup: String,
    pub dry_run: bool,
    pub summary: Counts,
    /// What `--allow-kind` admitted beyond what backup makes.
    pub allowed_kinds: Vec<Allowed>,
    /// What the restore left alone on purpose (cluster-scoped objects under -n, ...).
    pub notes: Vec<String>,
    pub objects: Vec<ObjectResult>,
}

impl Report {
    pub fn problems(&self) -> bool {
        let s = &self.summary;
        s.failed > 0 || s.refused > 0 || s.conflicts > 0
    }
}

pub fn count(results: &[ObjectResult]) -> Counts {
    let mut summary = Counts::default();
    for r in results {
        let n = match r.result {
            Outcome::Created => &mut summary.created,
            Outcome::Updated => &mut summary.updated,
            Outcome::Unchanged => &mut summary.unchanged,
            Outcome::Skipped => &mut summary.skipped,
            Outcome::Failed => &mut summary.failed,
            Outcome::Refused => &mut summary.refused,
            Outcome::Conflict => &mut summary.conflicts,
        };
        *n += 1;
    }
    summary
}

pub fn render(report: &Report, out: &mut Out) -> Result<()> {
    if out.format.is_machine() {
        return out.data(report);
    }
    let mut table = Table::new(["result", "kind", "namespace", "name", "message"]);
    for r in &report.objects {
        let severity = match r.result {
            Outcome::Refused | Outcome::Failed | Outcome::Conflict => Severity::Fail,
            Outcome::Skipped => Severity::Info,
            _ => Severity::Ok,
        };
        table.row([
            out.theme.paint(r.result.word(), severity),
            r.kind.clone(),
            r.namespace.clone().unwrap_or_else(|| "-".into()),
            r.name.clone(),
            r.message.clone().unwrap_or_default(),
        ]);
    }
    out.table(&table)?;
    for r in report.objects.iter().filter(|r| !r.rewrites.is_empty()) {
        out.line(&format!(
            "{} {}/{} {}:",
            r.kind,
            r.namespace.as_deref().unwrap_or("-"),
            r.name,
            if report.dry_run {
                "would rewrite"
            } else {
                "rewrote"
            }
        ))?;
        for w in &r.rewrites {
            out.line(&format!("  {}: {} -> {}", w.field, w.from, w.to))?;
        }
    }
    for allowed in &report.allowed_kinds {
        out.line(&format!(
            "allowed by --allow-kind {}: {} {}{}",
            allowed.flag,
            allowed.objects,
            if allowed.objects == 1 {
                "object"
            } else {
                "objects"
            },
            if allowed.kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", allowed.kinds.join(", "))
            }
        ))?;
    }
    for note in &report.notes {
        out.line(&format!("note: {note}"))?;
    }
    let s = &report.summary;
    out.line(&format!(
        "{}{}: {} created, {} updated, {} unchanged, {} skipped, {} failed, {} refused, {} conflicts",
        if report.dry_run { "(dry run) " } else { "" },
        report.backup,
        s.created,
        s.updated,
        s.unchanged,
        s.skipped,
        s.failed,
        s.refused,
        s.conflicts
    ))
}
