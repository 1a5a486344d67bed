//! Wall-clock time as the API writes it (RFC 3339, whole seconds, UTC).

use jiff::Timestamp;

pub fn now() -> Timestamp {
    Timestamp::now()
}

/// `2026-11-25T10:00:00Z`: Kubernetes timestamps carry whole seconds.
pub fn rfc3339(t: Timestamp) -> String {
    let secs = t.as_second();
    match Timestamp::from_second(secs) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => t.to_string(),
    }
}

pub fn now_rfc3339() -> String {
    rfc3339(now())
}

pub fn parse(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}
