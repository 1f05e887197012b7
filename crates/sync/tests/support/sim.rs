//! Test and benchmark support: a simulator on port 0 with one app and one
//! auto-approving user, the headless OAuth flow to get real tokens, a
//! `TokenSource` that refreshes once through `pinion_oauth`, and a client
//! configured for fast tests (short backoffs, no client-side budget).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pinion_domain::{AccessToken, ClientId, ClientSecret, RefreshToken, SystemClock};
use pinion_oauth::{OAuthConfig, PinterestOAuth};
use pinion_pinterest::{
    BaseUrl, ClientConfig, PinterestClient, RateBudgets, RetryPolicy, TokenSource, TokenSourceError,
};
use pinion_simulator::{AppInfo, AppSpec, DataShape, RunningSimulator, SimConfig};

/// The redirect URI of the test app; nothing listens there.
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
/// The test user.
pub const USER: &str = "alice";
/// Every scope the sync and publisher use.
pub const ALL_SCOPES: &str = "user_accounts:read,boards:read,boards:read_secret,boards:write,boards:write_secret,pins:read,pins:read_secret,pins:write,pins:write_secret,ads:read";

/// A running simulator with one app and one user.
pub struct TestSim {
    pub sim: RunningSimulator,
    pub app: AppInfo,
    http: reqwest::Client,
}

/// Tokens from a code exchange.
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

/// A simulator configuration for tests: no rate limits, no fixtures.
pub fn sim_config() -> SimConfig {
    SimConfig {
        rate_limits_enabled: false,
        fixtures: pinion_simulator::Fixtures {
            apps: vec![],
            users: vec![],
        },
        ..SimConfig::default()
    }
}

/// Small data with every kind of object.
pub fn small_shape() -> DataShape {
    DataShape {
        boards: 6,
        sections_per_board: 2,
        pins_per_board: 11,
        pins_per_section: 3,
        ad_accounts: 3,
        secret_share: 0.2,
        protected_share: 0.2,
        video_share: 0.3,
    }
}

/// Starts a simulator and registers the app and the user.
pub async fn start(config: SimConfig, shape: DataShape) -> TestSim {
    let app = AppSpec {
        name: "Sync Test".into(),
        redirect_uris: vec![REDIRECT.into()],
        owner: Some(USER.into()),
        ..AppSpec::default()
    };
    let user = pinion_testkit::pinterest_user(USER, "correct horse", true, shape);
    let (sim, app) = pinion_testkit::simulator_with(config, &app, &user).await;
    let http = pinion_testkit::no_redirects();
    TestSim { sim, app, http }
}

impl TestSim {
    /// Walks the headless consent for the test user and exchanges the code.
    pub async fn tokens(&self, scopes: &str) -> Tokens {
        self.tokens_for(USER, scopes).await
    }

    /// Registers another auto-approving user with `shape`.
    pub async fn add_user(&self, username: &str, shape: DataShape) {
        self.sim
            .control()
            .register_user(&pinion_testkit::pinterest_user(
                username,
                "correct horse",
                true,
                shape,
            ))
            .await
            .expect("user registers");
    }

    /// Walks the headless consent for `username` and exchanges the code.
    pub async fn tokens_for(&self, username: &str, scopes: &str) -> Tokens {
        let authorize = url::Url::parse_with_params(
            &self.sim.oauth_url(),
            &[
                ("client_id", self.app.client_id.as_str()),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", scopes),
                ("state", "st"),
                ("username", username),
            ],
        )
        .unwrap();
        let code = pinion_testkit::headless_consent(&self.http, authorize.as_str())
            .await
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("a code");
        let res = self
            .http
            .post(self.sim.token_url())
            .basic_auth(&self.app.client_id, Some(&self.app.client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
            ])
            .send()
            .await
            .expect("token endpoint answers");
        assert_eq!(res.status().as_u16(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        Tokens {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A token source that refreshes through the simulator's token endpoint.
    pub fn token_source(&self, tokens: &Tokens) -> Arc<RefreshingTokens> {
        let oauth = PinterestOAuth::new(
            OAuthConfig::from_urls(&self.sim.oauth_url(), &self.sim.api_url()).unwrap(),
            Arc::new(SystemClock),
        )
        .unwrap();
        Arc::new(RefreshingTokens {
            oauth,
            client_id: ClientId::parse(&self.app.client_id).unwrap(),
            client_secret: ClientSecret::new(self.app.client_secret.clone()),
            state: tokio::sync::Mutex::new((
                AccessToken::new(tokens.access.clone()),
                RefreshToken::new(tokens.refresh.clone()),
            )),
            refreshes: Mutex::new(0),
        })
    }

    /// A client of the simulator with fast retries.
    pub fn client(&self, tokens: Arc<dyn TokenSource>) -> PinterestClient {
        PinterestClient::new(fast_config(&self.sim.api_url()), tokens).unwrap()
    }
}

/// Client settings for tests: short backoffs and 429 waits, no budget.
pub fn fast_config(api_url: &str) -> ClientConfig {
    ClientConfig {
        base_url: BaseUrl::parse(api_url).unwrap(),
        request_timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(40),
            max_rate_limited: 10,
            max_rate_limit_wait: Duration::from_millis(50),
        },
        budgets: RateBudgets::unlimited().with_max_header_pause(Duration::from_millis(50)),
        ..ClientConfig::default()
    }
}

/// A token source holding one access and refresh token in memory; on a 401
/// it refreshes once (single-flight behind a mutex).
pub struct RefreshingTokens {
    oauth: PinterestOAuth,
    client_id: ClientId,
    client_secret: ClientSecret,
    state: tokio::sync::Mutex<(AccessToken, RefreshToken)>,
    refreshes: Mutex<u32>,
}

impl RefreshingTokens {
    /// How many refreshes were made.
    pub fn refreshes(&self) -> u32 {
        *self.refreshes.lock().unwrap()
    }
}

#[async_trait]
impl TokenSource for RefreshingTokens {
    async fn access_token(&self) -> Result<AccessToken, TokenSourceError> {
        Ok(self.state.lock().await.0.clone())
    }

    async fn refreshed_after_unauthorized(
        &self,
        rejected: &AccessToken,
    ) -> Result<AccessToken, TokenSourceError> {
        let mut state = self.state.lock().await;
        if state.0.expose_secret() != rejected.expose_secret() {
            return Ok(state.0.clone());
        }
        let answer = self
            .oauth
            .refresh(&self.client_id, &self.client_secret, &state.1, None)
            .await
            .map_err(|e| TokenSourceError::NeedsReauthorization {
                reason: e.to_string(),
            })?;
        state.0 = answer.access_token.clone();
        if let Some(refresh) = answer.refresh_token {
            state.1 = refresh;
        }
        *self.refreshes.lock().unwrap() += 1;
        Ok(answer.access_token)
    }
}
