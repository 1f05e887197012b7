//! Where Pinterest's OAuth endpoints live and how the token client behaves:
//! base URLs, the redirect URI, timeouts and size limits, validated in one place.
//!
//! Every URL here comes from configuration, never from a request. A URL must use
//! `https`; plain `http` is accepted only for a loopback host (127.0.0.0/8, `::1`,
//! `localhost`) so tests and the local simulator can run without TLS.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use url::{Host, Url};

/// Pinterest's authorization (consent) page.
pub const DEFAULT_AUTHORIZATION_URL: &str = "https://www.pinterest.com/oauth/";

/// Pinterest's v5 API base; the token endpoint is `{api}/oauth/token`.
pub const DEFAULT_API_URL: &str = "https://api.pinterest.com/v5";

/// A configuration value that cannot be used. The message names the setting
/// and says what is wrong; it never repeats a user name or password found in
/// a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {reason}")]
pub struct ConfigError {
    /// The setting at fault, e.g. `PINTEREST_API_URL`.
    pub setting: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    fn new(setting: &'static str, reason: impl Into<String>) -> Self {
        Self {
            setting,
            reason: reason.into(),
        }
    }
}

/// How Pinion reaches Pinterest's OAuth endpoints.
///
/// Build it with [`OAuthConfig::default`] (Pinterest's real URLs) or
/// [`OAuthConfig::from_urls`]; [`crate::PinterestOAuth::new`] validates it again,
/// so a hand-edited value cannot slip past the checks.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The authorization page users are sent to (`PINTEREST_OAUTH_URL`).
    pub authorization_url: Url,
    /// The API base (`PINTEREST_API_URL`), without a trailing `/oauth/token`.
    pub api_url: Url,
    /// Time allowed to open the TCP and TLS connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole token request, from connecting to the last
    /// byte of the body. A code exchange that runs out of it is reported as
    /// [`crate::TokenError::Timeout`] and never resent.
    pub request_timeout: Duration,
    /// The largest token-endpoint body read; a longer one is refused while it
    /// streams in, so memory stays bounded.
    pub max_response_bytes: usize,
    /// The longest wait a 429 can ask for; a larger `Retry-After` or
    /// `x-ratelimit-reset` is capped to this.
    pub max_retry_after: Duration,
    /// Sends `continuous_refresh=true` with the code exchange. Pinterest asks
    /// this of apps created before 2025-09-25 (newer apps get continuous
    /// refresh tokens anyway), so it is off unless the operator turns it on.
    pub continuous_refresh: bool,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            authorization_url: Url::parse(DEFAULT_AUTHORIZATION_URL)
                .expect("the default authorization URL is valid"),
            api_url: Url::parse(DEFAULT_API_URL).expect("the default API URL is valid"),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 64 * 1024,
            max_retry_after: Duration::from_secs(600),
            continuous_refresh: false,
        }
    }
}

impl OAuthConfig {
    /// Pinterest's defaults with the two base URLs replaced, validated.
    pub fn from_urls(authorization_url: &str, api_url: &str) -> Result<Self, ConfigError> {
        let config = Self {
            authorization_url: parse_endpoint("PINTEREST_OAUTH_URL", authorization_url)?,
            api_url: parse_endpoint("PINTEREST_API_URL", api_url)?,
            ..Self::default()
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks every field: URLs as in [`OAuthConfig::from_urls`], timeouts
    /// non-zero, the body cap between 1 KiB and 1 MiB.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_endpoint("PINTEREST_OAUTH_URL", &self.authorization_url)?;
        check_endpoint("PINTEREST_API_URL", &self.api_url)?;
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::new("connect_timeout", "must be above zero"));
        }
        if self.request_timeout.is_zero() {
            return Err(ConfigError::new("request_timeout", "must be above zero"));
        }
        if !(1024..=1024 * 1024).contains(&self.max_response_bytes) {
            return Err(ConfigError::new(
                "max_response_bytes",
                "must be between 1024 and 1048576",
            ));
        }
        Ok(())
    }

    /// `{api}/oauth/token`, with exactly one slash between the parts and none
    /// at the end (Pinterest refuses `…/oauth/token/`).
    pub fn token_url(&self) -> Url {
        let mut url = self.api_url.clone();
        let path = format!("{}/oauth/token", self.api_url.path().trim_end_matches('/'));
        url.set_path(&path);
        url
    }

    /// True when both endpoints use `https`, so the HTTP client can refuse
    /// anything else outright.
    pub(crate) fn all_https(&self) -> bool {
        self.authorization_url.scheme() == "https" && self.api_url.scheme() == "https"
    }
}

