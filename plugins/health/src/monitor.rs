//! `kubectl sealos health monitor`: every --interval, judge the traffic in Prometheus and alert.
//!
//! Never silently blind: a failed query is not "OK", and after --max-query-failures consecutive
//! failures the monitor raises its own alert. While blind, alerts already firing stay firing
//! (an unknown signal is not a recovery).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use sealos_shared::alert::{
    Action, Alert, AlertState, SlackWebhook, Syslog, SyslogFormat, Urgency,
};
use sealos_shared::connection::KubeFlags;
use sealos_shared::output::{Format, Out};
use sealos_shared::prometheus::Prometheus;
use sealos_shared::retry::Backoff;
use sealos_shared::traffic::{self, NoDataPolicy, SignalKind, TrafficReport, TrafficSpec, Verdict};
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;

use crate::prometheus_flags::PrometheusFlags;

/// The key of the monitor's own alert.
pub const BLIND_KEY: &str = "prometheus";

#[derive(Args, Debug, Clone)]
pub struct MonitorArgs {
    /// Time between rounds.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Run one round and exit (for cron): 0 all good, 1 an alert is firing, 2 Prometheus failed.
    #[arg(long)]
    pub once: bool,
    /// The window the signals are measured over.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    pub window: Duration,
    /// A 5xx ratio above this alerts (0.05 = 5%).
    #[arg(long, value_name = "RATIO", default_value_t = 0.05)]
    pub error_rate: f64,
    /// A P95 latency above this many milliseconds alerts.
    #[arg(long, value_name = "MS", default_value_t = 500.0)]
    pub p95_ms: f64,
    /// Fewer requests than this in the window are "no data", not a ratio.
    #[arg(long, value_name = "N", default_value_t = 1.0)]
    pub min_requests: f64,
    /// What no traffic (empty result, NaN, zero requests) means.
    #[arg(long, value_enum, default_value_t = NoDataPolicy::Warn)]
    pub on_no_data: NoDataPolicy,
    /// Only traffic matching these labels (repeatable), e.g. destination_service_namespace=sealos-system.
    #[arg(long = "match", value_name = "LABEL=VALUE", value_parser = parse_matcher)]
    pub matchers: Vec<(String, String)>,
    /// Judge the total only, not each destination service.
    #[arg(long)]
    pub no_per_service: bool,
    /// Consecutive failed rounds before the monitor alerts that it is blind.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub max_query_failures: u32,
    /// A firing alert is repeated no more often than this.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = humantime::parse_duration)]
    pub repeat: Duration,
    /// Slack incoming webhook URL (never printed or logged).
    #[arg(
        long,
        value_name = "URL",
        env = "SLACK_WEBHOOK_URL",
        hide_env_values = true
    )]
    pub slack_webhook: Option<WebhookUrl>,
    /// The syslog socket (a Unix datagram socket).
    #[arg(long, value_name = "PATH", default_value = "/dev/log")]
    pub syslog_socket: PathBuf,
    /// How syslog messages are framed.
    #[arg(long, value_enum, default_value_t)]
    pub syslog_format: SyslogFormat,
    /// Do not send to syslog.
    #[arg(long)]
    pub no_syslog: bool,
    #[command(flatten)]
    pub prometheus: PrometheusFlags,
    /// table: lines for people; json: one JSON document per round (JSON lines).
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

/// The webhook URL: a secret, so its Debug form (and anything printing the arguments) hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(pub String);

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookUrl(<redacted>)")
    }
}

impl std::str::FromStr for WebhookUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(WebhookUrl(s.to_string()))
    }
}

fn parse_matcher(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v))
            if !k.is_empty()
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !k.starts_with(|c: char| c.is_ascii_digit()) =>
        {
            Ok((k.to_string(), v.to_string()))
        }
        _ => Err(format!(
            "{text:?} is not LABEL=VALUE with a Prometheus label name"
        )),
    }
}

