//! A database that holds only sync state: [`open_sync_state`], for
//! `pinion sync --state PATH|URL` and the sync crash-test worker.
//!
//! It is the store's own sync state ([`SqlSyncState`]) on a database of its
//! own: the same tables, made by the same migration (`0020_sync_state.sql`,
//! run alone through sqlx's migrator with only that migration, recorded in
//! `_sqlx_migrations` as in the store), the same SQL. It needs no master
//! key, since sync state holds no secret. A SQLite file is created if
//! missing, 0600 like the store's, in WAL mode with `synchronous=FULL`.
//!
//! A state database written by an earlier version (tables made by the sync
//! crate itself, without the migration's constraints and types, and no
//! `_sqlx_migrations` row for them) is adopted on open: its tables are
//! renamed, the migration makes the current ones, and the rows are copied
//! over in one transaction ([`adopt_legacy`]). An interrupted adoption
//! resumes at the next open.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sqlx::migrate::{Migration, MigrationSource, Migrator};
use sqlx::{Pool, Postgres, Sqlite};

use crate::changes::ChangeFeed;
use crate::dialect::{Dialect, Timestamp};
use crate::error::StoreError;
use crate::sql::SqlStore;
use crate::sync_state::{SqlSyncState, SyncStateStore};
use crate::{ConnectOptions, DatabaseLocation};

/// The version of the migration that makes the sync-state tables
/// (`0020_sync_state.sql` on both databases).
pub(crate) const SYNC_STATE_MIGRATION: i64 = 20;

/// The sync-state tables, in the order their rows are copied.
const TABLES: [&str; 5] = [
    "sync_runs",
    "sync_streams",
    "sync_partitions",
    "sync_watermarks",
    "publish_ledger",
];

/// Opens (creating if needed) the sync state at `location`: a SQLite file
/// path, `sqlite:PATH`, or `postgres://…`, and applies the sync-state
/// migration only. A database that already holds a full store is left as it
/// is (its migration is already recorded, with the same checksum).
pub async fn open_sync_state(
    location: &str,
    options: &ConnectOptions,
) -> Result<Arc<dyn SyncStateStore>, StoreError> {
    match DatabaseLocation::parse(location)? {
        DatabaseLocation::Sqlite(path) => {
            // The file first, 0600, so SQLite's -wal and -shm inherit its
            // mode (see `private_fs`).
            crate::private_fs::prepare_sqlite_file(&path)
                .map_err(|source| crate::sqlite::io_unavailable("create", &path, source))?;
            let pool = SqlStore::<Sqlite>::pool_options(options)
                .connect_with(SqlStore::<Sqlite>::connect_options(&path, options))
                .await
                .map_err(SqlStore::<Sqlite>::db_error)?;
            crate::private_fs::restrict_sqlite_files(&path).map_err(|source| {
                crate::sqlite::io_unavailable("restrict the permissions of", &path, source)
            })?;
            let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            let location = format!("sqlite:{}", canonical.display());
            Ok(Arc::new(
                SqlSyncState::open(pool, options, &location).await?,
            ))
        }
        DatabaseLocation::Postgres(url) => {
            let pool = SqlStore::<Postgres>::connect_pool(&url, options).await?;
            Ok(Arc::new(SqlSyncState::open(pool, options, &url).await?))
        }
    }
}

/// Opening a sync-state database, written once over the dialect.
impl<D> SqlSyncState<D>
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
    /// Migrates `pool` (adopting an earlier version's tables) and wraps it;
    /// the pool is closed when that fails.
    async fn open(
        pool: Pool<D>,
        options: &ConnectOptions,
        feed_location: &str,
    ) -> Result<Self, StoreError>
    where
        D: Legacy,
        D::Connection: sqlx::migrate::Migrate,
    {
        let state = Self {
            pool,
            clock: options.clock.clone(),
            changes: ChangeFeed::for_location(feed_location),
        };
        if let Err(err) = state.migrate().await {
            state.pool.close().await;
            return Err(err);
        }
        Ok(state)
    }

    /// Applies the sync-state migration alone, adopting tables of an
    /// earlier version first.
    async fn migrate(&self) -> Result<(), StoreError>
    where
        D: Legacy,
        D::Connection: sqlx::migrate::Migrate,
    {
        let pool = &self.pool;
        let legacy = Self::has_table(pool, "sync_runs").await?
            && !self.migration_recorded(SYNC_STATE_MIGRATION).await?;
        if legacy {
            tracing::info!("Adopting sync state written by an earlier version.");
            let mut tx = D::begin_write(pool)
                .await
                .map_err(SqlStore::<D>::db_error)?;
            for table in TABLES {
                if Self::has_table(&mut *tx, table).await? {
                    Self::execute(
                        &mut tx,
                        &format!("ALTER TABLE {table} RENAME TO legacy_{table}"),
                    )
                    .await?;
                }
            }
            tx.commit().await.map_err(SqlStore::<D>::db_error)?;
        }
        sync_state_migrator(D::migrations())
            .await?
            .run(pool)
            .await?;
        if Self::has_table(pool, "legacy_sync_runs").await? {
            let mut tx = D::begin_write(pool)
                .await
                .map_err(SqlStore::<D>::db_error)?;
            for statement in D::COPY_LEGACY {
                Self::execute(&mut tx, statement).await?;
            }
            for table in TABLES.iter().rev() {
                Self::execute(&mut tx, &format!("DROP TABLE IF EXISTS legacy_{table}")).await?;
            }
            tx.commit().await.map_err(SqlStore::<D>::db_error)?;
        }
        Ok(())
    }

    /// Whether `table` exists, read through `executor` (the pool, or a
    /// transaction that may have renamed it).
    async fn has_table<'e, E>(executor: E, table: &str) -> Result<bool, StoreError>
    where
        D: Legacy,
        E: sqlx::Executor<'e, Database = D>,
    {
        sqlx::query_scalar(D::TABLE_EXISTS)
            .bind(table)
            .fetch_one(executor)
            .await
            .map_err(SqlStore::<D>::db_error)
    }

    /// Whether sqlx's migrations table records migration `version`.
    async fn migration_recorded(&self, version: i64) -> Result<bool, StoreError>
    where
        D: Legacy,
    {
        if !Self::has_table(&self.pool, "_sqlx_migrations").await? {
            return Ok(false);
        }
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE version = $1")
                .bind(version)
                .fetch_one(&self.pool)
                .await
                .map_err(SqlStore::<D>::db_error)?;
        Ok(count > 0)
    }

    async fn execute(tx: &mut sqlx::Transaction<'static, D>, sql: &str) -> Result<(), StoreError> {
        sqlx::query(sql)
            .execute(&mut **tx)
            .await
            .map_err(SqlStore::<D>::db_error)?;
        Ok(())
    }
}

