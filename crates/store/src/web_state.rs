//! The store side of the web UI (issue 6): browser sessions, data sources
//! and destinations.
//!
//! A session row holds only the SHA-256 hash of the session cookie's value, so
//! a copy of the database cannot be used to sign in. The session's CSRF token
//! is derived from the cookie value by the service layer and is not stored.
//! Expiry is checked in the query itself, so an expired row is never honoured
//! even before [`WebStateStore::purge_sessions`] removes it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pinion_domain::UserId;

use crate::dialect::{Dialect, Timestamp};
use crate::error::StoreError;
use crate::model::User;
use crate::sql::SqlStore;

pub use pinion_domain::record::{DestinationRecord, PublishRecord, SourceRecord};

#[derive(sqlx::FromRow)]
pub(crate) struct SourceRow {
    pub id: String,
    pub owner_id: String,
    pub credential_id: String,
    pub name: String,
    pub streams: String,
    pub output_kind: String,
    pub output_path: String,
    pub sync_mode: String,
    pub created_at: DateTime<Utc>,
}

impl SourceRow {
    pub(crate) fn into_record(self) -> SourceRecord {
        SourceRecord {
            id: pinion_domain::SourceId::from_trusted(self.id),
            owner: UserId::from_trusted(self.owner_id),
            credential_id: pinion_domain::CredentialId::from_trusted(self.credential_id),
            name: self.name,
            streams: self
                .streams
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            output_kind: self.output_kind,
            output_path: self.output_path,
            // The column's CHECK allows only the modes there are.
            sync_mode: pinion_domain::SyncMode::parse(&self.sync_mode).unwrap_or_default(),
            created_at: self.created_at,
        }
    }
}

pub(crate) const SOURCE_COLUMNS: &str =
    "id, owner_id, credential_id, name, streams, output_kind, output_path, sync_mode, created_at";

/// The sync job of a source's runs: its credential plus the source, so its
/// progress and watermarks are its own (see [`crate::SyncStateStore`]).
/// [`WebStateStore::delete_source`] deletes the sync state of this job.
pub fn source_job_key(credential_id: &str, source_id: &str) -> String {
    format!("{credential_id}|source:{source_id}")
}

#[derive(sqlx::FromRow)]
pub(crate) struct DestinationRow {
    pub id: String,
    pub owner_id: String,
    pub credential_id: String,
    pub name: String,
    pub board_id: String,
    pub board_name: String,
    pub created_at: DateTime<Utc>,
}

