//! Crash tests (issue 4, SECURITY.md R25): `pinion credentials refresh` is
//! killed with SIGKILL around a refresh, then the refresher's start-up
//! recovery runs on the same database. The credential always ends `active`
//! with a refresh token the simulator accepts and an access token that works,
//! or `needs_reauthorization` saying the refresh outcome is unknown; never
//! with a refresh still marked in flight, never holding a spent token as
//! current.
//!
//! The child pauses at a named point through `PINION_TEST_PAUSE_AT`, which
//! only debug builds honour (see `pinion_service`'s `pause` module), and is
//! killed there; a second test kills it at sixteen evenly spread moments
//! instead, which also lands inside the token write.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use pinion_domain::{
    AuthorizationCode, ClientSecret, CredentialId, CredentialInput, CredentialStatus, OAuthState,
    SystemClock,
};
use pinion_service::oauth::{OAuthConfig, PinterestOAuth, RedirectUri};
use pinion_service::{
    Authorizations, CallbackParams, Credentials, RefreshPolicy, Refresher, RefresherConfig,
    TokenManager, Users,
};
use pinion_simulator::{AppInfo, RunningSimulator, SimConfig, UserSpec};
use pinion_store::{KeySource, Store, User};
use tokio::io::{AsyncBufReadExt, BufReader};

const REDIRECT: &str = "http://127.0.0.1:8080/oauth/pinterest/callback";

/// One credential on a data directory, authorized against a simulator.
struct Setup {
    sim: RunningSimulator,
    dir: tempfile::TempDir,
    owner: User,
    id: CredentialId,
}

async fn open_store(dir: &Path) -> Arc<dyn Store> {
    pinion_store::connect(
        dir.join("pinion.db").to_str().unwrap(),
        KeySource::DataDirFile(dir.join("master.key")),
    )
    .await
    .unwrap()
    .store
}

fn oauth(sim: &RunningSimulator) -> Arc<PinterestOAuth> {
    Arc::new(
        PinterestOAuth::new(
            OAuthConfig::from_urls(&sim.oauth_url(), &sim.api_url()).unwrap(),
            Arc::new(SystemClock),
        )
        .unwrap(),
    )
}

async fn setup() -> Setup {
    let sim = pinion_simulator::spawn(SimConfig::for_tests())
        .await
        .unwrap();
    let app: AppInfo = sim
        .control()
        .register_test_app("Crash", REDIRECT)
        .await
        .unwrap();
    sim.control()
        .register_user(&UserSpec {
            username: "pinner".into(),
            password: "pw".into(),
            account_type: pinion_simulator::AccountType::Business,
            auto_approve: true,
            data: pinion_simulator::DataShape::empty(),
        })
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path()).await;
    let (owner, _) = Users::new(store.clone())
        .create("alice", false)
        .await
        .unwrap();
    let record = Credentials::new(store.clone())
        .create(
            &owner,
            &owner.id,
            &CredentialInput {
                name: "Crash".into(),
                description: None,
                client_id: app.client_id.clone(),
                client_secret: Some(ClientSecret::new(app.client_secret.clone())),
                scopes: Some("boards:read,user_accounts:read".into()),
            },
        )
        .await
        .unwrap();
    let setup = Setup {
        sim,
        dir,
        owner,
        id: record.id,
    };
    authorize(&setup, &store).await;
    store.close().await;
    setup
}

