//! `pinion demo`: the whole product on a fresh machine with no configuration.
//!
//! It starts an embedded Pinterest simulator and the server on the embedded
//! SQLite default (in its own directory, so a real data directory is never
//! touched), creates a user and a credential, authorizes the credential
//! through the server's real authorize API and callback (the simulator's demo
//! user approves), syncs every stream into a SQLite file, publishes a few pins,
//! prints what happened and where the data is, and keeps serving until Ctrl-C
//! (`--exit` stops after the run).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser};
use futures::StreamExt;
use pinion_domain::{ClientSecret, CredentialInput};
use pinion_server::{Application, Settings};
use pinion_service::{Actor, Pinion, StoreSettings};
use pinion_sync::command::CommandEnv;
use serde_json::Value;

use super::serve::{shutdown_signal, start_simulator};
use super::sync::args::{PublishArgs, SyncArgs};
use super::sync::report;
use super::{CommandResult, Failure};

/// `pinion demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo keeps its database, key, synced data and files.
    #[arg(long, default_value = "pinion-demo")]
    dir: PathBuf,
    /// Address the demo's server listens on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Stop after the run instead of serving until Ctrl-C.
    #[arg(long)]
    exit: bool,
}

/// The scopes the demo credential asks for: everything it reads and writes.
const DEMO_SCOPES: &str = "user_accounts:read,boards:read,boards:read_secret,boards:write,\
                           pins:read,pins:read_secret,pins:write,ads:read";
const DEMO_USER: &str = "demo";
const DEMO_CREDENTIAL: &str = "Demo Pinterest account";

/// Parses sync or publish flags the way the command line would, so the demo
/// keeps every default those commands have.
#[derive(Debug, Parser)]
struct SyncFlags {
    #[command(flatten)]
    args: SyncArgs,
}

#[derive(Debug, Parser)]
struct PublishFlags {
    #[command(flatten)]
    args: PublishArgs,
}

impl DemoArgs {
    /// Runs the demo.
    pub async fn run(self) -> CommandResult {
        self.run_all().await.map_err(Failure::Other)
    }

