//! Syslog over a Unix datagram socket (`/dev/log` by default), framed as RFC 3164 (the form
//! glibc's `syslog()` and `logger` send locally) or RFC 5424, with the guide's tag `sealos-monitor`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ValueEnum;

use super::{Alert, Phase, SinkError, Urgency};

/// The tag the guide's `logger -t` used; operators' filters look for it.
pub const TAG: &str = "sealos-monitor";

/// How a message is framed.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyslogFormat {
    /// `<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`
    #[default]
    Rfc3164,
    /// `<PRI>1 TIMESTAMP HOST APP PID - - MSG`
    Rfc5424,
}

/// The `user` facility, as `logger` uses by default.
const FACILITY_USER: u8 = 1;

/// How long a send may wait by default. A local datagram socket whose reader has stopped
/// (journald stuck, a full queue) blocks the sender; an alert must not wait for it for ever.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A syslog destination.
#[derive(Debug, Clone)]
pub struct Syslog {
    path: PathBuf,
    format: SyslogFormat,
    tag: String,
    timeout: Duration,
}

/// RFC 5424 severities: firing critical → crit, firing warning → warning, resolved → notice.
pub fn severity(alert: &Alert) -> u8 {
    match (alert.phase, alert.urgency) {
        (Phase::Resolved, _) => 5,
        (Phase::Firing, Urgency::Critical) => 2,
        (Phase::Firing, Urgency::Warning) => 4,
    }
}

/// One framed syslog message (pure, for tests).
pub fn frame(
    format: SyslogFormat,
    tag: &str,
    pid: u32,
    host: &str,
    now: &jiff::Zoned,
    alert: &Alert,
) -> String {
    let pri = FACILITY_USER * 8 + severity(alert);
    match format {
        SyslogFormat::Rfc3164 => format!(
            "<{pri}>{} {tag}[{pid}]: {}",
            now.strftime("%b %e %H:%M:%S"),
            alert.line()
        ),
        SyslogFormat::Rfc5424 => format!(
            "<{pri}>1 {} {} {tag} {pid} - - {}",
            now.timestamp().strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
            if host.is_empty() { "-" } else { host },
            alert.line()
        ),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty() && !h.contains(' '))
        .unwrap_or_else(|| "-".to_string())
}

impl Syslog {
    pub fn new(path: &Path, format: SyslogFormat) -> Syslog {
        Syslog {
            path: path.to_path_buf(),
            format,
            tag: TAG.to_string(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same destination, each send bounded by `timeout`.
    pub fn with_timeout(self, timeout: Duration) -> Syslog {
        Syslog { timeout, ..self }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends one datagram, within the timeout. A missing, refusing or stuck socket is reported,
    /// not fatal.
    pub async fn send(&self, alert: &Alert) -> Result<(), SinkError> {
        let err = |reason: String| SinkError::Syslog {
            path: self.path.display().to_string(),
            reason,
        };
        let message = frame(
            self.format,
            &self.tag,
            std::process::id(),
            &hostname(),
            &jiff::Zoned::now(),
            alert,
        );
        let socket = tokio::net::UnixDatagram::unbound().map_err(|e| err(e.to_string()))?;
        match tokio::time::timeout(self.timeout, socket.send_to(message.as_bytes(), &self.path))
            .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(err(e.to_string())),
            Err(_) => Err(err(format!(
                "the socket took nothing for {} (is its reader stuck?)",
                humantime::format_duration(self.timeout)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at() -> jiff::Zoned {
        "2026-11-05T08:09:10.25+00:00[UTC]".parse().unwrap()
    }

    #[test]
    fn rfc3164_frames_like_logger() {
        let alert = Alert::firing("k", "High latency", "P95 900ms", Urgency::Warning);
        assert_eq!(
            frame(SyslogFormat::Rfc3164, TAG, 42, "node1", &at(), &alert),
            "<12>Nov  5 08:09:10 sealos-monitor[42]: FIRING warning: High latency: P95 900ms"
        );
        assert_eq!(
            frame(
                SyslogFormat::Rfc3164,
                TAG,
                42,
                "node1",
                &at(),
                &alert.resolved()
            ),
            "<13>Nov  5 08:09:10 sealos-monitor[42]: RESOLVED warning: High latency: P95 900ms"
        );
    }

    #[test]
    fn rfc5424_frames_with_version_time_and_host() {
        let alert = Alert::firing("k", "High error rate", "7%", Urgency::Critical);
        assert_eq!(
            frame(SyslogFormat::Rfc5424, TAG, 7, "node1", &at(), &alert),
            "<10>1 2026-11-05T08:09:10.250Z node1 sealos-monitor 7 - - FIRING critical: High error rate: 7%"
        );
    }

    #[tokio::test]
    async fn datagrams_reach_the_socket_and_a_missing_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sock");
        let receiver = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let syslog = Syslog::new(&path, SyslogFormat::Rfc3164);
        let alert = Alert::firing("k", "t", "m", Urgency::Critical);
        syslog.send(&alert).await.unwrap();
        let mut buf = [0u8; 512];
        let n = receiver.recv(&mut buf).unwrap();
        let line = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(line.starts_with("<10>"), "{line}");
        assert!(
            line.contains(" sealos-monitor[") && line.ends_with("]: FIRING critical: t: m"),
            "{line}"
        );
        let missing = Syslog::new(&dir.path().join("nope"), SyslogFormat::Rfc5424);
        assert!(missing.send(&alert).await.is_err());
    }

    #[tokio::test]
    async fn a_socket_nobody_reads_gives_a_timeout_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stuck.sock");
        // Bound and never read: once its queue is full, a send blocks.
        let _receiver = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let syslog =
            Syslog::new(&path, SyslogFormat::Rfc3164).with_timeout(Duration::from_millis(50));
        let alert = Alert::firing("k", "t", "m", Urgency::Critical);
        let mut sent = 0;
        let err = loop {
            match syslog.send(&alert).await {
                Ok(()) => sent += 1,
                Err(e) => break e.to_string(),
            }
            assert!(sent < 100_000, "the queue never filled");
        };
        assert!(sent > 0);
        assert!(
            err.ends_with("the socket took nothing for 50ms (is its reader stuck?)"),
            "{err}"
        );
    }
}
