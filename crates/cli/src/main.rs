//! The `pinion` command: parses arguments, sets up logging and calls into the
//! library crates. It holds no business rules.
//!
//! Exit codes: 0 success, 1 failure, 2 invalid input (a usage error or a field
//! that breaks its rules; nothing was changed).

mod commands;
mod duration;
mod output;
mod settings;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Connect Pinterest accounts safely and move Pinterest data.
#[derive(Debug, Parser)]
#[command(name = "pinion", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// The store flags (`--data-dir`, `--database-url`) belong to the commands that
// open Pinion's store, so `demo` and `simulator`, which do not, neither list
// nor accept them. Within a command they may come before or after its
// subcommand.

/// A command group that works on the store.
#[derive(Debug, clap::Args)]
struct OnStore<C: Subcommand> {
    #[command(flatten)]
    store: settings::StoreArgs,
    #[command(subcommand)]
    command: C,
}

/// A command that works on the store.
#[derive(Debug, clap::Args)]
struct WithStore<A: clap::Args> {
    #[command(flatten)]
    args: A,
    #[command(flatten)]
    store: settings::StoreArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole product against a local Pinterest simulator: create,
    /// authorize, sync and publish, then keep serving.
    Demo(commands::demo::DemoArgs),
    /// Serve the web UI and the JSON API.
    Serve(WithStore<commands::serve::ServeArgs>),
    /// Manage Pinion users and their API tokens.
    Users(OnStore<commands::users::UsersCommand>),
    /// Manage Pinterest credentials.
    Credentials(OnStore<commands::credentials::CredentialsCommand>),
    /// List data sources and schedule their runs.
    Sources(OnStore<commands::sources::SourcesCommand>),
    /// Inspect and rotate the encryption keys that seal secrets at rest.
    Keys(OnStore<commands::keys::KeysCommand>),
    /// Read a credential's Pinterest data into files or databases.
    Sync(WithStore<commands::sync::SyncCommand>),
    /// Create pins (or boards) on Pinterest from a JSON Lines file.
    Publish(WithStore<commands::sync::PublishCommand>),
    /// Run a strict local stand-in for Pinterest's OAuth and v5 API.
    Simulator(commands::simulator::SimulatorArgs),
    /// Manage webhook endpoints and read their delivery logs.
    Webhooks(OnStore<commands::webhooks::WebhooksCommand>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PINION_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo(args) => args.run().await,
            Command::Serve(serve) => serve.args.run(&serve.store).await,
            Command::Users(users) => users.command.run(&users.store).await,
            Command::Credentials(credentials) => credentials.command.run(&credentials.store).await,
            Command::Sources(sources) => sources.command.run(&sources.store).await,
            Command::Keys(keys) => keys.command.run(&keys.store).await,
            Command::Sync(sync) => sync.args.run(&sync.store).await,
            Command::Publish(publish) => publish.args.run(&publish.store).await,
            Command::Simulator(args) => args.run().await.map_err(commands::Failure::Other),
            Command::Webhooks(webhooks) => webhooks.command.run(&webhooks.store).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
