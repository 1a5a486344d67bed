//! Every plugin binary shares the frame: help with examples, version, completions, exit 2 on a
//! bad flag with a clear message.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use sealos_e2e::{PLUGINS, plugin_bin, run};

#[test]
fn help_shows_usage_and_examples() {
    for plugin in PLUGINS {
        run(Command::new(plugin_bin(plugin)).arg("--help"))
            .expect_code(0)
            .expect_stdout_contains(&format!("Usage: kubectl sealos {plugin}"))
            .expect_stdout_contains("Examples:")
            .expect_stdout_contains("completion");
    }
}

#[test]
fn version_names_release_and_revision() {
    for plugin in PLUGINS {
        let out = run(Command::new(plugin_bin(plugin)).arg("--version"));
        out.expect_code(0)
            .expect_stdout_contains(&format!("kubectl-sealos-{plugin} 0.1.0 ("));
    }
}

#[test]
fn completion_scripts_for_each_shell() {
    for plugin in PLUGINS {
        for shell in ["bash", "zsh", "fish"] {
            run(Command::new(plugin_bin(plugin)).args(["completion", shell]))
                .expect_code(0)
                .expect_stdout_contains(&format!("kubectl-sealos-{plugin}"));
        }
        run(Command::new(plugin_bin(plugin)).args(["completion", "tcsh"]))
            .expect_code(2)
            .expect_stderr_contains("invalid value 'tcsh'");
    }
}

#[test]
fn a_bad_flag_exits_2_with_a_clear_message() {
    for plugin in PLUGINS {
        let out = run(Command::new(plugin_bin(plugin)).arg("--no-such-flag"));
        out.expect_code(2)
            .expect_stderr_contains("unexpected argument '--no-such-flag'");
        assert!(
            out.stdout.is_empty(),
            "nothing on stdout for a usage error\n{out}"
        );
    }
}

#[test]
fn colour_flag_rejects_unknown_values() {
    for plugin in PLUGINS {
        let out =
            run(Command::new(plugin_bin(plugin)).args(["completion", "bash", "--color", "purple"]));
        out.expect_code(2)
            .expect_stderr_contains("invalid value 'purple'");
    }
}
