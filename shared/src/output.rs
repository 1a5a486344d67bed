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

/// Where a command prints its data, and how.
pub struct Out {
    writer: Box<dyn Write + Send>,
    pub format: Format,
    pub theme: Theme,
}

impl Out {
    /// Stdout, with the theme decided from the environment.
    pub fn stdout(format: Format, color: ColorChoice) -> Out {
        Out {
            writer: Box::new(std::io::stdout()),
            format,
            theme: Theme::detect(color, format),
        }
    }

    /// Any writer, colour off: for tests.
    pub fn to_writer(writer: Box<dyn Write + Send>, format: Format) -> Out {
        Out {
            writer,
            format,
            theme: Theme::default(),
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

    pub fn table(&mut self, table: &Table) -> Result<()> {
        let text = table.render();
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

    pub fn render(&self) -> String {
        let mut grid = Grid::new();
        grid.load_preset(presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled);
        grid.set_header(self.header.clone());
        for row in &self.rows {
            grid.add_row(row.clone());
        }
        let last = self.header.len().saturating_sub(1);
        for (index, column) in grid.column_iter_mut().enumerate() {
            column.set_padding((0, if index == last { 0 } else { 3 }));
            if self.right_aligned.contains(&index) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        grid.lines()
            .map(|line| line.trim_end().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }
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