impl MonitorArgs {
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(Error::usage(format!(
                "--error-rate {} is not a ratio between 0 and 1 (5% is 0.05)",
                self.error_rate
            )));
        }
        if self.p95_ms <= 0.0 || self.min_requests < 0.0 {
            return Err(Error::usage(
                "--p95-ms must be positive and --min-requests not negative",
            ));
        }
        if self.window.is_zero() || self.interval.is_zero() || self.max_query_failures == 0 {
            return Err(Error::usage(
                "--window, --interval and --max-query-failures must be positive",
            ));
        }
        self.prometheus.validate()
    }

    pub fn spec(&self) -> TrafficSpec {
        TrafficSpec {
            window: self.window,
            matchers: self.matchers.clone(),
            max_error_rate: self.error_rate,
            max_p95_ms: self.p95_ms,
            min_requests: self.min_requests,
            on_no_data: self.on_no_data,
            per_service: !self.no_per_service,
        }
    }
}

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
    pub alerts: Vec<SentAlert>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentAlert {
    /// fire | repeat | resolve
    pub action: &'static str,
    pub alert: Alert,
    /// Sinks that failed, with why (the webhook URL is never in it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub delivery_errors: Vec<String>,
}

/// The monitor's state between rounds.
pub struct Monitor {
    prom: Prometheus,
    spec: TrafficSpec,
    max_failures: u32,
    failures: u32,
    state: AlertState,
    slack: Option<SlackWebhook>,
    syslog: Option<Syslog>,
}

/// The alerts a report asks for: every finding judged `alert`.
pub fn alerts_of(report: &TrafficReport) -> Vec<Alert> {
    std::iter::once(&report.overall)
        .chain(&report.services)
        .flat_map(|scope| {
            scope
                .findings
                .iter()
                .filter(|f| f.verdict == Verdict::Alert)
                .map(move |f| {
                    let (title, urgency) = match f.signal {
                        SignalKind::ErrorRate => ("High error rate", Urgency::Critical),
                        SignalKind::Latency => ("High latency", Urgency::Warning),
                        SignalKind::NoData => ("No traffic data", Urgency::Warning),
                    };
                    Alert::firing(
                        &format!("{}/{}", f.signal.as_str(), scope.scope),
                        title,
                        &f.message,
                        urgency,
                    )
                })
        })
        .collect()
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
            state: AlertState::new(repeat),
            slack,
            syslog,
        }
    }

    /// One round: query, judge, decide, send. Never fails: what went wrong is in the report.
    pub async fn round(&mut self, now: Instant) -> RoundReport {
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
                self.failures += 1;
                let message = e.to_string();
                let mut bad = Vec::new();
                if self.failures >= self.max_failures {
                    bad.push(Alert::firing(
                        BLIND_KEY,
                        "Monitor cannot read Prometheus",
                        &format!(
                            "{} consecutive round{} failed; error rate and latency are unknown: {message}",
                            self.failures,
                            if self.failures == 1 { "" } else { "s" }
                        ),
                        Urgency::Critical,
                    ));
                }
                (bad, "blind", None, Some(message))
            }
        };
        let blind = error.is_some();
        // While blind, only the blind alert itself can be judged; the others stay as they were.
        let unknown = move |key: &str| blind && key != BLIND_KEY;
        let actions = self.state.round(&bad, &unknown, now);
        let mut alerts = Vec::new();
        for action in actions {
            let (name, alert) = match &action {
                Action::Fire(a) => ("fire", a),
                Action::Repeat(a) => ("repeat", a),
                Action::Resolve(a) => ("resolve", a),
            };
            let delivery_errors = self.deliver(alert).await;
            alerts.push(SentAlert {
                action: name,
                alert: alert.clone(),
                delivery_errors,
            });
        }
        RoundReport {
            time: jiff::Timestamp::now()
                .round(jiff::Unit::Second)
                .unwrap_or_else(|_| jiff::Timestamp::now())
                .to_string(),
            state,
            traffic,
            error,
            consecutive_failures: self.failures,
            alerts,
        }
    }

    async fn deliver(&self, alert: &Alert) -> Vec<String> {
        let slack = async {
            match &self.slack {
                Some(hook) => hook.send(alert).await.err().map(|e| e.to_string()),
                None => None,
            }
        };
        let syslog = async {
            match &self.syslog {
                Some(log) => log.send(alert).await.err().map(|e| e.to_string()),
                None => None,
            }
        };
        let (a, b) = futures::join!(slack, syslog);
        a.into_iter().chain(b).collect()
    }

    /// Whether any alert is firing now.
    pub fn firing(&self) -> bool {
        self.state.firing().next().is_some()
    }
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
        lines.push(format!("{} {}", round.time, sent.alert.line()));
        for e in &sent.delivery_errors {
            lines.push(format!("{} delivery failed: {e}", round.time));
        }
    }
    lines
}

