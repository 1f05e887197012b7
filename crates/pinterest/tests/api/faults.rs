//! Faults on reads: 429, 5xx, malformed and cut bodies, dropped
//! connections, timeouts, and the errors that do not retry.

use std::time::{Duration, Instant};

use pinion_pinterest::{
    ApiError, BoardId, BoardsQuery, ErrorAction, PageRequest, PinterestClient, TransientCause,
};

use crate::fake_pinterest::{FakePinterest, Reply};
use crate::{TOKEN, TestTokens, boards, drain, setup, test_config};

fn all_ids<T: serde::Serialize>(pages: &[pinion_pinterest::Page<T>]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| {
            p.items.iter().map(|i| {
                serde_json::to_value(i).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
        })
        .collect()
}

fn expected_ids(n: usize) -> Vec<String> {
    boards(n)
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_429_waits_for_the_reset_and_repeats_the_same_page() {
    let (fake, client) = setup().await;
    fake.set_list("/v5/boards", boards(600));
    // The first page is served, the second answers 429 once.
    fake.script([Reply::Normal, Reply::rate_limited("1")]);
    let started = Instant::now();
    let (pages, err) = drain(client.boards(BoardsQuery::default(), PageRequest::first())).await;
    let elapsed = started.elapsed();
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        all_ids(&pages),
        expected_ids(600),
        "records lost or duplicated"
    );
    assert!(
        elapsed >= Duration::from_millis(950),
        "did not wait for x-ratelimit-reset: {elapsed:?}"
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[1].param("bookmark"), Some("bm~250"));
    assert_eq!(
        requests[2].param("bookmark"),
        Some("bm~250"),
        "the same page is asked for again"
    );
    let stats = client.stats();
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.requests, 4);
    assert!(stats.retry_wait >= Duration::from_millis(950));
}

#[tokio::test]
async fn a_429_storm_ends_in_rate_limited_with_the_wait_after_bounded_attempts() {
    let (fake, client) = setup().await;
    fake.script((0..10).map(|_| Reply::rate_limited("0.3")));
    let err = client.board(&BoardId::new("1").unwrap()).await.unwrap_err();
    match &err {
        ApiError::RateLimited {
            attempts,
            retry_after,
            body,
            ..
        } => {
            assert_eq!(*attempts, 4);
            assert_eq!(body.code, Some(8));
            assert!(*retry_after >= Duration::from_millis(300));
        }
        other => panic!("{other}"),
    }
    assert!(matches!(err.action(), ErrorAction::RetryLater(Some(_))));
    assert_eq!(fake.request_count(), 4, "max_rate_limited = 3 repeats");
}

