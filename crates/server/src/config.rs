//! The server's own settings, already validated: where to listen, the
//! background refresher's pacing and the connection cap. Everything else
//! (the store, Pinterest's URLs, the public URL) belongs to the
//! [`pinion_service::Pinion`] the server is built with.

use std::net::SocketAddr;

use anyhow::Context;
use url::Url;

/// What `Application::build` needs besides the [`pinion_service::Pinion`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to bind; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// The background refresher's pacing; `None` runs no refresher.
    pub refresher: Option<pinion_service::RefresherConfig>,
    /// The most connections served at once (`PINION_MAX_CONNECTIONS`).
    /// `None` derives it from the open-file limit
    /// ([`crate::connections::max_connections_for`]).
    pub max_connections: Option<usize>,
    /// How often the health checker checks each active credential
    /// (`--check-interval`); `None` runs no checker (issue 14).
    pub check_interval: Option<std::time::Duration>,
    /// Whether this server delivers queued webhook events (issue 14).
    pub deliver_webhooks: bool,
    /// The key `/setup` asks for to create the first account; `None` turns
    /// the page off (`pinion serve` makes one when the store has no
    /// account).
    pub setup_key: Option<pinion_service::SetupKey>,
}

impl Settings {
    /// Listens on `listen` with a running refresher, the webhook
    /// deliverer and the default cap; no health checker (`pinion serve`
    /// turns it on with its `--check-interval`).
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            refresher: Some(pinion_service::RefresherConfig::default()),
            max_connections: None,
            check_interval: None,
            deliver_webhooks: true,
            setup_key: None,
        }
    }

    /// Parses and checks a public URL: http or https, a host, no path beyond
    /// `/`, no query, no credentials.
    pub fn parse_public_url(text: &str) -> anyhow::Result<Url> {
        let url = Url::parse(text.trim())
            .with_context(|| format!("PINION_PUBLIC_URL `{text}` is not a URL"))?;
        anyhow::ensure!(
            matches!(url.scheme(), "http" | "https"),
            "PINION_PUBLIC_URL must use http or https"
        );
        anyhow::ensure!(url.host().is_some(), "PINION_PUBLIC_URL must name a host");
        anyhow::ensure!(
            url.username().is_empty() && url.password().is_none(),
            "PINION_PUBLIC_URL must not contain credentials"
        );
        anyhow::ensure!(
            url.query().is_none() && url.fragment().is_none(),
            "PINION_PUBLIC_URL must not have a query or fragment"
        );
        anyhow::ensure!(
            url.path() == "/" || url.path().is_empty(),
            "PINION_PUBLIC_URL must not have a path (Pinion is served at the root)"
        );
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_must_be_a_bare_origin() {
        assert!(Settings::parse_public_url("http://127.0.0.1:8080").is_ok());
        assert!(Settings::parse_public_url("https://pinion.example.com/").is_ok());
        for bad in [
            "ftp://x",
            "http://user:pw@host",
            "http://host/app",
            "http://host/?q=1",
            "not a url",
        ] {
            assert!(Settings::parse_public_url(bad).is_err(), "{bad}");
        }
    }
}
