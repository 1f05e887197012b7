//! Boards (`Board` in the spec) and the privacy values of board requests.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{bool_of, datetime_of, id_record, str_of, u64_of};
use crate::id::BoardId;

id_record!(
    /// A board as `boards/list` and `boards/get` return it.
    Board,
    BoardId,
    "board"
);

impl Board {
    /// The board's name (required by the spec, but read leniently).
    pub fn name(&self) -> Option<&str> {
        str_of(&self.raw, "name")
    }

    /// The description.
    pub fn description(&self) -> Option<&str> {
        str_of(&self.raw, "description")
    }

    /// `PUBLIC`, `PROTECTED` or `SECRET` (or a value added later).
    pub fn privacy(&self) -> Option<&str> {
        str_of(&self.raw, "privacy")
    }

    /// The owner's username (`owner.username`).
    pub fn owner_username(&self) -> Option<&str> {
        self.raw.get("owner")?.get("username")?.as_str()
    }

    /// When the board was created.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        datetime_of(&self.raw, "created_at")
    }

    /// When a pin was last added, changed or removed; incremental syncs
    /// compare it with the last run.
    pub fn board_pins_modified_at(&self) -> Option<DateTime<Utc>> {
        datetime_of(&self.raw, "board_pins_modified_at")
    }

    /// `board_pins_modified_at` exactly as sent, for comparing without
    /// reformatting.
    pub fn board_pins_modified_at_raw(&self) -> Option<&str> {
        str_of(&self.raw, "board_pins_modified_at")
    }

    /// Number of pins.
    pub fn pin_count(&self) -> Option<u64> {
        u64_of(&self.raw, "pin_count")
    }

    /// Number of followers.
    pub fn follower_count(&self) -> Option<u64> {
        u64_of(&self.raw, "follower_count")
    }

    /// Number of collaborators.
    pub fn collaborator_count(&self) -> Option<u64> {
        u64_of(&self.raw, "collaborator_count")
    }

    /// True for an ads-only board.
    pub fn is_ads_only(&self) -> Option<bool> {
        bool_of(&self.raw, "is_ads_only")
    }
}

/// A board's privacy, for creating or updating a board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BoardPrivacy {
    /// Visible to everyone.
    Public,
    /// Ads-only boards become protected.
    Protected,
    /// Visible to the owner and collaborators (needs `boards:write_secret`).
    Secret,
}

/// The `privacy` filter of `boards/list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoardPrivacyFilter {
    /// Every board.
    All,
    /// Public boards.
    Public,
    /// Protected boards.
    Protected,
    /// Secret boards.
    Secret,
    /// Public and secret boards.
    PublicAndSecret,
}

impl BoardPrivacyFilter {
    /// The value as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            BoardPrivacyFilter::All => "ALL",
            BoardPrivacyFilter::Public => "PUBLIC",
            BoardPrivacyFilter::Protected => "PROTECTED",
            BoardPrivacyFilter::Secret => "SECRET",
            BoardPrivacyFilter::PublicAndSecret => "PUBLIC_AND_SECRET",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Record;
    use serde_json::json;

    #[test]
    fn board_round_trip_keeps_unknown_fields_nulls_and_order() {
        let text = r#"{"zeta":1,"id":"549755885175","name":"Summer","description":null,"privacy":"SECRET","media":{"image_cover_url":null,"pin_thumbnail_urls":[]},"new_field":{"a":[1,2]}}"#;
        let board: Board = serde_json::from_str(text).unwrap();
        assert_eq!(board.id().as_str(), "549755885175");
        assert_eq!(board.name(), Some("Summer"));
        assert_eq!(board.description(), None);
        assert_eq!(board.privacy(), Some("SECRET"));
        assert_eq!(serde_json::to_string(&board).unwrap(), text);
    }

    #[test]
    fn board_accessors_tolerate_odd_types() {
        let board = Board::from_json(json!({"id":"1","pin_count":"many","created_at":"yesterday"}))
            .unwrap();
        assert_eq!(board.pin_count(), None);
        assert_eq!(board.created_at(), None);
        assert_eq!(board.name(), None);
    }

    #[test]
    fn board_dates_parse_with_and_without_offset() {
        let board = Board::from_json(json!({
            "id":"1","created_at":"2020-01-01T20:10:40-00:00","board_pins_modified_at":"2022-06-09T21:01:53.123"
        }))
        .unwrap();
        assert_eq!(
            board.created_at().unwrap().to_rfc3339(),
            "2020-01-01T20:10:40+00:00"
        );
        assert_eq!(
            board.board_pins_modified_at().unwrap().timestamp(),
            1_654_808_513
        );
    }

    #[test]
    fn a_board_without_a_digit_id_is_refused_with_its_raw_value() {
        let (raw, reason) = Board::from_json(json!({"id":"../1","name":"x"})).unwrap_err();
        assert_eq!(raw["name"], "x");
        assert!(reason.contains("board id"), "{reason}");
        assert!(serde_json::from_str::<Board>(r#"{"name":"x"}"#).is_err());
    }
}
