//! Pacing under Pinterest's real `org_read` limit: the simulator allows
//! 1,000 requests per window, as Pinterest does per minute, with the window
//! shortened to 10 s so the test takes about 20 s. The client budgets the
//! same 1,000 per window at the default 95 % share, with the burst the real
//! budget has (one second of a minute's share, 16). The run must use at
//! least 90 % of the allowed requests and receive no 429.
//!
//! Pinterest's universal limit (100 per second) is left out on both sides:
//! with a minute compressed into 10 s it would bind first, which it never
//! does at the real speed (1,000 a minute is 17 a second).

use std::time::{Duration, Instant};

use pinion_pinterest::{Budget, PageSize, PinterestClient, RateBudgets, RateCategory};
use pinion_simulator::DataShape;
use pinion_sync::destination::JsonlDestination;
use pinion_sync::{StreamName, SyncOptions};

use crate::helpers::sync;
use crate::sim::{self, ALL_SCOPES};

/// Pinterest's `org_read` limit per window.
const ORG_READ_PER_WINDOW: u32 = 1_000;
/// The shortened window.
const WINDOW: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_uses_at_least_90_percent_of_the_org_read_limit_without_a_429() {
    let config = pinion_simulator::SimConfig {
        rate_limits_enabled: true,
        rate_limit_scale: 1.0,
        rate_limit_window: WINDOW,
        universal_rate_limit_per_second: None,
        ..sim::sim_config()
    };
    // 8 boards x 240 pins read one pin per page: about 1,940 requests,
    // two windows' worth.
    let shape = DataShape {
        boards: 8,
        sections_per_board: 0,
        pins_per_board: 240,
        pins_per_section: 0,
        ad_accounts: 0,
        secret_share: 0.0,
        protected_share: 0.0,
        video_share: 0.0,
    };
    let sim = sim::start(config, shape).await;
    let tokens = sim.tokens(ALL_SCOPES).await;
    let mut client_config = sim::fast_config(&sim.sim.api_url());
    client_config.budgets = RateBudgets::unlimited()
        .with_budget(
            RateCategory::OrgRead,
            Some(Budget {
                requests: ORG_READ_PER_WINDOW,
                per: WINDOW,
                burst: Some(16),
            }),
        )
        .with_scale(pinion_pinterest::pacing::DEFAULT_SCALE);
    let client = PinterestClient::new(client_config, sim.token_source(&tokens)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = JsonlDestination::create(dir.path().join("out")).unwrap();
    let state = pinion_sync::state::open(dir.path().join("state.db").to_str().unwrap())
        .await
        .unwrap();
    let options = SyncOptions {
        streams: Some(vec![StreamName::BoardPins]),
        page_size: PageSize::new(1).unwrap(),
        concurrency: 4,
        commit_interval: Duration::from_millis(500),
        ..SyncOptions::default()
    };

    let started = Instant::now();
    let report = sync(&client, ALL_SCOPES, &dest, &*state, &options).await;
    let seconds = started.elapsed().as_secs_f64();
    assert!(report.succeeded(), "{:?}", report.failure);
    assert_eq!(report.records(), 8 * 240);
    let stats = client.stats();
    let allowed = f64::from(ORG_READ_PER_WINDOW) * seconds / WINDOW.as_secs_f64();
    let used = stats.requests as f64 / allowed;
    println!(
        "pacing: {} org_read requests in {seconds:.1} s with {} allowed per {} s: {:.1} % of the limit, {} answered 429",
        stats.requests,
        ORG_READ_PER_WINDOW,
        WINDOW.as_secs(),
        used * 100.0,
        stats.rate_limited
    );
    assert_eq!(stats.rate_limited, 0, "no 429: {stats:?}");
    assert!(used >= 0.90, "used {:.1} % of the limit", used * 100.0);
}
