//! What one step measured: an HDR latency histogram (constant memory whatever the request
//! count), outcomes by kind, the status distribution, and the summary the report prints.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Latencies are recorded in microseconds, from 1 µs to one hour, with 3 significant digits.
const HIGHEST_US: u64 = 3_600_000_000;

/// Why a request failed. Every failed request has exactly one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The TCP connection could not be made (refused, unreachable, no address).
    Connect,
    /// No complete answer within `--timeout`.
    Timeout,
    /// The connection was reset or closed before the answer was complete.
    Reset,
    /// The TLS handshake or the TLS stream failed.
    Tls,
    /// An answer came, with a status outside the success codes.
    Status,
    /// Anything else: a malformed answer, a protocol error.
    Other,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Reset,
        ErrorKind::Tls,
        ErrorKind::Status,
        ErrorKind::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::Tls => "tls",
            ErrorKind::Status => "status",
            ErrorKind::Other => "other",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The kind of a failed socket operation.
    pub fn of_io(kind: std::io::ErrorKind) -> ErrorKind {
        use std::io::ErrorKind as Io;
        match kind {
            Io::TimedOut => ErrorKind::Timeout,
            Io::ConnectionRefused => ErrorKind::Connect,
            Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe | Io::UnexpectedEof => {
                ErrorKind::Reset
            }
            _ => ErrorKind::Other,
        }
    }
}

/// Which status codes count as success (`--success-codes`, default 200-399).
#[derive(Debug, Clone)]
pub struct SuccessCodes {
    codes: Box<[bool; 1000]>,
    text: String,
}

impl Default for SuccessCodes {
    fn default() -> Self {
        let mut codes = Box::new([false; 1000]);
        for code in codes.iter_mut().take(400).skip(200) {
            *code = true;
        }
        SuccessCodes {
            codes,
            text: "200-399".into(),
        }
    }
}

impl SuccessCodes {
    /// Parses `200-299,301,404`: codes and inclusive ranges, 100 to 999.
    pub fn parse(text: &str) -> Result<SuccessCodes, String> {
        let mut codes = Box::new([false; 1000]);
        for part in text.split(',').map(str::trim) {
            let (low, high) = match part.split_once('-') {
                Some((low, high)) => (low.trim(), high.trim()),
                None => (part, part),
            };
            let parse = |s: &str| {
                s.parse::<usize>()
                    .ok()
                    .filter(|c| (100..=999).contains(c))
                    .ok_or_else(|| {
                        format!("{part:?} is not a status code or range (100-999, e.g. 200-299)")
                    })
            };
            let (low, high) = (parse(low)?, parse(high)?);
            if low > high {
                return Err(format!("{part:?}: the range is reversed"));
            }
            for code in codes.iter_mut().take(high + 1).skip(low) {
                *code = true;
            }
        }
        Ok(SuccessCodes {
            codes,
            text: text.to_string(),
        })
    }

