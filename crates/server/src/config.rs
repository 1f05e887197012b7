//! The server's settings, already validated: where to listen, the public URL
//! browsers reach Pinion at, the store to use, Pinterest's URLs and the token
//! refresher's pacing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use pinion_store::Store;
use url::Url;

/// Everything `Application::build` needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to bind; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// The URL browsers use to reach Pinion, e.g. `http://127.0.0.1:8080`.
    /// Redirect URIs are built from it, never from a request's `Host`.
    pub public_url: Url,
    /// The credential store.
    pub store: Arc<dyn Store>,
    /// Pinterest's consent page (`PINTEREST_OAUTH_URL`).
    pub pinterest_oauth_url: String,
    /// Pinterest's API base (`PINTEREST_API_URL`); the token endpoint is
    /// `$PINTEREST_API_URL/oauth/token`.
    pub pinterest_api_url: String,
    /// When and how tokens are refreshed.
    pub refresh_policy: pinion_service::RefreshPolicy,
    /// The background refresher's pacing; `None` runs no refresher.
    pub refresher: Option<pinion_service::RefresherConfig>,
    /// Pinion's data directory (`PINION_DATA_DIR`): source runs write their
    /// outputs under `outputs/` in it and keep their state there. `None`
    /// makes every run fail saying so.
    pub data_dir: Option<PathBuf>,
    /// The most connections served at once (`PINION_MAX_CONNECTIONS`).
    /// `None` derives it from the open-file limit
    /// ([`crate::connections::max_connections_for`]).
    pub max_connections: Option<usize>,
}

/// Pinterest's consent page, the default of `PINTEREST_OAUTH_URL`.
pub const DEFAULT_PINTEREST_OAUTH_URL: &str = "https://www.pinterest.com/oauth/";
/// Pinterest's API base, the default of `PINTEREST_API_URL`.
pub const DEFAULT_PINTEREST_API_URL: &str = "https://api.pinterest.com/v5";

impl Settings {
    /// Settings with Pinterest's real URLs, the default refresh policy and a
    /// running refresher.
    pub fn new(listen: SocketAddr, public_url: Url, store: Arc<dyn Store>) -> Self {
        Self {
            listen,
            public_url,
            store,
            pinterest_oauth_url: DEFAULT_PINTEREST_OAUTH_URL.to_owned(),
            pinterest_api_url: DEFAULT_PINTEREST_API_URL.to_owned(),
            refresh_policy: pinion_service::RefreshPolicy::default(),
            refresher: Some(pinion_service::RefresherConfig::default()),
            data_dir: None,
            max_connections: None,
        }
    }

    /// The callback every flow redirects to: `$PINION_PUBLIC_URL/oauth/pinterest/callback`.
    pub fn redirect_uri(&self) -> String {
        format!(
            "{}/oauth/pinterest/callback",
            self.public_url.as_str().trim_end_matches('/')
        )
    }

    /// Parses and checks a public URL: http or https, a host, no path beyond
    /// `/`, no query, no credentials.
    pub fn parse_public_url(text: &str) -> anyhow::Result<Url> {
        let url = Url::parse(text.trim())
            .map_err(|err| anyhow::anyhow!("PINION_PUBLIC_URL `{text}` is not a URL: {err}"))?;
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
