//! Sync state (issue 5): the per-stream progress of `pinion sync` runs and
//! the publish ledger of `pinion publish`, typed, with its one SQL
//! implementation.
//!
//! A job names a credential plus a destination, so two runs of different
//! jobs never share progress, and a ledger namespace names a credential.
//! Nothing stored here is a secret. A checkpoint is one transaction: after a
//! crash the state holds the previous checkpoint or the new one, never half.
//!
//! The state lives in Pinion's store (every [`crate::Store`] is a
//! [`SyncStateStore`]), or on its own in a database that holds nothing else
//! ([`crate::open_sync_state`], for `pinion sync --state` and the sync
//! crash-test worker): the same tables, created by the same migration
//! (`0020_sync_state.sql`), written by the same code, [`SqlSyncState`].

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pinion_domain::Clock;
use sqlx::Pool;

use crate::changes::ChangeFeed;
use crate::dialect::{Dialect, Timestamp};
use crate::error::StoreError;
use crate::sql::SqlStore;

/// A sync run's id in the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SyncRunId(pub i64);

/// Where one partition (a board, a section, an ad account, or `""` for a
/// stream read as one list) of a stream stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionProgress {
    /// The bookmark of the next page to read; `None` with `done == false`
    /// means "from the first page".
    pub bookmark: Option<String>,
    /// True once every page of the partition is committed.
    pub done: bool,
    /// The partition's change marker seen by this run (a board's
    /// `board_pins_modified_at`, the last analytics date), promoted to the
    /// job's watermarks when the run succeeds.
    pub watermark: Option<String>,
}

/// A stream's status in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    /// Started, not finished.
    Running,
    /// Every record committed and the output completed.
    Done,
    /// Not read: scopes or options prevented it (see the message).
    Skipped,
    /// Stopped by an error (see the message); resumable.
    Failed,
}

impl StreamStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Running => "running",
            StreamStatus::Done => "done",
            StreamStatus::Skipped => "skipped",
            StreamStatus::Failed => "failed",
        }
    }

    /// The status stored as `text`; anything else is corruption.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "running" => StreamStatus::Running,
            "done" => StreamStatus::Done,
            "skipped" => StreamStatus::Skipped,
            "failed" => StreamStatus::Failed,
            other => return Err(StoreError::Corrupt(format!("stream status `{other}`"))),
        })
    }
}

/// What a run had committed for one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamProgress {
    /// The stream's status.
    pub status: StreamStatus,
    /// The destination position of the last commit.
    pub position: Option<u64>,
    /// Records committed so far.
    pub records: u64,
    /// Progress per partition.
    pub partitions: HashMap<String, PartitionProgress>,
}

/// A run that was started or resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStart {
    /// The run.
    pub run_id: SyncRunId,
    /// True when an unfinished run was continued.
    pub resumed: bool,
    /// What that run had committed, by stream name (empty for a new run).
    pub streams: HashMap<String, StreamProgress>,
}

/// One checkpoint of a stream: saved only after the destination committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The destination position returned by the commit.
    pub position: u64,
    /// Records committed in the stream so far.
    pub records: u64,
    /// The partitions that moved since the previous checkpoint.
    pub partitions: Vec<(String, PartitionProgress)>,
}

/// Where a publish row stands in the ledger (an outbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerState {
    /// Written before the create request, and kept when the answer was
    /// lost (timeout, 5xx, cut answer): the object may exist, so it is
    /// looked for (after the settle window) before it is created again.
    Sent,
    /// Pinterest answered with the created object's id.
    Confirmed,
    /// Written by earlier versions for a lost answer; read like `Sent`.
    Unknown,
    /// Pinterest refused the row; nothing was created.
    Failed,
}

impl LedgerState {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerState::Sent => "sent",
            LedgerState::Confirmed => "confirmed",
            LedgerState::Unknown => "unknown",
            LedgerState::Failed => "failed",
        }
    }

    /// The state stored as `text`; anything else is corruption.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "sent" => LedgerState::Sent,
            "confirmed" => LedgerState::Confirmed,
            "unknown" => LedgerState::Unknown,
            "failed" => LedgerState::Failed,
            other => return Err(StoreError::Corrupt(format!("ledger state `{other}`"))),
        })
    }
}

