//! One round of the monitor: query, judge, decide what each sink is owed, deliver, record what
//! was taken. Never fails: what went wrong is in the report, and what was not delivered is
//! owed again next round.

use std::time::Duration;

use jiff::Timestamp;
use sealos_shared::alert::{Alert, AlertState, SlackWebhook, StateError, Syslog, Urgency};
use sealos_shared::prometheus::Prometheus;
use sealos_shared::traffic::{self, TrafficSpec, Verdict};

use super::alerts::{BLIND_KEY, alerts_of, measured};
use super::deliver::{self, MAX_DEADLINE, Sinks};
use super::report::{RoundReport, SentAlert};
use super::state_store::SavedState;

/// The monitor's state between rounds.
pub struct Monitor {
    prom: Prometheus,
    spec: TrafficSpec,
    max_failures: u32,
    failures: u32,
    repeat: Duration,
    state: AlertState,
    sinks: Sinks,
    deadline: Duration,
}

impl Monitor {
    pub fn new(
        prom: Prometheus,
        spec: TrafficSpec,
        max_failures: u32,
        repeat: Duration,
        slack: Option<SlackWebhook>,
        syslog: Option<Syslog>,
    ) -> Monitor {
        Monitor {
            prom,
            spec,
            max_failures,
            failures: 0,
            repeat,
            state: AlertState::new(repeat),
            sinks: Sinks { slack, syslog },
            deadline: MAX_DEADLINE,
        }
    }

    /// The same monitor, each round's deliveries bounded by `deadline`.
    pub fn with_deadline(self, deadline: Duration) -> Monitor {
        Monitor { deadline, ..self }
    }

    /// Takes up where a saved state left off (checked: it may be hostile).
    pub fn restore(&mut self, saved: SavedState, now: Timestamp) -> Result<(), StateError> {
        self.state = AlertState::restore(self.repeat, saved.alerts, now)?;
        self.failures = saved.consecutive_failures;
        Ok(())
    }

    /// What to save so the next run takes up from here.
    pub fn saved(&self) -> SavedState {
        SavedState::new(self.failures, self.state.entries().cloned().collect())
    }

    /// One round at wall-clock time `now`.
    pub async fn round(&mut self, now: Timestamp) -> RoundReport {
        let analysis = traffic::analyse(&self.prom, &self.spec).await;
        let (bad, state, traffic, error) = match analysis {
            Ok(report) => {
                self.failures = 0;
                let state = match report.verdict {
                    Verdict::Ok => "ok",
                    Verdict::Warn => "warn",
                    Verdict::Alert => "alert",
                };
                (alerts_of(&report), state, Some(report), None)
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                let message = e.to_string();
                let mut bad = Vec::new();
                if self.failures >= self.max_failures {
                    bad.push(self.blind_alert(&message));
                }
                (bad, "blind", None, Some(message))
            }
        };
        // What could not be measured is not a recovery: while blind every alert but the blind
        // one stays as it was, and a service with no data keeps its alerts.
        let unknown = |key: &str| match &traffic {
            None => key != BLIND_KEY,
            Some(report) => !measured(report, key),
        };
        self.state.observe(&bad, &unknown, now);

        let sinks = self.sinks.configured();
        let due = self.state.due(&sinks, now);
        let outcomes = deliver::deliver(&self.sinks, &due, self.deadline).await;
        let mut alerts: Vec<SentAlert> = due
            .iter()
            .map(|d| SentAlert {
                action: d.notification.as_str(),
                alert: d.alert.clone(),
                delivered_to: Vec::new(),
                delivery_errors: Vec::new(),
            })
            .collect();
        for outcome in outcomes {
            let (Some(d), Some(sent)) = (due.get(outcome.due), alerts.get_mut(outcome.due)) else {
                continue;
            };
            match outcome.result {
                Ok(()) => {
                    // Only now does it count as sent to this sink.
                    self.state
                        .record(&d.alert.key, outcome.sink, d.alert.phase, now);
                    sent.delivered_to.push(outcome.sink);
                }
                Err(e) => sent.delivery_errors.push(e.to_string()),
            }
        }
        for sent in &mut alerts {
            sent.delivered_to.sort();
            sent.delivery_errors.sort();
        }
        self.state.prune(&sinks);

        RoundReport {
            time: now.round(jiff::Unit::Second).unwrap_or(now).to_string(),
            state,
            traffic,
            error,
            consecutive_failures: self.failures,
            alerts,
            firing: self.state.firing().map(str::to_string).collect(),
        }
    }

    fn blind_alert(&self, message: &str) -> Alert {
        Alert::firing(
            BLIND_KEY,
            "Monitor cannot read Prometheus",
            &format!(
                "{} consecutive round{} failed; error rate and latency are unknown: {message}",
                self.failures,
                if self.failures == 1 { "" } else { "s" }
            ),
            Urgency::Critical,
        )
    }

    /// Whether any alert is firing now.
    pub fn firing(&self) -> bool {
        self.state.firing().next().is_some()
    }
}
