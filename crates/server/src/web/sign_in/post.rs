//! `POST /sign-in`: checks the double-submit token (the cookie and the form
//! must carry the same value, and the server must have signed it), then the
//! password; on success starts a session and goes to the credentials page.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use pinion_domain::Password;
use pinion_service::ServiceError;
use serde::Deserialize;

use crate::AppState;
use crate::web::WebError;
use crate::web::session::{
    clearing_signin_cookie, device_cookie, read_device_cookie, read_signin_cookie, session_cookie,
    signin_cookie,
};

/// The sign-in form's fields.
#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// Signs in, or shows the form again with one message for any wrong pair.
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<SignInForm>,
) -> Result<Response, WebError> {
    let expected = read_signin_cookie(&headers, &state.public_url).unwrap_or_default();
    if expected.is_empty()
        || !pinion_oauth::constant_time_eq(expected.as_bytes(), form.csrf.as_bytes())
    {
        return Err(WebError::BadSignInForm);
    }
    // A value the client chose (or one planted in its cookies) matches
    // itself; only the server's signature tells it from one the server issued.
    if !state.sessions.signin_token_valid(expected) {
        tracing::warn!(
            "Refused a sign-in whose form token the server did not issue or that expired."
        );
        return Err(WebError::BadSignInForm);
    }
    let password = Password::new(form.password);
    let client = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let device = read_device_cookie(&headers, &state.public_url);
    let attempt = state
        .sessions
        .sign_in_on_device(&form.username, &password, client, device)
        .await;
    let signed_in = match attempt {
        Ok(Some(signed_in)) => signed_in,
        Ok(None) => {
            let page = form_again(&state, &form.username, "Wrong username or password.");
            return Ok((StatusCode::UNAUTHORIZED, page).into_response());
        }
        Err(err @ ServiceError::Throttled { retry_after }) => {
            let page = form_again(&state, &form.username, &err.to_string());
            let seconds = retry_after.as_secs().max(1).to_string();
            return Ok((
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, seconds)],
                page,
            )
                .into_response());
        }
        Err(err) => return Err(err.into()),
    };
    signed_in_response(&state, &signed_in)
}

/// Goes to the credentials page with the new session's cookies (and the
/// sign-in form's cleared).
pub(crate) fn signed_in_response(
    state: &AppState,
    signed_in: &pinion_service::SignedIn,
) -> Result<Response, WebError> {
    let mut response = Redirect::to("/credentials").into_response();
    let max_age = state.sessions.ttl().as_secs();
    for cookie in [
        session_cookie(&state.public_url, &signed_in.token, max_age),
        clearing_signin_cookie(&state.public_url),
        device_cookie(&state.public_url, &signed_in.device_token),
    ] {
        let value = HeaderValue::from_str(&cookie).map_err(|_| WebError::Internal)?;
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// Whether the form's double-submit token matches its cookie and was
/// issued by this deployment (see `pinion_service::sessions`).
pub(crate) fn form_token_ok(state: &AppState, headers: &HeaderMap, presented: &str) -> bool {
    let expected = read_signin_cookie(headers, &state.public_url).unwrap_or_default();
    !expected.is_empty()
        && pinion_oauth::constant_time_eq(expected.as_bytes(), presented.as_bytes())
        && state.sessions.signin_token_valid(expected)
}

/// The form again with `message`, under a new double-submit token for the
/// next attempt.
fn form_again(state: &AppState, username: &str, message: &str) -> Response {
    let value = state.sessions.issue_signin_token();
    let page = super::get::form(&value, username, Some(message), false);
    (
        [(header::SET_COOKIE, signin_cookie(&state.public_url, &value))],
        Html(page.into_string()),
    )
        .into_response()
}