    pub fn contains(&self, code: u16) -> bool {
        self.codes.get(usize::from(code)).copied().unwrap_or(false)
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Counts for one step (or one thread of it). Recording allocates nothing.
#[derive(Debug, Clone)]
pub struct Recorder {
    latency_us: Histogram<u64>,
    status: Box<[u64; 1000]>,
    errors: [u64; 6],
    successes: u64,
    bytes: u64,
}

impl Recorder {
    pub fn new() -> Result<Recorder, String> {
        let latency_us = Histogram::new_with_bounds(1, HIGHEST_US, 3)
            .map_err(|e| format!("create a latency histogram: {e}"))?;
        Ok(Recorder {
            latency_us,
            status: Box::new([0; 1000]),
            errors: [0; 6],
            successes: 0,
            bytes: 0,
        })
    }

    /// One finished request: its latency, the status if an answer came, the failure kind if
    /// it failed, and the body bytes read.
    #[inline]
    pub fn record(
        &mut self,
        latency_us: u64,
        status: Option<u16>,
        error: Option<ErrorKind>,
        bytes: u64,
    ) {
        self.latency_us.saturating_record(latency_us.max(1));
        if let Some(code) = status
            && let Some(slot) = self.status.get_mut(usize::from(code))
        {
            *slot += 1;
        }
        match error {
            Some(kind) => self.errors[kind.index()] += 1,
            None => self.successes += 1,
        }
        self.bytes += bytes;
    }

    pub fn merge(&mut self, other: &Recorder) {
        // Same bounds on both sides: adding cannot fail; if it did, the counts below would
        // still be right and only the percentiles would lack the other thread's values.
        let _ = self.latency_us.add(&other.latency_us);
        for (mine, theirs) in self.status.iter_mut().zip(other.status.iter()) {
            *mine += theirs;
        }
        for (mine, theirs) in self.errors.iter_mut().zip(other.errors.iter()) {
            *mine += theirs;
        }
        self.successes += other.successes;
        self.bytes += other.bytes;
    }

    /// The latency histogram (microseconds), for a worker to send whole.
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.latency_us
    }

    /// Answers by status code, codes with none left out.
    pub fn status_counts(&self) -> BTreeMap<u16, u64> {
        (0u16..)
            .zip(self.status.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| (code, *n))
            .collect()
    }

    /// Failed requests by kind, in [`ErrorKind::ALL`] order.
    pub fn error_counts(&self) -> [u64; 6] {
        self.errors
    }

    pub fn successes(&self) -> u64 {
        self.successes
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// A recorder rebuilt from what a worker sent: the histogram must have this recorder's
    /// bounds and hold exactly one value per request counted.
    pub fn from_parts(
        histogram: &Histogram<u64>,
        status: &BTreeMap<u16, u64>,
        errors: [u64; 6],
        successes: u64,
        bytes: u64,
    ) -> Result<Recorder, String> {
        let mut recorder = Recorder::new()?;
        if histogram.low() != recorder.latency_us.low()
            || histogram.high() != recorder.latency_us.high()
            || histogram.sigfig() != recorder.latency_us.sigfig()
        {
            return Err(format!(
                "the histogram's bounds ({}..{}, {} digits) are not the bench's",
                histogram.low(),
                histogram.high(),
                histogram.sigfig()
            ));
        }
        recorder
            .latency_us
            .add(histogram)
            .map_err(|e| format!("merge the histogram: {e:?}"))?;
        for (code, n) in status {
            let slot = recorder
                .status
                .get_mut(usize::from(*code))
                .filter(|_| *code >= 100)
                .ok_or_else(|| format!("{code} is not a status code"))?;
            *slot = *n;
        }
        recorder.errors = errors;
        recorder.successes = successes;
        recorder.bytes = bytes;
        let counted = errors
            .iter()
            .try_fold(successes, |sum, n| sum.checked_add(*n))
            .ok_or("the request counts overflow")?;
        if counted != recorder.latency_us.len() {
            return Err(format!(
                "{counted} requests counted but {} latencies recorded",
                recorder.latency_us.len()
            ));
        }
        Ok(recorder)
    }

    pub fn requests(&self) -> u64 {
        self.successes + self.failures()
    }

    pub fn failures(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// The summary the report prints, over `elapsed_s` seconds.
    pub fn summary(&self, elapsed_s: f64) -> Summary {
        let requests = self.requests();
        let failures = self.failures();
        let h = &self.latency_us;
        let ms = |us: u64| us as f64 / 1000.0;
        let latency = if requests == 0 {
            Latency::default()
        } else {
            Latency {
                min: ms(h.min()),
                mean: h.mean() / 1000.0,
                p50: ms(h.value_at_quantile(0.50)),
                p90: ms(h.value_at_quantile(0.90)),
                p95: ms(h.value_at_quantile(0.95)),
                p99: ms(h.value_at_quantile(0.99)),
                p99_9: ms(h.value_at_quantile(0.999)),
                max: ms(h.max()),
            }
        };
        let mut errors = BTreeMap::new();
        for kind in ErrorKind::ALL {
            errors.insert(kind.name().to_string(), self.errors[kind.index()]);
        }
        let status_codes = self
            .status
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| (code.to_string(), *n))
            .collect();
        Summary {
            requests,
            successes: self.successes,
            failures,
            success_rate: if requests == 0 {
                0.0
            } else {
                self.successes as f64 * 100.0 / requests as f64
            },
            rps: if elapsed_s > 0.0 {
                requests as f64 / elapsed_s
            } else {
                0.0
            },
            duration_seconds: elapsed_s,
            bytes: self.bytes,
            latency_ms: latency,
            errors,
            status_codes,
        }
    }
}

/// Latency percentiles in milliseconds, over every request (failed ones included: a timeout
/// counts with the time it took to give up).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
}

/// A step's figures, as the JSON report and the CSV carry them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub requests: u64,
    pub successes: u64,
    pub failures: u64,
    /// Percent of requests that succeeded (0-100).
    pub success_rate: f64,
    /// Requests finished per second, failed ones included.
    pub rps: f64,
    pub duration_seconds: f64,
    /// Response body bytes read.
    pub bytes: u64,
    pub latency_ms: Latency,
    /// Failed requests by kind: connect, timeout, reset, tls, status, other.
    pub errors: BTreeMap<String, u64>,
    /// Answers by status code.
    pub status_codes: BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn success_codes_parse_ranges_and_lists() {
        let codes = SuccessCodes::parse("200-204, 301,404").unwrap();
        assert!(codes.contains(200) && codes.contains(204) && codes.contains(404));
        assert!(!codes.contains(205) && !codes.contains(302) && !codes.contains(999));
        let default = SuccessCodes::default();
        assert!(default.contains(200) && default.contains(399));
        assert!(!default.contains(199) && !default.contains(400));
        assert!(SuccessCodes::parse("abc").is_err());
        assert!(SuccessCodes::parse("300-200").is_err());
        assert!(SuccessCodes::parse("1000").is_err());
    }

