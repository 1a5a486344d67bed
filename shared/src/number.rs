//! Numbers from flags and files, checked before use: finite and in range, or a message that says
//! what is wrong. `f64::from_str` accepts `NaN`, `inf` and `1e-320`; `Duration::from_secs_f64`
//! panics on what it cannot hold, and so does an `Instant` plus a huge duration. Every duration,
//! rate or float a user or a file gives goes through here before any arithmetic.

use std::time::Duration;

/// The longest duration any flag takes: far beyond any sensible wait, far below what an
/// `Instant` or a tokio timer can hold.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// `value` when it is finite and within `min..=max`; else why not (without the field's name,
/// which the caller puts in front).
pub fn check(value: f64, min: f64, max: f64) -> Result<f64, String> {
    if !value.is_finite() {
        return Err(format!("{value} is not a finite number"));
    }
    if value < min {
        return Err(format!("{} is less than {}", show(value), show(min)));
    }
    if value > max {
        return Err(format!("{} is more than {}", show(value), show(max)));
    }
    Ok(value)
}

/// A float flag or field: finite, within `min..=max`.
pub fn float(text: &str, min: f64, max: f64) -> Result<f64, String> {
    let trimmed = text.trim();
    let value = trimmed
        .parse::<f64>()
        .map_err(|_| format!("{trimmed:?} is not a number"))?;
    check(value, min, max).map_err(|why| format!("{trimmed:?}: {why}"))
}

/// A duration flag: `30s`, `1m30s`, `500ms`, or a plain number of seconds (`1.5`), within
/// `min..=max` (and never beyond [`MAX_DURATION`]).
pub fn duration(text: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let trimmed = text.trim();
    let max = max.min(MAX_DURATION);
    let value = match trimmed.parse::<f64>() {
        Ok(seconds) if !seconds.is_finite() => {
            return Err(format!("{trimmed:?} is not a finite number of seconds"));
        }
        Ok(seconds) if seconds < 0.0 => {
            return Err(format!("{trimmed:?}: a duration cannot be negative"));
        }
        // Compared as seconds first: `Duration::from_secs_f64` panics on what it cannot hold.
        Ok(seconds) if seconds > max.as_secs_f64() => {
            return Err(format!(
                "{trimmed:?} is too long: the longest is {}",
                humantime::format_duration(max)
            ));
        }
        Ok(seconds) => Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("{trimmed:?} is not a duration"))?,
        Err(_) => humantime::parse_duration(trimmed).map_err(|_| {
            format!("{trimmed:?} is not a duration (e.g. 30s, 1m, 500ms, or seconds)")
        })?,
    };
    if value > max {
        return Err(format!(
            "{trimmed:?} is too long: the longest is {}",
            humantime::format_duration(max)
        ));
    }
    if value < min {
        return Err(if min == Duration::from_nanos(1) {
            format!("{trimmed:?}: must be more than 0")
        } else {
            format!(
                "{trimmed:?} is too short: the shortest is {}",
                humantime::format_duration(min)
            )
        });
    }
    Ok(value)
}

// The one rule for every duration flag of the suite (`--since`, `--timeout`, `--interval`,
// `--request-timeout`, `-z`, ...): `30s`, `1m30s`, `500ms`, `2h`, `7d`, or a bare number of seconds
// (`30`, `1.5`) as kubectl's `--request-timeout` takes; never negative, NaN or infinite; at most
// [`MAX_DURATION`]. A flag either must be more than 0 or also takes 0 (which then means "none" or
// "no wait", as its help says): those are the two parsers below, and no plugin has its own.

/// The clap value parser of a duration flag that must be more than 0.
pub fn positive_duration(text: &str) -> Result<Duration, String> {
    duration(text, NOT_ZERO, MAX_DURATION)
}

/// The clap value parser of a duration flag that also takes 0.
pub fn duration_or_zero(text: &str) -> Result<Duration, String> {
    duration(text, Duration::ZERO, MAX_DURATION)
}

/// The shortest duration that is not zero, for flags that must be more than 0.
pub const NOT_ZERO: Duration = Duration::from_nanos(1);

/// Whole numbers print without a fraction, the very large and very small in `1e20` form.
fn show(value: f64) -> String {
    let size = value.abs();
    if size != 0.0 && !(1e-6..1e15).contains(&size) {
        format!("{value:e}")
    } else if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn floats_are_finite_and_in_range() {
        assert_eq!(float(" 2.5 ", 0.0, 10.0), Ok(2.5));
        assert_eq!(
            float("NaN", 0.0, 10.0).unwrap_err(),
            "\"NaN\": NaN is not a finite number"
        );
        assert!(
            float("inf", 0.0, 10.0)
                .unwrap_err()
                .contains("not a finite")
        );
        assert_eq!(
            float("-1", 0.0, 10.0).unwrap_err(),
            "\"-1\": -1 is less than 0"
        );
        assert_eq!(
            float("1e-320", 0.001, 10.0).unwrap_err(),
            "\"1e-320\": 1e-320 is less than 0.001"
        );
        assert_eq!(float("x", 0.0, 1.0).unwrap_err(), "\"x\" is not a number");
        assert_eq!(
            check(100.5, 0.0, 100.0).unwrap_err(),
            "100.5 is more than 100"
        );
    }

    #[test]
    fn durations_never_overflow() {
        let day = Duration::from_secs(86_400);
        assert_eq!(
            duration("1.5", NOT_ZERO, day),
            Ok(Duration::from_millis(1500))
        );
        assert_eq!(duration("2m", NOT_ZERO, day), Ok(Duration::from_secs(120)));
        assert_eq!(
            duration("1e20", NOT_ZERO, day).unwrap_err(),
            "\"1e20\" is too long: the longest is 1day"
        );
        assert!(
            duration("inf", NOT_ZERO, day)
                .unwrap_err()
                .contains("not a finite")
        );
        assert!(
            duration("NaN", NOT_ZERO, day)
                .unwrap_err()
                .contains("not a finite")
        );
        assert!(
            duration("-3", NOT_ZERO, day)
                .unwrap_err()
                .contains("cannot be negative")
        );
        assert_eq!(
            duration("0", NOT_ZERO, day).unwrap_err(),
            "\"0\": must be more than 0"
        );
        assert_eq!(duration("0s", Duration::ZERO, day), Ok(Duration::ZERO));
        assert!(
            duration("500000000y", NOT_ZERO, day)
                .unwrap_err()
                .contains("too long")
        );
        assert!(
            duration("soon", NOT_ZERO, day)
                .unwrap_err()
                .contains("not a duration")
        );
        // The cap holds whatever the caller asks.
        assert!(duration("400days", NOT_ZERO, Duration::MAX).is_err());
    }

    #[test]
    fn every_flag_takes_bare_seconds_and_units() {
        for parse in [positive_duration, duration_or_zero] {
            assert_eq!(parse("30"), Ok(Duration::from_secs(30)));
            assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
            assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
            assert_eq!(parse("7d"), Ok(Duration::from_secs(7 * 86_400)));
            assert!(parse("-1").is_err());
            assert!(parse("1e20").unwrap_err().contains("too long"));
        }
        assert_eq!(duration_or_zero("0"), Ok(Duration::ZERO));
        assert_eq!(
            positive_duration("0").unwrap_err(),
            "\"0\": must be more than 0"
        );
    }
}
