//! The token manager: "give me a valid access token for credential X".
//!
//! It refreshes ahead of expiry (a margin of 5 minutes, or 10% of a shorter
//! lifetime) and keeps the 60-day refresh token alive by refreshing when it is
//! within 7 days of lapsing. Refresh is single-flight: in one process a keyed
//! async mutex lets one caller refresh while the others wait and then re-read;
//! across replicas the store's lease (written under a row lock, compare-and-set)
//! decides who refreshes. A rotated refresh token is written together with the
//! new access token before anything uses it, retried while the tokens are still
//! in memory. Failures are classified (SECURITY.md R15): a refused grant marks
//! the credential `needs_reauthorization` (after re-reading, since another
//! replica may have rotated first), a refused client marks it `error` without
//! touching tokens (a new client secret makes it `active` again), transient
//! failures and unrecognised refusals keep it `active` with backoff, and a
//! request whose outcome is unknown keeps the in-flight marker so the next
//! attempt knows to resolve it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pinion_domain::{AccessToken, Clock, CredentialId, CredentialStatus};
use pinion_oauth::{PinterestOAuth, TokenError};
use pinion_pinterest::token::{TokenSource, TokenSourceError};
use pinion_store::{
    ActivityEvent, CredentialRecord, CredentialSecrets, CredentialStore, DueRule, LifecycleStore,
    RateBudgetStore, RefreshBasis, RefreshClaim, RefreshFailure, SharingStore, Store, StoreError,
};

use crate::activity::{self, Actor};
use crate::authorization::token_set;
use crate::journal::{JournalEntry, TokenJournal, refresh_token_sha256};
use crate::pause::{PausePoint, pause_point};

/// When and how the manager refreshes.
#[derive(Debug, Clone)]
pub struct RefreshPolicy {
    /// Refresh when the access token expires within this margin (or within
    /// 10% of its lifetime, if that is shorter).
    pub access_margin: Duration,
    /// Refresh when the refresh token expires within this margin.
    pub refresh_token_margin: Duration,
    /// How long a refresh lease holds; must exceed the token request timeout.
    pub lease: Duration,
    /// First backoff after a transient failure; doubles each time.
    pub base_backoff: Duration,
    /// Longest backoff between two attempts.
    pub max_backoff: Duration,
    /// After this many consecutive failures, wait `cooldown`.
    pub cooldown_after: i64,
    /// The pause after repeated failures.
    pub cooldown: Duration,
    /// How long a caller waits for another replica's in-flight refresh.
    pub wait_for_other: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            access_margin: Duration::from_secs(5 * 60),
            refresh_token_margin: Duration::from_secs(7 * 24 * 3600),
            lease: Duration::from_secs(120),
            base_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(30 * 60),
            cooldown_after: 5,
            cooldown: Duration::from_secs(3600),
            wait_for_other: Duration::from_secs(10),
        }
    }
}

/// Why no access token (or refresh) could be had.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The credential does not exist.
    #[error("credential not found")]
    NotFound,
    /// The credential was never authorized (or was reset): authorize it.
    #[error("the credential is not authorized yet; authorize it first")]
    NotAuthorized,
    /// Pinterest no longer accepts the grant: the user must authorize again.
    #[error("the credential needs to be authorized again: {reason}")]
    NeedsReauthorization {
        /// Why, in words a user understands.
        reason: String,
    },
    /// The app's client id or secret is refused: fix the credential's app settings.
    #[error("{reason}")]
    AppCredentials {
        /// Why.
        reason: String,
    },
    /// Not possible right now; retry later.
    #[error("no fresh token right now: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
        /// When trying again makes sense, if known.
        retry_at: Option<DateTime<Utc>>,
    },
    /// Pinterest answered with new tokens but the database could not take
    /// them yet: they are kept in the token journal and stored as soon as it
    /// can (by this process, or the next one on the same data directory).
    #[error(
        "the database is unavailable; Pinterest's new tokens are kept in the token journal and \
         will be stored when it is back"
    )]
    StorePending(#[source] StoreError),
    /// The store failed.
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
}

impl RefreshError {
    /// True when the database, not the credential, is why this failed: try
    /// again shortly.
    pub fn is_database_unavailable(&self) -> bool {
        match self {
            Self::StorePending(_) => true,
            Self::Store(err) => err.is_transient(),
            _ => false,
        }
    }
}

/// What a refresh did.
#[derive(Debug, Clone)]
pub enum RefreshOutcome {
    /// New tokens were stored by this call.
    Refreshed(CredentialRecord),
    /// The tokens were fresh (or another caller refreshed them meanwhile).
    AlreadyFresh(CredentialRecord),
}

impl RefreshOutcome {
    /// The credential afterwards.
    pub fn record(&self) -> &CredentialRecord {
        match self {
            Self::Refreshed(record) | Self::AlreadyFresh(record) => record,
        }
    }
}

