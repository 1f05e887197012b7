//! When a data source runs by itself (issue 14): every N minutes or hours, or
//! on a five-field cron expression read in an IANA time zone.
//!
//! This module only computes times; storing a schedule, claiming a due run
//! once across replicas and starting it belong to the store and the service.
//!
//! The rule that makes a schedule missed while Pinion was down run once, not
//! once per missed slot, is [`Cadence::following`]: after a slot is taken,
//! the next slot is the first one strictly after *now*, never the one
//! straight after the slot that was taken.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::FieldError;

/// The longest interval a schedule may have: 366 days.
pub const MAX_INTERVAL: Duration = Duration::from_secs(366 * 24 * 3600);

/// How often a source runs.
#[derive(Clone)]
pub enum Cadence {
    /// Every fixed interval, counted from the first slot.
    Every(Duration),
    /// At the times a cron expression matches in a time zone.
    Cron {
        /// The expression as the user typed it, trimmed.
        expression: String,
        /// The zone the expression is read in.
        time_zone: Tz,
        /// The parsed expression.
        parsed: Box<Cron>,
    },
}

impl fmt::Debug for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cadence::Every(every) => write!(f, "Every({})", format_interval(*every)),
            Cadence::Cron {
                expression,
                time_zone,
                ..
            } => write!(f, "Cron({expression:?} in {time_zone})"),
        }
    }
}

impl PartialEq for Cadence {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Cadence::Every(a), Cadence::Every(b)) => a == b,
            (
                Cadence::Cron {
                    expression: a,
                    time_zone: za,
                    ..
                },
                Cadence::Cron {
                    expression: b,
                    time_zone: zb,
                    ..
                },
            ) => a == b && za == zb,
            _ => false,
        }
    }
}

impl Eq for Cadence {}

impl Cadence {
    /// Parses an interval such as `90s`, `15m`, `2h`, `1d` or `1h30m` (field
    /// `every`). Bounds other than [`MAX_INTERVAL`] (the shortest interval
    /// the operator allows) are the service's.
    pub fn every(text: &str) -> Result<Self, FieldError> {
        let every = parse_interval(text).map_err(|message| FieldError::new("every", message))?;
        if every > MAX_INTERVAL {
            return Err(FieldError::new("every", "must be at most 366 days"));
        }
        Ok(Cadence::Every(every))
    }

    /// Parses a five-field cron expression (minute, hour, day of month,
    /// month, day of week; field `cron`) read in the IANA time zone
    /// `time_zone` (field `time_zone`, e.g. `Europe/Paris`; empty means
    /// UTC). Both fields are checked, and both errors reported.
    pub fn cron(expression: &str, time_zone: &str) -> Result<Self, Vec<FieldError>> {
        let expression = expression.trim();
        let mut errors = Vec::new();
        let parsed = if expression.is_empty() {
            errors.push(FieldError::new("cron", "is required"));
            None
        } else if expression.split_whitespace().count() != 5 {
            errors.push(FieldError::new(
                "cron",
                "must have five fields: minute, hour, day of month, month, day of week \
                 (e.g. `0 6 * * 1-5`)",
            ));
            None
        } else {
            let parser = CronParser::builder()
                .seconds(Seconds::Disallowed)
                .year(Year::Disallowed)
                .build();
            match parser.parse(expression) {
                Ok(parsed) => Some(parsed),
                Err(err) => {
                    errors.push(FieldError::new(
                        "cron",
                        format!("is not a valid cron expression: {err}"),
                    ));
                    None
                }
            }
        };
        let time_zone = match parse_time_zone(time_zone) {
            Ok(zone) => Some(zone),
            Err(err) => {
                errors.push(err);
                None
            }
        };
        match (parsed, time_zone) {
            (Some(parsed), Some(time_zone)) if errors.is_empty() => {
                // An expression that never matches (`0 0 31 2 *`) is refused
                // now rather than never running. Searched from a fixed date,
                // so the answer does not depend on the clock.
                let from = DateTime::<Utc>::UNIX_EPOCH.with_timezone(&time_zone);
                if parsed.find_next_occurrence(&from, false).is_err() {
                    return Err(vec![FieldError::new(
                        "cron",
                        "never matches a date (e.g. 31 February)",
                    )]);
                }
                Ok(Cadence::Cron {
                    expression: expression.to_owned(),
                    time_zone,
                    parsed: Box::new(parsed),
                })
            }
            _ => Err(errors),
        }
    }

    /// The cadence stored as (`every` seconds, `cron`, `time_zone`): exactly
    /// one of the first two is set.
    pub fn from_stored(
        every_seconds: Option<i64>,
        cron: Option<&str>,
        time_zone: &str,
    ) -> Result<Self, String> {
        match (every_seconds, cron) {
            (Some(seconds), None) if seconds > 0 => {
                Ok(Cadence::Every(Duration::from_secs(seconds as u64)))
            }
            (None, Some(expression)) => Cadence::cron(expression, time_zone).map_err(|errors| {
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            }),
            _ => Err(format!(
                "a schedule needs either an interval or a cron expression (every: {every_seconds:?}, cron: {cron:?})"
            )),
        }
    }

