//! Bounds on one request's time, in the router (issue 12, SECURITY.md R30).
//! The connection-level bounds (header read, idle keep-alive, the connection
//! cap) are in `crate::connections`; the database's own bound, the pool's
//! acquire timeout, is `pinion_service::StoreSettings::acquire_timeout`.
//!
//! - [`BODY_READ_TIMEOUT`]: the longest wait for the next piece of a request
//!   body (tower-http's `RequestBodyTimeoutLayer`).
//! - [`REQUEST_TIMEOUT`]: the longest any request may take, body read
//!   included (tower's `TimeoutLayer`): a backstop, answered 503 with
//!   `Retry-After` and the usual error body (JSON under `/api/`, a page
//!   elsewhere). It is long because some requests legitimately wait on
//!   Pinterest (a check or refresh, a code exchange: up to 35 s for a token
//!   request plus 70 s for an API call); a database that stopped answering
//!   is found much sooner, by the pool's acquire timeout (1.5 s).
//! - Every 503 carries `Retry-After: 5` unless its handler set one.

use std::time::Duration;

use axum::BoxError;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::api::ApiError;
use crate::web::WebError;

/// The longest any request may take from its headers to its response.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The longest wait for the next chunk of a request body. Bodies are at most
/// 64 KiB, which any working link sends in well under this.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The `Retry-After` (seconds) of a 503 whose handler did not choose one: a
/// database restart or a failover usually takes a few seconds. The one
/// value for the API and the pages alike.
pub const RETRY_AFTER_SECONDS: u64 = 5;

/// Adds `Retry-After` to a response that has none.
pub fn add_retry_after(response: &mut Response) {
    response
        .headers_mut()
        .entry(RETRY_AFTER)
        .or_insert_with(|| HeaderValue::from(RETRY_AFTER_SECONDS));
}

/// Gives every 503 a `Retry-After` (for `ServiceBuilder::map_response`).
pub fn retry_after_on_503(mut response: Response) -> Response {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        add_retry_after(&mut response);
    }
    response
}

/// The answer to a request that failed in the middleware: past
/// [`REQUEST_TIMEOUT`] a 503 in the shape its caller expects (the JSON
/// error body under `/api/`, a page elsewhere).
pub async fn on_middleware_error(uri: Uri, err: BoxError) -> Response {
    let api = uri.path().starts_with("/api/");
    if err.is::<tower::timeout::error::Elapsed>() {
        tracing::warn!(
            path = %uri.path(),
            timeout_s = REQUEST_TIMEOUT.as_secs(),
            "A request took too long and was stopped."
        );
        if api {
            ApiError::timed_out().into_response()
        } else {
            WebError::TimedOut.into_response()
        }
    } else if api {
        ApiError::internal(&err).into_response()
    } else {
        tracing::error!(error = %err, "A page request failed in the middleware.");
        WebError::Internal.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::error_handling::HandleErrorLayer;
    use axum::http::Request;
    use tower::{ServiceBuilder, ServiceExt};

    /// The router's stack with a 20 ms request timeout, and a handler that
    /// takes longer, under `/api/` and elsewhere.
    fn slow_app() -> Router {
        // One fallback rather than routes, so the web access test (which
        // reads every route registered under `src/`) does not list these.
        let handler = |uri: Uri| async move {
            if uri.path() == "/down" {
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late".into_response()
        };
        Router::new().fallback(handler).layer(
            ServiceBuilder::new()
                .map_response(retry_after_on_503)
                .layer(HandleErrorLayer::new(on_middleware_error))
                .timeout(Duration::from_millis(20)),
        )
    }

    async fn get_path(path: &str) -> (StatusCode, Option<String>, String, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = slow_app().oneshot(request).await.unwrap();
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &HeaderValue| v.to_str().unwrap().to_owned())
        };
        let retry_after = header(RETRY_AFTER);
        let content_type = header(axum::http::header::CONTENT_TYPE).unwrap_or_default();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            retry_after,
            content_type,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn a_request_past_its_time_gets_a_503_with_retry_after_in_its_callers_shape() {
        let (status, retry_after, content_type, body) = get_path("/api/v1/slow").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry_after.as_deref(), Some("5"));
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], "timeout", "{body}");

        let (status, retry_after, content_type, body) = get_path("/slow").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry_after.as_deref(), Some("5"));
        assert!(content_type.starts_with("text/html"), "{content_type}");
        assert!(body.contains("Try again shortly"), "{body}");
    }

    #[tokio::test]
    async fn every_503_carries_retry_after() {
        let (status, retry_after, _, _) = get_path("/down").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry_after.as_deref(), Some("5"));
    }
}
