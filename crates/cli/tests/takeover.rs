//! Runs that outlive their process (issue 12), with real `pinion serve`
//! processes: a large source run is started through the API, the server
//! running it is killed with SIGKILL mid-run, and the run is taken over (by
//! the other replica on PostgreSQL, by the restarted server on SQLite),
//! resumed from its checkpoint and finished: every record of the
//! simulator's data set exactly once in the output, the run page saying it
//! was taken over, and fewer page requests after the kill than a whole run
//! makes. On PostgreSQL the owner first renews its lease by heartbeat while
//! the other replica leaves the live run alone; a server stopped with
//! SIGTERM releases its run's lease for the next start. The owner's webhook
//! receiver on loopback gets `run.taken_over` for the run from the server
//! that took it over (issue 14).
//!
//! The PostgreSQL test runs when `PINION_TEST_POSTGRES_URL` names a server
//! (a fresh database is created and dropped); otherwise it says it was
//! skipped.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pinion_simulator::{AppInfo, DataShape, FaultKind, FaultSpec, RunningSimulator};
use pinion_store::{KeySource, Store};
use pinion_testkit::ServerOutput;
use serde_json::{Value, json};

use support::{assert_exact, jsonl_ids, seed};

const SCOPES: &str = "boards:read,pins:read,user_accounts:read";
const BOARDS: u32 = 60;
const PINS_PER_BOARD: u64 = 500;
/// Pages of one board's pins (250 a page).
const PAGES_PER_BOARD: u64 = PINS_PER_BOARD.div_ceil(250);

/// Where the servers keep their data: a SQLite file in the data directory,
/// or a PostgreSQL database with a key file.
struct Backend {
    data_dir: tempfile::TempDir,
    database: Option<support::TestDatabase>,
}

impl Backend {
    fn key_file(&self) -> PathBuf {
        self.data_dir.path().join("master.key")
    }

    async fn store(&self) -> Arc<dyn Store> {
        let (location, keys) = match &self.database {
            Some(db) => {
                if !self.key_file().exists() {
                    pinion_store::keys::generate_key_file(&self.key_file()).unwrap();
                }
                (db.url.clone(), KeySource::File(self.key_file()))
            }
            None => (
                self.data_dir
                    .path()
                    .join("pinion.db")
                    .to_str()
                    .unwrap()
                    .to_owned(),
                KeySource::DataDirFile(self.key_file()),
            ),
        };
        pinion_store::connect(&location, keys).await.unwrap().store
    }
}

/// A running `pinion serve`, its address, and every stderr line so far.
struct Server {
    child: tokio::process::Child,
    base: String,
    output: ServerOutput,
}

impl Server {
    async fn start(backend: &Backend, sim: &RunningSimulator) -> Self {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pinion"));
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--webhook-allow-loopback",
            ])
            .env("PINION_DATA_DIR", backend.data_dir.path())
            .env("PINTEREST_OAUTH_URL", sim.oauth_url())
            .env("PINTEREST_API_URL", sim.api_url())
            .env("RUST_LOG", "info")
            .env_remove("PINION_MASTER_KEY")
            .env_remove("PINION_PUBLIC_URL")
            .env_remove("PINION_LISTEN")
            .env_remove("PINION_TEST_PAUSE_AT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        match &backend.database {
            Some(db) => command
                .env("PINION_DATABASE_URL", &db.url)
                .env("PINION_MASTER_KEY_FILE", backend.key_file()),
            None => command
                .env_remove("PINION_DATABASE_URL")
                .env_remove("PINION_MASTER_KEY_FILE"),
        };
        let mut child = command.spawn().unwrap();
        let (output, base) =
            ServerOutput::read_address(child.stderr.take().unwrap(), "Pinion is serving on ").await;
        Self {
            child,
            base,
            output,
        }
    }

    fn log(&self) -> String {
        self.output.text()
    }

    /// SIGTERM, as a service manager stops it; waits for the exit.
    async fn terminate(&mut self) {
        let pid = self.child.id().unwrap().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("the server stopped within a minute of SIGTERM")
            .unwrap();
        assert!(status.success(), "{status:?}\n{}", self.log());
    }

    async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

/// A simulator with one user holding 60 boards of 500 pins, every page of
/// board pins slowed down by `latency_ms` so a run takes many seconds.
async fn simulator(latency_ms: u64) -> (RunningSimulator, AppInfo) {
    let (sim, app) = support::simulator(
        "Runs",
        DataShape {
            boards: BOARDS,
            sections_per_board: 0,
            pins_per_board: PINS_PER_BOARD,
            pins_per_section: 0,
            ad_accounts: 0,
            secret_share: 0.0,
            protected_share: 0.0,
            video_share: 0.0,
        },
    )
    .await;
    sim.control()
        .inject_fault(&FaultSpec {
            path_prefix: "/v5/boards/".into(),
            method: Some("GET".into()),
            kind: FaultKind::Latency { ms: latency_ms },
            count: None,
            duration_ms: None,
        })
        .await
        .unwrap();
    (sim, app)
}

