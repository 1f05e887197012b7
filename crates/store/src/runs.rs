//! Source runs and API-token management for the web UI (issue 6).
//!
//! A run row records one run of a data source: its status (`queued`,
//! `running`, `succeeded`, `failed`), when it started and finished, the
//! records committed per stream so far (a JSON array, rewritten as the run
//! progresses) and a message for people when it failed, which holds no
//! secret.
//!
//! A run also names the process running it and holds a lease that process
//! renews (issue 12): see [`RunLease`] and [`RunStore::claim_run`]. The
//! durations are the service's (`pinion_service::runs`); the store only
//! compares what it is given, under one conditional `UPDATE`, so exactly one
//! process wins a claim on either backend.
//!
//! API tokens gain a name and a "last used" time. A token's public id,
//! `tok_` and the first 8 bytes of its SHA-256 hash in hex, is derived from
//! what is already stored: it says nothing usable about the token. The
//! token rows and ids are defined here; their operations belong to
//! [`crate::UserStore`] (`users.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pinion_domain::UserId;

use crate::dialect::{Dialect, Timestamp};
use crate::error::StoreError;
use crate::sql::SqlStore;

pub use pinion_domain::record::{ApiTokenInfo, RunRecord, RunStatus, RunStreamCount};

/// The run status stored as `text`; an unknown one is corruption.
pub(crate) fn parse_run_status(text: &str) -> Result<RunStatus, StoreError> {
    RunStatus::parse(text)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown run status `{text}`")))
}

/// Who runs a run, and until when they must renew it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLease {
    /// The running process's id: an instance id (`inst_…`) when it is
    /// registered in a data directory, else another unique process id.
    pub owner: String,
    /// When the lease ends unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// A queued or running run with its lease, as the takeover scan sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnfinishedRun {
    /// The run.
    pub id: pinion_domain::RunId,
    /// `queued` or `running`.
    pub status: RunStatus,
    /// The process running it (`""` for runs stored before leases existed).
    pub owner_instance: String,
    /// When its lease ends unless renewed.
    pub lease_expires_at: DateTime<Utc>,
    /// How many times it was taken over.
    pub takeovers: i64,
}

impl UnfinishedRun {
    /// True when another process may take this run over at `now`: its lease
    /// ended before `now`, or `previous_owner_ended` (that process's instance
    /// lock was seen released). The rule [`RunStore::claim_run`] applies
    /// atomically in SQL ([`RUN_TAKEOVER_CONDITION`]).
    pub fn may_be_taken_over(&self, now: DateTime<Utc>, previous_owner_ended: bool) -> bool {
        previous_owner_ended || run_lease_expired(self.lease_expires_at, now)
    }
}

/// True when a run lease ending at `lease_expires_at` has expired at `now`:
/// strictly after its end, so at the end itself the holder still has it
/// (a heartbeat that lands on the deadline keeps the run).
pub(crate) fn run_lease_expired(lease_expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    lease_expires_at < now
}

/// The SQL side of [`UnfinishedRun::may_be_taken_over`] over `runs`, with
/// `$5` the current time (stored precision) and `$6` whether the previous
/// owner is known to have ended.
pub(crate) const RUN_TAKEOVER_CONDITION: &str = "(lease_expires_at < $5 OR $6)";

#[derive(sqlx::FromRow)]
pub(crate) struct UnfinishedRow {
    pub id: String,
    pub status: String,
    pub owner_instance: String,
    pub lease_expires_at: DateTime<Utc>,
    pub takeovers: i64,
}

