//! The store side of the token lifecycle (issue 4): authorization flows and the
//! refresh bookkeeping that keeps one refresh per credential at a time.
//!
//! Flows live in `oauth_flows`: the state only as its SHA-256 hash, the PKCE
//! verifier sealed with associated data bound to the flow row. A flow is
//! consumed by one atomic `UPDATE … RETURNING`, so racing callbacks (even on two
//! replicas) get it at most once.
//!
//! A refresh is claimed by writing a lease (`refresh_started_at`,
//! `refresh_attempt_id`) while the credential row is locked (`FOR UPDATE` on
//! PostgreSQL, `BEGIN IMMEDIATE` on SQLite) and re-read. A lease older than its
//! duration belongs to an attempt that died: its outcome is unknown, which the
//! claim reports so the caller can resolve it. The background refresher claims
//! due credentials in batches with `FOR UPDATE SKIP LOCKED`, so replicas never
//! claim the same row.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pinion_domain::{AccessToken, CredentialId, CredentialStatus, FlowId, PkceVerifier, UserId};

use crate::dialect::{Dialect, Timestamp};
use crate::error::StoreError;
use crate::model::{CredentialRecord, CredentialSecrets};
use crate::sql::SqlStore;

/// The flows table, as named in SQL and in sealed values' associated data.
pub(crate) const OAUTH_FLOWS: &str = "oauth_flows";
/// AAD column name of the sealed PKCE verifier.
pub(crate) const PKCE_VERIFIER: &str = "pkce_verifier";

/// A flow to store when an authorization starts.
#[derive(Debug, Clone)]
pub struct NewFlow {
    /// The credential being authorized.
    pub credential_id: CredentialId,
    /// The credential's owner, whose Pinterest account the consent is for.
    pub user_id: UserId,
    /// True when the operator started it rather than the owner.
    pub started_by_operator: bool,
    /// The SHA-256 hex of the state (never the state).
    pub state_hash: String,
    /// The exact redirect URI sent in the authorization request.
    pub redirect_uri: String,
    /// The PKCE verifier; sealed before it is written.
    pub pkce_verifier: PkceVerifier,
    /// SHA-256 hex of the browser-binding cookie value, for browser flows.
    pub browser_binding_hash: Option<String>,
    /// How long the flow may be completed (at most 10 minutes).
    pub ttl: Duration,
}

pub use pinion_domain::record::{FlowOutcome, FlowRecord};

/// A flow just consumed by its callback, with its opened verifier.
#[derive(Debug, Clone)]
pub struct ConsumedFlow {
    /// The flow's metadata.
    pub record: FlowRecord,
    /// The PKCE verifier for the code exchange (redacting `Debug`).
    pub pkce_verifier: PkceVerifier,
}

/// The answer to a refresh claim.
#[derive(Debug, Clone)]
pub enum RefreshClaim {
    /// The caller holds the lease and must make the token request with these
    /// secrets. `secrets.record.version` is the version after the claim.
    Claimed {
        /// The decrypted secrets, read under the row lock.
        secrets: Box<CredentialSecrets>,
        /// True when an earlier attempt's lease had expired: that refresh may
        /// have reached Pinterest, so the stored refresh token may be spent.
        previous_outcome_unknown: bool,
    },
    /// After re-reading under the lock, no refresh is needed (another caller
    /// refreshed first).
    NotNeeded(CredentialRecord),
    /// Another attempt holds a lease that has not expired.
    InFlight(CredentialRecord),
    /// The credential cannot be refreshed: it is not active or holds no
    /// refresh token.
    NotRefreshable(CredentialRecord),
}

/// What a refresh claim is asked to do, decided under the row lock.
///
/// Naming the token to replace is what makes a refresh single-flight across
/// processes: however many callers saw one token rejected (or due), the first
/// claim replaces it and every later claim finds a different token stored and
/// answers [`RefreshClaim::NotNeeded`].
#[derive(Debug, Clone, Copy)]
pub enum RefreshBasis<'a> {
    /// Refresh only if the credential is due under the [`DueRule`] and not
    /// backing off (the background refresher, and callers about to use a
    /// token).
    IfDue,
    /// Replace this access token, due or not: Pinterest rejected it, or a
    /// caller forces a refresh of the tokens it read. Not needed once the
    /// stored access token is another one.
    Replacing(&'a AccessToken),
}

/// What [`decide_claim`] sees of a credential row under the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClaimState {
    /// Active and holding a refresh token.
    pub refreshable: bool,
    /// The claim names a token ([`RefreshBasis::Replacing`]) that is no longer
    /// the stored access token.
    pub replaced: bool,
    /// The claim is [`RefreshBasis::IfDue`].
    pub if_due: bool,
    /// The in-flight marker, if any.
    pub marker: Option<Marker>,
    /// Backing off after a failure while the access token still works.
    pub backing_off: bool,
    /// Due under the [`DueRule`].
    pub due: bool,
}

/// An in-flight marker as a claim sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Marker {
    /// Written by this claim's own attempt id (a batch claim).
    pub mine: bool,
    /// Younger than the lease.
    pub live: bool,
}

/// The answer [`decide_claim`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClaimDecision {
    /// Not active, or no refresh token.
    NotRefreshable,
    /// Someone else already refreshed, or nothing is due.
    NotNeeded,
    /// This attempt's batch lease ran out before the row's turn: release the
    /// marker (no request was made under it) and answer "not needed".
    ReleaseMine,
    /// Another attempt's lease is live.
    InFlight,
    /// Take the lease and make the token request.
    Claim {
        /// An earlier attempt's lease expired: its outcome is unknown.
        previous_outcome_unknown: bool,
    },
}

