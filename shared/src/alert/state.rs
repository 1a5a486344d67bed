//! When to send: an alert fires on the transition to bad, repeats no more often than `repeat`
//! while it stays bad, and sends a resolved message once when it clears. Pure: time is passed in.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::Alert;

/// What to do with one alert this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Newly bad: send it.
    Fire(Alert),
    /// Still bad and `repeat` has passed since the last send: send it again.
    Repeat(Alert),
    /// It cleared: send the resolved message.
    Resolve(Alert),
}

impl Action {
    pub fn alert(&self) -> &Alert {
        match self {
            Action::Fire(a) | Action::Repeat(a) | Action::Resolve(a) => a,
        }
    }
}

#[derive(Debug, Clone)]
struct Firing {
    alert: Alert,
    last_sent: Instant,
}

/// The alerts currently firing, by key.
#[derive(Debug, Clone)]
pub struct AlertState {
    repeat: Duration,
    firing: BTreeMap<String, Firing>,
}

impl AlertState {
    pub fn new(repeat: Duration) -> AlertState {
        AlertState {
            repeat,
            firing: BTreeMap::new(),
        }
    }

    /// Keys of the alerts firing now.
    pub fn firing(&self) -> impl Iterator<Item = &str> {
        self.firing.keys().map(String::as_str)
    }

    /// One round: `bad` holds every alert whose condition is bad now. Alerts firing before and
    /// absent now are resolved, unless their key is in `unknown` (a signal that could not be
    /// measured this round is not a recovery).
    pub fn round(
        &mut self,
        bad: &[Alert],
        unknown: &dyn Fn(&str) -> bool,
        now: Instant,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        for alert in bad {
            match self.firing.get_mut(&alert.key) {
                None => {
                    self.firing.insert(
                        alert.key.clone(),
                        Firing {
                            alert: alert.clone(),
                            last_sent: now,
                        },
                    );
                    actions.push(Action::Fire(alert.clone()));
                }
                Some(firing) => {
                    // Keep the latest wording, so the resolved message matches the last state.
                    firing.alert = alert.clone();
                    if now.saturating_duration_since(firing.last_sent) >= self.repeat {
                        firing.last_sent = now;
                        actions.push(Action::Repeat(alert.clone()));
                    }
                }
            }
        }
        let cleared: Vec<String> = self
            .firing
            .keys()
            .filter(|k| !bad.iter().any(|a| &a.key == *k) && !unknown(k))
            .cloned()
            .collect();
        for key in cleared {
            if let Some(firing) = self.firing.remove(&key) {
                actions.push(Action::Resolve(firing.alert.resolved()));
            }
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Phase, Urgency};
    use super::*;

    fn alert(key: &str, message: &str) -> Alert {
        Alert::firing(key, "High error rate", message, Urgency::Critical)
    }

    #[test]
    fn fires_once_repeats_after_the_period_and_resolves_once() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let never = |_: &str| false;
        let mut state = AlertState::new(Duration::from_secs(3600));
        let a = alert("error-rate/overall", "7%");

        assert_eq!(
            state.round(std::slice::from_ref(&a), &never, at(0)),
            vec![Action::Fire(a.clone())]
        );
        assert!(
            state
                .round(std::slice::from_ref(&a), &never, at(300))
                .is_empty()
        );
        assert!(
            state
                .round(std::slice::from_ref(&a), &never, at(3599))
                .is_empty()
        );
        let b = alert("error-rate/overall", "9%");
        assert_eq!(
            state.round(std::slice::from_ref(&b), &never, at(3600)),
            vec![Action::Repeat(b.clone())]
        );
        assert!(
            state
                .round(std::slice::from_ref(&b), &never, at(3900))
                .is_empty()
        );

        let actions = state.round(&[], &never, at(4200));
        assert_eq!(actions.len(), 1);
        let resolved = actions[0].alert();
        assert_eq!(resolved.phase, Phase::Resolved);
        assert_eq!(resolved.message, "9%");
        assert!(state.round(&[], &never, at(4500)).is_empty());
        assert_eq!(
            state.round(std::slice::from_ref(&a), &never, at(4800)),
            vec![Action::Fire(a)]
        );
    }

    #[test]
    fn keys_are_independent_and_unknown_signals_do_not_resolve() {
        let start = Instant::now();
        let mut state = AlertState::new(Duration::from_secs(60));
        let a = alert("error-rate/overall", "x");
        let b = alert("latency/overall", "y");
        let never = |_: &str| false;
        assert_eq!(state.round(&[a.clone(), b.clone()], &never, start).len(), 2);
        // Prometheus could not be asked: nothing is known, nothing resolves.
        let blind = |_: &str| true;
        assert!(
            state
                .round(&[], &blind, start + Duration::from_secs(10))
                .is_empty()
        );
        assert_eq!(state.firing().count(), 2);
        let actions = state.round(
            std::slice::from_ref(&b),
            &never,
            start + Duration::from_secs(20),
        );
        assert_eq!(actions, vec![Action::Resolve(a.resolved())]);
        assert_eq!(state.firing().collect::<Vec<_>>(), vec!["latency/overall"]);
    }
}
