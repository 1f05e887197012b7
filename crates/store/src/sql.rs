//! The store itself, [`SqlStore<D>`], generic over the database it runs on
//! (a [`Dialect`]), and what its operations share: SQL text, row types,
//! key-check verification, and the helpers that read, lock and write
//! credential rows.
//!
//! The SQL is written to run unchanged on both databases (`$1` placeholders,
//! `substr` on blobs, standard types through sqlx). The few differences (row
//! locks, how a write transaction begins, error codes) are the dialect's
//! constants and functions; every operation is then written once, here and in
//! the purpose modules, with no generated code.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, SubsecRound, Utc};
use pinion_domain::{
    AccessToken, ClientId, ClientSecret, Clock, CredentialId, CredentialName, CredentialStatus,
    Description, RefreshToken, Role, ScopeSet, UserId, Username,
};
use sha2::{Digest, Sha256};
use sqlx::{Pool, Transaction};
use zeroize::Zeroizing;

use crate::changes::ChangeFeed;
use crate::crypto::{KeyVersion, Keyring, Location, OpenError};
use crate::dialect::{Dialect, Timestamp};
use crate::error::StoreError;
use crate::keys::KeySource;
use crate::model::{CredentialRecord, KeyVersionStatus, RefreshState, User};

/// The credentials table, as named in SQL and in the sealed values' AAD.
pub(crate) const CREDENTIALS: &str = "credentials";
/// AAD column names of the credentials' sealed fields.
pub(crate) const CLIENT_SECRET: &str = "client_secret";
pub(crate) const ACCESS_TOKEN: &str = "access_token";
pub(crate) const REFRESH_TOKEN: &str = "refresh_token";

/// Every sealed column, as `(table, column)`. Key status and retirement count
/// over this list; a table with sealed values adds its columns here and a
/// re-encryption step in `reencrypt_batch`.
pub(crate) const SEALED_COLUMNS: &[(&str, &str)] = &[
    (CREDENTIALS, "client_secret_sealed"),
    (CREDENTIALS, "access_token_sealed"),
    (CREDENTIALS, "refresh_token_sealed"),
    (crate::lifecycle::OAUTH_FLOWS, "pkce_verifier_sealed"),
    (crate::notifications::WEBHOOK_ENDPOINTS, "secret_sealed"),
];

pub(crate) const CREDENTIAL_COLUMNS: &str = "id, owner_id, name, description, provider, \
     client_id, client_secret_sealed, scopes, granted_scopes, status, access_token_sealed, \
     access_token_expires_at, refresh_token_sealed, refresh_token_expires_at, last_refreshed_at, \
     last_error, refresh_started_at, refresh_attempt_id, refresh_failures, next_refresh_at, \
     version, created_at, updated_at, access_token_aged_at, last_checked_at, rate_tier";

pub(crate) const INSERT_CREDENTIAL: &str = "INSERT INTO credentials (id, owner_id, name, \
     description, provider, client_id, client_secret_sealed, scopes, granted_scopes, status, \
     access_token_sealed, access_token_expires_at, refresh_token_sealed, \
     refresh_token_expires_at, last_refreshed_at, last_error, refresh_started_at, \
     refresh_attempt_id, refresh_failures, next_refresh_at, version, created_at, updated_at, \
     name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
     $17, $18, $19, $20, $21, $22, $23, $24)";

/// Writes every mutable column of a credential if its version is still `$22`.
pub(crate) const UPDATE_CREDENTIAL: &str = "UPDATE credentials SET name = $2, name_key = $3, \
     description = $4, client_id = $5, client_secret_sealed = $6, scopes = $7, \
     granted_scopes = $8, status = $9, access_token_sealed = $10, access_token_expires_at = $11, \
     refresh_token_sealed = $12, refresh_token_expires_at = $13, last_refreshed_at = $14, \
     last_error = $15, refresh_started_at = $16, refresh_attempt_id = $17, \
     refresh_failures = $18, next_refresh_at = $19, version = $20, updated_at = $21, \
     access_token_aged_at = $23, rate_tier = $24 WHERE id = $1 AND version = $22";

pub(crate) const USER_COLUMNS: &str = "id, username, role, password_hash, created_at, updated_at";

/// The current time as stored: UTC, microsecond precision (PostgreSQL's).
pub(crate) fn stored_time(time: DateTime<Utc>) -> DateTime<Utc> {
    time.trunc_subsecs(6)
}