    async fn run_all(self) -> anyhow::Result<()> {
        let dir = std::path::absolute(&self.dir).unwrap_or(self.dir.clone());
        let data_dir = dir.join("data");
        pinion_service::create_data_dir(&data_dir)?;
        say(&format!("Demo directory: {}", dir.display()));

        // Its own data directory and key file, whatever the environment says.
        let public_url = Settings::parse_public_url(&format!("http://{}", self.listen))?;
        let mut settings = pinion_service::Settings::new(public_url);
        settings.data_dir = Some(data_dir.clone());
        let simulator = start_simulator("127.0.0.1:0".parse()?, &settings.redirect_uri()).await?;
        settings.pinterest_oauth_url = simulator.oauth_url();
        settings.pinterest_api_url = simulator.api_url();
        let pinion = Pinion::open(&StoreSettings::in_data_dir(&data_dir), settings).await?;
        let app = Application::build(Settings::new(self.listen), pinion.clone()).await?;
        let base = format!("http://{}", app.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        say(&format!(
            "1. Started a Pinterest simulator on {} and Pinion on {base}.",
            simulator.base_url()
        ));

        let outcome = self
            .run_steps(&pinion, &simulator, &base, &dir, &data_dir)
            .await;
        if outcome.is_ok() && !self.exit {
            say(&format!(
                "\nPinion keeps serving on {base} (the simulator on {}). Press Ctrl-C to stop.",
                simulator.base_url()
            ));
            shutdown_signal().await;
        }
        let _ = stop.send(());
        let _ = server.await;
        simulator.shutdown().await;
        pinion.close().await;
        outcome
    }

    async fn run_steps(
        &self,
        pinion: &Pinion,
        simulator: &pinion_simulator::RunningSimulator,
        base: &str,
        dir: &Path,
        data_dir: &Path,
    ) -> anyhow::Result<()> {
        let users = &pinion.users;
        let user = match users.by_username(Actor::Operator, DEMO_USER).await {
            Ok(user) => user,
            Err(_) => {
                users
                    .create(pinion_service::Actor::Operator, DEMO_USER, false)
                    .await?
                    .0
            }
        };
        let api_token = users.issue_token(Actor::Operator, &user).await?;
        // A fresh random password each run, so the web UI can be signed in to;
        // it ends the user's earlier sessions.
        let password = pinion_domain::Password::new(pinion_domain::secret::random_urlsafe(12));
        pinion
            .sessions
            .set_password(Actor::Operator, DEMO_USER, &password)
            .await?;
        say(&format!("2. Pinion user `{DEMO_USER}` is ready."));

        let app = simulator
            .config()
            .fixtures
            .apps
            .first()
            .context("the simulator has no app")?;
        let credentials = &pinion.credentials;
        let existing = credentials
            .list(&user)
            .await?
            .into_iter()
            .find(|c| c.name.as_str() == DEMO_CREDENTIAL);
        let record = match existing {
            Some(record) => record,
            None => {
                let input = CredentialInput {
                    name: DEMO_CREDENTIAL.to_owned(),
                    description: Some("Created by `pinion demo` against the simulator".to_owned()),
                    client_id: app.client_id.clone().unwrap_or_default(),
                    client_secret: Some(ClientSecret::new(
                        app.client_secret.clone().unwrap_or_default(),
                    )),
                    scopes: Some(DEMO_SCOPES.to_owned()),
                };
                credentials.create(&user, &user.id, &input).await?
            }
        };
        say(&format!(
            "3. Credential `{DEMO_CREDENTIAL}` ({}) holds the simulated app's client id and sealed secret.",
            record.id
        ));

        // Authorize through the product's own API and callback; the simulator's
        // demo user approves, as a person clicking Accept would.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()?;
        let started: Value = http
            .post(format!("{base}/api/v1/credentials/{}/authorize", record.id))
            .bearer_auth(api_token.expose_secret())
            .send()
            .await?
            .error_for_status()
            .context("starting the authorization")?
            .json()
            .await?;
        let url = started["authorization_url"]
            .as_str()
            .context("the authorize API returned no URL")?;
        http.get(url)
            .send()
            .await
            .context("following the authorization")?;
        let record = credentials.get(&user, &record.id).await?;
        anyhow::ensure!(
            record.status == pinion_domain::CredentialStatus::Active,
            "the credential did not become active: {}",
            record
                .last_error
                .as_deref()
                .unwrap_or(record.status.label())
        );
        say(&format!(
            "4. Authorized on the simulated Pinterest: status {}, granted {}.",
            record.status.label(),
            record
                .granted_scopes
                .as_ref()
                .map(|s| s.to_comma_separated())
                .unwrap_or_default()
        ));

        let granted = pinion.lifecycle.tokens_for_run(&user, &record.id).await?;
        let env = || CommandEnv {
            tokens: granted.tokens.clone(),
            api_base_url: simulator.api_url(),
            scopes: record.granted_scopes.clone().unwrap_or_default(),
            credential_key: record.id.to_string(),
            data_dir: data_dir.to_path_buf(),
            store: Some(pinion.sync_state()),
            rate: record.rate_tier,
            shared_budget: Some(granted.budget.clone()),
        };

        let synced = dir.join("pinterest-data.db");
        say(&format!(
            "5. Syncing every stream into {} …",
            synced.display()
        ));
        let flags =
            SyncFlags::try_parse_from(["sync", "--dest", &format!("sqlite:{}", synced.display())])?;
        report::sync(&flags.args, env())
            .await
            .context("the sync did not complete")?;

        let client = pinion_pinterest::PinterestClient::new(
            pinion_pinterest::ClientConfig::with_base_url(pinion_pinterest::BaseUrl::parse(
                &simulator.api_url(),
            )?),
            env().tokens,
        )?;
        let board = client
            .boards(Default::default(), pinion_pinterest::PageRequest::first())
            .next()
            .await
            .context("the simulated account has no boards")??
            .items
            .into_iter()
            .next()
            .context("the simulated account has no boards")?;
        let pins_file = dir.join("demo-pins.jsonl");
        let rows: Vec<String> = (1..=3)
            .map(|i| {
                serde_json::json!({
                    "key": format!("pinion-demo-{i}"),
                    "title": format!("Pinion demo pin {i}"),
                    "description": "Published by `pinion demo` to the simulated Pinterest",
                    "link": "https://example.com/pinion",
                    "alt_text": "A demo image",
                    "image_url": format!("https://picsum.photos/seed/pinion{i}/600/400"),
                })
                .to_string()
            })
            .collect();
        std::fs::write(&pins_file, rows.join("\n") + "\n")?;
        say(&format!(
            "6. Publishing {} pins from {} to board {} …",
            rows.len(),
            pins_file.display(),
            board.id()
        ));
        let flags = PublishFlags::try_parse_from([
            "publish",
            "--input",
            &pins_file.display().to_string(),
            "--board",
            board.id().as_str(),
        ])?;
        report::publish(&flags.args, env())
            .await
            .context("publishing did not complete")?;

        // The same, as a user of the web UI would see them: a data source
        // with a run, and a destination whose history shows the demo pins
        // (already published: it shares the credential's ledger).
        let (source, run) = demo_source(pinion, &user, &record).await?;
        let destination = demo_destination(pinion, &user, &record, board.id().as_str()).await?;
        let published = pinion
            .destinations
            .publish(
                &user,
                &destination.id,
                &pinion_service::PublishInput::Jsonl(rows.join("\n")),
            )
            .await
            .context("publishing from the destination")?;
        say(&format!(
            "7. In the web UI: source \"{DEMO_SOURCE}\" ({}, {} records) and destination \
             \"{DEMO_DESTINATION}\" ({} of its {} pins already published).",
            run.status.label(),
            run.streams.iter().map(|s| s.records).sum::<u64>(),
            published.record.already_published,
            published.record.rows,
        ));

        say(&format!(
            "\nDone. Where things are:\n\
             \x20 synced data (one table per stream): {}\n\
             \x20 Pinion's database and key:         {}\n\
             \x20 web UI: {base}/sign-in as `{DEMO_USER}`, password {} (new each run)\n\
             \x20   the source's run: {base}/sources/{}/runs/{}\n\
             \x20   the destination:  {base}/destinations/{}\n\
             \x20 Pinion API (token below, shown once): {base}/api/v1/credentials\n\
             \x20 API token for `{DEMO_USER}`:             {}\n\
             To see Pinterest's sign-in and consent pages, add a credential in the web UI with\n\
             the simulated app's Client ID {} and Client Secret {} and press Authorize;\n\
             sign in to the simulator as `{}`, password `{}` (the demo's own credential was\n\
             approved without those pages).\n\
             Run it again any time: the demo reuses its user, credential, source and destination,\n\
             and the publisher creates nothing twice.",
            synced.display(),
            data_dir.display(),
            password.expose_secret(),
            source.id,
            run.id,
            destination.id,
            api_token.expose_secret(),
            app.client_id.as_deref().unwrap_or_default(),
            app.client_secret.as_deref().unwrap_or_default(),
            pinion_simulator::config::DEMO_USERNAME,
            pinion_simulator::config::DEMO_PASSWORD,
        ));
        Ok(())
    }
}

const DEMO_SOURCE: &str = "Demo boards and pins";
const DEMO_DESTINATION: &str = "Demo board";

/// The demo's data source (made once), run to its end; the run.
async fn demo_source(
    pinion: &Pinion,
    user: &pinion_domain::User,
    credential: &pinion_domain::Credential,
) -> anyhow::Result<(
    pinion_domain::record::SourceRecord,
    pinion_domain::record::RunRecord,
)> {
    let existing = pinion
        .sources
        .list(user)
        .await?
        .into_iter()
        .find(|s| s.name == DEMO_SOURCE);
    let source = match existing {
        Some(source) => source,
        None => {
            pinion
                .sources
                .create(
                    user,
                    &pinion_service::SourceInput {
                        name: DEMO_SOURCE.to_owned(),
                        credential_id: credential.id.to_string(),
                        streams: ["user_account", "boards", "board_sections", "board_pins"]
                            .map(str::to_owned)
                            .to_vec(),
                        output_kind: "jsonl".to_owned(),
                        output_path: "demo".to_owned(),
                        sync_mode: String::new(),
                    },
                )
                .await?
        }
    };
    let started = pinion.runs.start(user, &source.id).await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let run = pinion.runs.get(user, &source.id, &started.id).await?;
        if run.status.is_final() {
            return Ok((source, run));
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the demo source's run did not end"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The demo's destination on `board` (made once).
async fn demo_destination(
    pinion: &Pinion,
    user: &pinion_domain::User,
    credential: &pinion_domain::Credential,
    board: &str,
) -> anyhow::Result<pinion_domain::record::DestinationRecord> {
    let existing = pinion
        .destinations
        .list(user)
        .await?
        .into_iter()
        .find(|d| d.name == DEMO_DESTINATION);
    Ok(match existing {
        Some(destination) => destination,
        None => {
            pinion
                .destinations
                .create(
                    user,
                    &pinion_service::DestinationInput {
                        name: DEMO_DESTINATION.to_owned(),
                        credential_id: credential.id.to_string(),
                        board_id: board.to_owned(),
                    },
                )
                .await?
        }
    })
}

fn say(line: &str) {
    eprintln!("{line}");
}