/// The refresh-claim rule, as a pure function of the locked row's state.
///
/// In order: a credential that cannot be refreshed is refused; a named token
/// that is no longer stored needs no refresh (another caller replaced it);
/// a live marker of another attempt means "in flight", an expired one means
/// the earlier outcome is unknown (claimed, to be resolved); an unforced
/// claim of a fresh or backing-off credential is not needed.
pub(crate) fn decide_claim(state: ClaimState) -> ClaimDecision {
    if !state.refreshable {
        return ClaimDecision::NotRefreshable;
    }
    if state.replaced {
        return ClaimDecision::NotNeeded;
    }
    let mut previous_outcome_unknown = false;
    let mut mine = false;
    if let Some(marker) = state.marker {
        match (marker.mine, marker.live) {
            (true, false) => return ClaimDecision::ReleaseMine,
            (false, true) => return ClaimDecision::InFlight,
            (false, false) => previous_outcome_unknown = true,
            (true, true) => mine = true,
        }
    }
    if state.if_due && !previous_outcome_unknown && !mine && (state.backing_off || !state.due) {
        return ClaimDecision::NotNeeded;
    }
    ClaimDecision::Claim {
        previous_outcome_unknown,
    }
}

/// True when `stored` is not `named`, compared in constant time. A credential
/// without a stored access token has nothing that could have replaced it.
pub(crate) fn token_replaced(stored: Option<&AccessToken>, named: &AccessToken) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let Some(stored) = stored else {
        return false;
    };
    let a = Sha256::digest(stored.expose_secret().as_bytes());
    let b = Sha256::digest(named.expose_secret().as_bytes());
    !bool::from(a.ct_eq(&b))
}

/// True while a refresh lease written at `started_at` holds at `now`: up to,
/// not including, `started_at + lease`. At the deadline it has expired, and
/// the next claim reports the earlier outcome as unknown. A lease too long to
/// represent never expires.
pub(crate) fn refresh_lease_live(
    started_at: DateTime<Utc>,
    lease: Duration,
    now: DateTime<Utc>,
) -> bool {
    match started_at.checked_add_signed(chrono_duration(lease)) {
        Some(deadline) => deadline > now,
        None => true,
    }
}

/// True while a credential backs off after a failed refresh: its next
/// attempt (`next_refresh_at`) is still ahead *and* its access token still
/// works, so an unforced caller uses the token rather than ask Pinterest
/// again. An expired (or unknown) access token ends the backoff.
pub(crate) fn backing_off(
    next_refresh_at: Option<DateTime<Utc>>,
    access_token_expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    next_refresh_at.is_some_and(|at| at > now) && access_token_expires_at.is_some_and(|at| at > now)
}

/// How long to wait before the next refresh attempt after failures: the
/// backoff rule as a pure function. It doubles from `base` with each
/// consecutive failure up to `max`; from `cooldown_after` failures on it is
/// `cooldown`; a server's `Retry-After` lengthens it, never shortens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshBackoff {
    /// The wait after the first failure.
    pub base: Duration,
    /// The longest doubling wait.
    pub max: Duration,
    /// From this many consecutive failures on, wait `cooldown` instead.
    pub cooldown_after: i64,
    /// The pause after repeated failures.
    pub cooldown: Duration,
}

impl RefreshBackoff {
    /// The wait after `failures` consecutive failures (this one included;
    /// fewer than 1 counts as 1), at least `retry_after`. Never overflows:
    /// the doubling stops at 2^19 and saturates.
    pub fn delay(&self, failures: i64, retry_after: Option<Duration>) -> Duration {
        let delay = if failures >= self.cooldown_after {
            self.cooldown
        } else {
            let exponent = u32::try_from(failures.clamp(1, 20) - 1).unwrap_or(0);
            self.base
                .saturating_mul(2u32.saturating_pow(exponent))
                .min(self.max)
        };
        delay.max(retry_after.unwrap_or_default())
    }

    /// When to try again: `now` plus [`RefreshBackoff::delay`], or the
    /// latest representable time if that overflows.
    pub fn next_attempt(
        &self,
        now: DateTime<Utc>,
        failures: i64,
        retry_after: Option<Duration>,
    ) -> DateTime<Utc> {
        later(now, self.delay(failures, retry_after))
    }
}

/// When a flow started at `now` for `ttl` expires, in stored precision
/// (saturating, like every deadline here).
pub(crate) fn flow_expires_at(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    crate::sql::stored_time(later(now, ttl))
}

/// True while a flow expiring at `expires_at` (its
/// [`FlowRecord::expires_at`]) can still be completed at `now`: strictly
/// before its expiry. The callback's atomic consume applies the same test in
/// SQL (`FLOW_OPEN`).
pub fn flow_open(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    expires_at > now
}

/// The SQL side of [`flow_open`] over `oauth_flows`, with `$1` the current
/// time (stored precision). Flows purged "before" a time are the others:
/// `expires_at < $1`.
pub(crate) const FLOW_OPEN: &str = "expires_at > $1";

/// What a failed refresh leaves on the credential.
#[derive(Debug, Clone)]
pub struct RefreshFailure {
    /// The new status (`active` for transient failures).
    pub status: CredentialStatus,
    /// The user-facing reason; never a secret.
    pub last_error: String,
    /// Consecutive failures, including this one.
    pub failures: i64,
    /// When to try again (backoff), if at all.
    pub next_refresh_at: Option<DateTime<Utc>>,
    /// Keep the in-flight marker: the outcome is unknown and must be resolved.
    pub keep_marker: bool,
}