/// The exact redirect URI registered on the Pinterest app, e.g.
/// `https://pinion.example/oauth/pinterest/callback`.
///
/// It comes from configuration (the public URL), never from a request's `Host`
/// header, and is sent unchanged in the authorization URL and in the code
/// exchange, as Pinterest compares it character for character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(Url);

impl RedirectUri {
    /// Validates a redirect URI: absolute, `https` (or `http` on loopback), no
    /// user name or password, no fragment.
    pub fn parse(input: &str) -> Result<Self, ConfigError> {
        const SETTING: &str = "redirect_uri";
        let url = Url::parse(input)
            .map_err(|err| ConfigError::new(SETTING, format!("is not an absolute URL ({err})")))?;
        check_scheme_and_host(SETTING, &url)?;
        if url.fragment().is_some() {
            return Err(ConfigError::new(
                SETTING,
                "must not contain a fragment (#…)",
            ));
        }
        Ok(Self(url))
    }

    /// The URI as sent to Pinterest.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URI as a parsed URL.
    pub fn as_url(&self) -> &Url {
        &self.0
    }
}

impl std::fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

fn parse_endpoint(setting: &'static str, input: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(input.trim())
        .map_err(|err| ConfigError::new(setting, format!("is not an absolute URL ({err})")))?;
    check_endpoint(setting, &url)?;
    Ok(url)
}

fn check_endpoint(setting: &'static str, url: &Url) -> Result<(), ConfigError> {
    check_scheme_and_host(setting, url)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(
            setting,
            "must not contain a query (?…) or a fragment (#…)",
        ));
    }
    Ok(())
}

