//! The composition root: [`Pinion`], every service wired to one store, one
//! clock, one OAuth client and one token manager, built from [`Settings`].
//! `pinion serve`, every CLI command and `demo` build the same value, so a
//! default (Pinterest's URLs, the callback path) is defined here once and a
//! service is wired the same way wherever it runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pinion_domain::{Clock, SystemClock};
use pinion_oauth::{OAuthConfig, PinterestOAuth, RedirectUri};
use pinion_pinterest::{BaseUrl, ClientConfig};
use pinion_store::{ChangeFeed, KeyNotice, KeySource, Store, StoreError};
use secrecy::SecretString;
use url::Url;

use crate::{
    Authorizations, Credentials, Destinations, Instances, Keys, Lifecycle, RefreshPolicy,
    Refresher, RefresherConfig, Runs, Schedules, Sessions, Sources, TokenJournal, TokenManager,
    Users,
};

/// Pinterest's consent page, the default of `PINTEREST_OAUTH_URL`.
pub const DEFAULT_PINTEREST_OAUTH_URL: &str = "https://www.pinterest.com/oauth/";
/// Pinterest's API base, the default of `PINTEREST_API_URL` (the API
/// client's own default); the token endpoint is
/// `$PINTEREST_API_URL/oauth/token`.
pub const DEFAULT_PINTEREST_API_URL: &str = pinion_pinterest::DEFAULT_BASE_URL;
/// Where Pinterest sends the browser back, under the public URL.
pub const CALLBACK_PATH: &str = "/oauth/pinterest/callback";
/// The default public URL (`PINION_PUBLIC_URL`): `pinion serve`'s default
/// listen address.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";
/// The embedded database's file name in the data directory.
pub const DATABASE_FILE: &str = pinion_store::DEFAULT_DATABASE_FILE;
/// The generated key file's name in the data directory.
pub const KEY_FILE: &str = pinion_store::keys::DEFAULT_KEY_FILE;
/// `PINION_MASTER_KEY`: the master key (versioned entries), for PostgreSQL.
pub const MASTER_KEY_ENV: &str = pinion_store::keys::MASTER_KEY_ENV;
/// `PINION_MASTER_KEY_FILE`: a file holding the master key entries.
pub const MASTER_KEY_FILE_ENV: &str = pinion_store::keys::MASTER_KEY_FILE_ENV;
/// How long a PostgreSQL call waits for a connection by default.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = pinion_store::DEFAULT_ACQUIRE_TIMEOUT;

/// The callback every flow redirects to: the public URL and [`CALLBACK_PATH`].
pub fn redirect_uri(public_url: &Url) -> String {
    format!(
        "{}{CALLBACK_PATH}",
        public_url.as_str().trim_end_matches('/')
    )
}

/// Where Pinion's state is and how to unseal it. `Debug` shows neither the
/// database URL (it may hold a password) nor the keys.
#[derive(Clone)]
pub struct StoreSettings {
    /// The data directory (`PINION_DATA_DIR`): the embedded database, its
    /// key file, the token journal, instance files and run outputs.
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (`PINION_DATABASE_URL`) to use instead of the
    /// embedded SQLite file.
    pub database_url: Option<String>,
    /// The master key entries (`PINION_MASTER_KEY`).
    pub master_key: Option<SecretString>,
    /// A file of master key entries (`PINION_MASTER_KEY_FILE`).
    pub master_key_file: Option<PathBuf>,
    /// How long a PostgreSQL call waits for a connection before failing.
    pub acquire_timeout: Duration,
    /// How long a SQLite write waits for another process's write to finish
    /// before failing as unavailable.
    pub sqlite_busy_timeout: Duration,
}

/// [`StoreSettings::sqlite_busy_timeout`] for a server: a request that waits
/// this long for the write lock answers 503 rather than hang.
pub const DEFAULT_SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl std::fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSettings")
            .field("data_dir", &self.data_dir)
            .field("postgres", &self.postgres_url().is_some())
            .field("acquire_timeout", &self.acquire_timeout)
            .field("sqlite_busy_timeout", &self.sqlite_busy_timeout)
            .finish_non_exhaustive()
    }
}

