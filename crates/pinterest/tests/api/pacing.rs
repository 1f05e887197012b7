//! Pacing over real HTTP: the client-side budget holds across clones, and
//! `x-ratelimit-*` headers pause a category.

use std::time::{Duration, Instant};

use pinion_pinterest::{BoardId, Budget, PinterestClient, RateBudgets, RateCategory};
use serde_json::json;

use crate::fake_pinterest::FakePinterest;
use crate::{TOKEN, TestTokens, test_config};

#[tokio::test]
async fn request_rate_stays_within_a_scaled_down_budget_across_clones() {
    let fake = FakePinterest::start(TOKEN).await;
    fake.set_object("/v5/boards/1", json!({"id":"1"}));
    let mut config = test_config(&fake);
    // 20 per second, one at a time: 40 requests need at least 1.95 s.
    config.budgets = RateBudgets::unlimited().with_budget(
        RateCategory::OrgRead,
        Some(Budget {
            requests: 20,
            per: Duration::from_secs(1),
            burst: Some(1),
        }),
    );
    let client = PinterestClient::new(config, TestTokens::new(TOKEN)).unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let clone = client.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                clone.board(&BoardId::new("1").unwrap()).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1900),
        "40 requests at 20/s took only {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    // No 400 ms window holds more than 8 + 1 requests (generous for scheduling).
    let times: Vec<_> = fake.requests().iter().map(|r| r.at).collect();
    for (i, start) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .filter(|t| t.duration_since(*start) < Duration::from_millis(400))
            .count();
        assert!(in_window <= 10, "{in_window} requests within 400 ms");
    }
    let stats = client.stats();
    assert_eq!(stats.requests, 40);
    assert!(stats.pacing_wait > Duration::from_secs(1), "{stats:?}");
}

#[tokio::test]
async fn a_write_budget_does_not_slow_reads() {
    let fake = FakePinterest::start(TOKEN).await;
    fake.set_object("/v5/boards/1", json!({"id":"1"}));
    let mut config = test_config(&fake);
    config.budgets =
        RateBudgets::standard().with_budget(RateCategory::OrgWrite, Some(Budget::per_minute(1)));
    let client = PinterestClient::new(config, TestTokens::new(TOKEN)).unwrap();
    let started = Instant::now();
    for _ in 0..10 {
        client.board(&BoardId::new("1").unwrap()).await.unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn remaining_zero_in_the_headers_pauses_the_category_until_reset() {
    let fake = FakePinterest::start(TOKEN).await;
    fake.set_object("/v5/boards/1", json!({"id":"1"}));
    fake.header_on_every_reply("x-ratelimit-remaining", "0");
    fake.header_on_every_reply("x-ratelimit-reset", "1");
    fake.header_on_every_reply("x-ratelimit-limit", "1000");
    let client = PinterestClient::new(test_config(&fake), TestTokens::new(TOKEN)).unwrap();
    let board = BoardId::new("1").unwrap();
    client.board(&board).await.unwrap();
    assert!(client.pacer().paused_until(RateCategory::OrgRead).is_some());
    let started = Instant::now();
    client.board(&board).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(client.stats().rate_limited, 0);
}
