//! The embedded SQLite store: one file under the data directory, in WAL mode
//! with `synchronous=FULL` so a committed token survives power loss, foreign
//! keys on, and a busy timeout. Writes begin with `BEGIN IMMEDIATE`, taking the
//! write lock up front, so two writers never interleave a read and a write.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Connection, Sqlite, Transaction};

use crate::changes::ChangeFeed;
use crate::crypto::{KeyVersion, Keyring};
use crate::dialect::Dialect;
use crate::error::{Backend, StoreError};
use crate::keys::{KeySource, generate_key_file};
use crate::sql::{Keys, SqlStore, verify_keyring};
use crate::store::BackendKind;
use crate::{ConnectOptions, KeyNotice};

/// The SQLite implementation of [`crate::Store`]: the generic store on the
/// SQLite [`Dialect`].
pub type SqliteStore = SqlStore<Sqlite>;

impl Dialect for Sqlite {
    const BACKEND: Backend = Backend::Sqlite;
    const KIND: BackendKind = BackendKind::Sqlite;
    const STORE_NAME: &'static str = "SqliteStore";
    // A write transaction holds SQLite's single write lock, so no row locks are
    // needed (or understood).
    const FOR_UPDATE: &'static str = "";
    const FOR_SHARE: &'static str = "";
    const SKIP_LOCKED: &'static str = "";
    const LOCK_TABLE: &'static str = "";
    // `'now'` is the same throughout one statement; SQLite reads it to the
    // millisecond.
    const NOW_MICROS: &'static str =
        "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)";

    /// The database file.
    type Origin = PathBuf;

    async fn begin_write(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Folds the WAL into the main file, so after a clean shutdown the file
    /// alone holds everything (for backups, and so the next open has nothing
    /// to recover). Failure is harmless: SQLite checkpoints again later.
    async fn before_close(pool: &SqlitePool) {
        if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await
        {
            tracing::debug!(error = %err, "Could not checkpoint the WAL before closing.");
        }
    }

    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    fn migrations() -> &'static sqlx::migrate::Migrator {
        static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
        &MIGRATIONS
    }

    fn debug_origin(origin: &PathBuf, out: &mut std::fmt::DebugStruct<'_, '_>) {
        out.field("path", origin);
    }
}