fn print(out: &mut Out, round: &RoundReport) -> Result<()> {
    if out.format.is_machine() {
        out.json_line(round)
    } else {
        for line in render_lines(round) {
            out.line(&line)?;
        }
        out.flush()
    }
}

pub async fn run(args: &MonitorArgs, kube: &KubeFlags, out: &mut Out) -> Result<Exit> {
    args.validate()?;
    let slack = match &args.slack_webhook {
        Some(WebhookUrl(url)) if !url.is_empty() => Some(
            SlackWebhook::new(url, Duration::from_secs(10), Backoff::default())
                .map_err(|e| Error::usage(format!("--slack-webhook: {e}")))?,
        ),
        _ => None,
    };
    let syslog = (!args.no_syslog).then(|| Syslog::new(&args.syslog_socket, args.syslog_format));
    let prom = args.prometheus.connect(kube).await?;
    // With --once there is no next round to count failures in: one failure is enough to alert.
    let max_failures = if args.once {
        1
    } else {
        args.max_query_failures
    };
    let mut monitor = Monitor::new(prom, args.spec(), max_failures, args.repeat, slack, syslog);
    if args.once {
        let round = monitor.round(Instant::now()).await;
        print(out, &round)?;
        return Ok(if round.error.is_some() {
            Exit::Failure
        } else {
            Exit::problem_if(monitor.firing())
        });
    }
    let shutdown = sealos_shared::cli::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let round = tokio::select! {
            round = monitor.round(Instant::now()) => round,
            () = &mut shutdown => return Ok(Exit::Interrupted),
        };
        print(out, &round)?;
        tokio::select! {
            () = tokio::time::sleep(args.interval) => {},
            () = &mut shutdown => return Ok(Exit::Interrupted),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_webhook_never_shows_in_debug_output() {
        use clap::Parser;
        #[derive(Parser, Debug)]
        struct Cli {
            #[command(flatten)]
            monitor: MonitorArgs,
        }
        let cli = Cli::try_parse_from([
            "x",
            "--slack-webhook",
            "https://hooks.slack.com/services/T/B/SECRET",
        ])
        .unwrap();
        assert_eq!(
            cli.monitor.slack_webhook.as_ref().unwrap().0,
            "https://hooks.slack.com/services/T/B/SECRET"
        );
        assert!(!format!("{cli:?}").contains("SECRET"));
    }

    #[test]
    fn matchers_parse_as_label_value() {
        assert_eq!(
            parse_matcher("destination_service_namespace=sealos-system").unwrap(),
            (
                "destination_service_namespace".into(),
                "sealos-system".into()
            )
        );
        assert!(parse_matcher("no-equals").is_err());
        assert!(parse_matcher("bad-label=x").is_err());
        assert!(parse_matcher("1abc=x").is_err());
    }

    #[test]
    fn alerts_follow_findings() {
        let spec = TrafficSpec {
            min_requests: 10.0,
            ..TrafficSpec::default()
        };
        let overall = traffic::judge(
            &spec,
            "overall".into(),
            Some(100.0),
            Some(20.0),
            Some(900.0),
        );
        let report = TrafficReport {
            window: "5m".into(),
            max_error_rate: 0.05,
            max_p95_ms: 500.0,
            min_requests: 10.0,
            verdict: overall.verdict,
            overall,
            services: vec![],
        };
        let alerts = alerts_of(&report);
        let keys: Vec<&str> = alerts.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["error-rate/overall", "latency/overall"]);
        assert_eq!(alerts[0].urgency, Urgency::Critical);
        assert_eq!(alerts[1].title, "High latency");
    }
}
