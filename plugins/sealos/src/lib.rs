//! `kubectl sealos`: the suite's front door. With no verb it lists the six plugins; `version`
//! reports each one's version; `kubectl sealos VERB ARGS...` runs `kubectl-sealos-VERB ARGS...`
//! from this binary's own directory. kubectl itself prefers `kubectl-sealos-health` on PATH for
//! `kubectl sealos health` and falls back to this binary when only krew's link is on PATH, so
//! both installs answer the same command.

mod complete;
mod sibling;
mod suite;
mod version;

use std::ffi::OsString;
use std::io::Write;
use std::process::{Command, ExitCode};

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Invocation {
    /// No verb, `help`, `-h`, `--help`: the list of plugins.
    List,
    Version {
        json: bool,
    },
    /// A plugin of the suite, with the arguments that follow its verb.
    Run {
        verb: String,
        args: Vec<OsString>,
    },
}

/// Reads the arguments after the program name; an error is a message for exit 2.
pub fn parse(args: &[OsString]) -> Result<Invocation, String> {
    let Some(first) = args.first() else {
        return Ok(Invocation::List);
    };
    let first = first.to_str().unwrap_or("");
    match first {
        "help" | "-h" | "--help" => Ok(Invocation::List),
        "version" | "--version" | "-V" => {
            let rest: Vec<&str> = args[1..]
                .iter()
                .map(|a| a.to_str().unwrap_or("?"))
                .collect();
            match rest.as_slice() {
                [] => Ok(Invocation::Version { json: false }),
                ["-o", "json"] | ["--output", "json"] | ["-ojson"] | ["--output=json"] => {
                    Ok(Invocation::Version { json: true })
                }
                ["-o", "table"] | ["--output", "table"] | ["--output=table"] => {
                    Ok(Invocation::Version { json: false })
                }
                other => Err(format!(
                    "unknown arguments for \"kubectl sealos version\": {}; it takes -o json|table",
                    other.join(" ")
                )),
            }
        }
        verb => match suite::find(verb) {
            Some(plugin) => Ok(Invocation::Run {
                verb: plugin.verb.to_string(),
                args: args[1..].to_vec(),
            }),
            None => Err(format!(
                "unknown command {:?} for \"kubectl sealos\"; the commands are {}",
                args[0].to_string_lossy(),
                verbs()
            )),
        },
    }
}

fn verbs() -> String {
    suite::PLUGINS
        .iter()
        .map(|p| p.verb)
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn main(program: OsString, args: Vec<OsString>) -> ExitCode {
    if let Some(words) = complete::words(&program, &args) {
        return complete::answer(&words);
    }
    let result = parse(&args).and_then(dispatch);
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(invocation: Invocation) -> Result<ExitCode, String> {
    let home = sibling::home()?;
    match invocation {
        Invocation::List => {
            let mut text = String::from(
                "kubectl sealos: operations for Sealos clusters whose ingress runs on Istio\n\nCommands:\n",
            );
            for plugin in &suite::PLUGINS {
                let missing = if sibling::find(&home, plugin.verb).is_some() {
                    ""
                } else {
                    "  (not installed)"
                };
                text.push_str(&format!("  {:<8} {}{missing}\n", plugin.verb, plugin.about));
            }
            text.push_str("  version  Print the version of each plugin\n\n");
            text.push_str("Run \"kubectl sealos VERB --help\" for a command's flags.\n");
            print(&text);
            Ok(ExitCode::SUCCESS)
        }
        Invocation::Version { json } => {
            let found = version::survey(&home);
            print(&if json {
                version::render_json(&found)
            } else {
                version::render_text(&found)
            });
            Ok(ExitCode::SUCCESS)
        }
        Invocation::Run { verb, args } => {
            let path = sibling::find(&home, &verb).ok_or_else(|| {
                format!(
                    "{} is not installed beside kubectl-sealos (in {}); reinstall the suite \
                     (kubectl krew install sealos)",
                    sibling::file_name(&verb),
                    home.display()
                )
            })?;
            run(Command::new(&path).args(args))
                .map_err(|e| format!("cannot run {}: {e}", path.display()))
        }
    }
}

/// Becomes the plugin (Unix `exec`): its exit code, signals and terminal are the user's, as if
/// kubectl had found it on PATH.
#[cfg(unix)]
fn run(command: &mut Command) -> std::io::Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    Err(command.exec())
}

/// Windows has no exec: wait for the plugin and pass its exit code on.
#[cfg(not(unix))]
fn run(command: &mut Command) -> std::io::Result<ExitCode> {
    let status = command.status()?;
    let code = status.code().unwrap_or(2).clamp(0, 255);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(2)))
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn print(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn no_verb_and_help_list_the_suite() {
        assert_eq!(parse(&[]).unwrap(), Invocation::List);
        assert_eq!(parse(&args(&["--help"])).unwrap(), Invocation::List);
    }

    #[test]
    fn a_verb_keeps_every_following_argument() {
        assert_eq!(
            parse(&args(&["cert", "check", "-A", "--", "x"])).unwrap(),
            Invocation::Run {
                verb: "cert".into(),
                args: args(&["check", "-A", "--", "x"])
            }
        );
    }

    #[test]
    fn only_the_suites_verbs_run() {
        for bad in ["../../bin/sh", "healthx", "", "-n"] {
            let err = parse(&args(&[bad])).unwrap_err();
            assert!(err.contains("the commands are health, rollout, cert, diag, backup, bench"));
        }
    }

    #[test]
    fn version_takes_json_or_nothing() {
        assert_eq!(
            parse(&args(&["version", "-o", "json"])).unwrap(),
            Invocation::Version { json: true }
        );
        assert!(
            parse(&args(&["version", "-o", "yaml"]))
                .unwrap_err()
                .contains("-o json|table")
        );
    }
}
