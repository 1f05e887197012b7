//! Two replicas on one PostgreSQL database (issue 4, SECURITY.md R24): each
//! has its own connection pool, token manager and background refresher, and
//! callers on both ask for tokens at the same time. With 200 credentials due,
//! the simulator sees exactly 200 refresh requests, none refused, and every
//! credential ends `active` holding the refresh token the simulator accepts.
//!
//! Runs only when `PINION_TEST_POSTGRES_URL` names a server (a fresh database
//! is created and dropped); two replicas on one SQLite file are not a
//! supported deployment.

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use pinion_domain::CredentialStatus;
use pinion_service::{Refresher, RefresherConfig};
use pinion_simulator::SimConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_postgres_refresh_each_of_200_due_credentials_exactly_once() {
    let Some(db) = support::TestDb::postgres("two_replicas_refresh_each_credential_once") else {
        return;
    };
    let (sim, app) = support::simulator(SimConfig::for_tests()).await;
    let first = db.store(8).await;
    let second = db.store(8).await;
    let (_, ids) = support::authorized_credentials(&first, &sim, &app, 200, 16).await;
    support::make_due(&first, &ids).await;
    sim.control().reset_stats().await.unwrap();

    let managers = [
        support::manager(first.clone(), &sim),
        support::manager(second.clone(), &sim),
    ];
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    // Both replicas' background refreshers, in small batches so they interleave.
    for manager in &managers {
        let refresher = Refresher::new(
            manager.clone(),
            RefresherConfig {
                batch_size: 10,
                concurrency: 4,
                interval: Duration::from_millis(20),
            },
        );
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            refresher
                .run_until_stopped(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        }));
    }
    // Meanwhile callers on both replicas want tokens for every credential,
    // in opposite orders.
    let mut callers = Vec::new();
    for (n, manager) in managers.iter().enumerate() {
        let manager = manager.clone();
        let mut order = ids.clone();
        if n == 1 {
            order.reverse();
        }
        callers.push(tokio::spawn(async move {
            futures::stream::iter(order)
                .map(|id| {
                    let manager = manager.clone();
                    async move { manager.access_token(&id).await }
                })
                .buffer_unordered(16)
                .collect::<Vec<_>>()
                .await
        }));
    }
    for caller in callers {
        for result in caller.await.unwrap() {
            // A caller may give up waiting for the other replica's refresh
            // (retry later), but never sees a refused grant.
            match result {
                Ok(_) | Err(pinion_service::RefreshError::Unavailable { .. }) => {}
                Err(other) => panic!("a caller failed: {other}"),
            }
        }
    }
    // Let the refreshers finish whatever is still due.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let stats = sim.control().stats().await.unwrap();
        if stats.grant_type("refresh_token") >= 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} refreshes after a minute",
            stats.grant_type("refresh_token")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A few more passes: nothing further may be refreshed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = stop.send(true);
    for task in tasks {
        task.await.unwrap();
    }
    let stats = sim.control().stats().await.unwrap();
    assert_eq!(stats.grant_type("refresh_token"), 200, "{stats:?}");
    assert_eq!(
        stats.grant_type_succeeded("refresh_token"),
        200,
        "{stats:?}"
    );

    // Every credential is active, no refresh is left in flight, and the
    // stored refresh token is the one the simulator accepts: one more forced
    // refresh of each succeeds.
    for id in &ids {
        let record = second.get_credential(id).await.unwrap();
        assert_eq!(record.status, CredentialStatus::Active, "{id}");
        assert!(record.refresh.started_at.is_none(), "{id} still in flight");
        assert!(record.last_error.is_none(), "{id}: {:?}", record.last_error);
    }
    let checks: Vec<_> = futures::stream::iter(&ids)
        .map(|id| {
            let manager = Arc::clone(&managers[0]);
            async move { manager.refresh(id).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(checks.iter().all(Result::is_ok));
    let stats = sim.control().stats().await.unwrap();
    assert_eq!(
        stats.grant_type_succeeded("refresh_token"),
        400,
        "{stats:?}"
    );
    assert_eq!(stats.grant_type("refresh_token"), 400, "{stats:?}");
    first.close().await;
    second.close().await;
}
