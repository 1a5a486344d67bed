//! `cargo xtask readme-flags`: the README's tables of flags, generated from each plugin's clap
//! command, so `--help`, shell completions and the README say the same. Each table lives between
//! `<!-- flags:VERB:begin -->` and `<!-- flags:VERB:end -->`; nothing outside those is touched.
//! `--check` (and the test below) fails when the README and clap disagree.

use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::{Arg, ArgAction, Command};

/// The plugins, in README order, with their clap commands.
pub fn plugins() -> Vec<(&'static str, Command)> {
    vec![
        ("health", kubectl_sealos_health::command()),
        ("rollout", kubectl_sealos_rollout::command()),
        ("cert", kubectl_sealos_cert::command()),
        ("diag", kubectl_sealos_diag::command()),
        ("backup", kubectl_sealos_backup::command()),
        ("bench", kubectl_sealos_bench::command()),
    ]
}

#[derive(clap::Args, Debug)]
pub struct Options {
    /// Do not write: exit 2 when README.md is not what clap says.
    #[arg(long)]
    pub check: bool,
}

pub fn run(options: &Options, root: &Path) -> Result<()> {
    let path = root.join("README.md");
    let readme =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let updated = regenerate(&readme, &plugins())?;
    if updated == readme {
        return Ok(());
    }
    if options.check {
        bail!("README.md's tables of flags differ from clap: run `cargo xtask readme-flags`");
    }
    std::fs::write(&path, updated).with_context(|| format!("write {}", path.display()))
}

/// `readme` with every plugin's block replaced by its table; a missing marker is an error.
pub fn regenerate(readme: &str, plugins: &[(&str, Command)]) -> Result<String> {
    let mut text = readme.to_string();
    for (verb, command) in plugins {
        let begin = format!("<!-- flags:{verb}:begin -->");
        let end = format!("<!-- flags:{verb}:end -->");
        let (Some(start), Some(stop)) = (text.find(&begin), text.find(&end)) else {
            bail!("README.md has no {begin} ... {end} block");
        };
        if stop < start {
            bail!("README.md: {end} comes before {begin}");
        }
        let inner = format!("\n{}", table(verb, command));
        text.replace_range(start + begin.len()..stop, &inner);
    }
    Ok(text)
}

/// One plugin's table: the flags every command takes, then each command's own.
pub fn table(verb: &str, command: &Command) -> String {
    let mut rows = Vec::new();
    let mut command = command.clone();
    command.build();
    for arg in listed(&command, true) {
        rows.push(row("(every command)", arg));
    }
    commands(&command, "", &mut rows);
    let mut text = format!(
        "Flags of `kubectl sealos {verb}` (generated from `--help` by `cargo xtask readme-flags`):\n\n"
    );
    text.push_str("| command | flag | value | default | meaning |\n");
    text.push_str("| --- | --- | --- | --- | --- |\n");
    for row in rows {
        text.push_str(&row);
        text.push('\n');
    }
    text
}

fn commands(parent: &Command, prefix: &str, rows: &mut Vec<String>) {
    for sub in parent.get_subcommands() {
        let name = sub.get_name();
        if sub.is_hide_set() || name == "help" || name == "completion" {
            continue;
        }
        let path = format!("{prefix}{name}");
        for arg in listed(sub, false) {
            rows.push(row(&path, arg));
        }
        commands(sub, &format!("{path} "), rows);
    }
}

/// The args a reader can type: not hidden, not help/version; globals only where declared.
fn listed(command: &Command, globals: bool) -> impl Iterator<Item = &Arg> {
    command.get_arguments().filter(move |arg| {
        !arg.is_hide_set()
            && (globals || !arg.is_global_set())
            && !matches!(
                arg.get_action(),
                ArgAction::Help | ArgAction::HelpLong | ArgAction::HelpShort | ArgAction::Version
            )
    })
}

fn row(command: &str, arg: &Arg) -> String {
    let flag = match (arg.get_short(), arg.get_long()) {
        (Some(s), Some(l)) => format!("`-{s}, --{l}`"),
        (None, Some(l)) => format!("`--{l}`"),
        (Some(s), None) => format!("`-{s}`"),
        (None, None) => format!("`{}`", value_name(arg)),
    };
    let takes_value = arg.get_num_args().is_none_or(|n| n.takes_values())
        && !matches!(
            arg.get_action(),
            ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count
        );
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    let value = if !takes_value || arg.get_long().is_none() && arg.get_short().is_none() {
        String::new()
    } else if !values.is_empty() {
        format!("`{}`", values.join("|"))
    } else {
        format!("`{}`", value_name(arg))
    };
    let default: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    let default = if default.is_empty() || !takes_value {
        String::new()
    } else {
        format!("`{}`", default.join(","))
    };
    let mut meaning = arg
        .get_help()
        .map(|h| h.to_string())
        .unwrap_or_default()
        .replace('\n', " ");
    if let Some(env) = arg.get_env() {
        meaning.push_str(&format!(" (env `{}`)", env.to_string_lossy()));
    }
    if arg.is_required_set() {
        meaning.push_str(" Required.");
    }
    format!(
        "| {command} | {flag} | {} | {} | {} |",
        cell(&value),
        cell(&default),
        cell(meaning.trim())
    )
}

fn value_name(arg: &Arg) -> String {
    match arg.get_value_names() {
        Some(names) if !names.is_empty() => names
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        _ => arg.get_id().as_str().to_uppercase(),
    }
}

/// Markdown table cells: a `|` ends the cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The README's tables are what clap says: a flag added, renamed or re-documented without
    /// `cargo xtask readme-flags` fails here.
    #[test]
    fn readme_tables_of_flags_match_clap() {
        let root = crate::workspace_root();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let generated = regenerate(&readme, &plugins()).unwrap();
        if generated != readme {
            let diff: Vec<String> = generated
                .lines()
                .zip(readme.lines())
                .filter(|(a, b)| a != b)
                .take(5)
                .map(|(want, have)| format!("README: {have}\nclap:   {want}"))
                .collect();
            panic!(
                "README.md's flag tables are stale: run `cargo xtask readme-flags`\n{}",
                diff.join("\n")
            );
        }
    }

    #[test]
    fn blocks_are_replaced_and_the_rest_kept() {
        let command = Command::new("demo")
            .arg(
                Arg::new("output")
                    .short('o')
                    .long("output")
                    .help("Output | format")
                    .value_parser(["table", "json"])
                    .default_value("table"),
            )
            .arg(Arg::new("old").long("format").hide(true))
            .subcommand(
                Command::new("run").arg(
                    Arg::new("dry-run")
                        .long("dry-run")
                        .action(ArgAction::SetTrue)
                        .help("Change nothing."),
                ),
            );
        let readme = "intro\n<!-- flags:demo:begin -->\nold\n<!-- flags:demo:end -->\noutro\n";
        let text = regenerate(readme, &[("demo", command)]).unwrap();
        assert!(
            text.starts_with("intro\n<!-- flags:demo:begin -->\nFlags of"),
            "{text}"
        );
        assert!(text.ends_with("<!-- flags:demo:end -->\noutro\n"), "{text}");
        assert!(text.contains("| (every command) | `-o, --output` | `table\\|json` | `table` | Output \\| format |"), "{text}");
        assert!(
            text.contains("| run | `--dry-run` |  |  | Change nothing. |"),
            "{text}"
        );
        assert!(
            !text.contains("--format"),
            "hidden flags are not listed: {text}"
        );
        assert!(regenerate("no markers", &[("demo", Command::new("demo"))]).is_err());
    }
}
