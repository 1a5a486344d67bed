//! The scheduled backup's permissions: one read-only rule per request `backup create` makes for
//! the schedule's selection (`sealos_shared::archive::reads`, which the backup's own walk
//! follows), so the ServiceAccount may read exactly what the backup reads.

use sealos_shared::archive::Source;
use sealos_shared::archive::reads::access;
use sealos_shared::install::Rule;

/// The verbs a scheduled backup is ever granted.
pub const READ_VERBS: [&str; 3] = ["get", "list", "watch"];

/// The rules for a backup of `sources` narrowed to `namespaces` (empty: all).
pub fn rules(sources: &[Source], namespaces: &[String]) -> Vec<Rule> {
    access(sources, namespaces)
        .into_iter()
        .map(|a| {
            let names: Vec<&str> = a.names.iter().map(String::as_str).collect();
            let rule = Rule::new(&a.reason, &[a.kind.group], &[a.kind.plural], &[a.verb]);
            let rule = match &a.namespace {
                Some(ns) => rule.in_namespace(ns),
                None => rule,
            };
            if names.is_empty() {
                rule
            } else {
                rule.named(&names)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sealos_shared::archive::catalog::select;

    #[test]
    fn every_rule_reads_and_says_why() {
        let all = rules(&select(&[], &[], false).unwrap(), &[]);
        assert_eq!(all.len(), 15);
        for rule in &all {
            assert!(
                rule.verbs.iter().all(|v| READ_VERBS.contains(&v.as_str())),
                "{rule:?}"
            );
            assert!(rule.validate().is_ok(), "{rule:?}");
            assert!(rule.reason.starts_with("back up the "), "{rule:?}");
        }
        let secrets: Vec<String> = all
            .iter()
            .filter(|r| r.resources == ["secrets"])
            .map(Rule::describe)
            .collect();
        assert_eq!(
            secrets,
            [
                "list secrets in \"istio-system\"",
                "list secrets in \"sealos-system\"",
                "get secrets cluster-wide",
            ]
        );
    }

    #[test]
    fn without_secrets_no_secret_is_readable() {
        let all = rules(&select(&[], &[], true).unwrap(), &["ns-a".to_string()]);
        assert!(all.iter().all(|r| r.resources != ["secrets"]), "{all:?}");
        let namespaces = all.iter().find(|r| r.resources == ["namespaces"]).unwrap();
        assert_eq!(namespaces.resource_names, ["ns-a"]);
        assert_eq!(namespaces.verbs, ["get"]);
    }
}
