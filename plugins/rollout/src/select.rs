//! Which controllers a command acts on: named ones, or `--all`. Names are checked before any
//! request; whether they exist is checked with reads only, for all of them before any write.

use sealos_shared::traffic_shift::{Current, Shifter, valid_name};
use sealos_shared::{Error, Result};

/// The controllers a command was asked to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    Named(Vec<String>),
}

impl Selection {
    /// From the positional names and `--all`: one or the other, names well formed, no repeats.
    pub fn parse(names: &[String], all: bool) -> Result<Selection> {
        match (all, names.is_empty()) {
            (true, false) => Err(Error::usage(format!(
                "name components or use --all, not both (got --all and {})",
                names.join(", ")
            ))),
            (true, true) => Ok(Selection::All),
            (false, true) => Err(Error::usage("name at least one component, or use --all")),
            (false, false) => {
                let mut seen: Vec<String> = Vec::new();
                for name in names {
                    if !valid_name(name) {
                        return Err(Error::usage(format!(
                            "unknown component {name:?}: not a valid Deployment name"
                        )));
                    }
                    if !seen.contains(name) {
                        seen.push(name.clone());
                    }
                }
                Ok(Selection::Named(seen))
            }
        }
    }

    /// Reads every selected controller; an unknown name fails the whole command before any write.
    pub async fn resolve(
        &self,
        shifter: &Shifter,
        container: Option<&str>,
    ) -> Result<Vec<Current>> {
        match self {
            Selection::All => {
                let found = shifter.controllers().await?;
                if found.is_empty() {
                    return Err(Error::failed(format!(
                        "no Sealos controllers in {:?} (looked for the guide's three and Deployments declaring NETWORKING_MODE)",
                        shifter.namespace()
                    )));
                }
                found
                    .into_iter()
                    .map(|d| Current::from_deployment(d, container))
                    .collect()
            }
            Selection::Named(names) => {
                let reads = names.iter().map(|name| shifter.read(name, container));
                futures::future::try_join_all(reads).await
            }
        }
    }
}

/// `set`'s positionals: `COMPONENT... PERCENT`, or `PERCENT` alone with `--all`.
pub fn split_percent(args: &[String]) -> Result<(&[String], &str)> {
    match args.split_last() {
        Some((percent, names)) => Ok((names, percent)),
        None => Err(Error::usage("missing the percentage (0-100)")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_or_all_never_both() {
        assert_eq!(Selection::parse(&[], true).unwrap(), Selection::All);
        assert_eq!(
            Selection::parse(&strings(&["a", "b", "a"]), false).unwrap(),
            Selection::Named(strings(&["a", "b"]))
        );
        assert!(Selection::parse(&strings(&["a"]), true).is_err());
        assert!(Selection::parse(&[], false).is_err());
        let err = Selection::parse(&strings(&["Bad_Name"]), false).unwrap_err();
        assert!(err.to_string().contains("unknown component"), "{err}");
    }

    #[test]
    fn the_percentage_is_the_last_positional() {
        let args = strings(&["a", "b", "50"]);
        let (names, percent) = split_percent(&args).unwrap();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(percent, "50");
        assert!(split_percent(&[]).is_err());
    }
}