/// The SHA-256 of an API token, which is all the database keeps of it.
pub(crate) fn api_token_hash(token: &pinion_domain::ApiToken) -> Vec<u8> {
    Sha256::digest(token.expose_secret().as_bytes()).to_vec()
}

/// The key under which names are unique per owner: Unicode lowercase, so
/// `Marketing` and `marketing` cannot both exist for one owner.
pub(crate) fn name_key(name: &CredentialName) -> String {
    name.as_str().to_lowercase()
}

/// A user row as stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: String,
    pub username: String,
    pub role: String,
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserRow {
    pub(crate) fn into_user(self) -> Result<User, StoreError> {
        Ok(User {
            role: self.role.parse::<Role>().map_err(|_| {
                StoreError::Corrupt(format!("user {} has an unknown role", self.id))
            })?,
            id: UserId::from_trusted(self.id),
            username: Username::from_trusted(self.username),
            has_password: self.password_hash.is_some(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A credential row as stored, sealed values included. Every write reads this,
/// changes fields in Rust, and writes it back with [`UPDATE_CREDENTIAL`].
#[derive(sqlx::FromRow, Clone)]
pub(crate) struct CredentialRow {
    pub id: String,
    pub owner_id: String,
    pub name: String,
    pub description: Option<String>,
    pub provider: String,
    pub client_id: String,
    pub client_secret_sealed: Vec<u8>,
    pub scopes: String,
    pub rate_tier: String,
    pub granted_scopes: Option<String>,
    pub status: String,
    pub access_token_sealed: Option<Vec<u8>>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
    /// When the access token has lived nine tenths of its lifetime (see
    /// [`crate::lifecycle::DueRule`]); written with the token.
    pub access_token_aged_at: Option<DateTime<Utc>>,
    pub refresh_token_sealed: Option<Vec<u8>>,
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
    pub last_refreshed_at: Option<DateTime<Utc>>,
    /// Written only by `record_check`, never by [`UPDATE_CREDENTIAL`].
    pub last_checked_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub refresh_started_at: Option<DateTime<Utc>>,
    pub refresh_attempt_id: Option<String>,
    pub refresh_failures: i64,
    pub next_refresh_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for CredentialRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialRow")
            .field("id", &self.id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl CredentialRow {
    /// The location of one of this row's sealed fields.
    pub(crate) fn location(&self, column: &'static str) -> Location<'_> {
        Location {
            table: CREDENTIALS,
            column,
            row_id: &self.id,
        }
    }

    /// The metadata view: no secret values, only whether they are set.
    pub(crate) fn to_record(&self) -> Result<CredentialRecord, StoreError> {
        let corrupt = |what: &str| {
            StoreError::Corrupt(format!("credential {} has an invalid {what}", self.id))
        };
        let credential = pinion_domain::Credential {
            id: CredentialId::from_trusted(self.id.clone()),
            owner: UserId::from_trusted(self.owner_id.clone()),
            name: CredentialName::from_trusted(self.name.clone()),
            description: self.description.clone().map(Description::from_trusted),
            provider: self.provider.clone(),
            client_id: ClientId::from_trusted(self.client_id.clone()),
            client_secret_set: !self.client_secret_sealed.is_empty(),
            scopes: ScopeSet::parse_lenient(&self.scopes).0,
            rate_tier: self.rate_tier.parse().map_err(|_| corrupt("rate tier"))?,
            granted_scopes: self
                .granted_scopes
                .as_deref()
                .map(|s| ScopeSet::parse_lenient(s).0),
            status: self
                .status
                .parse::<CredentialStatus>()
                .map_err(|_| corrupt("status"))?,
            has_access_token: self.access_token_sealed.is_some(),
            has_refresh_token: self.refresh_token_sealed.is_some(),
            access_token_expires_at: self.access_token_expires_at,
            refresh_token_expires_at: self.refresh_token_expires_at,
            last_refreshed_at: self.last_refreshed_at,
            last_checked_at: self.last_checked_at,
            last_error: self.last_error.clone(),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        };
        Ok(CredentialRecord {
            credential,
            access_token_aged_at: self.access_token_aged_at,
            refresh: RefreshState {
                started_at: self.refresh_started_at,
                attempt_id: self.refresh_attempt_id.clone(),
                failures: self.refresh_failures,
                next_refresh_at: self.next_refresh_at,
            },
        })
    }

    /// Forgets the tokens and everything learned from them.
    pub(crate) fn clear_tokens(&mut self) {
        self.access_token_sealed = None;
        self.access_token_expires_at = None;
        self.access_token_aged_at = None;
        self.refresh_token_sealed = None;
        self.refresh_token_expires_at = None;
        self.granted_scopes = None;
        self.last_refreshed_at = None;
        self.refresh_started_at = None;
        self.refresh_attempt_id = None;
        self.refresh_failures = 0;
        self.next_refresh_at = None;
    }
}

/// Turns an [`OpenError`] into the store's error for `location`. A value under
/// an unknown key version is reported like any other undecryptable value, naming
/// the record, with the key source in the reason.
pub(crate) fn open_error(location: Location<'_>, err: OpenError, source: &KeySource) -> StoreError {
    let reason = match err {
        OpenError::UnknownKey(_) => format!("{}; keys are read from {}", err, source.describe()),
        other => other.reason(),
    };
    StoreError::Decrypt {
        table: location.table,
        column: location.column,
        row_id: location.row_id.to_owned(),
        reason,
    }
}

/// Opened plaintext as a `String`, moved (not copied) out of its zeroizing buffer.
pub(crate) fn plaintext_string(
    location: Location<'_>,
    mut bytes: Zeroizing<Vec<u8>>,
) -> Result<String, StoreError> {
    let taken = std::mem::take(&mut *bytes);
    String::from_utf8(taken).map_err(|err| {
        // Wipe the rejected bytes before dropping them.
        drop(Zeroizing::new(err.into_bytes()));
        StoreError::Decrypt {
            table: location.table,
            column: location.column,
            row_id: location.row_id.to_owned(),
            reason: "the decrypted value is not UTF-8".to_owned(),
        }
    })
}

/// A credential row's decrypted secrets.
pub(crate) struct OpenedSecrets {
    pub client_secret: ClientSecret,
    pub access_token: Option<AccessToken>,
    pub refresh_token: Option<RefreshToken>,
}

/// Opens every sealed value of a credential row. On failure, names the field
/// (its AAD column name) and why.
pub(crate) fn open_secrets(
    keyring: &Keyring,
    row: &CredentialRow,
) -> Result<OpenedSecrets, (&'static str, OpenError)> {
    let open = |column: &'static str, envelope: &[u8]| {
        let bytes = keyring
            .open(row.location(column), envelope)
            .map_err(|err| (column, err))?;
        // A value that authenticates but is not UTF-8 was sealed by something
        // other than this store; report it like any other undecryptable value.
        plaintext_string(row.location(column), bytes)
            .map_err(|_| (column, OpenError::Authentication))
    };
    Ok(OpenedSecrets {
        client_secret: ClientSecret::new(open(CLIENT_SECRET, &row.client_secret_sealed)?),
        access_token: row
            .access_token_sealed
            .as_deref()
            .map(|e| open(ACCESS_TOKEN, e).map(AccessToken::new))
            .transpose()?,
        refresh_token: row
            .refresh_token_sealed
            .as_deref()
            .map(|e| open(REFRESH_TOKEN, e).map(RefreshToken::new))
            .transpose()?,
    })
}

/// The keyring in use and where it came from, reloadable when another process
/// adds a key version (rotation is then online for file-based keys).
#[derive(Debug)]
pub(crate) struct Keys {
    current: RwLock<Arc<Keyring>>,
    pub(crate) source: KeySource,
}

impl Keys {
    pub(crate) fn new(keyring: Keyring, source: KeySource) -> Self {
        Self {
            current: RwLock::new(Arc::new(keyring)),
            source,
        }
    }

    pub(crate) fn current(&self) -> Arc<Keyring> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// True when the source can be read again (a key file).
    pub(crate) fn reloadable(&self) -> bool {
        self.source.file().is_some()
    }

    /// Re-reads the source and, if every version in it matches the stored
    /// check values, makes it current.
    pub(crate) fn reload(&self, stored: &BTreeMap<KeyVersion, Vec<u8>>) -> Result<(), StoreError> {
        let fresh = self.source.load()?;
        verify_keyring(&fresh, stored, &self.source, false)?;
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(fresh);
        Ok(())
    }
}

/// Checks a keyring against the stored key-check values: every stored version
/// must be loaded (unless `allow_missing`) and every loaded version that is
/// stored must match. Returns the loaded versions not yet stored.
pub(crate) fn verify_keyring(
    keyring: &Keyring,
    stored: &BTreeMap<KeyVersion, Vec<u8>>,
    source: &KeySource,
    allow_missing: bool,
) -> Result<Vec<KeyVersion>, StoreError> {
    use subtle::ConstantTimeEq;
    for (version, check) in stored {
        match keyring.check_value(*version) {
            None if allow_missing => {}
            None => {
                return Err(StoreError::KeyMissing {
                    version: *version,
                    source_description: source.describe(),
                });
            }
            Some(expected) => {
                if !bool::from(expected.as_slice().ct_eq(check.as_slice())) {
                    return Err(StoreError::KeyMismatch {
                        version: *version,
                        source_description: source.describe(),
                    });
                }
            }
        }
    }
    Ok(keyring
        .versions()
        .into_iter()
        .filter(|v| !stored.contains_key(v))
        .collect())
}

/// Adds `(version, count)` pairs from `substr(envelope, 2, 4)` groups into `totals`.
pub(crate) fn add_version_counts(
    totals: &mut BTreeMap<KeyVersion, u64>,
    rows: Vec<(Vec<u8>, i64)>,
) -> Result<(), StoreError> {
    for (prefix, count) in rows {
        let bytes: [u8; 4] = prefix.as_slice().try_into().map_err(|_| {
            StoreError::Corrupt("a sealed value is too short to hold a key version".into())
        })?;
        *totals.entry(u32::from_be_bytes(bytes)).or_default() += count.max(0) as u64;
    }
    Ok(())
}

/// Builds the per-version status from loaded, registered and counted versions.
pub(crate) fn keyring_status(
    keyring: &Keyring,
    registered: &BTreeMap<KeyVersion, Vec<u8>>,
    counts: &BTreeMap<KeyVersion, u64>,
) -> crate::model::KeyringStatus {
    let mut versions: Vec<KeyVersion> = keyring
        .versions()
        .into_iter()
        .chain(registered.keys().copied())
        .chain(counts.keys().copied())
        .collect();
    versions.sort_unstable();
    versions.dedup();
    crate::model::KeyringStatus {
        active: keyring.active_version(),
        versions: versions
            .into_iter()
            .map(|version| KeyVersionStatus {
                version,
                loaded: keyring.contains(version),
                registered: registered.contains_key(&version),
                sealed_values: counts.get(&version).copied().unwrap_or(0),
            })
            .collect(),
    }
}

/// The store, generic over the database it runs on (see [`Dialect`]):
/// [`crate::SqliteStore`] is `SqlStore<Sqlite>`, [`crate::PgStore`] is
/// `SqlStore<Postgres>`. Every operation is written once, in this module and
/// the purpose modules (`users.rs`, `credentials.rs`, `key_store.rs`,
/// `lifecycle.rs`, `runs.rs`, `web_state.rs`, `sharing.rs`, `sync_state.rs`).
pub struct SqlStore<D: Dialect> {
    pub(crate) pool: Pool<D>,
    pub(crate) keys: Keys,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) changes: ChangeFeed,
    /// What identifies the database besides the pool (the SQLite file).
    pub(crate) origin: D::Origin,
    /// The sync state, on the same pool.
    pub(crate) sync: crate::sync_state::SqlSyncState<D>,
}

impl<D: Dialect> std::fmt::Debug for SqlStore<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct(D::STORE_NAME);
        D::debug_origin(&self.origin, &mut out);
        out.field("keys", &self.keys).finish_non_exhaustive()
    }
}

/// What needs no sqlx bounds beyond the dialect's.
impl<D: Dialect> SqlStore<D> {
    /// A store on `pool`, with its sync state on the same pool.
    pub(crate) fn assemble(
        pool: Pool<D>,
        keys: Keys,
        clock: Arc<dyn Clock>,
        changes: ChangeFeed,
        origin: D::Origin,
    ) -> Self {
        let sync = crate::sync_state::SqlSyncState {
            pool: pool.clone(),
            clock: clock.clone(),
            changes: changes.clone(),
        };
        Self {
            pool,
            keys,
            clock,
            changes,
            origin,
            sync,
        }
    }

    pub(crate) fn db_error(err: sqlx::Error) -> StoreError {
        crate::error::classify(D::BACKEND, err)
    }

    pub(crate) fn not_found(entity: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |err| match err {
            sqlx::Error::RowNotFound => StoreError::NotFound { entity },
            other => Self::db_error(other),
        }
    }

    /// Starts a transaction that will write ([`Dialect::begin_write`]).
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, D>, StoreError> {
        D::begin_write(&self.pool).await.map_err(Self::db_error)
    }

    /// Commits `tx` and notes the write in the change feed.
    pub(crate) async fn commit(&self, tx: sqlx::Transaction<'static, D>) -> Result<(), StoreError> {
        tx.commit().await.map_err(Self::db_error)?;
        self.changes.bump();
        Ok(())
    }
}

/// The helpers every operation shares.
impl<D> SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: sqlx::Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: sqlx::IntoArguments<'q, D>,
    for<'q> &'q str: sqlx::Encode<'q, D> + sqlx::Type<D>,
    for<'q> String: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
    for<'q> Vec<u8>: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
    for<'q> i64: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
    for<'q> bool: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
    for<'q> Timestamp: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, D>,
    for<'q> Option<String>: sqlx::Encode<'q, D>,
    for<'q> Option<Vec<u8>>: sqlx::Encode<'q, D>,
    for<'q> Option<i64>: sqlx::Encode<'q, D>,
    for<'q> Option<Timestamp>: sqlx::Encode<'q, D>,
    usize: sqlx::ColumnIndex<D::Row>,
    for<'n> &'n str: sqlx::ColumnIndex<D::Row>,
{
    /// The rows `sql` finds for `key` (its `$1`), each made a record by
    /// `into`.
    pub(crate) async fn select_by<R, T>(
        &self,
        sql: &str,
        key: &str,
        into: impl Fn(R) -> T,
    ) -> Result<Vec<T>, StoreError>
    where
        R: for<'r> sqlx::FromRow<'r, D::Row> + Send + Unpin,
    {
        let rows: Vec<R> = sqlx::query_as(sql)
            .bind(key)
            .fetch_all(&self.pool)
            .await
            .map_err(Self::db_error)?;
        Ok(rows.into_iter().map(into).collect())
    }

    /// The one row `sql` finds for `key` (its `$1`), made a record by
    /// `into`; none is [`StoreError::NotFound`] naming `entity`.
    pub(crate) async fn select_one_by<R, T>(
        &self,
        sql: &str,
        key: &str,
        entity: &'static str,
        into: impl FnOnce(R) -> T,
    ) -> Result<T, StoreError>
    where
        R: for<'r> sqlx::FromRow<'r, D::Row> + Send + Unpin,
    {
        let row: R = sqlx::query_as(sql)
            .bind(key)
            .fetch_one(&self.pool)
            .await
            .map_err(Self::not_found(entity))?;
        Ok(into(row))
    }

    /// Reads every stored key-check value.
    pub(crate) async fn stored_checks<'e, E>(
        executor: E,
        from_version: KeyVersion,
        lock: &str,
    ) -> Result<std::collections::BTreeMap<KeyVersion, Vec<u8>>, StoreError>
    where
        E: sqlx::Executor<'e, Database = D>,
    {
        let sql = format!(
            "SELECT key_version, check_value FROM key_checks WHERE key_version >= $1 \
             ORDER BY key_version{lock}"
        );
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(&sql)
            .bind(i64::from(from_version))
            .fetch_all(executor)
            .await
            .map_err(Self::db_error)?;
        Ok(rows
            .into_iter()
            .map(|(v, c)| (v as KeyVersion, c))
            .collect())
    }

    /// Verifies the keyring against the database and registers loaded
    /// versions the database does not know yet. Run at connect, after
    /// migrations; the check that must precede any write runs earlier.
    pub(crate) async fn register_keys(&self) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let stored = Self::stored_checks(&mut *tx, 0, "").await?;
        let keyring = self.keys.current();
        // Register only versions above the newest stored one: a lower
        // version missing from the table was retired, and registering it
        // again would make it required at the next start.
        let newest_stored = stored.keys().next_back().copied().unwrap_or(0);
        let new_versions: Vec<KeyVersion> =
            crate::sql::verify_keyring(&keyring, &stored, &self.keys.source, false)?
                .into_iter()
                .filter(|version| *version > newest_stored)
                .collect();
        let now = crate::sql::stored_time(self.clock.now());
        for version in new_versions {
            let check = keyring
                .check_value(version)
                .expect("new versions come from this keyring");
            sqlx::query(
                "INSERT INTO key_checks (key_version, check_value, created_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (key_version) DO NOTHING",
            )
            .bind(i64::from(version))
            .bind(check.to_vec())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        }
        // Another process may have registered a different key under the
        // same version in between; compare again inside the transaction.
        let stored = Self::stored_checks(&mut *tx, 0, "").await?;
        crate::sql::verify_keyring(&keyring, &stored, &self.keys.source, false)?;
        self.commit(tx).await
    }

    /// The keyring to seal with inside a write transaction. Locks the
    /// active version's key-check row (so it cannot be retired until this
    /// transaction ends) and picks up a newer version another process
    /// registered, if its key can be loaded.
    pub(crate) async fn sealing_keyring(
        &self,
        tx: &mut sqlx::Transaction<'static, D>,
    ) -> Result<std::sync::Arc<Keyring>, StoreError> {
        let keyring = self.keys.current();
        let active = keyring.active_version();
        let stored = Self::stored_checks(&mut **tx, active, D::FOR_SHARE).await?;
        if !stored.contains_key(&active) {
            return Err(StoreError::KeyInUse {
                version: active,
                reason: "this process seals with it but it was retired; restart with the \
                         current keys"
                    .into(),
            });
        }
        let newest = stored.keys().next_back().copied().unwrap_or(active);
        if newest > active && self.keys.reloadable() {
            match self.keys.reload(&stored) {
                Ok(()) => {
                    tracing::info!(
                        key_version = newest,
                        "Loaded a newer encryption key version."
                    );
                    let reloaded = self.keys.current();
                    // Lock the newly active version's row too.
                    Self::stored_checks(&mut **tx, reloaded.active_version(), D::FOR_SHARE).await?;
                    return Ok(reloaded);
                }
                Err(err) => tracing::warn!(
                    error = %err,
                    "A newer key version is registered but could not be loaded; sealing with the older one."
                ),
            }
        }
        Ok(keyring)
    }

    /// Opens a row's secrets, reloading the keys once if the row uses a
    /// version this process has not loaded yet.
    pub(crate) async fn open_row(
        &self,
        row: &crate::sql::CredentialRow,
    ) -> Result<crate::sql::OpenedSecrets, StoreError> {
        let mut reloaded = false;
        loop {
            let keyring = self.keys.current();
            match crate::sql::open_secrets(&keyring, row) {
                Ok(secrets) => return Ok(secrets),
                Err((_, crate::crypto::OpenError::UnknownKey(_)))
                    if !reloaded && self.keys.reloadable() =>
                {
                    reloaded = true;
                    let stored = Self::stored_checks(&self.pool, 0, "").await?;
                    if let Err(err) = self.keys.reload(&stored) {
                        // Fall through to an error naming the record.
                        tracing::warn!(
                            error = %err,
                            "Could not reload the encryption keys."
                        );
                    }
                }
                Err((column, err)) => {
                    return Err(crate::sql::open_error(
                        row.location(column),
                        err,
                        &self.keys.source,
                    ));
                }
            }
        }
    }

    pub(crate) async fn fetch_credential<'e, E>(
        executor: E,
        id: &str,
        lock: &str,
    ) -> Result<crate::sql::CredentialRow, StoreError>
    where
        E: sqlx::Executor<'e, Database = D>,
    {
        let sql = format!(
            "SELECT {} FROM credentials WHERE id = $1{lock}",
            crate::sql::CREDENTIAL_COLUMNS
        );
        sqlx::query_as::<_, crate::sql::CredentialRow>(&sql)
            .bind(id)
            .fetch_one(executor)
            .await
            .map_err(Self::not_found("credential"))
    }

    /// Writes `row` back if its stored version is still `expected`.
    pub(crate) async fn write_credential(
        tx: &mut sqlx::Transaction<'static, D>,
        row: &crate::sql::CredentialRow,
        expected: i64,
    ) -> Result<(), StoreError> {
        let result = sqlx::query(crate::sql::UPDATE_CREDENTIAL)
            .bind(&row.id)
            .bind(&row.name)
            .bind(crate::sql::name_key(
                &pinion_domain::CredentialName::from_trusted(row.name.clone()),
            ))
            .bind(&row.description)
            .bind(&row.client_id)
            .bind(&row.client_secret_sealed)
            .bind(&row.scopes)
            .bind(&row.granted_scopes)
            .bind(&row.status)
            .bind(&row.access_token_sealed)
            .bind(row.access_token_expires_at)
            .bind(&row.refresh_token_sealed)
            .bind(row.refresh_token_expires_at)
            .bind(row.last_refreshed_at)
            .bind(&row.last_error)
            .bind(row.refresh_started_at)
            .bind(&row.refresh_attempt_id)
            .bind(row.refresh_failures)
            .bind(row.next_refresh_at)
            .bind(row.version)
            .bind(row.updated_at)
            .bind(expected)
            .bind(row.access_token_aged_at)
            .bind(&row.rate_tier)
            .execute(&mut **tx)
            .await
            .map_err(|err| {
                if crate::error::is_unique_violation(&err) {
                    StoreError::Conflict {
                        field: "name",
                        message: "this owner already has a credential with this name".into(),
                    }
                } else {
                    Self::db_error(err)
                }
            })?;
        if D::rows_affected(&result) != 1 {
            return Err(StoreError::VersionConflict {
                expected,
                found: row.version,
            });
        }
        Ok(())
    }

    /// Writes tokens under compare-and-set. With `replace`, fields the
    /// set omits are cleared (a new authorization); otherwise the
    /// stored refresh token, its expiry and the granted scopes are
    /// kept when omitted (a refresh).
    pub(crate) async fn write_tokens(
        &self,
        id: &CredentialId,
        tokens: &crate::model::TokenSet,
        expected_version: i64,
        replace: bool,
    ) -> Result<CredentialRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut row = Self::credential_for_write(&mut tx, id, Some(expected_version)).await?;
        let keyring = self.sealing_keyring(&mut tx).await?;
        let now = crate::sql::stored_time(self.clock.now());
        if replace {
            // A new grant: nothing of the previous one survives.
            row.clear_tokens();
        }
        row.access_token_sealed = Some(keyring.seal(
            row.location(crate::sql::ACCESS_TOKEN),
            tokens.access_token.expose_secret().as_bytes(),
        ));
        row.access_token_expires_at = tokens.access_token_expires_at.map(crate::sql::stored_time);
        row.access_token_aged_at = row
            .access_token_expires_at
            .map(|expires| crate::lifecycle::aged_at(now, expires));
        if let Some(refresh) = &tokens.refresh_token {
            row.refresh_token_sealed = Some(keyring.seal(
                row.location(crate::sql::REFRESH_TOKEN),
                refresh.expose_secret().as_bytes(),
            ));
            row.refresh_token_expires_at =
                tokens.refresh_token_expires_at.map(crate::sql::stored_time);
        } else if let Some(expires) = tokens.refresh_token_expires_at {
            row.refresh_token_expires_at = Some(crate::sql::stored_time(expires));
        }
        if let Some(granted) = &tokens.granted_scopes {
            row.granted_scopes = Some(granted.to_space_separated());
        }
        row.status = CredentialStatus::Active.as_str().to_owned();
        row.last_refreshed_at = Some(now);
        row.last_error = None;
        row.refresh_started_at = None;
        row.refresh_attempt_id = None;
        row.refresh_failures = 0;
        row.version = expected_version + 1;
        row.updated_at = now;
        Self::write_credential(&mut tx, &row, expected_version).await?;
        self.commit(tx).await?;
        row.to_record()
    }

    /// Reads a credential for a write inside `tx`, checking the expected version.
    pub(crate) async fn credential_for_write(
        tx: &mut sqlx::Transaction<'static, D>,
        id: &CredentialId,
        expected_version: Option<i64>,
    ) -> Result<crate::sql::CredentialRow, StoreError> {
        let row = Self::fetch_credential(&mut **tx, id.as_str(), D::FOR_UPDATE).await?;
        if let Some(expected) = expected_version
            && row.version != expected
        {
            return Err(StoreError::VersionConflict {
                expected,
                found: row.version,
            });
        }
        Ok(row)
    }

    pub(crate) async fn insert_api_token(
        tx: &mut sqlx::Transaction<'static, D>,
        user: &UserId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<pinion_domain::ApiToken, StoreError> {
        let token = pinion_domain::ApiToken::random();
        sqlx::query("INSERT INTO api_tokens (token_hash, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(crate::sql::api_token_hash(&token))
            .bind(user.as_str())
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(|err| match &err {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    StoreError::NotFound { entity: "user" }
                }
                _ => Self::db_error(err),
            })?;
        Ok(token)
    }

    pub(crate) async fn insert_user(
        tx: &mut sqlx::Transaction<'static, D>,
        username: &Username,
        role: Role,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<User, StoreError> {
        let id = UserId::generate();
        sqlx::query(
            "INSERT INTO users (id, username, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(id.as_str())
        .bind(username.as_str())
        .bind(role.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(|err| {
            if crate::error::is_unique_violation(&err) {
                StoreError::Conflict {
                    field: "username",
                    message: format!("`{username}` is already taken"),
                }
            } else {
                Self::db_error(err)
            }
        })?;
        Ok(User {
            id,
            username: username.clone(),
            role,
            has_password: false,
            created_at: now,
            updated_at: now,
        })
    }

    pub(crate) async fn fetch_user_where(
        &self,
        condition: &str,
        value: &str,
    ) -> Result<User, StoreError> {
        let sql = format!(
            "SELECT {} FROM users WHERE {condition} = $1",
            crate::sql::USER_COLUMNS
        );
        sqlx::query_as::<_, crate::sql::UserRow>(&sql)
            .bind(value)
            .fetch_one(&self.pool)
            .await
            .map_err(Self::not_found("user"))?
            .into_user()
    }

    pub(crate) async fn list_credentials_where(
        &self,
        condition: &str,
        owner: Option<&str>,
    ) -> Result<Vec<CredentialRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM credentials {condition} ORDER BY owner_id, name_key",
            crate::sql::CREDENTIAL_COLUMNS
        );
        let mut query = sqlx::query_as::<_, crate::sql::CredentialRow>(&sql);
        if let Some(owner) = owner {
            query = query.bind(owner);
        }
        query
            .fetch_all(&self.pool)
            .await
            .map_err(Self::db_error)?
            .iter()
            .map(crate::sql::CredentialRow::to_record)
            .collect()
    }

    /// Counts sealed values per key version over every sealed column.
    pub(crate) async fn sealed_counts(
        conn: &mut <D as sqlx::Database>::Connection,
    ) -> Result<std::collections::BTreeMap<KeyVersion, u64>, StoreError> {
        let mut totals = std::collections::BTreeMap::new();
        for (table, column) in crate::sql::SEALED_COLUMNS {
            let sql = format!(
                "SELECT substr({column}, 2, 4), COUNT(*) FROM {table} \
                 WHERE {column} IS NOT NULL GROUP BY 1"
            );
            let rows: Vec<(Vec<u8>, i64)> = sqlx::query_as(&sql)
                .fetch_all(&mut *conn)
                .await
                .map_err(Self::db_error)?;
            crate::sql::add_version_counts(&mut totals, rows)?;
        }
        Ok(totals)
    }
}

#[async_trait::async_trait]
impl<D> crate::Store for SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: sqlx::Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: sqlx::IntoArguments<'q, D>,
    for<'q> &'q str: sqlx::Encode<'q, D> + sqlx::Type<D>,
    for<'q> String: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
    for<'q> Vec<u8>: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
    for<'q> i64: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
    for<'q> bool: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
    for<'q> Timestamp: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, D>,
    for<'q> Option<String>: sqlx::Encode<'q, D>,
    for<'q> Option<Vec<u8>>: sqlx::Encode<'q, D>,
    for<'q> Option<i64>: sqlx::Encode<'q, D>,
    for<'q> Option<Timestamp>: sqlx::Encode<'q, D>,
    usize: sqlx::ColumnIndex<D::Row>,
    for<'n> &'n str: sqlx::ColumnIndex<D::Row>,
{
    fn backend(&self) -> crate::BackendKind {
        D::KIND
    }

    fn changes(&self) -> &crate::ChangeFeed {
        &self.changes
    }

    async fn close(&self) {
        D::before_close(&self.pool).await;
        self.pool.close().await;
    }
}
