//! Helpers shared by the `pinion` binary's process tests, on top of
//! `pinion_testkit` (simulator, databases, headless authorization, waiting):
//! an authorized credential of user `alice`, `pinion` commands and `pinion
//! serve` children, and exactly-once checks of synced records against the
//! simulator's data set.
#![allow(dead_code)]

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use pinion_domain::CredentialId;
use pinion_service::oauth::RedirectUri;
use pinion_service::{Authorizations, Users};
use pinion_simulator::{AppInfo, RunningSimulator, SimConfig};
use pinion_store::Store;
// Not every test binary uses every helper.
#[allow(unused_imports)]
pub use pinion_testkit::{
    PINNER, REDIRECT, ServerOutput, TestDatabase, authorize, no_redirects, oauth, open_data_dir,
    wait_for,
};

/// The simulated user, as the run tests name it.
pub const USERNAME: &str = PINNER;

/// A simulator with one app (redirect [`REDIRECT`]) and the auto-approving
/// user [`PINNER`] holding `data`.
pub async fn simulator(
    app_name: &str,
    data: pinion_simulator::DataShape,
) -> (RunningSimulator, AppInfo) {
    pinion_testkit::simulator(SimConfig::for_tests(), app_name, data).await
}

/// A user `alice` with an API token, and one authorized credential of the
/// simulated app.
pub struct Authorized {
    pub owner: pinion_store::User,
    pub api_token: String,
    pub id: CredentialId,
}

/// Creates [`Authorized`] on `store` against `sim`, with the default test
/// scopes.
pub async fn authorized_credential(
    store: &Arc<dyn Store>,
    sim: &RunningSimulator,
    app: &AppInfo,
) -> Authorized {
    authorized_with_scopes(store, sim, app, "boards:read,user_accounts:read").await
}

/// [`authorized_credential`] as `(API token, credential id)`, with `scopes`.
pub async fn seed(
    store: &Arc<dyn Store>,
    sim: &RunningSimulator,
    app: &AppInfo,
    scopes: &str,
) -> (String, String) {
    let authorized = authorized_with_scopes(store, sim, app, scopes).await;
    (authorized.api_token, authorized.id.as_str().to_owned())
}

/// Creates [`Authorized`] on `store` against `sim`, asking for `scopes`.
pub async fn authorized_with_scopes(
    store: &Arc<dyn Store>,
    sim: &RunningSimulator,
    app: &AppInfo,
    scopes: &str,
) -> Authorized {
    let (owner, token) = Users::new(store.clone())
        .create(pinion_service::Actor::Operator, "alice", false)
        .await
        .unwrap();
    let record = pinion_testkit::create_credential(store, &owner, app, "Boards", scopes).await;
    let authorizations = Authorizations::new(
        store.clone(),
        oauth(sim),
        RedirectUri::parse(REDIRECT).unwrap(),
    );
    authorize(&authorizations, &owner, &record.id).await;
    Authorized {
        owner,
        api_token: token.expose_secret().to_owned(),
        id: record.id,
    }
}

/// Pinion's store on `database`, sealed with a new key file in `dir`;
/// returns it and the key file (for `pinion serve` on the same database).
pub async fn postgres_store(
    database: &TestDatabase,
    dir: &Path,
) -> (Arc<dyn Store>, std::path::PathBuf) {
    let key_file = dir.join("master.key");
    pinion_store::keys::generate_key_file(&key_file).unwrap();
    let store = pinion_store::connect(
        &database.url,
        pinion_store::KeySource::File(key_file.clone()),
    )
    .await
    .unwrap()
    .store;
    (store, key_file)
}

/// The authorization URL a `pinion credentials authorize` child prints on
/// stdout, waited for up to `limit`; stdout is drained after it so the child
/// never blocks on a full pipe.
pub async fn authorize_url(
    child: &mut tokio::process::Child,
    limit: std::time::Duration,
) -> String {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(limit, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("http") {
                return line;
            }
        }
        panic!("pinion credentials authorize printed no URL");
    })
    .await
    .unwrap_or_else(|_| panic!("the URL within {limit:?}"));
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    url
}

/// Points `command` (a `pinion` child) at `data_dir` and clears every
/// setting it could pick up from the test's environment; stdin closed,
/// stdout and stderr piped, killed on drop. Set what the test needs after.
pub fn isolated(command: &mut tokio::process::Command, data_dir: &Path) {
    command
        .env("PINION_DATA_DIR", data_dir)
        .env_remove("PINION_DATABASE_URL")
        .env_remove("PINION_MASTER_KEY")
        .env_remove("PINION_MASTER_KEY_FILE")
        .env_remove("PINION_PUBLIC_URL")
        .env_remove("PINION_LISTEN")
        .env_remove("PINION_MAX_CONNECTIONS")
        .env_remove("PINION_DATABASE_ACQUIRE_TIMEOUT_MS")
        .env_remove("PINION_TEST_PAUSE_AT")
        .env_remove("PINION_LOG")
        .env_remove("PINION_MIN_SCHEDULE_INTERVAL")
        .env_remove("PINTEREST_OAUTH_URL")
        .env_remove("PINTEREST_API_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
}

/// A `pinion` command with no ambient settings, quiet, talking to `sim`.
pub fn pinion(data_dir: &Path, sim: &RunningSimulator) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pinion"));
    isolated(&mut command, data_dir);
    command
        .env("PINTEREST_OAUTH_URL", sim.oauth_url())
        .env("PINTEREST_API_URL", sim.api_url());
    command
}

