//! When to send, and to which sink. An alert fires on the transition to bad, repeats no more
//! often than `repeat` while it stays bad, and is resolved once when it clears.
//!
//! Delivery is at-least-once, as Alertmanager's notification log is written only after a
//! successful send: a notification counts as sent to a sink only when [`AlertState::record`] says
//! that sink took it. Until then it is due again every round (a "resolved" too), and a sink that
//! took it is not sent it again while another is retried. A sink that never took the firing
//! message is not sent the resolved one (Alertmanager does the same: nothing to close).
//!
//! Pure: wall-clock time is passed in, so the state can be saved, restored after a restart or
//! between cron runs, and tested with any clock.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{Alert, Phase, Sink};

/// What kind of message a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Notification {
    /// Newly bad (or a sink that has not taken the firing message yet).
    Fire,
    /// Still bad, and `repeat` has passed since the sink last took it.
    Repeat,
    /// It cleared, and the sink took the firing message.
    Resolve,
}

impl Notification {
    pub fn as_str(self) -> &'static str {
        match self {
            Notification::Fire => "fire",
            Notification::Repeat => "repeat",
            Notification::Resolve => "resolve",
        }
    }
}

/// One notification owed to some sinks this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub notification: Notification,
    /// The message; its phase says firing or resolved.
    pub alert: Alert,
    pub sinks: Vec<Sink>,
}

/// What a sink last took for an alert, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delivered {
    pub phase: Phase,
    pub at: Timestamp,
}

/// One alert the state knows: firing now, or resolved with a sink still to tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Entry {
    /// The latest wording; its `phase` is the condition now.
    pub alert: Alert,
    /// When this episode started firing.
    pub since: Timestamp,
    /// What each sink took last.
    #[serde(default)]
    pub delivered: BTreeMap<Sink, Delivered>,
}

/// Why saved entries cannot be used. The state is read from a file or a ConfigMap that someone
/// else may have written: every field is checked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    #[error("{0} alerts, more than the {MAX_ENTRIES} a monitor keeps")]
    TooMany(usize),
    #[error("alert {0:?} appears twice")]
    Duplicate(String),
    #[error("alert {key:?}: {what}")]
    Invalid { key: String, what: String },
}

/// Bounds on what a restored state may hold.
pub const MAX_ENTRIES: usize = 10_000;
const MAX_KEY: usize = 512;
const MAX_TITLE: usize = 512;
const MAX_MESSAGE: usize = 8192;
/// Clocks drift between machines and runs; a timestamp further ahead than this is not ours.
const MAX_FUTURE: SignedDuration = SignedDuration::from_hours(24);

/// The alerts firing, and the resolved ones some sink still has to be told about, by key.
#[derive(Debug, Clone)]
pub struct AlertState {
    repeat: Duration,
    entries: BTreeMap<String, Entry>,
}

impl AlertState {
    pub fn new(repeat: Duration) -> AlertState {
        AlertState {
            repeat,
            entries: BTreeMap::new(),
        }
    }

    /// A state from saved entries, checked: bounded sizes, no control characters but newlines
    /// and tabs in the texts, unique keys, and no timestamp more than a day after `now`.
    pub fn restore(
        repeat: Duration,
        saved: Vec<Entry>,
        now: Timestamp,
    ) -> Result<AlertState, StateError> {
        if saved.len() > MAX_ENTRIES {
            return Err(StateError::TooMany(saved.len()));
        }
        let mut entries = BTreeMap::new();
        for entry in saved {
            check(&entry, now)?;
            let key = entry.alert.key.clone();
            if entries.insert(key.clone(), entry).is_some() {
                return Err(StateError::Duplicate(key));
            }
        }
        Ok(AlertState { repeat, entries })
    }

    /// Every entry, by key: what to save.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// Keys of the alerts firing now.
    pub fn firing(&self) -> impl Iterator<Item = &str> {
        self.entries
            .values()
            .filter(|e| e.alert.phase == Phase::Firing)
            .map(|e| e.alert.key.as_str())
    }

