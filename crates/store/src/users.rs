//! [`crate::UserStore`] on SQL: users, their password hashes and their API
//! tokens (kept only as SHA-256 hashes).

use pinion_domain::{Role, UserId, Username};

use crate::dialect::{Dialect, Timestamp};
use crate::error::StoreError;
use crate::model::User;
use crate::sql::SqlStore;

#[async_trait::async_trait]
impl<D> crate::store::UserStore for SqlStore<D>
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
    #[tracing::instrument(skip_all, fields(role = role.as_str()))]
    async fn create_user(&self, username: &Username, role: Role) -> Result<User, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let user = Self::insert_user(&mut tx, username, role, now).await?;
        self.commit(tx).await?;
        Ok(user)
    }

    #[tracing::instrument(skip_all, fields(role = role.as_str()))]
    async fn create_first_user(
        &self,
        username: &Username,
        role: Role,
        password_hash: &str,
    ) -> Result<Option<User>, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        if !D::LOCK_TABLE.is_empty() {
            sqlx::query(&D::LOCK_TABLE.replace("{table}", "users"))
                .execute(&mut *tx)
                .await
                .map_err(Self::db_error)?;
        }
        let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        if existing > 0 {
            return Ok(None);
        }
        let mut user = Self::insert_user(&mut tx, username, role, now).await?;
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(user.id.as_str())
            .bind(password_hash)
            .execute(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        user.has_password = true;
        self.commit(tx).await?;
        Ok(Some(user))
    }

    #[tracing::instrument(skip_all, fields(role = role.as_str()))]
    async fn create_user_with_token(
        &self,
        username: &Username,
        role: Role,
    ) -> Result<(User, pinion_domain::ApiToken), StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let user = Self::insert_user(&mut tx, username, role, now).await?;
        let token = Self::insert_api_token(&mut tx, &user.id, now).await?;
        self.commit(tx).await?;
        Ok((user, token))
    }

    async fn get_user(&self, id: &UserId) -> Result<User, StoreError> {
        self.fetch_user_where("id", id.as_str()).await
    }

    async fn get_user_by_username(&self, username: &Username) -> Result<User, StoreError> {
        self.fetch_user_where("username", username.as_str()).await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!(
            "SELECT {} FROM users ORDER BY username",
            crate::sql::USER_COLUMNS
        );
        sqlx::query_as::<_, crate::sql::UserRow>(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(Self::db_error)?
            .into_iter()
            .map(crate::sql::UserRow::into_user)
            .collect()
    }

    #[tracing::instrument(skip_all, fields(user_id = %user))]
    async fn set_password_hash(&self, user: &UserId, hash: Option<&str>) -> Result<(), StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let result =
            sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                .bind(user.as_str())
                .bind(hash)
                .bind(now)
                .execute(&self.pool)
                .await
                .inspect(|_| self.changes.bump())
                .map_err(Self::db_error)?;
        if D::rows_affected(&result) == 0 {
            return Err(StoreError::NotFound { entity: "user" });
        }
        Ok(())
    }

    async fn password_hash(&self, user: &UserId) -> Result<Option<String>, StoreError> {
        let row: (Option<String>,) =
            sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
                .bind(user.as_str())
                .fetch_one(&self.pool)
                .await
                .map_err(Self::not_found("user"))?;
        Ok(row.0)
    }

    #[tracing::instrument(skip_all, fields(user_id = %user))]
    async fn create_api_token(&self, user: &UserId) -> Result<pinion_domain::ApiToken, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let token = Self::insert_api_token(&mut tx, user, now).await?;
        self.commit(tx).await?;
        Ok(token)
    }

    async fn user_for_api_token(
        &self,
        token: &pinion_domain::ApiToken,
    ) -> Result<Option<User>, StoreError> {
        let sql = format!(
            "SELECT {} FROM users WHERE id = (SELECT user_id FROM api_tokens \
             WHERE token_hash = $1 AND revoked_at IS NULL)",
            crate::sql::USER_COLUMNS
        );
        sqlx::query_as::<_, crate::sql::UserRow>(&sql)
            .bind(crate::sql::api_token_hash(token))
            .fetch_optional(&self.pool)
            .await
            .map_err(Self::db_error)?
            .map(crate::sql::UserRow::into_user)
            .transpose()
    }

    async fn revoke_api_token(&self, token: &pinion_domain::ApiToken) -> Result<bool, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let result = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE token_hash = $1 \
             AND revoked_at IS NULL",
        )
        .bind(crate::sql::api_token_hash(token))
        .bind(now)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result) > 0)
    }

    #[tracing::instrument(skip_all, fields(user_id = %user))]
    async fn revoke_api_tokens(&self, user: &UserId) -> Result<u64, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let result = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 \
             AND revoked_at IS NULL",
        )
        .bind(user.as_str())
        .bind(now)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result))
    }

    #[tracing::instrument(skip_all, fields(user_id = %user))]
    async fn create_named_api_token(
        &self,
        user: &UserId,
        name: &str,
    ) -> Result<(pinion_domain::ApiToken, crate::runs::ApiTokenInfo), StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let token = pinion_domain::ApiToken::random();
        let hash = crate::sql::api_token_hash(&token);
        sqlx::query(
            "INSERT INTO api_tokens (token_hash, user_id, created_at, name) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&hash)
        .bind(user.as_str())
        .bind(now)
        .bind(name)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(|err| match &err {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound { entity: "user" }
            }
            _ => Self::db_error(err),
        })?;
        let info = crate::runs::ApiTokenInfo {
            id: crate::runs::token_id(&hash),
            name: Some(name.to_owned()),
            created_at: now,
            last_used_at: None,
        };
        Ok((token, info))
    }

    async fn list_api_tokens(
        &self,
        user: &UserId,
    ) -> Result<Vec<crate::runs::ApiTokenInfo>, StoreError> {
        let rows: Vec<crate::runs::ApiTokenRow> = sqlx::query_as(
            "SELECT token_hash, name, created_at, last_used_at FROM api_tokens \
             WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)?;
        Ok(rows.into_iter().map(|row| row.into_info()).collect())
    }

    #[tracing::instrument(skip_all, fields(user_id = %user))]
    async fn revoke_api_token_by_id(
        &self,
        user: &UserId,
        id: &pinion_domain::ApiTokenId,
    ) -> Result<bool, StoreError> {
        let id = id.as_str();
        let hashes: Vec<(Vec<u8>,)> = sqlx::query_as(
            "SELECT token_hash FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)?;
        let Some((hash,)) = hashes
            .into_iter()
            .find(|(hash,)| crate::runs::token_id(hash).as_str() == id)
        else {
            return Ok(false);
        };
        let now = crate::sql::stored_time(self.clock.now());
        let result = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $3 WHERE token_hash = $1 \
             AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(&hash)
        .bind(user.as_str())
        .bind(now)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result) > 0)
    }

    async fn authenticate_api_token(
        &self,
        token: &pinion_domain::ApiToken,
    ) -> Result<Option<User>, StoreError> {
        let hash = crate::sql::api_token_hash(token);
        let found: Option<crate::runs::UserWithUse> = sqlx::query_as(
            "SELECT u.id, u.username, u.role, u.password_hash, u.created_at, \
             u.updated_at, t.last_used_at FROM api_tokens t \
             JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        )
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(Self::db_error)?;
        let Some(found) = found else {
            return Ok(None);
        };
        let now = crate::sql::stored_time(self.clock.now());
        let stale = crate::runs::last_use_stale(found.last_used_at, now);
        if stale {
            // Best effort: a failed note never fails the request.
            if let Err(err) =
                sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1")
                    .bind(&hash)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .inspect(|_| self.changes.bump())
            {
                tracing::warn!(error = %err, "Could not note an API token's use.");
            }
        }
        found.user.into_user().map(Some)
    }
}
