//! Checking a credential against Pinterest: `GET /v5/user_account` made with
//! the credential's token (refreshed first if due), reported with the
//! credential's status, granted scopes and expiries.

use std::sync::Arc;

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
}

/// Calls `GET /v5/user_account` with credential `id` and reports; the
/// check is logged as done by the system (see [`check_credential_by`]).
pub async fn check_credential(
    manager: &Arc<TokenManager>,
    config: ClientConfig,
    id: &CredentialId,
) -> Result<CheckReport, crate::ServiceError> {
    check_credential_by(manager, config, id, &Actor::System).await
}

/// Calls `GET /v5/user_account` with credential `id` and reports; the
/// result goes to the credential's activity log as done by `actor`.
#[tracing::instrument(skip_all, fields(credential_id = %id))]
pub async fn check_credential_by(
    manager: &Arc<TokenManager>,
    config: ClientConfig,
    id: &CredentialId,
    actor: &Actor,
) -> Result<CheckReport, crate::ServiceError> {
    let source = Arc::new(manager.token_source(id.clone()));
    let client = PinterestClient::new(config, source).map_err(|err| {
        crate::ServiceError::Unavailable(format!("the Pinterest client is misconfigured: {err}"))
    })?;
    let result = client.user_account().await;
    manager.store().record_check(id, manager.now()).await?;
    let record = manager.store().get_credential(id).await?;
    let mut report = CheckReport {
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
    };
    match result {
        Ok(account) => {
            report.ok = true;
            report.account_username = account.username().map(str::to_owned);
            report.account_type = account.account_type().map(str::to_owned);
        }
        Err(err) => report.error = Some(err.to_string()),
    }
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
    activity::append(&**manager.store(), entry).await;
    Ok(report)
}
