//! `pinion serve`: the web UI and the JSON API in one process.
//!
//! With `--simulator` it also starts an embedded Pinterest simulator on
//! loopback, registers an app whose redirect URI is this server's callback and
//! an auto-approving demo user, points the Pinterest URLs at it and prints the
//! app's client id and secret (the simulator's throwaway demo values) and the
//! user's sign-in, so a fresh machine can try the whole flow without a
//! Pinterest app.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Args;
use pinion_server::{Application, Settings};

use super::CommandResult;
use crate::settings::StoreArgs;

/// `pinion serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PINION_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The URL browsers reach Pinion at; redirect URIs are built from it.
    /// Default: `http://` and the listen address.
    #[arg(long, env = "PINION_PUBLIC_URL")]
    public_url: Option<String>,
    /// Pinterest's consent page.
    #[arg(long, env = "PINTEREST_OAUTH_URL", default_value = pinion_service::DEFAULT_PINTEREST_OAUTH_URL)]
    pinterest_oauth_url: String,
    /// Pinterest's API base; the token endpoint is `$PINTEREST_API_URL/oauth/token`.
    #[arg(long, env = "PINTEREST_API_URL", default_value = pinion_service::DEFAULT_PINTEREST_API_URL)]
    pinterest_api_url: String,
    /// Start an embedded Pinterest simulator and use it instead of Pinterest
    /// (for trying Pinion out; nothing leaves this machine).
    #[arg(long)]
    simulator: bool,
    /// Where the embedded simulator listens (a loopback address; port 0 picks a
    /// free port).
    #[arg(long, default_value = "127.0.0.1:0", requires = "simulator")]
    simulator_listen: SocketAddr,
    /// The most HTTP connections served at once. Default: the open-file
    /// limit less 128 kept for the database and files (896 under 1,024).
    /// At the cap the connection idle longest is closed to admit a new one.
    #[arg(long, env = "PINION_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: Option<u32>,
    /// The shortest interval a source's schedule may have, e.g. `1m`,
    /// `30s`. Schedules and cron expressions firing more often are refused.
    #[arg(long, env = "PINION_MIN_SCHEDULE_INTERVAL", default_value = "1m", value_parser = crate::duration::parse)]
    min_schedule_interval: std::time::Duration,
    /// How often every active credential is checked with Pinterest (one
    /// `GET /v5/user_account`, spread over the interval), e.g. `30s`, `6h`;
    /// `0` or `off` turns the checks off.
    #[arg(long, env = "PINION_CHECK_INTERVAL", default_value = "6h", value_parser = crate::duration::parse_or_off)]
    check_interval: std::time::Duration,
    /// What one second of the webhook retry schedule lasts (5 s, 5 min,
    /// 30 min, 2 h, 5 h, 10 h, 10 h) and of the 5 days after which an
    /// endpoint that keeps failing is disabled; `1s` is the real schedule,
    /// smaller values shrink it for tests and trials (e.g. `1ms`).
    #[arg(long, env = "PINION_WEBHOOK_RETRY_UNIT", default_value = "1s", value_parser = crate::duration::parse)]
    webhook_retry_unit: std::time::Duration,
    /// Allow webhook endpoints on loopback addresses (this machine).
    #[arg(long, env = "PINION_WEBHOOK_ALLOW_LOOPBACK")]
    webhook_allow_loopback: bool,
    /// Allow webhook endpoints on private, link-local, unique-local and
    /// shared (CGNAT) addresses.
    #[arg(long, env = "PINION_WEBHOOK_ALLOW_PRIVATE_NETWORKS")]
    webhook_allow_private_networks: bool,
    /// Deliver no webhook events from this process (a replica that only
    /// serves; events wait in the database for a replica that delivers).
    #[arg(long, env = "PINION_NO_WEBHOOK_DELIVERY")]
    no_webhook_delivery: bool,
}

/// The simulator's demo user, who signs in on its pages and approves
/// authorization requests without them when a single user is asked for.
const SIM_USERNAME: &str = pinion_simulator::config::DEMO_USERNAME;

