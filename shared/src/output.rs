//! Output: formats, the colour theme, tables, JSON and YAML.
//!
//! Data goes to stdout, diagnostics to stderr. Colour is decided once, from the flag, the
//! environment and whether stdout is a terminal; JSON and YAML are never coloured.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;
use comfy_table::{CellAlignment, ContentArrangement, Table as Grid, presets};
use owo_colors::OwoColorize;
use serde::Serialize;

use crate::error::{Error, Result};

/// `-o`: how a report is printed.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns, worst first.
    #[default]
    Table,
    /// The table with more columns.
    Wide,
    /// The documented JSON shape.
    Json,
    /// The same data as YAML.
    Yaml,
}

impl Format {
    pub fn is_machine(self) -> bool {
        matches!(self, Format::Json | Format::Yaml)
    }
}

/// `--color`.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// How bad a finding is. Ordered: a sort puts the worst last, `Reverse` puts it first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Ok,
    Info,
    Warn,
    Fail,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Ok => "OK",
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Fail => "FAIL",
        }
    }
}

/// Decides colour once. `no_color` is `NO_COLOR` set to anything non-empty, per no-color.org.
pub fn colour_enabled(
    choice: ColorChoice,
    format: Format,
    is_tty: bool,
    no_color: bool,
    term: Option<&str>,
) -> bool {
    if format.is_machine() {
        return false;
    }
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_tty && !no_color && term != Some("dumb"),
    }
}

/// Semantic colours: ok, warn, fail, and quiet detail.
#[derive(Debug, Clone, Copy, Default)]
pub struct Theme {
    pub enabled: bool,
}

impl Theme {
    /// The theme for stdout in this process's environment.
    pub fn detect(choice: ColorChoice, format: Format) -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let term = std::env::var("TERM").ok();
        Theme {
            enabled: colour_enabled(
                choice,
                format,
                std::io::stdout().is_terminal(),
                no_color,
                term.as_deref(),
            ),
        }
    }

    pub fn severity(&self, severity: Severity) -> String {
        self.paint(severity.label(), severity)
    }

    /// `text` in the colour of `severity`.
    pub fn paint(&self, text: &str, severity: Severity) -> String {
        if !self.enabled {
            return text.to_string();
        }
        match severity {
            Severity::Ok => text.green().to_string(),
            Severity::Info => text.cyan().to_string(),
            Severity::Warn => text.yellow().to_string(),
            Severity::Fail => text.red().bold().to_string(),
        }
    }

    pub fn dim(&self, text: &str) -> String {
        if self.enabled {
            text.dimmed().to_string()
        } else {
            text.to_string()
        }
    }

    pub fn bold(&self, text: &str) -> String {
        if self.enabled {
            text.bold().to_string()
        } else {
            text.to_string()
        }
    }
}

/// The width tables are fitted to; `None` for no limit.
///
/// `COLUMNS` first (the user's or a test's explicit say, as clap and most CLIs read it), else the
/// terminal's width when stdout is one. Output to a pipe or file is not wrapped, as `kubectl get`
/// never wraps or cuts what goes to a pipe: `grep` and `awk` see whole rows. `-o wide` is the
/// whole row on purpose, so it is never wrapped either.
pub fn table_width(format: Format, columns: Option<&str>, tty: Option<u16>) -> Option<usize> {
    if format != Format::Table {
        return None;
    }
    match columns.and_then(|c| c.trim().parse::<usize>().ok()) {
        Some(n) if n > 0 => Some(n),
        _ => tty.map(usize::from).filter(|w| *w > 0),
    }
}

/// How many rows a screen holds: `LINES`, else the terminal's height; `None` for a pipe or a
/// file, which get every row, as they get whole lines (see [`table_width`]).
pub fn screen_rows(lines: Option<&str>, tty: Option<u16>) -> Option<usize> {
    match lines.and_then(|c| c.trim().parse::<usize>().ok()) {
        Some(n) if n > 0 => Some(n),
        _ => tty.map(usize::from).filter(|h| *h > 0),
    }
}

/// The terminal's (width, height), when stdout is one.
fn tty_size() -> Option<(u16, u16)> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size().map(|(w, h)| (w.0, h.0))
}

/// This process's screen height for tables ([`screen_rows`] from the environment).
pub fn screen_rows_here() -> Option<usize> {
    screen_rows(
        std::env::var("LINES").ok().as_deref(),
        tty_size().map(|(_, h)| h),
    )
}