/// Hands out valid access tokens and refreshes them, single-flight.
#[derive(Debug)]
pub struct TokenManager {
    /// The credentials, their secrets and tokens, and their checks.
    records: Arc<dyn CredentialStore>,
    /// Refresh leases, backoff and the authorization flows' housekeeping.
    leases: Arc<dyn LifecycleStore>,
    /// The activity log.
    activity: Arc<dyn SharingStore>,
    /// Which Pinterest account a credential reaches, and the shared budget.
    rates: Arc<dyn RateBudgetStore>,
    oauth: Arc<PinterestOAuth>,
    clock: Arc<dyn Clock>,
    policy: RefreshPolicy,
    locks: Mutex<HashMap<CredentialId, Arc<tokio::sync::Mutex<()>>>>,
    /// This process's registration, once made: leases carry its id, and
    /// leases of ended instances of the same data directory are cut short.
    instance: std::sync::OnceLock<crate::instance::Instance>,
    /// Where refreshed tokens are kept until the database takes them.
    journal: std::sync::OnceLock<TokenJournal>,
    /// Where refresh failures and recoveries are announced (issue 14).
    events: std::sync::OnceLock<crate::notifications::Events>,
}

/// How long a token request's caller keeps trying to store the answer before
/// it answers "the database is unavailable" and leaves the journaled tokens
/// to a background task (which keeps trying for as long as the process runs).
pub const STORE_WAIT: Duration = Duration::from_secs(5);

/// The longest pause between two background attempts to store journaled
/// tokens.
pub const STORE_RETRY_MAX: Duration = Duration::from_secs(5);

/// What a refresh is asked to do; see [`RefreshBasis`].
#[derive(Debug)]
enum Basis {
    IfDue,
    Replacing(AccessToken),
}

impl Basis {
    fn as_store(&self) -> RefreshBasis<'_> {
        match self {
            Self::IfDue => RefreshBasis::IfDue,
            Self::Replacing(token) => RefreshBasis::Replacing(token),
        }
    }
}

/// How journaled tokens met the database.
#[derive(Debug)]
enum Stored {
    /// Written now.
    Written(CredentialRecord),
    /// The database already held them (an earlier write went through).
    AlreadyThere(CredentialRecord),
    /// Newer tokens are stored: these are dropped.
    Superseded(CredentialRecord),
    /// The credential was deleted.
    Gone,
}

impl TokenManager {
    /// A manager over `store`, refreshing through `oauth`.
    pub fn new(
        store: Arc<dyn Store>,
        oauth: Arc<PinterestOAuth>,
        clock: Arc<dyn Clock>,
        policy: RefreshPolicy,
    ) -> Self {
        Self {
            records: store.clone(),
            leases: store.clone(),
            activity: store.clone(),
            rates: store,
            oauth,
            clock,
            policy,
            locks: Mutex::new(HashMap::new()),
            instance: std::sync::OnceLock::new(),
            journal: std::sync::OnceLock::new(),
            events: std::sync::OnceLock::new(),
        }
    }

    /// Announces refresh failures and recoveries through `events` (issue
    /// 14). Returns false if events were already set.
    pub(crate) fn set_events(&self, events: crate::notifications::Events) -> bool {
        self.events.set(events).is_ok()
    }

    fn events(&self) -> crate::notifications::Events {
        self.events.get().cloned().unwrap_or_default()
    }

    /// Keeps refreshed tokens in `journal` until the database takes them
    /// (see [`crate::TokenJournal`]). Without a journal a refreshed answer
    /// lives only in memory. Returns false if a journal was already set.
    pub fn set_journal(&self, journal: TokenJournal) -> bool {
        self.journal.set(journal).is_ok()
    }

    /// Stores the journaled tokens no live process holds (left by a process
    /// that ended before the database took them), for every credential or
    /// only `only`. Run it before resolving interrupted refreshes: a replayed
    /// answer makes their resolution unnecessary. Entries the database cannot
    /// take now stay for a later replay. Returns how many were settled.
    pub async fn replay_journal(&self, only: Option<&CredentialId>) -> usize {
        let Some(journal) = self.journal.get() else {
            return 0;
        };
        let mut settled = 0;
        for entry in journal.take_unowned(only) {
            match store_entry(&*self.records, &entry, None).await {
                Ok(stored) => {
                    log_stored(&entry.credential_id, &stored, "journal replay");
                    if let Stored::Written(record) = &stored {
                        let entry_log = activity::entry(
                            record,
                            &Actor::System,
                            ActivityEvent::Refreshed,
                            None,
                            Some("tokens kept while the database was away were stored".to_owned()),
                        );
                        activity::append(&*self.activity, entry_log).await;
                        self.events().credential_working(record).await;
                    }
                    entry.remove();
                    settled += 1;
                }
                Err(err) => {
                    tracing::warn!(credential_id = %entry.credential_id, error = %err, "Journaled tokens could not be stored yet; they are kept.");
                }
            }
        }
        settled
    }

