//! Starting an authorization from a form: the lifecycle service stores the
//! flow, bound to this browser by a cookie, and the browser goes to
//! Pinterest's consent page. The callback (module `oauth`) brings it back
//! straight to the credential's overlay, `/credentials/{id}/edit?authorized=1`,
//! with the screen the user started from as `return_to` (kept meanwhile in
//! a cookie, so Save returns there after the round trip).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pinion_service::BrowserBinding;

use crate::AppState;
use crate::web::{Session, WebError};

/// Starts the flow for credential `id` and answers 303 to the consent page;
/// Save in the overlay afterwards returns to `return_to`. The consent URL
/// carries the state: it goes only into `Location`, never into a log.
pub async fn start(
    state: &AppState,
    session: &Session,
    id: &pinion_domain::CredentialId,
    return_to: &str,
) -> Result<Response, WebError> {
    let binding = BrowserBinding::random();
    let started = state
        .authorizations
        .start(&session.user, id, Some(&binding))
        .await?;
    let location = HeaderValue::from_str(started.url.as_str()).map_err(|_| WebError::Internal)?;
    let cookie = HeaderValue::from_str(&crate::oauth::binding_cookie(&state.public_url, &binding))
        .map_err(|_| WebError::Internal)?;
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    let back = HeaderValue::from_str(&crate::oauth::return_cookie(
        &state.public_url,
        return_to,
        600,
    ))
    .map_err(|_| WebError::Internal)?;
    response.headers_mut().append(header::SET_COOKIE, back);
    Ok(response)
}
