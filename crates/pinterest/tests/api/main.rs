//! Integration tests of the Pinterest client over real HTTP on loopback,
//! against the scripted fake in `fake_pinterest.rs`.

mod analytics;
mod auth;
mod fake_pinterest;
mod faults;
mod pacing;
mod pagination;
mod writes;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use pinion_domain::AccessToken;
use pinion_pinterest::{
    ApiError, BaseUrl, ClientConfig, Page, PageStream, PinterestClient, RateBudgets, RetryPolicy,
    TokenSource, TokenSourceError,
};
use serde_json::{Value, json};

use fake_pinterest::FakePinterest;

/// The access token the fake accepts; a marker so leaks are easy to find.
pub const TOKEN: &str = "CANARY-access-token-0001";
/// The token a refresh hands out.
pub const FRESH_TOKEN: &str = "CANARY-access-token-0002";

/// A token source with a scripted refresh.
pub struct TestTokens {
    current: Mutex<String>,
    refreshes: Mutex<VecDeque<Result<String, &'static str>>>,
    pub refresh_calls: AtomicU32,
}

impl TestTokens {
    pub fn new(current: &str) -> Arc<Self> {
        Arc::new(Self {
            current: Mutex::new(current.to_owned()),
            refreshes: Mutex::new(VecDeque::new()),
            refresh_calls: AtomicU32::new(0),
        })
    }

    /// The next refresh hands out `token`.
    pub fn refresh_to(self: &Arc<Self>, token: &str) -> Arc<Self> {
        self.refreshes
            .lock()
            .unwrap()
            .push_back(Ok(token.to_owned()));
        Arc::clone(self)
    }

    /// The next refresh fails: the credential needs reauthorization.
    pub fn refresh_fails(self: &Arc<Self>, reason: &'static str) -> Arc<Self> {
        self.refreshes.lock().unwrap().push_back(Err(reason));
        Arc::clone(self)
    }

    pub fn refreshes(&self) -> u32 {
        self.refresh_calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenSource for TestTokens {
    async fn access_token(&self) -> Result<AccessToken, TokenSourceError> {
        Ok(AccessToken::new(self.current.lock().unwrap().clone()))
    }

    async fn refreshed_after_unauthorized(
        &self,
        rejected: &AccessToken,
    ) -> Result<AccessToken, TokenSourceError> {
        self.refresh_calls.fetch_add(1, Ordering::SeqCst);
        assert_eq!(
            rejected.expose_secret(),
            self.current.lock().unwrap().as_str()
        );
        match self.refreshes.lock().unwrap().pop_front() {
            Some(Ok(token)) => {
                *self.current.lock().unwrap() = token.clone();
                Ok(AccessToken::new(token))
            }
            Some(Err(reason)) => Err(TokenSourceError::NeedsReauthorization {
                reason: reason.to_owned(),
            }),
            None => Err(TokenSourceError::NeedsReauthorization {
                reason: "no refresh scripted".into(),
            }),
        }
    }
}

/// Settings for tests: the fake's URL, short backoffs and timeouts, no
/// client-side budget.
pub fn test_config(fake: &FakePinterest) -> ClientConfig {
    ClientConfig {
        base_url: BaseUrl::parse(&fake.base_url()).unwrap(),
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(3),
        max_response_bytes: 1024 * 1024,
        retry: RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(40),
            max_rate_limited: 3,
            max_rate_limit_wait: Duration::from_secs(5),
        },
        budgets: RateBudgets::unlimited(),
        shared_budget: None,
        user_agent: "pinion-test".into(),
    }
}

/// A fake accepting [`TOKEN`] and a client using it.
pub async fn setup() -> (FakePinterest, PinterestClient) {
    let fake = FakePinterest::start(TOKEN).await;
    let client = PinterestClient::new(test_config(&fake), TestTokens::new(TOKEN)).unwrap();
    (fake, client)
}

/// Reads a page stream to its end; returns the pages and the error that
/// ended it, if any.
pub async fn drain<T>(mut stream: PageStream<T>) -> (Vec<Page<T>>, Option<ApiError>) {
    let mut pages = Vec::new();
    while let Some(result) = stream.next().await {
        match result {
            Ok(page) => pages.push(page),
            Err(err) => {
                assert!(
                    stream.next().await.is_none(),
                    "the stream goes on after an error"
                );
                return (pages, Some(err));
            }
        }
    }
    (pages, None)
}

/// `n` boards with digit ids and an unknown field.
pub fn boards(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"id": format!("{}", 100_000 + i), "name": format!("Board {i}"), "privacy": "PUBLIC", "x_unknown": {"i": i}}))
        .collect()
}

/// `n` pins on `board`.
pub fn pins(board: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"id": format!("{}{:06}", board, i), "board_id": board, "title": format!("Pin {i}"), "media": {"media_type": "image"}}))
        .collect()
}
