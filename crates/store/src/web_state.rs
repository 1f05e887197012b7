//! The store side of the web UI (issue 6): browser sessions.
//!
//! A session row holds only the SHA-256 hash of the session cookie's value, so
//! a copy of the database cannot be used to sign in. The session's CSRF token
//! is derived from the cookie value by the service layer and is not stored.
//! Expiry is checked in the query itself, so an expired row is never honoured
//! even before [`WebStateStore::purge_sessions`] removes it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pinion_domain::UserId;

use crate::error::StoreError;
use crate::model::User;

/// Browser sessions. Every [`crate::Store`] implements it.
#[async_trait]
pub trait WebStateStore: Send + Sync {
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
}

/// Implements [`WebStateStore`] for a backend that also has `impl_store!`
/// (it uses that macro's helpers). Invoked in the backend's own module.
macro_rules! impl_web_state {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::web_state::WebStateStore for $store {
            #[tracing::instrument(skip_all, fields(user_id = %user))]
            async fn create_session(
                &self,
                user: &UserId,
                token_hash: &str,
                expires_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), StoreError> {
                let now = $crate::sql::stored_time(self.clock.now());
                sqlx::query(
                    "INSERT INTO web_sessions (token_hash, user_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(token_hash)
                .bind(user.as_str())
                .bind(now)
                .bind($crate::sql::stored_time(expires_at))
                .execute(&self.pool)
                .await
                .map_err(Self::db_error)?;
                Ok(())
            }

            async fn session_user(
                &self,
                token_hash: &str,
            ) -> Result<Option<$crate::model::User>, StoreError> {
                let now = $crate::sql::stored_time(self.clock.now());
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
                        match $crate::Store::get_user(self, &id).await {
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
                    .map_err(Self::db_error)?;
                Ok(result.rows_affected() > 0)
            }

            async fn delete_user_sessions(&self, user: &UserId) -> Result<u64, StoreError> {
                let result = sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
                    .bind(user.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err(Self::db_error)?;
                Ok(result.rows_affected())
            }

            async fn purge_sessions(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, StoreError> {
                let result = sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1")
                    .bind($crate::sql::stored_time(before))
                    .execute(&self.pool)
                    .await
                    .map_err(Self::db_error)?;
                Ok(result.rows_affected())
            }
        }
    };
}

pub(crate) use impl_web_state;
