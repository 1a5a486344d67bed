//! `--schedule` and `--time-zone`, checked as the API server checks a CronJob (robfig/cron's
//! standard parser, and Go's `time.LoadLocation`) before anything is written: a schedule the
//! server refuses would otherwise be a 422 after the ServiceAccount and its RBAC were applied.

/// Why a schedule is refused, worded for `--schedule VALUE: WHY`.
pub fn check_schedule(schedule: &str) -> Result<(), String> {
    if schedule.contains("TZ") {
        return Err("cannot use TZ or CRON_TZ in the schedule; use --time-zone".into());
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if let [first, ..] = fields.as_slice()
        && first.starts_with('@')
    {
        return descriptor(&fields);
    }
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields (minute hour day-of-month month day-of-week), found {}",
            fields.len()
        ));
    }
    for (text, field) in fields.iter().zip(FIELDS) {
        check_field(text, &field).map_err(|why| format!("{} {text:?}: {why}", field.name))?;
    }
    Ok(())
}

/// `@hourly`-style schedules. `@every` is left out: it counts from the controller's start, not
/// from the clock, which is not what a backup schedule means.
fn descriptor(fields: &[&str]) -> Result<(), String> {
    const KNOWN: [&str; 7] = [
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
    ];
    match fields {
        [one] if KNOWN.contains(&one.to_ascii_lowercase().as_str()) => Ok(()),
        [one, ..] => Err(format!(
            "unrecognised descriptor {one:?} (known: {})",
            KNOWN.join(", ")
        )),
        [] => Err("empty".into()),
    }
}

/// `--time-zone`: an IANA name the local time zone database knows, never `Local` (the server
/// refuses it: the controller's local zone is not the operator's).
pub fn check_time_zone(zone: &str) -> Result<(), String> {
    if zone.is_empty() {
        return Err("empty; leave --time-zone out for UTC".into());
    }
    if zone.eq_ignore_ascii_case("local") {
        return Err("must be an explicit IANA time zone (e.g. Europe/Berlin), not Local".into());
    }
    if zone.starts_with('/') || zone.split('/').any(|p| p == ".." || p == ".") {
        return Err("not a time zone name".into());
    }
    let db = jiff::tz::db();
    if db.is_definitively_empty() {
        // No database here to check against: the server's own check still applies.
        return Ok(());
    }
    db.get(zone)
        .map(|_| ())
        .map_err(|_| "not a time zone in the IANA database (e.g. UTC, Asia/Shanghai)".into())
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const FIELDS: [Field; 5] = [
    field("minute", 0, 59, &[]),
    field("hour", 0, 23, &[]),
    field("day-of-month", 1, 31, &[]),
    field("month", 1, 12, MONTHS),
    field("day-of-week", 0, 6, DAYS),
];

const fn field(name: &'static str, min: u32, max: u32, names: &'static [&'static str]) -> Field {
    Field {
        name,
        min,
        max,
        names,
    }
}

/// One field: a comma list of `*`/`?`, `N` or `A-B`, each with an optional `/STEP`.
fn check_field(text: &str, field: &Field) -> Result<(), String> {
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (part, None),
        };
        let (start, end) = if range == "*" || range == "?" {
            (field.min, field.max)
        } else {
            match range.split_once('-') {
                Some((a, b)) => (value(a, field)?, value(b, field)?),
                None => {
                    let start = value(range, field)?;
                    // `N/STEP` runs from N to the end of the field, as robfig/cron reads it.
                    (start, if step.is_some() { field.max } else { start })
                }
            }
        };
        if start > end {
            return Err(format!("{start} is beyond the end of the range, {end}"));
        }
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(0) | Err(_) => return Err(format!("step {step:?} is not a positive number")),
                Ok(_) => {}
            }
        }
    }
    Ok(())
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(at) = field.names.iter().position(|n| *n == lower) {
        // Months count from 1, days of the week from 0 (Sunday).
        return Ok(at as u32 + field.min);
    }
    let n: u32 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if n < field.min || n > field.max {
        return Err(format!("{n} is out of range ({}-{})", field.min, field.max));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn schedules_the_server_takes() {
        for ok in [
            "* * * * *",
            "0 3 * * *",
            "*/15 * * * *",
            "0 2 * * mon-fri",
            "30 1 1,15 * *",
            "0 0 1 jan,JUL ?",
            "5/10 * * * *",
            "0 3 * * 0",
            "@daily",
            "@Hourly",
        ] {
            assert_eq!(check_schedule(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn schedules_the_server_refuses_say_why() {
        for (bad, why) in [
            ("* * * *", "expected exactly 5 fields"),
            ("* * * * * *", "found 6"),
            ("", "found 0"),
            ("60 * * * *", "minute \"60\": 60 is out of range (0-59)"),
            ("0 24 * * *", "hour \"24\": 24 is out of range (0-23)"),
            ("0 0 0 * *", "day-of-month \"0\""),
            ("0 0 * 13 *", "month \"13\""),
            ("0 0 * * 7", "day-of-week \"7\""),
            ("*/0 * * * *", "step \"0\" is not a positive number"),
            ("5-1 * * * *", "5 is beyond the end of the range, 1"),
            ("x * * * *", "\"x\" is not a number"),
            ("CRON_TZ=UTC 0 3 * * *", "use --time-zone"),
            ("@every 1h", "unrecognised descriptor \"@every\""),
            ("@daily 3", "unrecognised descriptor"),
        ] {
            let err = check_schedule(bad).expect_err(bad);
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn time_zones() {
        assert_eq!(check_time_zone("UTC"), Ok(()));
        assert!(check_time_zone("Local").unwrap_err().contains("explicit"));
        assert!(check_time_zone("").is_err());
        assert!(check_time_zone("../../etc/passwd").is_err());
        if !jiff::tz::db().is_definitively_empty() {
            assert_eq!(check_time_zone("Asia/Shanghai"), Ok(()));
            assert!(check_time_zone("Mars/Olympus").is_err());
        }
    }
}
