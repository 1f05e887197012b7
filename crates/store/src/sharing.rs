//! Sharing credentials with collaborators and the credential activity log
//! (issue 6).
//!
//! A share row says a user may use a credential for their own sources and
//! destinations; withdrawing it keeps the row with `withdrawn_at` set, so a
//! run can tell "no longer shared with you" from "never yours". The activity
//! log is append-only (triggers refuse updates and deletes) and has no
//! foreign key, so the log of a deleted credential stays readable by admins.
//! Sharing, withdrawing and deleting write their log row in the same
//! transaction as the change. No row here holds a secret.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pinion_domain::{CredentialId, UserId, Username};

use crate::dialect::{Dialect, Timestamp};
use crate::error::StoreError;
use crate::sql::SqlStore;

pub use pinion_domain::record::{ActivityEvent, ActivityRecord, ShareRecord, ShareState};

/// A log row to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
    /// The credential.
    pub credential_id: CredentialId,
    /// Its name now.
    pub credential_name: String,
    /// The acting user; `None` for the system.
    pub actor_id: Option<UserId>,
    /// The acting user's username, or `system`.
    pub actor: String,
    /// What happened.
    pub event: ActivityEvent,
    /// What it is about (a username, a source id, a failure class).
    pub subject: Option<String>,
    /// More words for people; never a secret.
    pub detail: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ActivityRow {
    pub id: i64,
    pub credential_id: String,
    pub credential_name: String,
    pub at: DateTime<Utc>,
    pub actor_id: Option<String>,
    pub actor: String,
    pub event: String,
    pub subject: Option<String>,
    pub detail: Option<String>,
}

