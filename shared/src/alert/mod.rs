//! Alerts and where they go: a Slack incoming webhook, syslog, and the state machine that decides
//! when to send and to which sink (on the transition to bad, repeated no more often than a
//! period, resolved when it clears, retried until the sink takes it). The health monitor and the
//! rollout plugin share these.

pub mod slack;
pub mod state;
pub mod syslog;

use serde::{Deserialize, Serialize};

pub use slack::{SlackFlags, SlackWebhook};
pub use state::{AlertState, Delivered, Due, Entry, Notification, StateError};
pub use syslog::{Syslog, SyslogFormat};

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Urgency {
    Critical,
    Warning,
}

/// Whether the alert starts (or repeats) a problem, or says it is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Firing,
    Resolved,
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// What the alert is about, stable across rounds (`error-rate/overall`): de-duplication key.
    pub key: String,
    pub title: String,
    pub message: String,
    pub urgency: Urgency,
    pub phase: Phase,
}

impl Alert {
    pub fn firing(key: &str, title: &str, message: &str, urgency: Urgency) -> Alert {
        Alert {
            key: key.to_string(),
            title: title.to_string(),
            message: message.to_string(),
            urgency,
            phase: Phase::Firing,
        }
    }

    /// The same alert, marked resolved.
    pub fn resolved(&self) -> Alert {
        Alert {
            phase: Phase::Resolved,
            ..self.clone()
        }
    }

    /// One line for stdout and syslog: `FIRING critical: title: message`.
    pub fn line(&self) -> String {
        let phase = match self.phase {
            Phase::Firing => "FIRING",
            Phase::Resolved => "RESOLVED",
        };
        let urgency = match self.urgency {
            Urgency::Critical => "critical",
            Urgency::Warning => "warning",
        };
        // Syslog lines are single lines: newlines in messages become spaces.
        format!("{phase} {urgency}: {}: {}", self.title, self.message).replace(['\n', '\r'], " ")
    }
}

/// Where a notification goes. Delivery is tracked per sink: one that took a notification is not
/// sent it again while another is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sink {
    /// The monitor's own output: it always takes what it is given.
    Stdout,
    Slack,
    Syslog,
}

impl Sink {
    pub fn as_str(self) -> &'static str {
        match self {
            Sink::Stdout => "stdout",
            Sink::Slack => "slack",
            Sink::Syslog => "syslog",
        }
    }
}

/// Why a sink could not deliver. Reported by the caller, never fatal.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("slack webhook: {0}")]
    Slack(String),
    #[error("syslog {path}: {reason}")]
    Syslog { path: String, reason: String },
    /// The round's delivery deadline passed first; the send is retried next round.
    #[error("{sink}: no answer within the round's delivery deadline of {deadline}")]
    Deadline {
        sink: &'static str,
        deadline: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_single_lines() {
        let alert = Alert::firing("k", "High error rate", "a\nb \"c\"", Urgency::Critical);
        assert_eq!(alert.line(), "FIRING critical: High error rate: a b \"c\"");
        assert_eq!(
            alert.resolved().line(),
            "RESOLVED critical: High error rate: a b \"c\""
        );
    }
}
