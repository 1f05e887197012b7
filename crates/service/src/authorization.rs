//! Starting and completing the OAuth authorization-code flow (issue 4, SECURITY.md R1–R8).
//!
//! `start` stores a flow row (the state's hash, the sealed PKCE verifier, the
//! redirect URI built from configuration, an optional browser-binding hash) and
//! returns Pinterest's consent URL. `complete` handles the callback: it
//! consumes the state once, atomically, before anything else; checks the
//! browser binding in constant time; turns a provider error into a clear
//! message; exchanges the code exactly once (never again after a timeout);
//! and stores the tokens in one compare-and-set write.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pinion_domain::{AuthorizationCode, CredentialId, FlowId, OAuthState, ScopeSet};
use pinion_oauth::{AuthorizationUrl, PinterestOAuth, RedirectUri, TokenError, TokenResponse};
use pinion_store::{
    ActivityEvent, CredentialRecord, CredentialStore, FlowOutcome, LifecycleStore, NewFlow,
    RateBudgetStore, Store, StoreError, TokenSet,
};
use sha2::{Digest, Sha256};

use crate::ServiceError;
use crate::activity::Actor;

/// How long a flow may be completed (RFC 6749 §4.1.2 and R1: at most 10 minutes).
pub const FLOW_TTL: Duration = Duration::from_secs(600);

/// A browser-binding value: 256 random bits, set as an HttpOnly cookie by the
/// web adapter; only its SHA-256 is stored.
#[derive(Clone)]
pub struct BrowserBinding(String);

impl BrowserBinding {
    /// A fresh random binding value.
    pub fn random() -> Self {
        use base64::Engine;
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Wraps a value read back from the cookie.
    pub fn from_cookie(value: &str) -> Self {
        Self(value.to_owned())
    }

    /// The value for the cookie.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for BrowserBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BrowserBinding([REDACTED])")
    }
}

/// A started flow.
#[derive(Debug, Clone)]
pub struct StartedAuthorization {
    /// The flow's id (the CLI polls it).
    pub flow_id: FlowId,
    /// Pinterest's consent page; holds the state, so it is shown to the user
    /// and never logged.
    pub url: AuthorizationUrl,
    /// When the flow expires.
    pub expires_at: DateTime<Utc>,
}

/// The query of `GET /oauth/pinterest/callback`, as the adapter parsed it.
/// Values are secrets (`code`, `state`) or untrusted text.
#[derive(Default)]
pub struct CallbackParams {
    /// `state`, if present exactly once.
    pub state: Option<OAuthState>,
    /// `code`, if present exactly once.
    pub code: Option<AuthorizationCode>,
    /// `error`, e.g. `access_denied`.
    pub error: Option<String>,
    /// `error_description`, untrusted text (escape before rendering).
    pub error_description: Option<String>,
    /// True when a parameter appeared more than once.
    pub duplicated: bool,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackParams")
            .field("has_state", &self.state.is_some())
            .field("has_code", &self.code.is_some())
            .field("has_error", &self.error.is_some())
            .field("duplicated", &self.duplicated)
            .finish()
    }
}

/// A completed authorization.
#[derive(Debug, Clone)]
pub struct CompletedAuthorization {
    /// The credential, now `active`.
    pub credential: CredentialRecord,
    /// The flow.
    pub flow_id: FlowId,
    /// Set when Pinterest granted fewer scopes than requested.
    pub warning: Option<String>,
    /// True when the flow was started by (and bound to) a browser of the web
    /// UI, so the callback sends that browser back to the credential's page.
    pub browser_bound: bool,
}

