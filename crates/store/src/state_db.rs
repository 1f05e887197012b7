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
use crate::dialect::Dialect;
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
            prepare(pool, options, format!("sqlite:{}", canonical.display())).await
        }
        DatabaseLocation::Postgres(url) => {
            let pool = SqlStore::<Postgres>::connect_pool(&url, options).await?;
            prepare(pool, options, url).await
        }
    }
}

/// Migrates (adopting an earlier version's tables) and wraps the pool.
async fn prepare<D: Legacy>(
    pool: Pool<D>,
    options: &ConnectOptions,
    feed_location: String,
) -> Result<Arc<dyn SyncStateStore>, StoreError>
where
    SqlSyncState<D>: SyncStateStore,
{
    if let Err(err) = migrate(&pool).await {
        pool.close().await;
        return Err(err);
    }
    Ok(Arc::new(SqlSyncState {
        pool,
        clock: options.clock.clone(),
        changes: ChangeFeed::for_location(&feed_location),
    }))
}

/// Applies the sync-state migration alone, adopting tables of an earlier
/// version first.
async fn migrate<D: Legacy>(pool: &Pool<D>) -> Result<(), StoreError> {
    let legacy = D::has_table(pool, "sync_runs").await?
        && !D::migration_recorded(pool, SYNC_STATE_MIGRATION).await?;
    if legacy {
        tracing::info!("Adopting sync state written by an earlier version.");
        let mut tx = D::begin_write(pool)
            .await
            .map_err(SqlStore::<D>::db_error)?;
        for table in TABLES {
            if D::has_table_in(&mut tx, table).await? {
                D::execute(
                    &mut tx,
                    &format!("ALTER TABLE {table} RENAME TO legacy_{table}"),
                )
                .await?;
            }
        }
        tx.commit().await.map_err(SqlStore::<D>::db_error)?;
    }
    D::run_sync_migration(pool).await?;
    if D::has_table(pool, "legacy_sync_runs").await? {
        let mut tx = D::begin_write(pool)
            .await
            .map_err(SqlStore::<D>::db_error)?;
        for statement in D::COPY_LEGACY {
            D::execute(&mut tx, statement).await?;
        }
        for table in TABLES.iter().rev() {
            D::execute(&mut tx, &format!("DROP TABLE IF EXISTS legacy_{table}")).await?;
        }
        tx.commit().await.map_err(SqlStore::<D>::db_error)?;
    }
    Ok(())
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

/// What opening a sync-state database needs per database: which tables
/// exist, what the migrations table records, how rows of an earlier
/// version's tables are copied. Concrete per database, like the store's
/// opening code.
trait Legacy: Dialect {
    /// Copies an earlier version's rows (in `legacy_*` tables) into the
    /// migrated tables; rows of runs that do not exist are left behind.
    const COPY_LEGACY: &'static [&'static str];

    fn has_table(
        pool: &Pool<Self>,
        table: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn has_table_in(
        tx: &mut sqlx::Transaction<'static, Self>,
        table: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn migration_recorded(
        pool: &Pool<Self>,
        version: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn execute(
        tx: &mut sqlx::Transaction<'static, Self>,
        sql: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn run_sync_migration(pool: &Pool<Self>)
    -> impl Future<Output = Result<(), StoreError>> + Send;
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

    async fn has_table(pool: &Pool<Self>, table: &str) -> Result<bool, StoreError> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1")
                .bind(table)
                .fetch_one(pool)
                .await
                .map_err(SqlStore::<Sqlite>::db_error)?;
        Ok(count > 0)
    }

    async fn has_table_in(
        tx: &mut sqlx::Transaction<'static, Self>,
        table: &str,
    ) -> Result<bool, StoreError> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1")
                .bind(table)
                .fetch_one(&mut **tx)
                .await
                .map_err(SqlStore::<Sqlite>::db_error)?;
        Ok(count > 0)
    }

    async fn migration_recorded(pool: &Pool<Self>, version: i64) -> Result<bool, StoreError> {
        if !Self::has_table(pool, "_sqlx_migrations").await? {
            return Ok(false);
        }
        let (count,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM _sqlx_migrations WHERE version = $1")
                .bind(version)
                .fetch_one(pool)
                .await
                .map_err(SqlStore::<Sqlite>::db_error)?;
        Ok(count > 0)
    }

    async fn execute(
        tx: &mut sqlx::Transaction<'static, Self>,
        sql: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(sql)
            .execute(&mut **tx)
            .await
            .map_err(SqlStore::<Sqlite>::db_error)?;
        Ok(())
    }

    async fn run_sync_migration(pool: &Pool<Self>) -> Result<(), StoreError> {
        sync_state_migrator(Self::migrations())
            .await?
            .run(pool)
            .await?;
        Ok(())
    }
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

    async fn has_table(pool: &Pool<Self>, table: &str) -> Result<bool, StoreError> {
        let (count,): (bool,) = sqlx::query_as("SELECT to_regclass($1) IS NOT NULL")
            .bind(table)
            .fetch_one(pool)
            .await
            .map_err(SqlStore::<Postgres>::db_error)?;
        Ok(count)
    }

    async fn has_table_in(
        tx: &mut sqlx::Transaction<'static, Self>,
        table: &str,
    ) -> Result<bool, StoreError> {
        let (count,): (bool,) = sqlx::query_as("SELECT to_regclass($1) IS NOT NULL")
            .bind(table)
            .fetch_one(&mut **tx)
            .await
            .map_err(SqlStore::<Postgres>::db_error)?;
        Ok(count)
    }

    async fn migration_recorded(pool: &Pool<Self>, version: i64) -> Result<bool, StoreError> {
        if !Self::has_table(pool, "_sqlx_migrations").await? {
            return Ok(false);
        }
        let (count,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM _sqlx_migrations WHERE version = $1")
                .bind(version)
                .fetch_one(pool)
                .await
                .map_err(SqlStore::<Postgres>::db_error)?;
        Ok(count > 0)
    }

    async fn execute(
        tx: &mut sqlx::Transaction<'static, Self>,
        sql: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(sql)
            .execute(&mut **tx)
            .await
            .map_err(SqlStore::<Postgres>::db_error)?;
        Ok(())
    }

    async fn run_sync_migration(pool: &Pool<Self>) -> Result<(), StoreError> {
        sync_state_migrator(Self::migrations())
            .await?
            .run(pool)
            .await?;
        Ok(())
    }
}
