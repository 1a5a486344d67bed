//! Sending one round's notifications: every (notification, sink) pair at once, a few at a time,
//! all within one deadline for the round. A dead Slack (five attempts with backoff per alert)
//! used to hold the loop for about 90 s per alert, one alert after another; now a round waits at
//! most the deadline, and what did not get through is retried next round.

use std::time::Duration;

use futures::StreamExt;
use sealos_shared::alert::{Due, Sink, SinkError, SlackWebhook, Syslog};

/// How many sends run at once: enough for a burst of alerts, few enough not to trip Slack's
/// rate limit (about one message per second per webhook, with bursts allowed).
const PARALLEL: usize = 8;

/// The longest a round waits for its deliveries, whatever the interval.
pub const MAX_DEADLINE: Duration = Duration::from_secs(30);

/// The delivery deadline of a round: half the interval (so the next round starts on time),
/// at most [`MAX_DEADLINE`].
pub fn deadline_for(interval: Duration) -> Duration {
    (interval / 2).min(MAX_DEADLINE)
}

/// Where notifications go besides stdout.
#[derive(Debug, Clone, Default)]
pub struct Sinks {
    pub slack: Option<SlackWebhook>,
    pub syslog: Option<Syslog>,
}

impl Sinks {
    /// The sinks in use: stdout always, then those configured.
    pub fn configured(&self) -> Vec<Sink> {
        let mut sinks = vec![Sink::Stdout];
        if self.slack.is_some() {
            sinks.push(Sink::Slack);
        }
        if self.syslog.is_some() {
            sinks.push(Sink::Syslog);
        }
        sinks
    }

    async fn send(&self, sink: Sink, due: &Due) -> Result<(), SinkError> {
        match sink {
            // Printed with the round's report.
            Sink::Stdout => Ok(()),
            Sink::Slack => match &self.slack {
                Some(hook) => hook.send(&due.alert).await,
                None => Ok(()),
            },
            Sink::Syslog => match &self.syslog {
                Some(log) => log.send(&due.alert).await,
                None => Ok(()),
            },
        }
    }
}

/// What one sink did with one notification.
#[derive(Debug)]
pub struct Outcome {
    /// Index into the round's list of due notifications.
    pub due: usize,
    pub sink: Sink,
    pub result: Result<(), SinkError>,
}

/// Sends every due notification to the sinks it is owed to; each pair ends by `deadline` at the
/// latest (a send still running then is dropped and counts as failed).
pub async fn deliver(sinks: &Sinks, due: &[Due], deadline: Duration) -> Vec<Outcome> {
    let until = tokio::time::Instant::now() + deadline;
    let pairs = due
        .iter()
        .enumerate()
        .flat_map(|(i, d)| d.sinks.iter().map(move |&s| (i, s)));
    futures::stream::iter(pairs)
        .map(|(i, sink)| async move {
            let result = match tokio::time::timeout_at(until, sinks.send(sink, &due[i])).await {
                Ok(result) => result,
                Err(_) => Err(SinkError::Deadline {
                    sink: sink.as_str(),
                    deadline: humantime::format_duration(deadline).to_string(),
                }),
            };
            Outcome {
                due: i,
                sink,
                result,
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_half_the_interval_capped_at_30s() {
        assert_eq!(
            deadline_for(Duration::from_secs(300)),
            Duration::from_secs(30)
        );
        assert_eq!(
            deadline_for(Duration::from_secs(20)),
            Duration::from_secs(10)
        );
    }
}
