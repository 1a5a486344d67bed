#![allow(clippy::unwrap_used)]
use super::*;
use crate::cli::{CompletionArgs, GlobalFlags};
use crate::connection::KubeFlags;
use clap::{Parser, Subcommand, ValueEnum};

/// A plugin-like tree: global and connection flags, subcommands, enum values, positionals.
#[derive(Parser)]
#[command(name = "kubectl-sealos-demo")]
struct Demo {
    #[command(flatten)]
    global: GlobalFlags,
    #[command(flatten)]
    kube: KubeFlags,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Set things.
    Set {
        /// Controllers and a percentage.
        #[arg(num_args = 1..)]
        names: Vec<String>,
        /// Write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Check areas.
    Check {
        /// Areas.
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Vec<Area>,
        /// A file.
        #[arg(long, value_name = "PATH")]
        out: Option<String>,
    },
    Completion(CompletionArgs),
}

#[derive(ValueEnum, Clone)]
enum Area {
    /// The pods.
    Pods,
    Certs,
}

fn sources(path: &[String], arg: &str) -> Option<Source> {
    (path == ["set"] && arg == "names").then_some(Source::Controllers {
        default_namespace: "sealos-system",
    })
}

fn words(text: &[&str]) -> Vec<String> {
    text.iter().map(|w| w.to_string()).collect()
}

fn place(text: &[&str]) -> Place {
    walk::walk(&Demo::command(), &words(text))
}

fn values(answer: &Answer) -> Vec<&str> {
    answer.candidates.iter().map(|c| c.value.as_str()).collect()
}

#[test]
fn subcommands_with_descriptions() {
    let answer = respond(&Demo::command(), &words(&[""]), sources);
    assert_eq!(values(&answer), ["set", "check", "completion"]);
    assert_eq!(answer.candidates[0].description, "Set things");
    assert_eq!(answer.directive, DIRECTIVE_NO_FILE_COMP);
    assert_eq!(
        answer.render().lines().last(),
        Some(":4"),
        "the directive is the last line"
    );
    assert_eq!(
        values(&respond(&Demo::command(), &words(&["ch"]), sources)),
        ["check"]
    );
    // Nested: `completion install`.
    let answer = respond(&Demo::command(), &words(&["completion", "i"]), sources);
    assert_eq!(values(&answer), ["install"]);
}

#[test]
fn flags_of_the_subcommand_and_the_global_ones() {
    let answer = respond(&Demo::command(), &words(&["set", "--d"]), sources);
    assert_eq!(values(&answer), ["--dry-run"]);
    let answer = respond(&Demo::command(), &words(&["set", "--"]), sources);
    for flag in [
        "--namespace",
        "--context",
        "--as",
        "--as-group",
        "--token",
        "--color",
    ] {
        assert!(values(&answer).contains(&flag), "{flag}: {answer:?}");
    }
}

#[test]
fn enum_values_after_the_flag_and_after_commas() {
    let answer = respond(&Demo::command(), &words(&["check", "--only", ""]), sources);
    assert_eq!(values(&answer), ["pods", "certs"]);
    assert_eq!(answer.candidates[0].description, "The pods");
    let answer = respond(
        &Demo::command(),
        &words(&["check", "--only=pods,c"]),
        sources,
    );
    assert_eq!(values(&answer), ["--only=pods,certs"]);
    let answer = respond(&Demo::command(), &words(&["--color", "n"]), sources);
    assert_eq!(values(&answer), ["never"]);
}

#[test]
fn a_path_value_leaves_it_to_the_shell() {
    let answer = respond(&Demo::command(), &words(&["check", "--out", ""]), sources);
    assert!(answer.candidates.is_empty());
    assert_eq!(answer.directive, DIRECTIVE_DEFAULT);
}

#[test]
fn the_walk_finds_the_place_and_the_connection_flags() {
    let p = place(&["set", "-n", "ns-a", "--context=c1", "a", ""]);
    assert_eq!(p.path, ["set"]);
    assert_eq!(p.value("namespace"), Some("ns-a"));
    assert_eq!(p.value("context"), Some("c1"));
    assert_eq!(p.positionals, ["a"]);
    assert_eq!(
        p.target,
        Target::Word {
            positional: Some("names".into())
        }
    );
    // `-nns` and a flag after the subcommand that the root declared globally.
    let p = place(&["-nns-b", "set", ""]);
    assert_eq!(p.value("namespace"), Some("ns-b"));
    assert_eq!(p.path, ["set"]);
    let p = place(&["set", "-n", ""]);
    assert_eq!(
        p.target,
        Target::Value {
            arg: "namespace".into(),
            prefix: String::new()
        }
    );
    assert_eq!(
        sources(&p.path, "names"),
        Some(Source::Controllers {
            default_namespace: "sealos-system"
        })
    );
}

#[test]
fn no_cluster_no_candidates_and_no_error() {
    // An unreachable kubeconfig: the answer is empty and still well formed.
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:1\"}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n- name: b\n  context: {cluster: c, user: u}\n",
    )
    .unwrap();
    let kc = kubeconfig.to_string_lossy().to_string();
    let answer = respond(
        &Demo::command(),
        &words(&["--kubeconfig", &kc, "set", ""]),
        sources,
    );
    assert!(answer.candidates.is_empty(), "{answer:?}");
    assert_eq!(answer.render(), ":4\n");
    // Contexts come from the kubeconfig alone.
    let answer = respond(
        &Demo::command(),
        &words(&["--kubeconfig", &kc, "--context", ""]),
        sources,
    );
    assert_eq!(values(&answer), ["a", "b"]);
}