impl SqlStore<Sqlite> {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.origin
    }

    /// Opens (or creates) the database at `path`.
    ///
    /// For an existing database the keys are checked against the stored
    /// key-check values before migrations run or anything is written, so a wrong
    /// or missing key leaves the file as it was. For a new database, a missing
    /// data-directory key file is generated.
    #[tracing::instrument(skip_all, fields(path = %path.display()))]
    pub async fn open(
        path: &Path,
        source: KeySource,
        options: &ConnectOptions,
    ) -> Result<(Self, Option<KeyNotice>), StoreError> {
        let exists = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
        let connect_options = Self::connect_options(path, options).create_if_missing(!exists);

        let mut stored = None;
        let mut pool = None;
        if exists {
            let opened = Self::pool_options(options)
                .connect_with(connect_options.clone())
                .await
                .map_err(Self::db_error)?;
            let (has_schema,): (i64,) = sqlx::query_as(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'key_checks'",
            )
            .fetch_one(&opened)
            .await
            .map_err(Self::db_error)?;
            if has_schema > 0 {
                stored = Some(Self::stored_checks(&opened, 0, "").await?);
            }
            pool = Some(opened);
        }
        let is_new = stored.as_ref().is_none_or(|s| s.is_empty());

        let mut notice = None;
        let keyring = Self::load_keyring(path, &source, stored.as_ref(), is_new, &mut notice);
        let keyring = match keyring {
            Ok(keyring) => keyring,
            Err(err) => {
                if let Some(pool) = pool {
                    pool.close().await;
                }
                return Err(err);
            }
        };
        if let Some(stored) = &stored {
            // Refuse before migrations or any write, and close the connections
            // before returning so nothing lingers on the file.
            if let Err(err) = verify_keyring(&keyring, stored, &source, false) {
                if let Some(pool) = pool {
                    pool.close().await;
                }
                return Err(err);
            }
        }

        let pool = match pool {
            Some(pool) => pool,
            None => {
                // The file first, 0600, so SQLite's -wal and -shm inherit
                // its mode (see `private_fs`).
                crate::private_fs::prepare_sqlite_file(path)
                    .map_err(|source| io_unavailable("create", path, source))?;
                Self::pool_options(options)
                    .connect_with(connect_options.clone())
                    .await
                    .map_err(Self::db_error)?
            }
        };
        // Tightens a database an older Pinion created readable by others.
        crate::private_fs::restrict_sqlite_files(path)
            .map_err(|source| io_unavailable("restrict the permissions of", path, source))?;
        Sqlite::migrations().run(&pool).await?;
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        let changes = ChangeFeed::for_location(&format!("sqlite:{}", canonical.display()));
        crate::changes::watch_sqlite(&changes, connect_options.create_if_missing(false));
        let store = Self::assemble(
            pool,
            Keys::new(keyring, source),
            options.clock.clone(),
            changes,
            path.to_owned(),
        );
        store.register_keys().await?;
        Ok((store, notice))
    }

    /// How every connection to the file at `path` is set up: WAL,
    /// `synchronous=FULL`, foreign keys on, the busy timeout and page limit
    /// of `options`. Creates no file.
    pub(crate) fn connect_options(path: &Path, options: &ConnectOptions) -> SqliteConnectOptions {
        let connect_options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        match options.sqlite_max_page_count {
            Some(pages) => connect_options.pragma("max_page_count", pages.to_string()),
            None => connect_options,
        }
    }

    /// The pool's settings. A connection is dropped instead of reused when it
    /// still counts an open transaction: SQLite rolls a transaction back by
    /// itself on some errors (`SQLITE_FULL`, `SQLITE_IOERR`), the driver's own
    /// rollback then fails, and the connection would refuse every later
    /// `BEGIN`. The pool pings a connection when it comes back, after the
    /// rollback its dropped transaction queued, so the count is final by the
    /// time the connection is handed out again.
    pub(crate) fn pool_options(options: &ConnectOptions) -> SqlitePoolOptions {
        SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.connect_timeout)
            .before_acquire(|conn, _| {
                Box::pin(async move {
                    if conn.is_in_transaction() {
                        tracing::warn!(
                            "Dropping a database connection left in a transaction after an error."
                        );
                        return Ok(false);
                    }
                    Ok(true)
                })
            })
    }

    /// Loads the keyring, generating the data-directory key file for a new
    /// database and refusing to generate one for a database that has data.
    fn load_keyring(
        path: &Path,
        source: &KeySource,
        stored: Option<&BTreeMap<KeyVersion, Vec<u8>>>,
        is_new: bool,
        notice: &mut Option<KeyNotice>,
    ) -> Result<Keyring, StoreError> {
        match source {
            KeySource::DataDirFile(file) if !file.exists() => {
                if !is_new {
                    let version = stored.and_then(|s| s.keys().next().copied()).unwrap_or(1);
                    return Err(StoreError::KeyMissing {
                        version,
                        source_description: format!(
                            "{} (the file does not exist, but database {} holds encrypted data)",
                            source.describe(),
                            path.display()
                        ),
                    });
                }
                if let Some(parent) = file.parent() {
                    create_dir(parent)?;
                }
                let keyring = generate_key_file(file)?;
                tracing::info!(key_file = %file.display(), "Generated a new master key file.");
                *notice = Some(KeyNotice::GeneratedKeyFile(file.clone()));
                Ok(keyring)
            }
            other => Ok(other.load()?),
        }
    }

    /// Opens with a keyring built in code (tests, benchmarks).
    pub async fn open_with_keyring(
        path: &Path,
        keyring: Keyring,
        options: &ConnectOptions,
    ) -> Result<Self, StoreError> {
        let (store, _) = Self::open(path, KeySource::Given(Arc::new(keyring)), options).await?;
        Ok(store)
    }
}

/// Creates `dir` and its missing parents, 0700.
fn create_dir(dir: &Path) -> Result<(), StoreError> {
    crate::private_fs::create_dir_all(dir)
        .map_err(|source| io_unavailable("create directory", dir, source))
}

pub(crate) fn io_unavailable(action: &str, path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Unavailable {
        cause: format!("cannot {action} {}: {source}", path.display()),
        source: sqlx::Error::Io(source),
    }
}
