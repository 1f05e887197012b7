//! What every handler can reach: the services and settings, cheap to clone.

use std::ops::Deref;
use std::sync::Arc;

use pinion_service::Pinion;
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

/// The services and settings behind [`AppState`]: the composition root's
/// services (reached through `Deref`, so `state.credentials` is
/// [`Pinion::credentials`]) and what only the server keeps.
#[derive(Debug)]
pub struct Services {
    /// Every service, wired once.
    pub pinion: Pinion,
    /// The public URL browsers reach Pinion at.
    pub public_url: Url,
    /// `GET /api/v1/credentials` answers by user, until the store changes.
    pub credential_lists:
        Arc<pinion_service::cache::ReadCache<pinion_domain::UserId, axum::body::Bytes>>,
    /// The key of the first-account page, while it may be used
    /// ([`crate::Settings::setup_key`]).
    pub setup_key: Option<pinion_service::SetupKey>,
}

impl Deref for Services {
    type Target = Pinion;

    fn deref(&self) -> &Pinion {
        &self.pinion
    }
}