impl StoreSettings {
    /// The embedded default in `data_dir`, keys from its key file.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
            database_url: None,
            master_key: None,
            master_key_file: None,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            sqlite_busy_timeout: DEFAULT_SQLITE_BUSY_TIMEOUT,
        }
    }

    fn postgres_url(&self) -> Option<&str> {
        self.database_url
            .as_deref()
            .filter(|url| !url.trim().is_empty())
    }

    /// The database location and the source of its keys.
    fn locate(&self) -> Result<(String, KeySource), StoreError> {
        match self.postgres_url() {
            Some(url) => {
                let keys = KeySource::from_settings(
                    self.master_key.clone(),
                    self.master_key_file.clone(),
                    None,
                )?;
                Ok((url.to_owned(), keys))
            }
            None => {
                let keys = KeySource::from_settings(
                    self.master_key.clone(),
                    self.master_key_file.clone(),
                    Some(&self.data_dir),
                )?;
                let path = self.data_dir.join(DATABASE_FILE);
                Ok((path.display().to_string(), keys))
            }
        }
    }

    /// Opens the store, creating the data directory (0700) first.
    pub(crate) async fn open(
        &self,
        clock: Arc<dyn Clock>,
    ) -> Result<(Arc<dyn Store>, Option<PathBuf>), SetupError> {
        create_data_dir(&self.data_dir)?;
        let (location, keys) = self.locate()?;
        let options = pinion_store::ConnectOptions {
            acquire_timeout: self.acquire_timeout,
            busy_timeout: self.sqlite_busy_timeout,
            clock,
            ..pinion_store::ConnectOptions::default()
        };
        let connected = pinion_store::connect_with(&location, keys, options).await?;
        let generated = connected
            .key_notice
            .map(|KeyNotice::GeneratedKeyFile(path)| path);
        Ok((connected.store, generated))
    }

    /// The key source, for adding a key version before a rotation.
    pub(crate) fn key_source(&self) -> Result<KeySource, StoreError> {
        Ok(self.locate()?.1)
    }
}

/// Creates `dir` and its missing parents, 0700.
pub fn create_data_dir(dir: &Path) -> Result<(), SetupError> {
    pinion_store::private_fs::create_dir_all(dir).map_err(|source| SetupError::DataDir {
        dir: dir.to_owned(),
        source,
    })
}

/// How Pinion reaches Pinterest and the browsers of its users.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The URL browsers reach Pinion at; the callback is under it.
    pub public_url: Url,
    /// Pinterest's consent page (`PINTEREST_OAUTH_URL`).
    pub pinterest_oauth_url: String,
    /// Pinterest's API base (`PINTEREST_API_URL`).
    pub pinterest_api_url: String,
    /// When and how tokens are refreshed.
    pub refresh_policy: RefreshPolicy,
    /// The data directory: token journal, instance files and run outputs.
    /// `None` journals nothing and makes every source run fail saying so.
    pub data_dir: Option<PathBuf>,
    /// The clock every service reads.
    pub clock: Arc<dyn Clock>,
    /// The shortest interval a schedule may have
    /// ([`crate::DEFAULT_MIN_INTERVAL`] unless the operator allows less).
    pub min_schedule_interval: Duration,
    /// Where webhooks may go and how they are retried (issue 14).
    pub notifications: crate::NotificationSettings,
}

impl Settings {
    /// Pinterest's real URLs, the default refresh policy, the system clock.
    pub fn new(public_url: Url) -> Self {
        Self {
            public_url,
            pinterest_oauth_url: DEFAULT_PINTEREST_OAUTH_URL.to_owned(),
            pinterest_api_url: DEFAULT_PINTEREST_API_URL.to_owned(),
            refresh_policy: RefreshPolicy::default(),
            data_dir: None,
            clock: Arc::new(SystemClock),
            min_schedule_interval: crate::DEFAULT_MIN_INTERVAL,
            notifications: crate::NotificationSettings::default(),
        }
    }

