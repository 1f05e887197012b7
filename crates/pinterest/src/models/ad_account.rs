//! Ad accounts (`AdAccount` in the spec).

use super::{i64_of, id_record, str_of};
use crate::id::AdAccountId;

id_record!(
    /// An ad account as `ad_accounts/list` and `ad_accounts/get` return it.
    AdAccount,
    AdAccountId,
    "ad account"
);

impl AdAccount {
    /// The account's name.
    pub fn name(&self) -> Option<&str> {
        str_of(&self.raw, "name")
    }

    /// The owner's username (`owner.username`).
    pub fn owner_username(&self) -> Option<&str> {
        self.raw.get("owner")?.get("username")?.as_str()
    }

    /// ISO 3166 country code.
    pub fn country(&self) -> Option<&str> {
        str_of(&self.raw, "country")
    }

    /// Currency code, e.g. `USD`.
    pub fn currency(&self) -> Option<&str> {
        str_of(&self.raw, "currency")
    }

    /// The roles the user has on the account (`OWNER`, `ADMIN`…).
    pub fn permissions(&self) -> Vec<&str> {
        self.raw
            .get("permissions")
            .and_then(|p| p.as_array())
            .map(|roles| roles.iter().filter_map(|r| r.as_str()).collect())
            .unwrap_or_default()
    }

    /// Creation time, Unix seconds.
    pub fn created_time(&self) -> Option<i64> {
        i64_of(&self.raw, "created_time")
    }

    /// Last update time, Unix seconds.
    pub fn updated_time(&self) -> Option<i64> {
        i64_of(&self.raw, "updated_time")
    }
}
