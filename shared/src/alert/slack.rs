//! A Slack incoming webhook. Payloads are JSON values (quotes and newlines in messages are safe,
//! unlike the guide's string interpolation); failures are retried with backoff and then reported,
//! never fatal. The webhook URL is a secret: it is never printed, logged or put in an error.

use std::fmt;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Alert, Phase, SinkError, Urgency};
use crate::retry::Backoff;

/// Where Slack messages go.
#[derive(Clone)]
pub struct SlackWebhook {
    url: String,
    http: reqwest::Client,
    backoff: Backoff,
}

impl fmt::Debug for SlackWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SlackWebhook(<redacted>)")
    }
}

/// `--slack-webhook`, declared once: every command that posts to Slack flattens this group.
/// The URL is a secret: `Debug` never shows it, and neither does `--help` (the environment's value).
#[derive(clap::Args, Clone, Default)]
pub struct SlackFlags {
    /// Post alerts to this Slack incoming webhook (never printed or logged).
    #[arg(
        long = "slack-webhook",
        value_name = "URL",
        env = "SLACK_WEBHOOK_URL",
        hide_env_values = true
    )]
    pub slack_webhook: Option<String>,
}

impl fmt::Debug for SlackFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.slack_webhook {
            Some(_) => f.write_str("SlackFlags(<redacted>)"),
            None => f.write_str("SlackFlags(None)"),
        }
    }
}

impl SlackFlags {
    /// A webhook flag given with an empty value (`SLACK_WEBHOOK_URL=`) counts as none.
    pub fn is_set(&self) -> bool {
        self.slack_webhook.as_deref().is_some_and(|u| !u.is_empty())
    }

    /// The webhook, checked before anything is changed or sent (a bad URL is exit 2, the URL
    /// itself never shown); `None` without the flag. Each attempt is bounded by 10 seconds.
    pub fn webhook(&self) -> crate::Result<Option<SlackWebhook>> {
        match self.slack_webhook.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => SlackWebhook::new(url, Duration::from_secs(10), Backoff::default())
                .map(Some)
                .map_err(|e| crate::Error::usage(format!("--slack-webhook: {e}"))),
            None => Ok(None),
        }
    }
}

/// The message Slack shows for an alert.
pub fn payload(alert: &Alert) -> Value {
    let text = match (alert.phase, alert.urgency) {
        (Phase::Resolved, _) => format!(
            ":white_check_mark: Resolved: {}\n{}",
            alert.title, alert.message
        ),
        (Phase::Firing, Urgency::Critical) => {
            format!(":rotating_light: {}\n{}", alert.title, alert.message)
        }
        (Phase::Firing, Urgency::Warning) => {
            format!(":warning: {}\n{}", alert.title, alert.message)
        }
    };
    json!({ "text": text })
}

impl SlackWebhook {
    /// A webhook at `url` (`https://hooks.slack.com/services/...`), each attempt bounded by
    /// `timeout`, retried per `backoff`.
    pub fn new(url: &str, timeout: Duration, backoff: Backoff) -> Result<SlackWebhook, SinkError> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(SinkError::Slack(
                "the webhook URL must start with https:// (the URL itself is not shown)".into(),
            ));
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| SinkError::Slack(format!("build the HTTP client: {}", e.without_url())))?;
        Ok(SlackWebhook {
            url: url.to_string(),
            http,
            backoff,
        })
    }

    /// Posts the alert, retrying connection failures, 429 (after Retry-After) and 5xx.
    pub async fn send(&self, alert: &Alert) -> Result<(), SinkError> {
        let body = payload(alert);
        let mut attempt = 0;
        loop {
            let (retryable, after, reason) =
                match self.http.post(&self.url).json(&body).send().await {
                    Ok(response) if response.status().is_success() => return Ok(()),
                    Ok(response) => {
                        let status = response.status();
                        let after = response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.trim().parse::<u64>().ok())
                            .map(Duration::from_secs);
                        let text = response.text().await.unwrap_or_default();
                        let text: String = text.chars().take(200).collect();
                        (
                            status.as_u16() == 429 || status.is_server_error(),
                            after,
                            format!("Slack answered {status}: {}", text.trim()),
                        )
                    }
                    // without_url: the URL is the secret.
                    Err(e) => (true, None, e.without_url().to_string()),
                };
            attempt += 1;
            if !retryable || attempt >= self.backoff.attempts {
                return Err(SinkError::Slack(format!(
                    "{reason} (after {attempt} attempt{})",
                    if attempt == 1 { "" } else { "s" }
                )));
            }
            let wait = after
                .unwrap_or_else(|| self.backoff.delay(attempt - 1, fastrand::f64()))
                .min(self.backoff.cap);
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn payloads_are_json_values_whatever_the_text() {
        let alert = Alert::firing(
            "error-rate/overall",
            "High error rate",
            "ratio \"7%\"\nabove 5%",
            Urgency::Critical,
        );
        let body = payload(&alert);
        assert_eq!(
            body,
            json!({"text": ":rotating_light: High error rate\nratio \"7%\"\nabove 5%"})
        );
        // Round-trips through text: quotes and newlines are escaped, not injected.
        let text = serde_json::to_string(&body).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), body);
        assert_eq!(
            payload(&alert.resolved())["text"],
            ":white_check_mark: Resolved: High error rate\nratio \"7%\"\nabove 5%"
        );
    }

    #[test]
    fn the_url_never_shows() {
        let hook = SlackWebhook::new(
            "https://hooks.slack.com/services/T0/B0/SECRET",
            Duration::from_secs(1),
            Backoff::default(),
        )
        .unwrap();
        assert!(!format!("{hook:?}").contains("SECRET"));
        let err = SlackWebhook::new(
            "hooks.slack.com/SECRET",
            Duration::from_secs(1),
            Backoff::default(),
        )
        .unwrap_err();
        assert!(!err.to_string().contains("SECRET"));
    }

    #[tokio::test]
    async fn a_dead_webhook_is_reported_after_retries_without_the_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let backoff = Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
            attempts: 3,
        };
        let hook = SlackWebhook::new(
            &format!("http://127.0.0.1:{port}/services/SECRET"),
            Duration::from_secs(1),
            backoff,
        )
        .unwrap();
        let alert = Alert::firing("k", "t", "m", Urgency::Warning);
        let err = hook.send(&alert).await.unwrap_err().to_string();
        assert!(err.contains("after 3 attempts"), "{err}");
        assert!(
            !err.contains("SECRET") && !err.contains(&port.to_string()),
            "{err}"
        );
    }
}
