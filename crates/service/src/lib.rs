//! Pinion's credential lifecycle, shared by the CLI, the JSON API and the web UI.
//!
//! The adapters (`pinion` CLI, `pinion-server`) turn argv, JSON or form fields
//! into calls here; the rules live here: input is validated into domain types,
//! a user sees only their own credentials (another user's are "not found", so
//! ids leak nothing), an admin may list every credential but never its secrets.
#![warn(missing_docs)]

mod activity;
mod app;
mod authorization;
mod budget;
pub mod cache;
mod check;
mod credentials;
mod destinations;
mod error;
mod health;
mod instance;
mod journal;
mod keys;
mod lifecycle;
pub mod notifications;
mod pause;
mod publishing;
mod refresher;
mod runs;
mod schedules;
mod sessions;
mod sharing;
mod sources;
pub mod throttle;
mod tokens;
mod turns;
mod usage;
mod users;

pub use activity::Actor;
pub use app::{
    CALLBACK_PATH, DATABASE_FILE, DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_PINTEREST_API_URL,
    DEFAULT_PINTEREST_OAUTH_URL, DEFAULT_PUBLIC_URL, DEFAULT_SQLITE_BUSY_TIMEOUT, KEY_FILE,
    MASTER_KEY_ENV, MASTER_KEY_FILE_ENV, Pinion, Settings, SetupError, StoreSettings,
    create_data_dir, redirect_uri,
};
pub use authorization::{
    Authorizations, BrowserBinding, CallbackError, CallbackParams, CompletedAuthorization,
    FLOW_TTL, StartedAuthorization,
};
pub use check::{CHECK_REUSE, CheckReport};
pub use credentials::{Credentials, SHARED_SETTINGS_FORBIDDEN, Unusable, UsableList, usability};
pub use error::ServiceError;
pub use health::{DEFAULT_CHECK_INTERVAL, HealthChecker, check_period};
pub use instance::{INSTANCES_DIR, Instance, Instances, Liveness};
pub use journal::{JOURNAL_DIR, JournalEntry, TokenJournal};
pub use keys::{AddedKey, Keys, add_key_version};
pub use lifecycle::{GrantedTokens, Lifecycle};
pub use notifications::{
    AddressPolicy, Deliverer, NotificationSettings, WebhookInput, WebhookPatch, Webhooks,
};
pub use refresher::{FLOW_RETENTION, PURGE_EVERY, Refresher, RefresherConfig, RunOutcome};
pub use sharing::{MAX_ACTIVITY_PAGE, UsableCredential};
pub use tokens::{
    CredentialTokenSource, RefreshError, RefreshOutcome, RefreshPolicy, TokenManager,
};
pub use usage::{CredentialUsage, DestinationUse, MAX_USAGE_RUNS, SourceUse, USAGE_RUNS_LISTED};
pub use users::Users;

// Web sign-in and data sources (issue 6).
pub use destinations::{BoardChoice, DestinationInput, Destinations};
pub use pinion_sync::publish::{RowOutcome, RowResult};
pub use publishing::{
    CSV_COLUMNS, MAX_PUBLISH_ROWS, PUBLISHES_LISTED, PinFields, PublishInput, Published,
};
pub use runs::{
    MAX_TAKEOVERS, OUTPUTS_DIR, OutputFile, RUN_HEARTBEAT, RUN_LEASE, RUN_SCAN, RUNS_LISTED, Runs,
    SourceOutput, output_location, valid_output_name,
};
pub use schedules::{DEFAULT_MIN_INTERVAL, SCHEDULER_TICK, Schedule, ScheduleInput, Schedules};
pub use sessions::{
    DEVICE_TOKEN_TTL, MIN_PASSWORD_CHARS, SESSION_TTL, SETUP_KEY_FILE, SIGNIN_TOKEN_TTL,
    SessionToken, Sessions, SetupKey, SignedIn, hash_password, validate_password, verify_password,
};
pub use sources::{OUTPUTS, STREAMS, SourceInput, Sources};

/// The OAuth client crate, re-exported so adapters build its configuration
/// with the same version the service uses.
pub use pinion_oauth as oauth;
/// The Pinterest API client crate, re-exported for the same reason.
pub use pinion_pinterest as pinterest;

pub(crate) use budget::paced_for;

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn calls_with_a_credential_are_paced_at_its_rate_tier_from_its_shared_budget() {
        let base = pinion_pinterest::ClientConfig::with_base_url(
            pinion_pinterest::BaseUrl::parse("http://127.0.0.1:9/v5").unwrap(),
        );
        let dir = tempfile::tempdir().unwrap();
        let store: std::sync::Arc<dyn pinion_store::RateBudgetStore> =
            crate::credentials::tests::store(&dir).await;
        let mut credential = crate::credentials::tests::sample();
        for tier in [
            pinion_domain::RateTier::Standard,
            pinion_domain::RateTier::Trial,
            pinion_domain::RateTier::PerMinute(60),
            pinion_domain::RateTier::Unlimited,
        ] {
            credential.rate_tier = tier;
            let config = super::paced_for(&base, &credential, &store).await;
            assert_eq!(
                config.budgets,
                pinion_pinterest::RateBudgets::for_tier(tier)
            );
            assert_eq!(config.base_url, base.base_url);
            assert_eq!(
                config.shared_budget.as_ref().map(|b| b.key().to_owned()),
                Some(super::budget::budget_key(&credential, None))
            );
        }
    }
}
