//! The background refresher that runs inside `pinion serve`: it claims
//! credentials whose tokens are due and refreshes them, so tokens stay fresh
//! (and 60-day refresh tokens stay alive) without anyone calling.
//!
//! `run_once` is one step: claim up to a batch of due credentials (on
//! PostgreSQL with `FOR UPDATE SKIP LOCKED`, so replicas never claim the same
//! row), then refresh them a few at a time. `run_until_stopped` loops with a
//! jittered pause until the shutdown future completes. `recover_interrupted`
//! resolves refreshes that were in flight when a process died. The loop also
//! deletes authorization flows that expired more than [`FLOW_RETENTION`] ago
//! (at start and then every [`PURGE_EVERY`]); until then a finished flow's
//! outcome stays readable by the CLI that waits on it.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use pinion_domain::CredentialId;
use rand::Rng;

use crate::tokens::{RefreshError, RefreshOutcome, TokenManager};

/// How long an expired authorization flow is kept before the refresher
/// deletes it.
pub const FLOW_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// How often the refresher loop deletes old flows.
pub const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// How the refresher paces itself.
#[derive(Debug, Clone)]
pub struct RefresherConfig {
    /// Most credentials claimed per step.
    pub batch_size: usize,
    /// Refreshes run at once within a step.
    pub concurrency: usize,
    /// Pause between steps when there was nothing to do; a random share of up
    /// to half of it is added, so replicas spread out.
    pub interval: Duration,
}

