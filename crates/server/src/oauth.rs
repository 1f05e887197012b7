//! The OAuth callback `GET /oauth/pinterest/callback` and the fixed page
//! `GET /oauth/pinterest/authorized` it redirects to when no browser session
//! is bound to the flow.
//!
//! The callback reads its query by hand so a repeated parameter is refused
//! rather than silently picking one value. On success it answers 303 to a
//! clean URL without `code` or `state`: for a flow bound to a browser (started
//! from the web UI, or from the API with `bind_browser`), the credential's
//! page `/credentials/{id}/edit?authorized=1`, which shows the authorized
//! account and granted scopes (that page needs the owner's session);
//! otherwise (API and CLI flows) `/oauth/pinterest/authorized`, a public page
//! of fixed text that names no credential, so nothing about any credential is
//! served without a session. Every refused case is a 4xx HTML page whose text
//! is escaped. The request trace logs only the path, never this query string.
//!
//! Browser binding: a flow started with `bind_browser` sets a cookie holding
//! 256 random bits (only its hash is stored). With an https public URL it is
//! `__Host-pinion_flow` (`Secure`, `Path=/`, no `Domain`); on a plain-http
//! loopback URL the `__Host-` prefix is not allowed (it requires `Secure`), so
//! it is `pinion_flow`. Both are `HttpOnly`, `SameSite=Lax` (the callback is
//! a cross-site top-level GET, which `Strict` would not carry), `Max-Age=600`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use pinion_domain::{AuthorizationCode, OAuthState};
use pinion_service::{BrowserBinding, CallbackError, CallbackParams};
use url::Url;

use crate::AppState;

/// The binding cookie's name on an https public URL.
pub const SECURE_COOKIE: &str = "__Host-pinion_flow";
/// The binding cookie's name on a plain-http (loopback) public URL.
pub const PLAIN_COOKIE: &str = "pinion_flow";

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(pinion_service::CALLBACK_PATH, get(callback))
        .route("/oauth/pinterest/authorized", get(authorized_page))
}

/// The cookie holding where the overlay's Save returns after the round
/// trip (one of the screens `safe_return_to` allows; not a secret), on an
/// https and a plain-http public URL.
const RETURN_COOKIES: (&str, &str) = ("__Host-pinion_return", "pinion_return");

fn return_cookie_name(public_url: &Url) -> &'static str {
    if public_url.scheme() == "https" {
        RETURN_COOKIES.0
    } else {
        RETURN_COOKIES.1
    }
}

/// The `Set-Cookie` value remembering `return_to` for the round trip
/// (`max_age` 600 s, or 0 to clear it).
pub fn return_cookie(public_url: &Url, return_to: &str, max_age: u32) -> String {
    let secure = if public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}={}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        return_cookie_name(public_url),
        crate::web::credentials::safe_return_to(Some(return_to))
    )
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn cookie_name(public_url: &Url) -> &'static str {
    if public_url.scheme() == "https" {
        SECURE_COOKIE
    } else {
        PLAIN_COOKIE
    }
}

/// The `Set-Cookie` value binding a flow to this browser.
pub fn binding_cookie(public_url: &Url, binding: &BrowserBinding) -> String {
    let secure = if public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}={}; Path=/; Max-Age=600; HttpOnly; SameSite=Lax{secure}",
        cookie_name(public_url),
        binding.expose_secret()
    )
}

fn clearing_cookie(public_url: &Url) -> String {
    let secure = if public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}",
        cookie_name(public_url)
    )
}

fn read_binding(headers: &HeaderMap, public_url: &Url) -> Option<BrowserBinding> {
    cookie_value(headers, cookie_name(public_url)).map(BrowserBinding::from_cookie)
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            other => out.push(other),
        }
    }
    out
}

/// A page in Pinion's style saying what happened, with a link to go on.
fn page(status: StatusCode, title: &str, message: &str, next: (&str, &str)) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Pinion</title><link rel=\"stylesheet\" href=\"/static/pinion.css\"></head>\
         <body><main class=\"narrow\"><h1>{}</h1><p>{}</p><p><a href=\"{}\">{}</a></p></main></body></html>",
        escape_html(title),
        escape_html(title),
        escape_html(message),
        escape_html(next.0),
        escape_html(next.1),
    );
    (status, Html(body)).into_response()
}

/// Parses the raw query, noting repeated parameters.
fn parse_query(query: Option<&str>) -> CallbackParams {
    let mut params = CallbackParams::default();
    let mut seen = std::collections::HashSet::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if !seen.insert(key.clone().into_owned()) {
            params.duplicated = true;
            continue;
        }
        match key.as_ref() {
            "state" => params.state = Some(OAuthState::new(value.into_owned())),
            "code" => params.code = Some(AuthorizationCode::new(value.into_owned())),
            "error" => params.error = Some(value.into_owned()),
            "error_description" => params.error_description = Some(value.into_owned()),
            _ => {}
        }
    }
    params
}

