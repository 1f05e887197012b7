//! One rate budget per Pinterest account and app (issue 14): the ledger
//! every process reserves its Pinterest requests in, and the Pinterest
//! account each credential acts for.
//!
//! A budget key has one row per lane (a rate-limit category, or
//! `universal`) holding the lane's theoretical arrival time (TAT) in
//! microseconds. A reservation is one upsert per call, for all the lanes a
//! request counts against: it moves each TAT to `max(TAT, now) + interval`
//! and returns how far ahead of now it then is. Both happen in one statement
//! on the database's own clock ([`Dialect::NOW_MICROS`]), so every replica,
//! on any host, sees the same time and the same queue. What to do with the
//! answer (how long to wait) is the Pinterest client's decision
//! (`pinion_pinterest::Lane::wait`).

use async_trait::async_trait;
use pinion_domain::CredentialId;

use crate::dialect::{Dialect, Timestamp};
use crate::error::StoreError;
use crate::sql::SqlStore;

/// Shared rate budgets and the Pinterest accounts that key them.
#[async_trait]
pub trait RateBudgetStore: Send + Sync + std::fmt::Debug {
    /// Reserves one request in each lane of `key`, given as (name, interval
    /// in microseconds): moves each lane's TAT to `max(TAT, now) + interval`
    /// and returns, in the order given, how many microseconds ahead of now
    /// each TAT then is.
    async fn reserve_rate(&self, key: &str, lanes: &[(&str, i64)]) -> Result<Vec<i64>, StoreError>;

    /// Moves the TAT of `lane` of `key` to at least `ahead_us` from now,
    /// never back.
    async fn hold_rate(&self, key: &str, lane: &str, ahead_us: i64) -> Result<(), StoreError>;

    /// The Pinterest account credential `id` was last seen to act for.
    async fn pinterest_account(&self, id: &CredentialId) -> Result<Option<String>, StoreError>;

    /// Records that credential `id` acts for Pinterest account `account_id`
    /// (an unknown credential is ignored).
    async fn note_pinterest_account(
        &self,
        id: &CredentialId,
        account_id: &str,
    ) -> Result<(), StoreError>;

    /// Forgets the account of credential `id` (after a new authorization,
    /// which may be for another account).
    async fn forget_pinterest_account(&self, id: &CredentialId) -> Result<(), StoreError>;
}

/// [`RateBudgetStore`] on SQL, for both dialects.
#[async_trait]
impl<D> RateBudgetStore for SqlStore<D>
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
    async fn reserve_rate(&self, key: &str, lanes: &[(&str, i64)]) -> Result<Vec<i64>, StoreError> {
        if lanes.is_empty() {
            return Ok(Vec::new());
        }
        let now = D::NOW_MICROS;
        let values = (0..lanes.len())
            .map(|i| {
                let (name, interval) = (2 * i + 2, 2 * i + 3);
                format!("($1, ${name}, {now} + ${interval}, ${interval})")
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO rate_budgets (budget_key, lane, tat_us, interval_us) VALUES {values} \
             ON CONFLICT (budget_key, lane) DO UPDATE SET \
             tat_us = CASE WHEN rate_budgets.tat_us > {now} THEN rate_budgets.tat_us ELSE {now} END \
             + excluded.interval_us, interval_us = excluded.interval_us \
             RETURNING lane, tat_us - {now}"
        );
        let mut query = sqlx::query_as::<_, (String, i64)>(&sql).bind(key);
        for (name, interval) in lanes {
            query = query.bind(*name).bind((*interval).max(0));
        }
        let rows = query.fetch_all(&self.pool).await.map_err(Self::db_error)?;
        lanes
            .iter()
            .map(|(name, _)| {
                rows.iter()
                    .find(|(lane, _)| lane == name)
                    .map(|(_, ahead)| *ahead)
                    .ok_or_else(|| StoreError::Corrupt(format!("no reservation for lane {name}")))
            })
            .collect()
    }

    async fn hold_rate(&self, key: &str, lane: &str, ahead_us: i64) -> Result<(), StoreError> {
        let now = D::NOW_MICROS;
        let sql = format!(
            "INSERT INTO rate_budgets (budget_key, lane, tat_us, interval_us) \
             VALUES ($1, $2, {now} + $3, 0) \
             ON CONFLICT (budget_key, lane) DO UPDATE SET tat_us = \
             CASE WHEN rate_budgets.tat_us > excluded.tat_us THEN rate_budgets.tat_us \
             ELSE excluded.tat_us END"
        );
        sqlx::query(&sql)
            .bind(key)
            .bind(lane)
            .bind(ahead_us.max(0))
            .execute(&self.pool)
            .await
            .map_err(Self::db_error)?;
        Ok(())
    }

    async fn pinterest_account(&self, id: &CredentialId) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT account_id FROM pinterest_accounts WHERE credential_id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(Self::db_error)
    }

    async fn note_pinterest_account(
        &self,
        id: &CredentialId,
        account_id: &str,
    ) -> Result<(), StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let result = sqlx::query(
            "INSERT INTO pinterest_accounts (credential_id, account_id, seen_at) \
             SELECT id, $2, $3 FROM credentials WHERE id = $1 \
             ON CONFLICT (credential_id) DO UPDATE SET account_id = excluded.account_id, \
             seen_at = excluded.seen_at",
        )
        .bind(id.as_str())
        .bind(account_id)
        .bind(now)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            // Deleted meanwhile.
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => Ok(()),
            Err(err) => Err(Self::db_error(err)),
        }
    }

    async fn forget_pinterest_account(&self, id: &CredentialId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM pinterest_accounts WHERE credential_id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(Self::db_error)?;
        Ok(())
    }
}
