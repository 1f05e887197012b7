//! Source schedules (issue 14): when each scheduled source runs next.
//!
//! Every replica's scheduler lists the due schedules and takes a slot with
//! [`ScheduleStore::take_schedule_slot`], one conditional `UPDATE` that moves
//! `next_run_at` on only if it still holds the slot that was read, so on
//! either backend exactly one caller takes each slot. The times themselves
//! are computed by `pinion_domain::schedule::Cadence`; the store compares
//! what it is given.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pinion_domain::UserId;

use crate::dialect::{Dialect, Timestamp};
use crate::error::StoreError;
use crate::sql::SqlStore;

pub use pinion_domain::record::ScheduleRecord;

#[derive(sqlx::FromRow)]
pub(crate) struct ScheduleRow {
    pub source_id: String,
    pub owner_id: String,
    pub every_seconds: Option<i64>,
    pub cron: Option<String>,
    pub time_zone: String,
    pub paused: bool,
    pub next_run_at: Option<DateTime<Utc>>,
    pub last_fired_at: Option<DateTime<Utc>>,
    pub last_run_id: Option<String>,
    pub last_note: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl ScheduleRow {
    fn into_record(self) -> ScheduleRecord {
        ScheduleRecord {
            source_id: pinion_domain::SourceId::from_trusted(self.source_id),
            owner: UserId::from_trusted(self.owner_id),
            every_seconds: self.every_seconds,
            cron: self.cron,
            time_zone: self.time_zone,
            paused: self.paused,
            next_run_at: self.next_run_at,
            last_fired_at: self.last_fired_at,
            last_run_id: self.last_run_id.map(pinion_domain::RunId::from_trusted),
            last_note: self.last_note,
            updated_at: self.updated_at,
        }
    }
}

const SCHEDULE_COLUMNS: &str = "source_id, owner_id, every_seconds, cron, time_zone, paused, \
     next_run_at, last_fired_at, last_run_id, last_note, updated_at";

/// When scheduled sources run.
#[async_trait]
pub trait ScheduleStore: Send + Sync + std::fmt::Debug {
    /// Creates or replaces the schedule of `schedule.source_id` (its last
    /// slot's run and note are kept). An unknown source is
    /// [`StoreError::NotFound`] on `source`.
    async fn put_schedule(&self, schedule: &ScheduleRecord) -> Result<ScheduleRecord, StoreError>;

    /// The schedule of `source_id`, if it has one.
    async fn get_schedule(
        &self,
        source_id: &pinion_domain::SourceId,
    ) -> Result<Option<ScheduleRecord>, StoreError>;

    /// The schedules of `owner`'s sources.
    async fn schedules_of(&self, owner: &UserId) -> Result<Vec<ScheduleRecord>, StoreError>;

    /// Removes the schedule of `source_id`; `false` when it had none.
    async fn delete_schedule(
        &self,
        source_id: &pinion_domain::SourceId,
    ) -> Result<bool, StoreError>;

    /// Pauses (`next_run_at` `None`) or resumes (`next_run_at` the next slot)
    /// the schedule of `source_id`; `false` when it has none.
    async fn set_schedule_paused(
        &self,
        source_id: &pinion_domain::SourceId,
        paused: bool,
        next_run_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError>;

    /// Unpaused schedules due at `now` (`next_run_at <= now`), oldest slot
    /// first, at most `limit`.
    async fn due_schedules(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ScheduleRecord>, StoreError>;

    /// Takes the slot `due` of `source_id`'s schedule: moves `next_run_at`
    /// from `due` to `next` and notes `now` as the last slot taken, only if
    /// the schedule is unpaused and still due at `due`. `true` for the one
    /// caller that took it.
    async fn take_schedule_slot(
        &self,
        source_id: &pinion_domain::SourceId,
        due: DateTime<Utc>,
        next: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Records what the last slot taken did: the run it started, or a note
    /// for people when it started none.
    async fn note_schedule_slot(
        &self,
        source_id: &pinion_domain::SourceId,
        run_id: Option<&pinion_domain::RunId>,
        note: Option<&str>,
    ) -> Result<(), StoreError>;
}

/// [`ScheduleStore`] on SQL, for both dialects.
#[async_trait]
impl<D> ScheduleStore for SqlStore<D>
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
    async fn put_schedule(&self, schedule: &ScheduleRecord) -> Result<ScheduleRecord, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let sql = format!(
            "INSERT INTO source_schedules (source_id, owner_id, every_seconds, cron, time_zone, \
             paused, next_run_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (source_id) DO UPDATE SET every_seconds = excluded.every_seconds, \
             cron = excluded.cron, time_zone = excluded.time_zone, paused = excluded.paused, \
             next_run_at = excluded.next_run_at, updated_at = excluded.updated_at \
             RETURNING {SCHEDULE_COLUMNS}"
        );
        let row: ScheduleRow = sqlx::query_as(&sql)
            .bind(schedule.source_id.as_str())
            .bind(schedule.owner.as_str())
            .bind(schedule.every_seconds)
            .bind(schedule.cron.as_deref())
            .bind(schedule.time_zone.as_str())
            .bind(schedule.paused)
            .bind(schedule.next_run_at.map(crate::sql::stored_time))
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .inspect(|_| self.changes.bump())
            .map_err(|err| match &err {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    StoreError::NotFound { entity: "source" }
                }
                _ => Self::db_error(err),
            })?;
        Ok(row.into_record())
    }

