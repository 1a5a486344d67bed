//! What one round did (the JSON line of `-o json`), and its lines for people.

use sealos_shared::Result;
use sealos_shared::alert::{Alert, Sink};
use sealos_shared::output::Out;
use sealos_shared::traffic::{TrafficReport, Verdict};
use serde::Serialize;

/// What one round did: the JSON line of `-o json`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoundReport {
    pub time: String,
    /// ok | warn | alert | blind (Prometheus did not answer).
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TrafficReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub consecutive_failures: u32,
    /// The notifications sent (or tried) this round.
    pub alerts: Vec<SentAlert>,
    /// Keys of the alerts firing after this round.
    pub firing: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentAlert {
    /// fire | repeat | resolve
    pub action: &'static str,
    pub alert: Alert,
    /// The sinks that took it this round.
    pub delivered_to: Vec<Sink>,
    /// Sinks that failed, with why (the webhook URL is never in it); retried next round.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub delivery_errors: Vec<String>,
}

/// Human lines for one round.
pub fn render_lines(round: &RoundReport) -> Vec<String> {
    let mut lines = Vec::new();
    match (&round.traffic, &round.error) {
        (Some(report), _) => {
            for scope in std::iter::once(&report.overall).chain(&report.services) {
                let verdict = match scope.verdict {
                    Verdict::Ok => "OK",
                    Verdict::Warn => "WARN",
                    Verdict::Alert => "ALERT",
                };
                let text = scope
                    .findings
                    .iter()
                    .map(|f| {
                        f.message
                            .trim_start_matches(&format!("{}: ", scope.scope))
                            .to_string()
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                lines.push(format!("{} {verdict} {}: {text}", round.time, scope.scope));
            }
        }
        (None, Some(error)) => lines.push(format!(
            "{} BLIND ({} consecutive failure{}): {error}",
            round.time,
            round.consecutive_failures,
            if round.consecutive_failures == 1 {
                ""
            } else {
                "s"
            }
        )),
        (None, None) => {}
    }
    for sent in &round.alerts {
        // stdout took it before: this is a retry to the sinks that did not.
        if sent.delivered_to.contains(&Sink::Stdout) {
            lines.push(format!("{} {}", round.time, sent.alert.line()));
        } else if !sent.delivered_to.is_empty() {
            let to: Vec<&str> = sent.delivered_to.iter().map(|s| s.as_str()).collect();
            lines.push(format!(
                "{} delivered to {} on retry: {}",
                round.time,
                to.join(", "),
                sent.alert.line()
            ));
        }
        for e in &sent.delivery_errors {
            lines.push(format!(
                "{} delivery failed, retried next round: {e}",
                round.time
            ));
        }
    }
    lines
}

pub fn print(out: &mut Out, round: &RoundReport) -> Result<()> {
    if out.format.is_machine() {
        out.json_line(round)
    } else {
        for line in render_lines(round) {
            out.line(&line)?;
        }
        out.flush()
    }
}