    /// The interval in whole seconds, for an interval cadence.
    pub fn every_seconds(&self) -> Option<i64> {
        match self {
            Cadence::Every(every) => Some(every.as_secs() as i64),
            Cadence::Cron { .. } => None,
        }
    }

    /// The cron expression, for a cron cadence.
    pub fn cron_expression(&self) -> Option<&str> {
        match self {
            Cadence::Cron { expression, .. } => Some(expression),
            Cadence::Every(_) => None,
        }
    }

    /// The zone a cron expression is read in; UTC for an interval.
    pub fn time_zone(&self) -> Tz {
        match self {
            Cadence::Cron { time_zone, .. } => *time_zone,
            Cadence::Every(_) => Tz::UTC,
        }
    }

    /// The shortest time between two slots: the interval, or for a cron
    /// expression the gap between its next two matches after `from` (an
    /// estimate used only to refuse expressions firing more often than the
    /// operator allows).
    pub fn shortest_gap(&self, from: DateTime<Utc>) -> Option<Duration> {
        match self {
            Cadence::Every(every) => Some(*every),
            Cadence::Cron { .. } => {
                let first = self.first_after(from)?;
                let second = self.first_after(first)?;
                (second - first).to_std().ok()
            }
        }
    }

    /// The first slot strictly after `after`: for an interval, `after` plus
    /// the interval; for a cron expression its next match. `None` only for a
    /// cron expression with no match left (before year 5000, croner's
    /// bound).
    pub fn first_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Cadence::Every(every) => Some(after + chrono::Duration::from_std(*every).ok()?),
            Cadence::Cron {
                time_zone, parsed, ..
            } => parsed
                .find_next_occurrence(&after.with_timezone(time_zone), false)
                .ok()
                .map(|next| next.with_timezone(&Utc)),
        }
    }

    /// The slot after `due` once `due` is taken at `now`: the first slot
    /// strictly after `now`, so slots missed while nothing ran collapse into
    /// the one just taken. An interval keeps its phase (`due` plus a whole
    /// number of intervals); a cron expression its next match after `now`.
    pub fn following(&self, due: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Cadence::Every(every) => {
                let step = chrono::Duration::from_std(*every).ok()?;
                let step_ms = step.num_milliseconds().max(1);
                let behind_ms = (now - due).num_milliseconds();
                let steps = if behind_ms < 0 {
                    1
                } else {
                    behind_ms / step_ms + 1
                };
                Some(due + chrono::Duration::milliseconds(step_ms * steps))
            }
            Cadence::Cron { .. } => self.first_after(now.max(due)),
        }
    }

    /// The cadence for people: `every 15m` or `0 6 * * 1-5 (Europe/Paris)`.
    pub fn describe(&self) -> String {
        match self {
            Cadence::Every(every) => format!("every {}", format_interval(*every)),
            Cadence::Cron {
                expression,
                time_zone,
                ..
            } => format!("{expression} ({time_zone})"),
        }
    }
}

/// Every IANA time zone name a cron schedule may be read in.
pub fn time_zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name())
}

/// Parses an IANA time zone name (field `time_zone`); blank is UTC.
pub fn parse_time_zone(text: &str) -> Result<Tz, FieldError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Tz::UTC);
    }
    Tz::from_str(text).map_err(|_| {
        FieldError::new(
            "time_zone",
            format!("`{text}` is not an IANA time zone name such as `Europe/Paris` or `UTC`"),
        )
    })
}

/// Parses `90s`, `15m`, `2h`, `1d`, `1h30m` (units s, m, h, d; at least one
/// second). A bare number is refused: the unit must be said.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is required, e.g. `15m`, `2h` or `1d`".to_owned());
    }
    let invalid = || {
        format!(
            "`{text}` is not an interval: a number and a unit (s, m, h, d), e.g. `15m`, `2h` or `1h30m`"
        )
    };
    let mut total: u64 = 0;
    let mut digits = String::new();
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let unit = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(invalid()),
        };
        let number: u64 = digits.parse().map_err(|_| invalid())?;
        digits.clear();
        total = number
            .checked_mul(unit)
            .and_then(|part| total.checked_add(part))
            .ok_or_else(|| "is too long".to_owned())?;
    }
    if !digits.is_empty() {
        return Err(invalid());
    }
    if total == 0 {
        return Err("must be at least one second".to_owned());
    }
    Ok(Duration::from_secs(total))
}

