//! Where the CLI finds Pinion's database and keys.
//!
//! The embedded default is a SQLite file `pinion.db` and a key file
//! `master.key` in the data directory (`PINION_DATA_DIR`, else
//! `$XDG_DATA_HOME/pinion`, else `~/.local/share/pinion`). `PINION_DATABASE_URL`
//! selects PostgreSQL instead; keys then come from `PINION_MASTER_KEY` or
//! `PINION_MASTER_KEY_FILE`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use pinion_service::{Pinion, Settings, StoreSettings};
use secrecy::SecretString;

/// Flags that say where the store is; each has an environment variable.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Directory of the embedded database and its key file.
    #[arg(long, env = "PINION_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL URL (`postgres://…`) to use instead of the embedded SQLite file.
    #[arg(
        long,
        env = "PINION_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

impl StoreArgs {
    /// The data directory, created if needed (0700, with any missing
    /// parents).
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        let dir = match &self.data_dir {
            Some(dir) => dir.clone(),
            None => default_data_dir()?,
        };
        pinion_service::create_data_dir(&dir)?;
        Ok(dir)
    }

    /// Where the store is and how to unseal it, from these flags and the
    /// environment.
    pub fn store_settings(&self) -> anyhow::Result<StoreSettings> {
        Ok(StoreSettings {
            data_dir: self.data_dir()?,
            database_url: self.database_url.clone(),
            master_key: std::env::var(pinion_service::MASTER_KEY_ENV)
                .ok()
                .map(SecretString::from),
            master_key_file: std::env::var_os(pinion_service::MASTER_KEY_FILE_ENV)
                .map(PathBuf::from),
            acquire_timeout: acquire_timeout_from_env()?,
            sqlite_busy_timeout: ONE_SHOT_BUSY_TIMEOUT,
        })
    }

    /// Builds Pinion on the store with `settings` (their data directory is
    /// this one), telling the user on stderr when a new key file was
    /// generated.
    pub async fn open(&self, settings: Settings) -> anyhow::Result<Pinion> {
        self.open_waiting(settings, ONE_SHOT_BUSY_TIMEOUT).await
    }

    /// [`StoreArgs::open`] for `pinion serve`, whose requests wait at most
    /// [`pinion_service::DEFAULT_SQLITE_BUSY_TIMEOUT`] for SQLite's write
    /// lock and then answer 503.
    pub async fn open_server(&self, settings: Settings) -> anyhow::Result<Pinion> {
        self.open_waiting(settings, pinion_service::DEFAULT_SQLITE_BUSY_TIMEOUT)
            .await
    }

    async fn open_waiting(
        &self,
        mut settings: Settings,
        sqlite_busy_timeout: std::time::Duration,
    ) -> anyhow::Result<Pinion> {
        let mut store = self.store_settings()?;
        store.sqlite_busy_timeout = sqlite_busy_timeout;
        settings.data_dir = Some(store.data_dir.clone());
        let pinion = Pinion::open(&store, settings).await?;
        if let Some(path) = pinion.generated_key_file() {
            eprintln!(
                "Generated a new encryption key at {} (mode 0600). Back it up: without it the \
                 stored secrets cannot be read.",
                path.display()
            );
        }
        Ok(pinion)
    }

    /// Builds Pinion for a command that does not talk to Pinterest or
    /// browsers (its URLs are the defaults).
    pub async fn open_local(&self) -> anyhow::Result<Pinion> {
        let public_url = url::Url::parse(pinion_service::DEFAULT_PUBLIC_URL)?;
        self.open(Settings::new(public_url)).await
    }
}

/// How long a one-shot command (`pinion credentials check`, `pinion sync
/// run`, …) waits for SQLite's write lock. Longer than a server request's
/// wait: a command run beside a busy server, or fifty of them at once from a
/// script, would rather finish late than fail.
const ONE_SHOT_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// `PINION_DATABASE_ACQUIRE_TIMEOUT_MS`: how long a PostgreSQL call waits for
/// a connection before the request answers 503
/// ([`pinion_service::StoreSettings::acquire_timeout`]); 1,500 when unset.
fn acquire_timeout_from_env() -> anyhow::Result<std::time::Duration> {
    const NAME: &str = "PINION_DATABASE_ACQUIRE_TIMEOUT_MS";
    match std::env::var(NAME) {
        Err(std::env::VarError::NotPresent) => Ok(pinion_service::DEFAULT_ACQUIRE_TIMEOUT),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(ms @ 1..=600_000) => Ok(std::time::Duration::from_millis(ms)),
            _ => anyhow::bail!(
                "{NAME} must be a whole number of milliseconds from 1 to 600000, not `{text}`"
            ),
        },
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("{NAME} must be a whole number of milliseconds from 1 to 600000")
        }
    }
}

fn default_data_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("pinion"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("set PINION_DATA_DIR (no HOME to put the default data directory in)")?;
    Ok(PathBuf::from(home).join(".local/share/pinion"))
}
