//! The canary test (SECURITY R11): marker values for the client secret, the
//! code, the verifier and the tokens are pushed through every error path,
//! including a hostile endpoint that echoes the whole request back, and must
//! not appear in any error's `Display`, `Debug`, source chain, or in the
//! TRACE-level log.
//!
//! It is its own test binary so that its log subscriber is the only one in
//! the process and sees every event: `tracing` caches per call site whether
//! anyone listens, and a test running beside it on another thread could
//! settle that cache to "no one" first.

#[path = "../http/fake_endpoint.rs"]
#[allow(dead_code)]
mod fake_endpoint;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pinion_domain::{AuthorizationCode, ClientSecret, PkceVerifier, RefreshToken};
use pinion_oauth::{PinterestOAuth, TokenError};

use crate::fake_endpoint::*;

const SECRET: &str = "CANARY:SECRET%7f3a";
const CODE: &str = "CANARY-CODE-91b2";
const VERIFIER: &str = "CANARY-VERIFIER-55c1";
const REFRESH: &str = "CANARY-REFRESH-0d4e";
const ACCESS: &str = "CANARY-ACCESS-a8f0";
const NEW_REFRESH: &str = "CANARY-NEWREFRESH-3c77";

const MARKERS: [&str; 6] = [SECRET, CODE, VERIFIER, REFRESH, ACCESS, NEW_REFRESH];

/// Everything a hostile endpoint could echo: the raw body, its decoded
/// values, the Authorization header and its decoded content.
fn echo(request: &Recorded) -> String {
    use base64::Engine;
    let body = String::from_utf8_lossy(&request.body).into_owned();
    let values: Vec<String> = request.form().into_iter().map(|(_, v)| v).collect();
    let authorization = request.header("authorization").unwrap_or_default();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(authorization.trim_start_matches("Basic "))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let decoded_secret: String = url::form_urlencoded::parse(decoded.replace(':', "=").as_bytes())
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    format!(
        "{body} | {} | {authorization} | {decoded} | {decoded_secret} | {SECRET}",
        values.join(" ")
    )
}

fn echo_json(status: u16, code: i64, request: &Recorded) -> axum::response::Response {
    let body = serde_json::json!({"code": code, "message": echo(request)});
    json(status, &body.to_string())
}

/// The answers of a hostile or broken endpoint, one per scenario.
/// A named way for the endpoint to answer.
type Scenario = (
    &'static str,
    Arc<dyn Fn(&Recorded) -> axum::response::Response + Send + Sync>,
);

