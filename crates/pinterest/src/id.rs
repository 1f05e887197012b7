//! Pinterest object ids and the pagination bookmark.
//!
//! Every id Pinterest puts in a URL path is a string of ASCII digits (the spec's
//! `^\d+$` pattern; ad account ids have at most 18 digits). The newtypes here
//! check that once, at construction, so a path built from them can never carry
//! a `/`, a `..` or a query string. A [`Bookmark`] is Pinterest's opaque cursor:
//! it only ever travels as a percent-encoded query value.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An id that is not a non-empty string of ASCII digits (or is too long).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: expected 1 to {max_len} ASCII digits, got {shown}")]
pub struct InvalidId {
    /// What kind of id was expected, e.g. `board id`.
    pub kind: &'static str,
    /// The longest valid id of this kind.
    pub max_len: usize,
    /// The rejected input, shortened and escaped for display.
    pub shown: String,
}

/// Longest id we accept where the spec gives no bound; Pinterest ids are
/// 64-bit numbers, so 20 digits is enough and 32 leaves room.
const MAX_ID_DIGITS: usize = 32;

fn check_digits(kind: &'static str, max_len: usize, value: &str) -> Result<(), InvalidId> {
    let ok =
        !value.is_empty() && value.len() <= max_len && value.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        let mut shown: String = value
            .chars()
            .take(40)
            .collect::<String>()
            .escape_debug()
            .to_string();
        if value.chars().count() > 40 {
            shown.push('…');
        }
        Err(InvalidId {
            kind,
            max_len,
            shown: format!("\"{shown}\""),
        })
    }
}

macro_rules! digit_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal, $max:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Checks that `value` is a valid id of this kind.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                check_digits($kind, $max, &value)?;
                Ok(Self(value))
            }

            /// The id as Pinterest spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::new(value).map_err(serde::de::Error::custom)
            }
        }
    };
}

digit_id!(
    /// The id of a board (`boards/{board_id}`).
    BoardId, "board id", MAX_ID_DIGITS
);
digit_id!(
    /// The id of a board section (`sections/{section_id}`).
    SectionId, "board section id", MAX_ID_DIGITS
);
digit_id!(
    /// The id of a pin (`pins/{pin_id}`).
    PinId, "pin id", MAX_ID_DIGITS
);
digit_id!(
    /// The id of an ad account, at most 18 digits (`ad_accounts/{ad_account_id}`).
    AdAccountId, "ad account id", 18
);

/// An id that keys a kind of record (see [`crate::models::RawRecord`]).
pub trait RecordId: Sized + Clone + PartialEq + fmt::Debug + Send + Sync + 'static {
    /// The kind of record, for messages: `pin`, `board`…
    const RECORD: &'static str;

    /// Checks `value`.
    fn parse(value: String) -> Result<Self, InvalidId>;

    /// The id as Pinterest spells it.
    fn as_str(&self) -> &str;
}

macro_rules! record_id {
    ($name:ident, $record:literal) => {
        impl RecordId for $name {
            const RECORD: &'static str = $record;

            fn parse(value: String) -> Result<Self, InvalidId> {
                Self::new(value)
            }

            fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

record_id!(BoardId, "board");
record_id!(SectionId, "board section");
record_id!(PinId, "pin");
record_id!(AdAccountId, "ad account");

/// Pinterest's opaque pagination cursor.
///
/// It is not a secret, but it is only ever sent as a query value (which
/// `url` percent-encodes), never spliced into a path.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bookmark(String);

impl Bookmark {
    /// Wraps a bookmark returned by Pinterest or saved in a checkpoint.
    ///
    /// An empty string is not a bookmark (it would restart the list), so it
    /// gives `None`.
    pub fn new(value: impl Into<String>) -> Option<Self> {
        let value = value.into();
        (!value.is_empty()).then_some(Self(value))
    }

    /// The cursor as Pinterest sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Bookmark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bookmark({:?})", self.0)
    }
}

impl fmt::Display for Bookmark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_digit_strings_only() {
        assert_eq!(
            BoardId::new("549755885175").unwrap().as_str(),
            "549755885175"
        );
        for bad in ["", "12a", "../1", "1/2", "1?x=2", " 1", "１２", "1%2F"] {
            assert!(BoardId::new(bad).is_err(), "{bad:?} was accepted");
            assert!(PinId::new(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn ad_account_ids_have_at_most_18_digits() {
        assert!(AdAccountId::new("1".repeat(18)).is_ok());
        let err = AdAccountId::new("1".repeat(19)).unwrap_err();
        assert_eq!(err.max_len, 18);
        assert!(err.to_string().contains("ad account id"), "{err}");
    }

    #[test]
    fn invalid_id_message_is_escaped_and_shortened() {
        let err = SectionId::new(format!("\n{}", "x".repeat(100))).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\\n"), "{text}");
        assert!(text.chars().count() < 120, "{text}");
    }

    #[test]
    fn ids_deserialize_with_validation() {
        let ok: PinId = serde_json::from_str("\"42\"").unwrap();
        assert_eq!(ok.as_str(), "42");
        assert!(serde_json::from_str::<PinId>("\"4/2\"").is_err());
    }

    #[test]
    fn empty_bookmark_is_no_bookmark() {
        assert!(Bookmark::new("").is_none());
        assert_eq!(Bookmark::new("b1").unwrap().as_str(), "b1");
    }
}
