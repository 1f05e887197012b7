//! The user account (`Account` in the spec), returned by `user_account/get`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Record, i64_of, object, str_of};

/// The operation's user account. The spec marks no field required, so the
/// object is accepted as long as it is an object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Account {
    raw: Map<String, Value>,
}

impl Account {
    /// The account id (digits).
    pub fn id(&self) -> Option<&str> {
        str_of(&self.raw, "id")
    }

    /// The username.
    pub fn username(&self) -> Option<&str> {
        str_of(&self.raw, "username")
    }

    /// `PINNER` or `BUSINESS`.
    pub fn account_type(&self) -> Option<&str> {
        str_of(&self.raw, "account_type")
    }

    /// The business name, for business accounts.
    pub fn business_name(&self) -> Option<&str> {
        str_of(&self.raw, "business_name")
    }

    /// Number of boards.
    pub fn board_count(&self) -> Option<i64> {
        i64_of(&self.raw, "board_count")
    }

    /// Number of pins, created and saved.
    pub fn pin_count(&self) -> Option<i64> {
        i64_of(&self.raw, "pin_count")
    }

    /// Number of followers.
    pub fn follower_count(&self) -> Option<i64> {
        i64_of(&self.raw, "follower_count")
    }

    /// Number of accounts followed.
    pub fn following_count(&self) -> Option<i64> {
        i64_of(&self.raw, "following_count")
    }

    /// Monthly views.
    pub fn monthly_views(&self) -> Option<i64> {
        i64_of(&self.raw, "monthly_views")
    }

    /// The object exactly as Pinterest sent it.
    pub fn as_json(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// The object exactly as Pinterest sent it.
    pub fn into_json(self) -> Map<String, Value> {
        self.raw
    }
}

impl Record for Account {
    fn from_json(value: Value) -> Result<Self, (Value, String)> {
        object(value, "user account").map(|raw| Self { raw })
    }
}