/// The whole flow, headless, in this process.
async fn authorize(setup: &Setup, store: &Arc<dyn Store>) {
    let authorizations = Authorizations::new(
        store.clone(),
        oauth(&setup.sim),
        RedirectUri::parse(REDIRECT).unwrap(),
    );
    let started = authorizations
        .start(&setup.owner, &setup.id, None)
        .await
        .unwrap();
    let consent = no_redirects()
        .get(started.url.as_str())
        .send()
        .await
        .unwrap();
    let location = reqwest::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
    let get = |key: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    authorizations
        .complete(
            CallbackParams {
                state: Some(OAuthState::new(get("state"))),
                code: Some(AuthorizationCode::new(get("code"))),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `pinion credentials refresh ID` on the setup's data directory.
fn refresh_command(setup: &Setup, pause_at: Option<&str>) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pinion"));
    command
        .args(["credentials", "refresh", setup.id.as_str()])
        .env("PINION_DATA_DIR", setup.dir.path())
        .env("PINTEREST_OAUTH_URL", setup.sim.oauth_url())
        .env("PINTEREST_API_URL", setup.sim.api_url())
        .env_remove("PINION_DATABASE_URL")
        .env_remove("PINION_MASTER_KEY")
        .env_remove("PINION_MASTER_KEY_FILE")
        .env_remove("PINION_TEST_PAUSE_AT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(point) = pause_at {
        command.env("PINION_TEST_PAUSE_AT", point);
    }
    command
}

/// `pinion serve` (with its background refresher) on the setup's data
/// directory and simulator.
fn serve_command(setup: &Setup, pause_at: Option<&str>) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pinion"));
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PINION_DATA_DIR", setup.dir.path())
        .env("PINTEREST_OAUTH_URL", setup.sim.oauth_url())
        .env("PINTEREST_API_URL", setup.sim.api_url())
        .env_remove("PINION_DATABASE_URL")
        .env_remove("PINION_MASTER_KEY")
        .env_remove("PINION_MASTER_KEY_FILE")
        .env_remove("PINION_PUBLIC_URL")
        .env_remove("PINION_LISTEN")
        .env_remove("PINION_TEST_PAUSE_AT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(point) = pause_at {
        command.env("PINION_TEST_PAUSE_AT", point);
    }
    command
}

/// Runs `command` until it pauses at `point`, then kills it with SIGKILL.
async fn kill_command_at(mut command: tokio::process::Command, point: &str) {
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let marker = format!("PINION_TEST_PAUSED_AT={point}");
    let paused = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.trim() == marker {
                return true;
            }
        }
        false
    })
    .await
    .expect("the child paused within a minute");
    assert!(paused, "the child ended without pausing at {point}");
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "the child was killed");
}

/// Runs the refresh until it pauses at `point`, then kills it with SIGKILL.
async fn kill_at(setup: &Setup, point: &str) {
    kill_command_at(refresh_command(setup, Some(point)), point).await;
}