    /// Takes in this round's judgement: `bad` holds every alert whose condition is bad now.
    /// Alerts firing before and absent now are resolved, unless `unknown` says their signal
    /// could not be measured this round (no data is not a recovery).
    pub fn observe(&mut self, bad: &[Alert], unknown: &dyn Fn(&str) -> bool, now: Timestamp) {
        for alert in bad {
            let firing = Alert {
                phase: Phase::Firing,
                ..alert.clone()
            };
            match self.entries.get_mut(&alert.key) {
                None => {
                    self.entries.insert(
                        alert.key.clone(),
                        Entry {
                            alert: firing,
                            since: now,
                            delivered: BTreeMap::new(),
                        },
                    );
                }
                Some(entry) => {
                    if entry.alert.phase == Phase::Resolved {
                        entry.since = now;
                    }
                    // The latest wording, so the resolved message matches the last state.
                    entry.alert = firing;
                }
            }
        }
        for entry in self.entries.values_mut() {
            let key = entry.alert.key.as_str();
            if entry.alert.phase == Phase::Firing
                && !bad.iter().any(|a| a.key == key)
                && !unknown(key)
            {
                entry.alert.phase = Phase::Resolved;
            }
        }
    }

    /// What each of `sinks` is owed now, one [`Due`] per alert and kind of message.
    pub fn due(&self, sinks: &[Sink], now: Timestamp) -> Vec<Due> {
        let mut due: Vec<Due> = Vec::new();
        for entry in self.entries.values() {
            for &sink in sinks {
                let Some(notification) = self.owed(entry, entry.delivered.get(&sink), now) else {
                    continue;
                };
                match due
                    .iter_mut()
                    .find(|d| d.alert.key == entry.alert.key && d.notification == notification)
                {
                    Some(d) => d.sinks.push(sink),
                    None => due.push(Due {
                        notification,
                        alert: entry.alert.clone(),
                        sinks: vec![sink],
                    }),
                }
            }
        }
        due
    }

    fn owed(
        &self,
        entry: &Entry,
        delivered: Option<&Delivered>,
        now: Timestamp,
    ) -> Option<Notification> {
        match (entry.alert.phase, delivered) {
            (Phase::Firing, None) => Some(Notification::Fire),
            (Phase::Firing, Some(d)) if d.phase == Phase::Resolved => Some(Notification::Fire),
            (Phase::Firing, Some(d)) => {
                // A last send in the future (a clock set back) waits; it is bounded on restore.
                let since = now.duration_since(d.at);
                let repeat = SignedDuration::try_from(self.repeat).unwrap_or(SignedDuration::MAX);
                (since >= repeat).then_some(Notification::Repeat)
            }
            (Phase::Resolved, Some(d)) if d.phase == Phase::Firing => Some(Notification::Resolve),
            (Phase::Resolved, _) => None,
        }
    }

    /// `sink` took `phase` of the alert `key` at `now`: only now does it count as sent.
    pub fn record(&mut self, key: &str, sink: Sink, phase: Phase, now: Timestamp) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.delivered.insert(sink, Delivered { phase, at: now });
        }
    }

    /// Forgets resolved alerts that none of `sinks` still has to be told about.
    pub fn prune(&mut self, sinks: &[Sink]) {
        self.entries.retain(|_, entry| {
            entry.alert.phase == Phase::Firing
                || sinks.iter().any(|s| {
                    entry
                        .delivered
                        .get(s)
                        .is_some_and(|d| d.phase == Phase::Firing)
                })
        });
    }
}

