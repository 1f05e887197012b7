//! Where the client gets access tokens: the [`TokenSource`] trait.
//!
//! The client knows nothing about how tokens are stored or refreshed. The
//! token manager (in the service layer) implements this trait: it hands out
//! the current access token and, when Pinterest rejects one with 401 code 2,
//! refreshes it once (single-flight across callers is its job) and hands out
//! the new one. [`StaticTokenSource`] serves a fixed token, for tools and tests
//! that have no refresh token.

use std::error::Error as StdError;

use async_trait::async_trait;
use pinion_domain::AccessToken;

/// Why no access token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenSourceError {
    /// The credential cannot produce a token any more (refresh token
    /// expired, revoked or rejected with `invalid_grant`): the user must
    /// authorize it again. Do not retry.
    #[error("the credential needs to be authorized again: {reason}")]
    NeedsReauthorization {
        /// Why, in words safe to show (never a token).
        reason: String,
    },
    /// A token could not be had right now (the token endpoint or the store
    /// failed); retrying later may work.
    #[error("no access token is available right now: {reason}")]
    Unavailable {
        /// Why, in words safe to show (never a token).
        reason: String,
        /// The underlying failure, if any.
        #[source]
        source: Option<Box<dyn StdError + Send + Sync>>,
    },
}

/// Supplies access tokens to a [`crate::PinterestClient`].
///
/// Implementations must be cheap to call: the client asks for the token
/// before every request, so the usual answer is a cached value.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// The access token to use now.
    async fn access_token(&self) -> Result<AccessToken, TokenSourceError>;

    /// Called once when Pinterest answered 401 (code 2) to a request made
    /// with `rejected`. Returns a fresh token, refreshing if `rejected` is
    /// still the current one, or the already-refreshed token if another
    /// caller refreshed in the meantime. The client retries the request once
    /// with the result; a second 401 fails the request with
    /// [`crate::ApiError::NeedsReauthorization`].
    async fn refreshed_after_unauthorized(
        &self,
        rejected: &AccessToken,
    ) -> Result<AccessToken, TokenSourceError>;
}

/// A token source that always returns the same token and cannot refresh.
#[derive(Debug, Clone)]
pub struct StaticTokenSource {
    token: AccessToken,
}

impl StaticTokenSource {
    /// Serves `token` until Pinterest rejects it.
    pub fn new(token: AccessToken) -> Self {
        Self { token }
    }
}

#[async_trait]
impl TokenSource for StaticTokenSource {
    async fn access_token(&self) -> Result<AccessToken, TokenSourceError> {
        Ok(self.token.clone())
    }

    async fn refreshed_after_unauthorized(
        &self,
        _rejected: &AccessToken,
    ) -> Result<AccessToken, TokenSourceError> {
        Err(TokenSourceError::NeedsReauthorization {
            reason: "Pinterest rejected the fixed access token and it cannot be refreshed".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_source_serves_its_token_and_cannot_refresh() {
        let source = StaticTokenSource::new(AccessToken::new("CANARY-static"));
        let token = source.access_token().await.unwrap();
        assert_eq!(token.expose_secret(), "CANARY-static");
        let err = source
            .refreshed_after_unauthorized(&token)
            .await
            .unwrap_err();
        assert!(matches!(err, TokenSourceError::NeedsReauthorization { .. }));
        assert!(!format!("{err} {err:?} {source:?}").contains("CANARY"));
    }

    #[test]
    fn token_source_is_object_safe() {
        let source: std::sync::Arc<dyn TokenSource> =
            std::sync::Arc::new(StaticTokenSource::new(AccessToken::new("t")));
        drop(source);
    }
}