/// Only the sync-state migration of a database's full list, as a
/// [`MigrationSource`]: the embedded migration itself, so its checksum is
/// the one a full store records.
#[derive(Debug)]
struct SyncStateOnly(&'static Migrator);

impl<'s> MigrationSource<'s> for SyncStateOnly {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, sqlx::error::BoxDynError>> + Send + 's>>
    {
        let migrations = self
            .0
            .iter()
            .filter(|migration| migration.version == SYNC_STATE_MIGRATION)
            .cloned()
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

/// A migrator that applies the sync-state migration and ignores every
/// other one recorded (a database holding a full store, too).
async fn sync_state_migrator(full: &'static Migrator) -> Result<Migrator, StoreError> {
    let mut migrator = Migrator::new(SyncStateOnly(full)).await?;
    migrator.set_ignore_missing(true);
    Ok(migrator)
}

/// What opening a sync-state database needs per database: how to ask
/// whether a table exists, and how rows of an earlier version's tables are
/// copied (their types differ).
trait Legacy: Dialect {
    /// Copies an earlier version's rows (in `legacy_*` tables) into the
    /// migrated tables; rows of runs that do not exist are left behind.
    const COPY_LEGACY: &'static [&'static str];

    /// A query that answers whether the table named `$1` exists, as a
    /// boolean.
    const TABLE_EXISTS: &'static str;
}

impl Legacy for Sqlite {
    const COPY_LEGACY: &'static [&'static str] = &[
        "INSERT INTO sync_runs (id, job, status, started_at, finished_at) \
         SELECT id, job, status, started_at, finished_at FROM legacy_sync_runs",
        "INSERT INTO sync_streams (run_id, stream, status, position, records, message) \
         SELECT run_id, stream, status, position, records, message FROM legacy_sync_streams \
         WHERE run_id IN (SELECT id FROM sync_runs)",
        "INSERT INTO sync_partitions (run_id, stream, part, bookmark, done, watermark) \
         SELECT run_id, stream, part, bookmark, done <> 0, watermark FROM legacy_sync_partitions \
         WHERE run_id IN (SELECT id FROM sync_runs)",
        "INSERT INTO sync_watermarks (job, stream, part, value) \
         SELECT job, stream, part, value FROM legacy_sync_watermarks",
        "INSERT INTO publish_ledger (namespace, key, state, target, object_id, sent_at, message, \
         updated_at) SELECT namespace, key, state, target, object_id, sent_at, message, \
         updated_at FROM legacy_publish_ledger",
    ];

    const TABLE_EXISTS: &'static str =
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = $1";
}

impl Legacy for Postgres {
    const COPY_LEGACY: &'static [&'static str] = &[
        "INSERT INTO sync_runs (id, job, status, started_at, finished_at) \
         SELECT id, job, status, CAST(started_at AS TIMESTAMPTZ), \
         CAST(finished_at AS TIMESTAMPTZ) FROM legacy_sync_runs",
        "SELECT setval(pg_get_serial_sequence('sync_runs', 'id'), \
         COALESCE((SELECT MAX(id) FROM sync_runs), 0) + 1, false)",
        "INSERT INTO sync_streams (run_id, stream, status, position, records, message) \
         SELECT run_id, stream, status, position, records, message FROM legacy_sync_streams \
         WHERE run_id IN (SELECT id FROM sync_runs)",
        "INSERT INTO sync_partitions (run_id, stream, part, bookmark, done, watermark) \
         SELECT run_id, stream, part, bookmark, done <> 0, watermark FROM legacy_sync_partitions \
         WHERE run_id IN (SELECT id FROM sync_runs)",
        "INSERT INTO sync_watermarks (job, stream, part, value) \
         SELECT job, stream, part, value FROM legacy_sync_watermarks",
        "INSERT INTO publish_ledger (namespace, key, state, target, object_id, sent_at, message, \
         updated_at) SELECT namespace, key, state, target, object_id, \
         CAST(sent_at AS TIMESTAMPTZ), message, CAST(updated_at AS TIMESTAMPTZ) \
         FROM legacy_publish_ledger",
    ];

    const TABLE_EXISTS: &'static str = "SELECT to_regclass($1) IS NOT NULL";
}
