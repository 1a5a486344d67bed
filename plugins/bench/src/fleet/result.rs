//! What a worker sends back: its counters and its whole latency histogram (HDR V2 + deflate,
//! base64), one JSON line small enough for a termination message (4 KiB) in most runs; when it
//! is not, the message says so and the line goes to the logs instead.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use crate::stats::Recorder;

/// The kubelet keeps at most this much of a termination message.
pub const MESSAGE_LIMIT: usize = 4096;
/// The line prefix of a result written to the logs.
pub const LOG_PREFIX: &str = "sealos-bench-result: ";
/// The most a result may take in the logs: far above any histogram of ours, bounded so a
/// hostile log cannot make the coordinator decode without end.
const MAX_ENCODED: usize = 1 << 20;

pub const KIND: &str = "BenchWorkerResult";

/// A worker's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkerResult {
    /// Always [`KIND`].
    pub kind: String,
    pub index: u32,
    /// True when the worker was stopped (SIGTERM) before its share was done.
    pub interrupted: bool,
    /// Seconds from the agreed start to the worker's last answer.
    pub elapsed_s: f64,
    pub successes: u64,
    /// Failed requests in `ErrorKind::ALL` order: connect, timeout, reset, tls, status, other.
    pub errors: [u64; 6],
    pub status: BTreeMap<u16, u64>,
    pub bytes: u64,
    /// The latency histogram in microseconds: HDR V2 with deflate, base64.
    pub histogram: String,
}

/// What the termination message holds when the result went to the logs.
#[derive(Debug, Serialize, Deserialize)]
struct InLogs {
    kind: String,
    index: u32,
    in_logs: bool,
}

/// Where a worker's result goes.
#[derive(Debug, PartialEq)]
pub enum Placement {
    /// The whole result fits the termination message.
    Message(String),
    /// The message only points to the logs, which carry the line.
    Logs { message: String, line: String },
}

impl WorkerResult {
    pub fn new(
        index: u32,
        recorder: &Recorder,
        elapsed_s: f64,
        interrupted: bool,
    ) -> Result<WorkerResult, String> {
        Ok(WorkerResult {
            kind: KIND.into(),
            index,
            interrupted,
            elapsed_s,
            successes: recorder.successes(),
            errors: recorder.error_counts(),
            status: recorder.status_counts(),
            bytes: recorder.bytes(),
            histogram: encode(recorder.histogram())?,
        })
    }

    /// The termination message, or a pointer to the logs when the result is too large for it.
    pub fn place(&self) -> Result<Placement, String> {
        let line = serde_json::to_string(self).map_err(|e| e.to_string())?;
        if line.len() <= MESSAGE_LIMIT {
            return Ok(Placement::Message(line));
        }
        let message = serde_json::to_string(&InLogs {
            kind: KIND.into(),
            index: self.index,
            in_logs: true,
        })
        .map_err(|e| e.to_string())?;
        Ok(Placement::Logs {
            message,
            line: format!("{LOG_PREFIX}{line}"),
        })
    }

    /// The counters and histogram as a recorder, checked: the result came from a pod.
    pub fn recorder(&self) -> Result<Recorder, String> {
        let histogram = decode(&self.histogram)?;
        Recorder::from_parts(
            &histogram,
            &self.status,
            self.errors,
            self.successes,
            self.bytes,
        )
    }
}

/// What a termination message says.
#[derive(Debug)]
pub enum Message {
    Result(Box<WorkerResult>),
    /// The result is in the logs.
    InLogs,
    /// Not a result: an error the worker (or the logs fallback) left.
    Text(String),
}

pub fn read_message(text: &str) -> Message {
    let text = text.trim();
    if let Ok(result) = serde_json::from_str::<WorkerResult>(text)
        && result.kind == KIND
    {
        return Message::Result(Box::new(result));
    }
    if let Ok(pointer) = serde_json::from_str::<InLogs>(text)
        && pointer.kind == KIND
        && pointer.in_logs
    {
        return Message::InLogs;
    }
    Message::Text(text.to_string())
}

/// The result line in a worker's logs (the last one, should there be several).
pub fn from_logs(logs: &str) -> Result<WorkerResult, String> {
    let line = logs
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(LOG_PREFIX))
        .ok_or("the logs hold no result line")?;
    if line.len() > MAX_ENCODED {
        return Err(format!("the result line is {} bytes", line.len()));
    }
    serde_json::from_str(line).map_err(|e| format!("the result line is not a result: {e}"))
}