impl ServeArgs {
    /// Runs the server until Ctrl-C or SIGTERM.
    pub async fn run(self, store_args: &StoreArgs) -> CommandResult {
        let public_url = Settings::parse_public_url(
            self.public_url
                .as_deref()
                .unwrap_or(&format!("http://{}", self.listen)),
        )?;
        let mut settings = pinion_service::Settings::new(public_url.clone());
        settings.pinterest_oauth_url = self.pinterest_oauth_url.clone();
        settings.pinterest_api_url = self.pinterest_api_url.clone();
        settings.min_schedule_interval = self.min_schedule_interval;
        settings.notifications = pinion_service::NotificationSettings {
            addresses: pinion_service::AddressPolicy {
                allow_loopback: self.webhook_allow_loopback,
                allow_private: self.webhook_allow_private_networks,
            },
            delivery: pinion_service::notifications::delivery_policy(self.webhook_retry_unit)?,
        };
        // Kept alive until the server stops; dropping it stops the simulator.
        let simulator = if self.simulator {
            let sim = start_simulator(self.simulator_listen, &settings.redirect_uri()).await?;
            settings.pinterest_oauth_url = sim.oauth_url();
            settings.pinterest_api_url = sim.api_url();
            Some(sim)
        } else {
            None
        };
        // Source runs write under `<data dir>/outputs/`.
        let pinion = store_args.open_server(settings).await?;
        // Refresh leases and source runs carry this process's instance id,
        // so that when it dies mid-refresh, the next start on this data
        // directory resolves the refresh at once instead of waiting out the
        // lease, and its runs are taken over at once.
        if let Err(err) = pinion.register_instance() {
            tracing::warn!(
                error = %err,
                "Could not register this process in the data directory; a refresh it leaves \
                 in flight at a crash waits out its lease."
            );
        }
        let mut server = Settings::new(self.listen);
        server.max_connections = self.max_connections.map(|n| n as usize);
        server.check_interval = (!self.check_interval.is_zero()).then_some(self.check_interval);
        server.deliver_webhooks = !self.no_webhook_delivery;
        // An empty install: whoever can read the data directory can make
        // the first account in a browser, with a key written there. Once
        // an account exists, a key left from an earlier start is removed.
        if let Some(dir) = &pinion.settings().data_dir {
            if pinion.sessions.needs_first_account().await? {
                match pinion_service::SetupKey::write_to(dir) {
                    Ok(key) => server.setup_key = Some(key),
                    Err(err) => tracing::warn!(
                        error = %err,
                        "Could not write the setup key; create the first account with `pinion users create`."
                    ),
                }
            } else {
                let _ = std::fs::remove_file(dir.join(pinion_service::SETUP_KEY_FILE));
            }
        }
        let setup_key = server.setup_key.clone();
        let app = Application::build(server, pinion).await?;
        eprintln!(
            "Pinion is serving on http://{} (public URL {public_url}).",
            app.local_addr()
        );
        if let Some(path) = setup_key.as_ref().and_then(|key| key.file()) {
            eprintln!(
                "No account exists yet. Create the first (an admin) at {public_url}setup with \
                 the key in {} (readable only by this account), or with `pinion users create`.",
                path.display()
            );
        }
        if let Some(sim) = &simulator {
            eprint!("{}", simulator_banner(sim, &public_url));
        }
        app.run_until_stopped(shutdown_signal())
            .await
            .map_err(anyhow::Error::from)?;
        if let Some(sim) = simulator {
            sim.shutdown().await;
        }
        eprintln!("Pinion stopped.");
        Ok(())
    }
}

/// Starts the embedded simulator with one app whose only redirect URI is
/// `redirect_uri` and the auto-approving demo user.
pub(crate) async fn start_simulator(
    listen: SocketAddr,
    redirect_uri: &str,
) -> anyhow::Result<pinion_simulator::RunningSimulator> {
    anyhow::ensure!(
        listen.ip().is_loopback(),
        "--simulator-listen must be a loopback address (the simulator is for this machine only)"
    );
    let mut fixtures = pinion_simulator::Fixtures::demo(0);
    for app in &mut fixtures.apps {
        app.name = "Pinion quickstart".to_owned();
        app.redirect_uris = vec![redirect_uri.to_owned()];
    }
    for user in &mut fixtures.users {
        user.auto_approve = true;
    }
    let config = pinion_simulator::SimConfig {
        fixtures,
        ..pinion_simulator::SimConfig::default()
    };
    pinion_simulator::spawn_on(listen, config)
        .await
        .with_context(|| format!("starting the embedded simulator on {listen}"))
}

/// What a new user needs to try the flow against the embedded simulator.
fn simulator_banner(sim: &pinion_simulator::RunningSimulator, public_url: &url::Url) -> String {
    let fixtures = &sim.config().fixtures;
    let app = fixtures.apps.first();
    let user = fixtures.users.first();
    let client_id = app
        .and_then(|a| a.client_id.as_deref())
        .unwrap_or(pinion_simulator::config::DEMO_CLIENT_ID);
    // The simulator's throwaway demo secret, printed on purpose: it exists only
    // in this local simulator and is what the quickstart asks the user to paste.
    let client_secret = app.and_then(|a| a.client_secret.as_deref()).unwrap_or("");
    let password = user.map(|u| u.password.as_str()).unwrap_or("");
    format!(
        "Embedded Pinterest simulator on {base} (nothing here talks to Pinterest).\n\
         \x20 PINTEREST_OAUTH_URL={oauth}\n\
         \x20 PINTEREST_API_URL={api}\n\
         Simulated app (create a credential with these):\n\
         \x20 client id:     {client_id}\n\
         \x20 client secret: {client_secret}\n\
         \x20 redirect URI:  {redirect}\n\
         Simulated Pinterest user (approves automatically; the sign-in page takes these):\n\
         \x20 username: {SIM_USERNAME}\n\
         \x20 password: {password}\n\
         For `pinion credentials authorize|check|refresh`, export the two PINTEREST_* lines above.\n",
        base = sim.base_url(),
        oauth = sim.oauth_url(),
        api = sim.api_url(),
        redirect = pinion_service::redirect_uri(public_url),
    )
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