/// What makes a credential due for a refresh: the one definition, used in
/// Rust ([`DueRule::is_due`], by the token manager) and in SQL
/// ([`DUE_CONDITION`], by the batch claim of the background refresher). Both
/// compare the same stored columns with the same bounds, so they agree to the
/// microsecond.
///
/// A credential is due when it holds no access token expiry, or when its
/// access token expires within `access_margin` *and* has lived nine tenths of
/// its lifetime (`access_token_aged_at`, written with the token by
/// [`aged_at`]): that is, it refreshes `min(access_margin, lifetime / 10)`
/// before expiry, so a short-lived token is not due on every pass. It is also
/// due when its refresh token expires within `refresh_token_margin` (keeping
/// the 60-day continuous refresh token alive).
#[derive(Debug, Clone, Copy)]
pub struct DueRule {
    /// The current time.
    pub now: DateTime<Utc>,
    /// Due when the access token expires within this margin, or within 10% of
    /// its lifetime if that is shorter (so short-lived tokens are not always due).
    pub access_margin: Duration,
    /// Due when the refresh token expires within this margin.
    pub refresh_token_margin: Duration,
}

/// The SQL side of [`DueRule::is_due`] over `credentials`. Binds: `$1` =
/// [`DueRule::access_expires_before`], `$2` = [`DueRule::now`], `$3` =
/// [`DueRule::refresh_expires_before`] (each through `stored_time`; stored
/// times are whole microseconds, so `stored <= trunc(t)` iff `stored <= t`).
pub(crate) const DUE_CONDITION: &str = "(access_token_expires_at IS NULL \
     OR (access_token_expires_at <= $1 \
         AND (access_token_aged_at IS NULL OR access_token_aged_at <= $2)) \
     OR refresh_token_expires_at <= $3)";

/// When an access token stored at `issued` and expiring at `expires` has lived
/// nine tenths of its lifetime (`expires` itself if the lifetime is not
/// positive), in stored precision.
pub(crate) fn aged_at(issued: DateTime<Utc>, expires: DateTime<Utc>) -> DateTime<Utc> {
    let tenth = ((expires - issued) / 10).max(chrono::Duration::zero());
    crate::sql::stored_time(expires - tenth)
}

impl DueRule {
    /// True when `record` is due under this rule (ignoring backoff). The same
    /// test as [`DUE_CONDITION`].
    pub fn is_due(&self, record: &CredentialRecord) -> bool {
        self.is_due_with(
            record.access_token_expires_at,
            record.access_token_aged_at,
            record.refresh_token_expires_at,
        )
    }

    /// [`DueRule::is_due`] over the three stored times it reads.
    fn is_due_with(
        &self,
        access_token_expires_at: Option<DateTime<Utc>>,
        access_token_aged_at: Option<DateTime<Utc>>,
        refresh_token_expires_at: Option<DateTime<Utc>>,
    ) -> bool {
        let Some(expires) = access_token_expires_at else {
            return true;
        };
        let access_due = expires <= self.access_expires_before()
            && access_token_aged_at.is_none_or(|aged| aged <= self.now);
        access_due || refresh_token_expires_at.is_some_and(|at| at <= self.refresh_expires_before())
    }

    /// Access tokens expiring at or before this may be due (`$1` of
    /// [`DUE_CONDITION`]).
    pub fn access_expires_before(&self) -> DateTime<Utc> {
        later(self.now, self.access_margin)
    }

    /// Refresh tokens expiring at or before this are due (`$3` of
    /// [`DUE_CONDITION`]).
    pub fn refresh_expires_before(&self) -> DateTime<Utc> {
        later(self.now, self.refresh_token_margin)
    }
}

/// The most authorization flows of one credential that may be open
/// (started, neither completed nor expired) at once. Starting one more
/// expires the oldest: a user sees only their latest consent link work, and
/// nobody can fill the table by starting flows in a loop.
pub const MAX_OPEN_FLOWS_PER_CREDENTIAL: usize = 10;

/// The outcome message of a flow expired because newer ones were started.
pub(crate) const REPLACED_FLOW_MESSAGE: &str = "a newer authorization of this credential replaced this one; use the latest link, or start again";

/// Flows and refresh leases. Every [`crate::Store`] implements it.
#[async_trait]
pub trait LifecycleStore: Send + Sync + std::fmt::Debug {
    /// Stores a new flow, sealing its verifier bound to the new row; past
    /// [`MAX_OPEN_FLOWS_PER_CREDENTIAL`] open flows of the credential, the
    /// oldest expire (outcome `failed`, "replaced").
    async fn create_flow(&self, flow: &NewFlow) -> Result<FlowRecord, StoreError>;

    /// Consumes the unexpired, unconsumed flow whose state hashes to
    /// `state_hash`, in one atomic statement; `None` when there is no such
    /// flow (unknown, expired or already used).
    async fn consume_flow(&self, state_hash: &str) -> Result<Option<ConsumedFlow>, StoreError>;

    /// A flow's metadata.
    async fn get_flow(&self, id: &FlowId) -> Result<FlowRecord, StoreError>;

    /// Records how a flow ended (for the CLI that waits on it).
    async fn finish_flow(
        &self,
        id: &FlowId,
        outcome: FlowOutcome,
        message: &str,
    ) -> Result<(), StoreError>;

