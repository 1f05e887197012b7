//! Pinion's credential store: users, API tokens and Pinterest credentials, with
//! client secrets and tokens sealed at rest.
//!
//! One [`Store`] trait, the union of purpose traits ([`UserStore`],
//! [`CredentialStore`], [`KeyStore`], [`LifecycleStore`], [`WebStateStore`],
//! [`RunStore`], [`SharingStore`], [`SyncStateStore`], [`NotificationStore`],
//! [`HealthStore`]), has one
//! implementation, [`SqlStore`], generic over the database's dialect and run
//! by the same test suite on both: [`SqliteStore`] (the embedded default, a
//! file under the data directory) and [`PgStore`] (PostgreSQL, for several
//! replicas). [`connect`] picks one from a location string and checks the
//! encryption keys before touching any data. A caller that needs one part
//! holds that part: `Arc<dyn Store>` upcasts to, say, `Arc<dyn
//! CredentialStore>`.
//!
//! Only [`crypto`] turns plaintext into ciphertext. The read model
//! ([`CredentialRecord`]) never holds secret values;
//! [`CredentialStore::credential_secrets`] is the one way back to them.
#![warn(missing_docs)]

mod changes;
mod credentials;
pub mod crypto;
mod dialect;
mod error;
mod health;
mod key_store;
pub mod keys;
mod lifecycle;
mod model;
mod notifications;
mod postgres;
pub mod private_fs;
mod rate;
mod runs;
mod schedules;
mod sharing;
mod sql;
mod sqlite;
mod state_db;
mod store;
mod sync_state;
mod users;
mod web_state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pinion_domain::{Clock, SystemClock};

pub use crate::changes::{ChangeFeed, Generation, SQLITE_POLL};
pub use crate::crypto::{KeyVersion, Keyring};
pub use crate::error::StoreError;
pub use crate::health::{HealthSchedule, HealthStore};
pub use crate::keys::{KeyError, KeySource};
pub use crate::lifecycle::{
    ConsumedFlow, DueRule, FlowOutcome, FlowRecord, LifecycleStore, MAX_OPEN_FLOWS_PER_CREDENTIAL,
    NewFlow, RefreshBackoff, RefreshBasis, RefreshClaim, RefreshFailure, flow_open,
};
pub use crate::model::{
    CredentialRecord, CredentialSecrets, KeyVersionStatus, KeyringStatus, PROVIDER_PINTEREST,
    RefreshState, StoredCheck, TokenSet, User,
};
pub use crate::notifications::{
    AlertState, AttemptDecision, AttemptOutcome, ClaimedDelivery, DISABLE_AFTER_UNITS,
    DeliveryPolicy, DisableRule, NewEvent, NotificationStore, RETRY_DELAYS, Recorded,
    RetrySchedule, decide_attempt,
};
pub use crate::postgres::PgStore;
pub use crate::rate::RateBudgetStore;
pub use crate::runs::{
    ApiTokenInfo, LAST_USED_GRANULARITY, RunLease, RunRecord, RunStatus, RunStore, RunStreamCount,
    UnfinishedRun,
};
pub use crate::schedules::{ScheduleRecord, ScheduleStore};
pub use crate::sharing::{
    ActivityEvent, ActivityRecord, NewActivity, ShareRecord, ShareState, SharingStore,
};
pub use crate::sql::SqlStore;
pub use crate::sqlite::SqliteStore;
pub use crate::state_db::open_sync_state;
pub use crate::store::{BackendKind, CredentialStore, KeyStore, Store, UserStore};
pub use crate::sync_state::{
    Checkpoint, LedgerEntry, LedgerState, PartitionProgress, RunStart, SqlSyncState,
    StreamProgress, StreamStatus, SyncRunId, SyncStateStore,
};
pub use crate::web_state::{
    DestinationRecord, PublishRecord, SourceRecord, WebStateStore, source_job_key,
};

/// The database file's name inside the data directory.
pub const DEFAULT_DATABASE_FILE: &str = "pinion.db";

/// Where the database is.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl std::fmt::Debug for DatabaseLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl DatabaseLocation {
    /// Parses `sqlite://PATH`, `sqlite:PATH`, `postgres://…`, `postgresql://…`,
    /// or a plain file path (SQLite).
    pub fn parse(location: &str) -> Result<Self, StoreError> {
        let location = location.trim();
        if location.is_empty() {
            return Err(StoreError::InvalidLocation("it is empty".into()));
        }
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            return Ok(Self::Postgres(location.to_owned()));
        }
        if let Some(path) = location
            .strip_prefix("sqlite://")
            .or_else(|| location.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(StoreError::InvalidLocation(
                    "the SQLite path is empty".into(),
                ));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = location.split_once("://") {
            return Err(StoreError::InvalidLocation(format!(
                "unsupported scheme `{scheme}` (use sqlite://PATH, a file path, or postgres://…)"
            )));
        }
        Ok(Self::Sqlite(PathBuf::from(location)))
    }

    /// The location for messages, with any password in a URL hidden.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("SQLite database {}", path.display()),
            Self::Postgres(url) => match url::Url::parse(url) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        let _ = parsed.set_password(Some("REDACTED"));
                    }
                    format!("PostgreSQL database {parsed}")
                }
                Err(_) => "PostgreSQL database (unparsable URL)".to_owned(),
            },
        }
    }
}

