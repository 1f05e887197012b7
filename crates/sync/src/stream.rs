//! The streams a sync can read, the scopes each needs, and the record shape
//! every destination receives.

use std::fmt;
use std::str::FromStr;

use pinion_domain::{Scope, ScopeSet};
use pinion_pinterest::RawJson;
use serde_json::{Map, Value};

/// One kind of record read from Pinterest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamName {
    /// The token's user account (one record).
    UserAccount,
    /// The user's boards.
    Boards,
    /// The sections of every board.
    BoardSections,
    /// The pins of every board (including those in sections).
    BoardPins,
    /// The pins of every board section.
    BoardSectionPins,
    /// The user's own pins.
    Pins,
    /// The ad accounts the user can see.
    AdAccounts,
    /// Daily analytics of every ad account.
    AdAccountAnalytics,
    /// A GET operation of the spec chosen by the user (see
    /// [`crate::custom`]); never part of [`StreamName::ALL`].
    Custom,
}

impl StreamName {
    /// Every stream, in the order a run reads them.
    pub const ALL: [StreamName; 8] = [
        StreamName::UserAccount,
        StreamName::Boards,
        StreamName::BoardSections,
        StreamName::BoardPins,
        StreamName::BoardSectionPins,
        StreamName::Pins,
        StreamName::AdAccounts,
        StreamName::AdAccountAnalytics,
    ];

    /// The name used on the command line, in file names and table names.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamName::UserAccount => "user_account",
            StreamName::Boards => "boards",
            StreamName::BoardSections => "board_sections",
            StreamName::BoardPins => "board_pins",
            StreamName::BoardSectionPins => "board_section_pins",
            StreamName::Pins => "pins",
            StreamName::AdAccounts => "ad_accounts",
            StreamName::AdAccountAnalytics => "ad_account_analytics",
            StreamName::Custom => "custom",
        }
    }

    /// The scopes without which the stream cannot be read at all.
    pub fn required_scopes(self) -> &'static [Scope] {
        match self {
            StreamName::UserAccount => &[Scope::UserAccountsRead],
            StreamName::Boards | StreamName::BoardSections => &[Scope::BoardsRead],
            StreamName::BoardPins | StreamName::BoardSectionPins | StreamName::Pins => {
                &[Scope::BoardsRead, Scope::PinsRead]
            }
            StreamName::AdAccounts | StreamName::AdAccountAnalytics => &[Scope::AdsRead],
            // The operation's own scopes are checked by its plan.
            StreamName::Custom => &[],
        }
    }

    /// The required scopes missing from `granted`, comma-separated, or
    /// `None` when all are granted.
    pub fn missing_scopes(self, granted: &ScopeSet) -> Option<String> {
        let missing: Vec<&str> = self
            .required_scopes()
            .iter()
            .filter(|s| !granted.contains(**s))
            .map(|s| s.as_str())
            .collect();
        (!missing.is_empty()).then(|| missing.join(","))
    }

    /// True for streams read once per board.
    pub fn per_board(self) -> bool {
        matches!(
            self,
            StreamName::BoardSections | StreamName::BoardPins | StreamName::BoardSectionPins
        )
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stream name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown stream `{0}`; streams are user_account, boards, board_sections, board_pins, board_section_pins, pins, ad_accounts, ad_account_analytics (and custom, with --custom)"
)]
pub struct UnknownStream(pub String);

impl FromStr for StreamName {
    type Err = UnknownStream;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StreamName::ALL
            .into_iter()
            .chain([StreamName::Custom])
            .find(|n| n.as_str() == s.trim())
            .ok_or_else(|| UnknownStream(s.trim().to_owned()))
    }
}

/// One record on its way to a destination: its primary key and the object
/// exactly as Pinterest sent it (plus, for board sections, the `board_id`
/// of the parent when Pinterest did not send one).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRecord {
    /// The primary key: Pinterest's `id`, or `AD_ACCOUNT_ID:DATE` for
    /// analytics rows.
    pub key: String,
    /// The object's JSON text as received, on one line: destinations write
    /// these bytes, so the record is lossless.
    pub raw: RawJson,
}

impl SyncRecord {
    /// A record from a parsed object (records that were not kept as bytes:
    /// the user account, sections, analytics rows, custom streams).
    pub fn from_object(key: impl Into<String>, object: Map<String, Value>) -> Self {
        Self {
            key: key.into(),
            raw: RawJson::from_value(&Value::Object(object)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_name_parses_back() {
        for stream in StreamName::ALL {
            assert_eq!(stream.as_str().parse::<StreamName>(), Ok(stream));
        }
        assert!("board".parse::<StreamName>().is_err());
    }

    #[test]
    fn missing_scopes_lists_only_what_is_not_granted() {
        let granted = ScopeSet::parse("boards:read,user_accounts:read").unwrap();
        assert_eq!(StreamName::Boards.missing_scopes(&granted), None);
        assert_eq!(
            StreamName::BoardPins.missing_scopes(&granted).as_deref(),
            Some("pins:read")
        );
        assert_eq!(
            StreamName::AdAccountAnalytics
                .missing_scopes(&granted)
                .as_deref(),
            Some("ads:read")
        );
    }
}
