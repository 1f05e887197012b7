//! Shared set-up: a simulator on port 0 with an app and an auto-approving user registered
//! through the control API, and small helpers that walk the OAuth flow.

use std::time::Duration;

use pinion_simulator::{
    AccountType, AppInfo, AppSpec, DataShape, RunningSimulator, SimConfig, UserSpec,
};
use reqwest::StatusCode;
use serde_json::Value;

/// The redirect URI registered for test apps; nothing listens there, the tests read
/// the `Location` header instead.
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
/// The test user.
pub const USER: &str = "alice";
/// Every read scope, including the secret ones.
pub const ALL_READ: &str =
    "user_accounts:read,boards:read,boards:read_secret,pins:read,pins:read_secret,ads:read";
/// Every read and write scope the tests need.
pub const ALL: &str = "user_accounts:read,boards:read,boards:read_secret,boards:write,boards:write_secret,pins:read,pins:read_secret,pins:write,pins:write_secret,ads:read";

/// A running simulator with one app and one user.
pub struct TestSim {
    pub sim: RunningSimulator,
    pub app: AppInfo,
    pub http: reqwest::Client,
}

/// The test user's data shape: small but with every kind of object.
pub fn small_shape() -> DataShape {
    DataShape {
        boards: 5,
        sections_per_board: 2,
        pins_per_board: 12,
        pins_per_section: 3,
        ad_accounts: 3,
        secret_share: 0.2,
        protected_share: 0.2,
        video_share: 0.3,
    }
}

/// A test configuration: short lifetimes, no rate limits, no fixtures.
pub fn test_config() -> SimConfig {
    SimConfig {
        access_token_ttl: Duration::from_secs(300),
        refresh_token_ttl: Duration::from_secs(600),
        code_ttl: Duration::from_secs(60),
        rate_limits_enabled: false,
        fixtures: pinion_simulator::Fixtures {
            apps: vec![],
            users: vec![],
        },
        ..SimConfig::default()
    }
}

/// Starts a simulator with `config` and registers the test app and user.
pub async fn start_with(config: SimConfig, shape: DataShape) -> TestSim {
    let sim = pinion_simulator::spawn(config)
        .await
        .expect("simulator starts");
    let app = sim
        .control()
        .register_app(&AppSpec {
            name: "Test App".into(),
            redirect_uris: vec![REDIRECT.into()],
            owner: Some(USER.into()),
            ..AppSpec::default()
        })
        .await
        .expect("app registers");
    sim.control()
        .register_user(&UserSpec {
            username: USER.into(),
            password: "correct horse".into(),
            account_type: AccountType::Business,
            auto_approve: true,
            data: shape,
        })
        .await
        .expect("user registers");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client builds");
    TestSim { sim, app, http }
}

/// Starts a simulator with the default test configuration and small data.
pub async fn start() -> TestSim {
    start_with(test_config(), small_shape()).await
}

impl TestSim {
    /// `GET /oauth/` with the usual parameters and extra ones.
    pub async fn authorize(&self, scope: &str, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut q: Vec<(&str, &str)> = vec![
            ("client_id", &self.app.client_id),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", scope),
            ("state", "st-123"),
        ];
        q.extend_from_slice(extra);
        self.http
            .get(self.sim.oauth_url())
            .query(&q)
            .send()
            .await
            .expect("authorize answers")
    }

    /// Walks the headless flow and returns an authorization code.
    pub async fn code(&self, scope: &str) -> String {
        let res = self.authorize(scope, &[("username", USER)]).await;
        assert_eq!(res.status(), StatusCode::FOUND, "authorize should redirect");
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let url = url::Url::parse(&location).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(pairs.contains(&("state".into(), "st-123".into())));
        pairs
            .into_iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v)
            .expect("redirect carries a code")
    }

    /// Posts a form to the token endpoint with the app's Basic credentials.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.sim.token_url())
            .basic_auth(&self.app.client_id, Some(&self.app.client_secret))
            .form(form)
            .send()
            .await
            .expect("token endpoint answers")
    }

    /// Exchanges a fresh code for tokens and returns the JSON body.
    pub async fn tokens(&self, scope: &str) -> Value {
        let code = self.code(scope).await;
        let res = self
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ])
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    /// An access token with these scopes.
    pub async fn access_token(&self, scope: &str) -> String {
        self.tokens(scope).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `GET {api}{path}` with a bearer token.
    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.sim.api_url()))
            .bearer_auth(token)
            .send()
            .await
            .expect("API answers")
    }

    /// A JSON request with a bearer token.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.http
            .request(method, format!("{}{path}", self.sim.api_url()))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("API answers")
    }
}

/// Asserts a Pinterest error: status and numeric code.
pub async fn assert_error(res: reqwest::Response, status: u16, code: i64) -> Value {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "unexpected status, body {body}");
    assert_eq!(
        body["code"].as_i64(),
        Some(code),
        "unexpected code in {body}"
    );
    assert!(body["message"].is_string(), "message missing in {body}");
    body
}
