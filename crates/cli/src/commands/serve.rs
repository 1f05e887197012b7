//! `pinion serve`: the web UI and the JSON API in one process.

use std::net::SocketAddr;

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
    #[arg(long, env = "PINTEREST_OAUTH_URL", default_value = pinion_server::config::DEFAULT_PINTEREST_OAUTH_URL)]
    pinterest_oauth_url: String,
    /// Pinterest's API base; the token endpoint is `$PINTEREST_API_URL/oauth/token`.
    #[arg(long, env = "PINTEREST_API_URL", default_value = pinion_server::config::DEFAULT_PINTEREST_API_URL)]
    pinterest_api_url: String,
}

impl ServeArgs {
    /// Runs the server until Ctrl-C or SIGTERM.
    pub async fn run(self, store_args: &StoreArgs) -> CommandResult {
        let public_url = Settings::parse_public_url(
            self.public_url
                .as_deref()
                .unwrap_or(&format!("http://{}", self.listen)),
        )?;
        let store = store_args.open().await?;
        let mut settings = Settings::new(self.listen, public_url.clone(), store);
        settings.pinterest_oauth_url = self.pinterest_oauth_url.clone();
        settings.pinterest_api_url = self.pinterest_api_url.clone();
        let app = Application::build(settings).await?;
        eprintln!(
            "Pinion is serving on http://{} (public URL {public_url}).",
            app.local_addr()
        );
        app.run_until_stopped(shutdown_signal())
            .await
            .map_err(anyhow::Error::from)?;
        eprintln!("Pinion stopped.");
        Ok(())
    }
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
