//! Health checks across processes (issue 14): two `pinion serve` replicas
//! on one PostgreSQL database, checking every credential every 2 s
//! (`PINION_CHECK_INTERVAL=2s`). Each check is claimed in the database, so
//! however the two replicas' steps fall, each credential is checked once
//! per interval: checks spanning k intervals number at most k + 2 (a doubled
//! claim would make about twice as many), and the simulator answers one
//! `GET /v5/user_account` per check.
//!
//! Runs when `PINION_TEST_POSTGRES_URL` names a server (a fresh database is
//! created and dropped); otherwise it says it was skipped.

mod support;

use std::time::Duration;

use pinion_service::oauth::RedirectUri;
use pinion_service::{Authorizations, Users};

use support::{REDIRECT, Server, TestDatabase, authorize, oauth, wait_for};

const INTERVAL: Duration = Duration::from_secs(2);
const CREDENTIALS: usize = 4;
const CHECKS_EACH: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_check_each_credential_once_per_interval() {
    let Some(database) = TestDatabase::create("health_processes") else {
        return;
    };
    let (sim, app) =
        support::simulator("Pinion health", pinion_simulator::DataShape::empty()).await;
    let dir = tempfile::tempdir().unwrap();
    let (store, key_file) = support::postgres_store(&database, dir.path()).await;
    let (alice, _) = Users::new(store.clone())
        .create(pinion_service::Actor::Operator, "alice", false)
        .await
        .unwrap();
    let authorizations = Authorizations::new(
        store.clone(),
        oauth(&sim),
        RedirectUri::parse(REDIRECT).unwrap(),
    );
    let mut ids = Vec::new();
    for i in 0..CREDENTIALS {
        let record = pinion_testkit::create_credential(
            &store,
            &alice,
            &app,
            &format!("Account {i}"),
            "user_accounts:read",
        )
        .await;
        authorize(&authorizations, &alice, &record.id).await;
        ids.push(record.id);
    }
    let before = sim
        .control()
        .stats()
        .await
        .unwrap()
        .endpoint("GET /v5/user_account");

    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let env = [("PINION_CHECK_INTERVAL", "2s")];
    let start = |i: usize| {
        Server::start_with(
            dirs[i].path(),
            &sim,
            Some(&database.url),
            Some(&key_file),
            &env,
        )
    };
    let replicas = [start(0).await, start(1).await];

    // The system's checks of each credential, oldest first.
    let checks = || {
        let store = store.clone();
        let ids = ids.clone();
        async move {
            let mut all = Vec::new();
            for id in &ids {
                let mut times: Vec<_> = store
                    .list_activity(id, None, 1_000)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|entry| entry.event == "checked" && entry.actor == "system")
                    .map(|entry| entry.at)
                    .collect();
                times.sort();
                all.push(times);
            }
            all
        }
    };
    wait_for(
        Duration::from_secs(90),
        "six health checks of every credential",
        || async {
            checks()
                .await
                .iter()
                .all(|times| times.len() >= CHECKS_EACH)
        },
    )
    .await;
    let logs = [replicas[0].log(), replicas[1].log()];
    for replica in replicas {
        replica.terminate().await;
    }
    let checks = checks().await;
    let made: usize = checks.iter().map(Vec::len).sum();
    for (id, times) in ids.iter().zip(&checks) {
        // A check is claimed at most once per slot of one interval, but the
        // activity log records when the check finished, and a loaded machine
        // may claim a slot late, just before the next slot's check: two
        // entries can be close together. What a doubled claim would break is
        // the count: checks spanning k intervals number at most k + 2.
        let span = (times[times.len() - 1] - times[0])
            .to_std()
            .unwrap_or_default();
        let allowed = (span.as_secs_f64() / INTERVAL.as_secs_f64()).floor() as usize + 2;
        assert!(
            times.len() <= allowed,
            "{id} checked {} times in {span:?}: {times:?}\n{}\n----\n{}",
            times.len(),
            logs[0],
            logs[1]
        );
    }
    // One call to Pinterest per check, none made twice for one claim.
    let calls = sim
        .control()
        .stats()
        .await
        .unwrap()
        .endpoint("GET /v5/user_account")
        - before;
    assert_eq!(calls, made as u64, "{checks:?}");
    store.close().await;
}
