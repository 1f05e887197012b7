//! What the store returns and accepts: users, credential metadata, decrypted
//! credential secrets, token sets and key status.
//!
//! The read model ([`CredentialRecord`]) carries metadata only; it says whether
//! a secret or token is set but never holds one. Decrypted values come only from
//! [`crate::Store::credential_secrets`], in the domain's redacting secret types.

use chrono::{DateTime, Utc};
use pinion_domain::{AccessToken, ClientSecret, Credential, CredentialId, RefreshToken, ScopeSet};

/// The only provider today.
pub const PROVIDER_PINTEREST: &str = "pinterest";

pub use pinion_domain::User;
pub use pinion_domain::record::{KeyVersionStatus, KeyringStatus};

/// A credential as the store holds it: what users see ([`Credential`],
/// reached through `Deref`, so `record.name` reads the name) and the token
/// refresher's bookkeeping, which stays inside the store and the service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CredentialRecord {
    /// Everything but secrets and bookkeeping.
    #[serde(flatten)]
    pub credential: Credential,
    /// When the access token has lived nine tenths of its lifetime (set when
    /// it is stored); part of the refresh rule, see [`crate::DueRule`].
    pub access_token_aged_at: Option<DateTime<Utc>>,
    /// Bookkeeping of the token refresher.
    pub refresh: RefreshState,
}

impl std::ops::Deref for CredentialRecord {
    type Target = Credential;

    fn deref(&self) -> &Credential {
        &self.credential
    }
}

impl From<CredentialRecord> for Credential {
    fn from(record: CredentialRecord) -> Self {
        record.credential
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
