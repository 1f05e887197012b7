//! Sync state (issue 5): the per-stream progress of `pinion sync` runs and
//! the publish ledger of `pinion publish`, in Pinion's store.
//!
//! The sync crate gives these rows their meaning (through its
//! `RunStateStore` and `PublishLedger` traits); here they are stored. A job
//! names a credential plus a destination, so two runs of different jobs
//! never share progress, and a ledger namespace names a credential. Nothing
//! stored here is a secret. A checkpoint is one transaction: after a crash
//! the state holds the previous checkpoint or the new one, never half.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::dialect::{Dialect, Timestamp};
use crate::error::StoreError;
use crate::sql::SqlStore;

/// One partition of a stream: a board, a section, an ad account, or `""`
/// for a stream read as one list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPartitionState {
    /// The partition's name.
    pub part: String,
    /// The bookmark of the next page to read (`None`: the first page).
    pub bookmark: Option<String>,
    /// Every page committed.
    pub done: bool,
    /// The partition's change marker seen by the run.
    pub watermark: Option<String>,
}

/// What a run had committed for one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStreamState {
    /// The stream's name.
    pub stream: String,
    /// `running`, `done`, `skipped` or `failed`.
    pub status: String,
    /// The destination position of the last commit.
    pub position: Option<i64>,
    /// Records committed.
    pub records: i64,
    /// Progress per partition.
    pub partitions: Vec<SyncPartitionState>,
}

/// A run that was started or resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRunStart {
    /// The run's id.
    pub run_id: i64,
    /// True when an unfinished run of the job was continued.
    pub resumed: bool,
    /// What that run had committed (empty for a new run).
    pub streams: Vec<SyncStreamState>,
}

/// One row of the publish ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRecord {
    /// `sent`, `confirmed`, `unknown` (older rows) or `failed`.
    pub state: String,
    /// Where the object is created (a board id, `""` for boards).
    pub target: String,
    /// The created object's id, once confirmed.
    pub object_id: Option<String>,
    /// The first send; later sends never move it.
    pub sent_at: Option<DateTime<Utc>>,
    /// The row's last write.
    pub updated_at: DateTime<Utc>,
    /// Why it failed, or why its outcome is unknown.
    pub message: Option<String>,
}

/// Sync-run progress and the publish ledger. Every [`crate::Store`]
/// implements it.
#[async_trait]
pub trait SyncStateStore: Send + Sync {
    /// Starts a run of `job`. With `resume`, continues the job's latest run
    /// that did not succeed, if any; otherwise such runs are abandoned.
    async fn sync_begin_run(&self, job: &str, resume: bool) -> Result<SyncRunStart, StoreError>;

    /// Saves a stream's checkpoint (position, count, moved partitions) in
    /// one transaction.
    async fn sync_save_checkpoint(
        &self,
        run: i64,
        stream: &str,
        position: i64,
        records: i64,
        partitions: &[SyncPartitionState],
    ) -> Result<(), StoreError>;

