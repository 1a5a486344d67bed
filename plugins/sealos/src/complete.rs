//! Completion through kubectl for `kubectl sealos <TAB>`: kubectl runs `kubectl_complete-sealos
//! WORDS...` (the words after `sealos`, the last being completed). The first word completes to
//! the verbs; later words are the plugin's to answer, so they go to its `__complete`.

use std::ffi::OsString;
use std::process::{Command, ExitCode};

use crate::{print, sibling, suite};

/// True when started to complete: under kubectl's name for it, or as `kubectl-sealos __complete`.
pub fn words(program: &OsString, args: &[OsString]) -> Option<Vec<OsString>> {
    let by_name = std::path::Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("kubectl_complete-"));
    if by_name {
        Some(args.to_vec())
    } else if args.first().is_some_and(|a| a == "__complete") {
        Some(args[1..].to_vec())
    } else {
        None
    }
}

/// Prints Cobra's answer for `words`; errors give no candidates, never a message.
pub fn answer(words: &[OsString]) -> ExitCode {
    if let [verb, rest @ ..] = words
        && !rest.is_empty()
        && let Some(plugin) = verb.to_str().and_then(suite::find)
    {
        let answer = sibling::home()
            .ok()
            .and_then(|home| sibling::find(&home, plugin.verb))
            .and_then(|path| {
                Command::new(path)
                    .arg("__complete")
                    .args(rest)
                    .output()
                    .ok()
            })
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned());
        print(&answer.unwrap_or_else(|| ":4\n".into()));
        return ExitCode::SUCCESS;
    }
    let partial = words
        .first()
        .map(|w| w.to_string_lossy().into_owned())
        .unwrap_or_default();
    print(&first_word(&partial));
    ExitCode::SUCCESS
}

/// The verbs (and `version`) that start with `partial`, then "no file completion".
pub fn first_word(partial: &str) -> String {
    let mut text = String::new();
    let entries = suite::PLUGINS
        .iter()
        .map(|p| (p.verb, p.about))
        .chain([("version", "Print the version of each plugin")]);
    for (verb, about) in entries.filter(|(verb, _)| verb.starts_with(partial)) {
        text.push_str(&format!("{verb}\t{about}\n"));
    }
    text.push_str(":4\n");
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_first_word_is_a_verb() {
        assert_eq!(
            first_word("b"),
            "backup\tBack up and restore the configuration (local or S3)\nbench\tBenchmark the services behind the ingress gateway\n:4\n"
        );
        assert_eq!(first_word("zz"), ":4\n");
    }

    #[test]
    fn started_to_complete_by_name_or_flag() {
        let args = |l: &[&str]| l.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            words(&"/x/kubectl_complete-sealos".into(), &args(&["he"])),
            Some(args(&["he"]))
        );
        assert_eq!(
            words(&"kubectl-sealos".into(), &args(&["__complete", "cert", ""])),
            Some(args(&["cert", ""]))
        );
        assert_eq!(words(&"kubectl-sealos".into(), &args(&["cert"])), None);
    }
}