/// Why a callback was refused. Every message is safe to show (escaped).
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// No `state`, a duplicated parameter, or `code` and `error` together.
    #[error("{0}")]
    Malformed(&'static str),
    /// The state is unknown, expired or already used.
    #[error(
        "this authorization link is unknown, expired or was already used; start the authorization again from Pinion"
    )]
    UnknownState,
    /// The flow was started in another browser.
    #[error("this authorization was started in another browser; start it again from this browser")]
    OtherBrowser,
    /// The user declined, or Pinterest reported an error.
    #[error("{message}")]
    Denied {
        /// What happened, including Pinterest's description (untrusted text).
        message: String,
        /// The credential concerned.
        credential_id: CredentialId,
    },
    /// The code exchange failed; the user must start again (the code is
    /// never resent).
    #[error("{message}")]
    ExchangeFailed {
        /// What happened.
        message: String,
        /// The credential concerned.
        credential_id: CredentialId,
    },
    /// Pinion's own store failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for CallbackError {
    fn from(err: StoreError) -> Self {
        Self::Service(err.into())
    }
}

/// Starts and completes authorizations.
#[derive(Debug, Clone)]
pub struct Authorizations {
    /// The authorization flows.
    flows: Arc<dyn LifecycleStore>,
    /// The credentials' secrets and tokens.
    records: Arc<dyn CredentialStore>,
    /// Which Pinterest account each credential reaches, for the rate budget.
    accounts: Arc<dyn RateBudgetStore>,
    credentials: crate::Credentials,
    oauth: Arc<PinterestOAuth>,
    redirect_uri: RedirectUri,
    events: crate::notifications::Events,
}

impl Authorizations {
    /// Uses `oauth` for Pinterest and `redirect_uri` (built from
    /// `PINION_PUBLIC_URL`, never from a request) for every flow.
    pub fn new(
        store: Arc<dyn Store>,
        oauth: Arc<PinterestOAuth>,
        redirect_uri: RedirectUri,
    ) -> Self {
        Self {
            credentials: crate::Credentials::new(store.clone()),
            flows: store.clone(),
            records: store.clone(),
            accounts: store,
            oauth,
            redirect_uri,
            events: crate::notifications::Events::default(),
        }
    }

    /// Announces recoveries through `events` (issue 14).
    pub(crate) fn set_events(&mut self, events: crate::notifications::Events) {
        self.events = events;
    }

    /// The redirect URI every flow uses.
    pub fn redirect_uri(&self) -> &RedirectUri {
        &self.redirect_uri
    }

    /// Starts a flow for credential `id`; its owner and the operator may (a
    /// collaborator may use the credential but never re-authorize it). The
    /// flow belongs to the credential's owner, whose Pinterest account the
    /// consent is for. With `binding`, the callback must come from the
    /// browser holding that cookie value.
    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    pub async fn start(
        &self,
        actor: impl Into<crate::Actor>,
        id: &CredentialId,
        binding: Option<&BrowserBinding>,
    ) -> Result<StartedAuthorization, ServiceError> {
        let actor = actor.into();
        let record = self
            .credentials
            .authorized(&actor, id, crate::credentials::Access::Manage)
            .await?;
        let request =
            self.oauth
                .start_authorization(&record.client_id, &self.redirect_uri, &record.scopes);
        let flow = self
            .flows
            .create_flow(&NewFlow {
                credential_id: record.id.clone(),
                user_id: record.owner.clone(),
                started_by_operator: matches!(actor, Actor::Operator),
                state_hash: pinion_oauth::state_hash(&request.state).as_str().to_owned(),
                redirect_uri: self.redirect_uri.as_str().to_owned(),
                pkce_verifier: request.pkce_verifier,
                browser_binding_hash: binding.map(BrowserBinding::hash),
                ttl: FLOW_TTL,
            })
            .await?;
        tracing::info!(credential_id = %record.id, flow_id = %flow.id, "Started an authorization.");
        metrics::counter!("pinion_authorization_flows_started_total").increment(1);
        Ok(StartedAuthorization {
            flow_id: flow.id,
            url: request.url,
            expires_at: flow.expires_at,
        })
    }

    /// A flow's record, for the CLI that waits on it.
    pub async fn flow(&self, id: &FlowId) -> Result<pinion_store::FlowRecord, ServiceError> {
        Ok(self.flows.get_flow(id).await?)
    }

