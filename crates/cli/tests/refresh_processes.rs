//! Refresh promises that must hold between operating-system processes
//! (issue 12): one token request per rejected token however many processes
//! and replicas see the rejection, and tokens Pinterest has handed over are
//! never lost to a database outage, even when the server is killed during it.
//!
//! The SQLite test always runs; the PostgreSQL ones when
//! `PINION_TEST_POSTGRES_URL` names a server (a fresh database is created and
//! dropped each time), and otherwise say they were skipped.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pinion_domain::{CredentialId, CredentialStatus};
use pinion_simulator::{AppInfo, RunningSimulator};
use pinion_store::Store;
use pinion_testkit::{Relay, RelayMode};
use serde_json::Value;
use support::{PINNER, Server, TestDatabase, wait_for};

/// How many times each single-flight test repeats its burst.
const ROUNDS: usize = 20;
/// Concurrent callers per burst.
const CALLERS: usize = 50;

/// Starts a round: the credential's access token expires at the simulator
/// (Pinion still believes it valid) and the statistics are cleared. The
/// credential's description changes too: a check is answered from one less
/// than 30 s old of the unchanged credential, and each round must ask
/// Pinterest again.
async fn start_round(
    store: &Arc<dyn Store>,
    authorized: &support::Authorized,
    sim: &RunningSimulator,
    app: &AppInfo,
    round: usize,
) {
    let patch = pinion_domain::CredentialPatchInput {
        description: Some(format!("round {round}")),
        ..Default::default()
    };
    pinion_service::Credentials::new(store.clone())
        .update(&authorized.owner, &authorized.id, &patch)
        .await
        .unwrap();
    expire_at_pinterest(sim, app).await;
}

/// Expires the credential's access token at the simulator (Pinion still
/// believes it valid) and clears the statistics.
async fn expire_at_pinterest(sim: &RunningSimulator, app: &AppInfo) {
    sim.control()
        .expire_access_tokens(PINNER, Some(&app.client_id))
        .await
        .unwrap();
    sim.control().reset_stats().await.unwrap();
}

