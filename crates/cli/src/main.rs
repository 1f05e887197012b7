//! The `pinion` command: parses arguments, sets up logging and calls into the
//! library crates. It holds no business rules.
//!
//! Exit codes: 0 success, 1 failure, 2 invalid input (a usage error or a field
//! that breaks its rules; nothing was changed).

mod commands;
mod output;
mod settings;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Connect Pinterest accounts safely and move Pinterest data.
#[derive(Debug, Parser)]
#[command(name = "pinion", version, about)]
struct Cli {
    #[command(flatten)]
    store: settings::StoreArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole product against a local Pinterest simulator: create,
    /// authorize, sync and publish, then keep serving.
    Demo(commands::demo::DemoArgs),
    /// Serve the web UI and the JSON API.
    Serve(commands::serve::ServeArgs),
    /// Manage Pinion users and their API tokens.
    #[command(subcommand)]
    Users(commands::users::UsersCommand),
    /// Manage Pinterest credentials.
    #[command(subcommand)]
    Credentials(commands::credentials::CredentialsCommand),
    /// Inspect and rotate the encryption keys that seal secrets at rest.
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// Read a credential's Pinterest data into files or databases.
    Sync(commands::sync::SyncCommand),
    /// Create pins (or boards) on Pinterest from a JSON Lines file.
    Publish(commands::sync::PublishCommand),
    /// Run a strict local stand-in for Pinterest's OAuth and v5 API.
    Simulator(pinion_simulator::cli::SimulatorArgs),
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
            Command::Serve(args) => args.run(&cli.store).await,
            Command::Users(command) => command.run(&cli.store).await,
            Command::Credentials(command) => command.run(&cli.store).await,
            Command::Keys(command) => command.run(&cli.store).await,
            Command::Sync(command) => command.run(&cli.store).await,
            Command::Publish(command) => command.run(&cli.store).await,
            Command::Simulator(args) => pinion_simulator::cli::run(args)
                .await
                .map_err(commands::Failure::Other),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
