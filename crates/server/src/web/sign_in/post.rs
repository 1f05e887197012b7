//! `POST /sign-in`: checks the double-submit token, then the password; on
//! success starts a session and goes to the credentials page.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use pinion_domain::Password;
use pinion_service::SessionToken;
use serde::Deserialize;

use crate::AppState;
use crate::web::WebError;
use crate::web::session::{
    clearing_signin_cookie, read_signin_cookie, session_cookie, signin_cookie,
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
    Form(form): Form<SignInForm>,
) -> Result<Response, WebError> {
    let expected = read_signin_cookie(&headers, &state.public_url).unwrap_or_default();
    if expected.is_empty()
        || !pinion_oauth::constant_time_eq(expected.as_bytes(), form.csrf.as_bytes())
    {
        return Err(WebError::BadCsrf);
    }
    let password = Password::new(form.password);
    let Some(signed_in) = state.sessions.sign_in(&form.username, &password).await? else {
        // A new token for the next attempt.
        let value = SessionToken::random_value();
        let page = super::get::form(&value, &form.username, Some("Wrong username or password."));
        return Ok((
            StatusCode::UNAUTHORIZED,
            [(header::SET_COOKIE, signin_cookie(&state.public_url, &value))],
            Html(page.into_string()),
        )
            .into_response());
    };
    let mut response = Redirect::to("/credentials").into_response();
    let max_age = state.sessions.ttl().as_secs();
    for cookie in [
        session_cookie(&state.public_url, &signed_in.token, max_age),
        clearing_signin_cookie(&state.public_url),
    ] {
        let value = HeaderValue::from_str(&cookie).map_err(|_| WebError::Internal)?;
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}
