//! Shared set-up of the multi-credential tests and the refresh benchmark: a
//! simulator with one app and an auto-approving user, fresh databases
//! (a SQLite file, or a PostgreSQL database when `PINION_TEST_POSTGRES_URL`
//! is set, dropped again at the end), many credentials authorized through the
//! real flow, and "replicas": token managers with their own connection pools
//! on one database.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use pinion_domain::{
    AuthorizationCode, ClientSecret, CredentialId, CredentialInput, OAuthState, SystemClock,
};
use pinion_oauth::{OAuthConfig, PinterestOAuth, RedirectUri};
use pinion_service::{Authorizations, CallbackParams, Credentials, RefreshPolicy, TokenManager};
use pinion_simulator::{AppInfo, RunningSimulator, SimConfig, UserSpec};
use pinion_store::{ConnectOptions, KeySource, Keyring, Store, TokenSet, User};

/// The redirect URI of the test app (no server runs; the flow is completed
/// by calling the service directly).
pub const REDIRECT: &str = "http://127.0.0.1:8080/oauth/pinterest/callback";
/// The environment variable naming a PostgreSQL server for the tests.
pub const POSTGRES_ENV: &str = "PINION_TEST_POSTGRES_URL";

/// A database for one test: a SQLite file in a temporary directory, or a
/// fresh PostgreSQL database dropped when this is dropped.
pub struct TestDb {
    /// What `pinion_store::connect` takes.
    pub location: String,
    /// The keyring every connection shares.
    pub keyring: Arc<Keyring>,
    /// The temporary directory (the SQLite file lives here).
    pub dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A fresh SQLite database.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            location: dir.path().join("pinion.db").display().to_string(),
            keyring: Arc::new(Keyring::generate()),
            dir,
            postgres: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (said on stderr) without
    /// `PINION_TEST_POSTGRES_URL`.
    pub fn postgres(test: &str) -> Option<Self> {
        let Ok(admin) = std::env::var(POSTGRES_ENV) else {
            // Written past the test harness's capture, so the skip shows.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "skipped the PostgreSQL run of `{test}`: {POSTGRES_ENV} is not set"
            );
            return None;
        };
        let name = format!("pinion_svc_{}", &CredentialId::generate().as_str()[5..21]);
        psql(&admin, &format!("CREATE DATABASE \"{name}\""));
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        Some(Self {
            location: url.to_string(),
            keyring: Arc::new(Keyring::generate()),
            dir: tempfile::tempdir().unwrap(),
            postgres: Some((admin, name)),
        })
    }

    /// True for PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// A new connection pool on this database (one per "replica").
    pub async fn connect(&self, max_connections: u32) -> Arc<dyn Store> {
        pinion_store::connect_with(
            &self.location,
            KeySource::Given(self.keyring.clone()),
            ConnectOptions {
                max_connections,
                busy_timeout: Duration::from_secs(30),
                ..ConnectOptions::default()
            },
        )
        .await
        .unwrap()
        .store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.postgres {
            psql(
                admin,
                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            );
        }
    }
}

fn psql(url: &str, sql: &str) {
    let status = std::process::Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("psql on the PATH");
    assert!(status.success(), "psql failed: {sql}");
}

/// A simulator with one app (redirect [`REDIRECT`]) and the auto-approving
/// user `pinner`.
pub async fn simulator(config: SimConfig) -> (RunningSimulator, AppInfo) {
    let sim = pinion_simulator::spawn(config).await.unwrap();
    let app = sim
        .control()
        .register_test_app("Pinion fleet", REDIRECT)
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
    (sim, app)
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

/// A token manager (one replica's) over `store`.
pub fn manager(store: Arc<dyn Store>, sim: &RunningSimulator) -> Arc<TokenManager> {
    Arc::new(TokenManager::new(
        store,
        oauth(sim),
        Arc::new(SystemClock),
        RefreshPolicy::default(),
    ))
}

/// Creates user `alice` and `count` credentials for `app`, authorizes each
/// through the real flow (`concurrency` at a time) and returns the owner
/// and the ids.
pub async fn authorized_credentials(
    store: &Arc<dyn Store>,
    sim: &RunningSimulator,
    app: &AppInfo,
    count: usize,
    concurrency: usize,
) -> (User, Vec<CredentialId>) {
    let (alice, _) = pinion_service::Users::new(store.clone())
        .create("alice", false)
        .await
        .unwrap();
    let credentials = Credentials::new(store.clone());
    let authorizations = Authorizations::new(
        store.clone(),
        oauth(sim),
        RedirectUri::parse(REDIRECT).unwrap(),
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let ids: Vec<CredentialId> = futures::stream::iter(0..count)
        .map(|n| {
            let (credentials, authorizations, http, alice) = (
                credentials.clone(),
                authorizations.clone(),
                http.clone(),
                alice.clone(),
            );
            async move {
                let record = credentials
                    .create(
                        &alice,
                        &alice.id,
                        &CredentialInput {
                            name: format!("Fleet {n:05}"),
                            description: None,
                            client_id: app.client_id.clone(),
                            client_secret: Some(ClientSecret::new(app.client_secret.clone())),
                            scopes: Some("boards:read,user_accounts:read".into()),
                        },
                    )
                    .await
                    .unwrap();
                let started = authorizations
                    .start(&alice, &record.id, None)
                    .await
                    .unwrap();
                let consent = http.get(started.url.as_str()).send().await.unwrap();
                assert_eq!(consent.status(), 302);
                let location =
                    url::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
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
                record.id
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    (alice, ids)
}

/// Makes every credential's access token look expired (keeping its refresh
/// token), so each one is due for a refresh.
pub async fn make_due(store: &Arc<dyn Store>, ids: &[CredentialId]) {
    futures::stream::iter(ids)
        .for_each_concurrent(8, |id| async move {
            let secrets = store.credential_secrets(id).await.unwrap();
            store
                .set_tokens(
                    id,
                    &TokenSet {
                        access_token: secrets.access_token.unwrap(),
                        access_token_expires_at: Some(
                            chrono::Utc::now() - chrono::Duration::seconds(5),
                        ),
                        refresh_token: None,
                        refresh_token_expires_at: None,
                        granted_scopes: None,
                    },
                    secrets.record.version,
                )
                .await
                .unwrap();
        })
        .await;
}