impl UnfinishedRow {
    pub(crate) fn into_run(self) -> Result<UnfinishedRun, StoreError> {
        Ok(UnfinishedRun {
            status: parse_run_status(&self.status)?,
            id: pinion_domain::RunId::from_trusted(self.id),
            owner_instance: self.owner_instance,
            lease_expires_at: self.lease_expires_at,
            takeovers: self.takeovers,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    pub id: String,
    pub source_id: String,
    pub owner_id: String,
    pub status: String,
    pub streams: String,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub taken_over_at: Option<DateTime<Utc>>,
}

impl RunRow {
    pub(crate) fn into_record(self) -> Result<RunRecord, StoreError> {
        let streams = serde_json::from_str(&self.streams).map_err(|err| {
            StoreError::Corrupt(format!(
                "run {} has unreadable stream counts: {err}",
                self.id
            ))
        })?;
        Ok(RunRecord {
            status: parse_run_status(&self.status)?,
            id: pinion_domain::RunId::from_trusted(self.id),
            source_id: pinion_domain::SourceId::from_trusted(self.source_id),
            owner: UserId::from_trusted(self.owner_id),
            streams,
            error: self.error,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            taken_over_at: self.taken_over_at,
        })
    }
}

pub(crate) const RUN_COLUMNS: &str = "id, source_id, owner_id, status, streams, error, \
     created_at, started_at, finished_at, taken_over_at";

pub(crate) fn streams_json(streams: &[RunStreamCount]) -> String {
    serde_json::to_string(streams).unwrap_or_else(|_| "[]".to_owned())
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiTokenRow {
    pub token_hash: Vec<u8>,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The public id of a token with SHA-256 `hash`.
pub(crate) fn token_id(hash: &[u8]) -> pinion_domain::ApiTokenId {
    let prefix: String = hash
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    pinion_domain::ApiTokenId::from_trusted(format!("tok_{prefix}"))
}

impl ApiTokenRow {
    pub(crate) fn into_info(self) -> ApiTokenInfo {
        ApiTokenInfo {
            id: token_id(&self.token_hash),
            name: self.name,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserWithUse {
    #[sqlx(flatten)]
    pub user: crate::sql::UserRow,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// How stale `last_used_at` may get before a request writes it again.
pub const LAST_USED_GRANULARITY: chrono::Duration = chrono::Duration::seconds(60);

/// True when an API token last noted as used at `last_used_at` should be
/// noted again at `now`: never noted, or at least [`LAST_USED_GRANULARITY`]
/// ago (so most authentications stay reads).
pub(crate) fn last_use_stale(last_used_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last_used_at.is_none_or(|at| now - at >= LAST_USED_GRANULARITY)
}

/// Runs and named API tokens. Every [`crate::Store`] implements it.
#[async_trait]
pub trait RunStore: Send + Sync + std::fmt::Debug {
    /// Stores a new run (its `created_at` is set here), held by `lease`.
    /// At most one run per source is queued or running at a time, across
    /// every process: another is [`StoreError::Conflict`] on `source`.
    async fn create_run(&self, run: &RunRecord, lease: &RunLease) -> Result<RunRecord, StoreError>;

    /// A run by id; [`StoreError::NotFound`] when there is none.
    async fn get_run(&self, id: &pinion_domain::RunId) -> Result<RunRecord, StoreError>;

    /// The runs of `source_id`, newest first, at most `limit`.
    async fn list_runs(
        &self,
        source_id: &pinion_domain::SourceId,
        limit: u32,
    ) -> Result<Vec<RunRecord>, StoreError>;

    /// The runs of `owner`'s sources that read with credential
    /// `credential_id`, newest first, at most `limit`.
    async fn runs_using_credential(
        &self,
        credential_id: &pinion_domain::CredentialId,
        owner: &UserId,
        limit: u32,
    ) -> Result<Vec<RunRecord>, StoreError>;

    /// Deletes run `id` of source `source_id` if `owner` owns it; `false`
    /// when there is no such run of theirs. A queued or running run is not
    /// deleted: [`StoreError::Conflict`] on `run`.
    async fn delete_run(
        &self,
        source_id: &pinion_domain::SourceId,
        id: &pinion_domain::RunId,
        owner: &UserId,
    ) -> Result<bool, StoreError>;

    /// Marks a queued run running (sets `started_at`).
    async fn start_run(&self, id: &pinion_domain::RunId) -> Result<(), StoreError>;

    /// Replaces a run's per-stream counts while it runs.
    async fn update_run_streams(
        &self,
        id: &pinion_domain::RunId,
        streams: &[RunStreamCount],
    ) -> Result<(), StoreError>;

    /// Ends a run with `status` (succeeded or failed), its final counts and
    /// error (sets `finished_at`).
    async fn finish_run(
        &self,
        id: &pinion_domain::RunId,
        status: RunStatus,
        streams: &[RunStreamCount],
        error: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Ends run `id` like [`RunStore::finish_run`], only while `owner`
    /// holds it; `false` (nothing written) once another process took it
    /// over.
    async fn finish_owned_run(
        &self,
        id: &pinion_domain::RunId,
        owner: &str,
        status: RunStatus,
        streams: &[RunStreamCount],
        error: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Every queued or running run with its lease, oldest first.
    async fn unfinished_runs(&self) -> Result<Vec<UnfinishedRun>, StoreError>;

    /// The heartbeat: moves the lease of unfinished run `id` to
    /// `expires_at` while `owner` holds it; `false` when it does not (the
    /// run ended, or another process took it over: stop running it).
    async fn renew_run_lease(
        &self,
        id: &pinion_domain::RunId,
        owner: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Takes unfinished run `id` over from `previous_owner` for `lease`, if
    /// it is still theirs and either its lease ended before `now` or
    /// `previous_owner_ended` (the caller saw that process's instance lock
    /// released). One conditional `UPDATE`: of any number of processes
    /// claiming at once, exactly one gets `true`. Sets `taken_over_at` and
    /// counts the takeover.
    async fn claim_run(
        &self,
        id: &pinion_domain::RunId,
        previous_owner: &str,
        previous_owner_ended: bool,
        lease: &RunLease,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Ends the leases of `owner`'s unfinished runs now (a process stopping
    /// cleanly), so another process or the next start takes them over at
    /// once; returns how many.
    async fn release_run_leases(&self, owner: &str) -> Result<u64, StoreError>;
}

/// [`RunStore`] on SQL, for both dialects.
#[async_trait::async_trait]
impl<D> crate::runs::RunStore for SqlStore<D>
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
    #[tracing::instrument(skip_all, fields(run_id = %run.id))]
    async fn create_run(
        &self,
        run: &crate::runs::RunRecord,
        lease: &crate::runs::RunLease,
    ) -> Result<crate::runs::RunRecord, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        sqlx::query(
            "INSERT INTO runs (id, source_id, owner_id, status, streams, error, \
             created_at, owner_instance, lease_expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(run.id.as_str())
        .bind(run.source_id.as_str())
        .bind(run.owner.as_str())
        .bind(run.status.as_str())
        .bind(crate::runs::streams_json(&run.streams))
        .bind(&run.error)
        .bind(now)
        .bind(&lease.owner)
        .bind(crate::sql::stored_time(lease.expires_at))
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(|err| match &err {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound { entity: "source" }
            }
            // `runs_one_unfinished_per_source`: another process started a
            // run of this source first.
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
                field: "source",
                message: "a run of this source is still going; wait for it to end".to_owned(),
            },
            _ => Self::db_error(err),
        })?;
        let mut stored = run.clone();
        stored.created_at = now;
        Ok(stored)
    }

    async fn get_run(
        &self,
        id: &pinion_domain::RunId,
    ) -> Result<crate::runs::RunRecord, StoreError> {
        let sql = format!(
            "SELECT {} FROM runs WHERE id = $1",
            crate::runs::RUN_COLUMNS
        );
        self.select_one_by(&sql, id.as_str(), "run", RunRow::into_record)
            .await?
    }

    async fn list_runs(
        &self,
        source_id: &pinion_domain::SourceId,
        limit: u32,
    ) -> Result<Vec<crate::runs::RunRecord>, StoreError> {
        let source_id = source_id.as_str();
        let sql = format!(
            "SELECT {} FROM runs WHERE source_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2",
            crate::runs::RUN_COLUMNS
        );
        let rows: Vec<crate::runs::RunRow> = sqlx::query_as(&sql)
            .bind(source_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(Self::db_error)?;
        rows.into_iter().map(|row| row.into_record()).collect()
    }

    async fn runs_using_credential(
        &self,
        credential_id: &pinion_domain::CredentialId,
        owner: &UserId,
        limit: u32,
    ) -> Result<Vec<crate::runs::RunRecord>, StoreError> {
        let credential_id = credential_id.as_str();
        let sql = format!(
            "SELECT {} FROM runs WHERE owner_id = $2 AND source_id IN \
             (SELECT id FROM sources WHERE credential_id = $1) \
             ORDER BY created_at DESC, id DESC LIMIT $3",
            crate::runs::RUN_COLUMNS
        );
        let rows: Vec<crate::runs::RunRow> = sqlx::query_as(&sql)
            .bind(credential_id)
            .bind(owner.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(Self::db_error)?;
        rows.into_iter().map(|row| row.into_record()).collect()
    }

    #[tracing::instrument(skip_all, fields(run_id = %id))]
    async fn delete_run(
        &self,
        source_id: &pinion_domain::SourceId,
        id: &pinion_domain::RunId,
        owner: &UserId,
    ) -> Result<bool, StoreError> {
        let source_id = source_id.as_str();
        let id = id.as_str();
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT status FROM runs WHERE id = $1 AND source_id = $2 \
             AND owner_id = $3{}",
            D::FOR_UPDATE
        );
        let status: Option<String> = sqlx::query_scalar(&sql)
            .bind(id)
            .bind(source_id)
            .bind(owner.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        let Some(status) = status else {
            return Ok(false);
        };
        if !crate::runs::parse_run_status(&status)?.is_final() {
            return Err(StoreError::Conflict {
                field: "run",
                message: "the run is still going; wait for it to end before deleting it".to_owned(),
            });
        }
        sqlx::query("DELETE FROM runs WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        self.commit(tx).await?;
        Ok(true)
    }

    async fn start_run(&self, id: &pinion_domain::RunId) -> Result<(), StoreError> {
        let id = id.as_str();
        let now = crate::sql::stored_time(self.clock.now());
        let result = sqlx::query(
            "UPDATE runs SET status = 'running', started_at = $2 \
             WHERE id = $1 AND status = 'queued'",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        if D::rows_affected(&result) == 0 {
            return Err(StoreError::NotFound {
                entity: "queued run",
            });
        }
        Ok(())
    }

    async fn update_run_streams(
        &self,
        id: &pinion_domain::RunId,
        streams: &[crate::runs::RunStreamCount],
    ) -> Result<(), StoreError> {
        let id = id.as_str();
        sqlx::query(
            "UPDATE runs SET streams = $2 WHERE id = $1 \
             AND status IN ('queued', 'running')",
        )
        .bind(id)
        .bind(crate::runs::streams_json(streams))
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(run_id = %id, status = status.as_str()))]
    async fn finish_run(
        &self,
        id: &pinion_domain::RunId,
        status: crate::runs::RunStatus,
        streams: &[crate::runs::RunStreamCount],
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let id = id.as_str();
        let now = crate::sql::stored_time(self.clock.now());
        sqlx::query(
            "UPDATE runs SET status = $2, streams = $3, error = $4, finished_at = $5, \
             started_at = COALESCE(started_at, $5) WHERE id = $1",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(crate::runs::streams_json(streams))
        .bind(error)
        .bind(now)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(run_id = %id, status = status.as_str()))]
    async fn finish_owned_run(
        &self,
        id: &pinion_domain::RunId,
        owner: &str,
        status: crate::runs::RunStatus,
        streams: &[crate::runs::RunStreamCount],
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let id = id.as_str();
        let now = crate::sql::stored_time(self.clock.now());
        let result = sqlx::query(
            "UPDATE runs SET status = $2, streams = $3, error = $4, finished_at = $5, \
             started_at = COALESCE(started_at, $5) WHERE id = $1 \
             AND owner_instance = $6 AND status IN ('queued', 'running')",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(crate::runs::streams_json(streams))
        .bind(error)
        .bind(now)
        .bind(owner)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result) == 1)
    }

    async fn unfinished_runs(&self) -> Result<Vec<crate::runs::UnfinishedRun>, StoreError> {
        let rows: Vec<crate::runs::UnfinishedRow> = sqlx::query_as(
            "SELECT id, status, owner_instance, lease_expires_at, \
             CAST(takeovers AS BIGINT) AS takeovers FROM runs \
             WHERE status IN ('queued', 'running') ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)?;
        rows.into_iter().map(|row| row.into_run()).collect()
    }

    async fn renew_run_lease(
        &self,
        id: &pinion_domain::RunId,
        owner: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let id = id.as_str();
        // No change-feed bump: heartbeats change nothing anyone caches.
        let result = sqlx::query(
            "UPDATE runs SET lease_expires_at = $3 WHERE id = $1 \
             AND owner_instance = $2 AND status IN ('queued', 'running')",
        )
        .bind(id)
        .bind(owner)
        .bind(crate::sql::stored_time(expires_at))
        .execute(&self.pool)
        .await
        .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result) == 1)
    }

    #[tracing::instrument(skip_all, fields(run_id = %id))]
    async fn claim_run(
        &self,
        id: &pinion_domain::RunId,
        previous_owner: &str,
        previous_owner_ended: bool,
        lease: &crate::runs::RunLease,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let id = id.as_str();
        let now = crate::sql::stored_time(now);
        let result = sqlx::query(&format!(
            "UPDATE runs SET owner_instance = $3, lease_expires_at = $4, \
             taken_over_at = $5, takeovers = takeovers + 1 \
             WHERE id = $1 AND owner_instance = $2 \
             AND status IN ('queued', 'running') AND {}",
            crate::runs::RUN_TAKEOVER_CONDITION
        ))
        .bind(id)
        .bind(previous_owner)
        .bind(&lease.owner)
        .bind(crate::sql::stored_time(lease.expires_at))
        .bind(now)
        .bind(previous_owner_ended)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result) == 1)
    }

    async fn release_run_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let past = crate::sql::stored_time(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH);
        let result = sqlx::query(
            "UPDATE runs SET lease_expires_at = $2 WHERE owner_instance = $1 \
             AND status IN ('queued', 'running')",
        )
        .bind(owner)
        .bind(past)
        .execute(&self.pool)
        .await
        .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result))
    }
}

#[cfg(test)]
mod decision_tests {
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(1_700_000_000 + seconds)
    }

    fn run(lease_expires_at: DateTime<Utc>) -> UnfinishedRun {
        UnfinishedRun {
            id: pinion_domain::RunId::generate(),
            status: RunStatus::Running,
            owner_instance: "a".into(),
            lease_expires_at,
            takeovers: 0,
        }
    }

    #[test]
    fn a_run_lease_expires_strictly_after_its_end() {
        assert!(!run_lease_expired(t(0), t(-1)));
        assert!(!run_lease_expired(t(0), t(0)), "the end itself");
        assert!(run_lease_expired(t(0), t(1)));
    }

    #[test]
    fn a_run_may_be_taken_over_once_its_lease_expired_or_its_owner_ended() {
        assert!(!run(t(10)).may_be_taken_over(t(10), false));
        assert!(run(t(10)).may_be_taken_over(t(11), false));
        assert!(run(t(10)).may_be_taken_over(t(0), true), "owner ended");
    }

    #[test]
    fn an_api_token_use_is_noted_again_after_the_granularity() {
        assert!(last_use_stale(None, t(0)));
        assert!(!last_use_stale(Some(t(0)), t(59)));
        assert!(last_use_stale(Some(t(0)), t(60)), "exactly the granularity");
        assert!(
            !last_use_stale(Some(t(5)), t(0)),
            "a use noted in the future"
        );
    }
}
