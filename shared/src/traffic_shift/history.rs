//! The traffic history kept on the Deployment itself, in a bounded JSON annotation, so it travels
//! with the cluster (a backup or a `kubectl get -o yaml` carries it) and needs no other store.

use k8s_openapi::api::apps::v1::Deployment;
use serde::{Deserialize, Serialize};

use super::setting::Setting;

/// The annotation holding the history (a JSON array, oldest first).
pub const HISTORY_ANNOTATION: &str = "traffic.sealos.io/history";
/// Entries kept; older ones are dropped first.
pub const HISTORY_LIMIT: usize = 20;
/// Longest reason kept in an entry, in characters.
const REASON_LIMIT: usize = 256;

/// One change of a controller's traffic setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339, UTC.
    pub time: String,
    /// Who made it: the kubeconfig user.
    pub actor: String,
    /// `set`, `rollback`, `plan` (a plan step), or what another tool calls its change.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub from: Setting,
    pub to: Setting,
}

impl Entry {
    /// An entry stamped now; the reason is cut to a bounded length.
    pub fn now(
        actor: &str,
        action: &str,
        reason: Option<&str>,
        from: Setting,
        to: Setting,
    ) -> Entry {
        Entry {
            time: jiff::Timestamp::now()
                .round(jiff::Unit::Second)
                .unwrap_or_else(|_| jiff::Timestamp::now())
                .to_string(),
            actor: actor.to_string(),
            action: action.to_string(),
            reason: reason.map(|r| r.chars().take(REASON_LIMIT).collect()),
            from,
            to,
        }
    }
}

/// The history read from a Deployment: entries oldest first, and whether the annotation was there
/// but unreadable (someone edited it by hand), in which case the next change starts it afresh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub entries: Vec<Entry>,
    pub unreadable: bool,
}

impl History {
    pub fn of(deployment: &Deployment) -> History {
        let Some(text) = deployment
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(HISTORY_ANNOTATION))
        else {
            return History::default();
        };
        match serde_json::from_str(text) {
            Ok(entries) => History {
                entries,
                unreadable: false,
            },
            Err(_) => History {
                entries: Vec::new(),
                unreadable: true,
            },
        }
    }

    pub fn last(&self) -> Option<&Entry> {
        self.entries.last()
    }

    /// The annotation value with `entry` appended and the oldest dropped beyond the limit.
    pub fn appended(&self, entry: Entry) -> String {
        let mut entries = self.entries.clone();
        entries.push(entry);
        let excess = entries.len().saturating_sub(HISTORY_LIMIT);
        entries.drain(..excess);
        // Serialising plain strings cannot fail; an empty array is the safe fallback anyway.
        serde_json::to_string(&entries).unwrap_or_else(|_| "[]".to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn with_annotation(value: Option<&str>) -> Deployment {
        let mut meta = json!({"name": "x"});
        if let Some(value) = value {
            meta["annotations"] = json!({ HISTORY_ANNOTATION: value });
        }
        serde_json::from_value(json!({"metadata": meta})).unwrap()
    }

    fn setting(p: &str) -> Setting {
        Setting {
            mode: Some("dual".into()),
            percentage: Some(p.into()),
        }
    }

    #[test]
    fn history_is_bounded_and_keeps_the_newest() {
        let mut history = History::default();
        for i in 0..HISTORY_LIMIT + 5 {
            let entry = Entry::now(
                "me",
                "set",
                Some(&format!("step {i}")),
                setting("1"),
                setting("2"),
            );
            let text = history.appended(entry);
            history = History::of(&with_annotation(Some(&text)));
        }
        assert_eq!(history.entries.len(), HISTORY_LIMIT);
        assert_eq!(history.entries[0].reason.as_deref(), Some("step 5"));
        assert_eq!(
            history.last().unwrap().reason.as_deref(),
            Some(format!("step {}", HISTORY_LIMIT + 4).as_str())
        );
        assert!(!history.unreadable);
    }

    #[test]
    fn missing_and_hand_edited_annotations() {
        assert_eq!(History::of(&with_annotation(None)), History::default());
        let broken = History::of(&with_annotation(Some("not json")));
        assert!(broken.unreadable && broken.entries.is_empty());
    }

    #[test]
    fn long_reasons_are_cut_and_quotes_survive() {
        let reason = format!("\"quoted\"\n{}", "é".repeat(400));
        let entry = Entry::now("me", "set", Some(&reason), setting("1"), setting("2"));
        assert_eq!(entry.reason.as_ref().unwrap().chars().count(), REASON_LIMIT);
        let text = History::default().appended(entry.clone());
        assert_eq!(
            History::of(&with_annotation(Some(&text))).entries,
            vec![entry]
        );
    }
}
