//! Webhook notifications (issue 14): endpoints with sealed signing secrets,
//! the delivery outbox with its attempts, and credential alerts.
//!
//! The outbox is the `webhook_deliveries` table: an event becomes one row
//! per subscribed endpoint, written in one transaction. Any process claims
//! a due row with one conditional `UPDATE` of its lease
//! ([`NotificationStore::claim_deliveries`]), so one attempt runs at a
//! time across replicas, and reports the attempt with
//! [`NotificationStore::record_attempt`], which keeps the attempt, decides
//! the next one ([`RetrySchedule`]) and disables an endpoint that has failed
//! for too long ([`DisableRule`]), all in one transaction that writes only
//! while the lease is still the caller's. Nothing lives outside the
//! database, so deliveries survive restarts.
//!
//! A credential alert remembers what was last announced about a credential
//! (`refresh_failing` or `needs_reauthorization`): raising the same alert
//! twice announces it once, and clearing an alert announces
//! `credential.recovered` once, whichever replica sees it first.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pinion_domain::webhook::{
    DeliveryAttempt, DeliveryState, EventType, NewWebhook, WebhookDelivery, WebhookEndpoint,
};
use pinion_domain::{CredentialId, MessageId, UserId, WebhookId, WebhookSecret};

use crate::dialect::{Dialect, Timestamp};
use crate::error::StoreError;
use crate::sql::SqlStore;

/// The endpoints table, as named in SQL and in the sealed secret's AAD.
pub(crate) const WEBHOOK_ENDPOINTS: &str = "webhook_endpoints";
/// The AAD column name of an endpoint's sealed secret.
pub(crate) const SECRET: &str = "secret";

/// An event to announce: its type, when it happened and the body every
/// endpoint gets (the same bytes on every attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// What happened.
    pub event_type: EventType,
    /// When.
    pub at: DateTime<Utc>,
    /// The JSON body (`{"type", "timestamp", "data"}`); never a secret.
    pub body: String,
}

/// What was last announced about a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    /// Refreshes keep failing transiently.
    RefreshFailing,
    /// Pinterest refused the grant.
    NeedsReauthorization,
}

impl AlertState {
    fn as_str(self) -> &'static str {
        match self {
            Self::RefreshFailing => "refresh_failing",
            Self::NeedsReauthorization => "needs_reauthorization",
        }
    }
}

/// A delivery claimed for one attempt: what to send and where.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// The message id (`webhook-id`).
    pub id: MessageId,
    /// The endpoint.
    pub endpoint_id: WebhookId,
    /// Its URL now.
    pub url: String,
    /// Its signing secret now.
    pub secret: WebhookSecret,
    /// The event's wire name.
    pub event_type: String,
    /// The body to send.
    pub body: String,
    /// The number of this attempt (1 for the first).
    pub attempt: i64,
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// When it started.
    pub at: DateTime<Utc>,
    /// The HTTP status, if the endpoint answered.
    pub status_code: Option<i64>,
    /// Why it failed, for people (never a secret).
    pub error: Option<String>,
    /// How long it took.
    pub duration: Duration,
    /// True when the endpoint took the message (a 2xx answer).
    pub delivered: bool,
}

/// What [`NotificationStore::record_attempt`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The lease was no longer the caller's: nothing was written.
    LeaseLost,
    /// The message was delivered.
    Delivered,
    /// Another attempt is due at this time.
    RetryAt(DateTime<Utc>),
    /// No attempts are left: the delivery failed for good.
    GaveUp,
    /// The endpoint has failed for so long that it was disabled (its
    /// pending deliveries failed with it).
    EndpointDisabled,
}

/// The retry schedule of Standard Webhooks' suggestion: an attempt at once,
/// then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h: 8 attempts over
/// about 27.6 hours. Every delay is a number of [`RetrySchedule::unit`]s
/// (1 s by default; tests and `--webhook-retry-unit` shrink it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// How long one second of the schedule lasts.
    pub unit: Duration,
}

/// The delays, in units, after the first, second, … failed attempt.
pub const RETRY_DELAYS: [u64; 7] = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];

impl Default for RetrySchedule {
    fn default() -> Self {
        Self {
            unit: Duration::from_secs(1),
        }
    }
}

impl RetrySchedule {
    /// The most attempts one message gets.
    pub const ATTEMPTS: i64 = RETRY_DELAYS.len() as i64 + 1;

    /// How long after failed attempt number `attempt` (1 for the first) the
    /// next one is due; `None` when that was the last.
    pub fn delay_after(&self, attempt: i64) -> Option<Duration> {
        let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
        let units = *RETRY_DELAYS.get(index)?;
        Some(
            self.unit
                .saturating_mul(u32::try_from(units).unwrap_or(u32::MAX)),
        )
    }

    /// The time from the first attempt to the last.
    pub fn span(&self) -> Duration {
        (1..Self::ATTEMPTS)
            .filter_map(|attempt| self.delay_after(attempt))
            .sum()
    }
}

/// When an endpoint that keeps failing is disabled: once every attempt to
/// it has failed for [`DisableRule::after`] (5 days by default, in the
/// schedule's unit), at its next failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisableRule {
    /// How long failures must last.
    pub after: Duration,
}

/// The default failing time before an endpoint is disabled, in units of
/// the retry schedule: 5 days.
pub const DISABLE_AFTER_UNITS: u32 = 5 * 24 * 3600;