    /// Tags this manager's leases with `instance`, and lets it cut short the
    /// leases of ended instances of the same registry (see
    /// [`crate::Instances`]). Returns false if an instance was already set.
    pub fn set_instance(&self, instance: crate::instance::Instance) -> bool {
        self.instance.set(instance).is_ok()
    }

    /// A new attempt id (`<kind>_<random>`, with `@<instance>` when this
    /// process is registered).
    pub fn new_attempt_id(&self, kind: &str) -> String {
        let random = pinion_domain::FlowId::generate()
            .as_str()
            .replace("flow_", &format!("{kind}_"));
        match self.instance.get() {
            Some(instance) => format!("{random}@{}", instance.id()),
            None => random,
        }
    }

    /// Expires at once the leases held by ended instances of this process's
    /// registry (a process of the same data directory that died), so their
    /// refreshes are resolved now rather than when the lease runs out; also
    /// deletes the files of ended instances no marker names any more.
    /// Returns how many leases were expired. Without a registration, nothing.
    pub async fn expire_ended_leases(&self) -> Result<usize, RefreshError> {
        let Some(instance) = self.instance.get() else {
            return Ok(0);
        };
        let registry = instance.registry();
        let now = self.clock.now();
        let ids = self.leases.interrupted_refreshes(now).await?;
        let mut attempts = Vec::new();
        for id in ids {
            match self.records.get_credential(&id).await {
                Ok(record) => {
                    if let Some(attempt) = record.refresh.attempt_id {
                        attempts.push((id, attempt));
                    }
                }
                Err(StoreError::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        let mut expired = 0;
        let backdated = now - chrono::Duration::from_std(self.policy.lease).unwrap_or_default();
        for (id, attempt) in &attempts {
            let Some(owner) = crate::instance::instance_of(attempt) else {
                continue;
            };
            if owner == instance.id()
                || registry.liveness(owner) != crate::instance::Liveness::Ended
            {
                continue;
            }
            if self
                .leases
                .expire_refresh_lease(id, attempt, backdated)
                .await?
            {
                tracing::info!(credential_id = %id, "The process refreshing this credential ended; resolving its refresh now.");
                expired += 1;
            }
        }
        let named: Vec<&str> = attempts
            .iter()
            .filter_map(|(_, attempt)| crate::instance::instance_of(attempt))
            .collect();
        registry.forget_ended(&named);
        Ok(expired)
    }

    /// The policy in use.
    pub fn policy(&self) -> &RefreshPolicy {
        &self.policy
    }

    /// The longest one token request can take (connect plus request
    /// timeout), which a refresh lease must outlast.
    pub fn token_request_budget(&self) -> Duration {
        let config = self.oauth.config();
        config.connect_timeout + config.request_timeout
    }

    /// The credentials and their tokens (for the service's own modules;
    /// adapters never see the store).
    pub(crate) fn records(&self) -> &Arc<dyn CredentialStore> {
        &self.records
    }

    /// The refresh leases and flows, for the refresher.
    pub(crate) fn leases(&self) -> &Arc<dyn LifecycleStore> {
        &self.leases
    }

    /// The activity log, for the checks.
    pub(crate) fn activity(&self) -> &Arc<dyn SharingStore> {
        &self.activity
    }

    /// Pinterest accounts and the shared rate budget.
    pub(crate) fn rates(&self) -> &Arc<dyn RateBudgetStore> {
        &self.rates
    }

    /// This manager's clock, the one the services share.
    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The current time by this manager's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The due rule at this moment.
    pub fn due_rule(&self) -> DueRule {
        let now = self.clock.now();
        DueRule {
            now,
            access_margin: self.policy.access_margin,
            refresh_token_margin: self.policy.refresh_token_margin,
        }
    }

    /// A valid access token for `id`, refreshed first if it is due.
    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    pub async fn access_token(&self, id: &CredentialId) -> Result<AccessToken, RefreshError> {
        if let Some(token) = self.fresh_token(id).await? {
            return Ok(token);
        }
        let lock = self.lock_for(id);
        let _guard = lock.lock().await;
        // Whoever held the lock before us may have refreshed.
        if let Some(token) = self.fresh_token(id).await? {
            return Ok(token);
        }
        match self.refresh_locked(id, Basis::IfDue, None).await {
            Ok(_) => self.current_token(id).await,
            Err(err @ RefreshError::Unavailable { .. }) => {
                // The refresh failed for now (or another process's is still
                // running), but the stored access token may not have expired:
                // it still works until then.
                match self.unexpired_token(id).await? {
                    Some(token) => Ok(token),
                    None => Err(err),
                }
            }
            Err(err) => Err(err),
        }
    }

    /// Refreshes `id` now, even if its tokens are fresh (`pinion credentials
    /// refresh`), unless another caller is already doing it.
    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    pub async fn refresh(&self, id: &CredentialId) -> Result<RefreshOutcome, RefreshError> {
        self.refresh_by(id, &Actor::System).await
    }

    /// [`TokenManager::refresh`] asked for by `actor`, who is named in the
    /// credential's activity log (other refreshes are logged as the system).
    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    pub async fn refresh_by(
        &self,
        id: &CredentialId,
        actor: &Actor,
    ) -> Result<RefreshOutcome, RefreshError> {
        let lock = self.lock_for(id);
        let _guard = lock.lock().await;
        // The tokens read now are the ones to replace: a caller who asks
        // while another refresh replaces them gets that refresh's result.
        let seen = self.current_token(id).await?;
        self.refresh_with(id, Basis::Replacing(seen), None, self.policy.lease, actor)
            .await
    }

    /// Refreshes a credential the background refresher claimed with
    /// `attempt_id`.
    pub async fn refresh_claimed(
        &self,
        id: &CredentialId,
        attempt_id: &str,
    ) -> Result<RefreshOutcome, RefreshError> {
        let lock = self.lock_for(id);
        let _guard = lock.lock().await;
        self.refresh_locked(id, Basis::IfDue, Some(attempt_id))
            .await
    }

    /// Resolves a refresh that was in flight when a process died: refreshes
    /// with the stored token once, treating any marker older than `lease` as
    /// dead. A refused grant then means "refresh outcome unknown".
    pub async fn resolve_interrupted(
        &self,
        id: &CredentialId,
        lease: Duration,
    ) -> Result<RefreshOutcome, RefreshError> {
        let lock = self.lock_for(id);
        let _guard = lock.lock().await;
        self.refresh_with(id, Basis::IfDue, None, lease, &Actor::System)
            .await
    }

    /// After Pinterest answered 401 code 2 to `rejected`: a refresh that
    /// replaces `rejected`, unless the database already holds another token
    /// (some process, this one or another, replaced it first); then the
    /// current token. The database decides under the row lock, so one
    /// rejected token causes one token request, whatever the number of
    /// callers and processes.
    pub async fn refreshed_after_unauthorized(
        &self,
        id: &CredentialId,
        rejected: &AccessToken,
    ) -> Result<AccessToken, RefreshError> {
        let lock = self.lock_for(id);
        let _guard = lock.lock().await;
        let rejected = AccessToken::new(rejected.expose_secret().to_owned());
        self.refresh_locked(id, Basis::Replacing(rejected), None)
            .await?;
        self.current_token(id).await
    }

    /// A [`TokenSource`] for one credential, for `pinion_pinterest`.
    pub fn token_source(self: &Arc<Self>, id: CredentialId) -> CredentialTokenSource {
        CredentialTokenSource {
            manager: Arc::clone(self),
            id,
        }
    }

    fn lock_for(&self, id: &CredentialId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        if locks.len() > 10_000 {
            // Forget locks nobody holds, so the map does not grow forever.
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        Arc::clone(locks.entry(id.clone()).or_default())
    }

    async fn secrets(&self, id: &CredentialId) -> Result<CredentialSecrets, RefreshError> {
        match self.records.credential_secrets(id).await {
            Ok(secrets) => Ok(secrets),
            Err(StoreError::NotFound { .. }) => Err(RefreshError::NotFound),
            Err(err) => Err(err.into()),
        }
    }

    /// The stored access token if the credential is usable and not due.
    async fn fresh_token(&self, id: &CredentialId) -> Result<Option<AccessToken>, RefreshError> {
        let secrets = self.secrets(id).await?;
        usable(&secrets.record)?;
        match secrets.access_token {
            Some(token) if !self.due_rule().is_due(&secrets.record) => Ok(Some(token)),
            _ => Ok(None),
        }
    }

    /// The stored access token if the credential is usable and the token has
    /// not expired (due for a refresh or not).
    async fn unexpired_token(
        &self,
        id: &CredentialId,
    ) -> Result<Option<AccessToken>, RefreshError> {
        let secrets = self.secrets(id).await?;
        usable(&secrets.record)?;
        let now = self.clock.now();
        match (secrets.access_token, secrets.record.access_token_expires_at) {
            (Some(token), Some(expires)) if expires > now => Ok(Some(token)),
            _ => Ok(None),
        }
    }

    /// The stored access token, whatever its expiry, if the credential is usable.
    async fn current_token(&self, id: &CredentialId) -> Result<AccessToken, RefreshError> {
        let secrets = self.secrets(id).await?;
        usable(&secrets.record)?;
        secrets.access_token.ok_or(RefreshError::NotAuthorized)
    }

    async fn refresh_locked(
        &self,
        id: &CredentialId,
        basis: Basis,
        claimed: Option<&str>,
    ) -> Result<RefreshOutcome, RefreshError> {
        self.refresh_with(id, basis, claimed, self.policy.lease, &Actor::System)
            .await
    }

    /// One refresh, counted in `pinion_refreshes_total` by outcome.
    async fn refresh_with(
        &self,
        id: &CredentialId,
        basis: Basis,
        claimed: Option<&str>,
        lease: Duration,
        actor: &Actor,
    ) -> Result<RefreshOutcome, RefreshError> {
        let result = self
            .refresh_attempt(id, &basis, claimed, lease, actor)
            .await;
        let outcome = match &result {
            Ok(RefreshOutcome::Refreshed(_)) => "refreshed",
            Ok(RefreshOutcome::AlreadyFresh(_)) => "already_fresh",
            Err(RefreshError::NotFound) => "not_found",
            Err(RefreshError::NotAuthorized) => "not_authorized",
            Err(RefreshError::NeedsReauthorization { .. }) => "needs_reauthorization",
            Err(RefreshError::AppCredentials { .. }) => "app_credentials",
            Err(RefreshError::Unavailable { .. }) => "unavailable",
            Err(RefreshError::StorePending(_)) => "store_pending",
            Err(RefreshError::Store(_)) => "store_error",
        };
        metrics::counter!("pinion_refreshes_total", "outcome" => outcome).increment(1);
        result
    }

    /// One refresh: claim, request, store or classify.
    async fn refresh_attempt(
        &self,
        id: &CredentialId,
        basis: &Basis,
        claimed: Option<&str>,
        lease: Duration,
        actor: &Actor,
    ) -> Result<RefreshOutcome, RefreshError> {
        // Tokens a process that ended left in the journal come first: they
        // may be the very refresh whose outcome would otherwise be unknown.
        self.replay_journal(Some(id)).await;
        let attempt_id = match claimed {
            Some(attempt) => attempt.to_owned(),
            None => self.new_attempt_id("att"),
        };
        let waited_since = tokio::time::Instant::now();
        let (secrets, previous_outcome_unknown) = loop {
            let claim = self
                .leases
                .claim_refresh(id, &attempt_id, lease, basis.as_store(), self.due_rule())
                .await
                .map_err(|err| match err {
                    StoreError::NotFound { .. } => RefreshError::NotFound,
                    other => other.into(),
                })?;
            match claim {
                RefreshClaim::Claimed {
                    secrets,
                    previous_outcome_unknown,
                } => break (*secrets, previous_outcome_unknown),
                RefreshClaim::NotNeeded(record) => {
                    return Ok(RefreshOutcome::AlreadyFresh(record));
                }
                RefreshClaim::NotRefreshable(record) => {
                    usable(&record)?;
                    return Err(RefreshError::NotAuthorized);
                }
                RefreshClaim::InFlight(record) => {
                    // Another replica is refreshing; wait for it a little.
                    if waited_since.elapsed() >= self.policy.wait_for_other {
                        return Err(RefreshError::Unavailable {
                            reason: "a refresh is already in progress elsewhere".into(),
                            retry_at: record.refresh.started_at.map(|at| {
                                at + chrono::Duration::from_std(self.policy.lease)
                                    .unwrap_or_default()
                            }),
                        });
                    }
                    // A refresh that finishes meanwhile replaces the named
                    // token, so the next claim answers "not needed".
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        let record = &secrets.record;
        let Some(refresh_token) = &secrets.refresh_token else {
            return Err(RefreshError::NotAuthorized);
        };
        if previous_outcome_unknown {
            tracing::warn!(credential_id = %id, "Resolving a refresh whose outcome is unknown.");
        }
        // From the token request until its answer is journaled and stored,
        // the work runs as its own task: a caller that goes away (a client
        // that hangs up, a request timeout) drops only its wait, never a
        // refresh token Pinterest has already rotated.
        let request = tokio::spawn(request_and_store(
            Arc::clone(&self.oauth),
            Arc::clone(&self.records),
            self.journal.get().cloned(),
            id.clone(),
            record.version,
            secrets.client_secret.clone(),
            refresh_token.clone(),
            record.client_id.clone(),
        ));
        let result = match request.await {
            Ok(result) => result,
            Err(err) => {
                return Err(RefreshError::Unavailable {
                    reason: format!("the refresh task ended unexpectedly: {err}"),
                    retry_at: None,
                });
            }
        };
        match result {
            Ok(stored) => {
                let stored = stored?;
                tracing::info!(credential_id = %id, "Refreshed the tokens.");
                if let RefreshOutcome::Refreshed(record) = &stored {
                    let detail = record
                        .access_token_expires_at
                        .map(|at| format!("access token valid until {}", at.to_rfc3339()));
                    let entry =
                        activity::entry(record, actor, ActivityEvent::Refreshed, None, detail);
                    activity::append(&*self.activity, entry).await;
                    self.events().credential_working(record).await;
                }
                Ok(stored)
            }
            Err(err) => {
                let outcome = self
                    .classify_failure(id, &attempt_id, &secrets, previous_outcome_unknown, err)
                    .await;
                if let Err(failure) = &outcome {
                    self.log_refresh_failure(record, actor, failure).await;
                }
                outcome
            }
        }
    }

    async fn classify_failure(
        &self,
        id: &CredentialId,
        attempt_id: &str,
        secrets: &CredentialSecrets,
        previous_outcome_unknown: bool,
        err: TokenError,
    ) -> Result<RefreshOutcome, RefreshError> {
        let record = &secrets.record;
        let failures = record.refresh.failures + 1;
        tracing::warn!(credential_id = %id, error = %err, "The token refresh failed.");
        if err.needs_reauthorization() {
            // Another replica may have rotated the token meanwhile: re-read.
            let now = self.secrets(id).await?;
            let rotated = match (&now.refresh_token, &secrets.refresh_token) {
                (Some(a), Some(b)) => !pinion_oauth::constant_time_eq(
                    a.expose_secret().as_bytes(),
                    b.expose_secret().as_bytes(),
                ),
                _ => false,
            };
            if rotated && now.record.status == CredentialStatus::Active {
                return Ok(RefreshOutcome::AlreadyFresh(now.record));
            }
            let reason = if previous_outcome_unknown {
                "Pinterest no longer accepts this connection: refresh outcome unknown (an \
                 interrupted refresh may have used the refresh token). Authorize the credential again"
            } else {
                "Pinterest no longer accepts this connection (access was revoked, the grant \
                 expired, or the app secret was reset). Authorize the credential again"
            };
            let failure = RefreshFailure {
                status: CredentialStatus::NeedsReauthorization,
                last_error: reason.to_owned(),
                failures,
                next_refresh_at: None,
                keep_marker: false,
            };
            self.leases
                .record_refresh_failure(id, attempt_id, &failure)
                .await?;
            return Err(RefreshError::NeedsReauthorization {
                reason: reason.to_owned(),
            });
        }
        if err.is_app_credential_problem() {
            let reason = "Pinterest refused this credential's app client id or client secret; \
                          update the app credentials (the user's tokens were kept)";
            let failure = RefreshFailure {
                status: CredentialStatus::Error,
                last_error: reason.to_owned(),
                failures,
                next_refresh_at: None,
                keep_marker: false,
            };
            self.leases
                .record_refresh_failure(id, attempt_id, &failure)
                .await?;
            return Err(RefreshError::AppCredentials {
                reason: reason.to_owned(),
            });
        }
        if err.is_retryable() {
            let unknown = err.outcome_unknown();
            let next = self.backoff(failures, err.retry_after());
            let reason = if unknown {
                "the last token refresh did not complete (outcome unknown); it will be \
                 resolved at the next attempt"
                    .to_owned()
            } else {
                format!("the last token refresh failed temporarily ({err}); retrying later")
            };
            let failure = RefreshFailure {
                status: CredentialStatus::Active,
                last_error: reason.clone(),
                failures,
                next_refresh_at: Some(next),
                keep_marker: unknown,
            };
            self.leases
                .record_refresh_failure(id, attempt_id, &failure)
                .await?;
            return Err(RefreshError::Unavailable {
                reason,
                retry_at: Some(next),
            });
        }
        // An unrecognised refusal is not taken as final: the credential stays
        // `active`, backs off, and shows the operator why.
        let reason = format!("Pinterest refused the token refresh: {err}; retrying later");
        let next = self.backoff(failures, None);
        let failure = RefreshFailure {
            status: CredentialStatus::Active,
            last_error: reason.clone(),
            failures,
            next_refresh_at: Some(next),
            keep_marker: false,
        };
        self.leases
            .record_refresh_failure(id, attempt_id, &failure)
            .await?;
        Err(RefreshError::Unavailable {
            reason,
            retry_at: Some(next),
        })
    }

    /// Appends a classified refresh failure to the credential's log: the
    /// class as the subject, the user-facing reason as the detail.
    async fn log_refresh_failure(
        &self,
        record: &CredentialRecord,
        actor: &Actor,
        failure: &RefreshError,
    ) {
        let (class, reason) = match failure {
            RefreshError::NeedsReauthorization { reason } => ("needs_reauthorization", reason),
            RefreshError::AppCredentials { reason } => ("app_credentials", reason),
            RefreshError::Unavailable { reason, .. } => ("retry_later", reason),
            _ => return,
        };
        let entry = activity::entry(
            record,
            actor,
            ActivityEvent::RefreshFailed,
            Some(class.to_owned()),
            Some(reason.clone()),
        );
        activity::append(&*self.activity, entry).await;
        self.events()
            .refresh_failed(record, record.refresh.failures, failure)
            .await;
    }

    /// When to try again after `failures` consecutive failures.
    fn backoff(&self, failures: i64, retry_after: Option<Duration>) -> DateTime<Utc> {
        pinion_store::RefreshBackoff {
            base: self.policy.base_backoff,
            max: self.policy.max_backoff,
            cooldown_after: self.policy.cooldown_after,
            cooldown: self.policy.cooldown,
        }
        .next_attempt(self.clock.now(), failures, retry_after)
    }
}

/// Writes refreshed tokens: first to the journal (durable, sealed), then
/// to the database with compare-and-set, trying for [`STORE_WAIT`].
///
/// On a version conflict or a store failure the stored refresh token
/// decides (see [`store_entry`]): if it is still the one this refresh
/// sent, nobody stored newer tokens, so ours are written over the current
/// version, whatever lease or status the row shows now; if another writer
/// stored a different refresh token, ours are dropped in favour of it.
///
/// If the database is still unavailable after [`STORE_WAIT`], the call
/// answers [`RefreshError::StorePending`] and a background task keeps
/// trying; the journal entry stays until the database has taken the
/// tokens, so a process that ends meanwhile loses nothing (the next one
/// on this data directory replays it).
async fn store_refreshed(
    store: &Arc<dyn CredentialStore>,
    journal: Option<&TokenJournal>,
    id: &CredentialId,
    claimed_version: i64,
    sent: &pinion_domain::RefreshToken,
    response: &pinion_oauth::TokenResponse,
) -> Result<RefreshOutcome, RefreshError> {
    let tokens = token_set(response);
    let written = match journal {
        Some(journal) => Some(journal.write_async(id, sent, &tokens).await),
        None => None,
    };
    let entry = match written {
        Some(Ok(entry)) => Some(entry),
        Some(Err(err)) => {
            tracing::error!(credential_id = %id, error = %err, "Could not journal refreshed tokens; storing them from memory only.");
            None
        }
        None => None,
    };
    let pending = entry.unwrap_or_else(|| JournalEntry::in_memory(id, sent, &tokens));
    let waited = tokio::time::Instant::now();
    let mut version = Some(claimed_version);
    let mut attempt = 0u32;
    let outcome = loop {
        attempt += 1;
        match store_entry(&**store, &pending, version.take()).await {
            Ok(stored) => break Ok(stored),
            Err(err) if err.is_transient() && waited.elapsed() < STORE_WAIT => {
                tracing::warn!(credential_id = %id, attempt, "Could not store refreshed tokens yet; retrying.");
                tokio::time::sleep(retry_pause(attempt)).await;
            }
            Err(err) => break Err(err),
        }
    };
    match outcome {
        Ok(stored) => {
            log_stored(id, &stored, "refresh");
            pending.remove();
            match stored {
                Stored::Written(record) => Ok(RefreshOutcome::Refreshed(record)),
                Stored::AlreadyThere(record) | Stored::Superseded(record) => {
                    Ok(RefreshOutcome::AlreadyFresh(record))
                }
                Stored::Gone => Err(RefreshError::NotFound),
            }
        }
        Err(err) if err.is_transient() => {
            tracing::warn!(credential_id = %id, "The database is unavailable; the refreshed tokens are journaled and will be stored when it is back.");
            tokio::spawn(keep_storing(Arc::clone(store), pending));
            Err(RefreshError::StorePending(err))
        }
        Err(err) => {
            // A lasting failure (a damaged row, a missing key): the entry
            // stays on disk for an operator and the next replay.
            Err(err.into())
        }
    }
}

/// The token request and, when it succeeds, [`store_refreshed`]: the part
/// of a refresh that must finish once started, run as its own task.
#[allow(clippy::too_many_arguments)]
async fn request_and_store(
    oauth: Arc<PinterestOAuth>,
    store: Arc<dyn CredentialStore>,
    journal: Option<TokenJournal>,
    id: CredentialId,
    claimed_version: i64,
    client_secret: pinion_domain::ClientSecret,
    refresh_token: pinion_domain::RefreshToken,
    client_id: pinion_domain::ClientId,
) -> Result<Result<RefreshOutcome, RefreshError>, TokenError> {
    pause_point(PausePoint::BeforeRequest).await;
    let response = oauth
        .refresh(&client_id, &client_secret, &refresh_token, None)
        .await?;
    pause_point(PausePoint::AfterResponse).await;
    let stored = store_refreshed(
        &store,
        journal.as_ref(),
        &id,
        claimed_version,
        &refresh_token,
        &response,
    )
    .await;
    pause_point(PausePoint::AfterWrite).await;
    Ok(stored)
}

/// The pause before the `attempt`-th try to store tokens: 100 ms growing to
/// [`STORE_RETRY_MAX`].
fn retry_pause(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.min(6))).min(STORE_RETRY_MAX)
}

/// Keeps trying to store `entry` until the database takes it (or holds newer
/// tokens), for as long as this process runs.
async fn keep_storing(store: Arc<dyn CredentialStore>, entry: JournalEntry) {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match store_entry(&*store, &entry, None).await {
            Ok(stored) => {
                log_stored(&entry.credential_id, &stored, "background store");
                entry.remove();
                return;
            }
            Err(err) if err.is_transient() => {
                tokio::time::sleep(retry_pause(attempt)).await;
            }
            Err(err) => {
                tracing::error!(credential_id = %entry.credential_id, error = %err, "Journaled tokens cannot be stored; they stay in the journal for the next start.");
                return;
            }
        }
    }
}

/// Stores the tokens of `entry` if the database still holds the refresh
/// token they were answered for, in one compare-and-set write (at
/// `version` first, when the caller knows it). Clears any lease and makes the
/// credential active: the tokens are valid, whatever another process
/// concluded meanwhile.
async fn store_entry(
    store: &dyn CredentialStore,
    entry: &JournalEntry,
    mut version: Option<i64>,
) -> Result<Stored, StoreError> {
    let id = &entry.credential_id;
    loop {
        if let Some(expected) = version.take() {
            match store.set_tokens(id, &entry.tokens, expected).await {
                Ok(record) => return Ok(Stored::Written(record)),
                Err(StoreError::VersionConflict { .. }) => {}
                Err(StoreError::NotFound { .. }) => return Ok(Stored::Gone),
                Err(err) => return Err(err),
            }
        }
        let current = match store.credential_secrets(id).await {
            Ok(current) => current,
            Err(StoreError::NotFound { .. }) => return Ok(Stored::Gone),
            Err(err) => return Err(err),
        };
        let same_access = current.access_token.as_ref().is_some_and(|stored| {
            pinion_oauth::constant_time_eq(
                stored.expose_secret().as_bytes(),
                entry.tokens.access_token.expose_secret().as_bytes(),
            )
        });
        if same_access {
            return Ok(Stored::AlreadyThere(current.record));
        }
        let still_sent = current.refresh_token.as_ref().is_some_and(|stored| {
            pinion_oauth::constant_time_eq(
                &refresh_token_sha256(stored),
                &entry.sent_refresh_sha256,
            )
        });
        // Without rotation the refresh token stays the same across refreshes:
        // only an answer newer than the stored access token may replace it.
        let newer = entry.tokens.refresh_token.is_some()
            || match (
                current.record.access_token_expires_at,
                entry.tokens.access_token_expires_at,
            ) {
                (Some(stored), Some(ours)) => ours > stored,
                _ => true,
            };
        if !(still_sent && newer) {
            return Ok(Stored::Superseded(current.record));
        }
        version = Some(current.record.version);
    }
}

fn log_stored(id: &CredentialId, stored: &Stored, context: &'static str) {
    match stored {
        Stored::Written(_) => {
            tracing::info!(credential_id = %id, context, "Stored refreshed tokens.")
        }
        Stored::AlreadyThere(_) => {}
        Stored::Superseded(_) => {
            tracing::warn!(credential_id = %id, context, "Newer tokens were stored meanwhile; keeping them.")
        }
        Stored::Gone => {
            tracing::info!(credential_id = %id, context, "The credential was deleted; its refreshed tokens are dropped.")
        }
    }
}

/// The one usable rule ([`crate::usability`]) as a refresh error.
fn usable(record: &CredentialRecord) -> Result<(), RefreshError> {
    crate::credentials::usability(record).map_err(|unusable| match unusable {
        crate::Unusable::NotAuthorized => RefreshError::NotAuthorized,
        crate::Unusable::NeedsReauthorization { reason } => {
            RefreshError::NeedsReauthorization { reason }
        }
        crate::Unusable::AppCredentials { reason } => RefreshError::AppCredentials { reason },
    })
}

/// A [`TokenSource`] for one credential, backed by the [`TokenManager`].
#[derive(Debug, Clone)]
pub struct CredentialTokenSource {
    manager: Arc<TokenManager>,
    id: CredentialId,
}

fn source_error(err: RefreshError) -> TokenSourceError {
    match err {
        RefreshError::NeedsReauthorization { reason } => {
            TokenSourceError::NeedsReauthorization { reason }
        }
        RefreshError::NotAuthorized => TokenSourceError::NeedsReauthorization {
            reason: err.to_string(),
        },
        other => TokenSourceError::Unavailable {
            reason: other.to_string(),
            source: Some(Box::new(other)),
        },
    }
}

#[async_trait]
impl TokenSource for CredentialTokenSource {
    async fn access_token(&self) -> Result<AccessToken, TokenSourceError> {
        self.manager
            .access_token(&self.id)
            .await
            .map_err(source_error)
    }

    async fn refreshed_after_unauthorized(
        &self,
        rejected: &AccessToken,
    ) -> Result<AccessToken, TokenSourceError> {
        self.manager
            .refreshed_after_unauthorized(&self.id, rejected)
            .await
            .map_err(source_error)
    }
}
