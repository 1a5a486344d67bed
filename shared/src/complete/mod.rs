//! Completion through kubectl. Since 1.26, `kubectl sealos rollout <TAB>` runs
//! `kubectl_complete-sealos-rollout WORDS...` from PATH (the words after the plugin's name, the
//! last one being completed) and reads Cobra's `__complete` answer: one candidate a line,
//! optionally `\tdescription`, then `:DIRECTIVE`. Each binary answers it when called by that
//! name (a link made by `completion install`) or as `kubectl-sealos-<verb> __complete WORDS...`.
//!
//! Subcommands, flags and enum values come from the clap tree ([`walk`]); names from the cluster
//! come from the plugin's [`Sources`] ([`cluster`]): one list, a short timeout, and on any error
//! no candidates rather than a message in the user's prompt.

pub mod cluster;
pub mod install;
pub mod walk;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::{Command, CommandFactory, ValueHint};

pub use walk::{Place, Target};

/// Cobra's directives (`cobra.ShellCompDirective`).
pub const DIRECTIVE_DEFAULT: u32 = 0;
pub const DIRECTIVE_NO_FILE_COMP: u32 = 4;
pub const DIRECTIVE_FILTER_DIRS: u32 = 16;

/// Names read from the cluster (or the kubeconfig) for a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Namespaces,
    Contexts,
    Clusters,
    Users,
    /// The Sealos controllers (traffic_shift's rule) in `-n`, else `default_namespace`.
    Controllers {
        default_namespace: &'static str,
    },
    Certificates,
    /// Secrets of type kubernetes.io/tls.
    TlsSecrets,
    /// Certificates, then TLS Secrets as `secret/NAME`.
    CertificatesAndTlsSecrets,
    /// The `app` labels of the namespace's pods.
    Apps,
    /// Local files (the shell completes them).
    Files,
    /// Local directories.
    Dirs,
}

/// A plugin's dynamic candidates: the source for the arg `arg` (its clap id) of the subcommand
/// at `path`, or `None` for what the clap tree alone answers.
pub type Sources = fn(path: &[String], arg: &str) -> Option<Source>;

/// The sources of a plugin whose values all come from the clap tree.
pub fn no_sources(_path: &[String], _arg: &str) -> Option<Source> {
    None
}

/// One line of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub value: String,
    pub description: String,
}

impl Candidate {
    pub fn new(value: impl Into<String>, description: impl Into<String>) -> Candidate {
        Candidate {
            value: value.into(),
            description: description.into(),
        }
    }
}

/// Cobra's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub candidates: Vec<Candidate>,
    pub directive: u32,
}

impl Answer {
    fn none() -> Answer {
        Answer {
            candidates: Vec::new(),
            directive: DIRECTIVE_NO_FILE_COMP,
        }
    }

    /// The protocol's text.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for c in &self.candidates {
            // A tab or newline inside a value would break the lines; such names are not offered.
            let description = c.description.lines().next().unwrap_or_default();
            if description.is_empty() {
                text.push_str(&c.value);
            } else {
                text.push_str(&format!("{}\t{}", c.value, description.replace('\t', " ")));
            }
            text.push('\n');
        }
        text.push_str(&format!(":{}\n", self.directive));
        text
    }
}

/// Called first in each plugin's `main`: when the process was started to complete (named
/// `kubectl_complete-*`, or with `__complete` first), answers and returns the exit code.
pub fn intercept<C: CommandFactory>(sources: Sources) -> Option<ExitCode> {
    let mut args = std::env::args_os();
    let program = args.next().unwrap_or_default();
    let rest: Vec<OsString> = args.collect();
    let called_to_complete = std::path::Path::new(&program)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("kubectl_complete-"));
    let words: Vec<String> = if called_to_complete {
        rest.iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect()
    } else if rest.first().is_some_and(|w| w == "__complete") {
        rest[1..]
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect()
    } else {
        return None;
    };
    let answer = respond(&C::command(), &words, sources);
    // A closed pipe or a full disk: the shell gets nothing, as from a plugin without completion.
    let _ = std::io::stdout().write_all(answer.render().as_bytes());
    Some(ExitCode::SUCCESS)
}

/// The answer for `words` (the last one is being completed), reading the cluster when the
/// place asks for names from it.
pub fn respond(root: &Command, words: &[String], sources: Sources) -> Answer {
    let place = walk::walk(root, words);
    let cmd = walk::command_at(root, &place.path);
    match statically(&cmd, &place, sources) {
        Ok(answer) => answer,
        Err((source, prefix)) => {
            let names = cluster::names(&source, &place);
            let mut answer = match source {
                Source::Files => Answer {
                    candidates: Vec::new(),
                    directive: DIRECTIVE_DEFAULT,
                },
                Source::Dirs => Answer {
                    candidates: Vec::new(),
                    directive: DIRECTIVE_FILTER_DIRS,
                },
                _ => Answer::none(),
            };
            answer.candidates = names
                .into_iter()
                .filter(|c| c.value.starts_with(&place.partial))
                .map(|c| Candidate::new(format!("{prefix}{}", c.value), c.description))
                .collect();
            answer
        }
    }
}