/// Where a command prints its data, and how.
pub struct Out {
    writer: Box<dyn Write + Send>,
    pub format: Format,
    pub theme: Theme,
    /// The width tables are fitted to (see [`table_width`]); `None` for no limit.
    pub width: Option<usize>,
}

impl Out {
    /// Stdout, with the theme decided from the environment.
    pub fn stdout(format: Format, color: ColorChoice) -> Out {
        Out {
            writer: Box::new(std::io::stdout()),
            format,
            theme: Theme::detect(color, format),
            width: table_width(
                format,
                std::env::var("COLUMNS").ok().as_deref(),
                tty_size().map(|(w, _)| w),
            ),
        }
    }

    /// Any writer, colour off: for tests.
    pub fn to_writer(writer: Box<dyn Write + Send>, format: Format) -> Out {
        Out {
            writer,
            format,
            theme: Theme::default(),
            width: None,
        }
    }

    /// An in-memory `Out`, colour off, and the handle that reads what was printed: for tests
    /// that run a command and assert on its output.
    pub fn memory(format: Format) -> (Out, Captured) {
        let captured = Captured::default();
        (Out::to_writer(Box::new(captured.clone()), format), captured)
    }

    /// The writer itself, for what is already text (a completion script).
    pub fn raw(&mut self) -> &mut (dyn Write + Send) {
        &mut *self.writer
    }

    pub fn line(&mut self, text: &str) -> Result<()> {
        writeln!(self.writer, "{text}").map_err(|e| Error::io("write output", e))
    }

    pub fn text(&mut self, text: &str) -> Result<()> {
        write!(self.writer, "{text}").map_err(|e| Error::io("write output", e))?;
        self.flush()
    }

    pub fn flush(&mut self) -> Result<()> {
        self.writer
            .flush()
            .map_err(|e| Error::io("write output", e))
    }

    /// Prints a value as JSON (pretty, one document) or YAML, as `-o` asks.
    pub fn data<T: Serialize>(&mut self, value: &T) -> Result<()> {
        let text = match self.format {
            Format::Yaml => to_yaml(value)?,
            _ => to_json(value)?,
        };
        self.line(text.trim_end())
    }

    /// One compact JSON document on one line (JSON lines for streams such as the monitor).
    pub fn json_line<T: Serialize>(&mut self, value: &T) -> Result<()> {
        let text =
            serde_json::to_string(value).map_err(|e| Error::failed(format!("encode JSON: {e}")))?;
        self.line(&text)?;
        self.flush()
    }

    /// Prints a table fitted to [`Out::width`]: with a width (a terminal, COLUMNS), cells too
    /// long for one are shortened and printed whole under it; without one, every cell whole.
    pub fn table(&mut self, table: &Table) -> Result<()> {
        let text = table.render_fit(self.width, self.width.is_some());
        if text.is_empty() {
            Ok(())
        } else {
            self.line(&text)
        }
    }
}

/// What an in-memory `Out` (`Out::memory`) was given.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// Everything printed so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("output buffer poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `one` for 1, `many` otherwise: plurals as words ("1 step", "3 proxies"), never "step(s)".
pub fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// `n` and the noun that goes with it: `counted(3, "proxy", "proxies")` is "3 proxies".
pub fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", plural(n, one, many))
}

pub fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value).map_err(|e| Error::failed(format!("encode JSON: {e}")))
}

pub fn to_yaml<T: Serialize>(value: &T) -> Result<String> {
    serde_saphyr::to_string(value).map_err(|e| Error::failed(format!("encode YAML: {e}")))
}

/// A kubectl-style table: upper-case headers, no borders, columns three spaces apart.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    right_aligned: Vec<usize>,
}

impl Table {
    pub fn new<S: AsRef<str>>(header: impl IntoIterator<Item = S>) -> Table {
        Table {
            header: header
                .into_iter()
                .map(|h| h.as_ref().to_uppercase())
                .collect(),
            ..Table::default()
        }
    }