    /// Handles the callback. No token request is made unless the state was
    /// consumed here, the browser matches and a lone `code` came back.
    #[tracing::instrument(skip_all)]
    pub async fn complete(
        &self,
        params: CallbackParams,
        binding: Option<&BrowserBinding>,
    ) -> Result<CompletedAuthorization, CallbackError> {
        let result = self.complete_flow(params, binding).await;
        let outcome = match &result {
            Ok(_) => "authorized",
            Err(CallbackError::Malformed(_)) => "malformed",
            Err(CallbackError::UnknownState) => "unknown_state",
            Err(CallbackError::OtherBrowser) => "other_browser",
            Err(CallbackError::Denied { .. }) => "denied",
            Err(CallbackError::ExchangeFailed { .. }) => "exchange_failed",
            Err(CallbackError::Service(_)) => "error",
        };
        metrics::counter!("pinion_authorization_flows_completed_total", "outcome" => outcome)
            .increment(1);
        result
    }

    async fn complete_flow(
        &self,
        params: CallbackParams,
        binding: Option<&BrowserBinding>,
    ) -> Result<CompletedAuthorization, CallbackError> {
        if params.duplicated {
            return Err(CallbackError::Malformed(
                "the callback repeats a parameter; start the authorization again",
            ));
        }
        let Some(state) = &params.state else {
            return Err(CallbackError::Malformed(
                "the callback has no state; start the authorization again from Pinion",
            ));
        };
        let hash = pinion_oauth::state_hash(state);
        let Some(flow) = self.flows.consume_flow(hash.as_str()).await? else {
            return Err(CallbackError::UnknownState);
        };
        let flow_id = flow.record.id.clone();
        let credential_id = flow.record.credential_id.clone();
        let browser_bound = flow.record.browser_binding_hash.is_some();
        if let Some(expected) = &flow.record.browser_binding_hash {
            let presented = binding.map(BrowserBinding::hash).unwrap_or_default();
            if !pinion_oauth::constant_time_eq(expected.as_bytes(), presented.as_bytes()) {
                let err = CallbackError::OtherBrowser;
                self.fail_flow(&flow_id, &err.to_string()).await;
                self.log_outcome(
                    &flow.record,
                    ActivityEvent::AuthorizationFailed,
                    None,
                    err.to_string(),
                )
                .await;
                return Err(err);
            }
        }
        let code = match (&params.code, &params.error) {
            (Some(_), Some(_)) => {
                let err = CallbackError::Malformed(
                    "the callback carries both a code and an error; start the authorization again",
                );
                self.fail_flow(&flow_id, &err.to_string()).await;
                return Err(err);
            }
            (None, Some(error)) => {
                let message = denial_message(error, params.error_description.as_deref());
                self.fail_flow(&flow_id, &message).await;
                self.log_outcome(
                    &flow.record,
                    ActivityEvent::AuthorizationDeclined,
                    None,
                    message.clone(),
                )
                .await;
                return Err(CallbackError::Denied {
                    message,
                    credential_id,
                });
            }
            (None, None) => {
                let err = CallbackError::Malformed(
                    "the callback has neither a code nor an error; start the authorization again",
                );
                self.fail_flow(&flow_id, &err.to_string()).await;
                return Err(err);
            }
            (Some(code), None) => code,
        };

        let secrets = match self.records.credential_secrets(&credential_id).await {
            Ok(secrets) => secrets,
            Err(err) => {
                self.fail_flow(&flow_id, "the credential could not be read")
                    .await;
                return Err(err.into());
            }
        };
        let redirect = RedirectUri::parse(&flow.record.redirect_uri).map_err(|_| {
            CallbackError::Malformed("the flow's redirect URI is invalid; start again")
        })?;
        // The one and only use of this code.
        let response = match self
            .oauth
            .exchange_code(
                &secrets.record.client_id,
                &secrets.client_secret,
                code,
                &redirect,
                &flow.pkce_verifier,
            )
            .await
        {
            Ok(response) => response,
            Err(err) => {
                let message = exchange_failure_message(&err);
                tracing::warn!(credential_id = %credential_id, error = %err, "The code exchange failed.");
                self.fail_flow(&flow_id, &message).await;
                self.log_outcome(
                    &flow.record,
                    ActivityEvent::AuthorizationFailed,
                    None,
                    message.clone(),
                )
                .await;
                return Err(CallbackError::ExchangeFailed {
                    message,
                    credential_id,
                });
            }
        };
        let warning = narrowed_scopes_warning(&secrets.record.scopes, response.scopes.as_ref());
        let credential = match store_tokens_replacing(&*self.records, &credential_id, &response)
            .await
        {
            Ok(credential) => credential,
            Err(err) => {
                // The code is spent and the tokens are lost with this call:
                // record the failure so a waiting CLI stops and says so.
                tracing::warn!(credential_id = %credential_id, error = %err, "Could not store the new tokens.");
                self.fail_flow(
                    &flow_id,
                    "the tokens could not be stored; authorize the credential again",
                )
                .await;
                self.log_outcome(
                    &flow.record,
                    ActivityEvent::AuthorizationFailed,
                    None,
                    "the tokens could not be stored; authorize the credential again".to_owned(),
                )
                .await;
                return Err(err.into());
            }
        };
        // The grant may be another Pinterest account's: its rate budget is
        // keyed by the credential until a check names the account.
        if let Err(err) = self.accounts.forget_pinterest_account(&credential_id).await {
            tracing::warn!(error = %err, "Could not forget the credential's earlier Pinterest account.");
        }
        let message = match &warning {
            Some(warning) => format!("authorized; {warning}"),
            None => "authorized".to_owned(),
        };
        if let Err(err) = self
            .flows
            .finish_flow(&flow_id, FlowOutcome::Completed, &message)
            .await
        {
            tracing::warn!(error = %err, "Could not record the flow's outcome.");
        }
        if let Some(warning) = &warning {
            tracing::warn!(credential_id = %credential_id, warning = %warning, "Narrower scopes granted.");
        }
        let granted = credential
            .granted_scopes
            .as_ref()
            .map_or_else(|| "none reported".to_owned(), |s| s.to_comma_separated());
        let detail = match &warning {
            Some(warning) => format!("granted scopes: {granted}; {warning}"),
            None => format!("granted scopes: {granted}"),
        };
        self.log_outcome(
            &flow.record,
            ActivityEvent::Authorized,
            Some(&credential),
            detail,
        )
        .await;
        self.events.credential_working(&credential).await;
        tracing::info!(credential_id = %credential_id, flow_id = %flow_id, "Authorized a credential.");
        Ok(CompletedAuthorization {
            credential,
            flow_id,
            warning,
            browser_bound,
        })
    }