/// `1h30m`, `15m`, `90s` → `1m30s`: the largest units first, none empty.
pub fn format_interval(every: Duration) -> String {
    let mut left = every.as_secs();
    if left == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if left >= size {
            out.push_str(&format!("{}{unit}", left / size));
            left %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn intervals_parse_with_units_and_print_back() {
        assert_eq!(parse_interval("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_interval(" 15m ").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_interval("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_interval("2d").unwrap(), Duration::from_secs(172_800));
        for bad in [
            "",
            "15",
            "m",
            "1x",
            "-5m",
            "1.5h",
            "0m",
            "99999999999999999999d",
        ] {
            assert!(parse_interval(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(format_interval(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_interval(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_interval(Duration::from_secs(86_400)), "1d");
        let long = Cadence::every("400d").unwrap_err();
        assert_eq!(long.field, "every");
    }

    #[test]
    fn an_interval_keeps_its_phase_and_collapses_missed_slots_into_one() {
        let every = Cadence::every("1m").unwrap();
        let due = at("2026-12-06T10:00:00Z");
        // Taken on time: the next slot is one interval later.
        assert_eq!(
            every.following(due, at("2026-12-06T10:00:00.400Z")),
            Some(at("2026-12-06T10:01:00Z"))
        );
        // Taken after five minutes down: one run now, the next slot is the
        // first whole minute after now, not 10:01.
        assert_eq!(
            every.following(due, at("2026-12-06T10:05:30Z")),
            Some(at("2026-12-06T10:06:00Z"))
        );
        // Exactly on a later slot: that slot counts as taken too.
        assert_eq!(
            every.following(due, at("2026-12-06T10:03:00Z")),
            Some(at("2026-12-06T10:04:00Z"))
        );
        assert_eq!(every.first_after(due), Some(at("2026-12-06T10:01:00Z")));
    }

    #[test]
    fn cron_reads_its_time_zone_across_a_daylight_saving_change() {
        let paris = Cadence::cron("0 6 * * *", "Europe/Paris").unwrap();
        // 06:00 in Paris is 05:00 UTC in winter...
        assert_eq!(
            paris.first_after(at("2026-12-06T12:00:00Z")),
            Some(at("2026-12-07T05:00:00Z"))
        );
        // ...and 04:00 UTC in summer (after 29 March 2026).
        assert_eq!(
            paris.first_after(at("2026-03-29T12:00:00Z")),
            Some(at("2026-03-30T04:00:00Z"))
        );
        // Missed slots collapse: taken three days late, next is tomorrow's.
        let due = at("2026-12-03T05:00:00Z");
        assert_eq!(
            paris.following(due, at("2026-12-06T09:00:00Z")),
            Some(at("2026-12-07T05:00:00Z"))
        );
        assert_eq!(paris.describe(), "0 6 * * * (Europe/Paris)");
        assert_eq!(paris.time_zone(), Tz::Europe__Paris);
        let weekdays = Cadence::cron("*/15 9-17 * * MON-FRI", "").unwrap();
        // Saturday 12:00 UTC → Monday 09:00 UTC.
        assert_eq!(
            weekdays.first_after(Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap()),
            Some(at("2026-12-07T09:00:00Z"))
        );
        assert_eq!(
            weekdays.shortest_gap(at("2026-12-07T09:00:00Z")),
            Some(Duration::from_secs(900))
        );
    }

    #[test]
    fn bad_cron_fields_are_each_named() {
        let errors = Cadence::cron("0 6 * *", "Mars/Olympus").unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["cron", "time_zone"]);
        assert!(errors[0].message.contains("five fields"), "{errors:?}");
        assert!(errors[1].message.contains("Mars/Olympus"), "{errors:?}");
        let errors = Cadence::cron("61 * * * *", "UTC").unwrap_err();
        assert_eq!(errors[0].field, "cron");
        let errors = Cadence::cron("* * * * * *", "UTC").unwrap_err();
        assert!(errors[0].message.contains("five fields"), "{errors:?}");
        let errors = Cadence::cron("0 0 31 2 *", "UTC").unwrap_err();
        assert!(errors[0].message.contains("never"), "{errors:?}");
        assert_eq!(Cadence::cron("", "").unwrap_err()[0].field, "cron");
    }

    #[test]
    fn a_stored_cadence_reads_back() {
        let every = Cadence::from_stored(Some(900), None, "UTC").unwrap();
        assert_eq!(every, Cadence::Every(Duration::from_secs(900)));
        let cron = Cadence::from_stored(None, Some("0 6 * * *"), "Asia/Tokyo").unwrap();
        assert_eq!(cron.cron_expression(), Some("0 6 * * *"));
        assert_eq!(cron.every_seconds(), None);
        assert!(Cadence::from_stored(Some(60), Some("* * * * *"), "UTC").is_err());
        assert!(Cadence::from_stored(None, None, "UTC").is_err());
    }
}
