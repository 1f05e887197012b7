//! Sends the browser back to the overlay after an authorization.
//!
//! The OAuth callback (module `oauth`) answers a successful authorization
//! with a 303 to `/credentials/{id}?authorized=1`. In the UI that is the
//! moment to return to the credential's overlay, which shows the authorized
//! account and the granted scopes; this middleware turns exactly that URL
//! into a 303 to `/credentials/{id}/edit?authorized=1`. The edit page checks
//! the session and ownership itself.

use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The overlay URL for a post-authorization landing URL, if it is one.
fn overlay_for(path: &str, query: Option<&str>) -> Option<String> {
    let id = path.strip_prefix("/credentials/")?;
    let authorized = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .any(|(key, value)| key == "authorized" && value == "1");
    let plain_id = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (authorized && plain_id && id != "new").then(|| format!("/credentials/{id}/edit?authorized=1"))
}

/// Middleware: redirects the post-authorization landing URL to the overlay.
pub async fn callback_landing(request: Request, next: Next) -> Response {
    if request.method() == Method::GET
        && let Some(location) = overlay_for(request.uri().path(), request.uri().query())
    {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_authorized_landing_url_is_redirected() {
        assert_eq!(
            overlay_for("/credentials/cred_1", Some("authorized=1")).as_deref(),
            Some("/credentials/cred_1/edit?authorized=1")
        );
        assert_eq!(overlay_for("/credentials/cred_1", None), None);
        assert_eq!(
            overlay_for("/credentials/cred_1/info", Some("authorized=1")),
            None
        );
        assert_eq!(
            overlay_for("/credentials/a%2F..", Some("authorized=1")),
            None
        );
        assert_eq!(overlay_for("/other/cred_1", Some("authorized=1")), None);
    }
}
