//! The [`Store`] trait: everything Pinion persists, behind one interface with a
//! SQLite and a PostgreSQL implementation; and the purpose traits it unites
//! that have no module of their own: [`UserStore`], [`CredentialStore`] and
//! [`KeyStore`] (the others are [`crate::LifecycleStore`],
//! [`crate::WebStateStore`], [`crate::RunStore`], [`crate::SharingStore`] and
//! [`crate::SyncStateStore`], [`crate::NotificationStore`] and
//! [`crate::HealthStore`]).
//!
//! Every method that changes more than one field runs in one transaction, so a
//! failure leaves nothing half-written. Methods that write a credential bump its
//! `version`; those taking an `expected_version` write only if the stored
//! version still matches (compare-and-set) and otherwise fail with
//! [`StoreError::VersionConflict`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pinion_domain::{
    ApiToken, CredentialId, CredentialStatus, CredentialUpdate, NewCredential, Role, UserId,
    Username,
};

use crate::crypto::KeyVersion;
use crate::error::StoreError;
use crate::model::{CredentialRecord, CredentialSecrets, KeyringStatus, TokenSet, User};

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The embedded default: one SQLite file.
    Sqlite,
    /// A PostgreSQL server, shared by several replicas.
    Postgres,
}

/// Pinion's persistent state: the union of the purpose traits, with what
/// concerns the store as a whole. A caller that needs one part can hold just
/// that part: an `Arc<dyn Store>` upcasts to `Arc<dyn CredentialStore>` (or
/// any other supertrait), and methods of every part are callable on
/// `dyn Store` without importing the part.
#[async_trait]
pub trait Store:
    UserStore
    + CredentialStore
    + KeyStore
    + crate::lifecycle::LifecycleStore
    + crate::web_state::WebStateStore
    + crate::runs::RunStore
    + crate::schedules::ScheduleStore
    + crate::rate::RateBudgetStore
    + crate::sharing::SharingStore
    + crate::sync_state::SyncStateStore
    + crate::notifications::NotificationStore
    + crate::health::HealthStore
    + Send
    + Sync
    + std::fmt::Debug
{
    /// Which database this store runs on.
    fn backend(&self) -> BackendKind;

    /// Counts committed writes to this store's database, by this process and
    /// others, so a read result can be kept until the data may have changed.
    fn changes(&self) -> &crate::ChangeFeed;

    /// Closes the connections; later calls fail.
    async fn close(&self);
}

/// Users, their passwords and their API tokens.
#[async_trait]
pub trait UserStore: Send + Sync + std::fmt::Debug {
    /// Creates a user. A taken username gives [`StoreError::Conflict`] on `username`.
    async fn create_user(&self, username: &Username, role: Role) -> Result<User, StoreError>;

    /// Creates the first user, with the password hash `password_hash`, in one
    /// transaction that holds off every other writer of users; `None` (and
    /// nothing written) when a user exists already, whichever process made
    /// it.
    async fn create_first_user(
        &self,
        username: &Username,
        role: Role,
        password_hash: &str,
    ) -> Result<Option<User>, StoreError>;

    /// Creates a user and a first API token in one transaction; the token's
    /// plaintext is returned once and stored only as a hash.
    async fn create_user_with_token(
        &self,
        username: &Username,
        role: Role,
    ) -> Result<(User, ApiToken), StoreError>;

    /// A user by id.
    async fn get_user(&self, id: &UserId) -> Result<User, StoreError>;

    /// A user by username.
    async fn get_user_by_username(&self, username: &Username) -> Result<User, StoreError>;

    /// Every user, by username.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;

    /// Sets or clears a user's password hash (an argon2 PHC string made by the caller).
    async fn set_password_hash(&self, user: &UserId, hash: Option<&str>) -> Result<(), StoreError>;

    /// A user's password hash, for verifying a login.
    async fn password_hash(&self, user: &UserId) -> Result<Option<String>, StoreError>;

    /// Issues a new API token for `user`. The plaintext is returned once; only
    /// its SHA-256 hash is stored.
    async fn create_api_token(&self, user: &UserId) -> Result<ApiToken, StoreError>;

    /// The user an unrevoked API token belongs to, or `None`.
    async fn user_for_api_token(&self, token: &ApiToken) -> Result<Option<User>, StoreError>;

    /// Revokes one API token; `false` when it was unknown or already revoked.
    async fn revoke_api_token(&self, token: &ApiToken) -> Result<bool, StoreError>;

    /// Revokes every API token of `user`; returns how many were revoked.
    async fn revoke_api_tokens(&self, user: &UserId) -> Result<u64, StoreError>;

    /// Issues an API token named `name` for `user`; the plaintext is
    /// returned once, with the listing entry.
    async fn create_named_api_token(
        &self,
        user: &UserId,
        name: &str,
    ) -> Result<(pinion_domain::ApiToken, crate::runs::ApiTokenInfo), StoreError>;

    /// `user`'s unrevoked API tokens, newest first.
    async fn list_api_tokens(
        &self,
        user: &UserId,
    ) -> Result<Vec<crate::runs::ApiTokenInfo>, StoreError>;

    /// Revokes `user`'s token with public id `id`; `false` when `user` has
    /// no such unrevoked token.
    async fn revoke_api_token_by_id(
        &self,
        user: &UserId,
        id: &pinion_domain::ApiTokenId,
    ) -> Result<bool, StoreError>;

    /// The user an unrevoked token belongs to, noting the use (written at
    /// most once per [`crate::LAST_USED_GRANULARITY`], so reads stay reads).
    async fn authenticate_api_token(
        &self,
        token: &pinion_domain::ApiToken,
    ) -> Result<Option<User>, StoreError>;
}

