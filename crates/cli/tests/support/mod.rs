//! Helpers shared by the `pinion` binary's process tests: fresh PostgreSQL
//! databases, a simulator with an auto-approving user, the headless
//! authorization flow through the service library, `pinion serve` children
//! whose address is read from their banner, and exactly-once checks of
//! synced records against the simulator's data set.
#![allow(dead_code)]

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pinion_domain::{
    AuthorizationCode, ClientSecret, CredentialId, CredentialInput, OAuthState, SystemClock,
};
use pinion_service::oauth::{OAuthConfig, PinterestOAuth, RedirectUri};
use pinion_service::{Authorizations, CallbackParams, Credentials, Users};
use pinion_simulator::{AppInfo, DataShape, RunningSimulator, SimConfig, UserSpec};
use pinion_store::{KeySource, Store};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The redirect URI the simulated app registers; the tests complete flows
/// through the library, so nothing listens there.
pub const REDIRECT: &str = "http://127.0.0.1:8080/oauth/pinterest/callback";

/// The simulated Pinterest user who approves every request.
pub const PINNER: &str = "pinner";
/// The same user, as the run tests name it.
pub const USERNAME: &str = PINNER;

/// A fresh PostgreSQL database, dropped (with its connections) at the end.
pub struct TestDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    /// A new database on `PINION_TEST_POSTGRES_URL`'s server, or `None`
    /// (saying so) when it is not set.
    pub async fn create(test: &str) -> Option<Self> {
        let Ok(admin_url) = std::env::var("PINION_TEST_POSTGRES_URL") else {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test}: PINION_TEST_POSTGRES_URL is not set"
            );
            return None;
        };
        let name = format!("pinion_test_{}", &CredentialId::generate().as_str()[5..21]);
        let created = std::process::Command::new("psql")
            .arg(&admin_url)
            .arg("-qc")
            .arg(format!("CREATE DATABASE \"{name}\""))
            .output()
            .expect("psql must be installed for the PostgreSQL tests");
        assert!(created.status.success(), "{created:?}");
        let mut url = reqwest::Url::parse(&admin_url).unwrap();
        url.set_path(&name);
        Some(Self {
            admin_url,
            name,
            url: url.to_string(),
        })
    }

    /// This database's URL with its port replaced (to go through a relay).
    pub fn url_via(&self, port: u16) -> String {
        let mut url = reqwest::Url::parse(&self.url).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(port)).unwrap();
        url.to_string()
    }

    /// The server's address, for a relay in front of it.
    pub fn server_addr(&self) -> std::net::SocketAddr {
        let url = reqwest::Url::parse(&self.url).unwrap();
        let host = match url.host_str() {
            Some("localhost") | None => "127.0.0.1",
            Some(host) => host,
        };
        format!("{host}:{}", url.port().unwrap_or(5432))
            .parse()
            .expect("the test database is reached by IP address or localhost")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .arg(&self.admin_url)
            .arg("-qc")
            .arg(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

/// The OAuth client for `sim`.
pub fn oauth(sim: &RunningSimulator) -> Arc<PinterestOAuth> {
    Arc::new(
        PinterestOAuth::new(
            OAuthConfig::from_urls(&sim.oauth_url(), &sim.api_url()).unwrap(),
            Arc::new(SystemClock),
        )
        .unwrap(),
    )
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A simulator with one app (redirect [`REDIRECT`]) and the auto-approving
/// user [`PINNER`] holding `data`.
pub async fn simulator(app_name: &str, data: DataShape) -> (RunningSimulator, AppInfo) {
    let sim = pinion_simulator::spawn(SimConfig::for_tests())
        .await
        .unwrap();
    let app = sim
        .control()
        .register_test_app(app_name, REDIRECT)
        .await
        .unwrap();
    sim.control()
        .register_user(&UserSpec {
            username: PINNER.into(),
            password: "pw".into(),
            account_type: pinion_simulator::AccountType::Business,
            auto_approve: true,
            data,
        })
        .await
        .unwrap();
    (sim, app)
}

/// The whole flow for `id`, headless (the simulator's user auto-approves).
pub async fn authorize(
    authorizations: &Authorizations,
    owner: &pinion_store::User,
    id: &CredentialId,
) {
    let started = authorizations.start(owner, id, None).await.unwrap();
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
        .create("alice", false)
        .await
        .unwrap();
    let record = Credentials::new(store.clone())
        .create(
            &owner,
            &owner.id,
            &CredentialInput {
                name: "Boards".into(),
                description: None,
                client_id: app.client_id.clone(),
                client_secret: Some(ClientSecret::new(app.client_secret.clone())),
                scopes: Some(scopes.into()),
            },
        )
        .await
        .unwrap();
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

/// The embedded store of `data_dir`, as the `pinion` binary opens it.
pub async fn open_data_dir(data_dir: &Path) -> Arc<dyn Store> {
    let db = data_dir.join(pinion_store::DEFAULT_DATABASE_FILE);
    pinion_store::connect(
        db.to_str().unwrap(),
        KeySource::DataDirFile(data_dir.join(pinion_store::keys::DEFAULT_KEY_FILE)),
    )
    .await
    .unwrap()
    .store
}

/// A `pinion` command with no ambient settings, quiet, talking to `sim`.
pub fn pinion(data_dir: &Path, sim: &RunningSimulator) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pinion"));
    command
        .env("PINION_DATA_DIR", data_dir)
        .env("PINTEREST_OAUTH_URL", sim.oauth_url())
        .env("PINTEREST_API_URL", sim.api_url())
        .env_remove("PINION_DATABASE_URL")
        .env_remove("PINION_MASTER_KEY")
        .env_remove("PINION_MASTER_KEY_FILE")
        .env_remove("PINION_PUBLIC_URL")
        .env_remove("PINION_LISTEN")
        .env_remove("PINION_TEST_PAUSE_AT")
        .env_remove("PINION_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// A running `pinion serve` child.
pub struct Server {
    pub child: tokio::process::Child,
    pub url: String,
    /// Everything it wrote to stderr so far.
    pub log: Arc<Mutex<String>>,
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
        let mut command = pinion(data_dir, sim);
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
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let sink = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
                drop(log);
                let _ = tx.send(line);
            }
        });
        let url = tokio::time::timeout(Duration::from_secs(120), async {
            while let Some(line) = rx.recv().await {
                if let Some(rest) = line.strip_prefix("Pinion is serving on ") {
                    let address = rest.split_whitespace().next().unwrap();
                    return address.to_owned();
                }
            }
            panic!("pinion serve ended before printing its address");
        })
        .await
        .expect("pinion serve printed its address within two minutes");
        Self { child, url, log }
    }

    /// Kills the process at once (SIGKILL) and waits for it.
    pub async fn kill(mut self) -> String {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        self.log.lock().unwrap().clone()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

/// Waits up to `limit` for `condition`, polling every 100 ms.
pub async fn wait_for<F, Fut>(limit: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
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
