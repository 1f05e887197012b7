//! Where the CLI finds Pinion's database and keys.
//!
//! The embedded default is a SQLite file `pinion.db` and a key file
//! `master.key` in the data directory (`PINION_DATA_DIR`, else
//! `$XDG_DATA_HOME/pinion`, else `~/.local/share/pinion`). `PINION_DATABASE_URL`
//! selects PostgreSQL instead; keys then come from `PINION_MASTER_KEY` or
//! `PINION_MASTER_KEY_FILE`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use pinion_store::{KeyNotice, KeySource, Store};
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
    /// parents; see `pinion_store::private_fs`).
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        let dir = match &self.data_dir {
            Some(dir) => dir.clone(),
            None => default_data_dir()?,
        };
        pinion_store::private_fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        Ok(dir)
    }

    /// The database location and the key source.
    pub fn locate(&self) -> anyhow::Result<(String, KeySource)> {
        let master_key = std::env::var(pinion_store::keys::MASTER_KEY_ENV)
            .ok()
            .map(SecretString::from);
        let master_key_file =
            std::env::var_os(pinion_store::keys::MASTER_KEY_FILE_ENV).map(PathBuf::from);
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => {
                let keys = KeySource::from_settings(master_key, master_key_file, None)
                    .context("PostgreSQL needs an explicit encryption key")?;
                Ok((url.clone(), keys))
            }
            _ => {
                let dir = self.data_dir()?;
                let keys = KeySource::from_settings(master_key, master_key_file, Some(&dir))?;
                let path = dir.join(pinion_store::DEFAULT_DATABASE_FILE);
                Ok((path.display().to_string(), keys))
            }
        }
    }

    /// Connects to the store, telling the user on stderr when a new key file
    /// was generated.
    pub async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        let (location, keys) = self.locate()?;
        let connected = pinion_store::connect(&location, keys).await?;
        if let Some(KeyNotice::GeneratedKeyFile(path)) = &connected.key_notice {
            eprintln!(
                "Generated a new encryption key at {} (mode 0600). Back it up: without it the \
                 stored secrets cannot be read.",
                path.display()
            );
        }
        Ok(connected.store)
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