    /// Deletes flows that expired before `before`; returns how many.
    async fn purge_flows(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Claims the refresh of one credential under a lease of `lease`.
    ///
    /// Locks and re-reads the row, then decides by [`decide_claim`]: a claim
    /// [`RefreshBasis::Replacing`] a token that is no longer stored is
    /// `NotNeeded` (so one rejected token causes one token request, whatever
    /// the number of processes); an [`RefreshBasis::IfDue`] claim of a
    /// credential that `due` says is fresh, or that is backing off
    /// (`next_refresh_at` ahead) with an unexpired access token, is
    /// `NotNeeded`. A row already claimed with the same `attempt_id` (by
    /// [`LifecycleStore::claim_due_refreshes`]) is handed to this caller with
    /// its lease renewed, unless that lease has already expired: then the
    /// marker is released and the answer is `NotNeeded`.
    async fn claim_refresh(
        &self,
        id: &CredentialId,
        attempt_id: &str,
        lease: Duration,
        basis: RefreshBasis<'_>,
        due: DueRule,
    ) -> Result<RefreshClaim, StoreError>;

    /// Records a failed refresh if `attempt_id` still holds the lease; returns
    /// the credential as stored afterwards.
    async fn record_refresh_failure(
        &self,
        id: &CredentialId,
        attempt_id: &str,
        failure: &RefreshFailure,
    ) -> Result<CredentialRecord, StoreError>;

    /// Claims up to `limit` active credentials that are due under `due`, not in
    /// backoff, and holding no in-flight marker, writing the lease
    /// `attempt_id` on each. A row whose marker expired is not taken: its
    /// earlier outcome is unknown, which only [`LifecycleStore::claim_refresh`]
    /// reports (see [`LifecycleStore::interrupted_refreshes`]). On PostgreSQL rows locked by another replica are
    /// skipped. Returns the claimed ids, most urgent first.
    async fn claim_due_refreshes(
        &self,
        due: DueRule,
        lease: Duration,
        attempt_id: &str,
        limit: usize,
    ) -> Result<Vec<CredentialId>, StoreError>;

    /// Backdates the in-flight marker of `id` to `started_at` if the attempt
    /// `attempt_id` still holds it (bumping the version); true when it did.
    /// For a lease whose process is known to have ended: the marker stays,
    /// so the next claim still reports the earlier outcome as unknown, but
    /// it no longer has to wait out the lease.
    async fn expire_refresh_lease(
        &self,
        id: &CredentialId,
        attempt_id: &str,
        started_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Credentials holding an in-flight marker set before `started_before`
    /// (interrupted refreshes, after a crash).
    async fn interrupted_refreshes(
        &self,
        started_before: DateTime<Utc>,
    ) -> Result<Vec<CredentialId>, StoreError>;
}

/// A flow row as stored.
#[derive(sqlx::FromRow)]
pub(crate) struct FlowRow {
    pub id: String,
    pub credential_id: String,
    pub user_id: String,
    pub started_by: String,
    pub redirect_uri: String,
    pub pkce_verifier_sealed: Vec<u8>,
    pub browser_binding_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub consumed_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub message: Option<String>,
}

pub(crate) const FLOW_COLUMNS: &str = "id, credential_id, user_id, started_by, redirect_uri, \
     pkce_verifier_sealed, browser_binding_hash, created_at, expires_at, consumed_at, outcome, \
     message";

impl FlowRow {
    pub(crate) fn location(&self) -> crate::crypto::Location<'_> {
        crate::crypto::Location {
            table: OAUTH_FLOWS,
            column: PKCE_VERIFIER,
            row_id: &self.id,
        }
    }

    pub(crate) fn to_record(&self) -> FlowRecord {
        FlowRecord {
            id: FlowId::from_trusted(self.id.clone()),
            credential_id: CredentialId::from_trusted(self.credential_id.clone()),
            user_id: UserId::from_trusted(self.user_id.clone()),
            started_by_operator: self.started_by == "operator",
            redirect_uri: self.redirect_uri.clone(),
            browser_binding_hash: self.browser_binding_hash.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            consumed_at: self.consumed_at,
            outcome: self.outcome.as_deref().and_then(FlowOutcome::parse),
            message: self.message.clone(),
        }
    }
}

pub(crate) fn outcome_text(outcome: FlowOutcome) -> &'static str {
    outcome.as_str()
}