    /// Appends the flow's outcome to the credential's log, as done by
    /// whoever started the flow: the owner, or the operator (never logged
    /// as the owner). `record` saves a read when at hand.
    async fn log_outcome(
        &self,
        flow: &pinion_store::FlowRecord,
        event: ActivityEvent,
        record: Option<&CredentialRecord>,
        detail: String,
    ) {
        let record = match record {
            Some(record) => record.clone(),
            None => match self.records.get_credential(&flow.credential_id).await {
                Ok(record) => record,
                Err(_) => return,
            },
        };
        let actor = if flow.started_by_operator {
            Actor::Operator
        } else {
            match self.credentials.users.get_user(&flow.user_id).await {
                Ok(user) => Actor::from(&user),
                Err(_) => Actor::System,
            }
        };
        let entry = crate::activity::entry(&record, &actor, event, None, Some(detail));
        crate::activity::append(&*self.credentials.sharing, entry).await;
    }

    async fn fail_flow(&self, id: &FlowId, message: &str) {
        if let Err(err) = self
            .flows
            .finish_flow(id, FlowOutcome::Failed, message)
            .await
        {
            tracing::warn!(error = %err, "Could not record the flow's outcome.");
        }
    }
}

/// Turns a token response into what the store keeps.
pub(crate) fn token_set(response: &TokenResponse) -> TokenSet {
    TokenSet {
        access_token: response.access_token.clone(),
        access_token_expires_at: Some(response.access_token_expires_at),
        refresh_token: response.refresh_token.clone(),
        refresh_token_expires_at: response.refresh_token_expires_at,
        granted_scopes: response.scopes.clone(),
    }
}