/// Credentials: their metadata, sealed client secrets and tokens, status and
/// validity checks.
#[async_trait]
pub trait CredentialStore: Send + Sync + std::fmt::Debug {
    /// Stores a new credential with status `needs_authorization`, its client
    /// secret sealed. A name the owner already uses (compared
    /// case-insensitively) gives [`StoreError::Conflict`] on `name`.
    async fn create_credential(
        &self,
        owner: &UserId,
        new: &NewCredential,
    ) -> Result<CredentialRecord, StoreError>;

    /// A credential's metadata.
    async fn get_credential(&self, id: &CredentialId) -> Result<CredentialRecord, StoreError>;

    /// Every credential of `owner`, by name.
    async fn list_credentials(&self, owner: &UserId) -> Result<Vec<CredentialRecord>, StoreError>;

    /// Every credential of every user, by owner then name (for admins and the
    /// refresher).
    async fn list_all_credentials(&self) -> Result<Vec<CredentialRecord>, StoreError>;

    /// Applies `update` in one transaction. Changing the client id discards the
    /// tokens and sets `needs_authorization`, since tokens belong to one app.
    /// With `expected_version`, writes only if the credential is unchanged since.
    async fn update_credential(
        &self,
        id: &CredentialId,
        update: &CredentialUpdate,
        expected_version: Option<i64>,
    ) -> Result<CredentialRecord, StoreError>;

    /// Deletes a credential together with its sealed secret and tokens.
    async fn delete_credential(&self, id: &CredentialId) -> Result<(), StoreError>;

    /// The decrypted client secret and tokens with the metadata, for the OAuth
    /// code. No other method returns secret values.
    async fn credential_secrets(&self, id: &CredentialId) -> Result<CredentialSecrets, StoreError>;

    /// Stores tokens from an authorization or refresh if the credential is still
    /// at `expected_version`: the access token, the refresh token unless the set
    /// omits it (then the stored one is kept), expiries, granted scopes, status
    /// `active`, `last_refreshed_at`; clears `last_error` and the refresh
    /// bookkeeping.
    async fn set_tokens(
        &self,
        id: &CredentialId,
        tokens: &TokenSet,
        expected_version: i64,
    ) -> Result<CredentialRecord, StoreError>;

    /// Stores a new authorization's tokens if the credential is still at
    /// `expected_version`, replacing everything of the previous grant: a
    /// refresh token, its expiry or granted scopes that the set omits are
    /// cleared, not kept. Otherwise as [`CredentialStore::set_tokens`].
    async fn replace_tokens(
        &self,
        id: &CredentialId,
        tokens: &TokenSet,
        expected_version: i64,
    ) -> Result<CredentialRecord, StoreError>;

    /// Sets the status and the user-facing `last_error` (which must hold no
    /// secret). With `expected_version`, writes only if unchanged since.
    async fn set_status(
        &self,
        id: &CredentialId,
        status: CredentialStatus,
        last_error: Option<&str>,
        expected_version: Option<i64>,
    ) -> Result<CredentialRecord, StoreError>;

    /// Notes that the credential's validity was checked with Pinterest at
    /// `at` (whatever the answer); changes nothing else and no version.
    async fn record_check(&self, id: &CredentialId, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Keeps `check` as the credential's latest check, replacing the one
    /// before; changes nothing of the credential and no version.
    async fn save_check(&self, check: &crate::StoredCheck) -> Result<(), StoreError>;

    /// The credential's latest check, if one was saved.
    async fn latest_check(
        &self,
        id: &CredentialId,
    ) -> Result<Option<crate::StoredCheck>, StoreError>;
}

/// The encryption keys: sealing files and MACs under the active key, the
/// keyring's status, re-encryption and retirement of old key versions.
#[async_trait]
pub trait KeyStore: Send + Sync + std::fmt::Debug {
    /// Seals `plaintext` for a file outside the database (the token journal)
    /// under the active key, bound to `location` like every sealed column.
    fn seal_file(&self, location: crate::crypto::Location<'_>, plaintext: &[u8]) -> Vec<u8>;

    /// Opens what [`KeyStore::seal_file`] sealed for the same `location`.
    fn open_file(
        &self,
        location: crate::crypto::Location<'_>,
        envelope: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, StoreError>;

    /// A MAC of `message` for `purpose` under a subkey of the active master
    /// key, with that key's version ([`crate::Keyring::mac`]): for values the
    /// server hands out and must recognise later, on any replica.
    fn mac(&self, purpose: &str, message: &[u8]) -> (crate::KeyVersion, [u8; 32]);

    /// True when `tag` is [`KeyStore::mac`]'s MAC of `message` for `purpose`
    /// under key `version`.
    fn verify_mac(
        &self,
        purpose: &str,
        version: crate::KeyVersion,
        message: &[u8],
        tag: &[u8],
    ) -> bool;

    /// The active key version and how many sealed values each version protects.
    async fn keyring_status(&self) -> Result<KeyringStatus, StoreError>;

    /// Re-seals up to `limit` records (credentials, then authorization flows)
    /// still under an older key with the active key, in one transaction, and
    /// returns how many it rewrote (0 when none are left). Online: readers keep
    /// working, and an interrupted rotation resumes by calling this again.
    async fn reencrypt_batch(&self, limit: usize) -> Result<usize, StoreError>;

    /// Forgets a key version's key-check value. Refused while any sealed value
    /// uses it or while it is the newest version.
    async fn retire_key(&self, version: KeyVersion) -> Result<(), StoreError>;
}