impl DestinationRow {
    pub(crate) fn into_record(self) -> DestinationRecord {
        DestinationRecord {
            id: pinion_domain::DestinationId::from_trusted(self.id),
            owner: UserId::from_trusted(self.owner_id),
            credential_id: pinion_domain::CredentialId::from_trusted(self.credential_id),
            name: self.name,
            board_id: self.board_id,
            board_name: self.board_name,
            created_at: self.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PublishRow {
    pub id: String,
    pub destination_id: String,
    pub owner_id: String,
    pub created_at: DateTime<Utc>,
    pub rows: i64,
    pub created: i64,
    pub already_published: i64,
    pub rejected: i64,
    pub unfinished: i64,
    pub results: String,
}

impl PublishRow {
    pub(crate) fn into_record(self) -> PublishRecord {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        PublishRecord {
            id: pinion_domain::PublishId::from_trusted(self.id),
            destination_id: pinion_domain::DestinationId::from_trusted(self.destination_id),
            owner: UserId::from_trusted(self.owner_id),
            created_at: self.created_at,
            rows: count(self.rows),
            created: count(self.created),
            already_published: count(self.already_published),
            rejected: count(self.rejected),
            unfinished: count(self.unfinished),
            results: self.results,
        }
    }
}

pub(crate) const PUBLISH_COLUMNS: &str = "id, destination_id, owner_id, created_at, rows, created, \
     already_published, rejected, unfinished, results";

pub(crate) const DESTINATION_COLUMNS: &str =
    "id, owner_id, credential_id, name, board_id, board_name, created_at";

/// Browser sessions, data sources and destinations. Every [`crate::Store`]
/// implements it.
#[async_trait]
pub trait WebStateStore: Send + Sync + std::fmt::Debug {
    /// Stores a session for `user`, identified by the SHA-256 hex of its
    /// token, valid until `expires_at`.
    async fn create_session(
        &self,
        user: &UserId,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The user of the unexpired session whose token hashes to `token_hash`,
    /// or `None` (unknown, expired or signed out).
    async fn session_user(&self, token_hash: &str) -> Result<Option<User>, StoreError>;

    /// Ends a session; `false` when there was none.
    async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError>;

    /// Ends every session of `user` (after a password change); returns how many.
    async fn delete_user_sessions(&self, user: &UserId) -> Result<u64, StoreError>;

    /// Deletes sessions that expired before `before`; returns how many.
    async fn purge_sessions(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Stores a new source (its `created_at` is set here).
    async fn create_source(&self, source: &SourceRecord) -> Result<SourceRecord, StoreError>;

    /// A source by id; [`StoreError::NotFound`] when there is none.
    async fn get_source(&self, id: &pinion_domain::SourceId) -> Result<SourceRecord, StoreError>;

    /// The sources `owner` owns, newest first.
    async fn list_sources(&self, owner: &UserId) -> Result<Vec<SourceRecord>, StoreError>;

    /// The sources that read with credential `credential_id`, by name.
    async fn sources_using_credential(
        &self,
        credential_id: &pinion_domain::CredentialId,
    ) -> Result<Vec<SourceRecord>, StoreError>;

    /// Deletes source `id` if `owner` owns it, with everything that belongs
    /// to it (its runs, and the sync state of its job, [`source_job_key`]),
    /// in one transaction; `false` when there was no such source of theirs.
    /// While one of its runs is queued or running nothing is deleted and the
    /// answer is [`StoreError::Conflict`] on `source`.
    async fn delete_source(
        &self,
        id: &pinion_domain::SourceId,
        owner: &UserId,
    ) -> Result<bool, StoreError>;

    /// Replaces the settings of source `source.id` (its credential, name,
    /// streams and output) if `source.owner` owns it, in one transaction;
    /// `false` when there is no such source of theirs. When the credential,
    /// streams or output change, the sync state of the old job is dropped,
    /// so no run resumes a checkpoint made for other settings. While one of
    /// its runs is queued or running nothing changes and the answer is
    /// [`StoreError::Conflict`] on `source`.
    async fn update_source(&self, source: &SourceRecord) -> Result<bool, StoreError>;

    /// Stores a new destination (its `created_at` is set here).
    async fn create_destination(
        &self,
        destination: &DestinationRecord,
    ) -> Result<DestinationRecord, StoreError>;

    /// A destination by id; [`StoreError::NotFound`] when there is none.
    async fn get_destination(
        &self,
        id: &pinion_domain::DestinationId,
    ) -> Result<DestinationRecord, StoreError>;

    /// The destinations `owner` owns, newest first.
    async fn list_destinations(&self, owner: &UserId)
    -> Result<Vec<DestinationRecord>, StoreError>;

    /// The destinations that write with credential `credential_id`, by name.
    async fn destinations_using_credential(
        &self,
        credential_id: &pinion_domain::CredentialId,
    ) -> Result<Vec<DestinationRecord>, StoreError>;

    /// Deletes destination `id` if `owner` owns it; `false` when there was
    /// no such destination of theirs.
    async fn delete_destination(
        &self,
        id: &pinion_domain::DestinationId,
        owner: &UserId,
    ) -> Result<bool, StoreError>;

    /// Makes destination `id` of `owner` publish with credential
    /// `credential_id`; `false` when there is no such destination of theirs.
    async fn repoint_destination(
        &self,
        id: &pinion_domain::DestinationId,
        owner: &UserId,
        credential_id: &pinion_domain::CredentialId,
    ) -> Result<bool, StoreError>;

    /// Keeps the record of a publish from a destination's page.
    async fn record_publish(&self, publish: &PublishRecord) -> Result<(), StoreError>;

    /// The publishes to destination `destination_id`, newest first, at most
    /// `limit`.
    async fn list_publishes(
        &self,
        destination_id: &pinion_domain::DestinationId,
        limit: u32,
    ) -> Result<Vec<PublishRecord>, StoreError>;
}

/// [`WebStateStore`] on SQL, for both dialects.
#[async_trait::async_trait]
impl<D> crate::web_state::WebStateStore for SqlStore<D>
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
    #[tracing::instrument(skip_all, fields(user_id = %user))]
    async fn create_session(
        &self,
        user: &UserId,
        token_hash: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        sqlx::query(
            "INSERT INTO web_sessions (token_hash, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user.as_str())
        .bind(now)
        .bind(crate::sql::stored_time(expires_at))
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(())
    }

    async fn session_user(
        &self,
        token_hash: &str,
    ) -> Result<Option<crate::model::User>, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let user_id: Option<String> = sqlx::query_scalar(
            "SELECT user_id FROM web_sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(Self::db_error)?;
        match user_id {
            Some(id) => {
                let id = UserId::from_trusted(id);
                match crate::UserStore::get_user(self, &id).await {
                    Ok(user) => Ok(Some(user)),
                    Err(StoreError::NotFound { .. }) => Ok(None),
                    Err(err) => Err(err),
                }
            }
            None => Ok(None),
        }
    }

    async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .inspect(|_| self.changes.bump())
            .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result) > 0)
    }

    async fn delete_user_sessions(&self, user: &UserId) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&self.pool)
            .await
            .inspect(|_| self.changes.bump())
            .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result))
    }

    async fn purge_sessions(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1")
            .bind(crate::sql::stored_time(before))
            .execute(&self.pool)
            .await
            .inspect(|_| self.changes.bump())
            .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result))
    }

    #[tracing::instrument(skip_all, fields(source_id = %source.id))]
    async fn create_source(
        &self,
        source: &crate::web_state::SourceRecord,
    ) -> Result<crate::web_state::SourceRecord, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        sqlx::query(
            "INSERT INTO sources (id, owner_id, credential_id, name, streams, \
             output_kind, output_path, sync_mode, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(source.id.as_str())
        .bind(source.owner.as_str())
        .bind(source.credential_id.as_str())
        .bind(&source.name)
        .bind(source.streams.join(","))
        .bind(&source.output_kind)
        .bind(&source.output_path)
        .bind(source.sync_mode.as_str())
        .bind(now)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        let mut stored = source.clone();
        stored.created_at = now;
        Ok(stored)
    }

    async fn get_source(
        &self,
        id: &pinion_domain::SourceId,
    ) -> Result<crate::web_state::SourceRecord, StoreError> {
        let sql = format!(
            "SELECT {} FROM sources WHERE id = $1",
            crate::web_state::SOURCE_COLUMNS
        );
        self.select_one_by(&sql, id.as_str(), "source", SourceRow::into_record)
            .await
    }

    async fn list_sources(
        &self,
        owner: &UserId,
    ) -> Result<Vec<crate::web_state::SourceRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM sources WHERE owner_id = $1 ORDER BY created_at DESC, id",
            crate::web_state::SOURCE_COLUMNS
        );
        self.select_by(&sql, owner.as_str(), SourceRow::into_record)
            .await
    }

    async fn sources_using_credential(
        &self,
        credential_id: &pinion_domain::CredentialId,
    ) -> Result<Vec<crate::web_state::SourceRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM sources WHERE credential_id = $1 ORDER BY name, id",
            crate::web_state::SOURCE_COLUMNS
        );
        self.select_by(&sql, credential_id.as_str(), SourceRow::into_record)
            .await
    }

    #[tracing::instrument(skip_all, fields(source_id = %id))]
    async fn delete_source(
        &self,
        id: &pinion_domain::SourceId,
        owner: &UserId,
    ) -> Result<bool, StoreError> {
        let id = id.as_str();
        let mut tx = self.begin_write().await?;
        // The row lock makes a run being created for this source
        // wait (its foreign key check) until the deletion commits,
        // and then fail as a run of an unknown source.
        let sql = format!(
            "SELECT credential_id FROM sources WHERE id = $1 AND owner_id = $2{}",
            D::FOR_UPDATE
        );
        let credential_id: Option<String> = sqlx::query_scalar(&sql)
            .bind(id)
            .bind(owner.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        let Some(credential_id) = credential_id else {
            return Ok(false);
        };
        let unfinished: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM runs WHERE source_id = $1 \
             AND status IN ('queued', 'running')",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        if unfinished > 0 {
            return Err(StoreError::Conflict {
                field: "source",
                message: "a run of this source is still going; wait for it to end \
                          before deleting the source"
                    .to_owned(),
            });
        }
        let job = crate::web_state::source_job_key(&credential_id, id);
        crate::sync_state::SqlSyncState::<D>::delete_job(&mut tx, &job).await?;
        sqlx::query("DELETE FROM runs WHERE source_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        sqlx::query("DELETE FROM sources WHERE id = $1 AND owner_id = $2")
            .bind(id)
            .bind(owner.as_str())
            .execute(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        self.commit(tx).await?;
        Ok(true)
    }

    #[tracing::instrument(skip_all, fields(source_id = %source.id))]
    async fn update_source(
        &self,
        source: &crate::web_state::SourceRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT {} FROM sources WHERE id = $1 AND owner_id = $2{}",
            crate::web_state::SOURCE_COLUMNS,
            D::FOR_UPDATE
        );
        let before: Option<crate::web_state::SourceRow> = sqlx::query_as(&sql)
            .bind(source.id.as_str())
            .bind(source.owner.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        let Some(before) = before.map(|row| row.into_record()) else {
            return Ok(false);
        };
        let unfinished: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM runs WHERE source_id = $1 \
             AND status IN ('queued', 'running')",
        )
        .bind(source.id.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        if unfinished > 0 {
            return Err(StoreError::Conflict {
                field: "source",
                message: "a run of this source is still going; wait for it to end \
                          before changing the source"
                    .to_owned(),
            });
        }
        let settings_changed = before.credential_id != source.credential_id
            || before.streams != source.streams
            || before.output_kind != source.output_kind
            || before.output_path != source.output_path;
        if settings_changed {
            let job =
                crate::web_state::source_job_key(before.credential_id.as_str(), source.id.as_str());
            crate::sync_state::SqlSyncState::<D>::delete_job(&mut tx, &job).await?;
        }
        sqlx::query(
            "UPDATE sources SET credential_id = $3, name = $4, streams = $5, \
             output_kind = $6, output_path = $7, sync_mode = $8 \
             WHERE id = $1 AND owner_id = $2",
        )
        .bind(source.id.as_str())
        .bind(source.owner.as_str())
        .bind(source.credential_id.as_str())
        .bind(&source.name)
        .bind(source.streams.join(","))
        .bind(&source.output_kind)
        .bind(&source.output_path)
        .bind(source.sync_mode.as_str())
        .execute(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        self.commit(tx).await?;
        Ok(true)
    }

    #[tracing::instrument(skip_all, fields(destination_id = %destination.id))]
    async fn create_destination(
        &self,
        destination: &crate::web_state::DestinationRecord,
    ) -> Result<crate::web_state::DestinationRecord, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        sqlx::query(
            "INSERT INTO destinations (id, owner_id, credential_id, name, board_id, \
             board_name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(destination.id.as_str())
        .bind(destination.owner.as_str())
        .bind(destination.credential_id.as_str())
        .bind(&destination.name)
        .bind(&destination.board_id)
        .bind(&destination.board_name)
        .bind(now)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        let mut stored = destination.clone();
        stored.created_at = now;
        Ok(stored)
    }

    async fn get_destination(
        &self,
        id: &pinion_domain::DestinationId,
    ) -> Result<crate::web_state::DestinationRecord, StoreError> {
        let sql = format!(
            "SELECT {} FROM destinations WHERE id = $1",
            crate::web_state::DESTINATION_COLUMNS
        );
        self.select_one_by(
            &sql,
            id.as_str(),
            "destination",
            DestinationRow::into_record,
        )
        .await
    }

    async fn list_destinations(
        &self,
        owner: &UserId,
    ) -> Result<Vec<crate::web_state::DestinationRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM destinations WHERE owner_id = $1 ORDER BY created_at DESC, id",
            crate::web_state::DESTINATION_COLUMNS
        );
        self.select_by(&sql, owner.as_str(), DestinationRow::into_record)
            .await
    }

    async fn destinations_using_credential(
        &self,
        credential_id: &pinion_domain::CredentialId,
    ) -> Result<Vec<crate::web_state::DestinationRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM destinations WHERE credential_id = $1 ORDER BY name, id",
            crate::web_state::DESTINATION_COLUMNS
        );
        self.select_by(&sql, credential_id.as_str(), DestinationRow::into_record)
            .await
    }

    #[tracing::instrument(skip_all, fields(destination_id = %id))]
    async fn delete_destination(
        &self,
        id: &pinion_domain::DestinationId,
        owner: &UserId,
    ) -> Result<bool, StoreError> {
        let id = id.as_str();
        let result = sqlx::query("DELETE FROM destinations WHERE id = $1 AND owner_id = $2")
            .bind(id)
            .bind(owner.as_str())
            .execute(&self.pool)
            .await
            .inspect(|_| self.changes.bump())
            .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result) == 1)
    }

    #[tracing::instrument(skip_all, fields(publish_id = %publish.id))]
    async fn record_publish(
        &self,
        publish: &crate::web_state::PublishRecord,
    ) -> Result<(), StoreError> {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO destination_publishes (id, destination_id, owner_id, created_at, rows, \
             created, already_published, rejected, unfinished, results) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(publish.id.as_str())
        .bind(publish.destination_id.as_str())
        .bind(publish.owner.as_str())
        .bind(crate::sql::stored_time(publish.created_at))
        .bind(count(publish.rows))
        .bind(count(publish.created))
        .bind(count(publish.already_published))
        .bind(count(publish.rejected))
        .bind(count(publish.unfinished))
        .bind(&publish.results)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(())
    }

    async fn list_publishes(
        &self,
        destination_id: &pinion_domain::DestinationId,
        limit: u32,
    ) -> Result<Vec<crate::web_state::PublishRecord>, StoreError> {
        let destination_id = destination_id.as_str();
        let sql = format!(
            "SELECT {} FROM destination_publishes WHERE destination_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2",
            crate::web_state::PUBLISH_COLUMNS
        );
        let rows: Vec<crate::web_state::PublishRow> = sqlx::query_as(&sql)
            .bind(destination_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(Self::db_error)?;
        Ok(rows.into_iter().map(|row| row.into_record()).collect())
    }

    #[tracing::instrument(skip_all, fields(destination_id = %id))]
    async fn repoint_destination(
        &self,
        id: &pinion_domain::DestinationId,
        owner: &UserId,
        credential_id: &pinion_domain::CredentialId,
    ) -> Result<bool, StoreError> {
        let id = id.as_str();
        let credential_id = credential_id.as_str();
        let result = sqlx::query(
            "UPDATE destinations SET credential_id = $3 WHERE id = $1 AND owner_id = $2",
        )
        .bind(id)
        .bind(owner.as_str())
        .bind(credential_id)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result) == 1)
    }
}
