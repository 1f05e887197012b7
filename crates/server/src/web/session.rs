//! Sessions and CSRF tokens in the web UI.
//!
//! Cookies: with an https public URL the session cookie is
//! `__Host-pinion_session` (`Secure`, `Path=/`, no `Domain`, so no other host
//! or path can set or read it). On a plain-http loopback URL the `__Host-`
//! prefix is invalid (browsers require `Secure` with it and refuse `Secure`
//! cookies from http origins), so there the cookie is `pinion_session` with
//! the same other flags. Both are `HttpOnly` and `SameSite=Lax`: Lax keeps
//! the session when the browser returns from Pinterest's consent page, a
//! cross-site top-level navigation that `Strict` would strip (SECURITY.md
//! R10).
//!
//! CSRF: every form carries the session's token (`SessionToken::csrf_token`)
//! in a hidden `csrf` field, compared in constant time. The sign-in form,
//! which has no session yet, uses a signed double-submit cookie
//! (`__Host-pinion_signin` / `pinion_signin`): the server issues a value
//! MACed under a key derived from the store's keyring
//! (`Sessions::issue_signin_token`), the form must echo it, and a value the
//! server did not sign (one a client set or an attacker planted) is refused
//! with a 403 page (SECURITY.md R33).
//!
//! A successful sign-in also sets a device cookie (`__Host-pinion_device` /
//! `pinion_device`, 90 days), signed for the username, so that browser's
//! later sign-ins are throttled on their own and nobody else's failures can
//! refuse them (`pinion_service::throttle`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use pinion_domain::User;
use pinion_service::SessionToken;
use url::Url;

use super::WebError;
use crate::AppState;

/// The session cookie's name on an https public URL.
pub const SESSION_COOKIE_SECURE: &str = "__Host-pinion_session";
/// The session cookie's name on a plain-http (loopback) public URL.
pub const SESSION_COOKIE_PLAIN: &str = "pinion_session";
/// The sign-in form's double-submit cookie on an https public URL.
const SIGNIN_COOKIE_SECURE: &str = "__Host-pinion_signin";
/// The sign-in form's double-submit cookie on a plain-http public URL.
const SIGNIN_COOKIE_PLAIN: &str = "pinion_signin";
/// The device cookie (a browser that signed in before, see
/// `pinion_service::throttle`) on an https public URL.
const DEVICE_COOKIE_SECURE: &str = "__Host-pinion_device";
/// The device cookie on a plain-http public URL.
const DEVICE_COOKIE_PLAIN: &str = "pinion_device";

fn is_https(public_url: &Url) -> bool {
    public_url.scheme() == "https"
}

/// The session cookie's name for `public_url`.
pub fn session_cookie_name(public_url: &Url) -> &'static str {
    if is_https(public_url) {
        SESSION_COOKIE_SECURE
    } else {
        SESSION_COOKIE_PLAIN
    }
}

fn signin_cookie_name(public_url: &Url) -> &'static str {
    if is_https(public_url) {
        SIGNIN_COOKIE_SECURE
    } else {
        SIGNIN_COOKIE_PLAIN
    }
}

fn cookie(public_url: &Url, name: &str, value: &str, max_age_secs: u64) -> String {
    let secure = if is_https(public_url) { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}")
}

/// The `Set-Cookie` value of a new session.
pub fn session_cookie(public_url: &Url, token: &SessionToken, max_age_secs: u64) -> String {
    cookie(
        public_url,
        session_cookie_name(public_url),
        token.expose_secret(),
        max_age_secs,
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clearing_session_cookie(public_url: &Url) -> String {
    cookie(public_url, session_cookie_name(public_url), "", 0)
}

/// The `Set-Cookie` value of the sign-in form's double-submit cookie; it
/// lasts as long as the token is accepted.
pub fn signin_cookie(public_url: &Url, value: &str) -> String {
    let max_age = pinion_service::SIGNIN_TOKEN_TTL.as_secs();
    cookie(public_url, signin_cookie_name(public_url), value, max_age)
}

fn device_cookie_name(public_url: &Url) -> &'static str {
    if is_https(public_url) {
        DEVICE_COOKIE_SECURE
    } else {
        DEVICE_COOKIE_PLAIN
    }
}

/// The `Set-Cookie` value of the device cookie a browser gets at sign-in.
pub fn device_cookie(public_url: &Url, value: &str) -> String {
    let max_age = pinion_service::DEVICE_TOKEN_TTL.as_secs();
    cookie(public_url, device_cookie_name(public_url), value, max_age)
}

/// The device cookie's value, if any.
pub fn read_device_cookie<'a>(headers: &'a HeaderMap, public_url: &Url) -> Option<&'a str> {
    read_cookie(headers, device_cookie_name(public_url))
}

/// The `Set-Cookie` value that removes the sign-in cookie.
pub fn clearing_signin_cookie(public_url: &Url) -> String {
    cookie(public_url, signin_cookie_name(public_url), "", 0)
}

/// The value of cookie `name`, if the request carries it once or more (the
/// first wins).
pub fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// The sign-in cookie's value, if any.
pub fn read_signin_cookie<'a>(headers: &'a HeaderMap, public_url: &Url) -> Option<&'a str> {
    read_cookie(headers, signin_cookie_name(public_url))
}

/// A signed-in browser: the user and the session's token.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who is signed in.
    pub user: User,
    /// The session, for its CSRF token and for signing out.
    pub token: SessionToken,
}

impl Session {
    /// The CSRF token to put in forms.
    pub fn csrf(&self) -> String {
        self.token.csrf_token()
    }

    /// Refuses a form whose `csrf` field is not this session's token.
    pub fn check_csrf(&self, presented: &str) -> Result<(), WebError> {
        if self.token.csrf_matches(presented) {
            Ok(())
        } else {
            tracing::warn!(user_id = %self.user.id, "Refused a form with a bad CSRF token.");
            Err(WebError::BadCsrf)
        }
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let name = session_cookie_name(&state.public_url);
        let Some(value) = read_cookie(&parts.headers, name) else {
            return Err(Redirect::to("/sign-in").into_response());
        };
        let token = SessionToken::from_cookie(value);
        match state.sessions.user(&token).await {
            Ok(Some(user)) => Ok(Session { user, token }),
            Ok(None) => Err(Redirect::to("/sign-in").into_response()),
            Err(err) => Err(WebError::from(err).into_response()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookie_is_host_prefixed_and_secure_on_https_only() {
        let token = SessionToken::from_cookie("v");
        let https = session_cookie(&Url::parse("https://pinion.example").unwrap(), &token, 60);
        assert_eq!(
            https,
            "__Host-pinion_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        let http = session_cookie(&Url::parse("http://127.0.0.1:8080").unwrap(), &token, 60);
        assert_eq!(
            http,
            "pinion_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "xpinion_session=no; pinion_session=yes".parse().unwrap(),
        );
        assert_eq!(read_cookie(&headers, "pinion_session"), Some("yes"));
        assert_eq!(read_cookie(&headers, "pinion_signin"), None);
    }
}
