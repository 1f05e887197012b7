//! Security headers on every response (SECURITY.md R9, R29).
//!
//! No page loads anything from another origin and no page may be framed; the
//! referrer is never sent, so a URL with a code or state cannot leak through it;
//! responses are not cached, since pages and API answers carry credential data.
//! Behind https, `Strict-Transport-Security` keeps browsers on https.

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::Response;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Whether the public URL is https, which decides `Strict-Transport-Security`.
#[derive(Debug, Clone, Copy)]
pub struct Https(pub bool);

/// Adds the security headers unless a handler set its own value.
pub async fn security_headers(
    State(Https(https)): State<Https>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if https {
        headers
            .entry(STRICT_TRANSPORT_SECURITY)
            .or_insert_with(|| HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    let defaults = [
        (CONTENT_SECURITY_POLICY, CSP),
        (X_FRAME_OPTIONS, "DENY"),
        (REFERRER_POLICY, "no-referrer"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in defaults {
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn headers_for(https: bool) -> axum::http::HeaderMap {
        let app = Router::new().route("/", get(|| async { "ok" })).layer(
            axum::middleware::from_fn_with_state(Https(https), security_headers),
        );
        let request = axum::http::Request::get("/").body(Body::empty()).unwrap();
        app.oneshot(request).await.unwrap().headers().clone()
    }

    #[tokio::test]
    async fn hsts_is_sent_only_behind_https() {
        let secure = headers_for(true).await;
        assert_eq!(
            secure[STRICT_TRANSPORT_SECURITY],
            "max-age=31536000; includeSubDomains"
        );
        let plain = headers_for(false).await;
        assert!(!plain.contains_key(STRICT_TRANSPORT_SECURITY));
        for headers in [secure, plain] {
            assert_eq!(headers[X_FRAME_OPTIONS], "DENY");
            assert_eq!(headers[REFERRER_POLICY], "no-referrer");
        }
    }
}