impl Default for RefresherConfig {
    fn default() -> Self {
        Self {
            batch_size: 100,
            concurrency: 8,
            interval: Duration::from_secs(30),
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOutcome {
    /// Credentials claimed.
    pub claimed: usize,
    /// Refreshed successfully.
    pub refreshed: usize,
    /// Found fresh after all.
    pub already_fresh: usize,
    /// Failed (each recorded on its credential).
    pub failed: usize,
}

/// The background refresher.
#[derive(Debug, Clone)]
pub struct Refresher {
    manager: Arc<TokenManager>,
    config: RefresherConfig,
}

impl Refresher {
    /// A refresher using `manager`.
    pub fn new(manager: Arc<TokenManager>, config: RefresherConfig) -> Self {
        Self { manager, config }
    }

    /// Resolves refreshes whose marker outlived the lease (their process
    /// died or gave up), unless they are backing off; returns how many were
    /// tried. The batch claim leaves such rows alone, so that the claim here
    /// reports the earlier outcome as unknown.
    async fn resolve_expired_markers(&self, lease: std::time::Duration) -> usize {
        // Journaled tokens of processes that ended are stored before any
        // marker is resolved as "outcome unknown".
        self.manager.replay_journal(None).await;
        if let Err(err) = self.manager.expire_ended_leases().await {
            tracing::warn!(error = %err, "Could not look for leases of ended processes.");
        }
        let now = self.manager.due_rule().now;
        let cutoff = now - chrono::Duration::from_std(lease).unwrap_or_default();
        let ids = match self.manager.leases().interrupted_refreshes(cutoff).await {
            Ok(ids) => ids,
            Err(err) => {
                tracing::warn!(error = %err, "Could not list expired refresh markers.");
                return 0;
            }
        };
        let mut tried = 0;
        for id in &ids {
            let backing_off = match self.manager.records().get_credential(id).await {
                Ok(record) => record.refresh.next_refresh_at.is_some_and(|at| at > now),
                Err(_) => true,
            };
            if backing_off {
                continue;
            }
            tried += 1;
            if let Err(err) = self.manager.resolve_interrupted(id, lease).await {
                tracing::warn!(credential_id = %id, error = %err, "An expired refresh ended in a failure.");
            }
        }
        tried
    }

    /// Resolves expired refresh markers, then claims due credentials and
    /// refreshes them.
    #[tracing::instrument(skip_all)]
    pub async fn run_once(&self) -> Result<RunOutcome, RefreshError> {
        let attempt_id = self.manager.new_attempt_id("batch");
        let policy = self.manager.policy().clone();
        self.resolve_expired_markers(policy.lease).await;
        let ids = self
            .manager
            .leases()
            .claim_due_refreshes(
                self.manager.due_rule(),
                policy.lease,
                &attempt_id,
                self.batch_limit(),
            )
            .await?;
        let mut outcome = RunOutcome {
            claimed: ids.len(),
            ..RunOutcome::default()
        };
        let results: Vec<Result<RefreshOutcome, RefreshError>> = futures::stream::iter(ids)
            .map(|id| {
                let manager = Arc::clone(&self.manager);
                let attempt_id = attempt_id.clone();
                async move { manager.refresh_claimed(&id, &attempt_id).await }
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        for result in results {
            match result {
                Ok(RefreshOutcome::Refreshed(_)) => outcome.refreshed += 1,
                Ok(RefreshOutcome::AlreadyFresh(_)) => outcome.already_fresh += 1,
                Err(_) => outcome.failed += 1,
            }
        }
        if outcome.claimed > 0 {
            tracing::info!(
                claimed = outcome.claimed,
                refreshed = outcome.refreshed,
                failed = outcome.failed,
                "Refreshed due credentials."
            );
        }
        Ok(outcome)
    }

    /// Resolves refreshes left in flight by a process that died. `lease` is
    /// how old a marker must be to count as dead: zero on a single node at
    /// start-up, the refresh lease when other replicas may be running. A
    /// marker of an instance of this data directory that has ended (see
    /// [`crate::Instances`]) counts as dead whatever its age.
    #[tracing::instrument(skip_all)]
    pub async fn recover_interrupted(&self, lease: Duration) -> Result<usize, RefreshError> {
        // Tokens that processes which ended had received but not stored
        // come first: storing them resolves their refreshes for good.
        let replayed = self.manager.replay_journal(None).await;
        if replayed > 0 {
            tracing::info!(replayed, "Stored refreshed tokens kept in the journal.");
        }
        // Leases of processes of this data directory that died are expired
        // first, so they are resolved now rather than after `lease`.
        self.manager.expire_ended_leases().await?;
        let cutoff =
            self.manager.due_rule().now - chrono::Duration::from_std(lease).unwrap_or_default();
        let ids: Vec<CredentialId> = self.manager.leases().interrupted_refreshes(cutoff).await?;
        for id in &ids {
            match self.manager.resolve_interrupted(id, lease).await {
                Ok(_) => tracing::info!(credential_id = %id, "Resolved an interrupted refresh."),
                Err(err) => {
                    tracing::warn!(credential_id = %id, error = %err, "An interrupted refresh ended in a failure.")
                }
            }
        }
        Ok(ids.len())
    }

    /// Deletes authorization flows that expired more than
    /// [`FLOW_RETENTION`] ago; returns how many.
    #[tracing::instrument(skip_all)]
    pub async fn purge_expired_flows(&self) -> Result<u64, RefreshError> {
        let before = self.manager.due_rule().now
            - chrono::Duration::from_std(FLOW_RETENTION).unwrap_or_default();
        let purged = self.manager.leases().purge_flows(before).await?;
        if purged > 0 {
            tracing::info!(purged, "Deleted expired authorization flows.");
        }
        Ok(purged)
    }

    /// Runs steps until `shutdown` completes. A full batch is followed at
    /// once by another step; otherwise the refresher pauses with jitter.
    /// Old flows are purged at start and every [`PURGE_EVERY`].
    pub async fn run_until_stopped(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut last_purge: Option<tokio::time::Instant> = None;
        loop {
            if last_purge.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
                if let Err(err) = self.purge_expired_flows().await {
                    tracing::warn!(error = %err, "Could not delete expired authorization flows.");
                }
                last_purge = Some(tokio::time::Instant::now());
            }
            let pause = match self.run_once().await {
                Ok(outcome) if outcome.claimed >= self.batch_limit() => Duration::ZERO,
                Ok(_) => self.jittered_interval(),
                Err(err) => {
                    tracing::warn!(error = %err, "The refresher step failed.");
                    self.jittered_interval()
                }
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!("The token refresher stopped.");
    }

    /// How many credentials one step claims: no more than the configured
    /// batch, and no more than the refreshes that can start before the
    /// batch's lease runs out (`concurrency` at a time, each taking up to one
    /// token request budget). Each row's own claim renews its lease when its
    /// turn comes; a row whose batch lease lapsed first is released, not
    /// refreshed.
    fn batch_limit(&self) -> usize {
        let concurrency = self.config.concurrency.max(1);
        let budget = self
            .manager
            .token_request_budget()
            .max(Duration::from_millis(1));
        let waves = (self.manager.policy().lease.as_millis() / budget.as_millis()).max(1);
        let waves = usize::try_from(waves).unwrap_or(usize::MAX);
        self.config
            .batch_size
            .min(concurrency.saturating_mul(waves))
            .max(1)
    }

    fn jittered_interval(&self) -> Duration {
        let base = self.config.interval;
        let extra = rand::thread_rng().gen_range(0.0..0.5);
        base + base.mul_f64(extra)
    }
}
