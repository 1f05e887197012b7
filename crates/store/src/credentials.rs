//! [`crate::CredentialStore`] on SQL: credentials with their sealed client
//! secrets and tokens, status and validity checks. Every write reads the row
//! (locked), changes it in Rust and writes it back under compare-and-set on
//! `version` (`SqlStore::write_credential`).

use pinion_domain::{CredentialId, CredentialStatus, UserId};

use crate::dialect::{Dialect, Timestamp};
use crate::error::StoreError;
use crate::model::CredentialRecord;
use crate::sql::SqlStore;

#[async_trait::async_trait]
impl<D> crate::store::CredentialStore for SqlStore<D>
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
    #[tracing::instrument(skip_all, fields(owner_id = %owner, credential_id))]
    async fn create_credential(
        &self,
        owner: &UserId,
        new: &pinion_domain::NewCredential,
    ) -> Result<CredentialRecord, StoreError> {
        let id = CredentialId::generate();
        tracing::Span::current().record("credential_id", tracing::field::display(&id));
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let keyring = self.sealing_keyring(&mut tx).await?;
        let sealed = keyring.seal(
            crate::crypto::Location {
                table: crate::sql::CREDENTIALS,
                column: crate::sql::CLIENT_SECRET,
                row_id: id.as_str(),
            },
            new.client_secret.expose_secret().as_bytes(),
        );
        let row = crate::sql::CredentialRow {
            id: id.as_str().to_owned(),
            owner_id: owner.as_str().to_owned(),
            name: new.name.as_str().to_owned(),
            description: new.description.as_ref().map(|d| d.as_str().to_owned()),
            provider: crate::model::PROVIDER_PINTEREST.to_owned(),
            client_id: new.client_id.as_str().to_owned(),
            client_secret_sealed: sealed,
            scopes: new.scopes.to_space_separated(),
            rate_tier: pinion_domain::RateTier::default().to_string(),
            granted_scopes: None,
            status: CredentialStatus::NeedsAuthorization.as_str().to_owned(),
            access_token_sealed: None,
            access_token_expires_at: None,
            access_token_aged_at: None,
            refresh_token_sealed: None,
            refresh_token_expires_at: None,
            last_refreshed_at: None,
            last_checked_at: None,
            last_error: None,
            refresh_started_at: None,
            refresh_attempt_id: None,
            refresh_failures: 0,
            next_refresh_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        sqlx::query(crate::sql::INSERT_CREDENTIAL)
            .bind(&row.id)
            .bind(&row.owner_id)
            .bind(&row.name)
            .bind(&row.description)
            .bind(&row.provider)
            .bind(&row.client_id)
            .bind(&row.client_secret_sealed)
            .bind(&row.scopes)
            .bind(&row.granted_scopes)
            .bind(&row.status)
            .bind(&row.access_token_sealed)
            .bind(row.access_token_expires_at)
            .bind(&row.refresh_token_sealed)
            .bind(row.refresh_token_expires_at)
            .bind(row.last_refreshed_at)
            .bind(&row.last_error)
            .bind(row.refresh_started_at)
            .bind(&row.refresh_attempt_id)
            .bind(row.refresh_failures)
            .bind(row.next_refresh_at)
            .bind(row.version)
            .bind(row.created_at)
            .bind(row.updated_at)
            .bind(crate::sql::name_key(&new.name))
            .execute(&mut *tx)
            .await
            .map_err(|err| match &err {
                sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
                    field: "name",
                    message: format!(
                        "this owner already has a credential named `{}` \
                             (names are compared case-insensitively)",
                        new.name
                    ),
                },
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    StoreError::NotFound { entity: "user" }
                }
                _ => Self::db_error(err),
            })?;
        self.commit(tx).await?;
        row.to_record()
    }

    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    async fn get_credential(&self, id: &CredentialId) -> Result<CredentialRecord, StoreError> {
        Self::fetch_credential(&self.pool, id.as_str(), "")
            .await?
            .to_record()
    }

    async fn list_credentials(&self, owner: &UserId) -> Result<Vec<CredentialRecord>, StoreError> {
        self.list_credentials_where("WHERE owner_id = $1", Some(owner.as_str()))
            .await
    }

    async fn list_all_credentials(&self) -> Result<Vec<CredentialRecord>, StoreError> {
        self.list_credentials_where("", None).await
    }

    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    async fn update_credential(
        &self,
        id: &CredentialId,
        update: &pinion_domain::CredentialUpdate,
        expected_version: Option<i64>,
    ) -> Result<CredentialRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut row = Self::credential_for_write(&mut tx, id, expected_version).await?;
        if update.is_empty() {
            self.commit(tx).await?;
            return row.to_record();
        }
        let current = row.version;
        if let Some(name) = &update.name {
            row.name = name.as_str().to_owned();
        }
        if let Some(description) = &update.description {
            row.description = description.as_ref().map(|d| d.as_str().to_owned());
        }
        if let Some(client_id) = &update.client_id
            && client_id.as_str() != row.client_id
        {
            // Tokens belong to one app: a new app needs a new authorization.
            row.client_id = client_id.as_str().to_owned();
            row.clear_tokens();
            row.status = CredentialStatus::NeedsAuthorization.as_str().to_owned();
            row.last_error = None;
        }
        if let Some(scopes) = &update.scopes {
            row.scopes = scopes.to_space_separated();
        }
        if let Some(tier) = &update.rate_tier {
            row.rate_tier = tier.to_string();
        }
        if let Some(secret) = &update.client_secret {
            let keyring = self.sealing_keyring(&mut tx).await?;
            row.client_secret_sealed = keyring.seal(
                row.location(crate::sql::CLIENT_SECRET),
                secret.expose_secret().as_bytes(),
            );
            // A credential in `error` was refused for its app
            // settings; with a new secret and its tokens still held
            // it is worth refreshing again, at once.
            if row.status == CredentialStatus::Error.as_str() && row.refresh_token_sealed.is_some()
            {
                row.status = CredentialStatus::Active.as_str().to_owned();
                row.last_error = None;
                row.refresh_failures = 0;
                row.next_refresh_at = None;
            }
        }
        row.version = current + 1;
        row.updated_at = crate::sql::stored_time(self.clock.now());
        Self::write_credential(&mut tx, &row, current).await?;
        self.commit(tx).await?;
        row.to_record()
    }

    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    async fn delete_credential(&self, id: &CredentialId) -> Result<(), StoreError> {
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
        self.commit(tx).await
    }

    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    async fn credential_secrets(
        &self,
        id: &CredentialId,
    ) -> Result<crate::model::CredentialSecrets, StoreError> {
        let row = Self::fetch_credential(&self.pool, id.as_str(), "").await?;
        let opened = self.open_row(&row).await?;
        Ok(crate::model::CredentialSecrets {
            record: row.to_record()?,
            client_secret: opened.client_secret,
            access_token: opened.access_token,
            refresh_token: opened.refresh_token,
        })
    }

    #[tracing::instrument(skip_all, fields(credential_id = %id, expected_version = expected_version))]
    async fn set_tokens(
        &self,
        id: &CredentialId,
        tokens: &crate::model::TokenSet,
        expected_version: i64,
    ) -> Result<CredentialRecord, StoreError> {
        self.write_tokens(id, tokens, expected_version, false).await
    }

    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    async fn replace_tokens(
        &self,
        id: &CredentialId,
        tokens: &crate::model::TokenSet,
        expected_version: i64,
    ) -> Result<CredentialRecord, StoreError> {
        self.write_tokens(id, tokens, expected_version, true).await
    }

    #[tracing::instrument(skip_all, fields(credential_id = %id, status = status.as_str()))]
    async fn set_status(
        &self,
        id: &CredentialId,
        status: CredentialStatus,
        last_error: Option<&str>,
        expected_version: Option<i64>,
    ) -> Result<CredentialRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut row = Self::credential_for_write(&mut tx, id, expected_version).await?;
        let current = row.version;
        row.status = status.as_str().to_owned();
        row.last_error = last_error.map(str::to_owned);
        row.version = current + 1;
        row.updated_at = crate::sql::stored_time(self.clock.now());
        Self::write_credential(&mut tx, &row, current).await?;
        self.commit(tx).await?;
        row.to_record()
    }

    async fn record_check(
        &self,
        id: &CredentialId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let result = sqlx::query("UPDATE credentials SET last_checked_at = $2 WHERE id = $1")
            .bind(id.as_str())
            .bind(crate::sql::stored_time(at))
            .execute(&self.pool)
            .await
            .map_err(Self::db_error)
            .inspect(|_| self.changes.bump())?;
        if D::rows_affected(&result) == 0 {
            return Err(StoreError::NotFound {
                entity: "credential",
            });
        }
        Ok(())
    }

    async fn save_check(&self, check: &crate::model::StoredCheck) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO credential_checks (credential_id, credential_version, checked_at, \
             ok, account_username, account_type, error) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (credential_id) DO UPDATE SET \
             credential_version = excluded.credential_version, \
             checked_at = excluded.checked_at, ok = excluded.ok, \
             account_username = excluded.account_username, \
             account_type = excluded.account_type, error = excluded.error",
        )
        .bind(check.credential_id.as_str())
        .bind(check.credential_version)
        .bind(crate::sql::stored_time(check.checked_at))
        .bind(check.ok)
        .bind(&check.account_username)
        .bind(&check.account_type)
        .bind(&check.error)
        .execute(&self.pool)
        .await
        .map_err(|err| match &err {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound {
                entity: "credential",
            },
            _ => Self::db_error(err),
        })
        .inspect(|_| self.changes.bump())?;
        Ok(())
    }

    async fn latest_check(
        &self,
        id: &CredentialId,
    ) -> Result<Option<crate::model::StoredCheck>, StoreError> {
        type Row = (
            i64,
            chrono::DateTime<chrono::Utc>,
            bool,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let row = sqlx::query_as::<_, Row>(
            "SELECT credential_version, checked_at, ok, account_username, account_type, \
             error FROM credential_checks WHERE credential_id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(Self::db_error)?;
        Ok(row.map(
            |(credential_version, checked_at, ok, account_username, account_type, error)| {
                crate::model::StoredCheck {
                    credential_id: id.clone(),
                    credential_version,
                    checked_at,
                    ok,
                    account_username,
                    account_type,
                    error,
                }
            },
        ))
    }
}
