//! The headless authorization flow: the service library starts it, the
//! simulator's auto-approving user gives consent without a browser, and the
//! service completes it with the callback's `state` and `code`. Also:
//! making authorized credentials due for a refresh.

use std::sync::Arc;

use futures::StreamExt;
use pinion_domain::{
    AuthorizationCode, ClientSecret, Credential, CredentialId, CredentialInput, OAuthState,
    SystemClock,
};
use pinion_service::oauth::{OAuthConfig, PinterestOAuth};
use pinion_service::{Authorizations, CallbackParams, Credentials};
use pinion_simulator::{AppInfo, RunningSimulator};
use pinion_store::{Store, TokenSet, User};

use crate::simulator::no_redirects;

/// The OAuth client for `sim`.
pub fn oauth(sim: &RunningSimulator) -> Arc<PinterestOAuth> {
    Arc::new(
        PinterestOAuth::new(
            OAuthConfig::from_urls(&sim.oauth_url(), &sim.api_url()).expect("the simulator's URLs"),
            Arc::new(SystemClock),
        )
        .expect("the OAuth client builds"),
    )
}

/// Follows `authorize_url` as the simulator's auto-approving user and
/// returns the redirect back: the callback URL with `state` and `code`.
pub async fn headless_consent(http: &reqwest::Client, authorize_url: &str) -> url::Url {
    let response = http
        .get(authorize_url)
        .send()
        .await
        .expect("the simulator answers the authorize request");
    assert_eq!(response.status(), 302, "the simulator should redirect back");
    let location = response.headers()["location"]
        .to_str()
        .expect("an ASCII location");
    url::Url::parse(location).expect("the redirect is a URL")
}

/// The callback parameters (`state` and `code`) of a redirect back.
pub fn callback_params(location: &url::Url) -> CallbackParams {
    let get = |key: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("the redirect back has no {key}"))
    };
    CallbackParams {
        state: Some(OAuthState::new(get("state"))),
        code: Some(AuthorizationCode::new(get("code"))),
        ..Default::default()
    }
}

/// The whole flow for credential `id` of `owner`, headless.
pub async fn authorize(authorizations: &Authorizations, owner: &User, id: &CredentialId) {
    authorize_with(authorizations, &no_redirects(), owner, id).await;
}

/// [`authorize`] with a given HTTP client (one that follows no redirect).
pub async fn authorize_with(
    authorizations: &Authorizations,
    http: &reqwest::Client,
    owner: &User,
    id: &CredentialId,
) {
    let started = authorizations
        .start(owner, id, None)
        .await
        .expect("the authorization starts");
    let location = headless_consent(http, started.url.as_str()).await;
    authorizations
        .complete(callback_params(&location), None)
        .await
        .expect("the authorization completes");
}

/// Creates credential `name` of `owner` for the simulator's `app`, asking
/// for `scopes`.
pub async fn create_credential(
    store: &Arc<dyn Store>,
    owner: &User,
    app: &AppInfo,
    name: &str,
    scopes: &str,
) -> Credential {
    Credentials::new(store.clone())
        .create(
            owner,
            &owner.id,
            &CredentialInput {
                name: name.into(),
                description: None,
                client_id: app.client_id.clone(),
                client_secret: Some(ClientSecret::new(app.client_secret.clone())),
                scopes: Some(scopes.into()),
            },
        )
        .await
        .expect("the credential is created")
}

/// Makes every credential's access token look expired (keeping its refresh
/// token), so each one is due for a refresh.
pub async fn make_due(store: &Arc<dyn Store>, ids: &[CredentialId]) {
    futures::stream::iter(ids)
        .for_each_concurrent(8, |id| async move {
            let secrets = store
                .credential_secrets(id)
                .await
                .expect("the credential's secrets");
            store
                .set_tokens(
                    id,
                    &TokenSet {
                        access_token: secrets.access_token.unwrap(),
                        access_token_expires_at: Some(
                            chrono::Utc::now() - chrono::Duration::seconds(5),
                        ),
                        refresh_token: None,
                        refresh_token_expires_at: None,
                        granted_scopes: None,
                    },
                    secrets.record.version,
                )
                .await
                .expect("the tokens are replaced");
        })
        .await;
}
