//! Pinterest's objects as this client reads and writes them.
//!
//! Records that Pinterest returns keep the JSON object exactly as received
//! (every field, including ones this crate does not know, in the order
//! received), so writing a record back out is lossless. On top of that, each
//! model has a typed view: the fields the spec marks required are checked at
//! parse time (e.g. a board's `id` is a digit string) and held as typed
//! values; every other common field has an accessor that returns `None` when
//! the field is absent, null or of an unexpected type, so a change on
//! Pinterest's side never makes a record unreadable. Request bodies for
//! writes are plain structs with an `extra` map for fields not modelled.

mod account;
mod ad_account;
mod analytics;
mod board;
mod pin;
mod raw;
mod section;
mod write;

pub use account::Account;
pub use ad_account::AdAccount;
pub use analytics::{AnalyticsQuery, AnalyticsRow, ConversionReportTime, Granularity, WINDOW_DAYS};
pub use board::{Board, BoardPrivacy, BoardPrivacyFilter};
pub use pin::Pin;
pub use raw::{RawJson, RawRecord, Scalar};
pub use section::BoardSection;
pub use write::{
    ALT_TEXT_MAX_CHARS, BoardCreate, BoardSectionCreate, BoardUpdate, DESCRIPTION_MAX_CHARS,
    LINK_MAX_CHARS, MediaSource, PinCreate, PinUpdate, SECTION_NAME_MAX_CHARS, TITLE_MAX_CHARS,
};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

/// Something a page's `items` can be turned into.
pub trait Record: Sized + Send + 'static {
    /// True when the record keeps the item's bytes ([`RawRecord`]): the
    /// pager then reads a page into byte spans instead of JSON values.
    const KEEPS_BYTES: bool = false;

    /// Checks and wraps one item; on failure gives the item back with the
    /// reason.
    fn from_json(value: Value) -> Result<Self, (Value, String)>;

    /// Checks and wraps one item given as JSON text; on failure gives the
    /// item back with the reason.
    fn from_raw(raw: RawJson) -> Result<Self, (RawJson, String)> {
        match raw.to_value() {
            Ok(value) => Self::from_json(value).map_err(|(_, reason)| (raw, reason)),
            Err(e) => Err((raw, e.to_string())),
        }
    }
}

impl Record for Value {
    fn from_json(value: Value) -> Result<Self, (Value, String)> {
        Ok(value)
    }
}

/// The object behind a record, or the reason it is not one.
pub(crate) fn object(value: Value, what: &str) -> Result<Map<String, Value>, (Value, String)> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err((other, format!("{what} is not a JSON object"))),
    }
}

/// Reads a required digit id field with `parse`, or explains what is wrong.
pub(crate) fn required_id<T, E: std::fmt::Display>(
    raw: &Map<String, Value>,
    key: &str,
    parse: impl FnOnce(String) -> Result<T, E>,
) -> Result<T, String> {
    match raw.get(key) {
        Some(Value::String(text)) => parse(text.clone()).map_err(|e| format!("`{key}`: {e}")),
        Some(Value::Number(n)) => parse(n.to_string()).map_err(|e| format!("`{key}`: {e}")),
        Some(_) => Err(format!("`{key}` is not a string")),
        None => Err(format!("`{key}` is missing")),
    }
}

pub(crate) fn str_of<'a>(raw: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    raw.get(key)?.as_str()
}

pub(crate) fn u64_of(raw: &Map<String, Value>, key: &str) -> Option<u64> {
    raw.get(key)?.as_u64()
}

pub(crate) fn i64_of(raw: &Map<String, Value>, key: &str) -> Option<i64> {
    raw.get(key)?.as_i64()
}

pub(crate) fn bool_of(raw: &Map<String, Value>, key: &str) -> Option<bool> {
    raw.get(key)?.as_bool()
}

/// A date-time field: RFC 3339, or without an offset (read as UTC).
pub(crate) fn datetime_of(raw: &Map<String, Value>, key: &str) -> Option<DateTime<Utc>> {
    let text = str_of(raw, key)?;
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
}

