//! What every handler can reach: the services and settings, cheap to clone.

use std::ops::Deref;
use std::sync::Arc;

use pinion_service::{Authorizations, Credentials, TokenManager, Users};
use pinion_store::Store;
use url::Url;

/// Shared handler state: one pointer, since axum clones it for every
/// extractor of every request.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    /// Shares `services` between handlers.
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services and settings behind [`AppState`].
#[derive(Debug)]
pub struct Services {
    /// The store, for readiness checks.
    pub store: Arc<dyn Store>,
    /// User management and API-token authentication.
    pub users: Users,
    /// Credential management.
    pub credentials: Credentials,
    /// The public URL browsers reach Pinion at.
    pub public_url: Url,
    /// Starting and completing authorizations.
    pub authorizations: Authorizations,
    /// Fresh access tokens and refreshes.
    pub tokens: Arc<TokenManager>,
    /// The Pinterest API client's configuration, for checks.
    pub pinterest: pinion_pinterest::ClientConfig,
    /// Web sign-in: passwords and browser sessions (issue 6).
    pub sessions: pinion_service::Sessions,
    /// Data sources (issue 6).
    pub sources: pinion_service::Sources,
    /// Destinations (issue 6).
    pub destinations: pinion_service::Destinations,
    /// Source runs (issue 6).
    pub runs: pinion_service::Runs,
    /// `GET /api/v1/credentials` answers by user, until the store changes.
    pub credential_lists:
        Arc<pinion_service::cache::ReadCache<pinion_domain::UserId, axum::body::Bytes>>,
}
