//! Ad-account analytics (`ad_account/analytics`): the query, validated
//! against Pinterest's window rules before any request, and the rows.
//!
//! Rules (spec parameter descriptions, FACTS.md §4.4): `start_date` at most
//! 90 days before today (UTC), `end_date` at most 90 days after
//! `start_date`, start not after end, and with `HOUR` granularity the start
//! at most 8 days back. `columns` go as one comma-separated value.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Record, object, str_of};
use crate::id::AdAccountId;

/// How far back `start_date` may be, in days.
pub const MAX_DAYS_BACK: u64 = 90;
/// The longest range, in days from start to end.
pub const MAX_RANGE_DAYS: u64 = 90;
/// How far back `start_date` may be with `HOUR` granularity, in days.
pub const MAX_HOURLY_DAYS_BACK: u64 = 8;
/// The attribution windows Pinterest accepts, in days.
pub const WINDOW_DAYS: &[u8] = &[0, 1, 7, 14, 30, 60];

/// How metrics are broken down over the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// One row for the whole range.
    Total,
    /// One row per day.
    Day,
    /// One row per hour (start at most 8 days back).
    Hour,
    /// One row per week.
    Week,
    /// One row per month.
    Month,
}

impl Granularity {
    /// The value as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Total => "TOTAL",
            Granularity::Day => "DAY",
            Granularity::Hour => "HOUR",
            Granularity::Week => "WEEK",
            Granularity::Month => "MONTH",
        }
    }
}

/// Which date conversions are reported on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversionReportTime {
    /// The date of the ad action (Pinterest's default).
    TimeOfAdAction,
    /// The date of the conversion.
    TimeOfConversion,
}

impl ConversionReportTime {
    /// The value as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversionReportTime::TimeOfAdAction => "TIME_OF_AD_ACTION",
            ConversionReportTime::TimeOfConversion => "TIME_OF_CONVERSION",
        }
    }
}

/// The query of `ad_account/analytics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsQuery {
    /// First day, UTC.
    pub start_date: NaiveDate,
    /// Last day, UTC.
    pub end_date: NaiveDate,
    /// Metric names, e.g. `SPEND_IN_DOLLAR`, `TOTAL_CLICKTHROUGH`.
    pub columns: Vec<String>,
    /// How rows are broken down.
    pub granularity: Granularity,
    /// Click attribution window in days (one of [`WINDOW_DAYS`]).
    pub click_window_days: Option<u8>,
    /// Engagement attribution window in days (one of [`WINDOW_DAYS`]).
    pub engagement_window_days: Option<u8>,
    /// View attribution window in days (one of [`WINDOW_DAYS`]).
    pub view_window_days: Option<u8>,
    /// Which date conversions are reported on.
    pub conversion_report_time: Option<ConversionReportTime>,
    /// Reporting time zone (beta on Pinterest's side).
    pub reporting_timezone: Option<String>,
}

impl AnalyticsQuery {
    /// Daily rows of `columns` from `start_date` to `end_date`.
    pub fn daily(start_date: NaiveDate, end_date: NaiveDate, columns: Vec<String>) -> Self {
        Self {
            start_date,
            end_date,
            columns,
            granularity: Granularity::Day,
            click_window_days: None,
            engagement_window_days: None,
            view_window_days: None,
            conversion_report_time: None,
            reporting_timezone: None,
        }
    }

    /// The earliest `start_date` Pinterest accepts today with `granularity`.
    pub fn earliest_start(today: NaiveDate, granularity: Granularity) -> NaiveDate {
        let back = if granularity == Granularity::Hour {
            MAX_HOURLY_DAYS_BACK
        } else {
            MAX_DAYS_BACK
        };
        today
            .checked_sub_days(Days::new(back))
            .unwrap_or(NaiveDate::MIN)
    }