/// What the clap tree answers, or the source (and the prefix its names get) to read.
fn statically(cmd: &Command, place: &Place, sources: Sources) -> Result<Answer, (Source, String)> {
    let partial = place.partial.as_str();
    match &place.target {
        Target::Flag => {
            let mut candidates = Vec::new();
            for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                if let Some(long) = arg.get_long() {
                    candidates.push(Candidate::new(format!("--{long}"), help.clone()));
                }
                if !partial.starts_with("--")
                    && let Some(short) = arg.get_short()
                {
                    candidates.push(Candidate::new(format!("-{short}"), help));
                }
            }
            Ok(filtered(candidates, partial, DIRECTIVE_NO_FILE_COMP))
        }
        Target::Value { arg, prefix } => {
            let Some(found) = cmd.get_arguments().find(|a| a.get_id() == arg) else {
                return Ok(Answer::none());
            };
            // `--only a,b,<TAB>`: complete after the last delimiter, keeping what precedes it.
            let (head, last) = match found.get_value_delimiter() {
                Some(d) => match partial.rfind(d) {
                    Some(i) => (&partial[..=i], &partial[i + 1..]),
                    None => ("", partial),
                },
                None => ("", partial),
            };
            let values = possible_values(found);
            if !values.is_empty() {
                let candidates = values
                    .into_iter()
                    .filter(|c| c.value.starts_with(last))
                    .map(|c| Candidate::new(format!("{prefix}{head}{}", c.value), c.description))
                    .collect();
                return Ok(Answer {
                    candidates,
                    directive: DIRECTIVE_NO_FILE_COMP,
                });
            }
            match sources(&place.path, arg).or_else(|| source_by_flag(arg, found)) {
                Some(source) => Err((source, prefix.clone())),
                None => Ok(Answer::none()),
            }
        }
        Target::Word { positional } => {
            let subcommands: Vec<Candidate> = cmd
                .get_subcommands()
                .filter(|s| !s.is_hide_set() && s.get_name() != "help")
                .map(|s| {
                    Candidate::new(
                        s.get_name(),
                        s.get_about().map(|a| a.to_string()).unwrap_or_default(),
                    )
                })
                .collect();
            if place.positionals.is_empty() && !subcommands.is_empty() {
                return Ok(filtered(subcommands, partial, DIRECTIVE_NO_FILE_COMP));
            }
            let Some(id) = positional else {
                return Ok(Answer::none());
            };
            let Some(found) = cmd.get_arguments().find(|a| a.get_id() == id) else {
                return Ok(Answer::none());
            };
            let values = possible_values(found);
            if !values.is_empty() {
                return Ok(filtered(values, partial, DIRECTIVE_NO_FILE_COMP));
            }
            match sources(&place.path, id).or_else(|| source_by_hint(found)) {
                Some(source) => Err((source, String::new())),
                None => Ok(Answer::none()),
            }
        }
    }
}

fn filtered(candidates: Vec<Candidate>, partial: &str, directive: u32) -> Answer {
    Answer {
        candidates: candidates
            .into_iter()
            .filter(|c| c.value.starts_with(partial))
            .collect(),
        directive,
    }
}

fn possible_values(arg: &clap::Arg) -> Vec<Candidate> {
    arg.get_possible_values()
        .into_iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| {
            Candidate::new(
                v.get_name(),
                v.get_help().map(|h| h.to_string()).unwrap_or_default(),
            )
        })
        .collect()
}

/// The connection flags every plugin shares, and paths by their hint or value name.
fn source_by_flag(id: &str, arg: &clap::Arg) -> Option<Source> {
    match id {
        "namespace" => Some(Source::Namespaces),
        "context" => Some(Source::Contexts),
        "cluster" => Some(Source::Clusters),
        "user" => Some(Source::Users),
        _ => source_by_hint(arg),
    }
}

fn source_by_hint(arg: &clap::Arg) -> Option<Source> {
    match arg.get_value_hint() {
        ValueHint::DirPath => return Some(Source::Dirs),
        ValueHint::FilePath | ValueHint::AnyPath => return Some(Source::Files),
        _ => {}
    }
    let name = arg
        .get_value_names()
        .and_then(|n| n.first())
        .map(|n| n.to_string())
        .unwrap_or_default();
    match name.as_str() {
        "DIR" => Some(Source::Dirs),
        "PATH" | "FILE" => Some(Source::Files),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