/// One ledger row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The state.
    pub state: LedgerState,
    /// The board the object was created on (pins) or `""` (boards).
    pub target: String,
    /// The created object's id, once confirmed.
    pub object_id: Option<String>,
    /// When the first create request for the key was sent; later sends
    /// never move it, so a search for the object reaches back to it.
    pub sent_at: Option<DateTime<Utc>>,
    /// The last write of the entry: for a `sent` row, the lost answer (or
    /// the send, after a crash), from which the settle window runs.
    pub updated_at: DateTime<Utc>,
    /// Why it failed, or why its outcome is unknown.
    pub message: Option<String>,
}

/// Sync-run progress and the publish ledger. Every [`crate::Store`]
/// implements it, and so does a database holding only sync state
/// ([`crate::open_sync_state`]).
#[async_trait]
pub trait SyncStateStore: Send + Sync + std::fmt::Debug {
    /// Starts a run of `job`. With `resume`, continues the job's latest run
    /// that did not succeed, if any; otherwise such runs are abandoned.
    async fn sync_begin_run(&self, job: &str, resume: bool) -> Result<RunStart, StoreError>;

    /// Saves a stream's checkpoint (position, count, moved partitions) in
    /// one transaction.
    async fn sync_save_checkpoint(
        &self,
        run: SyncRunId,
        stream: &str,
        checkpoint: &Checkpoint,
    ) -> Result<(), StoreError>;

    /// Records a stream's status and a message saying why (for skipped and
    /// failed streams).
    async fn sync_set_stream_status(
        &self,
        run: SyncRunId,
        stream: &str,
        status: StreamStatus,
        message: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Ends a run; when it succeeded, its finished partitions' watermarks
    /// become the job's, used by the next incremental run, in the same
    /// transaction.
    async fn sync_finish_run(
        &self,
        run: SyncRunId,
        job: &str,
        succeeded: bool,
    ) -> Result<(), StoreError>;

    /// The job's watermarks for `stream`, by partition, from its last
    /// successful runs.
    async fn sync_watermarks(
        &self,
        job: &str,
        stream: &str,
    ) -> Result<HashMap<String, String>, StoreError>;

    /// The ledger entry for `key` in `namespace` (a credential), if any.
    async fn ledger_entry(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<LedgerEntry>, StoreError>;

    /// Records, durably and before the request, that `key` is being created
    /// on `target`: state `sent`, with `sent_at` set by the first call only.
    async fn ledger_record_sent(
        &self,
        namespace: &str,
        key: &str,
        target: &str,
    ) -> Result<(), StoreError>;

    /// Records the created object's id (state `confirmed`).
    async fn ledger_record_confirmed(
        &self,
        namespace: &str,
        key: &str,
        object_id: &str,
    ) -> Result<(), StoreError>;

    /// Records an answer that was lost (`Sent`: the row stays `sent`) or a
    /// refusal (`Failed`), with the reason.
    async fn ledger_record_outcome(
        &self,
        namespace: &str,
        key: &str,
        state: LedgerState,
        message: &str,
    ) -> Result<(), StoreError>;

    /// Ids of objects confirmed on `target` in `namespace`, so
    /// reconciliation never claims an object that belongs to another row.
    async fn ledger_confirmed_ids(
        &self,
        namespace: &str,
        target: &str,
    ) -> Result<Vec<String>, StoreError>;
}

#[derive(sqlx::FromRow)]
pub(crate) struct LedgerRow {
    pub state: String,
    pub target: String,
    pub object_id: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub message: Option<String>,
}

impl LedgerRow {
    fn into_entry(self) -> Result<LedgerEntry, StoreError> {
        Ok(LedgerEntry {
            state: LedgerState::parse(&self.state)?,
            target: self.target,
            object_id: self.object_id,
            sent_at: self.sent_at,
            updated_at: self.updated_at,
            message: self.message,
        })
    }
}

/// The sync state on SQL, for both dialects: the pool it writes through,
/// where times come from, and the change feed its commits bump. A
/// [`SqlStore`] holds one on its own pool; [`crate::open_sync_state`]
/// makes one for a database that holds only sync state.
pub struct SqlSyncState<D: Dialect> {
    pub(crate) pool: Pool<D>,
    pub(crate) clock: std::sync::Arc<dyn Clock>,
    pub(crate) changes: ChangeFeed,
}

impl<D: Dialect> std::fmt::Debug for SqlSyncState<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlSyncState").finish_non_exhaustive()
    }
}