/// A webhook receiver on 127.0.0.1 that keeps every body it gets and
/// answers 204.
async fn start_receiver() -> (Arc<std::sync::Mutex<Vec<Value>>>, String) {
    let got: Arc<std::sync::Mutex<Vec<Value>>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |axum::extract::State(got): axum::extract::State<
                    Arc<std::sync::Mutex<Vec<Value>>>,
                >,
                 headers: axum::http::HeaderMap,
                 body: String| async move {
                    assert!(headers.contains_key("webhook-signature"), "{headers:?}");
                    got.lock()
                        .unwrap()
                        .push(serde_json::from_str(&body).unwrap());
                    axum::http::StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (got, url)
}

/// Registers `url` for the token's user as an endpoint for `run.taken_over`.
async fn subscribe_to_takeovers(server: &Server, token: &str, url: &str) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/webhooks", server.base))
        .bearer_auth(token)
        .json(&json!({"url": url, "events": ["run.taken_over"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

/// Waits until the receiver has `run.taken_over` for `run` of `source`.
async fn wait_taken_over_event(got: &std::sync::Mutex<Vec<Value>>, source: &str, run: &str) {
    pinion_testkit::wait_for(
        Duration::from_secs(60),
        "the run.taken_over webhook",
        || async {
            got.lock()
                .unwrap()
                .iter()
                .any(|event| event["type"] == "run.taken_over" && event["data"]["run_id"] == run)
        },
    )
    .await;
    let events = got.lock().unwrap().clone();
    let event = events
        .iter()
        .find(|event| event["data"]["run_id"] == run)
        .unwrap();
    assert_eq!(event["data"]["source_id"], source, "{event}");
    assert_eq!(event["data"]["source_name"], "Everything", "{event}");
    assert!(
        event["data"]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{event}"
    );
}

/// Creates a source (boards and board pins into JSON Lines `out`) on
/// `server` and starts a run; returns (source id, owner id, run id).
async fn start_run(server: &Server, token: &str, credential: &str) -> (String, String, String) {
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}/api/v1/sources", server.base))
        .bearer_auth(token)
        .json(&json!({
            "name": "Everything",
            "credential_id": credential,
            "streams": ["boards", "board_pins"],
            "output": {"kind": "jsonl", "path": "out"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let source: Value = response.json().await.unwrap();
    let source_id = source["id"].as_str().unwrap().to_owned();
    let response = http
        .post(format!("{}/api/v1/sources/{source_id}/runs", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    let run: Value = response.json().await.unwrap();
    (
        source_id,
        source["owner"].as_str().unwrap().to_owned(),
        run["id"].as_str().unwrap().to_owned(),
    )
}

async fn get_run(server: &Server, token: &str, source: &str, run: &str) -> Value {
    reqwest::Client::new()
        .get(format!(
            "{}/api/v1/sources/{source}/runs/{run}",
            server.base
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn records(run: &Value, stream: &str) -> u64 {
    run["streams"]
        .as_array()
        .and_then(|streams| streams.iter().find(|s| s["stream"] == stream))
        .and_then(|s| s["records"].as_u64())
        .unwrap_or(0)
}

/// Waits until `server` has committed some board pins of the run, well
/// before its end.
async fn wait_mid_run(server: &Server, token: &str, source: &str, run: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = get_run(server, token, source, run).await;
        assert_ne!(now["status"], "succeeded", "the run ended before the kill");
        assert_ne!(now["status"], "failed", "{now}\n{}", server.log());
        if records(&now, "board_pins") >= 1_000 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no board pins within 2 minutes: {now}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the run's owner renewed its lease by a heartbeat, while the
/// other replica, which scans every few seconds, left it alone.
async fn wait_lease_renewed(store: &Arc<dyn Store>, server: &Server, run: &str) {
    let lease = || async {
        store
            .unfinished_runs()
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.id == run)
            .unwrap_or_else(|| {
                panic!(
                    "the run ended before its lease was renewed\n{}",
                    server.log()
                )
            })
    };
    let first = lease().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = lease().await;
        assert_eq!(
            now.owner_instance, first.owner_instance,
            "taken over while its owner ran"
        );
        assert_eq!(now.takeovers, 0);
        if now.lease_expires_at > first.lease_expires_at + chrono::Duration::seconds(5) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the lease was not renewed within a minute\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits for the run to end on `server` and returns it.
async fn wait_finished(server: &Server, token: &str, source: &str, run: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let now = get_run(server, token, source, run).await;
        if now["status"] == "succeeded" || now["status"] == "failed" {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "the run was not finished within 4 minutes of the kill: {now}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What every test checks once the run finished after the kill.
async fn assert_taken_over_and_exact(
    sim: &RunningSimulator,
    store: &Arc<dyn Store>,
    backend: &Backend,
    finished: &Value,
    owner: &str,
    credential: &str,
) {
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert!(
        finished["taken_over_at"].is_string(),
        "the run says it was taken over: {finished}"
    );
    let out = backend
        .data_dir
        .path()
        .join("outputs")
        .join(owner)
        .join("out");
    assert_exact(
        sim,
        pinion_simulator::Stream::Boards,
        jsonl_ids(&out.join("boards.jsonl")),
    )
    .await;
    assert_exact(
        sim,
        pinion_simulator::Stream::BoardPins,
        jsonl_ids(&out.join("board_pins.jsonl")),
    )
    .await;
    let leftovers: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "boards.jsonl" && name != "board_pins.jsonl")
        .collect();
    assert!(
        leftovers.is_empty(),
        "the folder holds one run's files: {leftovers:?}"
    );

    // Resumed from the checkpoint: the pages read after the kill are fewer
    // than a whole run reads.
    let pages = sim
        .control()
        .stats()
        .await
        .unwrap()
        .endpoint("GET /v5/boards/{board_id}/pins");
    assert!(
        pages < u64::from(BOARDS) * PAGES_PER_BOARD,
        "{pages} board-pin pages after the kill: the run was read again from the start"
    );

    // The credential's activity log says so.
    let activity = store
        .list_activity(&credential.parse().unwrap(), None, 100)
        .await
        .unwrap();
    assert!(
        activity.iter().any(|entry| entry
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("taken over"))),
        "{activity:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_servers_run_is_resumed_by_the_restarted_server_on_sqlite() {
    let (sim, app) = simulator(250).await;
    let backend = Backend {
        data_dir: tempfile::tempdir().unwrap(),
        database: None,
    };
    let store = backend.store().await;
    let (token, credential) = seed(&store, &sim, &app, SCOPES).await;

    let (got, hook) = start_receiver().await;
    let mut server = Server::start(&backend, &sim).await;
    subscribe_to_takeovers(&server, &token, &hook).await;
    let (source, owner, run) = start_run(&server, &token, &credential).await;
    wait_mid_run(&server, &token, &source, &run).await;
    server.kill().await;
    sim.control().reset_stats().await.unwrap();

    let server = Server::start(&backend, &sim).await;
    let finished = wait_finished(&server, &token, &source, &run).await;
    assert_taken_over_and_exact(&sim, &store, &backend, &finished, &owner, &credential).await;
    wait_taken_over_event(&got, &source, &run).await;
    // The source is not blocked: it runs again.
    let again = reqwest::Client::new()
        .post(format!("{}/api/v1/sources/{source}/runs", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_cleanly_releases_its_run_and_the_next_start_resumes_it() {
    let (sim, app) = simulator(250).await;
    let backend = Backend {
        data_dir: tempfile::tempdir().unwrap(),
        database: None,
    };
    let store = backend.store().await;
    let (token, credential) = seed(&store, &sim, &app, SCOPES).await;

    let mut server = Server::start(&backend, &sim).await;
    let (source, owner, run) = start_run(&server, &token, &credential).await;
    wait_mid_run(&server, &token, &source, &run).await;
    server.terminate().await;
    // Stopped without an outcome, its lease released rather than left to
    // run out.
    let left = store.unfinished_runs().await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].id.as_str(), run);
    assert!(
        left[0].lease_expires_at < chrono::Utc::now(),
        "the lease was released: {left:?}"
    );
    sim.control().reset_stats().await.unwrap();

    let server = Server::start(&backend, &sim).await;
    let finished = wait_finished(&server, &token, &source, &run).await;
    assert_taken_over_and_exact(&sim, &store, &backend, &finished, &owner, &credential).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replicas_run_is_finished_by_the_other_replica_on_postgres() {
    let Some(database) = support::TestDatabase::create("the PostgreSQL replica takeover test")
    else {
        return;
    };
    // Slow enough that the run renews its lease before the kill.
    let (sim, app) = simulator(600).await;
    // Both replicas share the data directory: the outputs, and the instance
    // files through which one sees the other die.
    let backend = Backend {
        data_dir: tempfile::tempdir().unwrap(),
        database: Some(database),
    };
    let store = backend.store().await;
    let (token, credential) = seed(&store, &sim, &app, SCOPES).await;

    let (got, hook) = start_receiver().await;
    let mut running = Server::start(&backend, &sim).await;
    let other = Server::start(&backend, &sim).await;
    subscribe_to_takeovers(&running, &token, &hook).await;
    let (source, owner, run) = start_run(&running, &token, &credential).await;
    wait_mid_run(&running, &token, &source, &run).await;
    wait_lease_renewed(&store, &running, &run).await;
    running.kill().await;
    sim.control().reset_stats().await.unwrap();

    let finished = wait_finished(&other, &token, &source, &run).await;
    assert_taken_over_and_exact(&sim, &store, &backend, &finished, &owner, &credential).await;
    wait_taken_over_event(&got, &source, &run).await;
    let again = reqwest::Client::new()
        .post(format!("{}/api/v1/sources/{source}/runs", other.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 202);
    store.close().await;
}