pub(crate) fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// `at + by`, or the latest representable time when that overflows (a
/// lease, margin or backoff too long to represent never ends).
pub(crate) fn later(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    at.checked_add_signed(chrono_duration(by))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// [`LifecycleStore`] on SQL, for both dialects.
#[async_trait::async_trait]
impl<D> crate::lifecycle::LifecycleStore for SqlStore<D>
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
    #[tracing::instrument(skip_all, fields(credential_id = %flow.credential_id))]
    async fn create_flow(
        &self,
        flow: &crate::lifecycle::NewFlow,
    ) -> Result<crate::lifecycle::FlowRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        // One flow is created at a time per credential (the row lock on
        // PostgreSQL, the write lock on SQLite), so the cap below holds
        // under any number of concurrent starts.
        let locked = sqlx::query(&format!(
            "SELECT id FROM credentials WHERE id = $1{}",
            D::FOR_UPDATE
        ))
        .bind(flow.credential_id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        if locked.is_none() {
            return Err(StoreError::NotFound {
                entity: "credential",
            });
        }
        let keyring = self.sealing_keyring(&mut tx).await?;
        let now = crate::sql::stored_time(self.clock.now());
        let mut row = crate::lifecycle::FlowRow {
            id: pinion_domain::FlowId::generate().as_str().to_owned(),
            credential_id: flow.credential_id.as_str().to_owned(),
            user_id: flow.user_id.as_str().to_owned(),
            started_by: if flow.started_by_operator {
                "operator"
            } else {
                "owner"
            }
            .to_owned(),
            redirect_uri: flow.redirect_uri.clone(),
            pkce_verifier_sealed: Vec::new(),
            browser_binding_hash: flow.browser_binding_hash.clone(),
            created_at: now,
            expires_at: crate::lifecycle::flow_expires_at(now, flow.ttl),
            consumed_at: None,
            outcome: None,
            message: None,
        };
        row.pkce_verifier_sealed = keyring.seal(
            row.location(),
            flow.pkce_verifier.expose_secret().as_bytes(),
        );
        sqlx::query(
            "INSERT INTO oauth_flows (id, state_hash, credential_id, user_id, provider, \
             redirect_uri, pkce_verifier_sealed, browser_binding_hash, created_at, \
             expires_at, started_by) VALUES ($1, $2, $3, $4, 'pinterest', $5, $6, $7, $8, $9, $10)",
        )
        .bind(&row.id)
        .bind(&flow.state_hash)
        .bind(&row.credential_id)
        .bind(&row.user_id)
        .bind(&row.redirect_uri)
        .bind(&row.pkce_verifier_sealed)
        .bind(&row.browser_binding_hash)
        .bind(row.created_at)
        .bind(row.expires_at)
        .bind(&row.started_by)
        .execute(&mut *tx)
        .await
        .map_err(|err| match &err {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound {
                entity: "credential",
            },
            _ => Self::db_error(err),
        })?;
        // Past the cap, the oldest open flows of the credential expire
        // now, marked as replaced for a CLI that waits on one.
        let open = crate::lifecycle::FLOW_OPEN;
        sqlx::query(&format!(
            "UPDATE oauth_flows SET expires_at = $1, outcome = 'failed', message = $2, \
             finished_at = $1 WHERE credential_id = $3 AND consumed_at IS NULL \
             AND {open} AND id <> $4 AND id NOT IN (SELECT id FROM oauth_flows \
             WHERE credential_id = $3 AND consumed_at IS NULL AND {open} \
             AND id <> $4 ORDER BY created_at DESC, id DESC LIMIT $5)",
        ))
        .bind(row.created_at)
        .bind(crate::lifecycle::REPLACED_FLOW_MESSAGE)
        .bind(&row.credential_id)
        .bind(&row.id)
        .bind((crate::lifecycle::MAX_OPEN_FLOWS_PER_CREDENTIAL - 1) as i64)
        .execute(&mut *tx)
        .await
        .map_err(Self::db_error)?;
        self.commit(tx).await?;
        Ok(row.to_record())
    }

    #[tracing::instrument(skip_all)]
    async fn consume_flow(
        &self,
        state_hash: &str,
    ) -> Result<Option<crate::lifecycle::ConsumedFlow>, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let sql = format!(
            "UPDATE oauth_flows SET consumed_at = $1 WHERE state_hash = $2 \
             AND consumed_at IS NULL AND {} RETURNING {}",
            crate::lifecycle::FLOW_OPEN,
            crate::lifecycle::FLOW_COLUMNS
        );
        let row = sqlx::query_as::<_, crate::lifecycle::FlowRow>(&sql)
            .bind(now)
            .bind(state_hash)
            .fetch_optional(&self.pool)
            .await
            .inspect(|_| self.changes.bump())
            .map_err(Self::db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let keyring = self.keys.current();
        let opened = keyring
            .open(row.location(), &row.pkce_verifier_sealed)
            .map_err(|err| crate::sql::open_error(row.location(), err, &self.keys.source))?;
        let verifier = crate::sql::plaintext_string(row.location(), opened)?;
        Ok(Some(crate::lifecycle::ConsumedFlow {
            record: row.to_record(),
            pkce_verifier: pinion_domain::PkceVerifier::new(verifier),
        }))
    }

    async fn get_flow(
        &self,
        id: &pinion_domain::FlowId,
    ) -> Result<crate::lifecycle::FlowRecord, StoreError> {
        let sql = format!(
            "SELECT {} FROM oauth_flows WHERE id = $1",
            crate::lifecycle::FLOW_COLUMNS
        );
        let row = sqlx::query_as::<_, crate::lifecycle::FlowRow>(&sql)
            .bind(id.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(Self::not_found("authorization flow"))?;
        Ok(row.to_record())
    }

    #[tracing::instrument(skip_all, fields(flow_id = %id))]
    async fn finish_flow(
        &self,
        id: &pinion_domain::FlowId,
        outcome: crate::lifecycle::FlowOutcome,
        message: &str,
    ) -> Result<(), StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        sqlx::query(
            "UPDATE oauth_flows SET outcome = $2, message = $3, finished_at = $4 \
             WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(crate::lifecycle::outcome_text(outcome))
        .bind(message)
        .bind(now)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(())
    }

    async fn purge_flows(&self, before: chrono::DateTime<chrono::Utc>) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM oauth_flows WHERE expires_at < $1")
            .bind(crate::sql::stored_time(before))
            .execute(&self.pool)
            .await
            .inspect(|_| self.changes.bump())
            .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result))
    }

    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    async fn claim_refresh(
        &self,
        id: &CredentialId,
        attempt_id: &str,
        lease: std::time::Duration,
        basis: crate::lifecycle::RefreshBasis<'_>,
        due: crate::lifecycle::DueRule,
    ) -> Result<crate::lifecycle::RefreshClaim, StoreError> {
        use crate::lifecycle::{ClaimDecision, RefreshBasis, RefreshClaim};
        let mut tx = self.begin_write().await?;
        let mut row = Self::credential_for_write(&mut tx, id, None).await?;
        let now = crate::sql::stored_time(self.clock.now());
        let record = row.to_record()?;
        let refreshable =
            record.status == CredentialStatus::Active && row.refresh_token_sealed.is_some();
        // The secrets are opened under the lock: the stored access
        // token decides whether a named one was already replaced.
        let opened = if refreshable {
            Some(self.open_row(&row).await?)
        } else {
            None
        };
        let replaced = match (basis, &opened) {
            (RefreshBasis::Replacing(named), Some(opened)) => {
                crate::lifecycle::token_replaced(opened.access_token.as_ref(), named)
            }
            _ => false,
        };
        let marker = row
            .refresh_started_at
            .map(|started| crate::lifecycle::Marker {
                mine: row.refresh_attempt_id.as_deref() == Some(attempt_id),
                live: crate::lifecycle::refresh_lease_live(started, lease, now),
            });
        // In backoff after a failure, an unforced caller whose access
        // token still works uses it rather than ask Pinterest again.
        let backing_off = crate::lifecycle::backing_off(
            record.refresh.next_refresh_at,
            record.access_token_expires_at,
            now,
        );
        let decision = crate::lifecycle::decide_claim(crate::lifecycle::ClaimState {
            refreshable,
            replaced,
            if_due: matches!(basis, RefreshBasis::IfDue),
            marker,
            backing_off,
            due: due.is_due(&record),
        });
        let previous_outcome_unknown = match decision {
            ClaimDecision::NotRefreshable => return Ok(RefreshClaim::NotRefreshable(record)),
            ClaimDecision::NotNeeded => return Ok(RefreshClaim::NotNeeded(record)),
            ClaimDecision::InFlight => return Ok(RefreshClaim::InFlight(record)),
            ClaimDecision::ReleaseMine => {
                // The batch's lease ran out before this row's turn
                // came. No request was made under it, so the marker
                // is released and the row left to a later claim with
                // a lease of its own.
                let current = row.version;
                row.refresh_started_at = None;
                row.refresh_attempt_id = None;
                row.version = current + 1;
                row.updated_at = now;
                Self::write_credential(&mut tx, &row, current).await?;
                self.commit(tx).await?;
                return Ok(RefreshClaim::NotNeeded(row.to_record()?));
            }
            ClaimDecision::Claim {
                previous_outcome_unknown,
            } => previous_outcome_unknown,
        };
        // Every claim handed out, the batch's "mine" included, starts
        // a full lease now and bumps the version, so the request runs
        // under a lease that cannot lapse before its timeout.
        let current = row.version;
        row.refresh_started_at = Some(now);
        row.refresh_attempt_id = Some(attempt_id.to_owned());
        row.version = current + 1;
        row.updated_at = now;
        Self::write_credential(&mut tx, &row, current).await?;
        self.commit(tx).await?;
        let Some(opened) = opened else {
            // Unreachable: only a refreshable row is claimed, and it
            // was opened above.
            return Ok(RefreshClaim::NotRefreshable(row.to_record()?));
        };
        Ok(RefreshClaim::Claimed {
            secrets: Box::new(crate::model::CredentialSecrets {
                record: row.to_record()?,
                client_secret: opened.client_secret,
                access_token: opened.access_token,
                refresh_token: opened.refresh_token,
            }),
            previous_outcome_unknown,
        })
    }

    #[tracing::instrument(skip_all, fields(credential_id = %id, status = failure.status.as_str()))]
    async fn record_refresh_failure(
        &self,
        id: &CredentialId,
        attempt_id: &str,
        failure: &crate::lifecycle::RefreshFailure,
    ) -> Result<CredentialRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut row = Self::credential_for_write(&mut tx, id, None).await?;
        if row.refresh_attempt_id.as_deref() != Some(attempt_id) {
            // Another attempt took over (or tokens were replaced); its
            // result stands.
            self.commit(tx).await?;
            return row.to_record();
        }
        let now = crate::sql::stored_time(self.clock.now());
        let current = row.version;
        row.status = failure.status.as_str().to_owned();
        row.last_error = Some(failure.last_error.clone());
        row.refresh_failures = failure.failures;
        row.next_refresh_at = failure.next_refresh_at.map(crate::sql::stored_time);
        if !failure.keep_marker {
            row.refresh_started_at = None;
            row.refresh_attempt_id = None;
        }
        row.version = current + 1;
        row.updated_at = now;
        Self::write_credential(&mut tx, &row, current).await?;
        self.commit(tx).await?;
        row.to_record()
    }

    #[tracing::instrument(skip_all, fields(limit = limit))]
    async fn claim_due_refreshes(
        &self,
        due: crate::lifecycle::DueRule,
        _lease: std::time::Duration,
        attempt_id: &str,
        limit: usize,
    ) -> Result<Vec<CredentialId>, StoreError> {
        let mut tx = self.begin_write().await?;
        // Rows holding a marker, expired or not, are left out: an
        // expired one is resolved through `claim_refresh`, which
        // reports that the earlier outcome is unknown; so the lease
        // plays no part here.
        let now = crate::sql::stored_time(self.clock.now());
        let sql = format!(
            "SELECT id FROM credentials WHERE status = 'active' \
             AND refresh_token_sealed IS NOT NULL AND {} \
             AND (next_refresh_at IS NULL OR next_refresh_at <= $4) \
             AND refresh_started_at IS NULL \
             ORDER BY access_token_expires_at LIMIT $5{}",
            crate::lifecycle::DUE_CONDITION,
            D::SKIP_LOCKED
        );
        let ids: Vec<(String,)> = sqlx::query_as(&sql)
            .bind(crate::sql::stored_time(due.access_expires_before()))
            .bind(crate::sql::stored_time(due.now))
            .bind(crate::sql::stored_time(due.refresh_expires_before()))
            .bind(now)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        for (id,) in &ids {
            sqlx::query(
                "UPDATE credentials SET refresh_started_at = $2, refresh_attempt_id = $3, \
                 version = version + 1, updated_at = $2 WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .bind(attempt_id)
            .execute(&mut *tx)
            .await
            .map_err(Self::db_error)?;
        }
        self.commit(tx).await?;
        Ok(ids
            .into_iter()
            .map(|(id,)| CredentialId::from_trusted(id))
            .collect())
    }

    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    async fn expire_refresh_lease(
        &self,
        id: &CredentialId,
        attempt_id: &str,
        started_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let now = crate::sql::stored_time(self.clock.now());
        let result = sqlx::query(
            "UPDATE credentials SET refresh_started_at = $3, version = version + 1, \
             updated_at = $4 WHERE id = $1 AND refresh_attempt_id = $2 \
             AND refresh_started_at IS NOT NULL",
        )
        .bind(id.as_str())
        .bind(attempt_id)
        .bind(crate::sql::stored_time(started_at))
        .bind(now)
        .execute(&self.pool)
        .await
        .inspect(|_| self.changes.bump())
        .map_err(Self::db_error)?;
        Ok(D::rows_affected(&result) == 1)
    }

    async fn interrupted_refreshes(
        &self,
        started_before: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<CredentialId>, StoreError> {
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM credentials WHERE refresh_started_at IS NOT NULL \
             AND refresh_started_at <= $1 ORDER BY id",
        )
        .bind(crate::sql::stored_time(started_before))
        .fetch_all(&self.pool)
        .await
        .map_err(Self::db_error)?;
        Ok(ids
            .into_iter()
            .map(|(id,)| CredentialId::from_trusted(id))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ClaimState {
        ClaimState {
            refreshable: true,
            replaced: false,
            if_due: true,
            marker: None,
            backing_off: false,
            due: true,
        }
    }

    const LIVE_OTHER: Marker = Marker {
        mine: false,
        live: true,
    };
    const DEAD_OTHER: Marker = Marker {
        mine: false,
        live: false,
    };

    #[test]
    fn a_credential_that_cannot_be_refreshed_is_refused_whatever_else_holds() {
        for replaced in [false, true] {
            let decision = decide_claim(ClaimState {
                refreshable: false,
                replaced,
                marker: Some(DEAD_OTHER),
                ..state()
            });
            assert_eq!(decision, ClaimDecision::NotRefreshable);
        }
    }

    #[test]
    fn a_named_token_that_was_replaced_needs_no_refresh_even_with_a_marker() {
        for marker in [None, Some(LIVE_OTHER), Some(DEAD_OTHER)] {
            let decision = decide_claim(ClaimState {
                replaced: true,
                if_due: false,
                marker,
                ..state()
            });
            assert_eq!(decision, ClaimDecision::NotNeeded, "{marker:?}");
        }
    }

    #[test]
    fn a_named_token_still_stored_is_claimed_even_when_fresh_or_backing_off() {
        let decision = decide_claim(ClaimState {
            if_due: false,
            due: false,
            backing_off: true,
            ..state()
        });
        assert_eq!(
            decision,
            ClaimDecision::Claim {
                previous_outcome_unknown: false
            }
        );
    }

    #[test]
    fn another_attempts_live_lease_is_in_flight_and_an_expired_one_is_unknown() {
        assert_eq!(
            decide_claim(ClaimState {
                marker: Some(LIVE_OTHER),
                ..state()
            }),
            ClaimDecision::InFlight
        );
        // An expired marker is claimed even when the credential is not due:
        // the earlier attempt may have spent the refresh token.
        assert_eq!(
            decide_claim(ClaimState {
                marker: Some(DEAD_OTHER),
                due: false,
                ..state()
            }),
            ClaimDecision::Claim {
                previous_outcome_unknown: true
            }
        );
    }

    #[test]
    fn a_batch_claim_keeps_its_own_live_lease_and_releases_an_expired_one() {
        let mine = |live| {
            decide_claim(ClaimState {
                marker: Some(Marker { mine: true, live }),
                due: false,
                ..state()
            })
        };
        assert_eq!(
            mine(true),
            ClaimDecision::Claim {
                previous_outcome_unknown: false
            }
        );
        assert_eq!(mine(false), ClaimDecision::ReleaseMine);
    }

    #[test]
    fn an_unforced_claim_of_a_fresh_or_backing_off_credential_is_not_needed() {
        assert_eq!(
            decide_claim(ClaimState {
                due: false,
                ..state()
            }),
            ClaimDecision::NotNeeded
        );
        assert_eq!(
            decide_claim(ClaimState {
                backing_off: true,
                ..state()
            }),
            ClaimDecision::NotNeeded
        );
        assert_eq!(
            decide_claim(state()),
            ClaimDecision::Claim {
                previous_outcome_unknown: false
            }
        );
    }

    #[test]
    fn token_comparison_finds_replacement_only_between_different_stored_tokens() {
        let a = AccessToken::new("pina_first".to_owned());
        let b = AccessToken::new("pina_second".to_owned());
        assert!(!token_replaced(Some(&a), &a));
        assert!(token_replaced(Some(&b), &a));
        assert!(!token_replaced(None, &a));
    }

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(1_700_000_000 + seconds)
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_refresh_lease_holds_until_its_deadline_and_not_at_it() {
        let started = t(0);
        assert!(refresh_lease_live(started, MINUTE, t(0)));
        assert!(refresh_lease_live(started, MINUTE, t(59)));
        assert!(
            !refresh_lease_live(started, MINUTE, t(60)),
            "the deadline itself"
        );
        assert!(!refresh_lease_live(started, MINUTE, t(61)));
        assert!(!refresh_lease_live(started, Duration::ZERO, t(0)));
    }

    #[test]
    fn a_refresh_lease_too_long_to_represent_never_expires() {
        assert!(refresh_lease_live(t(0), Duration::MAX, t(10_000)));
        assert!(refresh_lease_live(
            DateTime::<Utc>::MAX_UTC,
            MINUTE,
            DateTime::<Utc>::MAX_UTC
        ));
    }

    #[test]
    fn backoff_holds_while_the_next_attempt_is_ahead_and_the_token_works() {
        let now = t(0);
        assert!(backing_off(Some(t(1)), Some(t(1)), now));
        assert!(
            !backing_off(Some(t(0)), Some(t(1)), now),
            "next attempt now"
        );
        assert!(
            !backing_off(Some(t(1)), Some(t(0)), now),
            "token expires now"
        );
        assert!(!backing_off(None, Some(t(1)), now));
        assert!(!backing_off(Some(t(1)), None, now));
    }

    fn backoff() -> RefreshBackoff {
        RefreshBackoff {
            base: Duration::from_secs(30),
            max: Duration::from_secs(30 * 60),
            cooldown_after: 5,
            cooldown: Duration::from_secs(3600),
        }
    }

    #[test]
    fn the_backoff_doubles_up_to_its_maximum_then_cools_down() {
        let secs = |failures| backoff().delay(failures, None).as_secs();
        let cases = [(-3, 30), (0, 30), (1, 30), (2, 60), (3, 120), (4, 240)];
        for (failures, expected) in cases {
            assert_eq!(secs(failures), expected, "{failures} failures");
        }
        assert_eq!(secs(5), 3600, "cooldown from `cooldown_after` on");
        assert_eq!(secs(i64::MAX), 3600);
        let uncapped = RefreshBackoff {
            cooldown_after: i64::MAX,
            ..backoff()
        };
        assert_eq!(uncapped.delay(4, None).as_secs(), 240);
        assert_eq!(
            uncapped.delay(7, None).as_secs(),
            30 * 60,
            "capped at `max`"
        );
    }

    #[test]
    fn retry_after_lengthens_the_backoff_and_never_shortens_it() {
        assert_eq!(
            backoff().delay(1, Some(Duration::from_secs(90))).as_secs(),
            90
        );
        assert_eq!(
            backoff().delay(3, Some(Duration::from_secs(5))).as_secs(),
            120
        );
    }

    #[test]
    fn the_backoff_saturates_instead_of_overflowing() {
        let huge = RefreshBackoff {
            base: Duration::MAX,
            max: Duration::MAX,
            cooldown_after: i64::MAX,
            cooldown: Duration::MAX,
        };
        assert_eq!(huge.delay(i64::MAX - 1, None), Duration::MAX);
        assert_eq!(huge.next_attempt(t(0), 3, None), DateTime::<Utc>::MAX_UTC);
        let cooled = RefreshBackoff {
            cooldown: Duration::MAX,
            ..backoff()
        };
        assert_eq!(cooled.next_attempt(t(0), 9, None), DateTime::<Utc>::MAX_UTC);
        assert_eq!(backoff().next_attempt(t(0), 2, None), t(60));
    }

    fn due_rule() -> DueRule {
        DueRule {
            now: t(0),
            access_margin: Duration::from_secs(300),
            refresh_token_margin: Duration::from_secs(7 * 24 * 3600),
        }
    }

    #[test]
    fn a_token_is_due_within_the_margin_once_aged_and_at_the_boundaries() {
        let rule = due_rule();
        let far = Some(t(30 * 24 * 3600));
        assert!(rule.is_due_with(None, None, far), "no expiry known");
        assert!(
            rule.is_due_with(Some(t(300)), None, far),
            "expires at the margin"
        );
        assert!(!rule.is_due_with(Some(t(301)), None, far), "just beyond it");
        assert!(rule.is_due_with(Some(t(300)), Some(t(0)), far), "aged now");
        assert!(
            !rule.is_due_with(Some(t(300)), Some(t(1)), far),
            "not aged yet"
        );
        assert!(rule.is_due_with(Some(t(-5)), None, far), "already expired");
    }

    #[test]
    fn a_refresh_token_close_to_its_expiry_makes_the_credential_due() {
        let rule = due_rule();
        let week = 7 * 24 * 3600;
        let fresh_access = Some(t(3600));
        assert!(rule.is_due_with(fresh_access, None, Some(t(week))));
        assert!(!rule.is_due_with(fresh_access, None, Some(t(week + 1))));
        assert!(!rule.is_due_with(fresh_access, None, None));
    }

    #[test]
    fn due_margins_too_long_to_represent_saturate() {
        let rule = DueRule {
            access_margin: Duration::MAX,
            refresh_token_margin: Duration::MAX,
            ..due_rule()
        };
        assert_eq!(rule.access_expires_before(), DateTime::<Utc>::MAX_UTC);
        assert_eq!(rule.refresh_expires_before(), DateTime::<Utc>::MAX_UTC);
        assert!(rule.is_due_with(Some(t(10 * 365 * 24 * 3600)), None, None));
    }

    #[test]
    fn a_token_ages_at_nine_tenths_of_its_lifetime() {
        assert_eq!(aged_at(t(0), t(1000)), t(900));
        assert_eq!(aged_at(t(0), t(0)), t(0), "no lifetime");
        assert_eq!(aged_at(t(10), t(0)), t(0), "negative lifetime: the expiry");
    }

    #[test]
    fn a_flow_is_open_strictly_before_its_expiry() {
        let expires = flow_expires_at(t(0), Duration::from_secs(600));
        assert_eq!(expires, t(600));
        assert!(flow_open(expires, t(599)));
        assert!(!flow_open(expires, t(600)), "the deadline itself");
        assert!(!flow_open(expires, t(601)));
        assert_eq!(
            flow_expires_at(t(0), Duration::MAX),
            crate::sql::stored_time(DateTime::<Utc>::MAX_UTC)
        );
    }
}
