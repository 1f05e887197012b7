//! `pinion keys`: see which key versions protect the stored secrets, rotate to
//! a new key online, and retire an old one.

use anyhow::Context;
use clap::{Args, Subcommand};
use pinion_service::{Actor, AddedKey, Keys};

use super::CommandResult;
use crate::output;
use crate::settings::StoreArgs;

/// `pinion keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Show each key version and how many sealed values it protects.
    Status(StatusArgs),
    /// Add a new key and re-encrypt every sealed value under it, in batches,
    /// while Pinion keeps serving. Safe to interrupt and run again.
    Rotate(RotateArgs),
    /// Forget an old key version once no sealed value uses it.
    Retire(RetireArgs),
}

/// `pinion keys status`
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `pinion keys rotate`
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Sealed records re-encrypted per transaction.
    #[arg(long, default_value_t = 200)]
    batch_size: usize,
    /// Only finish re-encrypting under the newest key already configured; add no key.
    #[arg(long)]
    resume: bool,
}

/// `pinion keys retire`
#[derive(Debug, Args)]
pub struct RetireArgs {
    /// The key version to retire.
    #[arg(long)]
    version: u32,
}

impl KeysCommand {
    /// Runs the command.
    pub async fn run(self, store_args: &StoreArgs) -> CommandResult {
        if let KeysCommand::Rotate(args) = &self
            && !args.resume
        {
            add_key(&store_args.store_settings()?)?;
        }
        let pinion = store_args.open_local().await?;
        let result = self.run_on(&pinion.keys).await;
        pinion.close().await;
        result
    }

    async fn run_on(self, keys: &Keys) -> CommandResult {
        let operator = Actor::Operator;
        match self {
            KeysCommand::Status(args) => {
                let status = keys.status(&operator).await?;
                if args.json {
                    output::print_json(&status)?;
                } else {
                    println!("Active key version: {}", status.active);
                    let rows: Vec<Vec<String>> = status
                        .versions
                        .iter()
                        .map(|v| {
                            vec![
                                v.version.to_string(),
                                yes_no(v.loaded),
                                yes_no(v.registered),
                                v.sealed_values.to_string(),
                            ]
                        })
                        .collect();
                    output::print_table(
                        &["VERSION", "LOADED", "REGISTERED", "SEALED VALUES"],
                        &rows,
                    );
                }
                Ok(())
            }
            KeysCommand::Rotate(args) => {
                let active = keys.status(&operator).await?.active;
                let total = keys
                    .rotate(&operator, args.batch_size, |n| {
                        eprintln!("Re-encrypted {n} records under key version {active}.");
                    })
                    .await
                    .map_err(anyhow::Error::from)
                    .context(
                        "re-encryption stopped; run `pinion keys rotate --resume` to finish",
                    )?;
                let status = keys.status(&operator).await?;
                println!(
                    "Rotation complete: {total} records re-encrypted; every sealed value now uses key \
                     version {}.",
                    status.active
                );
                let old: Vec<String> = status
                    .versions
                    .iter()
                    .filter(|v| v.version != status.active && v.registered)
                    .map(|v| v.version.to_string())
                    .collect();
                if !old.is_empty() {
                    println!(
                        "Older versions still registered: {}. Retire each with `pinion keys retire \
                         --version N`, then remove it from the key source.",
                        old.join(", ")
                    );
                }
                Ok(())
            }
            KeysCommand::Retire(args) => {
                keys.retire(&operator, args.version).await?;
                println!(
                    "Retired key version {}: no stored value needs it any more. Remove its line from \
                     the key source.",
                    args.version
                );
                Ok(())
            }
        }
    }
}

fn add_key(store: &pinion_service::StoreSettings) -> anyhow::Result<()> {
    match pinion_service::add_key_version(&Actor::Operator, store)? {
        AddedKey::Added { version, file } => {
            eprintln!("Added key version {version} to {}.", file.display());
            Ok(())
        }
        AddedKey::AddByHand { source, entry } => anyhow::bail!(
            "keys come from {source}, which Pinion cannot edit. Add this entry to it (keep the \
             old ones), then run `pinion keys rotate --resume`:\n{}",
            secrecy::ExposeSecret::expose_secret(&entry)
        ),
    }
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.into()
}