impl DisableRule {
    /// The default rule for `schedule`: [`DISABLE_AFTER_UNITS`] of its unit.
    pub fn for_schedule(schedule: &RetrySchedule) -> Self {
        Self {
            after: schedule.unit.saturating_mul(DISABLE_AFTER_UNITS),
        }
    }

    /// True when an endpoint failing since `failing_since` is to be
    /// disabled after failing again at `now`.
    pub fn disables(&self, failing_since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let after = chrono::Duration::from_std(self.after).unwrap_or(chrono::Duration::MAX);
        now.signed_duration_since(failing_since) >= after
    }
}

/// How deliveries are retried and endpoints disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// When attempts are due.
    pub schedule: RetrySchedule,
    /// When a failing endpoint is disabled.
    pub disable: DisableRule,
}

impl DeliveryPolicy {
    /// The policy whose schedule runs on `unit` (see [`RetrySchedule`]).
    pub fn with_unit(unit: Duration) -> Self {
        let schedule = RetrySchedule { unit };
        Self {
            schedule,
            disable: DisableRule::for_schedule(&schedule),
        }
    }
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self::with_unit(Duration::from_secs(1))
    }
}

/// What an attempt leads to, decided from plain values: the delivery's
/// next state and whether its endpoint is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptDecision {
    /// The delivery's state after the attempt.
    pub state: DeliveryState,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The endpoint's `failing_since` after the attempt.
    pub failing_since: Option<DateTime<Utc>>,
    /// True when the endpoint is to be disabled.
    pub disable_endpoint: bool,
}

