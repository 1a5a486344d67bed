//! Flags that mean one thing suite-wide, as in kubectl: `-o/--output` is the output format and
//! `--fail-on` the level that makes the exit code 1. Old spellings are refused while the command
//! line is parsed (exit 2, before anything is sent) with a hint that names the new one.

use std::ffi::OsStr;
use std::marker::PhantomData;

use clap::ValueEnum;
use clap::builder::{EnumValueParser, PossibleValue, TypedValueParser};
use clap::error::ErrorKind;

use crate::output::{Format, Severity};

/// `--fail-on`: the lowest level of finding that makes the exit code 1.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailOn {
    /// Warnings too.
    Warn,
    /// Only failures (the default).
    #[default]
    Fail,
}

impl FailOn {
    /// The severity from which findings fail the run.
    pub fn severity(self) -> Severity {
        match self {
            FailOn::Warn => Severity::Warn,
            FailOn::Fail => Severity::Fail,
        }
    }

    /// True when a finding of `worst` severity makes the exit code 1.
    pub fn reached_by(self, worst: Severity) -> bool {
        worst >= self.severity()
    }

    /// The parser of `--fail-on`: `error` (cert's old spelling) is refused with the new one.
    pub fn parser() -> Hinted<FailOn> {
        Hinted::new().old(&[("error", "--fail-on error was renamed: use --fail-on fail")])
    }
}

/// The parser of `-o/--output`. `hint` answers a value that is not a format, for commands where
/// `-o` used to name a file (`diag bundle -o FILE`) or `--output` a directory (`backup`).
pub fn format_parser(hint: &'static str) -> Hinted<Format> {
    Hinted::new().otherwise(hint)
}

/// An enum flag checked by clap (its values still complete in shells), with a hint for values
/// people typed before a rename.
#[derive(Clone, Debug)]
pub struct Hinted<E> {
    old: &'static [(&'static str, &'static str)],
    otherwise: Option<&'static str>,
    values: PhantomData<E>,
}

impl<E> Hinted<E> {
    pub const fn new() -> Hinted<E> {
        Hinted {
            old: &[],
            otherwise: None,
            values: PhantomData,
        }
    }

    /// Old values and the hint each one gets.
    pub const fn old(mut self, old: &'static [(&'static str, &'static str)]) -> Hinted<E> {
        self.old = old;
        self
    }

    /// The hint for any other value that is not one of the enum's.
    pub const fn otherwise(mut self, hint: &'static str) -> Hinted<E> {
        self.otherwise = Some(hint);
        self
    }
}

impl<E> Default for Hinted<E> {
    fn default() -> Hinted<E> {
        Hinted::new()
    }
}

impl<E: ValueEnum + Clone + Send + Sync + 'static> TypedValueParser for Hinted<E> {
    type Value = E;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<E, clap::Error> {
        let text = value.to_string_lossy();
        if let Some((_, hint)) = self.old.iter().find(|(old, _)| *old == text) {
            return Err(refuse(cmd, hint));
        }
        EnumValueParser::<E>::new()
            .parse_ref(cmd, arg, value)
            .map_err(|e| match self.otherwise {
                Some(hint) => refuse(cmd, &format!("{text:?}: {hint}")),
                None => e,
            })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            E::value_variants()
                .iter()
                .filter_map(ValueEnum::to_possible_value),
        ))
    }
}

/// The parser of a hidden flag kept under its old name: every use is refused with `hint`.
/// Declare it `num_args = 0..=1, default_missing_value = ""` so a bare flag is refused too.
#[derive(Clone, Debug)]
pub struct Renamed(pub &'static str);

impl TypedValueParser for Renamed {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        _value: &OsStr,
    ) -> Result<String, clap::Error> {
        Err(refuse(cmd, self.0))
    }
}

/// `--format`, the old name of `-o/--output` in `backup` and `cert backup`: refused.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RenamedFormat {
    #[arg(
        long = "format",
        hide = true,
        num_args = 0..=1,
        default_missing_value = "",
        value_parser = Renamed("--format was renamed: use -o/--output")
    )]
    pub renamed_format: Option<String>,
}

fn refuse(cmd: &clap::Command, hint: &str) -> clap::Error {
    clap::Error::raw(ErrorKind::InvalidValue, format!("{hint}\n")).with_cmd(cmd)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Demo {
        #[arg(short = 'o', long, default_value = "table",
              value_parser = format_parser("the file is --to FILE"))]
        output: Format,
        #[arg(long, default_value = "fail", value_parser = FailOn::parser())]
        fail_on: FailOn,
        #[command(flatten)]
        renamed: RenamedFormat,
    }

    fn refusal(args: &[&str]) -> String {
        let err = Demo::try_parse_from(args).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{err}");
        err.to_string()
    }

    #[test]
    fn formats_and_thresholds_parse() {
        let demo = Demo::try_parse_from(["x", "-o", "json", "--fail-on", "warn"]).unwrap();
        assert_eq!(demo.output, Format::Json);
        assert_eq!(demo.fail_on, FailOn::Warn);
        let demo = Demo::try_parse_from(["x"]).unwrap();
        assert_eq!((demo.output, demo.fail_on), (Format::Table, FailOn::Fail));
        assert!(FailOn::Warn.reached_by(Severity::Warn));
        assert!(!FailOn::Fail.reached_by(Severity::Warn));
        assert!(FailOn::Fail.reached_by(Severity::Fail));
    }

    #[test]
    fn old_spellings_are_refused_with_the_new_one() {
        let text = refusal(&["x", "-o", "out.tar.gz"]);
        assert!(
            text.contains("\"out.tar.gz\": the file is --to FILE"),
            "{text}"
        );
        let text = refusal(&["x", "--fail-on", "error"]);
        assert!(
            text.contains("--fail-on error was renamed: use --fail-on fail"),
            "{text}"
        );
        for args in [&["x", "--format", "json"][..], &["x", "--format"]] {
            let text = refusal(args);
            assert!(
                text.contains("--format was renamed: use -o/--output"),
                "{text}"
            );
        }
        // Shells still complete the values.
        let cmd = <Demo as clap::CommandFactory>::command();
        let output = cmd
            .get_arguments()
            .find(|a| a.get_id() == "output")
            .unwrap();
        let values: Vec<String> = output
            .get_possible_values()
            .iter()
            .map(|v| v.get_name().to_string())
            .collect();
        assert_eq!(values, ["table", "wide", "json", "yaml"]);
    }
}
