//! [`crate::KeyStore`] on SQL: sealing files and MACs under the active key,
//! the keyring's status, re-encryption under the active key, and the
//! retirement of old key versions.

use crate::crypto::KeyVersion;
use crate::dialect::{Dialect, Timestamp};
use crate::error::StoreError;
use crate::sql::SqlStore;

#[async_trait::async_trait]
impl<D> crate::store::KeyStore for SqlStore<D>
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
    fn seal_file(&self, location: crate::crypto::Location<'_>, plaintext: &[u8]) -> Vec<u8> {
        self.keys.current().seal(location, plaintext)
    }

    fn open_file(
        &self,
        location: crate::crypto::Location<'_>,
        envelope: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, StoreError> {
        self.keys
            .current()
            .open(location, envelope)
            .map_err(|err| crate::sql::open_error(location, err, &self.keys.source))
    }

    fn mac(&self, purpose: &str, message: &[u8]) -> (crate::KeyVersion, [u8; 32]) {
        self.keys.current().mac(purpose, message)
    }

    fn verify_mac(
        &self,
        purpose: &str,
        version: crate::KeyVersion,
        message: &[u8],
        tag: &[u8],
    ) -> bool {
        self.keys
            .current()
            .verify_mac(purpose, version, message, tag)
    }

    async fn keyring_status(&self) -> Result<crate::model::KeyringStatus, StoreError> {
        let registered = Self::stored_checks(&self.pool, 0, "").await?;
        let mut conn = self.pool.acquire().await.map_err(Self::db_error)?;
        let counts = Self::sealed_counts(&mut conn).await?;
        Ok(crate::sql::keyring_status(
            &self.keys.current(),
            &registered,
            &counts,
        ))
    }

    #[tracing::instrument(skip_all, fields(limit = limit, key_version))]
    async fn reencrypt_batch(&self, limit: usize) -> Result<usize, StoreError> {
        let mut tx = self.begin_write().await?;
        let keyring = self.sealing_keyring(&mut tx).await?;
        let active = keyring.active_version();
        tracing::Span::current().record("key_version", active);
        let prefix = active.to_be_bytes().to_vec();
        let sql = format!(
            "SELECT {} FROM credentials WHERE substr(client_secret_sealed, 2, 4) <> $1 \
             OR substr(access_token_sealed, 2, 4) <> $1 \
             OR substr(refresh_token_sealed, 2, 4) <> $1 \
             ORDER BY id LIMIT $2{}",
            crate::sql::CREDENTIAL_COLUMNS,
            D::SKIP_LOCKED
        );
        let rows = sqlx::query_as::<_, crate::sql::CredentialRow>(&sql)
            .bind(prefix)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        for mut row in rows.iter().cloned() {
            let opened = self.open_row(&row).await?;
            let (secret, access, refresh) = (
                opened.client_secret,
                opened.access_token,
                opened.refresh_token,
            );
            let reseal =
                |column, plaintext: &str| keyring.seal(row.location(column), plaintext.as_bytes());
            let client_secret_sealed = reseal(crate::sql::CLIENT_SECRET, secret.expose_secret());
            let access_token_sealed = access
                .as_ref()
                .map(|t| reseal(crate::sql::ACCESS_TOKEN, t.expose_secret()));
            let refresh_token_sealed = refresh
                .as_ref()
                .map(|t| reseal(crate::sql::REFRESH_TOKEN, t.expose_secret()));
            row.client_secret_sealed = client_secret_sealed;
            row.access_token_sealed = access_token_sealed;
            row.refresh_token_sealed = refresh_token_sealed;
            // The plaintext is unchanged, so the version stays: a
            // concurrent compare-and-set writer is not disturbed.
            let version = row.version;
            Self::write_credential(&mut tx, &row, version).await?;
        }
        // Authorization flows, with what is left of the batch.
        let remaining = limit.saturating_sub(rows.len());
        let mut flows = 0;
        if remaining > 0 {
            let sql = format!(
                "SELECT id, pkce_verifier_sealed FROM oauth_flows \
                 WHERE substr(pkce_verifier_sealed, 2, 4) <> $1 \
                 ORDER BY id LIMIT $2{}",
                D::SKIP_LOCKED
            );
            let flow_rows: Vec<(String, Vec<u8>)> = sqlx::query_as(&sql)
                .bind(active.to_be_bytes().to_vec())
                .bind(i64::try_from(remaining).unwrap_or(i64::MAX))
                .fetch_all(&mut *tx)
                .await
                .map_err(Self::db_error)?;
            for (id, sealed) in &flow_rows {
                let location = crate::crypto::Location {
                    table: crate::lifecycle::OAUTH_FLOWS,
                    column: crate::lifecycle::PKCE_VERIFIER,
                    row_id: id,
                };
                let opened = keyring
                    .open(location, sealed)
                    .map_err(|err| crate::sql::open_error(location, err, &self.keys.source))?;
                let resealed = keyring.seal(location, &opened);
                sqlx::query("UPDATE oauth_flows SET pkce_verifier_sealed = $2 WHERE id = $1")
                    .bind(id)
                    .bind(resealed)
                    .execute(&mut *tx)
                    .await
                    .map_err(Self::db_error)?;
            }
            flows = flow_rows.len();
        }
        // Webhook signing secrets (issue 14), with what is left after that.
        let secrets = crate::notifications::reencrypt_secrets(
            &mut tx,
            &keyring,
            &self.keys.source,
            remaining.saturating_sub(flows),
        )
        .await?;
        self.commit(tx).await?;
        Ok(rows.len() + flows + secrets)
    }

    #[tracing::instrument(skip_all, fields(key_version = version))]
    async fn retire_key(&self, version: KeyVersion) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let stored = Self::stored_checks(&mut *tx, 0, D::FOR_UPDATE).await?;
        if !stored.contains_key(&version) {
            return Err(StoreError::NotFound {
                entity: "key version",
            });
        }
        if stored.keys().next_back() == Some(&version)
            || version >= self.keys.current().active_version()
        {
            return Err(StoreError::KeyInUse {
                version,
                reason: "it is the active (newest) key version".into(),
            });
        }
        sqlx::query("DELETE FROM key_checks WHERE key_version = $1")
            .bind(i64::from(version))
            .execute(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        let counts = Self::sealed_counts(&mut *tx).await?;
        let remaining = counts.get(&version).copied().unwrap_or(0);
        if remaining > 0 {
            // Dropping `tx` rolls the delete back.
            return Err(StoreError::KeyInUse {
                version,
                reason: format!(
                    "{remaining} sealed values still use it; finish the re-encryption first"
                ),
            });
        }
        self.commit(tx).await
    }
}