/// What needs no sqlx bounds beyond the dialect's.
impl<D: Dialect> SqlSyncState<D> {
    fn db_error(err: sqlx::Error) -> StoreError {
        SqlStore::<D>::db_error(err)
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, D>, StoreError> {
        D::begin_write(&self.pool).await.map_err(Self::db_error)
    }

    async fn commit(&self, tx: sqlx::Transaction<'static, D>) -> Result<(), StoreError> {
        tx.commit().await.map_err(Self::db_error)?;
        self.changes.bump();
        Ok(())
    }
}

/// The helpers the store's other parts share (a source's deletion drops its
/// job's state in the same transaction).
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
    /// What run `run` had committed, by stream.
    async fn load_run(&self, run: i64) -> Result<HashMap<String, StreamProgress>, StoreError> {
        let streams: Vec<(String, String, Option<i64>, i64)> = sqlx::query_as(
            "SELECT stream, status, position, records FROM sync_streams \
             WHERE run_id = $1 ORDER BY stream",
        )
        .bind(run)
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)?;
        /// `(stream, part, bookmark, done, watermark)`.
        type PartRow = (String, String, Option<String>, bool, Option<String>);
        let parts: Vec<PartRow> = sqlx::query_as(
            "SELECT stream, part, bookmark, done, watermark FROM sync_partitions \
             WHERE run_id = $1 ORDER BY stream, part",
        )
        .bind(run)
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)?;
        let mut out = HashMap::with_capacity(streams.len());
        for (stream, status, position, records) in streams {
            let progress = StreamProgress {
                status: StreamStatus::parse(&status)?,
                position: position.map(|p| p as u64),
                records: records as u64,
                partitions: HashMap::new(),
            };
            out.insert(stream, progress);
        }
        for (stream, part, bookmark, done, watermark) in parts {
            if let Some(entry) = out.get_mut(&stream) {
                let progress = PartitionProgress {
                    bookmark,
                    done,
                    watermark,
                };
                entry.partitions.insert(part, progress);
            }
        }
        Ok(out)
    }

    /// Deletes every run of `job` (their streams and partitions
    /// too) and its watermarks, inside the caller's transaction.
    pub(crate) async fn delete_job(
        tx: &mut sqlx::Transaction<'static, D>,
        job: &str,
    ) -> Result<(), StoreError> {
        for sql in [
            "DELETE FROM sync_partitions WHERE run_id IN \
             (SELECT id FROM sync_runs WHERE job = $1)",
            "DELETE FROM sync_streams WHERE run_id IN \
             (SELECT id FROM sync_runs WHERE job = $1)",
            "DELETE FROM sync_runs WHERE job = $1",
            "DELETE FROM sync_watermarks WHERE job = $1",
        ] {
            sqlx::query(sql)
                .bind(job)
                .execute(&mut **tx)
                .await
                .map_err(Self::db_error)?;
        }
        Ok(())
    }
}