#[tokio::test]
async fn an_absurd_reset_header_is_capped() {
    let fake = FakePinterest::start(TOKEN).await;
    let mut config = test_config(&fake);
    config.retry.max_rate_limit_wait = Duration::from_millis(200);
    let client = PinterestClient::new(config, TestTokens::new(TOKEN)).unwrap();
    fake.set_object("/v5/boards/1", serde_json::json!({"id": "1"}));
    fake.script([Reply::rate_limited("1000000000")]);
    let started = Instant::now();
    client.board(&BoardId::new("1").unwrap()).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_429_with_retry_after_and_no_ratelimit_headers_is_honoured() {
    let (fake, client) = setup().await;
    fake.set_object("/v5/boards/1", serde_json::json!({"id": "1"}));
    fake.script([Reply::error(429, 8, "slow down").with_header("retry-after", "1")]);
    let started = Instant::now();
    client.board(&BoardId::new("1").unwrap()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(950));
}

#[tokio::test]
async fn a_burst_of_500_502_503_is_retried_until_success() {
    let (fake, client) = setup().await;
    fake.set_list("/v5/boards", boards(300));
    fake.script([
        Reply::Normal,
        Reply::error(500, 0, "Internal"),
        Reply::Raw {
            status: 502,
            body: "<html>bad gateway</html>",
        },
        Reply::error(503, 0, "Unavailable"),
    ]);
    let (pages, err) = drain(client.boards(BoardsQuery::default(), PageRequest::first())).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(all_ids(&pages), expected_ids(300));
    assert_eq!(fake.request_count(), 5);
    assert_eq!(client.stats().retries, 3);
}

#[tokio::test]
async fn malformed_json_and_a_truncated_body_are_retried() {
    let (fake, client) = setup().await;
    fake.set_list("/v5/boards", boards(300));
    fake.script([
        Reply::Raw {
            status: 200,
            body: r#"{"items": [{"id": "1"}, "#,
        },
        Reply::Truncated {
            prefix: r#"{"items": [{"id": "100000", "na"#,
        },
        Reply::Normal,
        Reply::Raw {
            status: 200,
            body: "not json at all",
        },
    ]);
    let (pages, err) = drain(client.boards(BoardsQuery::default(), PageRequest::first())).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(all_ids(&pages), expected_ids(300));
    assert_eq!(fake.request_count(), 5);
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let (fake, client) = setup().await;
    fake.set_list("/v5/boards", boards(10));
    fake.script([Reply::Drop, Reply::Drop]);
    let (pages, err) = drain(client.boards(BoardsQuery::default(), PageRequest::first())).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(all_ids(&pages), expected_ids(10));
    assert_eq!(fake.request_count(), 3);
}

#[tokio::test]
async fn exhausted_retries_name_the_endpoint_and_the_cause() {
    let (fake, client) = setup().await;
    fake.script((0..4).map(|_| Reply::error(503, 0, "Service Unavailable")));
    let board = BoardId::new("123").unwrap();
    let query = pinion_pinterest::PinsQuery::default();
    let (pages, err) = drain(client.board_pins(&board, &query, PageRequest::first())).await;
    assert!(pages.is_empty());
    let err = err.expect("an error");
    let text = err.to_string();
    assert!(
        text.starts_with("GET /boards/{board_id}/pins: failed after 4 attempts"),
        "{text}"
    );
    assert!(
        text.contains("HTTP 503") && text.contains("Service Unavailable"),
        "{text}"
    );
    assert!(text.contains("x-pinterest-rid rid-4"), "{text}");
    assert!(
        !text.contains("127.0.0.1") && !text.contains("page_size"),
        "no URL in errors: {text}"
    );
    assert!(matches!(err, ApiError::Transient { attempts: 4, .. }));
    assert_eq!(err.action(), ErrorAction::RetryLater(None));
    assert_eq!(fake.request_count(), 4);
}

#[tokio::test]
async fn a_read_that_times_out_is_retried_then_fails_as_a_timeout() {
    let fake = FakePinterest::start(TOKEN).await;
    let mut config = test_config(&fake);
    config.request_timeout = Duration::from_millis(200);
    config.retry.max_attempts = 2;
    let client = PinterestClient::new(config, TestTokens::new(TOKEN)).unwrap();
    fake.set_object("/v5/boards/1", serde_json::json!({"id": "1"}));
    fake.script([Reply::Delay(Duration::from_secs(2)), Reply::Normal]);
    assert_eq!(
        client
            .board(&BoardId::new("1").unwrap())
            .await
            .unwrap()
            .id()
            .as_str(),
        "1"
    );
    fake.script([
        Reply::Delay(Duration::from_secs(2)),
        Reply::Delay(Duration::from_secs(2)),
    ]);
    let err = client.board(&BoardId::new("1").unwrap()).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Transient {
                cause: TransientCause::Timeout,
                attempts: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn nothing_listening_is_a_transient_connect_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let fake = FakePinterest::start(TOKEN).await;
    let mut config = test_config(&fake);
    config.base_url =
        pinion_pinterest::BaseUrl::parse(&format!("http://127.0.0.1:{port}/v5")).unwrap();
    let client = PinterestClient::new(config, TestTokens::new(TOKEN)).unwrap();
    let err = client.user_account().await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Transient {
                cause: TransientCause::Connect(_),
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn not_found_bad_request_and_forbidden_are_not_retried() {
    let (fake, client) = setup().await;
    let board = BoardId::new("1").unwrap();
    fake.script([Reply::error(404, 40, "Board not found.")]);
    let err = client.board(&board).await.unwrap_err();
    assert!(
        matches!(&err, ApiError::NotFound { body, .. } if body.code == Some(40)),
        "{err}"
    );
    assert_eq!(err.pinterest_code(), Some(40));
    assert_eq!(err.action(), ErrorAction::GiveUp);

    fake.script([Reply::error(
        400,
        1,
        "Parameter 'page_size' was not numeric (was 3e)",
    )]);
    let err = client.board(&board).await.unwrap_err();
    assert!(matches!(&err, ApiError::BadRequest { .. }), "{err}");
    assert!(err.to_string().contains("was not numeric"), "{err}");

    fake.script([Reply::error(
        403,
        29,
        "You are not permitted to access that resource.",
    )]);
    let err = client.board(&board).await.unwrap_err();
    assert!(
        matches!(&err, ApiError::Forbidden { status: 403, .. }),
        "{err}"
    );
    assert_eq!(fake.request_count(), 3);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (fake, client) = setup().await;
    fake.script([Reply::Json {
        status: 302,
        body: serde_json::json!({}),
        headers: vec![("location", "http://169.254.169.254/latest".into())],
    }]);
    let err = client.user_account().await.unwrap_err();
    assert!(
        matches!(err, ApiError::UnexpectedStatus { status: 302, .. }),
        "{err}"
    );
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn a_response_over_the_size_cap_is_refused() {
    let fake = FakePinterest::start(TOKEN).await;
    let mut config = test_config(&fake);
    config.max_response_bytes = 10_000;
    let client = PinterestClient::new(config, TestTokens::new(TOKEN)).unwrap();
    fake.set_list("/v5/boards", boards(250));
    let (_, err) = drain(client.boards(BoardsQuery::default(), PageRequest::first())).await;
    assert!(
        matches!(
            err,
            Some(ApiError::ResponseTooLarge {
                limit_bytes: 10_000,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn a_failed_page_keeps_its_bookmark_for_the_caller() {
    let (fake, client) = setup().await;
    fake.set_list("/v5/boards", boards(600));
    fake.script(std::iter::once(Reply::Normal).chain((0..4).map(|_| Reply::error(500, 0, "down"))));
    let (pages, err) = drain(client.boards(BoardsQuery::default(), PageRequest::first())).await;
    assert_eq!(pages.len(), 1);
    assert!(err.is_some());
    // The caller checkpointed page 1's next bookmark and resumes from it.
    let resume = PageRequest::resume(pages[0].next_bookmark.clone().unwrap());
    let (rest, err) = drain(client.boards(BoardsQuery::default(), resume)).await;
    assert!(err.is_none());
    let mut ids = all_ids(&pages);
    ids.extend(all_ids(&rest));
    assert_eq!(ids, expected_ids(600));
}

#[tokio::test]
async fn the_last_cause_is_reported_for_cut_and_malformed_bodies() {
    let (fake, client) = setup().await;
    let board = BoardId::new("1").unwrap();
    fake.script((0..4).map(|_| Reply::Truncated {
        prefix: r#"{"id":"1","#,
    }));
    let err = client.board(&board).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Transient {
                cause: TransientCause::TruncatedBody(_),
                ..
            }
        ),
        "{err}"
    );
    fake.script((0..4).map(|_| Reply::Raw {
        status: 200,
        body: "{\"id\": ",
    }));
    let err = client.board(&board).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Transient {
                cause: TransientCause::MalformedBody { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("malformed response body"), "{err}");
    fake.script((0..4).map(|_| Reply::Drop));
    let err = client.board(&board).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Transient {
                cause: TransientCause::Connection(_),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(fake.request_count(), 12);
}
