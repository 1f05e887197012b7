//! Unauthorized answers: one refresh through the token source, then a clear
//! error; missing scopes; and no token in any error, Debug output or log.

use std::io::Write;
use std::sync::{Arc, Mutex};

use pinion_pinterest::{
    ApiError, BoardId, BoardsQuery, ErrorAction, MediaSource, PageRequest, PinCreate,
    PinterestClient,
};

use crate::fake_pinterest::{FakePinterest, Reply};
use crate::{FRESH_TOKEN, TOKEN, TestTokens, boards, drain, test_config};

async fn setup_with(tokens: Arc<TestTokens>) -> (FakePinterest, PinterestClient) {
    let fake = FakePinterest::start(TOKEN).await;
    let client = PinterestClient::new(test_config(&fake), tokens).unwrap();
    (fake, client)
}

#[tokio::test]
async fn a_401_code_2_refreshes_once_and_repeats_the_page() {
    let tokens = TestTokens::new(TOKEN).refresh_to(FRESH_TOKEN);
    let (fake, client) = setup_with(Arc::clone(&tokens)).await;
    fake.set_list("/v5/boards", boards(300));
    // The old token expires after the first page.
    fake.accept_token(FRESH_TOKEN);
    fake.script([
        Reply::Normal,
        Reply::error(401, 2, "Authentication failed."),
    ]);
    let (pages, err) = drain(client.boards(BoardsQuery::default(), PageRequest::first())).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(pages.iter().map(|p| p.items.len()).sum::<usize>(), 300);
    assert_eq!(tokens.refreshes(), 1);
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[1].param("bookmark"), requests[2].param("bookmark"));
    assert_eq!(
        requests[2].authorization(),
        Some(format!("Bearer {FRESH_TOKEN}").as_str())
    );
    assert_eq!(client.stats().refreshes, 1);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_when_pinterest_rejects_it() {
    let tokens = TestTokens::new("CANARY-expired").refresh_to(TOKEN);
    let (fake, client) = setup_with(Arc::clone(&tokens)).await;
    fake.set_object(
        "/v5/user_account",
        serde_json::json!({"username": "u", "id": "1"}),
    );
    let account = client.user_account().await.unwrap();
    assert_eq!(account.username(), Some("u"));
    assert_eq!(tokens.refreshes(), 1);
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn a_second_401_after_the_refresh_needs_reauthorization() {
    let tokens = TestTokens::new(TOKEN).refresh_to(FRESH_TOKEN);
    let (fake, client) = setup_with(Arc::clone(&tokens)).await;
    fake.script([
        Reply::error(401, 2, "Authentication failed."),
        Reply::error(401, 2, "Authentication failed."),
    ]);
    let err = client.user_account().await.unwrap_err();
    assert!(
        matches!(err, ApiError::NeedsReauthorization { .. }),
        "{err}"
    );
    assert_eq!(err.action(), ErrorAction::Reauthorize);
    assert!(err.to_string().contains("GET /user_account"), "{err}");
    assert_eq!(tokens.refreshes(), 1);
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn a_token_source_that_cannot_refresh_gives_needs_reauthorization() {
    let tokens = TestTokens::new("CANARY-expired").refresh_fails("refresh token revoked");
    let (fake, client) = setup_with(Arc::clone(&tokens)).await;
    let err = client.user_account().await.unwrap_err();
    assert!(
        matches!(&err, ApiError::NeedsReauthorization { reason, .. } if reason.contains("revoked")),
        "{err}"
    );
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn a_401_code_3_is_a_missing_scope_and_is_not_retried() {
    let tokens = TestTokens::new(TOKEN).refresh_to(FRESH_TOKEN);
    let (fake, client) = setup_with(Arc::clone(&tokens)).await;
    fake.script([Reply::error(
        401,
        3,
        "Your token does not have sufficient permissions to perform this operation. Please ensure your token is authorized with the correct set of scopes.",
    )]);
    let (_, err) = drain(client.boards(BoardsQuery::default(), PageRequest::first())).await;
    let err = err.unwrap();
    assert!(matches!(err, ApiError::MissingScope { .. }), "{err}");
    assert!(err.to_string().contains("lacks a scope"), "{err}");
    assert_eq!(err.action(), ErrorAction::Reauthorize);
    assert_eq!(tokens.refreshes(), 0);
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn a_write_rejected_with_401_code_2_is_refreshed_and_sent_again() {
    let tokens = TestTokens::new(TOKEN).refresh_to(FRESH_TOKEN);
    let (fake, client) = setup_with(Arc::clone(&tokens)).await;
    fake.accept_token(FRESH_TOKEN);
    fake.script([Reply::error(401, 2, "Authentication failed.")]);
    let body = PinCreate::new(
        BoardId::new("1").unwrap(),
        MediaSource::image_url("https://example.com/a.png"),
    );
    let pin = client.create_pin(&body).await.unwrap();
    assert!(!pin.id().as_str().is_empty());
    assert_eq!(fake.request_count(), 2);
}

/// A writer that keeps everything written to it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_token_appears_in_errors_debug_output_or_trace_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let tokens = TestTokens::new(TOKEN).refresh_to(FRESH_TOKEN);
    let (fake, client) = setup_with(Arc::clone(&tokens)).await;
    fake.set_list("/v5/boards", boards(3));
    fake.script([
        Reply::error(500, 0, "down"),
        Reply::Truncated { prefix: "{" },
        Reply::rate_limited("0"),
        Reply::error(401, 2, "Authentication failed."),
        Reply::error(401, 2, "Authentication failed."),
    ]);
    let mut texts = Vec::new();
    let (_, err) = drain(client.boards(BoardsQuery::default(), PageRequest::first())).await;
    let err = err.expect("needs reauthorization");
    texts.push(format!("{err} {err:?}"));
    let body = PinCreate::new(
        BoardId::new("1").unwrap(),
        MediaSource::image_url("https://example.com/a.png"),
    );
    fake.script([Reply::error(503, 0, "down")]);
    let err = client.create_pin(&body).await.unwrap_err();
    texts.push(format!("{err} {err:?} {client:?}"));
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("Transient failure; retrying."),
        "no logs were captured: {logs}"
    );
    texts.push(logs);
    for text in texts {
        assert!(!text.contains("CANARY"), "a token leaked: {text}");
    }
}
