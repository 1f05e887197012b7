//! What an actor does with a credential's grant once it exists: check it
//! with Pinterest, refresh it now, and use its tokens for a sync. Each call
//! decides access with the credential rules ([`Credentials`]) before any
//! token is touched, so the adapters never hand the token manager a bare id.

use std::sync::Arc;

use pinion_domain::{Credential, CredentialId};
use pinion_pinterest::ClientConfig;

use crate::activity::Actor;
use crate::credentials::Access;
use crate::{
    CheckReport, CredentialTokenSource, Credentials, RefreshError, ServiceError, TokenManager,
};

/// Checks, refreshes and token sources, behind the credential access rules.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    credentials: Credentials,
    tokens: Arc<TokenManager>,
    pinterest: ClientConfig,
}

/// A credential's tokens for a sync or publish run: the credential as it was
/// when access was granted, and a token source that refreshes as needed.
#[derive(Debug, Clone)]
pub struct GrantedTokens {
    /// The credential.
    pub credential: Credential,
    /// Its access tokens, refreshed single-flight when due or refused.
    pub tokens: Arc<CredentialTokenSource>,
    /// The rate budget its app and Pinterest account share with every other
    /// process calling Pinterest for them.
    pub budget: pinion_pinterest::SharedBudget,
}

impl Lifecycle {
    /// Works through `tokens`, calling Pinterest as `pinterest` says.
    pub fn new(
        credentials: Credentials,
        tokens: Arc<TokenManager>,
        pinterest: ClientConfig,
    ) -> Self {
        Self {
            credentials,
            tokens,
            pinterest,
        }
    }

    /// Calls `GET /v5/user_account` with credential `id` and reports, unless
    /// a check of the unchanged credential made less than
    /// [`crate::CHECK_REUSE`] ago answers it. For the owner and the operator;
    /// logged as done by `actor`.
    pub async fn check(
        &self,
        actor: impl Into<Actor>,
        id: &CredentialId,
    ) -> Result<CheckReport, ServiceError> {
        self.check_with(actor.into(), id, true).await
    }

    /// Like [`Lifecycle::check`], but always asks Pinterest (after any check
    /// of the credential already under way in this process): for the web
    /// UI's Check button, pressed by a person who has just changed something
    /// on Pinterest's side.
    pub async fn check_now(
        &self,
        actor: impl Into<Actor>,
        id: &CredentialId,
    ) -> Result<CheckReport, ServiceError> {
        self.check_with(actor.into(), id, false).await
    }

    async fn check_with(
        &self,
        actor: Actor,
        id: &CredentialId,
        reuse: bool,
    ) -> Result<CheckReport, ServiceError> {
        let record = self
            .credentials
            .authorized(&actor, id, Access::Manage)
            .await?;
        crate::check::check(
            &self.tokens,
            crate::paced_for(&self.pinterest, &record, self.tokens.rates()).await,
            &record.id,
            &actor,
            reuse,
        )
        .await
    }

    /// Refreshes credential `id` now, even if its tokens are fresh, unless
    /// another caller is already doing it; for the owner and the operator,
    /// who is named in the activity log. Refused access is the outer error;
    /// the refresh's own failure the inner [`RefreshError`].
    pub async fn refresh(
        &self,
        actor: impl Into<Actor>,
        id: &CredentialId,
    ) -> Result<Result<Credential, RefreshError>, ServiceError> {
        let actor = actor.into();
        let record = self
            .credentials
            .authorized(&actor, id, Access::Manage)
            .await?;
        Ok(self
            .tokens
            .refresh_by(&record.id, &actor)
            .await
            .map(|outcome| outcome.record().credential.clone()))
    }

    /// Credential `id`'s tokens for a sync or publish run, if `actor` may
    /// manage it and it is usable now ([`crate::usability`]); otherwise
    /// [`ServiceError::NotAuthorized`] naming its status.
    pub async fn tokens_for_run(
        &self,
        actor: impl Into<Actor>,
        id: &CredentialId,
    ) -> Result<GrantedTokens, ServiceError> {
        let actor = actor.into();
        let record = self
            .credentials
            .authorized(&actor, id, Access::Manage)
            .await?;
        let credential = record.credential;
        if crate::usability(&credential).is_err() {
            return Err(ServiceError::NotAuthorized {
                credential: credential.name.to_string(),
                status: credential.status.as_str(),
            });
        }
        Ok(GrantedTokens {
            tokens: Arc::new(self.tokens.token_source(credential.id.clone())),
            budget: crate::budget::shared_budget(self.tokens.rates(), &credential).await,
            credential,
        })
    }

    /// The Pinterest API client configuration the checks use.
    pub fn pinterest(&self) -> &ClientConfig {
        &self.pinterest
    }
}