    /// Records a stream's status and why.
    async fn sync_set_stream_status(
        &self,
        run: i64,
        stream: &str,
        status: &str,
        message: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Ends a run; when it succeeded, its finished partitions' watermarks
    /// become the job's, in the same transaction.
    async fn sync_finish_run(&self, run: i64, job: &str, succeeded: bool)
    -> Result<(), StoreError>;

    /// The job's watermarks for `stream`, as (partition, value).
    async fn sync_watermarks(
        &self,
        job: &str,
        stream: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// The ledger row of `key` in `namespace`.
    async fn ledger_entry(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<LedgerRecord>, StoreError>;

    /// Marks `key` as `sent` to `target`; `sent_at` is set by the first call
    /// only.
    async fn ledger_record_sent(
        &self,
        namespace: &str,
        key: &str,
        target: &str,
    ) -> Result<(), StoreError>;

    /// Marks `key` as `confirmed` with the created object's id.
    async fn ledger_record_confirmed(
        &self,
        namespace: &str,
        key: &str,
        object_id: &str,
    ) -> Result<(), StoreError>;

    /// Sets `key`'s state (`sent` or `failed`) and message.
    async fn ledger_record_outcome(
        &self,
        namespace: &str,
        key: &str,
        state: &str,
        message: &str,
    ) -> Result<(), StoreError>;

    /// The ids confirmed on `target` in `namespace`.
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

impl From<LedgerRow> for LedgerRecord {
    fn from(row: LedgerRow) -> Self {
        LedgerRecord {
            state: row.state,
            target: row.target,
            object_id: row.object_id,
            sent_at: row.sent_at,
            updated_at: row.updated_at,
            message: row.message,
        }
    }
}

/// [`SyncStateStore`] on SQL, for both dialects.
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
    pub(crate) async fn sync_load_run(
        &self,
        run: i64,
    ) -> Result<Vec<crate::sync_state::SyncStreamState>, StoreError> {
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
        let mut out: Vec<crate::sync_state::SyncStreamState> = streams
            .into_iter()
            .map(
                |(stream, status, position, records)| crate::sync_state::SyncStreamState {
                    stream,
                    status,
                    position,
                    records,
                    partitions: Vec::new(),
                },
            )
            .collect();
        for (stream, part, bookmark, done, watermark) in parts {
            if let Some(entry) = out.iter_mut().find(|s| s.stream == stream) {
                entry
                    .partitions
                    .push(crate::sync_state::SyncPartitionState {
                        part,
                        bookmark,
                        done,
                        watermark,
                    });
            }
        }
        Ok(out)
    }

    /// Deletes every run of `job` (their streams and partitions
    /// too) and its watermarks, inside the caller's transaction.
    pub(crate) async fn sync_delete_job(
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

#[async_trait::async_trait]
impl<D> crate::sync_state::SyncStateStore for SqlStore<D>
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
    async fn sync_begin_run(
        &self,
        job: &str,
        resume: bool,
    ) -> Result<crate::sync_state::SyncRunStart, StoreError> {
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
                return Ok(crate::sync_state::SyncRunStart {
                    run_id: id,
                    resumed: true,
                    streams: self.sync_load_run(id).await?,
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
        Ok(crate::sync_state::SyncRunStart {
            run_id: id,
            resumed: false,
            streams: Vec::new(),
        })
    }

    async fn sync_save_checkpoint(
        &self,
        run: i64,
        stream: &str,
        position: i64,
        records: i64,
        partitions: &[crate::sync_state::SyncPartitionState],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sync_streams (run_id, stream, status, position, records) \
             VALUES ($1, $2, 'running', $3, $4) ON CONFLICT (run_id, stream) DO UPDATE \
             SET position = excluded.position, records = excluded.records",
        )
        .bind(run)
        .bind(stream)
        .bind(position)
        .bind(records)
        .execute(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        for p in partitions {
            sqlx::query(
                "INSERT INTO sync_partitions (run_id, stream, part, bookmark, done, \
                 watermark) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (run_id, stream, part) DO UPDATE SET \
                 bookmark = excluded.bookmark, done = excluded.done, \
                 watermark = excluded.watermark",
            )
            .bind(run)
            .bind(stream)
            .bind(&p.part)
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
        run: i64,
        stream: &str,
        status: &str,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sync_streams (run_id, stream, status, message) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (run_id, stream) DO UPDATE SET \
             status = excluded.status, message = excluded.message",
        )
        .bind(run)
        .bind(stream)
        .bind(status)
        .bind(message)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(())
    }

    async fn sync_finish_run(
        &self,
        run: i64,
        job: &str,
        succeeded: bool,
    ) -> Result<(), StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE sync_runs SET status = $1, finished_at = $2 WHERE id = $3")
            .bind(if succeeded { "succeeded" } else { "failed" })
            .bind(now)
            .bind(run)
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
            .bind(run)
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
    ) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query_as(
            "SELECT part, value FROM sync_watermarks WHERE job = $1 AND stream = $2 \
             ORDER BY part",
        )
        .bind(job)
        .bind(stream)
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)
    }

    async fn ledger_entry(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<crate::sync_state::LedgerRecord>, StoreError> {
        let row: Option<crate::sync_state::LedgerRow> = sqlx::query_as(
            "SELECT state, target, object_id, sent_at, updated_at, message \
             FROM publish_ledger WHERE namespace = $1 AND key = $2",
        )
        .bind(namespace)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(Self::db_error)?;
        Ok(row.map(Into::into))
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
        state: &str,
        message: &str,
    ) -> Result<(), StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        sqlx::query(
            "UPDATE publish_ledger SET state = $1, message = $2, updated_at = $3 \
             WHERE namespace = $4 AND key = $5",
        )
        .bind(state)
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
