//! Findings at scale. A table of 10,000 identical rows tells an operator less than one line
//! saying "10000 × this": when the findings are more than a screen holds, the table shows the
//! shape first — how many of each (area, code), worst first — then the worst few objects of
//! each group, and a line saying how to see every one (`--all`, `-o wide`). JSON and YAML keep
//! every finding; reports add the counts beside them.

use std::collections::BTreeMap;

use clap::Args;
use serde::Serialize;

use crate::output::{Format, Severity, Table, Theme, screen_rows_here};

/// Fewer rows than this cannot show a group and say how to see the rest.
const MIN_ROWS: usize = 10;

/// `--max-rows` and `--all`, for every command whose table lists findings.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupFlags {
    /// At most this many table lines (default: the screen's height, LINES or the terminal's; a
    /// pipe gets every row); more findings than fit are grouped by area and code, the worst of
    /// each group shown.
    #[arg(long, value_name = "N")]
    pub max_rows: Option<usize>,
    /// Every finding in the table, however many (as -o wide does).
    #[arg(long)]
    pub all: bool,
}

impl GroupFlags {
    /// The lines a table may take, or `None` when every row is shown: `--all`, `-o wide`, the
    /// machine formats (which always hold every finding), and a pipe without `--max-rows` or
    /// `LINES` (as `kubectl get` gives a pipe every row).
    pub fn budget(&self, format: Format) -> Option<usize> {
        if self.all || format != Format::Table {
            return None;
        }
        self.max_rows
            .or_else(screen_rows_here)
            .map(|rows| rows.max(MIN_ROWS))
    }
}

/// How many findings have one (area, code), and how bad they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub area: String,
    pub code: String,
    pub status: Severity,
    pub count: usize,
}

/// What identifies a finding's group: (area, code, status).
pub type Key = (String, String, Severity);

/// Counts per (area, code, status): the worst first, then the most common.
pub fn counts<T>(items: &[T], key: impl Fn(&T) -> Key) -> Vec<Count> {
    let mut by: BTreeMap<Key, usize> = BTreeMap::new();
    for item in items {
        *by.entry(key(item)).or_default() += 1;
    }
    let mut out: Vec<Count> = by
        .into_iter()
        .map(|((area, code, status), count)| Count {
            area,
            code,
            status,
            count,
        })
        .collect();
    out.sort_by(|a, b| {
        b.status
            .cmp(&a.status)
            .then(b.count.cmp(&a.count))
            .then(a.area.cmp(&b.area))
            .then(a.code.cmp(&b.code))
    });
    out
}

