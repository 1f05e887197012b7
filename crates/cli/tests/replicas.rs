//! Two `pinion serve` processes on one PostgreSQL database (issue 4): with 200
//! credentials due for a refresh, their background refreshers together make
//! exactly 200 token refreshes (rows are claimed with `FOR UPDATE SKIP
//! LOCKED`, so no credential is refreshed twice), and every credential ends
//! `active` holding the tokens the simulator accepts.
//!
//! Runs when `PINION_TEST_POSTGRES_URL` names a PostgreSQL server (a fresh
//! database is created and dropped); otherwise it says it was skipped.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use pinion_domain::{CredentialStatus, SystemClock};
use pinion_service::oauth::RedirectUri;
use pinion_service::{Authorizations, RefreshPolicy, TokenManager, Users};
use pinion_simulator::RunningSimulator;
use support::{REDIRECT, TestDatabase, authorize, oauth};

const CREDENTIALS: usize = 200;

/// `pinion serve` on the database, with its own data directory.
fn serve(
    db: &TestDatabase,
    key_file: &Path,
    data_dir: &Path,
    sim: &RunningSimulator,
) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_pinion"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PINION_DATABASE_URL", &db.url)
        .env("PINION_MASTER_KEY_FILE", key_file)
        .env("PINION_DATA_DIR", data_dir)
        .env("PINTEREST_OAUTH_URL", sim.oauth_url())
        .env("PINTEREST_API_URL", sim.api_url())
        .env_remove("PINION_MASTER_KEY")
        .env_remove("PINION_PUBLIC_URL")
        .env_remove("PINION_LISTEN")
        .env_remove("PINION_TEST_PAUSE_AT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_on_one_postgres_refresh_200_due_credentials_exactly_once_each() {
    let Some(db) = TestDatabase::create("the two-process PostgreSQL test") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (store, key_file) = support::postgres_store(&db, dir.path()).await;
    let (sim, app) = support::simulator("Replicas", pinion_simulator::DataShape::empty()).await;

    // 200 authorized credentials whose access tokens have expired.
    let (owner, _) = Users::new(store.clone())
        .create(pinion_service::Actor::Operator, "alice", false)
        .await
        .unwrap();
    let authorizations = Authorizations::new(
        store.clone(),
        oauth(&sim),
        RedirectUri::parse(REDIRECT).unwrap(),
    );
    let mut ids = Vec::new();
    for n in 0..CREDENTIALS {
        let record = pinion_testkit::create_credential(
            &store,
            &owner,
            &app,
            &format!("Replica {n}"),
            "boards:read,user_accounts:read",
        )
        .await;
        ids.push(record.id);
    }
    futures::stream::iter(&ids)
        .for_each_concurrent(8, |id| authorize(&authorizations, &owner, id))
        .await;
    pinion_testkit::make_due(&store, &ids).await;
    sim.control().reset_stats().await.unwrap();
    let seeded_at = chrono::Utc::now();

    // Two replicas, each with its own data directory, on the one database.
    let replica_dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut replicas: Vec<_> = replica_dirs
        .iter()
        .map(|data_dir| serve(&db, &key_file, data_dir.path(), &sim))
        .collect();

    // Wait until every credential holds tokens stored after the seeding and
    // no refresh is in flight.
    let waited = tokio::time::timeout(Duration::from_secs(300), async {
        loop {
            let mut done = 0;
            for id in &ids {
                let record = store.get_credential(id).await.unwrap();
                if record.refresh.started_at.is_none()
                    && record.last_refreshed_at.is_some_and(|at| at > seeded_at)
                {
                    done += 1;
                }
            }
            if done == ids.len() {
                return;
            }
            for replica in &mut replicas {
                assert!(
                    replica.try_wait().unwrap().is_none(),
                    "a replica exited early"
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
    for replica in &mut replicas {
        let _ = replica.start_kill();
        let _ = replica.wait().await;
    }
    waited.expect("both replicas refreshed every credential within 5 minutes");

    let stats = sim.control().stats().await.unwrap();
    assert_eq!(
        stats.grant_type("refresh_token"),
        CREDENTIALS as u64,
        "exactly one refresh per credential: {stats:?}"
    );
    assert_eq!(
        stats.grant_type_succeeded("refresh_token"),
        CREDENTIALS as u64,
        "{stats:?}"
    );

    // Every credential is active; its access token works and its stored
    // refresh token is the one the simulator accepts.
    let manager = Arc::new(TokenManager::new(
        store.clone(),
        oauth(&sim),
        Arc::new(SystemClock),
        RefreshPolicy::default(),
    ));
    let http = reqwest::Client::new();
    futures::stream::iter(&ids)
        .for_each_concurrent(8, |id| {
            let (store, manager, http, sim) = (&store, &manager, &http, &sim);
            async move {
                let record = store.get_credential(id).await.unwrap();
                assert_eq!(
                    record.status,
                    CredentialStatus::Active,
                    "{id}: {:?}",
                    record.last_error
                );
                let secrets = store.credential_secrets(id).await.unwrap();
                let account = http
                    .get(format!("{}/user_account", sim.api_url()))
                    .bearer_auth(secrets.access_token.unwrap().expose_secret())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(account.status(), 200, "{id}: the access token is refused");
                manager.refresh(id).await.unwrap_or_else(|err| {
                    panic!("{id}: the stored refresh token is refused: {err}")
                });
            }
        })
        .await;
    store.close().await;
}