    /// Checks the query against Pinterest's rules, `today` being the UTC date.
    pub fn validate(&self, today: NaiveDate) -> Result<(), String> {
        if self.columns.is_empty() {
            return Err("at least one column is required".into());
        }
        for column in &self.columns {
            let ok = !column.is_empty()
                && column
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                let shown: String = column.chars().take(40).collect();
                return Err(format!(
                    "column \"{}\" is not a metric name (upper-case letters, digits and `_`)",
                    shown.escape_debug()
                ));
            }
        }
        if self.start_date > self.end_date {
            return Err(format!(
                "start_date {} is after end_date {}",
                self.start_date, self.end_date
            ));
        }
        let earliest = Self::earliest_start(today, self.granularity);
        if self.start_date < earliest {
            let back = if self.granularity == Granularity::Hour {
                MAX_HOURLY_DAYS_BACK
            } else {
                MAX_DAYS_BACK
            };
            return Err(format!(
                "start_date {} is more than {back} days before today ({today}); the earliest allowed{} is {earliest}",
                self.start_date,
                if self.granularity == Granularity::Hour {
                    " with HOUR granularity"
                } else {
                    ""
                },
            ));
        }
        let span = (self.end_date - self.start_date).num_days();
        if span > MAX_RANGE_DAYS as i64 {
            return Err(format!(
                "end_date {} is {span} days after start_date {}; the range may be at most {MAX_RANGE_DAYS} days",
                self.end_date, self.start_date
            ));
        }
        for (name, value) in [
            ("click_window_days", self.click_window_days),
            ("engagement_window_days", self.engagement_window_days),
            ("view_window_days", self.view_window_days),
        ] {
            if let Some(days) = value.filter(|d| !WINDOW_DAYS.contains(d)) {
                return Err(format!(
                    "{name} must be one of 0, 1, 7, 14, 30, 60, got {days}"
                ));
            }
        }
        Ok(())
    }

    /// The query parameters, in the spec's order.
    pub(crate) fn to_query(&self) -> Vec<(String, String)> {
        let mut query = vec![
            (
                "start_date".to_owned(),
                self.start_date.format("%Y-%m-%d").to_string(),
            ),
            (
                "end_date".to_owned(),
                self.end_date.format("%Y-%m-%d").to_string(),
            ),
            ("columns".to_owned(), self.columns.join(",")),
            (
                "granularity".to_owned(),
                self.granularity.as_str().to_owned(),
            ),
        ];
        for (name, value) in [
            ("click_window_days", self.click_window_days),
            ("engagement_window_days", self.engagement_window_days),
            ("view_window_days", self.view_window_days),
        ] {
            if let Some(days) = value {
                query.push((name.to_owned(), days.to_string()));
            }
        }
        if let Some(time) = self.conversion_report_time {
            query.push((
                "conversion_report_time".to_owned(),
                time.as_str().to_owned(),
            ));
        }
        if let Some(zone) = &self.reporting_timezone {
            query.push(("reporting_timezone".to_owned(), zone.clone()));
        }
        query
    }
}

/// One row of analytics: `AD_ACCOUNT_ID`, `DATE` (for time granularities)
/// and one field per requested column, kept exactly as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticsRow {
    ad_account_id: AdAccountId,
    raw: Map<String, Value>,
}

impl AnalyticsRow {
    /// Checks `AD_ACCOUNT_ID` and wraps the object.
    pub fn from_object(raw: Map<String, Value>) -> Result<Self, String> {
        let ad_account_id =
            super::required_id(&raw, "AD_ACCOUNT_ID", |s: String| AdAccountId::new(s))?;
        Ok(Self { ad_account_id, raw })
    }

    /// The ad account.
    pub fn ad_account_id(&self) -> &AdAccountId {
        &self.ad_account_id
    }

    /// The day (or first day of the week or month); `None` for `TOTAL`.
    pub fn date(&self) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(str_of(&self.raw, "DATE")?, "%Y-%m-%d").ok()
    }

    /// `DATE` exactly as sent (hourly rows may carry a time).
    pub fn date_raw(&self) -> Option<&str> {
        str_of(&self.raw, "DATE")
    }

    /// A metric's value; absent when Pinterest had none for it.
    pub fn metric(&self, column: &str) -> Option<&Value> {
        self.raw.get(column)
    }

    /// The row exactly as Pinterest sent it.
    pub fn as_json(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// The row exactly as Pinterest sent it.
    pub fn into_json(self) -> Map<String, Value> {
        self.raw
    }
}