fn scenarios() -> Vec<Scenario> {
    vec![
        ("400 echo", Arc::new(|r: &Recorded| echo_json(400, 1, r))),
        (
            "401 grant echo",
            Arc::new(|r: &Recorded| echo_json(401, 283, r)),
        ),
        (
            "401 client echo",
            Arc::new(|r: &Recorded| echo_json(401, 2, r)),
        ),
        ("403 echo", Arc::new(|r: &Recorded| echo_json(403, 29, r))),
        ("429 echo", Arc::new(|r: &Recorded| echo_json(429, 8, r))),
        ("500 echo", Arc::new(|r: &Recorded| echo_json(500, 0, r))),
        (
            "rfc echo",
            Arc::new(|r: &Recorded| {
                let body =
                    serde_json::json!({"error": "invalid_request", "error_description": echo(r)});
                json(400, &body.to_string())
            }),
        ),
        (
            "200 html echo",
            Arc::new(|r: &Recorded| typed(200, "text/html", format!("<p>{}</p>", echo(r)))),
        ),
        (
            "200 mac",
            Arc::new(|_: &Recorded| {
                json(
                    200,
                    &format!(
                        r#"{{"access_token":"{ACCESS}","refresh_token":"{NEW_REFRESH}","token_type":"mac","expires_in":1}}"#
                    ),
                )
            }),
        ),
        (
            "200 bad expires_in",
            Arc::new(|_: &Recorded| {
                json(
                    200,
                    &format!(r#"{{"access_token":"{ACCESS}","expires_in":"{NEW_REFRESH}"}}"#),
                )
            }),
        ),
        (
            "200 truncated",
            Arc::new(|_: &Recorded| {
                json(
                    200,
                    &format!(r#"{{"access_token":"{ACCESS}","refresh_token":"{NEW_REFRESH}"#),
                )
            }),
        ),
        (
            "200 wrong type",
            Arc::new(|_: &Recorded| {
                json(
                    200,
                    &format!(
                        r#"{{"access_token":"{ACCESS}","refresh_token":["{NEW_REFRESH}"],"expires_in":1}}"#
                    ),
                )
            }),
        ),
        (
            "200 bad characters",
            Arc::new(|_: &Recorded| {
                json(
                    200,
                    &format!(r#"{{"access_token":"{ACCESS} {NEW_REFRESH}","expires_in":1}}"#),
                )
            }),
        ),
        (
            "302 echo",
            Arc::new(|r: &Recorded| {
                let mut response = typed(302, "text/plain", echo(r));
                response
                    .headers_mut()
                    .insert("location", "http://127.0.0.1:9/".parse().unwrap());
                response
            }),
        ),
    ]
}

/// Every text an error can show: `Display`, `Debug` and the source chain.
fn error_texts(err: &TokenError) -> String {
    let mut text = format!("{err}\n{err:?}\n{err:#?}\n");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!("{cause}\n{cause:?}\n"));
        source = cause.source();
    }
    text
}

fn assert_no_marker(context: &str, text: &str) {
    for marker in MARKERS {
        assert!(
            !text.contains(marker),
            "{context}: marker {marker} leaked in:\n{text}"
        );
    }
    // The encoded forms of the secret must not leak either.
    for encoded in ["CANARY%3ASECRET%257f3a", "CANARY%3ASECRET"] {
        assert!(
            !text.contains(encoded),
            "{context}: encoded secret leaked in:\n{text}"
        );
    }
}

#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn both_grants(
    oauth: &PinterestOAuth,
) -> Vec<Result<pinion_oauth::TokenResponse, TokenError>> {
    let secret = ClientSecret::new(SECRET);
    vec![
        oauth
            .exchange_code(
                &client_id(),
                &secret,
                &AuthorizationCode::new(CODE),
                &redirect_uri(),
                &PkceVerifier::new(VERIFIER),
            )
            .await,
        oauth
            .refresh(&client_id(), &secret, &RefreshToken::new(REFRESH), None)
            .await,
    ]
}

#[tokio::test]
async fn no_secret_reaches_an_error_or_a_trace_log_on_any_failure_path() {
    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let mut checked = 0;
    for (name, answer) in scenarios() {
        let endpoint = FakeEndpoint::spawn(move |request| {
            let response = answer(&request);
            async move { response }
        })
        .await;
        for result in both_grants(&endpoint.client()).await {
            let err = result.expect_err(name);
            assert_no_marker(name, &error_texts(&err));
            checked += 1;
        }
        // The hostile endpoint did receive the secrets: the test is real.
        let seen = echo(&endpoint.requests()[0]);
        assert!(seen.contains(CODE) && seen.contains(SECRET));
    }

    // A timeout, and a success whose Debug is printed.
    let endpoint = FakeEndpoint::spawn(|_| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        json(200, "{}")
    })
    .await;
    let oauth = endpoint.client_with(|c| c.request_timeout = Duration::from_millis(200));
    for result in both_grants(&oauth).await {
        assert_no_marker("timeout", &error_texts(&result.unwrap_err()));
        checked += 1;
    }
    let endpoint = FakeEndpoint::spawn(|_| async {
        json(
            200,
            &format!(
                r#"{{"access_token":"{ACCESS}","refresh_token":"{NEW_REFRESH}","token_type":"bearer","expires_in":"x1","scope":"pins:read"}}"#
            )
            .replace("\"x1\"", "60"),
        )
    })
    .await;
    for result in both_grants(&endpoint.client()).await {
        let tokens = result.unwrap();
        assert_eq!(tokens.access_token.expose_secret(), ACCESS);
        assert_no_marker("success debug", &format!("{tokens:?} {tokens:#?}"));
        checked += 1;
    }
    assert_eq!(checked, scenarios().len() * 2 + 4);

    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("Token endpoint answered."),
        "the log was captured: {log}"
    );
    assert_no_marker("trace log", &log);
}
