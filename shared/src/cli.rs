//! What every plugin's `main` shares: global flags, the runtime, signals, exit codes, completions.

use std::future::Future;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::error::{Error, Result, render};
use crate::exit::Exit;
use crate::output::ColorChoice;

/// Flags every plugin has, whatever the command.
#[derive(Args, Debug, Clone, Default)]
pub struct GlobalFlags {
    /// When to colour output: auto (a terminal without NO_COLOR or TERM=dumb), always, never.
    #[arg(long, value_enum, default_value_t, global = true)]
    pub color: ColorChoice,
    /// Show the whole cause chain of errors.
    #[arg(short = 'v', long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// Runs a plugin's async `run` to an exit code: Ctrl-C or SIGTERM ends it with 130, errors print
/// kubectl-style on stderr and exit 2, a closed stdout pipe ends it quietly.
pub fn main<F>(global: &GlobalFlags, run: F) -> ExitCode
where
    F: Future<Output = Result<Exit>>,
{
    // reqwest and our own TLS use rustls on ring; kube picks its provider itself.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return report(
                &Error::failed(format!("start the async runtime: {e}")),
                global,
            );
        }
    };
    let result = runtime.block_on(async {
        let run = std::pin::pin!(run);
        let mut run = run;
        tokio::select! {
            biased;
            result = &mut run => result,
            () = signal() => {
                if GRACEFUL.load(Ordering::SeqCst) {
                    // The command listens itself: let it stop between steps, unless asked twice.
                    tokio::select! {
                        biased;
                        result = &mut run => result,
                        () = signal() => Err(Error::Interrupted),
                    }
                } else {
                    Err(Error::Interrupted)
                }
            }
        }
    });
    match result {
        Ok(exit) => exit.into(),
        Err(err) => report(&err, global),
    }
}

fn report(err: &Error, global: &GlobalFlags) -> ExitCode {
    if err.is_broken_pipe() {
        return Exit::Ok.into();
    }
    let _ = writeln!(std::io::stderr(), "{}", render(err, global.verbose > 0));
    err.exit().into()
}

/// Set once a command listens for `shutdown_signal` itself: the frame then lets it finish.
static GRACEFUL: AtomicBool = AtomicBool::new(false);

/// The first SIGINT or SIGTERM, for commands that stop cleanly between steps (the monitor, a
/// rollout plan). Calling it tells the frame not to cut the command short on the first signal;
/// a second signal still ends the process with 130.
pub async fn shutdown_signal() {
    GRACEFUL.store(true, Ordering::SeqCst);
    signal().await;
}

async fn signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// `completion SHELL` (the script for the plugin's binary) or `completion install [--dir DIR]`
/// (completion inside kubectl's own: `kubectl sealos <verb> <TAB>`).
#[derive(Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct CompletionArgs {
    #[command(subcommand)]
    pub action: Option<CompletionAction>,
    /// The shell to generate the completion script for.
    #[arg(value_enum, required = true)]
    pub shell: Option<Shell>,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum CompletionAction {
    /// Write the kubectl_complete-* links kubectl (1.26+) runs to complete this plugin's
    /// arguments, beside the binary (krew's bin directory) or into --dir, which must be on PATH.
    Install {
        /// Where to write the links (default: beside this binary as kubectl found it).
        #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
        dir: Option<std::path::PathBuf>,
    },
}

/// Runs `completion`: the script of `C` (named after its binary) to `out`, or the install.
pub fn write_completion<C: CommandFactory>(
    args: &CompletionArgs,
    out: &mut dyn Write,
) -> Result<Exit> {
    let mut command = C::command();
    let name = command.get_name().to_string();
    match (&args.action, args.shell) {
        (Some(CompletionAction::Install { dir }), _) => {
            let dir = match dir {
                Some(dir) => dir.clone(),
                None => crate::complete::install::default_dir()?,
            };
            for written in crate::complete::install::install(&name, &dir)? {
                writeln!(
                    out,
                    "{} -> {}",
                    written.link.display(),
                    written.target.display()
                )
                .map_err(|e| Error::io("write completion", e))?;
            }
            if !crate::complete::install::on_path(&dir) {
                eprintln!(
                    "warning: {} is not on PATH: kubectl looks for kubectl_complete-* there",
                    dir.display()
                );
            }
        }
        (None, Some(shell)) => clap_complete::generate(shell, &mut command, name, out),
        (None, None) => {
            return Err(Error::usage(
                "name a shell (bash, zsh, fish, elvish, powershell) or install",
            ));
        }
    }
    out.flush().map_err(|e| Error::io("write completion", e))?;
    Ok(Exit::Ok)
}

/// The `after_help` block of examples: `kubectl sealos <verb> ...` lines.
pub fn examples(lines: &[&str]) -> String {
    let mut text = String::from("Examples:\n");
    for line in lines {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    /// A tiny plugin-like command.
    #[derive(Parser)]
    #[command(name = "kubectl-sealos-demo")]
    struct Demo {
        #[command(flatten)]
        global: GlobalFlags,
    }

    #[test]
    fn completion_names_the_binary() {
        let mut out = Vec::new();
        let args = CompletionArgs {
            action: None,
            shell: Some(Shell::Bash),
        };
        write_completion::<Demo>(&args, &mut out).unwrap();
        let script = String::from_utf8(out).unwrap();
        assert!(script.contains("kubectl-sealos-demo"), "{script}");
        assert!(script.contains("--color"));
    }

    #[test]
    fn examples_are_indented() {
        assert_eq!(examples(&["a", "b"]), "Examples:\n  a\n  b\n");
    }

    #[test]
    fn global_flags_parse() {
        let demo = Demo::try_parse_from(["x", "--color", "never", "-vv"]).unwrap();
        assert_eq!(demo.global.color, ColorChoice::Never);
        assert_eq!(demo.global.verbose, 2);
        assert!(Demo::try_parse_from(["x", "--color", "purple"]).is_err());
    }
}