#[async_trait]
impl<D> SyncStateStore for SqlSyncState<D>
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
    async fn sync_begin_run(&self, job: &str, resume: bool) -> Result<RunStart, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        if resume {
            let latest: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM sync_runs WHERE job = $1 \
                 AND status IN ('running', 'failed') ORDER BY id DESC LIMIT 1",
            )
            .bind(job)
            .fetch_optional(&mut *tx)
            .await
            .map_err(Self::db_error)?;
            if let Some(id) = latest {
                sqlx::query("UPDATE sync_runs SET status = 'running' WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(Self::db_error)?;
                self.commit(tx).await?;
                return Ok(RunStart {
                    run_id: SyncRunId(id),
                    resumed: true,
                    streams: self.load_run(id).await?,
                });
            }
        }
        sqlx::query(
            "UPDATE sync_runs SET status = 'abandoned' \
             WHERE job = $1 AND status IN ('running', 'failed')",
        )
        .bind(job)
        .execute(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sync_runs (job, status, started_at) \
             VALUES ($1, 'running', $2) RETURNING id",
        )
        .bind(job)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        self.commit(tx).await?;
        Ok(RunStart {
            run_id: SyncRunId(id),
            resumed: false,
            streams: HashMap::new(),
        })
    }

    async fn sync_save_checkpoint(
        &self,
        run: SyncRunId,
        stream: &str,
        checkpoint: &Checkpoint,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sync_streams (run_id, stream, status, position, records) \
             VALUES ($1, $2, 'running', $3, $4) ON CONFLICT (run_id, stream) DO UPDATE \
             SET position = excluded.position, records = excluded.records",
        )
        .bind(run.0)
        .bind(stream)
        .bind(checkpoint.position as i64)
        .bind(checkpoint.records as i64)
        .execute(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        for (part, p) in &checkpoint.partitions {
            sqlx::query(
                "INSERT INTO sync_partitions (run_id, stream, part, bookmark, done, \
                 watermark) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (run_id, stream, part) DO UPDATE SET \
                 bookmark = excluded.bookmark, done = excluded.done, \
                 watermark = excluded.watermark",
            )
            .bind(run.0)
            .bind(stream)
            .bind(part)
            .bind(p.bookmark.as_deref())
            .bind(p.done)
            .bind(p.watermark.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        }
        self.commit(tx).await
    }

    async fn sync_set_stream_status(
        &self,
        run: SyncRunId,
        stream: &str,
        status: StreamStatus,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sync_streams (run_id, stream, status, message) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (run_id, stream) DO UPDATE SET \
             status = excluded.status, message = excluded.message",
        )
        .bind(run.0)
        .bind(stream)
        .bind(status.as_str())
        .bind(message)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(())
    }

    async fn sync_finish_run(
        &self,
        run: SyncRunId,
        job: &str,
        succeeded: bool,
    ) -> Result<(), StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE sync_runs SET status = $1, finished_at = $2 WHERE id = $3")
            .bind(if succeeded { "succeeded" } else { "failed" })
            .bind(now)
            .bind(run.0)
            .execute(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        if succeeded {
            sqlx::query(
                "INSERT INTO sync_watermarks (job, stream, part, value) \
                 SELECT CAST($1 AS TEXT), stream, part, watermark FROM sync_partitions \
                 WHERE run_id = $2 AND done = TRUE AND watermark IS NOT NULL \
                 ON CONFLICT (job, stream, part) DO UPDATE SET value = excluded.value",
            )
            .bind(job)
            .bind(run.0)
            .execute(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        }
        self.commit(tx).await
    }

    async fn sync_watermarks(
        &self,
        job: &str,
        stream: &str,
    ) -> Result<HashMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT part, value FROM sync_watermarks WHERE job = $1 AND stream = $2 \
             ORDER BY part",
        )
        .bind(job)
        .bind(stream)
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)?;
        Ok(rows.into_iter().collect())
    }

    async fn ledger_entry(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<LedgerEntry>, StoreError> {
        let row: Option<LedgerRow> = sqlx::query_as(
            "SELECT state, target, object_id, sent_at, updated_at, message \
             FROM publish_ledger WHERE namespace = $1 AND key = $2",
        )
        .bind(namespace)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(Self::db_error)?;
        row.map(LedgerRow::into_entry).transpose()
    }

    async fn ledger_record_sent(
        &self,
        namespace: &str,
        key: &str,
        target: &str,
    ) -> Result<(), StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        sqlx::query(
            "INSERT INTO publish_ledger (namespace, key, state, target, sent_at, \
             updated_at) VALUES ($1, $2, 'sent', $3, $4, $4) \
             ON CONFLICT (namespace, key) DO UPDATE SET state = 'sent', \
             target = excluded.target, \
             sent_at = COALESCE(publish_ledger.sent_at, excluded.sent_at), \
             updated_at = excluded.updated_at, message = NULL",
        )
        .bind(namespace)
        .bind(key)
        .bind(target)
        .bind(now)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(())
    }

    async fn ledger_record_confirmed(
        &self,
        namespace: &str,
        key: &str,
        object_id: &str,
    ) -> Result<(), StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        sqlx::query(
            "UPDATE publish_ledger SET state = 'confirmed', object_id = $1, \
             message = NULL, updated_at = $2 WHERE namespace = $3 AND key = $4",
        )
        .bind(object_id)
        .bind(now)
        .bind(namespace)
        .bind(key)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(())
    }

    async fn ledger_record_outcome(
        &self,
        namespace: &str,
        key: &str,
        state: LedgerState,
        message: &str,
    ) -> Result<(), StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        sqlx::query(
            "UPDATE publish_ledger SET state = $1, message = $2, updated_at = $3 \
             WHERE namespace = $4 AND key = $5",
        )
        .bind(state.as_str())
        .bind(message)
        .bind(now)
        .bind(namespace)
        .bind(key)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(())
    }

    async fn ledger_confirmed_ids(
        &self,
        namespace: &str,
        target: &str,
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT object_id FROM publish_ledger WHERE namespace = $1 \
             AND target = $2 AND state = 'confirmed' AND object_id IS NOT NULL \
             ORDER BY object_id",
        )
        .bind(namespace)
        .bind(target)
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)
    }
}