/// `GET /oauth/pinterest/callback`
async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let params = parse_query(uri.query());
    let binding = read_binding(&headers, &state.public_url);
    let result = state
        .authorizations
        .complete(params, binding.as_ref())
        .await;
    let mut response = match result {
        Ok(done) => {
            let mut location = landing_url(&done);
            // Back to where the user started (the overlay's Save goes there).
            if done.browser_bound
                && let Some(return_to) =
                    cookie_value(&headers, return_cookie_name(&state.public_url))
            {
                location.push_str("&return_to=");
                location.push_str(crate::web::credentials::safe_return_to(Some(return_to)));
            }
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        Err(err) => {
            let status = match &err {
                CallbackError::Malformed(_) | CallbackError::UnknownState => {
                    StatusCode::BAD_REQUEST
                }
                CallbackError::OtherBrowser | CallbackError::Denied { .. } => StatusCode::FORBIDDEN,
                CallbackError::ExchangeFailed { .. } => StatusCode::BAD_GATEWAY,
                CallbackError::Service(inner) if is_unavailable(inner) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                CallbackError::Service(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let message = match &err {
                CallbackError::Service(inner) if is_unavailable(inner) => {
                    tracing::warn!(error = %inner, "The callback found the database unavailable.");
                    "Pinion cannot reach its database right now. Try again in a few seconds.".into()
                }
                CallbackError::Service(inner) => {
                    tracing::error!(error = %inner, "The callback failed.");
                    "Something went wrong on our side; the details are in the server log.".into()
                }
                other => other.to_string(),
            };
            // Back to the credential's settings, where it can be fixed and
            // authorized again, when the flow named one.
            let settings = match &err {
                CallbackError::Denied { credential_id, .. }
                | CallbackError::ExchangeFailed { credential_id, .. } => {
                    Some(format!("/credentials/{credential_id}/edit"))
                }
                _ => None,
            };
            let next = match &settings {
                Some(path) => (path.as_str(), "Back to the credential's settings"),
                None => ("/credentials", "Back to your credentials"),
            };
            page(status, "Authorization did not complete", &message, next)
        }
    };
    if binding.is_some()
        && let Ok(value) = HeaderValue::from_str(&clearing_cookie(&state.public_url))
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    if cookie_value(&headers, return_cookie_name(&state.public_url)).is_some()
        && let Ok(value) = HeaderValue::from_str(&return_cookie(&state.public_url, "", 0))
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// True when a service error means "the database is away, try again" (a 503
/// with `Retry-After`, never a 500).
fn is_unavailable(err: &pinion_service::ServiceError) -> bool {
    match err {
        pinion_service::ServiceError::Unavailable(_)
        | pinion_service::ServiceError::Upstream { .. } => true,
        pinion_service::ServiceError::Store(store) => store.is_transient(),
        _ => false,
    }
}

/// Where a completed authorization sends the browser: a clean URL, with no
/// code or state.
fn landing_url(done: &pinion_service::CompletedAuthorization) -> String {
    if done.browser_bound {
        format!("/credentials/{}/edit?authorized=1", done.credential.id)
    } else {
        "/oauth/pinterest/authorized".to_owned()
    }
}

/// `GET /oauth/pinterest/authorized`: fixed text, the same for everyone; it
/// takes no id and shows nothing about any credential (the API or CLI that
/// started the flow reads the credential's status itself).
async fn authorized_page() -> Response {
    page(
        StatusCode::OK,
        "Authorized",
        "The authorization is complete. You can close this page.",
        ("/credentials", "Go to your credentials"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_cookie_is_host_prefixed_and_secure_on_https_only() {
        let binding = BrowserBinding::from_cookie("v");
        let https = binding_cookie(&Url::parse("https://pinion.example").unwrap(), &binding);
        assert!(
            https.starts_with("__Host-pinion_flow=v; Path=/;"),
            "{https}"
        );
        assert!(https.contains("HttpOnly") && https.contains("SameSite=Lax"));
        assert!(https.ends_with("; Secure"));
        let http = binding_cookie(&Url::parse("http://127.0.0.1:8080").unwrap(), &binding);
        assert!(http.starts_with("pinion_flow=v;"), "{http}");
        assert!(!http.contains("Secure"));
    }

    #[test]
    fn escaping_neutralises_markup() {
        assert_eq!(
            escape_html("<script>\"x\"&'y'</script>"),
            "&lt;script&gt;&quot;x&quot;&amp;&#x27;y&#x27;&lt;/script&gt;"
        );
    }

    #[test]
    fn repeated_parameters_are_noticed() {
        assert!(parse_query(Some("state=a&state=b&code=c")).duplicated);
        assert!(!parse_query(Some("state=a&code=c")).duplicated);
    }
}