/// A running `pinion serve` child.
pub struct Server {
    pub child: tokio::process::Child,
    pub url: String,
    /// Everything it wrote to stderr so far.
    pub output: ServerOutput,
}

impl Server {
    /// Starts `pinion serve --listen 127.0.0.1:0` (on PostgreSQL when
    /// `database_url` is given, with `key_file`) and waits for its address.
    pub async fn start(
        data_dir: &Path,
        sim: &RunningSimulator,
        database_url: Option<&str>,
        key_file: Option<&Path>,
    ) -> Self {
        Self::start_with(data_dir, sim, database_url, key_file, &[]).await
    }

    /// [`Server::start`] with `env` set too.
    pub async fn start_with(
        data_dir: &Path,
        sim: &RunningSimulator,
        database_url: Option<&str>,
        key_file: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Self {
        let mut command = pinion(data_dir, sim);
        command.envs(env.iter().copied());
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("PINION_LOG", "info");
        if let Some(url) = database_url {
            command.env("PINION_DATABASE_URL", url);
        }
        if let Some(key_file) = key_file {
            command.env("PINION_MASTER_KEY_FILE", key_file);
        }
        let mut child = command.spawn().unwrap();
        let (output, url) =
            ServerOutput::read_address(child.stderr.take().unwrap(), SERVING_BANNER).await;
        Self { child, url, output }
    }

    /// SIGTERM, as a service manager stops it; waits for the exit and
    /// returns what it logged.
    pub async fn terminate(mut self) -> String {
        let pid = self.child.id().expect("running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let _ = self.child.wait().await;
        self.output.text()
    }

    /// Kills the process at once (SIGKILL) and waits for it.
    pub async fn kill(mut self) -> String {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        self.output.text()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        self.output.text()
    }
}

/// The start of the line `pinion serve` prints when it is ready, before its
/// address.
pub const SERVING_BANNER: &str = "Pinion is serving on ";

/// What `pinion serve --simulator` prints about its embedded simulator.
#[derive(Debug, Default)]
pub struct SimulatorBanner {
    pub oauth_url: String,
    pub api_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    pub username: String,
    pub password: String,
}

impl SimulatorBanner {
    /// Reads the banner from the server's stderr `lines` (from
    /// [`ServerOutput::collect`]), waiting up to two minutes.
    pub async fn read(lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> Self {
        let mut banner = Self::default();
        let read = async {
            while let Some(line) = lines.recv().await {
                let line = line.trim();
                let value = |prefix: &str| line.strip_prefix(prefix).map(|v| v.trim().to_owned());
                if let Some(v) = value("PINTEREST_OAUTH_URL=") {
                    banner.oauth_url = v;
                } else if let Some(v) = value("PINTEREST_API_URL=") {
                    banner.api_url = v;
                } else if let Some(v) = value("client id:") {
                    banner.client_id = v;
                } else if let Some(v) = value("client secret:") {
                    banner.client_secret = v;
                } else if let Some(v) = value("redirect URI:") {
                    banner.redirect_uri = v;
                } else if let Some(v) = value("username:") {
                    banner.username = v;
                } else if let Some(v) = value("password:") {
                    banner.password = v;
                } else if line.starts_with("For `pinion credentials") {
                    return;
                }
            }
            panic!("pinion serve ended before printing its banner");
        };
        tokio::time::timeout(std::time::Duration::from_secs(120), read)
            .await
            .expect("the banner within two minutes");
        banner
    }
}

/// The `id` of every line of a JSON Lines file.
pub fn jsonl_ids(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Asserts `got` holds every id the simulator lists for `stream`, once.
pub async fn assert_exact(
    sim: &RunningSimulator,
    stream: pinion_simulator::Stream,
    got: Vec<String>,
) {
    let mut counts: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    for id in &got {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let duplicates: std::collections::BTreeMap<&str, u32> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, n)| (*id, *n))
        .collect();
    assert!(
        duplicates.is_empty(),
        "{stream:?}: {} duplicated ids, e.g. {:?}",
        duplicates.len(),
        duplicates.iter().take(5).collect::<Vec<_>>()
    );
    let mut expected = sim.control().expected_ids(USERNAME, stream).await.unwrap();
    let mut got = got;
    expected.sort();
    got.sort();
    assert_eq!(got.len(), expected.len(), "{stream:?}: count differs");
    assert_eq!(got, expected, "{stream:?}: ids differ");
}