/// Restarts as `pinion serve` would on a single node (every in-flight
/// marker belongs to a dead process) and checks the invariant. Returns the
/// status the credential ended in.
async fn recover_and_check(setup: &Setup) -> CredentialStatus {
    let store = open_store(setup.dir.path()).await;
    let manager = Arc::new(TokenManager::new(
        store.clone(),
        oauth(&setup.sim),
        Arc::new(SystemClock),
        RefreshPolicy::default(),
    ));
    Refresher::new(manager.clone(), RefresherConfig::default())
        .recover_interrupted(Duration::ZERO)
        .await
        .unwrap();
    let record = store.get_credential(&setup.id).await.unwrap();
    assert!(
        record.refresh.started_at.is_none(),
        "the refresh is still marked in flight after recovery"
    );
    match record.status {
        CredentialStatus::Active => {
            // The current access token works, and the stored refresh token is
            // the one the simulator accepts.
            let secrets = store.credential_secrets(&setup.id).await.unwrap();
            let account = reqwest::Client::new()
                .get(format!("{}/user_account", setup.sim.api_url()))
                .bearer_auth(secrets.access_token.unwrap().expose_secret())
                .send()
                .await
                .unwrap();
            assert_eq!(account.status(), 200, "the current access token is stale");
            manager
                .refresh(&setup.id)
                .await
                .expect("the stored refresh token is accepted");
        }
        CredentialStatus::NeedsReauthorization => {
            let reason = record.last_error.clone().unwrap_or_default();
            assert!(reason.contains("refresh outcome unknown"), "{reason}");
            // Authorizing again makes it usable.
            authorize(setup, &store).await;
            assert_eq!(
                store.get_credential(&setup.id).await.unwrap().status,
                CredentialStatus::Active
            );
        }
        other => panic!("the credential ended {other:?}"),
    }
    store.close().await;
    record.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_killed_at_each_point_ends_active_or_clearly_needing_reauthorization() {
    for (point, expected_requests, expected) in [
        // Nothing reached Pinterest: the old refresh token still works.
        ("before_request", 0, CredentialStatus::Active),
        // Pinterest rotated, the answer died with the process: the stored
        // refresh token is spent, which the recovery finds out once.
        ("after_response", 1, CredentialStatus::NeedsReauthorization),
        // The new tokens were committed before the kill.
        ("after_write", 1, CredentialStatus::Active),
    ] {
        let setup = setup().await;
        setup.sim.control().reset_stats().await.unwrap();
        kill_at(&setup, point).await;
        let stats = setup.sim.control().stats().await.unwrap();
        assert_eq!(
            stats.grant_type("refresh_token"),
            expected_requests,
            "{point}: {stats:?}"
        );
        let status = recover_and_check(&setup).await;
        assert_eq!(status, expected, "{point}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_killed_at_spread_moments_never_leave_a_stale_or_stuck_credential() {
    let setup = setup().await;
    // How long one refresh process takes here, to spread the kills over it.
    let started = std::time::Instant::now();
    let output = refresh_command(&setup, None).output().await.unwrap();
    assert!(output.status.success(), "{output:?}");
    let span = started.elapsed();
    let mut outcomes = std::collections::BTreeMap::new();
    for step in 0..16u32 {
        let mut child = refresh_command(&setup, None).spawn().unwrap();
        tokio::time::sleep(span * step / 15).await;
        let _ = child.start_kill();
        let _ = child.wait().await;
        let status = recover_and_check(&setup).await;
        *outcomes.entry(format!("{status:?}")).or_insert(0) += 1;
    }
    eprintln!("outcomes of the spread kills: {outcomes:?}");
    // Every kill ended in one of the two clear states (checked above).
    assert_eq!(outcomes.values().sum::<i32>(), 16, "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_resolves_the_refresh_its_killed_predecessor_held_without_waiting_out_the_lease()
 {
    let setup = setup().await;
    // The access token expired: the server's refresher claims it at start.
    let store = open_store(setup.dir.path()).await;
    let secrets = store.credential_secrets(&setup.id).await.unwrap();
    store
        .set_tokens(
            &setup.id,
            &pinion_store::TokenSet {
                access_token: secrets.access_token.unwrap(),
                access_token_expires_at: Some(chrono::Utc::now() - chrono::Duration::seconds(5)),
                refresh_token: None,
                refresh_token_expires_at: None,
                granted_scopes: None,
            },
            secrets.record.version,
        )
        .await
        .unwrap();
    setup.sim.control().reset_stats().await.unwrap();

    // The server dies holding the lease, before its token request.
    kill_command_at(
        serve_command(&setup, Some("before_request")),
        "before_request",
    )
    .await;
    let stuck = store.get_credential(&setup.id).await.unwrap();
    let lease_started = stuck
        .refresh
        .started_at
        .expect("the killed server held the refresh lease");
    assert!(
        stuck
            .refresh
            .attempt_id
            .as_deref()
            .is_some_and(|attempt| attempt.contains("@inst_")),
        "the lease names the process that held it: {:?}",
        stuck.refresh.attempt_id
    );
    let stats = setup.sim.control().stats().await.unwrap();
    assert_eq!(stats.grant_type("refresh_token"), 0, "{stats:?}");

    // The restarted server sees that the lease's process is gone and
    // refreshes at start, long before the 120 s lease would have run out.
    let mut second = serve_command(&setup, None).spawn().unwrap();
    let resolved = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let record = store.get_credential(&setup.id).await.unwrap();
            if record.refresh.started_at.is_none() {
                return record;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the restarted server resolved the stuck refresh within a minute");
    assert_eq!(
        resolved.status,
        CredentialStatus::Active,
        "{:?}",
        resolved.last_error
    );
    assert!(
        resolved
            .last_refreshed_at
            .is_some_and(|at| at > lease_started),
        "the restarted server stored new tokens"
    );
    let stats = setup.sim.control().stats().await.unwrap();
    assert_eq!(stats.grant_type("refresh_token"), 1, "{stats:?}");
    second.start_kill().unwrap();
    let _ = second.wait().await;
    store.close().await;
    assert_eq!(recover_and_check(&setup).await, CredentialStatus::Active);
}
