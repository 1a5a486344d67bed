//! The check's report: plain data, the documented JSON shape (README "Health"; schema in
//! `schema/report.schema.json`, checked by a test), and its table.

use sealos_shared::grouping::{self, Count};
use sealos_shared::output::{Severity, Theme};
use sealos_shared::traffic::TrafficReport;
use serde::Serialize;

use super::Area;

/// The object a finding is about.
pub use sealos_shared::resources::ObjectRef;

/// One row: what was found about one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub area: Area,
    pub status: Severity,
    pub object: ObjectRef,
    pub message: String,
    /// A stable identifier of the kind of problem (`SEC_AUTHZ_OPEN_RULE`), for the areas that
    /// judge configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// What to change to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Finding {
    pub fn new(
        area: Area,
        status: Severity,
        object: ObjectRef,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            area,
            status,
            object,
            message: message.into(),
            code: None,
            hint: None,
        }
    }

    /// The same finding with a stable code and the fix.
    pub fn coded(mut self, code: &'static str, hint: impl Into<String>) -> Finding {
        self.code = Some(code);
        self.hint = Some(hint.into()).filter(|h: &String| !h.is_empty());
        self
    }

    /// The message column: `CODE: message`, and in wide output the fix after it.
    pub fn text(&self, wide: bool) -> String {
        let mut text = match self.code {
            Some(code) => format!("{code}: {}", self.message),
            None => self.message.clone(),
        };
        if let (true, Some(hint)) = (wide, &self.hint) {
            text.push_str(&format!(" (fix: {hint})"));
        }
        text
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub ok: usize,
    pub warn: usize,
    pub fail: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaSummary {
    pub area: Area,
    pub status: Severity,
    /// How many rows of `findings` belong to this area.
    pub findings: usize,
}

/// The whole check.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// The worst status of all findings.
    pub status: Severity,
    pub summary: Summary,
    pub areas: Vec<AreaSummary>,
    /// How many findings of each area and code (health's code: the message with the names
    /// taken out), worst first: the shape of `findings` at a glance.
    pub counts: Vec<Count>,
    /// Worst first; within a status, by area then object. Every one, however many.
    pub findings: Vec<Finding>,
    /// The traffic analysis, when the traffic area ran and Prometheus answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TrafficReport>,
}

pub const API_VERSION: &str = "health.sealos.io/v1";

impl Report {
    /// `findings` holds every problem, and one OK row per area (or object) that has none.
    pub fn new(
        areas: &[Area],
        mut findings: Vec<Finding>,
        traffic: Option<TrafficReport>,
    ) -> Report {
        findings.sort_by(|a, b| {
            b.status
                .cmp(&a.status)
                .then(a.area.cmp(&b.area))
                .then(a.object.cmp(&b.object))
                .then(a.message.cmp(&b.message))
        });
        let mut summary = Summary::default();
        for f in &findings {
            match f.status {
                Severity::Ok | Severity::Info => summary.ok += 1,
                Severity::Warn => summary.warn += 1,
                Severity::Fail => summary.fail += 1,
            }
        }
        let areas = areas
            .iter()
            .map(|area| {
                let mine = findings.iter().filter(|f| f.area == *area);
                AreaSummary {
                    area: *area,
                    status: mine.clone().map(|f| f.status).max().unwrap_or(Severity::Ok),
                    findings: mine.count(),
                }
            })
            .collect();
        let status = findings
            .iter()
            .map(|f| f.status)
            .max()
            .unwrap_or(Severity::Ok);
        Report {
            api_version: API_VERSION,
            kind: "HealthReport",
            status,
            summary,
            areas,
            counts: grouping::counts(&findings, group_key),
            findings,
            traffic,
        }
    }
}

/// A finding's group: its area, and its message with the names taken out.
fn group_key(f: &Finding) -> grouping::Key {
    (
        f.area.name().to_string(),
        grouping::code_of_message(&f.message),
        f.status,
    )
}

/// STATUS AREA OBJECT MESSAGE, worst first, then a summary line, fitted to `width`. With a
/// `budget` of lines and more findings than fit, grouped by area and code (counts, the worst of
/// each group).
pub fn render_table(
    report: &Report,
    theme: &Theme,
    wide: bool,
    budget: Option<usize>,
    width: Option<usize>,
) -> String {
    let header: &[&str] = if wide {
        &["status", "area", "kind", "namespace", "name", "message"]
    } else {
        &["status", "area", "object", "message"]
    };
    let row = |f: &Finding| -> Vec<String> {
        let status = theme.severity(f.status);
        if wide {
            vec![
                status,
                f.area.name().to_string(),
                f.object.kind.clone(),
                f.object.namespace.clone().unwrap_or_default(),
                f.object.name.clone(),
                f.text(true),
            ]
        } else {
            vec![
                status,
                f.area.name().to_string(),
                f.object.display(),
                f.text(false),
            ]
        }
    };
    // Two lines are the summary's.
    let budget = budget.map(|b| b.saturating_sub(2));
    let grouped = grouping::findings_table(&report.findings, header, group_key, row, budget, theme);
    let s = &report.summary;
    format!(
        "{}\n\n{}: {} ok, {} warn, {} fail",
        grouped.render_fit(width),
        theme.paint(report.status.label(), report.status),
        s.ok,
        s.warn,
        s.fail
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(area: Area, status: Severity, name: &str) -> Finding {
        Finding::new(
            area,
            status,
            ObjectRef::new("Gateway", Some("ns"), name),
            "m",
        )
    }

    #[test]
    fn findings_sort_worst_first_then_by_area() {
        let report = Report::new(
            &[Area::Gateways, Area::Certificates],
            vec![
                f(Area::Certificates, Severity::Warn, "c"),
                f(Area::Gateways, Severity::Ok, "a"),
                f(Area::Certificates, Severity::Fail, "b"),
                f(Area::Gateways, Severity::Fail, "z"),
            ],
            None,
        );
        let order: Vec<&str> = report
            .findings
            .iter()
            .map(|f| f.object.name.as_str())
            .collect();
        assert_eq!(order, ["z", "b", "c", "a"]);
        assert_eq!(report.status, Severity::Fail);
        assert_eq!(
            report.summary,
            Summary {
                ok: 1,
                warn: 1,
                fail: 2
            }
        );
        assert_eq!(report.areas[1].status, Severity::Fail);
        let table = render_table(&report, &Theme::default(), false, None, None);
        assert!(table.starts_with("STATUS   AREA"), "{table}");
        assert!(table.ends_with("FAIL: 1 ok, 1 warn, 2 fail"), "{table}");
    }
}
