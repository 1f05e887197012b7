//! Settings of a [`crate::PinterestClient`]: base URL, timeouts, size cap,
//! retry policy and rate budgets, with safe defaults.
//!
//! The base URL is a setting so tests and the simulator can replace
//! Pinterest. It must be `https`, except plain `http` on a loopback address,
//! which keeps the crate testable without certificates and never lets a
//! token travel unencrypted over a network.

use std::net::IpAddr;
use std::time::Duration;

use url::Url;

use crate::pacing::RateBudgets;

/// Pinterest's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.pinterest.com/v5";

/// A base URL that may receive access tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(Url);

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The base URL is not an absolute https URL (or http on loopback).
    #[error("invalid Pinterest base URL: {0}")]
    BaseUrl(String),
    /// A numeric setting is out of range.
    #[error("invalid client setting `{field}`: {reason}")]
    Setting {
        /// The setting.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The HTTP client could not be built (e.g. no TLS backend).
    #[error("cannot build the HTTP client")]
    Http(#[source] reqwest::Error),
}

impl BaseUrl {
    /// Checks `input`: absolute, `https` (or `http` on 127.0.0.0/8, `::1`,
    /// `localhost`), no credentials, query or fragment. A trailing `/` is
    /// dropped.
    pub fn parse(input: &str) -> Result<Self, ConfigError> {
        let url =
            Url::parse(input).map_err(|e| ConfigError::BaseUrl(format!("not a URL ({e})")))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(ConfigError::BaseUrl(
                    "plain http is only allowed on a loopback address".into(),
                ));
            }
            other => {
                return Err(ConfigError::BaseUrl(format!(
                    "unsupported scheme `{other}`"
                )));
            }
        }
        if url.host().is_none() {
            return Err(ConfigError::BaseUrl("no host".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ConfigError::BaseUrl("must not contain credentials".into()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError::BaseUrl(
                "must not have a query or fragment".into(),
            ));
        }
        let trimmed = url.as_str().trim_end_matches('/').to_owned();
        let url = Url::parse(&trimmed).map_err(|e| ConfigError::BaseUrl(e.to_string()))?;
        Ok(Self(url))
    }

    /// The URL, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    /// True for `https`.
    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }

    /// The URL of `path` (an expanded, validated path starting with `/`).
    pub(crate) fn join(&self, path: &str) -> Result<Url, url::ParseError> {
        Url::parse(&format!("{}{}", self.as_str(), path))
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

impl Default for BaseUrl {
    fn default() -> Self {
        Self::parse(DEFAULT_BASE_URL)
            .unwrap_or_else(|_| unreachable!("the default base URL is valid"))
    }
}

/// How failed attempts are repeated.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts of a read in all, counting the first, before a transient
    /// failure (5xx, timeout, dropped connection, malformed body) is returned.
    pub max_attempts: u32,
    /// The first backoff; later ones grow twice as long, with jitter.
    pub initial_backoff: Duration,
    /// The longest backoff between two attempts.
    pub max_backoff: Duration,
    /// 429 answers in a row, for one request, before giving up with
    /// [`crate::ApiError::RateLimited`].
    pub max_rate_limited: u32,
    /// The longest wait for one 429 (`x-ratelimit-reset`, `Retry-After` or,
    /// without them, backoff).
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_rate_limited: 10,
            max_rate_limit_wait: Duration::from_secs(90),
        }
    }
}

/// Everything a client needs besides its token source.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// Where the API is; [`DEFAULT_BASE_URL`] unless testing.
    pub base_url: BaseUrl,
    /// Limit for establishing a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Limit for one attempt, from sending to the last body byte.
    pub request_timeout: Duration,
    /// Largest response body accepted, after decompression.
    pub max_response_bytes: usize,
    /// How failures are retried.
    pub retry: RetryPolicy,
    /// Client-side rate budgets.
    pub budgets: RateBudgets,
    /// Where `budgets` are drawn from together with every other process
    /// calling Pinterest for the same app and account; `None` paces this
    /// client alone.
    pub shared_budget: Option<crate::pacing::SharedBudget>,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: BaseUrl::default(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_response_bytes: 16 * 1024 * 1024,
            retry: RetryPolicy::default(),
            budgets: RateBudgets::standard(),
            shared_budget: None,
            user_agent: concat!("pinion/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl ClientConfig {
    /// The defaults, with another base URL.
    pub fn with_base_url(base_url: BaseUrl) -> Self {
        Self {
            base_url,
            ..Self::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let setting = |field, reason| Err(ConfigError::Setting { field, reason });
        if self.retry.max_attempts == 0 {
            return setting("retry.max_attempts", "must be at least 1");
        }
        if self.connect_timeout.is_zero() || self.request_timeout.is_zero() {
            return setting("timeouts", "must be positive");
        }
        if self.max_response_bytes == 0 {
            return setting("max_response_bytes", "must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_accepted_and_trailing_slash_dropped() {
        let url = BaseUrl::parse("https://api.pinterest.com/v5/").unwrap();
        assert_eq!(url.as_str(), "https://api.pinterest.com/v5");
        assert_eq!(
            url.join("/boards").unwrap().as_str(),
            "https://api.pinterest.com/v5/boards"
        );
        assert_eq!(BaseUrl::default().as_str(), DEFAULT_BASE_URL);
    }

    #[test]
    fn plain_http_is_only_accepted_on_loopback() {
        for ok in [
            "http://127.0.0.1:8080/v5",
            "http://127.5.0.1/v5",
            "http://[::1]:9/v5",
            "http://localhost:1/v5",
        ] {
            assert!(BaseUrl::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://api.pinterest.com/v5",
            "http://10.0.0.1/v5",
            "http://169.254.169.254/",
            "ftp://127.0.0.1/",
            "https://user:pw@api.pinterest.com/v5",
            "https://api.pinterest.com/v5?access_token=x",
            "https://api.pinterest.com/v5#x",
            "/v5",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn zero_attempts_is_refused() {
        let mut config = ClientConfig::default();
        config.retry.max_attempts = 0;
        assert!(config.validate().is_err());
        assert!(ClientConfig::default().validate().is_ok());
    }
}
