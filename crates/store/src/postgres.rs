//! The PostgreSQL store, for several `pinion serve` replicas sharing one
//! database. Writes lock the rows they read (`FOR UPDATE`), re-encryption claims
//! rows with `FOR UPDATE SKIP LOCKED` so concurrent runs share the work, and
//! compare-and-set on `version` guards every credential write.

use std::sync::Arc;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use crate::ConnectOptions;
use crate::changes::ChangeFeed;
use crate::crypto::Keyring;
use crate::dialect::Dialect;
use crate::error::{Backend, StoreError};
use crate::keys::{KeyError, KeySource, MASTER_KEY_ENV, MASTER_KEY_FILE_ENV};
use crate::sql::{Keys, SqlStore, verify_keyring};
use crate::store::BackendKind;

/// The PostgreSQL implementation of [`crate::Store`]: the generic store on
/// the PostgreSQL [`Dialect`].
pub type PgStore = SqlStore<Postgres>;

impl Dialect for Postgres {
    const BACKEND: Backend = Backend::Postgres;
    const KIND: BackendKind = BackendKind::Postgres;
    const STORE_NAME: &'static str = "PgStore";
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const FOR_SHARE: &'static str = " FOR SHARE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    // Conflicts with itself and with every write, not with reads.
    const LOCK_TABLE: &'static str = "LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE";
    // The time the statement started, the same throughout it.
    const NOW_MICROS: &'static str =
        "CAST(EXTRACT(EPOCH FROM statement_timestamp()) * 1000000 AS BIGINT)";

    /// Nothing: the URL may hold a password, and the pool knows the rest.
    type Origin = ();

    async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        pool.begin().await
    }

    /// Nothing to do before closing: PostgreSQL manages its own files.
    async fn before_close(_pool: &PgPool) {}

    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn migrations() -> &'static sqlx::migrate::Migrator {
        static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
        &MIGRATIONS
    }

    fn debug_origin(_origin: &(), _out: &mut std::fmt::DebugStruct<'_, '_>) {}
}

impl SqlStore<Postgres> {
    /// Connects to `url` (`postgres://…`).
    ///
    /// The keys are checked against the stored key-check values before
    /// migrations run or anything is written. Keys are never generated here:
    /// replicas must share them, so they come from `PINION_MASTER_KEY` or
    /// `PINION_MASTER_KEY_FILE`.
    #[tracing::instrument(skip_all)]
    pub async fn open(
        url: &str,
        source: KeySource,
        options: &ConnectOptions,
    ) -> Result<Self, StoreError> {
        if let KeySource::DataDirFile(file) = &source
            && !file.exists()
        {
            return Err(KeyError::NotConfigured(format!(
                "PostgreSQL is shared by replicas, so its keys are never generated; set \
                 {MASTER_KEY_ENV} or {MASTER_KEY_FILE_ENV} (the same on every replica)"
            ))
            .into());
        }
        let keyring = source.load()?;
        let pool = Self::connect_pool(url, options).await?;
        let (has_schema,): (bool,) = sqlx::query_as("SELECT to_regclass('key_checks') IS NOT NULL")
            .fetch_one(&pool)
            .await
            .map_err(Self::db_error)?;
        if has_schema {
            // Refuse before migrations or any write.
            let stored = Self::stored_checks(&pool, 0, "").await?;
            verify_keyring(&keyring, &stored, &source, false)?;
        }
        Postgres::migrations().run(&pool).await?;
        let changes = ChangeFeed::for_location(url);
        crate::changes::watch_postgres(&changes, pool.clone());
        let store = Self::assemble(
            pool,
            Keys::new(keyring, source),
            options.clock.clone(),
            changes,
            (),
        );
        store.register_keys().await?;
        Ok(store)
    }

    /// The pool, with its first connection open. Every later call waits at
    /// most `acquire_timeout` for a connection (sqlx pings an idle one
    /// before handing it out, so a server that stopped answering is found
    /// there), while opening the store waits up to `connect_timeout` for the
    /// server, as a database still starting up may need.
    pub(crate) async fn connect_pool(
        url: &str,
        options: &ConnectOptions,
    ) -> Result<PgPool, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy(url)
            .map_err(Self::db_error)?;
        let deadline = tokio::time::Instant::now() + options.connect_timeout;
        loop {
            match pool.acquire().await {
                Ok(connection) => {
                    drop(connection);
                    return Ok(pool);
                }
                Err(sqlx::Error::PoolTimedOut) if tokio::time::Instant::now() < deadline => {}
                Err(err) => return Err(Self::db_error(err)),
            }
        }
    }

    /// Connects with a keyring built in code (tests, benchmarks).
    pub async fn open_with_keyring(
        url: &str,
        keyring: Keyring,
        options: &ConnectOptions,
    ) -> Result<Self, StoreError> {
        Self::open(url, KeySource::Given(Arc::new(keyring)), options).await
    }
}
