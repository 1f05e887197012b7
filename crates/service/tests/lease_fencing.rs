//! Refreshes whose lease runs out (review finding 1), against the simulator
//! over loopback: a batch whose lease lapses before a row's turn, and a
//! token request that outlasts its lease while another refresher takes the
//! row over. In every case the refresh token the simulator accepted is the
//! one stored, and no healthy credential is marked `needs_reauthorization`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use pinion_domain::{CredentialId, CredentialStatus, SystemClock};
use pinion_service::{RefreshPolicy, Refresher, RefresherConfig, TokenManager};
use pinion_simulator::{FaultKind, FaultSpec, RunningSimulator, SimConfig};
use pinion_store::Store;

/// A lease much shorter than the simulator's delayed token answers.
const LEASE: Duration = Duration::from_secs(1);
/// How long the simulator holds each token request.
const TOKEN_LATENCY_MS: u64 = 1500;

fn short_lease_manager(store: Arc<dyn Store>, sim: &RunningSimulator) -> Arc<TokenManager> {
    Arc::new(TokenManager::new(
        store,
        support::oauth(sim),
        Arc::new(SystemClock),
        RefreshPolicy {
            lease: LEASE,
            wait_for_other: Duration::from_secs(10),
            ..RefreshPolicy::default()
        },
    ))
}

async fn slow_token_endpoint(sim: &RunningSimulator) {
    sim.control()
        .inject_fault(&FaultSpec {
            path_prefix: "/v5/oauth/token".into(),
            method: None,
            kind: FaultKind::Latency {
                ms: TOKEN_LATENCY_MS,
            },
            count: None,
            duration_ms: None,
        })
        .await
        .unwrap();
}

async fn token_requests(sim: &RunningSimulator) -> u64 {
    sim.control()
        .stats()
        .await
        .unwrap()
        .endpoint("POST /v5/oauth/token")
}

/// Every credential is active with no refresh in flight, and its stored
/// refresh token is accepted by the simulator (one more forced refresh works).
async fn assert_healthy(sim: &RunningSimulator, store: &Arc<dyn Store>, ids: &[CredentialId]) {
    sim.control().clear_faults().await.unwrap();
    let checker = support::manager(store.clone(), sim);
    for id in ids {
        let record = store.get_credential(id).await.unwrap();
        assert_eq!(
            record.status,
            CredentialStatus::Active,
            "{id}: {:?}",
            record.last_error
        );
        assert!(record.refresh.started_at.is_none(), "{id} still in flight");
        checker
            .refresh(id)
            .await
            .unwrap_or_else(|err| panic!("{id}: the stored refresh token was refused: {err}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_whose_lease_lapses_mid_way_never_loses_the_accepted_refresh_token() {
    let db = support::TestDb::sqlite();
    let store = db.store(4).await;
    let (sim, app) = support::simulator(SimConfig::for_tests()).await;
    let (_, ids) = support::authorized_credentials(&store, &sim, &app, 3, 3).await;
    support::make_due(&store, &ids).await;
    let batch = short_lease_manager(store.clone(), &sim);
    let competitor = short_lease_manager(store.clone(), &sim);
    slow_token_endpoint(&sim).await;
    sim.control().reset_stats().await.unwrap();

    // One batch claims all three rows under one lease, then works through
    // them one at a time, as a refresher with a concurrency of one would.
    let claimed = store
        .claim_due_refreshes(batch.due_rule(), LEASE, "batch_lapsing", 3)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let worker = {
        let batch = batch.clone();
        let claimed = claimed.clone();
        tokio::spawn(async move {
            let mut results = Vec::new();
            for id in &claimed {
                results.push(batch.refresh_claimed(id, "batch_lapsing").await);
            }
            results
        })
    };
    // Once the batch's second request has reached the simulator (its lease
    // long gone) or the batch is done, a competing refresher takes the
    // remaining rows.
    while token_requests(&sim).await < 2 && !worker.is_finished() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for id in &claimed[1..] {
        competitor
            .refresh(id)
            .await
            .unwrap_or_else(|err| panic!("the competing refresh of {id} failed: {err}"));
    }
    for result in worker.await.unwrap() {
        result.expect("the batch's refreshes end without an error");
    }
    assert_healthy(&sim, &store, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_that_outlasts_its_lease_stores_its_rotated_token_over_a_takeover() {
    let db = support::TestDb::sqlite();
    let store = db.store(4).await;
    let (sim, app) = support::simulator(SimConfig::for_tests()).await;
    let (_, ids) = support::authorized_credentials(&store, &sim, &app, 1, 1).await;
    let id = ids[0].clone();
    let first = short_lease_manager(store.clone(), &sim);
    let second = short_lease_manager(store.clone(), &sim);
    slow_token_endpoint(&sim).await;
    sim.control().reset_stats().await.unwrap();

    let slow = {
        let (first, id) = (first.clone(), id.clone());
        tokio::spawn(async move { first.refresh(&id).await })
    };
    while token_requests(&sim).await < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The first request is still held by the simulator when its lease runs
    // out; the second refresher takes the row over with the same (about to
    // be rotated) refresh token.
    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    let late = second.refresh(&id).await;
    let early = slow.await.unwrap();
    early.expect("the first refresh succeeded at the simulator");
    late.expect("the refused takeover sees the rotated token, not a lost grant");
    let stats = sim.control().stats().await.unwrap();
    assert_eq!(stats.grant_type_succeeded("refresh_token"), 1, "{stats:?}");
    assert_healthy(&sim, &store, &ids).await;
}

#[tokio::test]
async fn the_refresher_claims_no_more_rows_than_can_start_within_the_lease() {
    let db = support::TestDb::sqlite();
    let store = db.store(4).await;
    let (sim, app) = support::simulator(SimConfig::for_tests()).await;
    let (_, ids) = support::authorized_credentials(&store, &sim, &app, 5, 5).await;
    support::make_due(&store, &ids).await;
    // A one-second lease cannot cover even one token request budget, so a
    // step claims one wave: as many rows as run at once.
    let refresher = Refresher::new(
        short_lease_manager(store.clone(), &sim),
        RefresherConfig {
            batch_size: 100,
            concurrency: 2,
            interval: Duration::from_millis(20),
        },
    );
    let outcome = refresher.run_once().await.unwrap();
    assert_eq!(outcome.claimed, 2, "{outcome:?}");
    assert_eq!(outcome.refreshed, 2, "{outcome:?}");
}
