//! Configuration of one simulator instance: token lifetimes, rate-limit scaling, the seed
//! that drives generated data, and the fixtures (apps and users) present at start.
//!
//! `SimConfig::default()` uses Pinterest's real numbers, so a simulator started without
//! options behaves like the production API; tests shrink lifetimes and limits instead.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{AppSpec, DataShape, UserSpec};

/// Pinterest's access-token lifetime: 30 days.
pub const PINTEREST_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(2_592_000);
/// Pinterest's continuous refresh-token lifetime: 60 days.
pub const PINTEREST_REFRESH_TOKEN_TTL: Duration = Duration::from_secs(5_184_000);
/// The authorization-code lifetime the simulator enforces: 10 minutes.
pub const PINTEREST_CODE_TTL: Duration = Duration::from_secs(600);

/// Everything that shapes one simulator instance.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seed of every generated value (ids stay stable for a given seed and fixture order).
    pub seed: u64,
    /// Lifetime of access tokens (`expires_in`).
    pub access_token_ttl: Duration,
    /// Lifetime of each continuous refresh token (`refresh_token_expires_in`).
    pub refresh_token_ttl: Duration,
    /// Lifetime of authorization codes.
    pub code_ttl: Duration,
    /// Whether rate limits are enforced at all.
    pub rate_limits_enabled: bool,
    /// Multiplies every per-category limit; 1.0 is Pinterest's published numbers.
    pub rate_limit_scale: f64,
    /// Length of one rate-limit window; Pinterest counts per minute.
    pub rate_limit_window: Duration,
    /// Pinterest's universal limit of requests per second per user and app, if enforced.
    pub universal_rate_limit_per_second: Option<u32>,
    /// Marks every fixture user as auto-approving (see the README on headless consent).
    pub auto_approve: bool,
    /// Prefix of the generated media URLs.
    pub media_base_url: String,
    /// When the simulator is started on an address (`spawn_on`, `pinion
    /// simulator`), point the generated media URLs at its own `/media/…`,
    /// which serves an image for each (on by default); otherwise they keep
    /// [`SimConfig::media_base_url`].
    pub serve_media: bool,
    /// Apps and users registered at start.
    pub fixtures: Fixtures,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            access_token_ttl: PINTEREST_ACCESS_TOKEN_TTL,
            refresh_token_ttl: PINTEREST_REFRESH_TOKEN_TTL,
            code_ttl: PINTEREST_CODE_TTL,
            rate_limits_enabled: true,
            rate_limit_scale: 1.0,
            rate_limit_window: Duration::from_secs(60),
            universal_rate_limit_per_second: Some(100),
            auto_approve: false,
            media_base_url: "https://i.pinimg.com".to_owned(),
            serve_media: true,
            fixtures: Fixtures::default(),
        }
    }
}

impl SimConfig {
    /// A configuration for tests: short lifetimes are left to the caller, but rate limits
    /// are off and the fixtures hold the demo app and a small demo user.
    pub fn for_tests() -> Self {
        Self {
            rate_limits_enabled: false,
            ..Self::default()
        }
    }
}

/// The demo app's numeric client id.
pub const DEMO_CLIENT_ID: &str = "1484363";
/// The demo app's redirect URI.
pub const DEMO_REDIRECT_URI: &str = "http://127.0.0.1:8080/oauth/pinterest/callback";
/// The demo user's username.
pub const DEMO_USERNAME: &str = "demo";
/// The demo user's password (a simulator-only value printed at start).
pub const DEMO_PASSWORD: &str = "demo-password";

/// Apps and users to register at start, as loaded from a JSON fixture file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    /// Registered OAuth apps.
    #[serde(default)]
    pub apps: Vec<AppSpec>,
    /// Pinterest accounts.
    #[serde(default)]
    pub users: Vec<UserSpec>,
}

impl Default for Fixtures {
    fn default() -> Self {
        Self::demo(0)
    }
}

impl Fixtures {
    /// The demo app and user; the app secret is derived from the seed so it is stable.
    pub fn demo(seed: u64) -> Self {
        let secret = format!(
            "{:016x}{:016x}{:08x}",
            crate::generate::mix(seed ^ 0x005e_c2e7),
            crate::generate::mix(seed ^ 0xa9_9c),
            crate::generate::mix(seed ^ 0x7) as u32
        );
        Self {
            apps: vec![AppSpec {
                client_id: Some(DEMO_CLIENT_ID.to_owned()),
                client_secret: Some(secret),
                name: "Pinion Demo".to_owned(),
                redirect_uris: vec![DEMO_REDIRECT_URI.to_owned()],
                owner: Some(DEMO_USERNAME.to_owned()),
            }],
            users: vec![UserSpec {
                username: DEMO_USERNAME.to_owned(),
                password: DEMO_PASSWORD.to_owned(),
                account_type: crate::model::AccountType::Business,
                auto_approve: false,
                data: DataShape::default(),
            }],
        }
    }

    /// Parses a fixture file's JSON text.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}
