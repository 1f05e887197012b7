//! One rate budget per Pinterest account and app (issue 14).
//!
//! Pinterest counts requests per user and app, so every client Pinion builds
//! for a credential draws from the budget of its (app client id, Pinterest
//! account) pair, kept in the store ([`pinion_store::RateBudgetStore`]): runs,
//! checks, board reads and publishes, in `pinion serve` replicas and CLI
//! commands alike. The account is learned from `GET /v5/user_account`
//! (every check records it); until a credential has been checked, its
//! budget is keyed by the credential itself, which one Pinterest account
//! and app stand behind. The pace of each lane is the credential's rate
//! tier; when the store does not answer, each client paces itself alone
//! (`pinion_pinterest::Pacer`) until it does.

use std::sync::Arc;
use std::time::Duration;

use pinion_domain::Credential;
use pinion_pinterest::{BudgetLedger, ClientConfig, Lane, LedgerError, RateBudgets, SharedBudget};
use pinion_store::RateBudgetStore;

/// The store as the Pinterest client's [`BudgetLedger`].
#[derive(Debug)]
struct StoreLedger(Arc<dyn RateBudgetStore>);

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl BudgetLedger for StoreLedger {
    async fn reserve(&self, key: &str, lanes: &[Lane]) -> Result<Vec<Duration>, LedgerError> {
        let lanes: Vec<(&str, i64)> = lanes
            .iter()
            .map(|lane| (lane.name, micros(lane.interval)))
            .collect();
        let ahead = self.0.reserve_rate(key, &lanes).await?;
        Ok(ahead
            .into_iter()
            .map(|us| Duration::from_micros(u64::try_from(us).unwrap_or(0)))
            .collect())
    }

    async fn hold(&self, key: &str, lane: &Lane, ahead: Duration) -> Result<(), LedgerError> {
        Ok(self.0.hold_rate(key, lane.name, micros(ahead)).await?)
    }
}

/// The budget key of `credential`: its app and its Pinterest account when
/// known, else the credential itself.
pub(crate) fn budget_key(credential: &Credential, account: Option<&str>) -> String {
    match account {
        Some(account) => format!("{}/account:{account}", credential.client_id.as_str()),
        None => format!(
            "{}/credential:{}",
            credential.client_id.as_str(),
            credential.id.as_str()
        ),
    }
}

/// The shared budget every call made with `credential` draws from.
pub(crate) async fn shared_budget(
    store: &Arc<dyn RateBudgetStore>,
    credential: &Credential,
) -> SharedBudget {
    let account = store
        .pinterest_account(&credential.id)
        .await
        .unwrap_or_else(|err| {
            tracing::debug!(error = %err, "Could not read the credential's Pinterest account; keying its budget by the credential.");
            None
        });
    let ledger: Arc<dyn RateBudgetStore> = store.clone();
    SharedBudget::new(
        Arc::new(StoreLedger(ledger)),
        budget_key(credential, account.as_deref()),
    )
}

/// The Pinterest client configuration for calls made with `credential`:
/// `base`, paced at the credential's rate tier, drawing from the budget its
/// app and Pinterest account share with every other process.
pub(crate) async fn paced_for(
    base: &ClientConfig,
    credential: &Credential,
    store: &Arc<dyn RateBudgetStore>,
) -> ClientConfig {
    ClientConfig {
        budgets: RateBudgets::for_tier(credential.rate_tier),
        shared_budget: Some(shared_budget(store, credential).await),
        ..base.clone()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_budget_is_keyed_by_app_and_account_once_the_account_is_known() {
        let credential = crate::credentials::tests::sample();
        let client = credential.client_id.as_str().to_owned();
        assert_eq!(
            super::budget_key(&credential, Some("549755885175")),
            format!("{client}/account:549755885175")
        );
        assert_eq!(
            super::budget_key(&credential, None),
            format!("{client}/credential:{}", credential.id)
        );
    }
}
