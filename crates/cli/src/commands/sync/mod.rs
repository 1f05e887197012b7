//! `pinion sync` and `pinion publish`: read a credential's Pinterest data into
//! files or databases, and create pins or boards from a file, with the
//! credential's tokens managed by the token manager.
//!
//! `args` holds the flags, `report` runs the sync library's commands and
//! prints progress and the summary.

pub mod args;
pub mod report;

use clap::Args;
use pinion_domain::Credential;
use pinion_service::{Actor, Pinion, Unusable};
use pinion_sync::command::CommandEnv;

use self::args::{PublishArgs, SyncArgs};

use super::credentials::{PinterestArgs, local_credential};
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
        let pinion = store_args.open(self.pinterest.settings()?).await?;
        let result = async {
            let env = cli_env(&pinion, &self.credential, self.args.rate_limit).await?;
            report::sync(&self.args, env)
                .await
                .map(drop)
                .map_err(|err| {
                    Failure::Other(anyhow::Error::new(err).context("the sync did not complete"))
                })
        }
        .await;
        pinion.close().await;
        result
    }
}

impl PublishCommand {
    /// Runs the publisher; rows left unfinished exit non-zero.
    pub async fn run(self, store_args: &StoreArgs) -> CommandResult {
        let pinion = store_args.open(self.pinterest.settings()?).await?;
        let result = async {
            let env = cli_env(&pinion, &self.credential, self.args.rate_limit).await?;
            report::publish(&self.args, env)
                .await
                .map(drop)
                .map_err(|err| {
                    Failure::Other(anyhow::Error::new(err).context("publishing did not complete"))
                })
        }
        .await;
        pinion.close().await;
        result
    }
}

/// Resolves `--credential` into what the sync library needs, as the
/// operator: the credential's token source, the API URL and the granted
/// scopes.
async fn cli_env(
    pinion: &Pinion,
    credential: &str,
    rate: Option<pinion_pinterest::RateTier>,
) -> Result<CommandEnv, Failure> {
    let record = local_credential(pinion, "credential", credential).await?;
    ensure_usable(&record)?;
    let granted = pinion
        .lifecycle
        .tokens_for_run(Actor::Operator, &record.id)
        .await?;
    let settings = pinion.settings();
    Ok(CommandEnv {
        tokens: granted.tokens,
        api_base_url: settings.pinterest_api_url.clone(),
        scopes: record.effective_scopes().clone(),
        credential_key: record.id.to_string(),
        data_dir: settings
            .data_dir
            .clone()
            .ok_or_else(|| anyhow::anyhow!("no data directory"))?,
        store: Some(pinion.sync_state()),
        rate: rate.unwrap_or(record.rate_tier),
        shared_budget: Some(granted.budget),
    })
}

/// The CLI's words for the one usable rule ([`pinion_service::usability`]).
fn ensure_usable(record: &Credential) -> Result<(), Failure> {
    match pinion_service::usability(record) {
        Ok(()) => Ok(()),
        Err(Unusable::NotAuthorized) => Err(Failure::Other(anyhow::anyhow!(
            "credential {} is not authorized yet; run `pinion credentials authorize {}` first",
            record.id,
            record.id
        ))),
        Err(Unusable::NeedsReauthorization { .. } | Unusable::AppCredentials { .. }) => {
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
