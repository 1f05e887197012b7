//! Checking a credential against Pinterest: `GET /v5/user_account` made with
//! the credential's token (refreshed first if due), reported with the
//! credential's status, granted scopes and expiries.
//!
//! A check is answered from the credential's latest check (kept in the
//! store, `credential_checks`) when that was made less than [`CHECK_REUSE`]
//! ago and the credential has not changed since (same version): the answer
//! says so (`cached`, `checked_at`), and Pinterest is not called. Checks of
//! one credential in one process wait for each other, so any number of them
//! at once make one call; several processes make at most one each. This
//! bounds what one user can spend of the owner's Pinterest rate budget by
//! checking in a loop.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use pinion_domain::{CredentialId, CredentialStatus};
use pinion_pinterest::{ClientConfig, PinterestClient};
use pinion_store::ActivityEvent;
use serde::Serialize;

use crate::activity::{self, Actor};
use crate::tokens::TokenManager;

/// What a check found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// True when Pinterest answered with the account.
    pub ok: bool,
    /// The credential's status after the check.
    pub status: CredentialStatus,
    /// The Pinterest account's username.
    pub account_username: Option<String>,
    /// `PINNER` or `BUSINESS`.
    pub account_type: Option<String>,
    /// The scopes Pinterest granted.
    pub granted_scopes: Vec<String>,
    /// When the access token expires.
    pub access_token_expires_at: Option<DateTime<Utc>>,
    /// When the refresh token expires.
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// When Pinterest answered this check.
    pub checked_at: DateTime<Utc>,
    /// True when this is the answer of a check made less than
    /// [`CHECK_REUSE`] ago (at `checked_at`), reused without calling
    /// Pinterest again.
    pub cached: bool,
}

/// How long a check's answer is reused for the same, unchanged credential.
pub const CHECK_REUSE: Duration = Duration::from_secs(30);

/// Checks of credentials hashing to one stripe run one at a time in this
/// process, so concurrent checks of one credential make one call.
static CHECK_LOCKS: LazyLock<[tokio::sync::Mutex<()>; 32]> =
    LazyLock::new(|| std::array::from_fn(|_| tokio::sync::Mutex::new(())));

fn check_lock(id: &CredentialId) -> &'static tokio::sync::Mutex<()> {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(id.as_str());
    &CHECK_LOCKS[hash as usize % CHECK_LOCKS.len()]
}

/// The report of the credential's latest check, if it was made less than
/// [`CHECK_REUSE`] ago and the credential has not changed since.
async fn recent_check(
    manager: &Arc<TokenManager>,
    id: &CredentialId,
) -> Result<Option<CheckReport>, crate::ServiceError> {
    let Some(check) = manager.records().latest_check(id).await? else {
        return Ok(None);
    };
    let age = manager.now() - check.checked_at;
    let reuse = chrono::Duration::from_std(CHECK_REUSE).unwrap_or_default();
    if age < chrono::Duration::zero() || age >= reuse {
        return Ok(None);
    }
    let record = manager.records().get_credential(id).await?;
    if record.version != check.credential_version {
        return Ok(None);
    }
    let mut report = CheckReport::of(&record, check.checked_at);
    report.ok = check.ok;
    report.account_username = check.account_username;
    report.account_type = check.account_type;
    report.error = check.error;
    report.cached = true;
    Ok(Some(report))
}

impl CheckReport {
    /// A report of `record` as it stands, for a check answered at `at`.
    fn of(record: &pinion_store::CredentialRecord, at: DateTime<Utc>) -> Self {
        Self {
            ok: false,
            status: record.status,
            account_username: None,
            account_type: None,
            granted_scopes: record
                .granted_scopes
                .as_ref()
                .map(|s| s.iter().map(|s| s.as_str().to_owned()).collect())
                .unwrap_or_default(),
            access_token_expires_at: record.access_token_expires_at,
            refresh_token_expires_at: record.refresh_token_expires_at,
            error: None,
            checked_at: at,
            cached: false,
        }
    }
}

/// Calls `GET /v5/user_account` with credential `id` as `actor` and
/// reports. With `reuse`, a check of the unchanged credential made less than
/// [`CHECK_REUSE`] ago answers instead; without it Pinterest is always asked
/// (after any check of the credential already under way in this process),
/// and the answer is kept for the checks that follow. Access is the
/// caller's to decide ([`crate::Lifecycle`]).
#[tracing::instrument(skip_all, fields(credential_id = %id, reuse = reuse))]
pub(crate) async fn check(
    manager: &Arc<TokenManager>,
    config: ClientConfig,
    id: &CredentialId,
    actor: &Actor,
    reuse: bool,
) -> Result<CheckReport, crate::ServiceError> {
    if reuse && let Some(report) = recent_check(manager, id).await? {
        return Ok(report);
    }
    let _one_at_a_time = check_lock(id).lock().await;
    // A check that ran while this one waited answers it too.
    if reuse && let Some(report) = recent_check(manager, id).await? {
        return Ok(report);
    }
    let source = Arc::new(manager.token_source(id.clone()));
    let client = PinterestClient::new(config, source).map_err(|err| {
        crate::ServiceError::upstream("the Pinterest client is misconfigured", err)
    })?;
    let result = client.user_account().await;
    // In the store's precision, so a reused answer names the same instant.
    let now = chrono::SubsecRound::trunc_subsecs(manager.now(), 6);
    manager.records().record_check(id, now).await?;
    let record = manager.records().get_credential(id).await?;
    let mut report = CheckReport::of(&record, now);
    match result {
        Ok(account) => {
            // Credentials of one account and app share one rate budget.
            if let Some(account_id) = account.id()
                && let Err(err) = manager.rates().note_pinterest_account(id, account_id).await
            {
                tracing::warn!(error = %err, "Could not record the credential's Pinterest account.");
            }
            report.ok = true;
            report.account_username = account.username().map(str::to_owned);
            report.account_type = account.account_type().map(str::to_owned);
        }
        Err(err) => report.error = Some(err.to_string()),
    }
    manager
        .records()
        .save_check(&pinion_store::StoredCheck {
            credential_id: id.clone(),
            credential_version: record.version,
            checked_at: now,
            ok: report.ok,
            account_username: report.account_username.clone(),
            account_type: report.account_type.clone(),
            error: report.error.clone(),
        })
        .await?;
    let (outcome, detail) = match (&report.error, &report.account_username) {
        (Some(error), _) => ("failed", error.clone()),
        (None, Some(username)) => ("ok", format!("Pinterest accepted it (account {username})")),
        (None, None) => ("ok", "Pinterest accepted it".to_owned()),
    };
    let entry = activity::entry(
        &record,
        actor,
        ActivityEvent::Checked,
        Some(outcome.to_owned()),
        Some(detail),
    );
    activity::append(&**manager.activity(), entry).await;
    Ok(report)
}