    /// The callback every flow redirects to.
    pub fn redirect_uri(&self) -> String {
        redirect_uri(&self.public_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_settings_debug_shows_no_database_password() {
        let mut settings = StoreSettings::in_data_dir(Path::new("/var/lib/pinion"));
        settings.database_url = Some("postgres://pinion:CANARY-pw@db/pinion".into());
        let shown = format!("{settings:?}");
        assert!(!shown.contains("CANARY"), "{shown}");
        assert!(shown.contains("postgres: true"), "{shown}");
    }
}

/// Why Pinion could not be put together.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Pinterest's URLs are unusable.
    #[error("PINTEREST_OAUTH_URL or PINTEREST_API_URL is unusable")]
    Pinterest(#[source] pinion_oauth::ConfigError),
    /// The API base is unusable for the API client.
    #[error("PINTEREST_API_URL is unusable")]
    ApiUrl(#[source] pinion_pinterest::ConfigError),
    /// The public URL gives no valid callback.
    #[error("PINION_PUBLIC_URL gives no valid redirect URI")]
    RedirectUri(#[source] pinion_oauth::ConfigError),
    /// The data directory could not be created.
    #[error("cannot create the data directory {}", dir.display())]
    DataDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every service of one Pinion process, sharing one store, clock and token
/// manager. A clone shares all of them: the services inside are handles.
#[derive(Debug, Clone)]
pub struct Pinion {
    /// Users, passwords and API tokens.
    pub users: Users,
    /// Credentials and their access rules.
    pub credentials: Credentials,
    /// Checks, refreshes and token sources, behind the access rules.
    pub lifecycle: Lifecycle,
    /// Starting and completing authorizations.
    pub authorizations: Authorizations,
    /// Web sign-in and browser sessions.
    pub sessions: Sessions,
    /// Data sources.
    pub sources: Sources,
    /// Destinations.
    pub destinations: Destinations,
    /// Source runs.
    pub runs: Runs,
    /// Source schedules and the scheduler.
    pub schedules: Schedules,
    /// The encryption keys, for the operator.
    pub keys: Keys,
    /// Webhook endpoints and their delivery logs (issue 14).
    pub webhooks: crate::Webhooks,
    tokens: Arc<TokenManager>,
    store: Arc<dyn Store>,
    settings: Settings,
    generated_key_file: Option<PathBuf>,
}

impl Pinion {
    /// Opens the store `store` says and wires every service to it.
    pub async fn open(store: &StoreSettings, settings: Settings) -> Result<Self, SetupError> {
        let (opened, generated) = store.open(settings.clock.clone()).await?;
        let mut pinion = Self::with_store(opened, settings)?;
        pinion.generated_key_file = generated;
        Ok(pinion)
    }

    /// Wires every service to a store opened elsewhere (tests, benchmarks),
    /// which should have been opened with `settings.clock`.
    pub fn with_store(store: Arc<dyn Store>, settings: Settings) -> Result<Self, SetupError> {
        let oauth_config =
            OAuthConfig::from_urls(&settings.pinterest_oauth_url, &settings.pinterest_api_url)
                .map_err(SetupError::Pinterest)?;
        let oauth = Arc::new(
            PinterestOAuth::new(oauth_config, settings.clock.clone())
                .map_err(SetupError::Pinterest)?,
        );
        let redirect_uri =
            RedirectUri::parse(&settings.redirect_uri()).map_err(SetupError::RedirectUri)?;
        let api_base = BaseUrl::parse(&settings.pinterest_api_url).map_err(SetupError::ApiUrl)?;
        let pinterest = ClientConfig::with_base_url(api_base);
        let tokens = Arc::new(TokenManager::new(
            store.clone(),
            oauth.clone(),
            settings.clock.clone(),
            settings.refresh_policy.clone(),
        ));
        if let Some(dir) = &settings.data_dir {
            // Refreshed tokens are journaled here until the database takes
            // them, so a database outage never costs a user their grant.
            tokens.set_journal(TokenJournal::in_data_dir(dir, store.clone()));
        }
        let credentials = Credentials::new(store.clone());
        // Webhook events are announced where their transitions happen: in
        // the token manager, the authorizations and the runs (issue 14).
        let webhooks = crate::Webhooks::new(
            store.clone(),
            settings.clock.clone(),
            settings.notifications,
        );
        tokens.set_events(webhooks.events());
        let mut authorizations = Authorizations::new(store.clone(), oauth, redirect_uri);
        authorizations.set_events(webhooks.events());
        let mut runs = Runs::new(
            store.clone(),
            tokens.clone(),
            pinterest.clone(),
            settings.data_dir.clone(),
        );
        runs.set_events(webhooks.events());
        Ok(Self {
            users: Users::new(store.clone()),
            lifecycle: Lifecycle::new(credentials.clone(), tokens.clone(), pinterest.clone()),
            credentials,
            authorizations,
            sessions: Sessions::new(store.clone(), settings.clock.clone()),
            sources: Sources::new(store.clone(), settings.clock.clone()),
            schedules: Schedules::new(
                store.clone(),
                runs.clone(),
                settings.clock.clone(),
                settings.min_schedule_interval,
            ),
            destinations: Destinations::new(store.clone(), tokens.clone(), pinterest),
            runs,
            keys: Keys::new(store.clone()),
            webhooks,
            tokens,
            store,
            settings,
            generated_key_file: None,
        })
    }

    /// The key file opening generated for a new embedded database, if it
    /// did: the user must back it up.
    pub fn generated_key_file(&self) -> Option<&Path> {
        self.generated_key_file.as_deref()
    }

    /// The settings Pinion was built from.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The Pinterest API client configuration.
    pub fn pinterest(&self) -> &ClientConfig {
        self.lifecycle.pinterest()
    }

    /// Counts committed writes to the store, by this process and others, so
    /// an adapter can keep a read result until the data may have changed.
    pub fn changes(&self) -> &ChangeFeed {
        self.store.changes()
    }

    /// The store's sync-state part (run progress and the publish ledger),
    /// for the sync and publish commands.
    pub fn sync_state(&self) -> Arc<dyn pinion_store::SyncStateStore> {
        self.store.clone()
    }

    /// Whether the store answers and holds keys this process can use:
    /// `Err` with why not (for `/readyz`).
    pub async fn ready(&self) -> Result<(), crate::ServiceError> {
        self.store.keyring_status().await?;
        Ok(())
    }

    /// Registers this process in the data directory, so that when it dies
    /// mid-refresh the next start resolves the refresh at once instead of
    /// waiting out the lease, and its runs are taken over at once. Without
    /// a data directory nothing is registered.
    pub fn register_instance(&self) -> std::io::Result<()> {
        let Some(dir) = &self.settings.data_dir else {
            return Ok(());
        };
        let instance = Instances::in_data_dir(dir).register()?;
        self.runs.set_instance(&instance);
        self.tokens.set_instance(instance);
        Ok(())
    }

    /// The background refresher, paced by `config`.
    pub fn refresher(&self, config: RefresherConfig) -> Refresher {
        Refresher::new(self.tokens.clone(), config)
    }

    /// The background health checker, checking each active credential
    /// every `interval` (issue 14).
    pub fn health_checker(&self, interval: Duration) -> crate::HealthChecker {
        crate::HealthChecker::new(
            self.lifecycle.clone(),
            self.store.clone(),
            self.settings.clock.clone(),
            interval,
        )
    }

    /// The background loop that delivers webhook events (issue 14).
    pub fn deliverer(&self) -> crate::Deliverer {
        self.webhooks.deliverer()
    }

    /// How long a refresh may hold its lease before it counts as abandoned.
    pub fn refresh_lease(&self) -> Duration {
        self.tokens.policy().lease
    }

    /// Closes the store's connections; later calls fail.
    pub async fn close(&self) {
        self.store.close().await;
    }
}