/// The code of a finding that has none but its message: the message with what differs between
/// objects (quoted names, `namespace/name` references, numbers) replaced, so that 10,000
/// "Service scale-3/app-3 does not exist" messages are one group.
pub fn code_of_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        match (quoted, c) {
            (false, '"') => {
                quoted = true;
                out.push_str("\"…");
            }
            (true, '"') => {
                quoted = false;
                out.push('"');
            }
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out.split(' ')
        .map(|word| {
            let core = word.trim_matches(|c: char| !c.is_alphanumeric());
            if core.contains('/') || (!core.is_empty() && core.chars().any(|c| c.is_ascii_digit()))
            {
                word.replace(core, "…")
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A table of findings fitted to `budget` lines: every row when they fit, else grouped.
/// `items` are worst first; `key` groups them; `row` is a finding's cells under `header`.
pub fn findings_table<T>(
    items: &[T],
    header: &[&str],
    key: impl Fn(&T) -> Key,
    row: impl Fn(&T) -> Vec<String>,
    budget: Option<usize>,
    theme: &Theme,
) -> Grouped {
    let mut table = Table::new(header.iter().copied());
    let fits = budget.is_none_or(|b| items.len() < b);
    if fits {
        for item in items {
            table.row(row(item));
        }
        return Grouped {
            counts: None,
            table,
            footer: None,
        };
    }
    let budget = budget.unwrap_or(usize::MAX);
    let counts = counts(items, &key);
    // Lines: counts header + a row per group shown (+1 for "more codes"), blank, table header,
    // per group its rows and a "more" row, blank, footer.
    let overhead = 6;
    let groups = counts
        .len()
        .min((budget.saturating_sub(overhead) / 3).max(1));
    let per_group = 1 + budget.saturating_sub(overhead + 3 * groups) / groups;
    let mut count_table = Table::new(["count", "status", "area", "code"]).align_right(0);
    for c in counts.iter().take(groups) {
        count_table.row([
            c.count.to_string(),
            theme.severity(c.status),
            c.area.clone(),
            c.code.clone(),
        ]);
    }
    if counts.len() > groups {
        let rest: usize = counts[groups..].iter().map(|c| c.count).sum();
        count_table.row([
            rest.to_string(),
            String::new(),
            String::new(),
            format!("… in {} more codes", counts.len() - groups),
        ]);
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    // Per group shown: where its rows end, and how many more it has.
    let mut more: Vec<(usize, usize, &str)> = Vec::new();
    for c in counts.iter().take(groups) {
        let mine = items
            .iter()
            .filter(|i| key(i) == (c.area.clone(), c.code.clone(), c.status));
        rows.extend(mine.take(per_group).map(&row));
        let taken = per_group.min(c.count);
        if c.count > taken {
            more.push((rows.len(), c.count - taken, &c.area));
        }
    }
    let shown = rows.len();
    // "… and N more" goes in the column with the longest cell, where it has room.
    let column = (0..header.len())
        .max_by_key(|i| {
            rows.iter()
                .filter_map(|r| r.get(*i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    let mut more = more.into_iter().peekable();
    for (i, r) in rows.into_iter().enumerate() {
        table.row(r);
        while let Some((_, n, area)) = more.next_if(|(end, _, _)| *end == i + 1) {
            let mut cells = vec![String::new(); header.len()];
            cells[column] = format!("… and {n} more like these ({area})");
            table.row(cells);
        }
    }
    Grouped {
        counts: Some(count_table),
        table,
        footer: Some(format!(
            "showing {shown} of {} findings, grouped by area and code: --all or -o wide shows every one",
            items.len()
        )),
    }
}

/// A findings table as [`findings_table`] laid it out.
pub struct Grouped {
    /// The counts per group, when the findings were grouped.
    pub counts: Option<Table>,
    pub table: Table,
    /// How to see the rest, when some are not shown.
    pub footer: Option<String>,
}

impl Grouped {
    /// Prints it (fitted to the output's width).
    pub fn print(&self, out: &mut crate::output::Out) -> crate::Result<()> {
        if let Some(counts) = &self.counts {
            out.table(counts)?;
            out.line("")?;
        }
        out.table(&self.table)?;
        if let Some(footer) = &self.footer {
            out.line("")?;
            out.line(footer)?;
        }
        Ok(())
    }

    /// As text, unfitted (for reports rendered to a string).
    pub fn render(&self) -> String {
        self.render_fit(None)
    }

    /// As text, fitted to `width` (see [`Table::render_fit`]).
    pub fn render_fit(&self, width: Option<usize>) -> String {
        let mut parts = Vec::new();
        if let Some(counts) = &self.counts {
            parts.push(counts.render_fit(width, width.is_some()));
        }
        parts.push(self.table.render_fit(width, width.is_some()));
        if let Some(footer) = &self.footer {
            parts.push(footer.clone());
        }
        parts.join("\n\n")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    type F = (&'static str, String, Severity);

    fn key(f: &F) -> Key {
        (f.0.to_string(), code_of_message(&f.1), f.2)
    }

    fn row(f: &F) -> Vec<String> {
        vec![f.2.label().to_string(), f.0.to_string(), f.1.clone()]
    }

    #[test]
    fn messages_about_different_objects_share_a_code() {
        assert_eq!(
            code_of_message(
                "route destination \"app-3.scale-3.svc\": Service scale-3/app-3 does not exist"
            ),
            code_of_message(
                "route destination \"web.ns-bob.svc\": Service ns-bob/web does not exist"
            ),
        );
        assert_eq!(
            code_of_message("Secret \"x-tls\" does not exist"),
            "Secret \"…\" does not exist"
        );
    }

    #[test]
    fn many_findings_are_grouped_within_the_budget_with_exact_counts() {
        let mut items: Vec<F> = (0..5000)
            .map(|i| {
                (
                    "virtual-services",
                    format!("Service ns/app-{i} does not exist"),
                    Severity::Fail,
                )
            })
            .collect();
        items.extend((0..7).map(|i| ("pods", format!("pod p-{i} restarted"), Severity::Warn)));
        items.push(("gateways", "all good".to_string(), Severity::Ok));
        let grouped = findings_table(
            &items,
            &["status", "area", "message"],
            key,
            row,
            Some(24),
            &Theme::default(),
        );
        let text = grouped.render();
        assert!(text.lines().count() <= 24, "{text}");
        assert!(text.contains("5000   FAIL"), "{text}");
        assert!(text.contains("7   WARN"), "{text}");
        assert!(text.contains("showing"), "{text}");
        assert!(text.contains("of 5008 findings"), "{text}");
        assert!(
            text.contains("more like these (virtual-services)"),
            "{text}"
        );
        // What fits is not grouped.
        let few = &items[..5];
        let plain = findings_table(
            few,
            &["status", "area", "message"],
            key,
            row,
            Some(24),
            &Theme::default(),
        );
        assert!(plain.counts.is_none() && plain.footer.is_none());
        assert_eq!(plain.table.len(), 5);
        // No budget: every row.
        let all = findings_table(
            &items,
            &["status", "area", "message"],
            key,
            row,
            None,
            &Theme::default(),
        );
        assert_eq!(all.table.len(), items.len());
    }

    #[test]
    fn the_budget_follows_the_flags_and_the_format() {
        let flags = GroupFlags {
            max_rows: Some(30),
            all: false,
        };
        assert_eq!(flags.budget(Format::Table), Some(30));
        assert_eq!(flags.budget(Format::Wide), None);
        assert_eq!(flags.budget(Format::Json), None);
        let all = GroupFlags {
            max_rows: None,
            all: true,
        };
        assert_eq!(all.budget(Format::Table), None);
        let tiny = GroupFlags {
            max_rows: Some(2),
            all: false,
        };
        assert_eq!(tiny.budget(Format::Table), Some(MIN_ROWS));
    }
}