    #[test]
    fn summary_counts_every_request_and_splits_failures() {
        let mut a = Recorder::new().unwrap();
        for i in 1..=98 {
            a.record(i * 1000, Some(200), None, 10);
        }
        a.record(5_000_000, None, Some(ErrorKind::Timeout), 0);
        let mut b = Recorder::new().unwrap();
        b.record(500, Some(503), Some(ErrorKind::Status), 3);
        a.merge(&b);
        let s = a.summary(2.0);
        assert_eq!(s.requests, 100);
        assert_eq!(s.successes, 98);
        assert_eq!(s.failures, 2);
        assert_eq!(s.errors["timeout"], 1);
        assert_eq!(s.errors["status"], 1);
        assert_eq!(s.errors["connect"], 0);
        assert_eq!(s.status_codes["200"], 98);
        assert_eq!(s.status_codes["503"], 1);
        assert_eq!(s.bytes, 983);
        assert!((s.success_rate - 98.0).abs() < 1e-9);
        assert!((s.rps - 50.0).abs() < 1e-9);
        assert!((s.latency_ms.min - 0.5).abs() < 0.01);
        assert!((s.latency_ms.p50 - 49.0).abs() < 0.1, "{:?}", s.latency_ms);
        assert!(
            (s.latency_ms.max - 5000.0).abs() < 5.0,
            "{:?}",
            s.latency_ms
        );
    }

    #[test]
    fn an_empty_step_has_zero_figures() {
        let s = Recorder::new().unwrap().summary(0.0);
        assert_eq!(s.requests, 0);
        assert_eq!(s.rps, 0.0);
        assert_eq!(s.latency_ms, Latency::default());
    }
}
