//! Health checks (issue 14): every `pinion serve` checks every active
//! credential once per interval (`--check-interval`, default
//! [`DEFAULT_CHECK_INTERVAL`]), so a grant revoked on Pinterest shows as
//! "needs reauthorization" (and is announced) before a run fails on it.
//!
//! A check is the ordinary check path ([`crate::Lifecycle::check_now`] as
//! [`Actor::System`]): one `GET /v5/user_account`, a refresh when Pinterest
//! answers 401, `last_checked_at` and the activity log written as for any
//! check. Which credential is due when is the store's rule
//! ([`pinion_store::HealthSchedule`]: one check per interval, each
//! credential at its own moment, spread over the interval), and each check
//! is claimed with one conditional `UPDATE`, so across replicas a
//! credential is checked once per interval. Checks someone asked for count:
//! a credential checked by hand is not checked again in the same slot.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use pinion_domain::{Clock, CredentialId};
use pinion_store::HealthSchedule;

use crate::Lifecycle;
use crate::activity::Actor;

/// The default interval between two checks of one credential.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(6 * 3600);

/// Checks made at once by one process.
const CONCURRENCY: usize = 4;

/// Most checks one step claims; the rest wait for the next step.
const BATCH: usize = 50;

/// How often the checker looks for due credentials with checks every
/// `interval`: a quarter of it, between 250 ms and 60 s. A check happens at
/// most this long after its credential's moment.
pub fn check_period(interval: Duration) -> Duration {
    (interval / 4).clamp(Duration::from_millis(250), Duration::from_secs(60))
}

/// The background health checker.
#[derive(Debug, Clone)]
pub struct HealthChecker {
    lifecycle: Lifecycle,
    /// Only the health-check claims: the checks themselves go through
    /// `lifecycle`.
    store: Arc<dyn pinion_store::HealthStore>,
    clock: Arc<dyn Clock>,
    schedule: HealthSchedule,
    started: DateTime<Utc>,
}

impl HealthChecker {
    /// A checker that checks each active credential every `interval`.
    pub(crate) fn new(
        lifecycle: Lifecycle,
        store: Arc<dyn pinion_store::HealthStore>,
        clock: Arc<dyn Clock>,
        interval: Duration,
    ) -> Self {
        let started = clock.now();
        Self {
            lifecycle,
            store,
            clock,
            schedule: HealthSchedule {
                interval: interval.max(Duration::from_millis(1)),
            },
            started,
        }
    }

    /// Claims the credentials due now and checks them; returns how many
    /// were checked.
    #[tracing::instrument(skip_all)]
    pub async fn run_once(&self) -> Result<usize, crate::ServiceError> {
        let now = self.clock.now();
        let mut claimed: Vec<CredentialId> = Vec::new();
        for (id, last) in self.store.health_check_candidates().await? {
            if claimed.len() >= BATCH {
                break;
            }
            if !self.schedule.is_due(&id, last, self.started, now) {
                continue;
            }
            let since = self.schedule.due_since(&id, now);
            if self.store.claim_health_check(&id, since, now).await? {
                claimed.push(id);
            }
        }
        let checked = claimed.len();
        futures::stream::iter(claimed)
            .for_each_concurrent(CONCURRENCY, |id| async move {
                match self.lifecycle.check_now(Actor::System, &id).await {
                    Ok(report) if report.ok => {
                        tracing::debug!(credential_id = %id, "Health check passed.")
                    }
                    Ok(report) => tracing::warn!(
                        credential_id = %id,
                        status = report.status.as_str(),
                        error = report.error.as_deref().unwrap_or(""),
                        "Health check failed."
                    ),
                    Err(err) => {
                        tracing::warn!(credential_id = %id, error = %err, "Health check could not run.")
                    }
                }
            })
            .await;
        Ok(checked)
    }

    /// Runs steps every [`check_period`] until `shutdown` completes.
    pub async fn run_until_stopped(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let period = check_period(self.schedule.interval);
        loop {
            let pause = match self.run_once().await {
                Ok(checked) if checked >= BATCH => Duration::ZERO,
                Ok(_) => period,
                Err(err) => {
                    tracing::warn!(error = %err, "The health check step failed.");
                    period
                }
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!("The health checker stopped.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checker_looks_four_times_per_interval_within_bounds() {
        assert_eq!(
            check_period(DEFAULT_CHECK_INTERVAL),
            Duration::from_secs(60)
        );
        assert_eq!(
            check_period(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
        assert_eq!(
            check_period(Duration::from_millis(10)),
            Duration::from_millis(250)
        );
    }
}
