//! The duration flags of diag, checked by `sealos_shared::number`: finite, in range, and never
//! a size that overflows a timer (humantime alone takes `500000000y`).

use std::time::Duration;

use sealos_shared::number::{self, NOT_ZERO};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A window of logs or events to read (`--since`): more than 0, at most a year.
pub fn window(text: &str) -> Result<Duration, String> {
    number::duration(text, NOT_ZERO, number::MAX_DURATION)
}

/// How long to wait for something (`--timeout`, `--envoy-timeout`): more than 0, at most a day.
pub fn wait(text: &str) -> Result<Duration, String> {
    number::duration(text, NOT_ZERO, DAY)
}

/// A pause between actions (`--pause`): 0 or more, at most a day.
pub fn pause(text: &str) -> Result<Duration, String> {
    number::duration(text, Duration::ZERO, DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_durations_are_refused_with_a_reason() {
        assert_eq!(window("2h"), Ok(Duration::from_secs(7200)));
        assert!(window("500000000y").is_err_and(|e| e.contains("too long")));
        assert!(wait("1e20").is_err_and(|e| e.contains("the longest is 1day")));
        assert!(wait("0s").is_err_and(|e| e.contains("more than 0")));
        assert!(wait("NaN").is_err_and(|e| e.contains("not a finite number")));
        assert_eq!(pause("0s"), Ok(Duration::ZERO));
        assert!(pause("-1").is_err_and(|e| e.contains("cannot be negative")));
    }
}