/// A store's sync state is its [`SqlSyncState`], on the store's own pool.
#[async_trait]
impl<D> SyncStateStore for SqlStore<D>
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
    async fn sync_begin_run(&self, job: &str, resume: bool) -> Result<RunStart, StoreError> {
        self.sync.sync_begin_run(job, resume).await
    }

    async fn sync_save_checkpoint(
        &self,
        run: SyncRunId,
        stream: &str,
        checkpoint: &Checkpoint,
    ) -> Result<(), StoreError> {
        self.sync
            .sync_save_checkpoint(run, stream, checkpoint)
            .await
    }

    async fn sync_set_stream_status(
        &self,
        run: SyncRunId,
        stream: &str,
        status: StreamStatus,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        self.sync
            .sync_set_stream_status(run, stream, status, message)
            .await
    }

    async fn sync_finish_run(
        &self,
        run: SyncRunId,
        job: &str,
        succeeded: bool,
    ) -> Result<(), StoreError> {
        self.sync.sync_finish_run(run, job, succeeded).await
    }

    async fn sync_watermarks(
        &self,
        job: &str,
        stream: &str,
    ) -> Result<HashMap<String, String>, StoreError> {
        self.sync.sync_watermarks(job, stream).await
    }

    async fn ledger_entry(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<LedgerEntry>, StoreError> {
        self.sync.ledger_entry(namespace, key).await
    }

    async fn ledger_record_sent(
        &self,
        namespace: &str,
        key: &str,
        target: &str,
    ) -> Result<(), StoreError> {
        self.sync.ledger_record_sent(namespace, key, target).await
    }

    async fn ledger_record_confirmed(
        &self,
        namespace: &str,
        key: &str,
        object_id: &str,
    ) -> Result<(), StoreError> {
        self.sync
            .ledger_record_confirmed(namespace, key, object_id)
            .await
    }

    async fn ledger_record_outcome(
        &self,
        namespace: &str,
        key: &str,
        state: LedgerState,
        message: &str,
    ) -> Result<(), StoreError> {
        self.sync
            .ledger_record_outcome(namespace, key, state, message)
            .await
    }

    async fn ledger_confirmed_ids(
        &self,
        namespace: &str,
        target: &str,
    ) -> Result<Vec<String>, StoreError> {
        self.sync.ledger_confirmed_ids(namespace, target).await
    }
}
