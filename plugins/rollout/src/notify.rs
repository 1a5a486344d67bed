//! Telling people: a Slack message after a rollback (the shared alert sink), best effort.

use std::time::Duration;

use sealos_shared::alert::{Alert, SlackWebhook};
use sealos_shared::retry::Backoff;
use sealos_shared::{Error, Result};

/// The webhook at `url`, checked before anything is changed (the URL is never shown).
pub fn slack(url: &str) -> Result<SlackWebhook> {
    SlackWebhook::new(url, Duration::from_secs(10), Backoff::default()).map_err(Error::usage)
}

/// Sends `alert`; a failure is reported on stderr and never changes the exit code.
pub async fn notify(slack: &SlackWebhook, alert: &Alert) {
    if let Err(e) = slack.send(alert).await {
        eprintln!("warning: could not notify Slack: {e}");
    }
}
