//! Where the word being completed stands in a clap command tree: a subcommand, a flag, a flag's
//! value or a positional — found by walking the words typed before it, generically, so every
//! subcommand and flag any plugin declares completes without being listed here.

use clap::{Arg, Command};

/// What the last word is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A subcommand name or a positional value (`positional` is the arg, if the command has one
    /// at that place).
    Word { positional: Option<String> },
    /// A flag name (the word starts with `-`).
    Flag,
    /// The value of the flag `arg` (its id); `prefix` is what precedes the value in the word
    /// (`--namespace=`), to be kept in the candidates.
    Value { arg: String, prefix: String },
}

/// The walk's result: the subcommand reached, what is completed, and the connection flags the
/// words set (for dynamic candidates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Subcommand names from the root, e.g. `["set"]` in `rollout set`.
    pub path: Vec<String>,
    pub target: Target,
    /// The word being completed, without a `--flag=` prefix.
    pub partial: String,
    /// Flag values typed so far, by arg id (`namespace`, `context`, `kubeconfig`, ...).
    pub values: Vec<(String, String)>,
    /// Positionals typed so far in the final subcommand.
    pub positionals: Vec<String>,
}

impl Place {
    /// The last value typed for the arg `id`.
    pub fn value(&self, id: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| k == id)
            .map(|(_, v)| v.as_str())
    }
}

/// Walks `words` (the last one is being completed) through `root`.
pub fn walk(root: &Command, words: &[String]) -> Place {
    let mut root = root.clone();
    root.build();
    let (partial, typed) = match words.split_last() {
        Some((last, typed)) => (last.clone(), typed),
        None => (String::new(), &[][..]),
    };
    let mut cmd = &root;
    let mut path = Vec::new();
    let mut values = Vec::new();
    let mut positionals: Vec<String> = Vec::new();
    let mut pending: Option<String> = None;
    let mut only_positionals = false;
    for word in typed {
        if let Some(id) = pending.take() {
            values.push((id, word.clone()));
            continue;
        }
        if !only_positionals && word == "--" {
            only_positionals = true;
            continue;
        }
        if !only_positionals && let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            if let Some(arg) = long_arg(cmd, name) {
                match (takes_value(arg), inline) {
                    (true, Some(value)) => values.push((arg.get_id().to_string(), value.into())),
                    (true, None) => pending = Some(arg.get_id().to_string()),
                    (false, _) => values.push((arg.get_id().to_string(), String::new())),
                }
            }
            continue;
        }
        if !only_positionals && word.len() > 1 && word.starts_with('-') {
            // `-n ns`, `-nns`, `-vv`.
            for (i, c) in word[1..].char_indices() {
                let Some(arg) = short_arg(cmd, c) else { break };
                if takes_value(arg) {
                    let rest = &word[1 + i + c.len_utf8()..];
                    if rest.is_empty() {
                        pending = Some(arg.get_id().to_string());
                    } else {
                        values.push((
                            arg.get_id().to_string(),
                            rest.trim_start_matches('=').into(),
                        ));
                    }
                    break;
                }
                values.push((arg.get_id().to_string(), String::new()));
            }
            continue;
        }
        if positionals.is_empty()
            && let Some(sub) = subcommand(cmd, word)
        {
            path.push(sub.get_name().to_string());
            cmd = sub;
            continue;
        }
        positionals.push(word.clone());
    }
    let target = if let Some(arg) = pending {
        Target::Value {
            arg,
            prefix: String::new(),
        }
    } else if let Some(long) = partial.strip_prefix("--").filter(|_| !only_positionals) {
        match long.split_once('=') {
            Some((name, _)) => match long_arg(cmd, name).filter(|a| takes_value(a)) {
                Some(arg) => Target::Value {
                    arg: arg.get_id().to_string(),
                    prefix: format!("--{name}="),
                },
                None => Target::Flag,
            },
            None => Target::Flag,
        }
    } else if partial.starts_with('-') && !only_positionals {
        Target::Flag
    } else {
        Target::Word {
            positional: positional_at(cmd, positionals.len()).map(|a| a.get_id().to_string()),
        }
    };
    let partial = match &target {
        Target::Value { prefix, .. } => partial[prefix.len()..].to_string(),
        _ => partial,
    };
    Place {
        path,
        target,
        partial,
        values,
        positionals,
    }
}

/// The subcommand `path` leads to from `root` (built, so global flags are on every level).
pub fn command_at(root: &Command, path: &[String]) -> Command {
    let mut root = root.clone();
    root.build();
    let mut cmd = root;
    for name in path {
        match cmd.find_subcommand(name) {
            Some(sub) => cmd = sub.clone(),
            None => break,
        }
    }
    cmd
}

fn long_arg<'a>(cmd: &'a Command, name: &str) -> Option<&'a Arg> {
    cmd.get_arguments().find(|a| {
        a.get_long() == Some(name)
            || a.get_all_aliases()
                .is_some_and(|aliases| aliases.contains(&name))
    })
}

fn short_arg(cmd: &Command, c: char) -> Option<&Arg> {
    cmd.get_arguments().find(|a| a.get_short() == Some(c))
}

fn subcommand<'a>(cmd: &'a Command, word: &str) -> Option<&'a Command> {
    cmd.get_subcommands()
        .find(|s| s.get_name() == word || s.get_all_aliases().any(|a| a == word))
}

/// True when the flag is followed by a value (`-n NS`), false for a switch (`--dry-run`, `-v`).
pub fn takes_value(arg: &Arg) -> bool {
    arg.get_num_args()
        .is_some_and(|n| n.takes_values() && n.min_values() > 0)
}

/// The positional at `index`, the last one absorbing the rest when it takes many.
fn positional_at(cmd: &Command, index: usize) -> Option<&Arg> {
    let positionals: Vec<&Arg> = cmd.get_positionals().collect();
    positionals.get(index).copied().or_else(|| {
        positionals
            .last()
            .copied()
            .filter(|a| a.get_num_args().is_some_and(|n| n.max_values() > 1))
    })
}