/// Defines a record type backed by its JSON object, with one typed required id.
macro_rules! id_record {
    ($(#[$meta:meta])* $name:ident, $id_ty:ty, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            id: $id_ty,
            raw: serde_json::Map<String, serde_json::Value>,
        }

        impl $name {
            /// Checks the object's required fields and wraps it.
            pub fn from_object(raw: serde_json::Map<String, serde_json::Value>) -> Result<Self, String> {
                let id = $crate::models::required_id(&raw, "id", |s: String| <$id_ty>::new(s))?;
                Ok(Self { id, raw })
            }

            /// The `id`.
            pub fn id(&self) -> &$id_ty {
                &self.id
            }

            /// The object exactly as Pinterest sent it.
            pub fn as_json(&self) -> &serde_json::Map<String, serde_json::Value> {
                &self.raw
            }

            /// The object exactly as Pinterest sent it.
            pub fn into_json(self) -> serde_json::Map<String, serde_json::Value> {
                self.raw
            }
        }

        impl $crate::models::Record for $name {
            fn from_json(value: serde_json::Value) -> Result<Self, (serde_json::Value, String)> {
                let raw = $crate::models::object(value, $what)?;
                match $crate::models::required_id(&raw, "id", |s: String| <$id_ty>::new(s)) {
                    Ok(id) => Ok(Self { id, raw }),
                    Err(reason) => Err((serde_json::Value::Object(raw), format!("{}: {reason}", $what))),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.raw.serialize(serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = serde_json::Map::deserialize(deserializer)?;
                Self::from_object(raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use id_record;

#[cfg(test)]
mod tests {
    //! The models against examples built from the spec's own schemas.

    use super::*;
    use crate::testing::{example, spec};

    fn spec_example(schema: &str) -> Value {
        let spec = spec();
        let value = example(spec, &spec["components"]["schemas"][schema]);
        assert!(value.is_object(), "{schema}: {value}");
        value
    }

    fn round_trips<T: Record + serde::Serialize>(value: &Value) -> T {
        let record =
            T::from_json(value.clone()).unwrap_or_else(|(_, reason)| panic!("{reason}: {value}"));
        assert_eq!(&serde_json::to_value(&record).unwrap(), value);
        assert_eq!(
            serde_json::to_string(&record).unwrap(),
            serde_json::to_string(value).unwrap()
        );
        record
    }

    #[test]
    fn account_reads_the_spec_example() {
        let value = spec_example("Account");
        let account: Account = round_trips(&value);
        assert_eq!(account.id(), Some("2783136121146311751"));
        assert_eq!(account.board_count(), value["board_count"].as_i64());
        assert_eq!(account.account_type(), value["account_type"].as_str());
        assert_eq!(account.monthly_views(), value["monthly_views"].as_i64());
    }

    #[test]
    fn board_reads_the_spec_example() {
        let value = spec_example("Board");
        let board: Board = round_trips(&value);
        assert_eq!(board.id().as_str(), value["id"].as_str().unwrap());
        assert_eq!(board.name(), value["name"].as_str());
        assert_eq!(board.privacy(), value["privacy"].as_str());
        assert_eq!(board.owner_username(), value["owner"]["username"].as_str());
        assert!(board.created_at().is_some(), "{}", value["created_at"]);
        assert!(
            board.board_pins_modified_at().is_some(),
            "{}",
            value["board_pins_modified_at"]
        );
        assert_eq!(board.pin_count(), value["pin_count"].as_u64());
    }

    #[test]
    fn pin_reads_the_spec_example() {
        let value = spec_example("Pin");
        let pin: Pin = round_trips(&value);
        assert_eq!(pin.id().as_str(), value["id"].as_str().unwrap());
        assert_eq!(
            pin.board_id().map(|b| b.to_string()).as_deref(),
            value["board_id"].as_str()
        );
        assert_eq!(pin.title(), value["title"].as_str());
        assert_eq!(pin.link(), value["link"].as_str());
        assert_eq!(pin.creative_type(), value["creative_type"].as_str());
        assert_eq!(pin.media_type(), value["media"]["media_type"].as_str());
        assert!(pin.created_at().is_some(), "{}", value["created_at"]);
    }

    #[test]
    fn board_section_and_ad_account_read_the_spec_examples() {
        let value = spec_example("BoardSection");
        let section: BoardSection = round_trips(&value);
        assert_eq!(section.id().as_str(), "549755885175");
        assert_eq!(section.name(), Some("Salads"));
        let value = spec_example("AdAccount");
        let account: AdAccount = round_trips(&value);
        assert_eq!(account.id().as_str(), value["id"].as_str().unwrap());
        assert_eq!(account.currency(), value["currency"].as_str());
        assert_eq!(account.country(), value["country"].as_str());
    }

    #[test]
    fn analytics_row_reads_the_spec_example() {
        let spec = spec();
        let schema = &spec["components"]["schemas"]["AdAccountAnalyticsResponse"]["items"];
        let value = example(spec, schema);
        let row: AnalyticsRow = round_trips(&value);
        assert_eq!(row.ad_account_id().as_str(), "547602124502");
        assert_eq!(row.metric("SPEND_IN_DOLLAR"), Some(&Value::from(30)));
    }

    #[test]
    fn list_envelopes_of_the_spec_parse_as_pages() {
        let spec = spec();
        let op = &spec["paths"]["/boards"]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"];
        let body = serde_json::to_vec(&example(spec, op)).unwrap();
        let page = crate::pager::parse_page::<Board>(&body).unwrap();
        assert_eq!(page.items.len() + page.invalid.len(), 1);
    }
}
