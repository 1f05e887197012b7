//! The store's error type and the mapping from database errors to it.
//!
//! Each variant answers a caller's real question: the record is not there
//! ([`StoreError::NotFound`]), the input clashes with stored data
//! ([`StoreError::Conflict`]), someone else wrote first
//! ([`StoreError::VersionConflict`]: re-read and decide again), the keys are
//! wrong ([`StoreError::KeyMissing`], [`StoreError::KeyMismatch`]: fix the
//! configuration), a sealed value is damaged ([`StoreError::Decrypt`]), or the
//! database cannot be used right now ([`StoreError::Unavailable`]: retry later).
//! No variant ever carries a secret value.

use crate::keys::KeyError;

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist (or was deleted).
    #[error("{entity} not found")]
    NotFound {
        /// What was looked up: `credential`, `user`.
        entity: &'static str,
    },

    /// The input clashes with stored data, e.g. a duplicate name; nothing was written.
    #[error("{field}: {message}")]
    Conflict {
        /// The field at fault, as the user sees it (`name`, `username`).
        field: &'static str,
        /// What is wrong, without a trailing period.
        message: String,
    },

    /// A compare-and-set write found another version than expected: someone
    /// else changed the record first. Re-read it and decide again.
    #[error("credential was changed concurrently (expected version {expected}, found {found})")]
    VersionConflict {
        /// The version the caller read.
        expected: i64,
        /// The version now stored.
        found: i64,
    },

    /// A sealed value could not be opened: it was altered, truncated, copied from
    /// another record or field, or sealed under a different key.
    #[error("cannot decrypt {table}.{column} of record {row_id}: {reason}")]
    Decrypt {
        /// The table holding the value.
        table: &'static str,
        /// The column holding the value.
        column: &'static str,
        /// The record's id.
        row_id: String,
        /// Why, without any part of the value.
        reason: String,
    },

    /// The database expects a key version that is not loaded.
    #[error(
        "encryption key version {version} is needed but not loaded from {source_description}; \
         add it to the key source (keys are read from PINION_MASTER_KEY, PINION_MASTER_KEY_FILE \
         or the data directory's master.key)"
    )]
    KeyMissing {
        /// The missing key version.
        version: u32,
        /// Where keys were read from, e.g. `key file /var/lib/pinion/master.key`.
        source_description: String,
    },

    /// A loaded key does not match the key-check value stored in the database.
    #[error(
        "encryption key version {version} from {source_description} does not match the key this \
         database was encrypted with; refusing to start so nothing is written under a wrong key"
    )]
    KeyMismatch {
        /// The key version that differs.
        version: u32,
        /// Where keys were read from.
        source_description: String,
    },

    /// A key version cannot be retired yet.
    #[error("key version {version} cannot be retired: {reason}")]
    KeyInUse {
        /// The key version.
        version: u32,
        /// Why, e.g. `12 sealed values still use it; run the re-encryption first`.
        reason: String,
    },

    /// The key configuration is invalid (bad file, bad encoding, wrong length).
    #[error(transparent)]
    Key(#[from] KeyError),

    /// The database location is not understood.
    #[error("invalid database location: {0}")]
    InvalidLocation(String),

    /// The database is locked, full, read-only or unreachable. Nothing was
    /// written; retry later or fix the cause.
    #[error("database unavailable: {cause}; nothing was written")]
    Unavailable {
        /// What the database said, e.g. `database is locked`.
        cause: String,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },

    /// Stored data breaks an invariant of this crate (e.g. an unknown status);
    /// the database was changed outside Pinion.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),

    /// Running the embedded migrations failed.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// Any other database error.
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

impl StoreError {
    /// True when retrying the same operation later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// Which database a driver error came from; the codes differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// True when `err` is a unique-constraint violation.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

/// Maps a driver error to a [`StoreError`], separating "cannot use the database
/// now" from everything else.
pub(crate) fn classify(backend: Backend, err: sqlx::Error) -> StoreError {
    let unavailable = |cause: String, source| StoreError::Unavailable { cause, source };
    match &err {
        sqlx::Error::RowNotFound => StoreError::NotFound { entity: "record" },
        sqlx::Error::Io(io) => unavailable(format!("I/O error: {io}"), err),
        sqlx::Error::Tls(_) => unavailable("TLS error".into(), err),
        sqlx::Error::PoolTimedOut => {
            unavailable("timed out waiting for a database connection".into(), err)
        }
        sqlx::Error::PoolClosed => unavailable("the connection pool is closed".into(), err),
        sqlx::Error::WorkerCrashed => unavailable("the database worker crashed".into(), err),
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let message = db.message().to_owned();
            match backend {
                Backend::Sqlite => {
                    // SQLite reports extended result codes; the primary code is
                    // the low byte.
                    let primary = code.parse::<i32>().map(|c| c & 0xff).unwrap_or(-1);
                    let cause = match primary {
                        5 | 6 => Some("database is locked by another writer"),
                        13 => Some("database or disk is full"),
                        8 => Some("database is read-only"),
                        10 => Some("disk I/O error"),
                        14 => Some("cannot open the database file"),
                        _ => None,
                    };
                    match cause {
                        Some(cause) => unavailable(format!("{cause} ({message})"), err),
                        None => StoreError::Database(err),
                    }
                }
                Backend::Postgres => {
                    // SQLSTATE classes 08 (connection), 53 (insufficient
                    // resources, including disk full), 57 (operator
                    // intervention) and 40 (serialization failure, deadlock).
                    let class = code.get(..2).unwrap_or("");
                    if matches!(class, "08" | "53" | "57" | "40") || code == "25006" {
                        unavailable(format!("{message} (SQLSTATE {code})"), err)
                    } else {
                        StoreError::Database(err)
                    }
                }
            }
        }
        _ => StoreError::Database(err),
    }
}