impl Record for AnalyticsRow {
    fn from_json(value: Value) -> Result<Self, (Value, String)> {
        let raw = object(value, "analytics row")?;
        match super::required_id(&raw, "AD_ACCOUNT_ID", |s: String| AdAccountId::new(s)) {
            Ok(ad_account_id) => Ok(Self { ad_account_id, raw }),
            Err(reason) => Err((Value::Object(raw), format!("analytics row: {reason}"))),
        }
    }
}

impl Serialize for AnalyticsRow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AnalyticsRow {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_object(Map::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn query(start: &str, end: &str) -> AnalyticsQuery {
        AnalyticsQuery::daily(date(start), date(end), vec!["SPEND_IN_DOLLAR".into()])
    }

    #[test]
    fn a_90_day_window_ending_today_is_valid() {
        let today = date("2026-03-31");
        assert_eq!(query("2025-12-31", "2026-03-31").validate(today), Ok(()));
    }

    #[test]
    fn start_more_than_90_days_back_is_refused_with_the_earliest_date() {
        let err = query("2025-12-30", "2026-01-10")
            .validate(date("2026-03-31"))
            .unwrap_err();
        assert!(
            err.contains("more than 90 days") && err.contains("2025-12-31"),
            "{err}"
        );
    }

    #[test]
    fn ranges_over_90_days_and_reversed_ranges_are_refused() {
        let today = date("2026-03-31");
        let err = query("2026-01-01", "2026-04-02")
            .validate(today)
            .unwrap_err();
        assert!(err.contains("at most 90 days"), "{err}");
        let err = query("2026-03-10", "2026-03-01")
            .validate(today)
            .unwrap_err();
        assert!(err.contains("after end_date"), "{err}");
    }

    #[test]
    fn hourly_queries_reach_back_8_days_only() {
        let today = date("2026-03-31");
        let mut q = query("2026-03-22", "2026-03-31");
        q.granularity = Granularity::Hour;
        assert!(q.validate(today).unwrap_err().contains("HOUR"));
        q.start_date = date("2026-03-23");
        assert_eq!(q.validate(today), Ok(()));
    }

    #[test]
    fn columns_and_windows_are_checked() {
        let today = date("2026-03-31");
        let mut q = query("2026-03-01", "2026-03-02");
        q.columns = vec![];
        assert!(q.validate(today).is_err());
        q.columns = vec!["SPEND&x=1".into()];
        assert!(q.validate(today).is_err());
        q.columns = vec!["SPEND_IN_DOLLAR".into(), "TOTAL_CLICKTHROUGH".into()];
        q.click_window_days = Some(3);
        assert!(q.validate(today).unwrap_err().contains("click_window_days"));
        q.click_window_days = Some(7);
        assert_eq!(q.validate(today), Ok(()));
        let pairs = q.to_query();
        assert!(pairs.contains(&(
            "columns".into(),
            "SPEND_IN_DOLLAR,TOTAL_CLICKTHROUGH".into()
        )));
        assert!(pairs.contains(&("granularity".into(), "DAY".into())));
    }

    #[test]
    fn rows_keep_every_metric() {
        let row: AnalyticsRow = serde_json::from_str(
            r#"{"DATE":"2021-04-01","AD_ACCOUNT_ID":"547602124502","SPEND_IN_DOLLAR":30,"TOTAL_CLICKTHROUGH":216}"#,
        )
        .unwrap();
        assert_eq!(row.date(), Some(date("2021-04-01")));
        assert_eq!(row.metric("TOTAL_CLICKTHROUGH"), Some(&Value::from(216)));
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"{"DATE":"2021-04-01","AD_ACCOUNT_ID":"547602124502","SPEND_IN_DOLLAR":30,"TOTAL_CLICKTHROUGH":216}"#
        );
    }
}
