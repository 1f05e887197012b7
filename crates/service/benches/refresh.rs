//! Refresh throughput (issue 4): 10,000 credentials due for a refresh against
//! the simulator (rate limits off), refreshed by the background refresher's
//! step (`Refresher::run_once`, default pacing: batches of 100, 8 at a time)
//! until none is due. Reports refreshes per second and the simulator's count
//! of `refresh_token` requests, which must equal the number of credentials.
//!
//! Runs: one process on SQLite; and, when `PINION_TEST_POSTGRES_URL` names a
//! server, one process and two replicas (two connection pools, managers and
//! refreshers) on one fresh PostgreSQL database.
//!
//! Each refresher's manager keeps a token journal in a data directory of its
//! own, as `pinion serve` does, so every refresh pays for its fsynced file.
//!
//! `cargo bench -p pinion-service --bench refresh` (release build; set
//! `PINION_BENCH_CREDENTIALS` for another count).

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pinion_service::{Refresher, RefresherConfig, TokenManager};
use pinion_simulator::{AppInfo, RunningSimulator, SimConfig};
use pinion_store::Store;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let count: usize = std::env::var("PINION_BENCH_CREDENTIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let (sim, app) = support::simulator(SimConfig::for_tests()).await;

    let sqlite = support::TestDb::sqlite();
    let store = sqlite.store(8).await;
    let ids = prepare(&store, &sim, &app, count).await;
    measure(
        "SQLite, one process",
        &sim,
        std::slice::from_ref(&store),
        &ids,
    )
    .await;
    store.close().await;

    if let Some(pg) = support::TestDb::postgres("refresh benchmark") {
        let first = pg.store(8).await;
        let ids = prepare(&first, &sim, &app, count).await;
        measure(
            "PostgreSQL, one process",
            &sim,
            std::slice::from_ref(&first),
            &ids,
        )
        .await;
        support::make_due(&first, &ids).await;
        let second = pg.store(8).await;
        measure(
            "PostgreSQL, two replicas",
            &sim,
            &[first.clone(), second.clone()],
            &ids,
        )
        .await;
        first.close().await;
        second.close().await;
    }
}

/// Creates and authorizes `count` credentials, then makes all of them due.
async fn prepare(
    store: &Arc<dyn Store>,
    sim: &RunningSimulator,
    app: &AppInfo,
    count: usize,
) -> Vec<pinion_domain::CredentialId> {
    let started = Instant::now();
    let (_, ids) = support::authorized_credentials(store, sim, app, count, 32).await;
    support::make_due(store, &ids).await;
    eprintln!(
        "prepared {count} authorized, due credentials in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    ids
}

/// Runs one refresher per store until no credential is due; prints the rate.
async fn measure(
    label: &str,
    sim: &RunningSimulator,
    stores: &[Arc<dyn Store>],
    ids: &[pinion_domain::CredentialId],
) {
    sim.control().reset_stats().await.unwrap();
    let started = Instant::now();
    let mut replicas = Vec::new();
    // As in `pinion serve`: every answer goes through the token journal (a
    // sealed, fsynced file per refresh, deleted once stored), each replica
    // with a data directory of its own.
    let data_dirs: Vec<tempfile::TempDir> = stores
        .iter()
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    for (store, data_dir) in stores.iter().zip(&data_dirs) {
        let manager: Arc<TokenManager> = support::manager(store.clone(), sim);
        manager.set_journal(pinion_service::TokenJournal::in_data_dir(
            data_dir.path(),
            store.clone(),
        ));
        let refresher = Refresher::new(manager, RefresherConfig::default());
        replicas.push(tokio::spawn(async move {
            let mut refreshed = 0usize;
            let mut failed = 0usize;
            loop {
                let outcome = refresher.run_once().await.expect("a refresher step");
                refreshed += outcome.refreshed;
                failed += outcome.failed;
                if outcome.claimed == 0 {
                    return (refreshed, failed);
                }
            }
        }));
    }
    let mut refreshed = 0;
    let mut failed = 0;
    for replica in replicas {
        let (r, f) = replica.await.unwrap();
        refreshed += r;
        failed += f;
    }
    let elapsed = started.elapsed();
    let stats = sim.control().stats().await.unwrap();
    let requests = stats.grant_type("refresh_token");
    println!(
        "{label}: {refreshed} refreshed ({failed} failed) in {:.2} s = {:.0} refreshes/s; \
         token requests {requests} (succeeded {}) for {} credentials",
        elapsed.as_secs_f64(),
        refreshed as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
        stats.grant_type_succeeded("refresh_token"),
        ids.len(),
    );
    assert_eq!(
        requests as usize,
        ids.len(),
        "one token request per credential"
    );
    assert_eq!(refreshed, ids.len());
    assert_eq!(failed, 0);
    // Settle before the next run.
    tokio::time::sleep(Duration::from_millis(100)).await;
}