/// Stores a new authorization's tokens, replacing whatever was there in one
/// write (a refresh token or scopes the response omits are cleared, never
/// carried over from the previous grant); retried on a concurrent change (the new grant wins) and on a
/// briefly unavailable database, while the tokens are still in memory.
async fn store_tokens_replacing(
    store: &dyn CredentialStore,
    id: &CredentialId,
    response: &TokenResponse,
) -> Result<CredentialRecord, ServiceError> {
    let tokens = token_set(response);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let version = store.get_credential(id).await.map(|r| r.version);
        let result = match version {
            Ok(version) => store.replace_tokens(id, &tokens, version).await,
            Err(err) => Err(err),
        };
        match result {
            Ok(record) => return Ok(record),
            Err(StoreError::VersionConflict { .. } | StoreError::Unavailable { .. })
                if attempt < 10 =>
            {
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// The warning when Pinterest granted less than was asked for.
fn narrowed_scopes_warning(requested: &ScopeSet, granted: Option<&ScopeSet>) -> Option<String> {
    let granted = granted?;
    let missing = requested.missing_from(granted);
    if missing.is_empty() {
        None
    } else {
        Some(format!(
            "Pinterest granted fewer scopes than requested; missing: {}",
            missing.to_space_separated()
        ))
    }
}

/// A user-facing message for an `error` callback. The description is
/// untrusted text: it is cut to a sane length here and escaped when rendered.
fn denial_message(error: &str, description: Option<&str>) -> String {
    let error: String = error.chars().take(64).collect();
    let mut message = if error == "access_denied" {
        "Access was not granted on Pinterest, so the credential was not authorized".to_owned()
    } else {
        format!("Pinterest reported an error ({error}); the credential was not authorized")
    };
    if let Some(description) = description {
        let description: String = description.chars().take(300).collect();
        message.push_str(&format!(": {description}"));
    }
    message
}

/// A user-facing message for a failed code exchange.
fn exchange_failure_message(err: &TokenError) -> String {
    match err {
        TokenError::Timeout { .. } => "The connection to Pinterest did not complete. Please try again: start the authorization again (the code is never sent twice)".to_owned(),
        TokenError::InvalidClient { .. } => "Pinterest refused the app's client id or client secret; check the credential's app settings, then authorize again".to_owned(),
        TokenError::InvalidGrant { .. } => "Pinterest refused the authorization code (expired, already used, or for another app); start the authorization again".to_owned(),
        other if other.is_retryable() => "Pinterest could not complete the authorization right now; try again in a moment".to_owned(),
        other => format!("The authorization failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_binding_and_callback_params_debug_output_is_redacted() {
        let binding = BrowserBinding::from_cookie("CANARY-binding");
        let params = CallbackParams {
            state: Some(OAuthState::new("CANARY-state")),
            code: Some(AuthorizationCode::new("CANARY-code")),
            ..Default::default()
        };
        let text = format!("{binding:?} {params:?}");
        assert!(!text.contains("CANARY"), "{text}");
    }

    #[test]
    fn denial_of_access_reads_as_a_plain_sentence() {
        let message = denial_message("access_denied", None);
        assert!(message.starts_with("Access was not granted"), "{message}");
        let long = "x".repeat(5000);
        assert!(denial_message("server_error", Some(&long)).len() < 500);
    }

    #[test]
    fn narrower_scopes_are_named_in_the_warning() {
        let requested = ScopeSet::parse("boards:read,pins:read").unwrap();
        let granted = ScopeSet::parse("boards:read").unwrap();
        let warning = narrowed_scopes_warning(&requested, Some(&granted)).unwrap();
        assert!(warning.contains("pins:read"), "{warning}");
        assert!(narrowed_scopes_warning(&requested, Some(&requested)).is_none());
    }
}
