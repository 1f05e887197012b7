//! Failure classification and hardening: every kind of refusal, outage and
//! garbage answer ends in the right typed error, after exactly one request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::response::IntoResponse;
use pinion_domain::{AuthorizationCode, PkceVerifier, RefreshToken};
use pinion_oauth::{
    InvalidTokenResponse, PinterestOAuth, ResponseProblem, TokenError, TransientCause,
};

use crate::fake_endpoint::*;

async fn refresh_with(oauth: &PinterestOAuth) -> TokenError {
    oauth
        .refresh(
            &client_id(),
            &awkward_secret(),
            &RefreshToken::new("pinr_x"),
            None,
        )
        .await
        .unwrap_err()
}

async fn exchange_with(oauth: &PinterestOAuth) -> TokenError {
    oauth
        .exchange_code(
            &client_id(),
            &awkward_secret(),
            &AuthorizationCode::new("code-x"),
            &redirect_uri(),
            &PkceVerifier::new("verifier-x"),
        )
        .await
        .unwrap_err()
}

#[tokio::test]
async fn code_283_is_invalid_grant() {
    let endpoint = FakeEndpoint::spawn(|_| async {
        json(
            401,
            r#"{"code":283,"message":"The authorization grant is invalid"}"#,
        )
    })
    .await;
    let err = refresh_with(&endpoint.client()).await;
    let TokenError::InvalidGrant { message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        message.as_ref().unwrap().as_str(),
        "The authorization grant is invalid"
    );
    assert!(err.needs_reauthorization() && !err.is_retryable());
}

