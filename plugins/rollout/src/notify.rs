//! Telling people: a Slack message after a rollback (the shared alert sink), best effort.

use sealos_shared::alert::{Alert, SlackWebhook};

/// Sends `alert`; a failure is reported on stderr and never changes the exit code.
pub async fn notify(slack: &SlackWebhook, alert: &Alert) {
    if let Err(e) = slack.send(alert).await {
        eprintln!("warning: could not notify Slack: {e}");
    }
}
