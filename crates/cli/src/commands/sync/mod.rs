//! `pinion sync` and `pinion publish`: read a credential's Pinterest data into
//! files or databases, and create pins or boards from a file, with the
//! credential's tokens managed by the token manager.
//!
//! `args` holds the flags, `report` runs the sync library's commands and
//! prints progress and the summary.

pub mod args;
pub mod report;

use std::sync::Arc;

use clap::Args;
use pinion_domain::CredentialStatus;
use pinion_store::{CredentialRecord, Store};
use pinion_sync::command::CommandEnv;

use self::args::{PublishArgs, SyncArgs};
use super::credentials::{PinterestArgs, credential_by_id};
use super::{CommandResult, Failure};
use crate::settings::StoreArgs;

/// `pinion sync`
#[derive(Debug, Args)]
pub struct SyncCommand {
    /// The credential to read with (`cred_…`).
    #[arg(long)]
    credential: String,
    #[command(flatten)]
    pinterest: PinterestArgs,
    #[command(flatten)]
    args: SyncArgs,
}

/// `pinion publish`
#[derive(Debug, Args)]
pub struct PublishCommand {
    /// The credential to publish with (`cred_…`).
    #[arg(long)]
    credential: String,
    #[command(flatten)]
    pinterest: PinterestArgs,
    #[command(flatten)]
    args: PublishArgs,
}

impl SyncCommand {
    /// Runs the sync; a partial or failed run exits non-zero.
    pub async fn run(self, store_args: &StoreArgs) -> CommandResult {
        let store = store_args.open().await?;
        let result = async {
            let env = cli_env(&store, store_args, &self.pinterest, &self.credential).await?;
            report::sync(&self.args, env)
                .await
                .map(drop)
                .map_err(|err| Failure::Other(anyhow::anyhow!("the sync did not complete: {err}")))
        }
        .await;
        store.close().await;
        result
    }
}

impl PublishCommand {
    /// Runs the publisher; rows left unfinished exit non-zero.
    pub async fn run(self, store_args: &StoreArgs) -> CommandResult {
        let store = store_args.open().await?;
        let result = async {
            let env = cli_env(&store, store_args, &self.pinterest, &self.credential).await?;
            report::publish(&self.args, env)
                .await
                .map(drop)
                .map_err(|err| {
                    Failure::Other(anyhow::anyhow!("publishing did not complete: {err}"))
                })
        }
        .await;
        store.close().await;
        result
    }
}

/// Resolves `--credential` into what the sync library needs: the token
/// manager as the token source, the API URL and the granted scopes.
async fn cli_env(
    store: &Arc<dyn Store>,
    store_args: &StoreArgs,
    pinterest: &PinterestArgs,
    credential: &str,
) -> Result<CommandEnv, Failure> {
    let record = credential_by_id(&**store, "credential", credential).await?;
    ensure_usable(&record)?;
    let manager = pinterest.manager(store.clone(), &store_args.data_dir()?)?;
    let scopes = record
        .granted_scopes
        .clone()
        .unwrap_or_else(|| record.scopes.clone());
    Ok(CommandEnv {
        tokens: Arc::new(manager.token_source(record.id.clone())),
        api_base_url: pinterest.pinterest_api_url.clone(),
        scopes,
        credential_key: record.id.to_string(),
        data_dir: store_args.data_dir()?,
        store: Some(store.clone()),
    })
}

fn ensure_usable(record: &CredentialRecord) -> Result<(), Failure> {
    match record.status {
        CredentialStatus::Active => Ok(()),
        CredentialStatus::NeedsAuthorization => Err(Failure::Other(anyhow::anyhow!(
            "credential {} is not authorized yet; run `pinion credentials authorize {}` first",
            record.id,
            record.id
        ))),
        CredentialStatus::NeedsReauthorization | CredentialStatus::Error => {
            Err(Failure::Other(anyhow::anyhow!(
                "credential {} cannot be used ({}){}; run `pinion credentials authorize {}` again",
                record.id,
                record.status.label(),
                record
                    .last_error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default(),
                record.id
            )))
        }
    }
}