#[tokio::test]
async fn code_2_at_the_token_endpoint_is_invalid_client() {
    let endpoint = FakeEndpoint::spawn(|_| async {
        json(
            401,
            r#"{"code":2,"message":"Authentication failed.","status":"failure"}"#,
        )
    })
    .await;
    let err = refresh_with(&endpoint.client()).await;
    assert!(
        matches!(err, TokenError::InvalidClient { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.is_app_credential_problem() && !err.needs_reauthorization());
    assert!(err.to_string().contains("Authentication failed."), "{err}");
}

#[tokio::test]
async fn rfc_6749_error_bodies_are_classified_too() {
    let endpoint = FakeEndpoint::spawn(|_| async {
        json(
            400,
            r#"{"error":"invalid_grant","error_description":"expired"}"#,
        )
    })
    .await;
    assert!(
        refresh_with(&endpoint.client())
            .await
            .needs_reauthorization()
    );
    let endpoint =
        FakeEndpoint::spawn(|_| async { json(401, r#"{"error":"invalid_client"}"#) }).await;
    assert!(
        refresh_with(&endpoint.client())
            .await
            .is_app_credential_problem()
    );
}

#[tokio::test]
async fn code_1_is_bad_request_with_pinterests_message() {
    let endpoint = FakeEndpoint::spawn(|_| async {
        json(400, r#"{"code":1,"message":"Invalid parameters."}"#)
    })
    .await;
    let err = exchange_with(&endpoint.client()).await;
    assert!(
        matches!(err, TokenError::BadRequest { code: Some(1), .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Pinterest refused the token request as invalid (HTTP 400, code 1): Invalid parameters."
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn other_refusals_are_rejected_with_status_and_code() {
    let endpoint = FakeEndpoint::spawn(|_| async {
        json(
            403,
            r#"{"code":29,"message":"You are not permitted to access that resource."}"#,
        )
    })
    .await;
    let err = refresh_with(&endpoint.client()).await;
    assert!(
        matches!(
            err,
            TokenError::Rejected {
                status: 403,
                code: Some(29),
                ..
            }
        ),
        "{err:?}"
    );
    let endpoint = FakeEndpoint::spawn(|_| async { typed(401, "text/plain", "nope") }).await;
    let err = refresh_with(&endpoint.client()).await;
    assert!(
        matches!(
            err,
            TokenError::Rejected {
                status: 401,
                code: None,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limit_uses_retry_after_or_the_reset_header_and_caps_the_wait() {
    type Headers = Vec<(&'static str, &'static str)>;
    let cases: [(Headers, Option<Duration>); 4] = [
        (vec![("retry-after", "7")], Some(Duration::from_secs(7))),
        (
            vec![("x-ratelimit-reset", "42"), ("x-ratelimit-remaining", "0")],
            Some(Duration::from_secs(42)),
        ),
        (
            vec![("retry-after", "1000000000")],
            Some(Duration::from_secs(60)),
        ),
        (vec![], None),
    ];
    for (headers, expected) in cases {
        let endpoint = FakeEndpoint::spawn(move |_| {
            let headers = headers.clone();
            async move {
                json_with_headers(
                    429,
                    r#"{"code":8,"message":"This request exceeded a rate limit."}"#,
                    &headers,
                )
            }
        })
        .await;
        let err = refresh_with(&endpoint.client()).await;
        assert!(
            matches!(err, TokenError::RateLimited { code: Some(8), .. }),
            "{err:?}"
        );
        assert_eq!(err.retry_after(), expected);
        assert!(err.is_retryable());
        assert_eq!(endpoint.requests().len(), 1);
    }
}

#[tokio::test]
async fn server_errors_are_transient_and_not_retried_by_the_client() {
    for status in [500u16, 502, 503] {
        let endpoint =
            FakeEndpoint::spawn(
                move |_| async move { typed(status, "text/html", "<h1>down</h1>") },
            )
            .await;
        let err = exchange_with(&endpoint.client()).await;
        assert!(
            matches!(
                err,
                TokenError::Transient { cause: TransientCause::ServerError(s), .. } if s == status
            ),
            "{err:?}"
        );
        assert!(err.is_retryable() && !err.outcome_unknown());
        assert_eq!(endpoint.requests().len(), 1);
    }
}

#[tokio::test]
async fn a_hanging_endpoint_times_out_after_one_request_and_the_code_is_not_resent() {
    let endpoint = FakeEndpoint::spawn(|_| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        json(200, CODE_ANSWER)
    })
    .await;
    let oauth = endpoint.client_with(|config| config.request_timeout = Duration::from_millis(300));
    let started = Instant::now();
    let err = exchange_with(&oauth).await;
    let elapsed = started.elapsed();
    assert!(matches!(err, TokenError::Timeout { .. }), "{err:?}");
    assert!(err.outcome_unknown());
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    // Give a hypothetical retry time to arrive; none may.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(endpoint.requests().len(), 1);
}

#[tokio::test]
async fn a_body_that_stalls_after_the_headers_is_a_timeout_with_unknown_outcome() {
    let endpoint = FakeEndpoint::spawn(|_| async {
        let stream = futures::stream::once(async {
            Ok::<_, std::io::Error>(Bytes::from_static(b"{\"access_token\":"))
        })
        .chain_pending();
        typed(200, "application/json", Body::from_stream(stream))
    })
    .await;
    let oauth = endpoint.client_with(|config| config.request_timeout = Duration::from_millis(300));
    let err = refresh_with(&oauth).await;
    assert!(matches!(err, TokenError::Timeout { .. }), "{err:?}");
    assert!(err.outcome_unknown());
}

/// `Stream::chain(pending())` spelled as a small extension, for readability.
trait ChainPending: futures::Stream + Sized {
    fn chain_pending(self) -> futures::stream::Chain<Self, futures::stream::Pending<Self::Item>> {
        futures::StreamExt::chain(self, futures::stream::pending())
    }
}
impl<S: futures::Stream> ChainPending for S {}

#[tokio::test]
async fn a_redirect_to_another_address_is_not_followed() {
    let elsewhere = FakeEndpoint::spawn(|_| async { json(200, CODE_ANSWER) }).await;
    let target = format!("http://{}/latest/meta-data/", elsewhere.addr);
    let endpoint = FakeEndpoint::spawn(move |_| {
        let target = target.clone();
        async move {
            (
                axum::http::StatusCode::FOUND,
                [(axum::http::header::LOCATION, target)],
            )
                .into_response()
        }
    })
    .await;
    let err = exchange_with(&endpoint.client()).await;
    assert!(
        matches!(
            err,
            TokenError::BadResponse {
                status: 302,
                problem: ResponseProblem::Redirect
            }
        ),
        "{err:?}"
    );
    assert_eq!(endpoint.requests().len(), 1);
    assert!(elsewhere.requests().is_empty());
}

#[tokio::test]
async fn a_50_mb_streamed_body_is_cut_off_at_the_cap_with_bounded_reading() {
    const TOTAL: usize = 50 * 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    let produced = Arc::new(AtomicUsize::new(0));
    let counter = produced.clone();
    let endpoint = FakeEndpoint::spawn(move |_| {
        let counter = counter.clone();
        async move {
            let stream = futures::stream::iter(0..TOTAL / CHUNK).map(move |i| {
                counter.fetch_add(CHUNK, Ordering::SeqCst);
                let byte = if i == 0 { b'{' } else { b' ' };
                Ok::<_, std::io::Error>(Bytes::from(vec![byte; CHUNK]))
            });
            typed(200, "application/json", Body::from_stream(stream))
        }
    })
    .await;
    let started = Instant::now();
    let err = refresh_with(&endpoint.client()).await;
    assert!(
        matches!(
            err,
            TokenError::BadResponse {
                status: 200,
                problem: ResponseProblem::TooLarge { limit: 65536 }
            }
        ),
        "{err:?}"
    );
    assert!(err.outcome_unknown());
    assert!(started.elapsed() < Duration::from_secs(3));
    // The client stopped reading long before the end; only what socket
    // buffers absorbed was produced.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = produced.load(Ordering::SeqCst);
    assert!(sent < TOTAL / 4, "{sent} bytes produced");
}

use futures::StreamExt;

#[tokio::test]
async fn a_declared_content_length_above_the_cap_is_refused_before_reading() {
    let endpoint =
        FakeEndpoint::spawn(|_| async { typed(200, "application/json", vec![b' '; 200 * 1024]) })
            .await;
    let err = refresh_with(&endpoint.client()).await;
    assert!(
        matches!(
            err,
            TokenError::BadResponse {
                problem: ResponseProblem::TooLarge { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn garbage_success_bodies_are_bad_responses() {
    let cases: Vec<(&'static str, &'static str)> = vec![
        ("application/json", "{\"access_token\": \"pina_trunc"),
        ("application/json", "not json at all"),
        (
            "application/json",
            r#"{"access_token":"a","token_type":"mac","expires_in":1}"#,
        ),
        (
            "application/json",
            r#"{"token_type":"bearer","expires_in":1}"#,
        ),
        (
            "application/json",
            r#"{"access_token":"a","expires_in":-1}"#,
        ),
        ("application/json", ""),
        ("text/html", "<html><body>Service Unavailable</body></html>"),
        ("text/plain", r#"{"access_token":"a","expires_in":1}"#),
    ];
    for (content_type, body) in cases {
        let endpoint =
            FakeEndpoint::spawn(move |_| async move { typed(200, content_type, body) }).await;
        let err = refresh_with(&endpoint.client()).await;
        assert!(
            matches!(err, TokenError::BadResponse { status: 200, .. }),
            "{content_type} {body}: {err:?}"
        );
        assert!(err.is_retryable() && err.outcome_unknown());
    }
    let endpoint = FakeEndpoint::spawn(|_| async { typed(200, "application/json", "{") }).await;
    let err = refresh_with(&endpoint.client()).await;
    assert!(
        matches!(
            err,
            TokenError::BadResponse {
                problem: ResponseProblem::InvalidTokenResponse(InvalidTokenResponse::NotJson(_)),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unexpected_success_status_is_a_bad_response() {
    let endpoint = FakeEndpoint::spawn(|_| async { json(201, CODE_ANSWER) }).await;
    let err = refresh_with(&endpoint.client()).await;
    assert!(
        matches!(
            err,
            TokenError::BadResponse {
                status: 201,
                problem: ResponseProblem::UnexpectedStatus
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_transient_and_known_not_to_have_been_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config = pinion_oauth::OAuthConfig::from_urls(
        &format!("http://{addr}/oauth/"),
        &format!("http://{addr}/v5"),
    )
    .unwrap();
    let oauth = PinterestOAuth::new(config, Arc::new(FixedClock(now()))).unwrap();
    let err = exchange_with(&oauth).await;
    assert!(
        matches!(
            err,
            TokenError::Transient {
                cause: TransientCause::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable() && !err.outcome_unknown());
}