    async fn get_schedule(
        &self,
        source_id: &pinion_domain::SourceId,
    ) -> Result<Option<ScheduleRecord>, StoreError> {
        let source_id = source_id.as_str();
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM source_schedules WHERE source_id = $1");
        let row: Option<ScheduleRow> = sqlx::query_as(&sql)
            .bind(source_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(Self::db_error)?;
        Ok(row.map(ScheduleRow::into_record))
    }

    async fn schedules_of(&self, owner: &UserId) -> Result<Vec<ScheduleRecord>, StoreError> {
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} FROM source_schedules WHERE owner_id = $1 ORDER BY source_id"
        );
        let rows: Vec<ScheduleRow> = sqlx::query_as(&sql)
            .bind(owner.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(Self::db_error)?;
        Ok(rows.into_iter().map(ScheduleRow::into_record).collect())
    }

    async fn delete_schedule(
        &self,
        source_id: &pinion_domain::SourceId,
    ) -> Result<bool, StoreError> {
        let source_id = source_id.as_str();
        let result = sqlx::query("DELETE FROM source_schedules WHERE source_id = $1")
            .bind(source_id)
            .execute(&self.pool)
            .await
            .inspect(|_| self.changes.bump())
            .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result) > 0)
    }

    async fn set_schedule_paused(
        &self,
        source_id: &pinion_domain::SourceId,
        paused: bool,
        next_run_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let source_id = source_id.as_str();
        let now = crate::sql::stored_time(self.clock.now());
        let result = sqlx::query(
            "UPDATE source_schedules SET paused = $2, next_run_at = $3, updated_at = $4 \
             WHERE source_id = $1",
        )
        .bind(source_id)
        .bind(paused)
        .bind(next_run_at.map(crate::sql::stored_time))
        .bind(now)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result) > 0)
    }

    async fn due_schedules(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} FROM source_schedules \
             WHERE NOT paused AND next_run_at <= $1 ORDER BY next_run_at, source_id LIMIT $2"
        );
        let rows: Vec<ScheduleRow> = sqlx::query_as(&sql)
            .bind(crate::sql::stored_time(now))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(Self::db_error)?;
        Ok(rows.into_iter().map(ScheduleRow::into_record).collect())
    }

    async fn take_schedule_slot(
        &self,
        source_id: &pinion_domain::SourceId,
        due: DateTime<Utc>,
        next: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let source_id = source_id.as_str();
        let result = sqlx::query(
            "UPDATE source_schedules SET next_run_at = $3, last_fired_at = $4, \
             last_run_id = NULL, last_note = NULL \
             WHERE source_id = $1 AND NOT paused AND next_run_at = $2",
        )
        .bind(source_id)
        .bind(crate::sql::stored_time(due))
        .bind(crate::sql::stored_time(next))
        .bind(crate::sql::stored_time(now))
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result) == 1)
    }

    async fn note_schedule_slot(
        &self,
        source_id: &pinion_domain::SourceId,
        run_id: Option<&pinion_domain::RunId>,
        note: Option<&str>,
    ) -> Result<(), StoreError> {
        let source_id = source_id.as_str();
        let run_id = run_id.map(pinion_domain::RunId::as_str);
        sqlx::query(
            "UPDATE source_schedules SET last_run_id = $2, last_note = $3 WHERE source_id = $1",
        )
        .bind(source_id)
        .bind(run_id)
        .bind(note)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(())
    }
}