/// Token requests with the refresh grant since the last reset.
async fn refresh_requests(sim: &RunningSimulator) -> u64 {
    sim.control()
        .stats()
        .await
        .unwrap()
        .grant_type("refresh_token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_cli_processes_on_one_sqlite_data_dir_refresh_a_rejected_token_once() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path();
    let (sim, app) =
        support::simulator("Single flight", pinion_simulator::DataShape::empty()).await;
    let store = support::open_data_dir(data_dir).await;
    let authorized = support::authorized_credential(&store, &sim, &app).await;
    let id = authorized.id.as_str().to_owned();

    for round in 0..ROUNDS {
        start_round(&store, &authorized, &sim, &app, round).await;
        let children: Vec<_> = (0..CALLERS)
            .map(|_| {
                support::pinion(data_dir, &sim)
                    .args(["credentials", "check", &id, "--json"])
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
                .await
                .expect("each check finished within two minutes")
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success(),
                "round {round}: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let report: Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(report["ok"], true, "round {round}: {report}");
        }
        assert_eq!(
            refresh_requests(&sim).await,
            1,
            "round {round}: {CALLERS} processes saw one rejected token"
        );
    }
    store.close().await;
}

/// A PostgreSQL database with one authorized credential, and the key file
/// every process opens it with.
struct PgSetup {
    db: TestDatabase,
    _dir: tempfile::TempDir,
    key_file: std::path::PathBuf,
    store: Arc<dyn Store>,
    sim: RunningSimulator,
    app: AppInfo,
    authorized: support::Authorized,
}

async fn pg_setup(test: &str) -> Option<PgSetup> {
    let db = TestDatabase::create(test)?;
    let dir = tempfile::tempdir().unwrap();
    let (store, key_file) = support::postgres_store(&db, dir.path()).await;
    let (sim, app) = support::simulator("Outages", pinion_simulator::DataShape::empty()).await;
    let authorized = support::authorized_credential(&store, &sim, &app).await;
    Some(PgSetup {
        db,
        _dir: dir,
        key_file,
        store,
        sim,
        app,
        authorized,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_checks_over_two_replicas_on_postgres_refresh_a_rejected_token_once() {
    let Some(setup) = pg_setup("the two-replica single-flight test").await else {
        return;
    };
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut replicas = Vec::new();
    for data_dir in &dirs {
        replicas.push(
            Server::start(
                data_dir.path(),
                &setup.sim,
                Some(&setup.db.url),
                Some(&setup.key_file),
            )
            .await,
        );
    }
    let http = reqwest::Client::new();
    let id = setup.authorized.id.as_str();
    for round in 0..ROUNDS {
        start_round(
            &setup.store,
            &setup.authorized,
            &setup.sim,
            &setup.app,
            round,
        )
        .await;
        let calls = (0..CALLERS).map(|n| {
            let url = format!("{}/api/v1/credentials/{id}/check", replicas[n % 2].url);
            let request = http
                .post(url)
                .bearer_auth(&setup.authorized.api_token)
                .send();
            async move {
                let response = request.await.unwrap();
                let status = response.status();
                let body: Value = response.json().await.unwrap();
                (status, body)
            }
        });
        for (status, body) in futures::future::join_all(calls).await {
            assert_eq!(status, 200, "round {round}: {body}");
            assert_eq!(body["ok"], true, "round {round}: {body}");
        }
        assert_eq!(
            refresh_requests(&setup.sim).await,
            1,
            "round {round}: {CALLERS} checks over two replicas saw one rejected token"
        );
    }
    for replica in replicas {
        replica.kill().await;
    }
    setup.store.close().await;
}

/// Slows Pinterest's token endpoint so a refresh is in flight long enough
/// to cut the database under it.
async fn slow_token_endpoint(sim: &RunningSimulator, millis: u64) {
    let spec: pinion_simulator::FaultSpec = serde_json::from_value(serde_json::json!({
        "path_prefix": "/v5/oauth/token",
        "method": "POST",
        "kind": {"type": "latency", "ms": millis},
    }))
    .unwrap();
    sim.control().inject_fault(&spec).await.unwrap();
}

/// Waits until the credential's refresh lease is taken (the token request
/// is about to go out), reading the database directly.
async fn wait_for_claim(store: &Arc<dyn Store>, id: &CredentialId) {
    wait_for(Duration::from_secs(30), "the refresh claim", || async {
        store
            .get_credential(id)
            .await
            .is_ok_and(|record| record.refresh.started_at.is_some())
    })
    .await;
}

/// Waits until the credential is active with no refresh in flight and its
/// stored access token works at Pinterest.
async fn wait_until_settled(setup: &PgSetup, limit: Duration) {
    let http = reqwest::Client::new();
    let id = &setup.authorized.id;
    wait_for(limit, "the rotated tokens in the database", || async {
        let Ok(secrets) = setup.store.credential_secrets(id).await else {
            return false;
        };
        if secrets.record.status != CredentialStatus::Active
            || secrets.record.refresh.started_at.is_some()
        {
            return false;
        }
        let Some(token) = secrets.access_token else {
            return false;
        };
        http.get(format!("{}/user_account", setup.sim.api_url()))
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
}

/// Files in the data directory's token journal.
fn journal_entries(data_dir: &Path) -> usize {
    std::fs::read_dir(data_dir.join(pinion_service::JOURNAL_DIR))
        .map(|dir| {
            dir.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".tokens"))
                .count()
        })
        .unwrap_or(0)
}

/// The journal folder is 0700 and its files 0600 (SECURITY.md R32), and no
/// file holds a token in plaintext.
fn assert_private_journal(data_dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let dir = data_dir.join(pinion_service::JOURNAL_DIR);
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        assert_eq!(mode(&entry.path()), 0o600, "{}", entry.path().display());
        let bytes = std::fs::read(entry.path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("pina_") && !text.contains("pinr_"),
            "a plaintext token"
        );
    }
}

/// How long the database stays away: well past the server's own attempts to
/// store the tokens (the request gives up after a few seconds).
const OUTAGE: Duration = Duration::from_secs(60);

/// A server on the database through a relay, a slow token endpoint, and a
/// refresh under way when the relay cuts the database away.
struct Outage {
    relay: Relay,
    url: String,
    server: Server,
    refresh: tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
    cut_at: tokio::time::Instant,
}

async fn cut_during_refresh(setup: &PgSetup, data_dir: &Path) -> Outage {
    let relay = Relay::start(setup.db.server_addr()).await.unwrap();
    let url = setup.db.url_via(relay.port());
    let server = Server::start(data_dir, &setup.sim, Some(&url), Some(&setup.key_file)).await;
    slow_token_endpoint(&setup.sim, 3_000).await;
    setup.sim.control().reset_stats().await.unwrap();
    let id = &setup.authorized.id;
    let refresh = reqwest::Client::new()
        .post(format!("{}/api/v1/credentials/{id}/refresh", server.url))
        .bearer_auth(&setup.authorized.api_token)
        .send();
    let refresh = tokio::spawn(refresh);
    wait_for_claim(&setup.store, id).await;
    relay.set_mode(RelayMode::Refuse);
    Outage {
        relay,
        url,
        server,
        refresh,
        cut_at: tokio::time::Instant::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_whose_database_goes_away_for_a_minute_keeps_the_rotated_tokens() {
    let Some(setup) = pg_setup("the database outage test").await else {
        return;
    };
    let data_dir = tempfile::tempdir().unwrap();
    let outage = cut_during_refresh(&setup, data_dir.path()).await;

    let response = tokio::time::timeout(Duration::from_secs(60), outage.refresh)
        .await
        .expect("the refresh answered during the outage")
        .unwrap()
        .unwrap();
    assert_eq!(
        response.status(),
        503,
        "never 500 while the database is away"
    );
    assert!(
        response.headers().contains_key("retry-after"),
        "{:?}",
        response.headers()
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert_eq!(
        journal_entries(data_dir.path()),
        1,
        "the tokens are journaled"
    );
    assert_private_journal(data_dir.path());

    tokio::time::sleep_until(outage.cut_at + OUTAGE).await;
    outage.relay.set_mode(RelayMode::Forward);
    wait_until_settled(&setup, Duration::from_secs(60)).await;
    assert_eq!(refresh_requests(&setup.sim).await, 1, "one token request");
    wait_for(Duration::from_secs(10), "the journal to empty", || async {
        journal_entries(data_dir.path()) == 0
    })
    .await;
    let log = outage.server.kill().await;
    for prefix in ["pina_", "pinr_"] {
        assert!(!log.contains(prefix), "a token reached the log");
    }
    setup.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_while_the_database_is_away_stores_the_rotated_tokens_after_restart() {
    let Some(setup) = pg_setup("the outage-and-kill test").await else {
        return;
    };
    let data_dir = tempfile::tempdir().unwrap();
    let outage = cut_during_refresh(&setup, data_dir.path()).await;
    wait_for(
        Duration::from_secs(30),
        "the rotated tokens in the journal",
        || async { journal_entries(data_dir.path()) == 1 },
    )
    .await;
    outage.server.kill().await;

    tokio::time::sleep_until(outage.cut_at + OUTAGE).await;
    outage.relay.set_mode(RelayMode::Forward);
    let restarted = Server::start(
        data_dir.path(),
        &setup.sim,
        Some(&outage.url),
        Some(&setup.key_file),
    )
    .await;
    wait_until_settled(&setup, Duration::from_secs(60)).await;
    assert_eq!(
        refresh_requests(&setup.sim).await,
        1,
        "the rotated tokens were stored, not refreshed again"
    );
    assert_eq!(journal_entries(data_dir.path()), 0);
    restarted.kill().await;
    setup.store.close().await;
}