/// The default [`ConnectOptions::acquire_timeout`]: a request against a
/// PostgreSQL server that stopped answering fails after this long, leaving
/// room under the 2 s the server promises for a 503 (issue 12).
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1500);

/// Tuning for [`connect_with`].
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Where timestamps come from.
    pub clock: Arc<dyn Clock>,
    /// How long a SQLite writer waits for the write lock before giving up with
    /// [`StoreError::Unavailable`].
    pub busy_timeout: Duration,
    /// The pool's maximum number of connections.
    pub max_connections: u32,
    /// How long opening the store waits for its first connection, and on
    /// SQLite how long a call waits for a connection from the pool (a SQLite
    /// call is otherwise bounded by `busy_timeout`: there is no network to
    /// hang).
    pub connect_timeout: Duration,
    /// PostgreSQL only: how long one database call waits for a connection
    /// from the pool once the store is open, including opening a new one or
    /// checking that an idle one still answers (sqlx pings it first). This
    /// is what bounds every call a request or `/readyz` makes against a
    /// database that accepts connections and never answers: the call fails
    /// with [`StoreError::Unavailable`] and the server answers 503. Short
    /// (1.5 s) so a request answers within about 2 s; long work (sync runs,
    /// migrations, the refresher) is unaffected, since it only bounds the
    /// wait for a connection, never a statement that is running.
    pub acquire_timeout: Duration,
    /// SQLite only: the largest the database file may grow, in pages
    /// (`PRAGMA max_page_count` on every connection). A write past it fails
    /// as if the disk were full. `None` leaves SQLite's default.
    pub sqlite_max_page_count: Option<u32>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            busy_timeout: Duration::from_secs(5),
            max_connections: 8,
            connect_timeout: Duration::from_secs(10),
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            sqlite_max_page_count: None,
        }
    }
}

/// Something the operator should be told after connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyNotice {
    /// A new master key file was generated for a new embedded database; it must
    /// be kept and backed up.
    GeneratedKeyFile(PathBuf),
}

/// A connected store.
#[derive(Debug)]
pub struct Connected {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Set when connecting generated a key file.
    pub key_notice: Option<KeyNotice>,
}

/// Connects to the database at `location` with keys from `keys`, with default
/// options. See [`connect_with`].
pub async fn connect(location: &str, keys: KeySource) -> Result<Connected, StoreError> {
    connect_with(location, keys, ConnectOptions::default()).await
}

/// Connects to the database at `location` (see [`DatabaseLocation::parse`]).
///
/// For an existing database, the keys are checked against the stored key-check
/// values first: a missing or wrong key fails with [`StoreError::KeyMissing`]
/// or [`StoreError::KeyMismatch`] and nothing on disk changes. Then embedded
/// migrations run and new key versions are registered.
pub async fn connect_with(
    location: &str,
    keys: KeySource,
    options: ConnectOptions,
) -> Result<Connected, StoreError> {
    match DatabaseLocation::parse(location)? {
        DatabaseLocation::Sqlite(path) => {
            let (store, key_notice) = SqliteStore::open(&path, keys, &options).await?;
            Ok(Connected {
                store: Arc::new(store),
                key_notice,
            })
        }
        DatabaseLocation::Postgres(url) => {
            let store = PgStore::open(&url, keys, &options).await?;
            Ok(Connected {
                store: Arc::new(store),
                key_notice: None,
            })
        }
    }
}

/// Re-encrypts every sealed value under the active key, `batch_size` records
/// per transaction, calling `progress` with each batch's count. Returns the
/// total. Safe to interrupt and run again: it picks up what is left.
pub async fn reencrypt_all(
    store: &dyn KeyStore,
    batch_size: usize,
    mut progress: impl FnMut(usize) + Send,
) -> Result<usize, StoreError> {
    let batch_size = batch_size.max(1);
    let mut total = 0;
    loop {
        let done = store.reencrypt_batch(batch_size).await?;
        if done == 0 {
            return Ok(total);
        }
        total += done;
        progress(done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_pick_the_backend() {
        assert_eq!(
            DatabaseLocation::parse("sqlite:///var/lib/pinion/pinion.db").unwrap(),
            DatabaseLocation::Sqlite("/var/lib/pinion/pinion.db".into())
        );
        assert_eq!(
            DatabaseLocation::parse("sqlite:data/p.db").unwrap(),
            DatabaseLocation::Sqlite("data/p.db".into())
        );
        assert_eq!(
            DatabaseLocation::parse("./pinion.db").unwrap(),
            DatabaseLocation::Sqlite("./pinion.db".into())
        );
        for url in ["postgres://u@h/db", "postgresql://u@h/db"] {
            assert!(matches!(
                DatabaseLocation::parse(url).unwrap(),
                DatabaseLocation::Postgres(_)
            ));
        }
        for bad in ["", "mysql://h/db", "sqlite://"] {
            assert!(DatabaseLocation::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn described_postgres_locations_hide_the_password() {
        let location = DatabaseLocation::parse("postgres://app:hunter2@db:5432/pinion").unwrap();
        let text = format!("{} {location:?}", location.describe());
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("REDACTED"), "{text}");
    }
}