/// Decides what attempt number `attempt`, ending at `now`, leads to.
pub fn decide_attempt(
    policy: &DeliveryPolicy,
    attempt: i64,
    delivered: bool,
    failing_since: Option<DateTime<Utc>>,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AttemptDecision {
    if delivered {
        return AttemptDecision {
            state: DeliveryState::Delivered,
            next_attempt_at: None,
            failing_since: None,
            disable_endpoint: false,
        };
    }
    let failing_since = failing_since.unwrap_or(started);
    if policy.disable.disables(failing_since, now) {
        return AttemptDecision {
            state: DeliveryState::Failed,
            next_attempt_at: None,
            failing_since: Some(failing_since),
            disable_endpoint: true,
        };
    }
    match policy.schedule.delay_after(attempt) {
        Some(delay) => AttemptDecision {
            state: DeliveryState::Pending,
            next_attempt_at: Some(now + chrono::Duration::from_std(delay).unwrap_or_default()),
            failing_since: Some(failing_since),
            disable_endpoint: false,
        },
        None => AttemptDecision {
            state: DeliveryState::Failed,
            next_attempt_at: None,
            failing_since: Some(failing_since),
            disable_endpoint: false,
        },
    }
}

/// Endpoints, deliveries and credential alerts. Every [`crate::Store`]
/// implements it.
#[async_trait]
pub trait NotificationStore: Send + Sync + std::fmt::Debug {
    /// Creates an endpoint of `owner` with `secret` (sealed before it is
    /// written).
    async fn create_webhook(
        &self,
        owner: &UserId,
        new: &NewWebhook,
        secret: &WebhookSecret,
    ) -> Result<WebhookEndpoint, StoreError>;

    /// An endpoint by id.
    async fn get_webhook(&self, id: &WebhookId) -> Result<WebhookEndpoint, StoreError>;

    /// `owner`'s endpoints (every endpoint when `None`), oldest first.
    async fn list_webhooks(
        &self,
        owner: Option<&UserId>,
    ) -> Result<Vec<WebhookEndpoint>, StoreError>;

    /// Changes an endpoint's URL, events and description; the secret and
    /// the enabled state stay.
    async fn update_webhook(
        &self,
        id: &WebhookId,
        new: &NewWebhook,
    ) -> Result<WebhookEndpoint, StoreError>;

    /// Enables an endpoint (clearing why it was disabled and its failing
    /// time), or disables it with `reason`, failing its pending deliveries,
    /// in one transaction.
    async fn set_webhook_enabled(
        &self,
        id: &WebhookId,
        enabled: bool,
        reason: Option<&str>,
    ) -> Result<WebhookEndpoint, StoreError>;

    /// Replaces an endpoint's signing secret.
    async fn rotate_webhook_secret(
        &self,
        id: &WebhookId,
        secret: &WebhookSecret,
    ) -> Result<WebhookEndpoint, StoreError>;

    /// Deletes an endpoint with its deliveries and their attempts.
    async fn delete_webhook(&self, id: &WebhookId) -> Result<(), StoreError>;

    /// Queues `event` for every enabled endpoint of `owner` that subscribes
    /// to it, in one transaction; returns how many deliveries it queued.
    async fn enqueue_event(&self, owner: &UserId, event: &NewEvent) -> Result<usize, StoreError>;

    /// Queues `event` for endpoint `id` alone, whatever it subscribes to
    /// (the test event). A disabled endpoint is a [`StoreError::Conflict`].
    async fn enqueue_to(&self, id: &WebhookId, event: &NewEvent) -> Result<MessageId, StoreError>;

    /// Notes `state` as `credential`'s alert and queues `event` for
    /// `owner`, in one transaction, unless that alert is already noted;
    /// returns whether it was queued.
    async fn raise_credential_alert(
        &self,
        credential: &CredentialId,
        state: AlertState,
        owner: &UserId,
        event: &NewEvent,
    ) -> Result<bool, StoreError>;

    /// Clears `credential`'s alert and queues `event` for `owner`, in one
    /// transaction, if there was one; returns whether it was queued.
    async fn clear_credential_alert(
        &self,
        credential: &CredentialId,
        owner: &UserId,
        event: &NewEvent,
    ) -> Result<bool, StoreError>;

    /// Notes that run `run`'s outcome was announced and queues `event` for
    /// `owner`, in one transaction, unless it was announced already (by
    /// another process) or has no outcome yet: then `None`, else how many
    /// deliveries were queued.
    async fn announce_run(
        &self,
        run: &pinion_domain::RunId,
        owner: &UserId,
        event: &NewEvent,
    ) -> Result<Option<usize>, StoreError>;

    /// Up to `limit` finished runs whose outcome was never announced (a
    /// process stopped between storing it and announcing it), oldest first.
    async fn unannounced_runs(&self, limit: u32) -> Result<Vec<pinion_domain::RunId>, StoreError>;

    /// Notes that run `run`'s takeovers up to its `takeovers`-th were
    /// announced and queues `event` for `owner`, in one transaction, unless
    /// they were already (by another process): then `None`, else how many
    /// deliveries were queued.
    async fn announce_takeover(
        &self,
        run: &pinion_domain::RunId,
        takeovers: i64,
        owner: &UserId,
        event: &NewEvent,
    ) -> Result<Option<usize>, StoreError>;

    /// Up to `limit` runs with a takeover never announced, with their
    /// number of takeovers.
    async fn unannounced_takeovers(
        &self,
        limit: u32,
    ) -> Result<Vec<(pinion_domain::RunId, i64)>, StoreError>;

    /// Up to `limit` credentials whose alert lags their status, as when a
    /// process stopped between storing a credential's change and queuing its
    /// event: one that needs reauthorization without a
    /// `needs_reauthorization` alert, an active one still under such an
    /// alert, and an active one with no failures in a row still under a
    /// `refresh_failing` alert.
    async fn unannounced_credential_changes(
        &self,
        limit: u32,
    ) -> Result<Vec<CredentialId>, StoreError>;

    /// Claims up to `limit` deliveries due at `now` to enabled endpoints,
    /// each with one conditional `UPDATE` that takes its lease for
    /// `lease_owner` until `lease_until`; a delivery another process holds
    /// is skipped.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_owner: &str,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Records an attempt of delivery `id` made under `lease_owner`'s lease
    /// and applies `policy` (see [`decide_attempt`]), in one transaction;
    /// writes nothing when the lease is no longer the caller's.
    async fn record_attempt(
        &self,
        id: &MessageId,
        lease_owner: &str,
        outcome: &AttemptOutcome,
        policy: &DeliveryPolicy,
    ) -> Result<Recorded, StoreError>;

    /// When the earliest pending delivery to an enabled endpoint that no
    /// process holds at `now` is due.
    async fn next_delivery_due(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Endpoint `id`'s newest `limit` deliveries, newest first, each with
    /// its attempts.
    async fn list_deliveries(
        &self,
        id: &WebhookId,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;
}

#[derive(sqlx::FromRow)]
pub(crate) struct EndpointRow {
    id: String,
    owner_id: String,
    url: String,
    description: Option<String>,
    events: String,
    enabled: bool,
    disabled_reason: Option<String>,
    disabled_at: Option<DateTime<Utc>>,
    failing_since: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl EndpointRow {
    fn into_record(self) -> WebhookEndpoint {
        WebhookEndpoint {
            id: WebhookId::from_trusted(self.id),
            owner: UserId::from_trusted(self.owner_id),
            url: self.url,
            description: self.description,
            events: self.events.split_whitespace().map(str::to_owned).collect(),
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            disabled_at: self.disabled_at,
            failing_since: self.failing_since,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

const ENDPOINT_COLUMNS: &str = "id, owner_id, url, description, events, enabled, \
     disabled_reason, disabled_at, failing_since, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    endpoint_id: String,
    event_type: String,
    created_at: DateTime<Utc>,
    state: String,
    next_attempt_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    delivery_id: String,
    attempt: i64,
    at: DateTime<Utc>,
    status_code: Option<i64>,
    error: Option<String>,
    duration_ms: i64,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: String,
    endpoint_id: String,
    url: String,
    secret_sealed: Vec<u8>,
    event_type: String,
    body: String,
    attempts: i64,
}

fn secret_location(id: &str) -> crate::crypto::Location<'_> {
    crate::crypto::Location {
        table: WEBHOOK_ENDPOINTS,
        column: SECRET,
        row_id: id,
    }
}

/// A message for people, cut to 500 characters.
fn short(text: &str) -> String {
    const MAX: usize = 500;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(MAX).collect();
        cut.push('…');
        cut
    }
}

/// [`NotificationStore`] on SQL, for both dialects.
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
    async fn fetch_endpoint<'e, E>(executor: E, id: &str) -> Result<WebhookEndpoint, StoreError>
    where
        E: sqlx::Executor<'e, Database = D>,
    {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1");
        let row: EndpointRow = sqlx::query_as(&sql)
            .bind(id)
            .fetch_one(executor)
            .await
            .map_err(Self::not_found("webhook"))?;
        Ok(row.into_record())
    }

    /// Inserts one pending delivery of `event` to `endpoint`, due at once.
    async fn insert_delivery(
        tx: &mut sqlx::Transaction<'static, D>,
        endpoint: &str,
        event: &NewEvent,
        now: DateTime<Utc>,
    ) -> Result<MessageId, StoreError> {
        let id = MessageId::generate();
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_type, body, created_at, \
             state, attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6)",
        )
        .bind(id.as_str())
        .bind(endpoint)
        .bind(event.event_type.as_str())
        .bind(&event.body)
        .bind(crate::sql::stored_time(event.at))
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(Self::db_error)?;
        Ok(id)
    }

    /// Queues `event` for `owner` in `tx` and commits, when the statement
    /// that marked the change as announced changed a row (`marked`): how
    /// many deliveries were queued. When it did not, `None`, and `tx` is
    /// dropped (rolled back): another process announced it, or there is
    /// nothing to announce.
    async fn enqueue_if_marked(
        &self,
        mut tx: sqlx::Transaction<'static, D>,
        marked: bool,
        owner: &UserId,
        event: &NewEvent,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, StoreError> {
        if !marked {
            return Ok(None);
        }
        let queued = Self::enqueue_in(&mut tx, owner, event, now).await?;
        self.commit(tx).await?;
        Ok(Some(queued))
    }

    /// Queues `event` for `owner`'s subscribed, enabled endpoints inside `tx`.
    async fn enqueue_in(
        tx: &mut sqlx::Transaction<'static, D>,
        owner: &UserId,
        event: &NewEvent,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
             WHERE owner_id = $1 AND enabled = $2 ORDER BY created_at, id"
        );
        let rows: Vec<EndpointRow> = sqlx::query_as(&sql)
            .bind(owner.as_str())
            .bind(true)
            .fetch_all(&mut **tx)
            .await
            .map_err(Self::db_error)?;
        let mut queued = 0;
        for row in rows {
            let endpoint = row.into_record();
            if endpoint.filter().includes(event.event_type) {
                Self::insert_delivery(tx, endpoint.id.as_str(), event, now).await?;
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Fails every pending delivery of endpoint `id` inside `tx`.
    async fn fail_pending(
        tx: &mut sqlx::Transaction<'static, D>,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'failed', finished_at = $2, \
             next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL \
             WHERE endpoint_id = $1 AND state = 'pending'",
        )
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(Self::db_error)?;
        Ok(())
    }

    fn open_secret(&self, id: &str, sealed: &[u8]) -> Result<WebhookSecret, StoreError> {
        let location = secret_location(id);
        let opened = self
            .keys
            .current()
            .open(location, sealed)
            .map_err(|err| crate::sql::open_error(location, err, &self.keys.source))?;
        let text = crate::sql::plaintext_string(location, opened)?;
        Ok(WebhookSecret::new(text))
    }
}

#[async_trait::async_trait]
impl<D> crate::notifications::NotificationStore for SqlStore<D>
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
    #[tracing::instrument(skip_all, fields(owner_id = %owner, webhook_id))]
    async fn create_webhook(
        &self,
        owner: &UserId,
        new: &NewWebhook,
        secret: &WebhookSecret,
    ) -> Result<WebhookEndpoint, StoreError> {
        let id = WebhookId::generate();
        tracing::Span::current().record("webhook_id", tracing::field::display(&id));
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let keyring = self.sealing_keyring(&mut tx).await?;
        let sealed = keyring.seal(
            secret_location(id.as_str()),
            secret.expose_secret().as_bytes(),
        );
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, owner_id, url, description, events, \
             secret_sealed, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(id.as_str())
        .bind(owner.as_str())
        .bind(&new.url)
        .bind(new.description.as_ref().map(|d| d.as_str().to_owned()))
        .bind(new.events.to_text())
        .bind(sealed)
        .bind(true)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|err| match err {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound { entity: "user" }
            }
            other => Self::db_error(other),
        })?;
        let endpoint = Self::fetch_endpoint(&mut *tx, id.as_str()).await?;
        self.commit(tx).await?;
        Ok(endpoint)
    }

    async fn get_webhook(&self, id: &WebhookId) -> Result<WebhookEndpoint, StoreError> {
        Self::fetch_endpoint(&self.pool, id.as_str()).await
    }

    async fn list_webhooks(
        &self,
        owner: Option<&UserId>,
    ) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let rows: Vec<EndpointRow> = match owner {
            Some(owner) => {
                let sql = format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE owner_id = $1 \
                     ORDER BY created_at, id"
                );
                sqlx::query_as(&sql)
                    .bind(owner.as_str())
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                let sql = format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id"
                );
                sqlx::query_as(&sql).fetch_all(&self.pool).await
            }
        }
        .map_err(Self::db_error)?;
        Ok(rows.into_iter().map(EndpointRow::into_record).collect())
    }

    #[tracing::instrument(skip_all, fields(webhook_id = %id))]
    async fn update_webhook(
        &self,
        id: &WebhookId,
        new: &NewWebhook,
    ) -> Result<WebhookEndpoint, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "UPDATE webhook_endpoints SET url = $2, description = $3, events = $4, \
             updated_at = $5 WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(&new.url)
        .bind(new.description.as_ref().map(|d| d.as_str().to_owned()))
        .bind(new.events.to_text())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        if D::rows_affected(&result) == 0 {
            return Err(StoreError::NotFound { entity: "webhook" });
        }
        let endpoint = Self::fetch_endpoint(&mut *tx, id.as_str()).await?;
        self.commit(tx).await?;
        Ok(endpoint)
    }

    #[tracing::instrument(skip_all, fields(webhook_id = %id, enabled))]
    async fn set_webhook_enabled(
        &self,
        id: &WebhookId,
        enabled: bool,
        reason: Option<&str>,
    ) -> Result<WebhookEndpoint, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let result = if enabled {
            sqlx::query(
                "UPDATE webhook_endpoints SET enabled = $2, disabled_reason = NULL, \
                 disabled_at = NULL, failing_since = NULL, updated_at = $3 WHERE id = $1",
            )
            .bind(id.as_str())
            .bind(true)
            .bind(now)
            .execute(&mut *tx)
            .await
        } else {
            sqlx::query(
                "UPDATE webhook_endpoints SET enabled = $2, disabled_reason = $3, \
                 disabled_at = $4, updated_at = $4 WHERE id = $1",
            )
            .bind(id.as_str())
            .bind(false)
            .bind(reason.map(short))
            .bind(now)
            .execute(&mut *tx)
            .await
        }
        .map_err(Self::db_error)?;
        if D::rows_affected(&result) == 0 {
            return Err(StoreError::NotFound { entity: "webhook" });
        }
        if !enabled {
            Self::fail_pending(&mut tx, id.as_str(), now).await?;
        }
        let endpoint = Self::fetch_endpoint(&mut *tx, id.as_str()).await?;
        self.commit(tx).await?;
        Ok(endpoint)
    }

    #[tracing::instrument(skip_all, fields(webhook_id = %id))]
    async fn rotate_webhook_secret(
        &self,
        id: &WebhookId,
        secret: &WebhookSecret,
    ) -> Result<WebhookEndpoint, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let keyring = self.sealing_keyring(&mut tx).await?;
        let sealed = keyring.seal(
            secret_location(id.as_str()),
            secret.expose_secret().as_bytes(),
        );
        let result = sqlx::query(
            "UPDATE webhook_endpoints SET secret_sealed = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(sealed)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        if D::rows_affected(&result) == 0 {
            return Err(StoreError::NotFound { entity: "webhook" });
        }
        let endpoint = Self::fetch_endpoint(&mut *tx, id.as_str()).await?;
        self.commit(tx).await?;
        Ok(endpoint)
    }

    #[tracing::instrument(skip_all, fields(webhook_id = %id))]
    async fn delete_webhook(&self, id: &WebhookId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        // Attempts and deliveries go first: no foreign key relies on
        // SQLite's cascade being switched on.
        sqlx::query(
            "DELETE FROM webhook_attempts WHERE delivery_id IN \
             (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1)",
        )
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        let result = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        if D::rows_affected(&result) == 0 {
            return Err(StoreError::NotFound { entity: "webhook" });
        }
        self.commit(tx).await
    }

    #[tracing::instrument(skip_all, fields(owner_id = %owner, event = event.event_type.as_str()))]
    async fn enqueue_event(&self, owner: &UserId, event: &NewEvent) -> Result<usize, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let queued = Self::enqueue_in(&mut tx, owner, event, now).await?;
        self.commit(tx).await?;
        Ok(queued)
    }

    #[tracing::instrument(skip_all, fields(webhook_id = %id, event = event.event_type.as_str()))]
    async fn enqueue_to(&self, id: &WebhookId, event: &NewEvent) -> Result<MessageId, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let endpoint = Self::fetch_endpoint(&mut *tx, id.as_str()).await?;
        if !endpoint.enabled {
            return Err(StoreError::Conflict {
                field: "enabled",
                message: "the endpoint is disabled; enable it first".to_owned(),
            });
        }
        let message = Self::insert_delivery(&mut tx, id.as_str(), event, now).await?;
        self.commit(tx).await?;
        Ok(message)
    }

    #[tracing::instrument(skip_all, fields(credential_id = %credential, alert = state.as_str()))]
    async fn raise_credential_alert(
        &self,
        credential: &CredentialId,
        state: AlertState,
        owner: &UserId,
        event: &NewEvent,
    ) -> Result<bool, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "INSERT INTO credential_alerts (credential_id, state, since) VALUES ($1, $2, $3) \
             ON CONFLICT (credential_id) DO UPDATE SET state = excluded.state, \
             since = excluded.since WHERE credential_alerts.state <> excluded.state",
        )
        .bind(credential.as_str())
        .bind(state.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|err| match err {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound {
                entity: "credential",
            },
            other => Self::db_error(other),
        })?;
        let marked = D::rows_affected(&result) > 0;
        Ok(self
            .enqueue_if_marked(tx, marked, owner, event, now)
            .await?
            .is_some())
    }

    #[tracing::instrument(skip_all, fields(credential_id = %credential))]
    async fn clear_credential_alert(
        &self,
        credential: &CredentialId,
        owner: &UserId,
        event: &NewEvent,
    ) -> Result<bool, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let result = sqlx::query("DELETE FROM credential_alerts WHERE credential_id = $1")
            .bind(credential.as_str())
            .execute(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        let marked = D::rows_affected(&result) > 0;
        Ok(self
            .enqueue_if_marked(tx, marked, owner, event, now)
            .await?
            .is_some())
    }

    #[tracing::instrument(skip_all, fields(run_id = %run, event = event.event_type.as_str()))]
    async fn announce_run(
        &self,
        run: &pinion_domain::RunId,
        owner: &UserId,
        event: &NewEvent,
    ) -> Result<Option<usize>, StoreError> {
        let run = run.as_str();
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "UPDATE runs SET announced_at = $2 WHERE id = $1 AND announced_at IS NULL \
             AND status IN ('succeeded', 'failed')",
        )
        .bind(run)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        let marked = D::rows_affected(&result) > 0;
        self.enqueue_if_marked(tx, marked, owner, event, now).await
    }

    #[tracing::instrument(skip_all, fields(run_id = %run))]
    async fn announce_takeover(
        &self,
        run: &pinion_domain::RunId,
        takeovers: i64,
        owner: &UserId,
        event: &NewEvent,
    ) -> Result<Option<usize>, StoreError> {
        let run = run.as_str();
        let now = crate::sql::stored_time(self.clock.now());
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "UPDATE runs SET takeovers_announced = $2 WHERE id = $1 \
             AND takeovers_announced < $2 AND takeovers >= $2",
        )
        .bind(run)
        .bind(takeovers)
        .execute(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        let marked = D::rows_affected(&result) > 0;
        self.enqueue_if_marked(tx, marked, owner, event, now).await
    }

    async fn unannounced_takeovers(
        &self,
        limit: u32,
    ) -> Result<Vec<(pinion_domain::RunId, i64)>, StoreError> {
        let runs: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, CAST(takeovers AS BIGINT) FROM runs \
             WHERE takeovers > takeovers_announced ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)?;
        Ok(runs
            .into_iter()
            .map(|(id, takeovers)| (pinion_domain::RunId::from_trusted(id), takeovers))
            .collect())
    }

    async fn unannounced_runs(&self, limit: u32) -> Result<Vec<pinion_domain::RunId>, StoreError> {
        let runs: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM runs WHERE announced_at IS NULL \
             AND status IN ('succeeded', 'failed') ORDER BY finished_at, id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)?;
        Ok(runs
            .into_iter()
            .map(pinion_domain::RunId::from_trusted)
            .collect())
    }

    async fn unannounced_credential_changes(
        &self,
        limit: u32,
    ) -> Result<Vec<CredentialId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT c.id FROM credentials c \
             LEFT JOIN credential_alerts a ON a.credential_id = c.id \
             WHERE (c.status = 'needs_reauthorization' \
                    AND (a.state IS NULL OR a.state <> 'needs_reauthorization')) \
             OR (c.status = 'active' AND a.state = 'needs_reauthorization') \
             OR (c.status = 'active' AND a.state = 'refresh_failing' \
                 AND c.refresh_failures = 0) \
             ORDER BY c.id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)?;
        Ok(ids.into_iter().map(CredentialId::from_trusted).collect())
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_owner: &str,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now = crate::sql::stored_time(now);
        let lease_until = crate::sql::stored_time(lease_until);
        let candidates: Vec<String> = sqlx::query_scalar(
            "SELECT d.id FROM webhook_deliveries d \
             JOIN webhook_endpoints e ON e.id = d.endpoint_id \
             WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
             AND (d.lease_until IS NULL OR d.lease_until <= $1) AND e.enabled = $2 \
             ORDER BY d.next_attempt_at, d.id LIMIT $3",
        )
        .bind(now)
        .bind(true)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)?;
        let mut claimed = Vec::new();
        for id in candidates {
            // The one conditional UPDATE that decides who makes the attempt.
            let result = sqlx::query(
                "UPDATE webhook_deliveries SET lease_owner = $2, lease_until = $3 \
                 WHERE id = $1 AND state = 'pending' AND next_attempt_at <= $4 \
                 AND (lease_until IS NULL OR lease_until <= $4)",
            )
            .bind(&id)
            .bind(lease_owner)
            .bind(lease_until)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(Self::db_error)?;
            if D::rows_affected(&result) == 0 {
                continue;
            }
            let row: ClaimRow = sqlx::query_as(
                "SELECT d.id, d.endpoint_id, e.url, e.secret_sealed, d.event_type, d.body, \
                 d.attempts FROM webhook_deliveries d \
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1",
            )
            .bind(&id)
            .fetch_one(&self.pool)
            .await
            .map_err(Self::not_found("webhook delivery"))?;
            let secret = self.open_secret(&row.endpoint_id, &row.secret_sealed)?;
            claimed.push(ClaimedDelivery {
                id: MessageId::from_trusted(row.id),
                endpoint_id: WebhookId::from_trusted(row.endpoint_id),
                url: row.url,
                secret,
                event_type: row.event_type,
                body: row.body,
                attempt: row.attempts + 1,
            });
        }
        Ok(claimed)
    }

    #[tracing::instrument(skip_all, fields(message_id = %id))]
    async fn record_attempt(
        &self,
        id: &MessageId,
        lease_owner: &str,
        outcome: &AttemptOutcome,
        policy: &DeliveryPolicy,
    ) -> Result<Recorded, StoreError> {
        let started = crate::sql::stored_time(outcome.at);
        let now = crate::sql::stored_time(
            outcome.at + chrono::Duration::from_std(outcome.duration).unwrap_or_default(),
        );
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT endpoint_id, attempts, lease_owner FROM webhook_deliveries \
             WHERE id = $1 AND state = 'pending'{}",
            D::FOR_UPDATE
        );
        let row: Option<(String, i64, Option<String>)> = sqlx::query_as(&sql)
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        let Some((endpoint_id, attempts, holder)) = row else {
            return Ok(Recorded::LeaseLost);
        };
        if holder.as_deref() != Some(lease_owner) {
            return Ok(Recorded::LeaseLost);
        }
        let sql = format!(
            "SELECT failing_since FROM webhook_endpoints WHERE id = $1{}",
            D::FOR_UPDATE
        );
        let (failing_since,): (Option<DateTime<Utc>>,) = sqlx::query_as(&sql)
            .bind(&endpoint_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(Self::not_found("webhook"))?;
        let attempt = attempts + 1;
        let decision = decide_attempt(
            policy,
            attempt,
            outcome.delivered,
            failing_since,
            started,
            now,
        );
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, \
             duration_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_str())
        .bind(attempt)
        .bind(started)
        .bind(outcome.status_code)
        .bind(outcome.error.as_deref().map(short))
        .bind(i64::try_from(outcome.duration.as_millis()).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        let finished = (decision.state != DeliveryState::Pending).then_some(now);
        sqlx::query(
            "UPDATE webhook_deliveries SET attempts = $2, state = $3, next_attempt_at = $4, \
             finished_at = $5, lease_owner = NULL, lease_until = NULL WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(attempt)
        .bind(decision.state.as_str())
        .bind(decision.next_attempt_at.map(crate::sql::stored_time))
        .bind(finished)
        .execute(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        sqlx::query("UPDATE webhook_endpoints SET failing_since = $2 WHERE id = $1")
            .bind(&endpoint_id)
            .bind(decision.failing_since.map(crate::sql::stored_time))
            .execute(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        if decision.disable_endpoint {
            let since = decision.failing_since.unwrap_or(started);
            let reason = format!(
                "Pinion disabled it: every delivery attempt has failed since {} (last: {})",
                since.format("%Y-%m-%d %H:%M UTC"),
                outcome
                    .error
                    .clone()
                    .or_else(|| outcome.status_code.map(|code| format!("HTTP {code}")))
                    .unwrap_or_else(|| "no answer".to_owned())
            );
            sqlx::query(
                "UPDATE webhook_endpoints SET enabled = $2, disabled_reason = $3, \
                 disabled_at = $4, updated_at = $4 WHERE id = $1",
            )
            .bind(&endpoint_id)
            .bind(false)
            .bind(short(&reason))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(Self::db_error)?;
            Self::fail_pending(&mut tx, &endpoint_id, now).await?;
        }
        self.commit(tx).await?;
        Ok(match decision {
            AttemptDecision {
                disable_endpoint: true,
                ..
            } => Recorded::EndpointDisabled,
            AttemptDecision {
                state: DeliveryState::Delivered,
                ..
            } => Recorded::Delivered,
            AttemptDecision {
                next_attempt_at: Some(at),
                ..
            } => Recorded::RetryAt(at),
            _ => Recorded::GaveUp,
        })
    }

    async fn next_delivery_due(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let due: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT d.next_attempt_at FROM webhook_deliveries d \
             JOIN webhook_endpoints e ON e.id = d.endpoint_id \
             WHERE d.state = 'pending' AND e.enabled = $2 \
             AND (d.lease_until IS NULL OR d.lease_until <= $1) \
             ORDER BY d.next_attempt_at LIMIT 1",
        )
        .bind(crate::sql::stored_time(now))
        .bind(true)
        .fetch_optional(&self.pool)
        .await
        .map_err(Self::db_error)?
        .flatten();
        Ok(due)
    }

    async fn list_deliveries(
        &self,
        id: &WebhookId,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let rows: Vec<DeliveryRow> = sqlx::query_as(
            "SELECT id, endpoint_id, event_type, created_at, state, next_attempt_at, \
             finished_at FROM webhook_deliveries WHERE endpoint_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(id.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)?;
        let attempts: Vec<AttemptRow> = sqlx::query_as(
            "SELECT a.delivery_id, a.attempt, a.at, a.status_code, a.error, a.duration_ms \
             FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id \
             WHERE d.endpoint_id = $1 ORDER BY a.delivery_id, a.attempt",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)?;
        let mut by_delivery: std::collections::HashMap<String, Vec<DeliveryAttempt>> =
            std::collections::HashMap::new();
        for row in attempts {
            by_delivery
                .entry(row.delivery_id)
                .or_default()
                .push(DeliveryAttempt {
                    attempt: row.attempt,
                    at: row.at,
                    status_code: row.status_code,
                    error: row.error,
                    duration_ms: row.duration_ms,
                });
        }
        rows.into_iter()
            .map(|row| {
                let state = DeliveryState::parse(&row.state).ok_or_else(|| {
                    StoreError::Corrupt(format!("delivery {} has an unknown state", row.id))
                })?;
                Ok(WebhookDelivery {
                    attempts: by_delivery.remove(&row.id).unwrap_or_default(),
                    id: MessageId::from_trusted(row.id),
                    endpoint_id: WebhookId::from_trusted(row.endpoint_id),
                    event_type: row.event_type,
                    created_at: row.created_at,
                    state,
                    next_attempt_at: row.next_attempt_at,
                    finished_at: row.finished_at,
                })
            })
            .collect()
    }
}

/// Re-seals up to `limit` endpoint secrets still under an older key with
/// the active one inside `tx`; returns how many (for `reencrypt_batch`).
pub(crate) async fn reencrypt_secrets<D>(
    tx: &mut sqlx::Transaction<'static, D>,
    keyring: &crate::Keyring,
    source: &crate::keys::KeySource,
    limit: usize,
) -> Result<usize, StoreError>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: sqlx::Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: sqlx::IntoArguments<'q, D>,
    for<'q> &'q str: sqlx::Encode<'q, D> + sqlx::Type<D>,
    for<'q> String: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
    for<'q> Vec<u8>: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
    for<'q> i64: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
    usize: sqlx::ColumnIndex<D::Row>,
{
    if limit == 0 {
        return Ok(0);
    }
    let active = keyring.active_version();
    let sql = format!(
        "SELECT id, secret_sealed FROM webhook_endpoints \
         WHERE substr(secret_sealed, 2, 4) <> $1 ORDER BY id LIMIT $2{}",
        D::SKIP_LOCKED
    );
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(&sql)
        .bind(active.to_be_bytes().to_vec())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut **tx)
        .await
        .map_err(|err| crate::error::classify(D::BACKEND, err))?;
    for (id, sealed) in &rows {
        let location = secret_location(id);
        let opened = keyring
            .open(location, sealed)
            .map_err(|err| crate::sql::open_error(location, err, source))?;
        let resealed = keyring.seal(location, &opened);
        sqlx::query("UPDATE webhook_endpoints SET secret_sealed = $2 WHERE id = $1")
            .bind(id)
            .bind(resealed)
            .execute(&mut **tx)
            .await
            .map_err(|err| crate::error::classify(D::BACKEND, err))?;
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn the_schedule_is_the_standard_webhooks_one_and_spans_more_than_a_day() {
        let schedule = RetrySchedule::default();
        let delays: Vec<u64> = (1..=8)
            .map(|n| schedule.delay_after(n).map_or(0, |d| d.as_secs()))
            .collect();
        assert_eq!(delays, vec![5, 300, 1800, 7200, 18000, 36000, 36000, 0]);
        assert_eq!(schedule.delay_after(8), None);
        assert_eq!(schedule.delay_after(0), None);
        assert_eq!(schedule.delay_after(-3), None);
        assert_eq!(RetrySchedule::ATTEMPTS, 8);
        assert!(schedule.span() > Duration::from_secs(24 * 3600));
        assert_eq!(schedule.span(), Duration::from_secs(99_305));
    }

    #[test]
    fn a_smaller_unit_scales_every_delay_and_the_disable_time() {
        let policy = DeliveryPolicy::with_unit(Duration::from_millis(1));
        assert_eq!(
            policy.schedule.delay_after(1),
            Some(Duration::from_millis(5))
        );
        assert_eq!(
            policy.schedule.delay_after(2),
            Some(Duration::from_millis(300))
        );
        assert_eq!(policy.disable.after, Duration::from_millis(432_000));
        assert_eq!(
            DeliveryPolicy::default().disable.after,
            Duration::from_secs(5 * 24 * 3600)
        );
    }

    #[test]
    fn an_endpoint_is_disabled_only_after_failing_for_the_whole_period() {
        let rule = DisableRule {
            after: Duration::from_secs(5 * 24 * 3600),
        };
        let day = 24 * 3600;
        assert!(!rule.disables(at(0), at(0)));
        assert!(!rule.disables(at(0), at(5 * day - 1)));
        assert!(rule.disables(at(0), at(5 * day)));
        assert!(rule.disables(at(0), at(9 * day)));
        // A clock that went back does not disable.
        assert!(!rule.disables(at(10), at(0)));
    }

    #[test]
    fn attempts_lead_to_delivery_retry_giving_up_or_disabling() {
        let policy = DeliveryPolicy::default();
        let day = 24 * 3600;
        // A success clears the failing time.
        let ok = decide_attempt(&policy, 3, true, Some(at(0)), at(100), at(101));
        assert_eq!(ok.state, DeliveryState::Delivered);
        assert_eq!(ok.failing_since, None);
        assert!(!ok.disable_endpoint);
        // The first failure starts the failing time and retries after 5 s.
        let first = decide_attempt(&policy, 1, false, None, at(100), at(101));
        assert_eq!(first.state, DeliveryState::Pending);
        assert_eq!(first.failing_since, Some(at(100)));
        assert_eq!(first.next_attempt_at, Some(at(106)));
        // The last attempt gives up without disabling a young failure.
        let last = decide_attempt(&policy, 8, false, Some(at(0)), at(day), at(day));
        assert_eq!(last.state, DeliveryState::Failed);
        assert!(!last.disable_endpoint);
        // Five days of failures disable the endpoint.
        let old = decide_attempt(&policy, 2, false, Some(at(0)), at(5 * day), at(5 * day));
        assert_eq!(old.state, DeliveryState::Failed);
        assert!(old.disable_endpoint);
        assert_eq!(old.failing_since, Some(at(0)));
    }
}