fn check(entry: &Entry, now: Timestamp) -> Result<(), StateError> {
    let alert = &entry.alert;
    let invalid = |what: String| StateError::Invalid {
        key: alert.key.chars().take(MAX_KEY).collect(),
        what,
    };
    for (field, text, max, newlines) in [
        ("key", &alert.key, MAX_KEY, false),
        ("title", &alert.title, MAX_TITLE, false),
        ("message", &alert.message, MAX_MESSAGE, true),
    ] {
        if text.is_empty() && field != "message" {
            return Err(invalid(format!("empty {field}")));
        }
        if text.len() > max {
            return Err(invalid(format!("{field} longer than {max} bytes")));
        }
        if text
            .chars()
            .any(|c| c.is_control() && !(newlines && (c == '\n' || c == '\t')))
        {
            return Err(invalid(format!("control characters in the {field}")));
        }
    }
    let latest = now.checked_add(MAX_FUTURE).unwrap_or(now);
    let times = std::iter::once(("since", entry.since))
        .chain(entry.delivered.iter().map(|(s, d)| (s.as_str(), d.at)));
    for (what, at) in times {
        if at > latest {
            return Err(invalid(format!(
                "{what} time {at} is in the future (now {now})"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::Urgency;
    use super::*;

    fn alert(key: &str, message: &str) -> Alert {
        Alert::firing(key, "High error rate", message, Urgency::Critical)
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_780_000_000 + s).unwrap()
    }

    const ALL: [Sink; 3] = [Sink::Stdout, Sink::Slack, Sink::Syslog];
    const NEVER: &dyn Fn(&str) -> bool = &|_| false;

    /// One round where every sink takes everything.
    fn round(state: &mut AlertState, bad: &[Alert], now: Timestamp) -> Vec<(Notification, Alert)> {
        state.observe(bad, NEVER, now);
        let due = state.due(&ALL, now);
        for d in &due {
            for &s in &d.sinks {
                state.record(&d.alert.key, s, d.alert.phase, now);
            }
        }
        state.prune(&ALL);
        due.into_iter()
            .map(|d| {
                assert_eq!(d.sinks, ALL);
                (d.notification, d.alert)
            })
            .collect()
    }

    #[test]
    fn fires_once_repeats_after_the_period_and_resolves_once() {
        let mut state = AlertState::new(Duration::from_secs(3600));
        let a = alert("error-rate/overall", "7%");
        assert_eq!(
            round(&mut state, std::slice::from_ref(&a), at(0)),
            vec![(Notification::Fire, a.clone())]
        );
        assert!(round(&mut state, std::slice::from_ref(&a), at(300)).is_empty());
        assert!(round(&mut state, std::slice::from_ref(&a), at(3599)).is_empty());
        let b = alert("error-rate/overall", "9%");
        assert_eq!(
            round(&mut state, std::slice::from_ref(&b), at(3600)),
            vec![(Notification::Repeat, b.clone())]
        );
        assert!(round(&mut state, std::slice::from_ref(&b), at(3900)).is_empty());
        assert_eq!(
            round(&mut state, &[], at(4200)),
            vec![(Notification::Resolve, b.resolved())]
        );
        assert_eq!(
            state.entries().count(),
            0,
            "forgotten once every sink knows"
        );
        assert!(round(&mut state, &[], at(4500)).is_empty());
        assert_eq!(
            round(&mut state, std::slice::from_ref(&a), at(4800)),
            vec![(Notification::Fire, a)]
        );
    }

    #[test]
    fn a_failed_sink_is_retried_every_round_and_the_others_are_not_resent() {
        let mut state = AlertState::new(Duration::from_secs(3600));
        let a = alert("error-rate/overall", "7%");
        state.observe(std::slice::from_ref(&a), NEVER, at(0));
        let due = state.due(&ALL, at(0));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].sinks, ALL);
        // Slack is down: stdout and syslog took it.
        state.record(&a.key, Sink::Stdout, Phase::Firing, at(0));
        state.record(&a.key, Sink::Syslog, Phase::Firing, at(0));

        state.observe(std::slice::from_ref(&a), NEVER, at(300));
        let due = state.due(&ALL, at(300));
        assert_eq!(
            due,
            vec![Due {
                notification: Notification::Fire,
                alert: a.clone(),
                sinks: vec![Sink::Slack],
            }]
        );
        state.record(&a.key, Sink::Slack, Phase::Firing, at(300));
        state.observe(std::slice::from_ref(&a), NEVER, at(600));
        assert!(state.due(&ALL, at(600)).is_empty());

        // Each sink repeats on its own schedule.
        state.observe(std::slice::from_ref(&a), NEVER, at(3600));
        let due = state.due(&ALL, at(3600));
        assert_eq!(due[0].notification, Notification::Repeat);
        assert_eq!(due[0].sinks, [Sink::Stdout, Sink::Syslog]);

        // A resolved message that fails is kept and retried; the state forgets it only after.
        state.observe(&[], NEVER, at(3700));
        let due = state.due(&ALL, at(3700));
        assert_eq!(due[0].notification, Notification::Resolve);
        assert_eq!(due[0].alert.phase, Phase::Resolved);
        state.record(&a.key, Sink::Stdout, Phase::Resolved, at(3700));
        state.record(&a.key, Sink::Syslog, Phase::Resolved, at(3700));
        state.prune(&ALL);
        assert_eq!(state.entries().count(), 1);
        assert!(state.firing().next().is_none());
        state.observe(&[], NEVER, at(4000));
        let due = state.due(&ALL, at(4000));
        assert_eq!(due.len(), 1);
        assert_eq!(
            (due[0].notification, due[0].sinks.as_slice()),
            (Notification::Resolve, [Sink::Slack].as_slice())
        );
        state.record(&a.key, Sink::Slack, Phase::Resolved, at(4000));
        state.prune(&ALL);
        assert_eq!(state.entries().count(), 0);
    }

    #[test]
    fn a_sink_that_never_took_the_firing_message_is_not_sent_the_resolved_one() {
        let mut state = AlertState::new(Duration::from_secs(3600));
        let a = alert("latency/overall", "900ms");
        state.observe(std::slice::from_ref(&a), NEVER, at(0));
        state.record(&a.key, Sink::Stdout, Phase::Firing, at(0));
        state.observe(&[], NEVER, at(300));
        let due = state.due(&ALL, at(300));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].sinks, [Sink::Stdout]);
        state.record(&a.key, Sink::Stdout, Phase::Resolved, at(300));
        state.prune(&ALL);
        assert_eq!(state.entries().count(), 0);
    }

    #[test]
    fn keys_are_independent_and_unknown_signals_do_not_resolve() {
        let mut state = AlertState::new(Duration::from_secs(60));
        let a = alert("error-rate/overall", "x");
        let b = alert("latency/overall", "y");
        assert_eq!(round(&mut state, &[a.clone(), b.clone()], at(0)).len(), 2);
        // Prometheus could not be asked: nothing is known, nothing resolves.
        state.observe(&[], &|_| true, at(10));
        assert!(state.due(&ALL, at(10)).is_empty());
        assert_eq!(state.firing().count(), 2);
        assert_eq!(
            round(&mut state, std::slice::from_ref(&b), at(20)),
            vec![(Notification::Resolve, a.resolved())]
        );
        assert_eq!(state.firing().collect::<Vec<_>>(), vec!["latency/overall"]);
    }

    #[test]
    fn saved_entries_round_trip_and_hostile_ones_are_refused() {
        let mut state = AlertState::new(Duration::from_secs(60));
        round(&mut state, &[alert("error-rate/overall", "a\nb")], at(0));
        let saved: Vec<Entry> = state.entries().cloned().collect();
        let text = serde_json::to_string(&saved).unwrap();
        assert!(
            text.contains(r#""delivered":{"stdout":{"phase":"firing","at":"#),
            "{text}"
        );
        let back: Vec<Entry> = serde_json::from_str(&text).unwrap();
        let restored = AlertState::restore(Duration::from_secs(60), back.clone(), at(1)).unwrap();
        assert_eq!(restored.entries().cloned().collect::<Vec<_>>(), saved);

        let twice = [back.clone(), back.clone()].concat();
        assert_eq!(
            AlertState::restore(Duration::from_secs(60), twice, at(1)).unwrap_err(),
            StateError::Duplicate("error-rate/overall".into())
        );
        let mut future = back.clone();
        future[0].since = at(2 * 86_400);
        let err = AlertState::restore(Duration::from_secs(60), future, at(1)).unwrap_err();
        assert!(err.to_string().contains("is in the future"), "{err}");
        let mut escape = back.clone();
        escape[0].alert.title = "x\u{1b}[2J".into();
        let err = AlertState::restore(Duration::from_secs(60), escape, at(1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "alert \"error-rate/overall\": control characters in the title"
        );
        let mut long = back;
        long[0].alert.message = "x".repeat(MAX_MESSAGE + 1);
        assert!(AlertState::restore(Duration::from_secs(60), long, at(1)).is_err());
        // Unknown fields are refused, not ignored.
        let extra = text.replacen(r#""since""#, r#""evil":1,"since""#, 1);
        assert!(serde_json::from_str::<Vec<Entry>>(&extra).is_err());
    }
}
