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

mod support;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use pinion_domain::{CredentialId, CredentialStatus, SystemClock};
use pinion_service::oauth::RedirectUri;
use pinion_service::{
    Authorizations, RefreshPolicy, Refresher, RefresherConfig, TokenManager, Users,
};
use pinion_simulator::{RunningSimulator, SimConfig};
use pinion_store::{Store, User};
use pinion_testkit::{REDIRECT, oauth};
use tokio::io::{AsyncBufReadExt, BufReader};

/// One credential on a data directory, authorized against a simulator.
struct Setup {
    sim: RunningSimulator,
    dir: tempfile::TempDir,
    owner: User,
    id: CredentialId,
}

async fn open_store(dir: &Path) -> Arc<dyn Store> {
    pinion_testkit::open_data_dir(dir).await
}

async fn setup() -> Setup {
    let (sim, app) = pinion_testkit::simulator(
        SimConfig::for_tests(),
        "Crash",
        pinion_simulator::DataShape::empty(),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path()).await;
    let (owner, _) = Users::new(store.clone())
        .create(pinion_service::Actor::Operator, "alice", false)
        .await
        .unwrap();
    let record = pinion_testkit::create_credential(
        &store,
        &owner,
        &app,
        "Crash",
        "boards:read,user_accounts:read",
    )
    .await;
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
    pinion_testkit::authorize(&authorizations, &setup.owner, &setup.id).await;
}

/// A `pinion` command on the setup's data directory, its output unread.
fn pinion(setup: &Setup, pause_at: Option<&str>) -> tokio::process::Command {
    let mut command = support::pinion(setup.dir.path(), &setup.sim);
    command.stdout(Stdio::null());
    if let Some(point) = pause_at {
        command.env("PINION_TEST_PAUSE_AT", point);
    }
    command
}

/// `pinion credentials refresh ID` on the setup's data directory.
fn refresh_command(setup: &Setup, pause_at: Option<&str>) -> tokio::process::Command {
    let mut command = pinion(setup, pause_at);
    command.args(["credentials", "refresh", setup.id.as_str()]);
    command
}

/// `pinion serve` (with its background refresher) on the setup's data
/// directory and simulator.
fn serve_command(setup: &Setup, pause_at: Option<&str>) -> tokio::process::Command {
    let mut command = pinion(setup, pause_at);
    command.args(["serve", "--listen", "127.0.0.1:0"]);
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
    pinion_testkit::make_due(&store, std::slice::from_ref(&setup.id)).await;
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
