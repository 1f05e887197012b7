//! Health checks of credentials (issue 14): which active credential is due
//! for a check ([`HealthSchedule`], a pure rule), and the claim that lets
//! one process of many make it ([`HealthStore::claim_health_check`], one
//! conditional `UPDATE` of `last_checked_at`).
//!
//! Time is cut into slots of one interval; each credential has its own
//! phase in the slot, derived from its id (the first 8 bytes of its
//! SHA-256, so every replica and every build agrees), which spreads 1,000
//! credentials evenly over the interval instead of checking them at once.
//! A credential is due once its moment in the current slot has passed and
//! it was not checked since: one check per interval, whoever made it (a
//! check someone asked for counts too).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pinion_domain::CredentialId;
use sha2::{Digest, Sha256};

use crate::dialect::{Dialect, Timestamp};
use crate::error::StoreError;
use crate::sql::SqlStore;

/// When credentials are due for a health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthSchedule {
    /// How often each credential is checked; more than zero.
    pub interval: Duration,
}

impl HealthSchedule {
    fn interval_ms(&self) -> i64 {
        i64::try_from(self.interval.as_millis())
            .unwrap_or(i64::MAX)
            .max(1)
    }

    /// The credential's offset in every slot, in `[0, interval)`.
    pub fn phase(&self, id: &CredentialId) -> Duration {
        let digest = Sha256::digest(id.as_str().as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        let spread = u64::from_be_bytes(first) % self.interval_ms().unsigned_abs();
        Duration::from_millis(spread)
    }

    /// The latest moment at or before `now` when `id` became due: its phase
    /// in the slot that holds `now`, or in the slot before.
    pub fn due_since(&self, id: &CredentialId, now: DateTime<Utc>) -> DateTime<Utc> {
        let interval = self.interval_ms();
        let phase = i64::try_from(self.phase(id).as_millis()).unwrap_or(0);
        let shifted = now.timestamp_millis() - phase;
        let slot = shifted.div_euclid(interval) * interval;
        DateTime::from_timestamp_millis(slot + phase).unwrap_or(now)
    }

    /// True when `id`, last checked at `last_checked` (never: `None`), is
    /// due at `now`. A credential never checked counts as checked at
    /// `never_before` (when the checker started), so credentials that were
    /// never checked are spread over the first interval too.
    pub fn is_due(
        &self,
        id: &CredentialId,
        last_checked: Option<DateTime<Utc>>,
        never_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        let since = self.due_since(id, now);
        let last = last_checked.unwrap_or(never_before);
        last < since && since <= now
    }
}

/// What the health checker needs of the store. Every [`crate::Store`]
/// implements it.
#[async_trait]
pub trait HealthStore: Send + Sync + std::fmt::Debug {
    /// Every active credential with when it was last checked.
    async fn health_check_candidates(
        &self,
    ) -> Result<Vec<(CredentialId, Option<DateTime<Utc>>)>, StoreError>;

    /// Claims the health check of `id`: sets `last_checked_at` to `now` if
    /// the credential is active and was not checked since `due_since` (one
    /// conditional `UPDATE`); true when this caller is to check it.
    async fn claim_health_check(
        &self,
        id: &CredentialId,
        due_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

#[async_trait::async_trait]
impl<D> crate::health::HealthStore for SqlStore<D>
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
    async fn health_check_candidates(
        &self,
    ) -> Result<Vec<(CredentialId, Option<DateTime<Utc>>)>, StoreError> {
        let rows: Vec<(String, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT id, last_checked_at FROM credentials WHERE status = 'active' ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)?;
        Ok(rows
            .into_iter()
            .map(|(id, at)| (CredentialId::from_trusted(id), at))
            .collect())
    }

    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    async fn claim_health_check(
        &self,
        id: &CredentialId,
        due_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE credentials SET last_checked_at = $3 WHERE id = $1 AND status = 'active' \
             AND (last_checked_at IS NULL OR last_checked_at < $2)",
        )
        .bind(id.as_str())
        .bind(crate::sql::stored_time(due_since))
        .bind(crate::sql::stored_time(now))
        .execute(&self.pool)
        .await
        .map_err(Self::db_error)?;
        let claimed = D::rows_affected(&result) == 1;
        if claimed {
            self.changes.bump();
        }
        Ok(claimed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap()
    }

    fn id(n: u32) -> CredentialId {
        CredentialId::from_trusted(format!("cred_{n:032x}"))
    }

    #[test]
    fn each_credential_is_due_once_per_interval_at_its_own_phase() {
        let schedule = HealthSchedule {
            interval: Duration::from_secs(3600),
        };
        let cred = id(7);
        let start = at(0);
        let since = schedule.due_since(&cred, start);
        assert!(since <= start && start - since < chrono::Duration::hours(1));
        // Checked just after it became due: not due again until the next slot.
        let checked = since + chrono::Duration::seconds(1);
        let next = since + chrono::Duration::hours(1);
        assert!(!schedule.is_due(&cred, Some(checked), start, checked));
        assert!(!schedule.is_due(
            &cred,
            Some(checked),
            start,
            next - chrono::Duration::milliseconds(1)
        ));
        assert!(schedule.is_due(&cred, Some(checked), start, next));
        // Checked late in the slot (say, by hand): still once per slot.
        let late = next - chrono::Duration::seconds(1);
        assert!(!schedule.is_due(&cred, Some(late), start, late));
        assert!(schedule.is_due(&cred, Some(late), start, next));
    }

    #[test]
    fn never_checked_credentials_are_spread_over_the_first_interval() {
        let schedule = HealthSchedule {
            interval: Duration::from_secs(600),
        };
        let start = at(123_456);
        let creds: Vec<CredentialId> = (0..1000).map(id).collect();
        // None is due at the start; all are due one interval later.
        assert!(
            creds
                .iter()
                .all(|c| !schedule.is_due(c, None, start, start))
        );
        let end = start + chrono::Duration::seconds(600);
        assert!(creds.iter().all(|c| schedule.is_due(c, None, start, end)));
        // About a tenth become due in each tenth of the interval.
        for tenth in 1..=10 {
            let now = start + chrono::Duration::seconds(60 * tenth);
            let due = creds
                .iter()
                .filter(|c| schedule.is_due(c, None, start, now))
                .count();
            let expected = 100 * tenth as usize;
            assert!(due.abs_diff(expected) <= 45, "{tenth}: {due}");
        }
    }

    #[test]
    fn the_phase_is_the_same_everywhere_and_inside_the_interval() {
        let schedule = HealthSchedule {
            interval: Duration::from_secs(30),
        };
        for n in 0..200 {
            let phase = schedule.phase(&id(n));
            assert!(phase < Duration::from_secs(30));
            assert_eq!(phase, schedule.phase(&id(n)));
        }
    }
}
