//! What the store returns and accepts: users, credential metadata, decrypted
//! credential secrets, token sets and key status.
//!
//! The read model ([`CredentialRecord`]) carries metadata only; it says whether
//! a secret or token is set but never holds one. Decrypted values come only from
//! [`crate::Store::credential_secrets`], in the domain's redacting secret types.

use chrono::{DateTime, Utc};
use pinion_domain::{
    AccessToken, ClientId, ClientSecret, CredentialId, CredentialName, CredentialStatus,
    Description, RefreshToken, Role, ScopeSet, UserId, Username,
};

use crate::crypto::KeyVersion;

/// The only provider today.
pub const PROVIDER_PINTEREST: &str = "pinterest";

/// A Pinion user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// Unique, lowercase.
    pub username: Username,
    /// What the user may do.
    pub role: Role,
    /// True when a password (its argon2 hash) is set.
    pub has_password: bool,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// When the user last changed.
    pub updated_at: DateTime<Utc>,
}

/// A credential's metadata: everything but secret values.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CredentialRecord {
    /// The credential's id.
    pub id: CredentialId,
    /// The owning user.
    pub owner: UserId,
    /// Unique per owner, compared case-insensitively.
    pub name: CredentialName,
    /// Optional description.
    pub description: Option<Description>,
    /// Always `pinterest` today.
    pub provider: String,
    /// The OAuth app's client id (not a secret).
    pub client_id: ClientId,
    /// True when a client secret is stored (always, for a valid credential).
    pub client_secret_set: bool,
    /// The scopes the user asked for.
    pub scopes: ScopeSet,
    /// The scopes Pinterest granted at the last authorization or refresh.
    pub granted_scopes: Option<ScopeSet>,
    /// Where the credential stands.
    pub status: CredentialStatus,
    /// True when an access token is stored.
    pub has_access_token: bool,
    /// True when a refresh token is stored.
    pub has_refresh_token: bool,
    /// When the access token expires.
    pub access_token_expires_at: Option<DateTime<Utc>>,
    /// When the access token has lived nine tenths of its lifetime (set when
    /// it is stored); part of the refresh rule, see [`crate::DueRule`].
    pub access_token_aged_at: Option<DateTime<Utc>>,
    /// When the refresh token expires.
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
    /// When tokens were last stored.
    pub last_refreshed_at: Option<DateTime<Utc>>,
    /// When Pinion last asked Pinterest whether the credential works.
    pub last_checked_at: Option<DateTime<Utc>>,
    /// The last problem, in words a user understands; never a secret.
    pub last_error: Option<String>,
    /// Bookkeeping of the token refresher.
    pub refresh: RefreshState,
    /// Bumped on every write; pass it back for a compare-and-set.
    pub version: i64,
    /// When the credential was created.
    pub created_at: DateTime<Utc>,
    /// When the credential last changed.
    pub updated_at: DateTime<Utc>,
}

impl CredentialRecord {
    /// True when an access token or a refresh token is stored.
    pub fn has_tokens(&self) -> bool {
        self.has_access_token || self.has_refresh_token
    }
}

/// The token refresher's bookkeeping on a credential (issue 4 fills it in).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RefreshState {
    /// Set while a refresh request is in flight; a value left after a crash
    /// means the outcome is unknown.
    pub started_at: Option<DateTime<Utc>>,
    /// Identifies the in-flight attempt.
    pub attempt_id: Option<String>,
    /// Consecutive failed refreshes.
    pub failures: i64,
    /// When the refresher should next look at this credential.
    pub next_refresh_at: Option<DateTime<Utc>>,
}

/// A credential's decrypted secrets, for the OAuth code only.
///
/// `Debug` is redacted by the secret types.
#[derive(Debug, Clone)]
pub struct CredentialSecrets {
    /// The metadata, read in the same statement as the secrets.
    pub record: CredentialRecord,
    /// The OAuth app's client secret.
    pub client_secret: ClientSecret,
    /// The current access token, if authorized.
    pub access_token: Option<AccessToken>,
    /// The current refresh token, if any.
    pub refresh_token: Option<RefreshToken>,
}

/// Tokens to store after an authorization or a refresh.
///
/// `Debug` is redacted by the secret types.
#[derive(Debug, Clone)]
pub struct TokenSet {
    /// The new access token.
    pub access_token: AccessToken,
    /// When it expires.
    pub access_token_expires_at: Option<DateTime<Utc>>,
    /// A new refresh token; `None` keeps the stored one (a refresh response may
    /// omit it).
    pub refresh_token: Option<RefreshToken>,
    /// When the refresh token expires; `None` keeps the stored expiry when the
    /// refresh token is kept.
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
    /// The scopes granted; `None` keeps the stored ones.
    pub granted_scopes: Option<ScopeSet>,
}

/// How many sealed values use one key version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyVersionStatus {
    /// The key version.
    pub version: KeyVersion,
    /// True when this process has the key loaded.
    pub loaded: bool,
    /// True when the database holds this version's key-check value.
    pub registered: bool,
    /// Sealed values stored under this version.
    pub sealed_values: u64,
}

/// Key versions and how many sealed values each still protects.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyringStatus {
    /// The version new values are sealed with.
    pub active: KeyVersion,
    /// Every version loaded, registered, or found in use, lowest first.
    pub versions: Vec<KeyVersionStatus>,
}

impl KeyringStatus {
    /// Sealed values not yet under the active key; zero when rotation is done.
    pub fn pending_reencryption(&self) -> u64 {
        self.versions
            .iter()
            .filter(|v| v.version != self.active)
            .map(|v| v.sealed_values)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_set_and_secrets_debug_output_is_redacted() {
        let tokens = TokenSet {
            access_token: AccessToken::new("CANARY-access"),
            access_token_expires_at: None,
            refresh_token: Some(RefreshToken::new("CANARY-refresh")),
            refresh_token_expires_at: None,
            granted_scopes: None,
        };
        let output = format!("{tokens:?} {tokens:#?}");
        assert!(!output.contains("CANARY"), "{output}");
        assert!(output.contains("REDACTED"), "{output}");
    }
}

/// What a check of a credential found (`credential_checks`), kept so a check
/// repeated shortly after is answered from it. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheck {
    /// The credential checked.
    pub credential_id: CredentialId,
    /// The credential's version after the check: the result describes that
    /// version only.
    pub credential_version: i64,
    /// When Pinterest answered.
    pub checked_at: DateTime<Utc>,
    /// True when Pinterest answered with the account.
    pub ok: bool,
    /// The account's username.
    pub account_username: Option<String>,
    /// `PINNER` or `BUSINESS`.
    pub account_type: Option<String>,
    /// What went wrong (the client's message), if anything.
    pub error: Option<String>,
}