impl ActivityRow {
    pub(crate) fn into_record(self) -> ActivityRecord {
        ActivityRecord {
            id: self.id,
            credential_id: CredentialId::from_trusted(self.credential_id),
            credential_name: self.credential_name,
            at: self.at,
            actor_id: self.actor_id.map(UserId::from_trusted),
            actor: self.actor,
            event: self.event,
            subject: self.subject,
            detail: self.detail,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ShareRow {
    pub credential_id: String,
    pub user_id: String,
    pub username: String,
    pub shared_by: String,
    pub created_at: DateTime<Utc>,
}

impl ShareRow {
    pub(crate) fn into_record(self) -> ShareRecord {
        ShareRecord {
            credential_id: CredentialId::from_trusted(self.credential_id),
            user_id: UserId::from_trusted(self.user_id),
            username: Username::from_trusted(self.username),
            shared_by: UserId::from_trusted(self.shared_by),
            created_at: self.created_at,
        }
    }
}

pub(crate) const ACTIVITY_COLUMNS: &str =
    "id, credential_id, credential_name, at, actor_id, actor, event, subject, detail";

pub(crate) const SHARE_SELECT: &str = "SELECT s.credential_id, s.user_id, u.username, \
     s.shared_by, s.created_at FROM credential_shares s JOIN users u ON u.id = s.user_id";

/// Shares and the activity log. Every [`crate::Store`] implements it.
#[async_trait]
pub trait SharingStore: Send + Sync + std::fmt::Debug {
    /// Shares `credential` with `user` and appends `activity`, in one
    /// transaction. A share that is already active is a
    /// [`StoreError::Conflict`] on `username`; a withdrawn one is renewed.
    async fn share_credential(
        &self,
        credential: &CredentialId,
        user: &UserId,
        shared_by: &UserId,
        activity: &NewActivity,
    ) -> Result<ShareRecord, StoreError>;

    /// Withdraws the active share of `credential` with `user` and appends
    /// `activity`, in one transaction; `false` (and no log row) when there
    /// was no active share.
    async fn withdraw_share(
        &self,
        credential: &CredentialId,
        user: &UserId,
        activity: &NewActivity,
    ) -> Result<bool, StoreError>;

    /// The active shares of `credential`, by username.
    async fn list_shares(&self, credential: &CredentialId) -> Result<Vec<ShareRecord>, StoreError>;

    /// Whether `credential` is shared with `user` now, was once, or never.
    async fn share_state(
        &self,
        credential: &CredentialId,
        user: &UserId,
    ) -> Result<ShareState, StoreError>;

    /// The ids of the credentials actively shared with `user`, oldest share first.
    async fn credentials_shared_with(&self, user: &UserId)
    -> Result<Vec<CredentialId>, StoreError>;

    /// Deletes a credential (with its tokens, flows and shares) and appends
    /// `activity`, in one transaction.
    async fn delete_credential_logged(
        &self,
        id: &CredentialId,
        activity: &NewActivity,
    ) -> Result<(), StoreError>;

    /// Appends one row to the activity log.
    async fn append_activity(&self, activity: &NewActivity) -> Result<(), StoreError>;

    /// The log of `credential_id`, newest first: at most `limit` rows with
    /// an id below `before` (all when `None`). Works for deleted credentials.
    async fn list_activity(
        &self,
        credential_id: &pinion_domain::CredentialId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ActivityRecord>, StoreError>;
}

/// [`SharingStore`] on SQL, for both dialects.
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
    async fn insert_activity<'e, E>(
        executor: E,
        at: chrono::DateTime<chrono::Utc>,
        activity: &crate::sharing::NewActivity,
    ) -> Result<(), StoreError>
    where
        E: sqlx::Executor<'e, Database = D>,
    {
        sqlx::query(
            "INSERT INTO credential_activity (credential_id, credential_name, at, \
             actor_id, actor, event, subject, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(activity.credential_id.as_str())
        .bind(&activity.credential_name)
        .bind(at)
        .bind(activity.actor_id.as_ref().map(|id| id.as_str().to_owned()))
        .bind(&activity.actor)
        .bind(activity.event.as_str())
        .bind(&activity.subject)
        .bind(&activity.detail)
        .execute(executor)
        .await
        .map_err(Self::db_error)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl<D> crate::sharing::SharingStore for SqlStore<D>
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
    #[tracing::instrument(skip_all, fields(credential_id = %credential, user_id = %user))]
    async fn share_credential(
        &self,
        credential: &CredentialId,
        user: &UserId,
        shared_by: &UserId,
        activity: &crate::sharing::NewActivity,
    ) -> Result<crate::sharing::ShareRecord, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "INSERT INTO credential_shares (credential_id, user_id, shared_by, \
             created_at, withdrawn_at) VALUES ($1, $2, $3, $4, NULL) \
             ON CONFLICT (credential_id, user_id) DO UPDATE SET \
             shared_by = excluded.shared_by, created_at = excluded.created_at, \
             withdrawn_at = NULL WHERE credential_shares.withdrawn_at IS NOT NULL",
        )
        .bind(credential.as_str())
        .bind(user.as_str())
        .bind(shared_by.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|err| match err {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound {
                entity: "credential",
            },
            other => Self::db_error(other),
        })?;
        if D::rows_affected(&result) == 0 {
            return Err(StoreError::Conflict {
                field: "username",
                message: "the credential is already shared with this user".to_owned(),
            });
        }
        Self::insert_activity(&mut *tx, now, activity).await?;
        let sql = format!(
            "{} WHERE s.credential_id = $1 AND s.user_id = $2",
            crate::sharing::SHARE_SELECT
        );
        let row: crate::sharing::ShareRow = sqlx::query_as(&sql)
            .bind(credential.as_str())
            .bind(user.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        self.commit(tx).await?;
        Ok(row.into_record())
    }

    #[tracing::instrument(skip_all, fields(credential_id = %credential, user_id = %user))]
    async fn withdraw_share(
        &self,
        credential: &CredentialId,
        user: &UserId,
        activity: &crate::sharing::NewActivity,
    ) -> Result<bool, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "UPDATE credential_shares SET withdrawn_at = $3 \
             WHERE credential_id = $1 AND user_id = $2 AND withdrawn_at IS NULL",
        )
        .bind(credential.as_str())
        .bind(user.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        if D::rows_affected(&result) == 0 {
            return Ok(false);
        }
        Self::insert_activity(&mut *tx, now, activity).await?;
        self.commit(tx).await?;
        Ok(true)
    }

    async fn list_shares(
        &self,
        credential: &CredentialId,
    ) -> Result<Vec<crate::sharing::ShareRecord>, StoreError> {
        let sql = format!(
            "{} WHERE s.credential_id = $1 AND s.withdrawn_at IS NULL \
             ORDER BY u.username",
            crate::sharing::SHARE_SELECT
        );
        let rows: Vec<crate::sharing::ShareRow> = sqlx::query_as(&sql)
            .bind(credential.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(Self::db_error)?;
        Ok(rows.into_iter().map(|row| row.into_record()).collect())
    }

    async fn share_state(
        &self,
        credential: &CredentialId,
        user: &UserId,
    ) -> Result<crate::sharing::ShareState, StoreError> {
        let withdrawn: Option<(Option<chrono::DateTime<chrono::Utc>>,)> = sqlx::query_as(
            "SELECT withdrawn_at FROM credential_shares \
             WHERE credential_id = $1 AND user_id = $2",
        )
        .bind(credential.as_str())
        .bind(user.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(Self::db_error)?;
        Ok(match withdrawn {
            None => crate::sharing::ShareState::None,
            Some((None,)) => crate::sharing::ShareState::Active,
            Some((Some(_),)) => crate::sharing::ShareState::Withdrawn,
        })
    }

    async fn credentials_shared_with(
        &self,
        user: &UserId,
    ) -> Result<Vec<CredentialId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT credential_id FROM credential_shares \
             WHERE user_id = $1 AND withdrawn_at IS NULL \
             ORDER BY created_at, credential_id",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)?;
        Ok(ids.into_iter().map(CredentialId::from_trusted).collect())
    }

    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    async fn delete_credential_logged(
        &self,
        id: &CredentialId,
        activity: &crate::sharing::NewActivity,
    ) -> Result<(), StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let result = sqlx::query("DELETE FROM credentials WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        if D::rows_affected(&result) == 0 {
            return Err(StoreError::NotFound {
                entity: "credential",
            });
        }
        Self::insert_activity(&mut *tx, now, activity).await?;
        self.commit(tx).await
    }

    async fn append_activity(
        &self,
        activity: &crate::sharing::NewActivity,
    ) -> Result<(), StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        Self::insert_activity(&self.pool, now, activity)
            .await
            .inspect(|_| self.changes.bump())
    }

    async fn list_activity(
        &self,
        credential_id: &pinion_domain::CredentialId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<crate::sharing::ActivityRecord>, StoreError> {
        let credential_id = credential_id.as_str();
        let sql = format!(
            "SELECT {} FROM credential_activity WHERE credential_id = $1 AND id < $2 \
             ORDER BY id DESC LIMIT $3",
            crate::sharing::ACTIVITY_COLUMNS
        );
        let rows: Vec<crate::sharing::ActivityRow> = sqlx::query_as(&sql)
            .bind(credential_id)
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(Self::db_error)?;
        Ok(rows.into_iter().map(|row| row.into_record()).collect())
    }
}
