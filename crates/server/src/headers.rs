//! Security headers on every response (SECURITY.md R9, R29).
//!
//! No page loads anything from another origin and no page may be framed; the
//! referrer is never sent, so a URL with a code or state cannot leak through it;
//! responses are not cached, since pages and API answers carry credential data.
//! Behind https, `Strict-Transport-Security` keeps browsers on https.

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The policy of a page that shows pins' images: [`CSP`] with `img-src`
/// also allowing `origins` (Pinterest's image host, and the configured
/// Pinterest's own origin, which is the simulator's in tests and demos).
/// Origins are `scheme://host[:port]` from parsed URLs; anything else is
/// left out.
pub fn csp_with_images(origins: &[String]) -> String {
    let allowed: Vec<&str> = origins
        .iter()
        .map(String::as_str)
        .filter(|origin| {
            url::Url::parse(origin).is_ok_and(|url| {
                matches!(url.scheme(), "http" | "https")
                    && url.origin().ascii_serialization() == *origin
            })
        })
        .collect();
    CSP.replacen(
        "img-src 'self' data:;",
        &format!("img-src 'self' data: {};", allowed.join(" ")),
        1,
    )
}

const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Adds the security headers a handler did not set itself; `https` (the
/// public URL's scheme) adds `Strict-Transport-Security`. A plain function of
/// the response, applied with `ServiceBuilder::map_response`, so it costs no
/// allocation per request.
pub fn security_headers(https: bool) -> impl Fn(Response) -> Response + Clone + Send + Sync {
    move |mut response| {
        let headers = response.headers_mut();
        let defaults: [(HeaderName, &'static str); 5] = [
            (CONTENT_SECURITY_POLICY, CSP),
            (X_FRAME_OPTIONS, "DENY"),
            (REFERRER_POLICY, "no-referrer"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (CACHE_CONTROL, "no-store"),
        ];
        let hsts = https.then_some((STRICT_TRANSPORT_SECURITY, HSTS));
        for (name, value) in defaults.into_iter().chain(hsts) {
            headers
                .entry(name)
                .or_insert_with(|| HeaderValue::from_static(value));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    #[test]
    fn an_image_policy_adds_only_well_formed_origins() {
        let policy = csp_with_images(&[
            "https://i.pinimg.com".to_owned(),
            "http://127.0.0.1:9090".to_owned(),
            "https://evil.example; script-src *".to_owned(),
        ]);
        assert!(
            policy.contains("img-src 'self' data: https://i.pinimg.com http://127.0.0.1:9090;"),
            "{policy}"
        );
        assert!(!policy.contains("evil"), "{policy}");
        assert!(policy.contains("script-src 'self';"));
    }

    async fn headers_for(https: bool) -> axum::http::HeaderMap {
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(tower::ServiceBuilder::new().map_response(security_headers(https)));
        let request = axum::http::Request::get("/").body(Body::empty()).unwrap();
        app.oneshot(request).await.unwrap().headers().clone()
    }

    #[tokio::test]
    async fn hsts_is_sent_only_behind_https() {
        let secure = headers_for(true).await;
        assert_eq!(secure[STRICT_TRANSPORT_SECURITY], HSTS);
        let plain = headers_for(false).await;
        assert!(!plain.contains_key(STRICT_TRANSPORT_SECURITY));
        for headers in [secure, plain] {
            assert_eq!(headers[X_FRAME_OPTIONS], "DENY");
            assert_eq!(headers[REFERRER_POLICY], "no-referrer");
        }
    }

    #[tokio::test]
    async fn a_handlers_own_value_is_kept() {
        let app = Router::new()
            .route(
                "/",
                get(|| async { ([(CACHE_CONTROL, "public, max-age=3600")], "asset") }),
            )
            .layer(tower::ServiceBuilder::new().map_response(security_headers(false)));
        let request = axum::http::Request::get("/").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.headers()[CACHE_CONTROL], "public, max-age=3600");
        assert_eq!(response.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
}