/// A histogram as V2 + deflate, base64.
pub fn encode(histogram: &Histogram<u64>) -> Result<String, String> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .map_err(|e| format!("serialize the histogram: {e:?}"))?;
    Ok(STANDARD.encode(bytes))
}

/// The histogram [`encode`] wrote.
pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    if text.len() > MAX_ENCODED {
        return Err(format!("the histogram is {} bytes", text.len()));
    }
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| format!("the histogram is not base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("the histogram does not decode: {e:?}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::stats::ErrorKind;

    fn recorder(from: u64, to: u64, step: u64) -> Recorder {
        let mut r = Recorder::new().unwrap();
        for us in (from..to).step_by(step as usize) {
            r.record(us, Some(200), None, 100);
        }
        r.record(30_000_000, None, Some(ErrorKind::Timeout), 0);
        r.record(700, Some(503), Some(ErrorKind::Status), 12);
        r
    }

    #[test]
    fn a_result_round_trips_exactly() {
        let r = recorder(100, 80_000, 7);
        let result = WorkerResult::new(2, &r, 3.5, false).unwrap();
        let Placement::Message(text) = result.place().unwrap() else {
            panic!("a typical result fits the termination message");
        };
        assert!(text.len() <= MESSAGE_LIMIT, "{}", text.len());
        let Message::Result(back) = read_message(&text) else {
            panic!("not read back: {text}");
        };
        assert_eq!(*back, result);
        let again = back.recorder().unwrap();
        assert_eq!(again.histogram(), r.histogram());
        assert_eq!(again.summary(3.5), r.summary(3.5));
    }

    #[test]
    fn the_merge_of_decoded_parts_is_the_merge_of_the_parts() {
        let parts = [
            recorder(100, 5_000, 3),
            recorder(40_000, 90_000, 11),
            recorder(900, 1_000, 1),
        ];
        let mut direct = Recorder::new().unwrap();
        let mut via_wire = Recorder::new().unwrap();
        for (i, part) in parts.iter().enumerate() {
            direct.merge(part);
            let sent = WorkerResult::new(i as u32, part, 1.0, false).unwrap();
            via_wire.merge(&sent.recorder().unwrap());
        }
        assert_eq!(via_wire.histogram(), direct.histogram());
        let (a, b) = (via_wire.summary(2.0), direct.summary(2.0));
        assert_eq!(a, b);
        // An average of the parts' p50s is not the p50 of everything.
        let mean_p50: f64 = parts
            .iter()
            .map(|p| p.summary(1.0).latency_ms.p50)
            .sum::<f64>()
            / 3.0;
        assert!(
            (mean_p50 - a.latency_ms.p50).abs() > 1.0,
            "{mean_p50} {a:?}"
        );
    }

    #[test]
    fn a_large_result_goes_to_the_logs() {
        let mut r = Recorder::new().unwrap();
        // Values spread over every bucket: far more than 4 KiB compressed.
        let mut x: u64 = 1;
        for _ in 0..200_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            r.record(1 + (x >> 40) % 3_000_000_000, Some(200), None, 0);
        }
        let result = WorkerResult::new(0, &r, 1.0, false).unwrap();
        let Placement::Logs { message, line } = result.place().unwrap() else {
            panic!("expected the logs");
        };
        assert!(message.len() < 100);
        assert!(matches!(read_message(&message), Message::InLogs));
        let logs = format!("worker 0 starting\n{line}\n");
        assert_eq!(from_logs(&logs).unwrap(), result);
    }

    #[test]
    fn hostile_results_are_refused() {
        let r = recorder(100, 200, 1);
        let mut result = WorkerResult::new(0, &r, 1.0, false).unwrap();
        result.successes += 1;
        assert!(
            result
                .recorder()
                .unwrap_err()
                .contains("requests counted but")
        );
        result.successes -= 1;
        result.status.insert(1200, 1);
        assert!(result.recorder().unwrap_err().contains("not a status code"));
        result.histogram = "%%%".into();
        assert!(result.recorder().unwrap_err().contains("not base64"));
        result.histogram = STANDARD.encode(b"not a histogram");
        assert!(result.recorder().unwrap_err().contains("does not decode"));
        let other = Histogram::<u64>::new_with_bounds(1, 1000, 2).unwrap();
        result.histogram = encode(&other).unwrap();
        assert!(result.recorder().unwrap_err().contains("bounds"));
        assert!(matches!(read_message("error: boom"), Message::Text(t) if t == "error: boom"));
        assert!(from_logs("nothing here").is_err());
    }
}