fn check_scheme_and_host(setting: &'static str, url: &Url) -> Result<(), ConfigError> {
    if !url.username().is_empty() || url.password().is_some() {
        // The value is not repeated: it holds a credential.
        return Err(ConfigError::new(
            setting,
            "must not contain a user name or password",
        ));
    }
    let Some(host) = url.host() else {
        return Err(ConfigError::new(setting, format!("`{url}` has no host")));
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&host) => Ok(()),
        "http" => Err(ConfigError::new(
            setting,
            format!(
                "`{url}` uses plain http; use https (http is allowed only for 127.0.0.1, ::1 or localhost)"
            ),
        )),
        other => Err(ConfigError::new(
            setting,
            format!("`{url}` has scheme `{other}`; use https"),
        )),
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => Ipv4Addr::is_loopback(ip),
        Host::Ipv6(ip) => Ipv6Addr::is_loopback(ip),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_points_at_pinterest_and_is_valid() {
        let config = OAuthConfig::default();
        config.validate().unwrap();
        assert_eq!(
            config.authorization_url.as_str(),
            "https://www.pinterest.com/oauth/"
        );
        assert_eq!(
            config.token_url().as_str(),
            "https://api.pinterest.com/v5/oauth/token"
        );
        assert!(config.all_https());
    }

    #[test]
    fn token_url_has_no_trailing_slash_whatever_the_api_base_ends_with() {
        for api in [
            "https://api.example.com/v5",
            "https://api.example.com/v5/",
            "http://127.0.0.1:9999/v5//",
        ] {
            let config = OAuthConfig::from_urls("https://www.example.com/oauth/", api).unwrap();
            let token = config.token_url();
            assert!(token.path().ends_with("/v5/oauth/token"), "{token}");
            assert!(!token.path().contains("//"), "{token}");
        }
    }

    #[test]
    fn plain_http_is_refused_for_a_non_loopback_host() {
        for url in [
            "http://www.pinterest.com/oauth/",
            "http://10.0.0.1/oauth/",
            "http://169.254.169.254/",
            "http://localhost.example.com/",
            "http://[::2]/",
        ] {
            let err = OAuthConfig::from_urls(url, DEFAULT_API_URL).unwrap_err();
            assert_eq!(err.setting, "PINTEREST_OAUTH_URL");
            assert!(err.reason.contains("plain http"), "{err}");
            let err = OAuthConfig::from_urls(DEFAULT_AUTHORIZATION_URL, url).unwrap_err();
            assert_eq!(err.setting, "PINTEREST_API_URL");
        }
    }

    #[test]
    fn plain_http_is_allowed_on_loopback_hosts() {
        for url in [
            "http://127.0.0.1:8081/v5",
            "http://127.8.9.10/v5",
            "http://[::1]:9000/v5",
            "http://localhost:9000/v5",
            "http://LOCALHOST/v5",
        ] {
            OAuthConfig::from_urls(url, url).unwrap();
        }
    }

    #[test]
    fn other_schemes_garbage_userinfo_and_queries_are_clear_config_errors() {
        let cases = [
            ("ftp://api.example.com/v5", "scheme `ftp`"),
            ("api.pinterest.com/v5", "not an absolute URL"),
            ("", "not an absolute URL"),
            (
                "https://user:hunter2@api.example.com/v5",
                "user name or password",
            ),
            ("https://api.example.com/v5?x=1", "query"),
            ("https://api.example.com/v5#top", "fragment"),
        ];
        for (url, expected) in cases {
            let err = OAuthConfig::from_urls(DEFAULT_AUTHORIZATION_URL, url).unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with("PINTEREST_API_URL: "), "{text}");
            assert!(text.contains(expected), "{url}: {text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
    }

    #[test]
    fn validate_refuses_zero_timeouts_and_silly_body_caps() {
        let cases = [
            (
                OAuthConfig {
                    request_timeout: Duration::ZERO,
                    ..OAuthConfig::default()
                },
                "request_timeout",
            ),
            (
                OAuthConfig {
                    connect_timeout: Duration::ZERO,
                    ..OAuthConfig::default()
                },
                "connect_timeout",
            ),
            (
                OAuthConfig {
                    max_response_bytes: 10,
                    ..OAuthConfig::default()
                },
                "max_response_bytes",
            ),
            (
                OAuthConfig {
                    api_url: Url::parse("http://api.pinterest.com/v5").unwrap(),
                    ..OAuthConfig::default()
                },
                "PINTEREST_API_URL",
            ),
        ];
        for (config, setting) in cases {
            assert_eq!(config.validate().unwrap_err().setting, setting);
        }
    }

    #[test]
    fn redirect_uri_is_kept_exactly_and_validated_like_the_endpoints() {
        let uri = RedirectUri::parse("http://127.0.0.1:8080/oauth/pinterest/callback").unwrap();
        assert_eq!(
            uri.as_str(),
            "http://127.0.0.1:8080/oauth/pinterest/callback"
        );
        RedirectUri::parse("https://pinion.example/oauth/pinterest/callback?x=1").unwrap();
        assert!(RedirectUri::parse("http://pinion.example/cb").is_err());
        assert!(RedirectUri::parse("https://pinion.example/cb#frag").is_err());
        assert!(RedirectUri::parse("/oauth/pinterest/callback").is_err());
        assert!(RedirectUri::parse("javascript:alert(1)").is_err());
    }
}