    /// Right-aligns a numeric column.
    pub fn align_right(mut self, column: usize) -> Table {
        self.right_aligned.push(column);
        self
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Every cell whole, no width limit (what `-o wide` and a pipe get).
    pub fn render(&self) -> String {
        self.render_fit(None, false)
    }

    /// Fitted to `width` (long cells wrap), and with `shorten` each cell longer than
    /// [`LONG_CELL`] cut to its first clauses and marked `[n]`, its whole text under the table.
    pub fn render_fit(&self, width: Option<usize>, shorten: bool) -> String {
        let mut grid = Grid::new();
        grid.load_preset(presets::NOTHING);
        match width {
            Some(w) => {
                grid.set_content_arrangement(ContentArrangement::Dynamic)
                    .set_width(u16::try_from(w).unwrap_or(u16::MAX));
            }
            None => {
                grid.set_content_arrangement(ContentArrangement::Disabled);
            }
        }
        grid.set_header(self.header.clone());
        let mut notes = Vec::new();
        for row in &self.rows {
            if shorten {
                grid.add_row(
                    row.iter()
                        .map(|cell| shorten_cell(cell, &mut notes))
                        .collect::<Vec<_>>(),
                );
            } else {
                grid.add_row(row.clone());
            }
        }
        let last = self.header.len().saturating_sub(1);
        for (index, column) in grid.column_iter_mut().enumerate() {
            column.set_padding((0, if index == last { 0 } else { 3 }));
            if self.right_aligned.contains(&index) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        let mut lines: Vec<String> = grid
            .lines()
            .map(|line| line.trim_end().to_string())
            .collect();
        for (i, note) in notes.iter().enumerate() {
            if i == 0 {
                lines.push(String::new());
            }
            lines.extend(wrap(&format!("[{}] {note}", i + 1), width, 4));
        }
        lines.join("\n")
    }
}

/// A cell longer than this many characters is shortened in a table (its whole text goes under
/// the table): a 400-character error chain in a cell makes a table no screen can show.
pub const LONG_CELL: usize = 100;

/// How much of a long cell stays in it.
const SHORT_CELL: usize = 60;

/// `cell` itself, or its first clauses (an error chain's outer causes: `a: b: c` cut after `b`)
/// up to [`SHORT_CELL`] characters with ` … [n]`, its whole text pushed to `notes`.
fn shorten_cell(cell: &str, notes: &mut Vec<String>) -> String {
    // Coloured cells are short labels; cutting inside an escape sequence would break it.
    if cell.chars().count() <= LONG_CELL || cell.contains('\u{1b}') {
        return cell.to_string();
    }
    let head: String = cell.chars().take(SHORT_CELL).collect();
    let cut = head
        .rfind(": ")
        .or_else(|| head.rfind(' '))
        .filter(|at| *at >= SHORT_CELL / 3)
        .unwrap_or(head.len());
    notes.push(cell.to_string());
    format!("{} … [{}]", head[..cut].trim_end(), notes.len())
}

/// `text` wrapped at spaces to `width` (none: one line), continuation lines indented by `indent`.
pub fn wrap(text: &str, width: Option<usize>, indent: usize) -> Vec<String> {
    let Some(width) = width.filter(|w| *w > indent + 10) else {
        return vec![text.to_string()];
    };
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    // Nothing but the indent on the line yet.
    let mut fresh = true;
    for word in text.split(' ') {
        let mut rest: Vec<char> = word.chars().collect();
        if !fresh && len + 1 + rest.len() > width {
            lines.push(std::mem::replace(&mut line, " ".repeat(indent)));
            len = indent;
            fresh = true;
        }
        if !fresh {
            line.push(' ');
            len += 1;
        }
        // A word longer than a line is split where the line ends.
        while len + rest.len() > width {
            line.extend(rest.drain(..width - len));
            lines.push(std::mem::replace(&mut line, " ".repeat(indent)));
            len = indent;
        }
        len += rest.len();
        line.extend(rest);
        fresh = false;
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn colour_is_off_for_machines_pipes_no_color_and_dumb_terminals() {
        assert!(colour_enabled(
            ColorChoice::Auto,
            Format::Table,
            true,
            false,
            Some("xterm")
        ));
        assert!(!colour_enabled(
            ColorChoice::Auto,
            Format::Table,
            false,
            false,
            Some("xterm")
        ));
        assert!(!colour_enabled(
            ColorChoice::Auto,
            Format::Table,
            true,
            true,
            Some("xterm")
        ));
        assert!(!colour_enabled(
            ColorChoice::Auto,
            Format::Table,
            true,
            false,
            Some("dumb")
        ));
        assert!(!colour_enabled(
            ColorChoice::Always,
            Format::Json,
            true,
            false,
            None
        ));
        assert!(!colour_enabled(
            ColorChoice::Always,
            Format::Yaml,
            true,
            false,
            None
        ));
        assert!(colour_enabled(
            ColorChoice::Always,
            Format::Table,
            false,
            true,
            Some("dumb")
        ));
        assert!(!colour_enabled(
            ColorChoice::Never,
            Format::Wide,
            true,
            false,
            None
        ));
    }

    #[test]
    fn theme_paints_only_when_enabled() {
        assert_eq!(Theme { enabled: false }.severity(Severity::Fail), "FAIL");
        let painted = Theme { enabled: true }.severity(Severity::Fail);
        assert!(
            painted.contains("FAIL") && painted.contains('\u{1b}'),
            "{painted:?}"
        );
    }

    #[test]
    fn tables_line_up_like_kubectl() {
        let mut table = Table::new(["name", "ready", "age"]).align_right(1);
        table.row(["istiod", "1/1", "5d"]);
        table.row(["istio-ingressgateway", "10/10", "12h"]);
        assert_eq!(
            table.render(),
            "NAME                   READY   AGE\nistiod                   1/1   5d\nistio-ingressgateway   10/10   12h"
        );
    }

    #[test]
    fn data_prints_json_or_yaml() {
        let (mut out, captured) = Out::memory(Format::Json);
        out.data(&serde_json::json!({"a": 1})).unwrap();
        out.format = Format::Yaml;
        out.data(&serde_json::json!({"b": [1, 2]})).unwrap();
        let text = captured.text();
        assert_eq!(text, "{\n  \"a\": 1\n}\nb:\n- 1\n- 2\n");
    }

    #[test]
    fn tables_fit_the_width_and_long_cells_go_under_them() {
        let error = format!(
            "port-forward to pod \"app-test-1\": {}: connection refused",
            "upgrade request failed with a long explanation "
                .repeat(8)
                .trim_end()
        );
        let mut table = Table::new(["level", "code", "object", "message"]);
        table.row([
            "FAIL",
            "port-forward",
            "Pod ns-bob/app-test-1",
            error.as_str(),
        ]);
        table.row([
            "WARN",
            "route",
            "VirtualService ns-bob/app-test",
            "a message of some length that has to wrap in a narrow column of the table",
        ]);
        let text = table.render_fit(Some(60), true);
        for line in text.lines() {
            assert!(line.chars().count() <= 60, "{line:?} in\n{text}");
        }
        assert!(text.contains("[1]"), "{text}");
        // The whole error is under the table, every word of it.
        let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(joined.contains("connection refused"), "{text}");
        // Unfitted: one line per row, every cell whole.
        let whole = table.render();
        assert_eq!(whole.lines().count(), 3);
        assert!(whole.contains(&error));
    }

    #[test]
    fn the_width_follows_columns_then_the_terminal_and_wide_is_never_wrapped() {
        assert_eq!(table_width(Format::Table, Some("100"), Some(80)), Some(100));
        assert_eq!(table_width(Format::Table, None, Some(80)), Some(80));
        assert_eq!(table_width(Format::Table, Some("x"), Some(80)), Some(80));
        assert_eq!(table_width(Format::Table, None, None), None);
        assert_eq!(table_width(Format::Wide, Some("100"), Some(80)), None);
        assert_eq!(table_width(Format::Json, Some("100"), None), None);
        assert_eq!(screen_rows(Some("50"), Some(30)), Some(50));
        assert_eq!(screen_rows(None, Some(30)), Some(30));
        assert_eq!(screen_rows(None, None), None);
    }

    #[test]
    fn wrap_breaks_at_spaces_and_indents() {
        let lines = wrap("[1] aaa bbb ccc ddd eee fff", Some(15), 4);
        assert_eq!(lines, ["[1] aaa bbb ccc", "    ddd eee fff"]);
        let long = wrap(&"x".repeat(40), Some(15), 4);
        assert!(long.iter().all(|l| l.chars().count() <= 15), "{long:?}");
    }

    #[test]
    fn plurals_are_words() {
        assert_eq!(counted(1, "proxy", "proxies"), "1 proxy");
        assert_eq!(counted(0, "proxy", "proxies"), "0 proxies");
        assert_eq!(counted(3, "step", "steps"), "3 steps");
    }

    #[test]
    fn severities_sort_worst_last() {
        let mut all = vec![Severity::Warn, Severity::Ok, Severity::Fail, Severity::Info];
        all.sort();
        assert_eq!(
            all,
            [Severity::Ok, Severity::Info, Severity::Warn, Severity::Fail]
        );
    }
}
