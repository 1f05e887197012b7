//! `spawn_app()`: Pinion on a free loopback port with a fresh database, the
//! simulator beside it (with a registered app and a Pinterest user who signs
//! in on the real pages), and Pinion users `alice` and `bob` with passwords;
//! plus a cookie-keeping client per browser.

use std::sync::Arc;

use pinion_domain::{Password, Role, Username};
use pinion_server::{Application, Settings};
use pinion_simulator::SimConfig;

/// A client secret that must never appear in a page.
pub const SECRET_CANARY: &str = "CANARY-web-client-secret-7f3a";
/// The Pinion users' password.
pub const PASSWORD: &str = "a long test password";
/// The simulator user who approves on the consent page.
pub const PINNER: &str = "pinner";
/// Their simulator password.
pub const PINNER_PASSWORD: &str = "pinner-pw";

/// A running Pinion with the simulator.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`, also the public URL.
    pub address: String,
    /// The simulator (kept running for the test).
    pub sim: pinion_simulator::RunningSimulator,
    /// The registered app's client id.
    pub client_id: String,
    /// The registered app's client secret.
    pub client_secret: String,
    /// API tokens of `alice` and `bob`, for the JSON API.
    pub api_tokens: [String; 2],
    /// Pinion's data directory (source runs write under `outputs/` here).
    pub data_dir: std::path::PathBuf,
    /// The server's store, for setting up what the pages cannot make
    /// directly (a run caught while it runs).
    pub store: std::sync::Arc<dyn pinion_store::Store>,
    /// The setup key of an empty install ([`spawn_empty_app`]).
    pub setup_key: Option<String>,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub async fn spawn_app() -> TestApp {
    spawn(true).await
}

/// An empty install: no account, and `/setup` open with a setup key.
pub async fn spawn_empty_app() -> TestApp {
    spawn(false).await
}

async fn spawn(with_users: bool) -> TestApp {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", pinion_testkit::free_port())
        .parse()
        .unwrap();
    let public = format!("http://{addr}");
    let app = pinion_simulator::AppSpec {
        name: "Pinion".into(),
        redirect_uris: vec![format!("{public}/oauth/pinterest/callback")],
        ..Default::default()
    };
    let user = pinion_testkit::pinterest_user(PINNER, PINNER_PASSWORD, false, Default::default());
    let (sim, app_info) = pinion_testkit::simulator_with(SimConfig::for_tests(), &app, &user).await;
    let dir = tempfile::tempdir().unwrap();
    let store = pinion_testkit::open_data_dir(dir.path()).await;
    let sessions =
        pinion_service::Sessions::new(store.clone(), Arc::new(pinion_domain::SystemClock));
    let mut api_tokens = Vec::new();
    let names: &[&str] = if with_users { &["alice", "bob"] } else { &[] };
    for &name in names {
        let user = store
            .create_user(&Username::parse(name).unwrap(), Role::User)
            .await
            .unwrap();
        let token = store.create_api_token(&user.id).await.unwrap();
        api_tokens.push(token.expose_secret().to_owned());
        sessions
            .set_password(
                pinion_service::Actor::Operator,
                name,
                &Password::new(PASSWORD),
            )
            .await
            .unwrap();
    }
    let mut service = pinion_service::Settings::new(Settings::parse_public_url(&public).unwrap());
    service.pinterest_oauth_url = sim.oauth_url();
    service.pinterest_api_url = sim.api_url();
    service.data_dir = Some(dir.path().to_owned());
    // Webhook endpoints of the tests are on loopback only.
    service.notifications.addresses.allow_loopback = true;
    let pinion = pinion_service::Pinion::with_store(store.clone(), service).unwrap();
    let mut settings = Settings::new(addr);
    settings.refresher = None;
    if !with_users {
        settings.setup_key = Some(pinion_service::SetupKey::write_to(dir.path()).unwrap());
    }
    let setup_key = settings
        .setup_key
        .as_ref()
        .map(|key| key.expose_secret().to_owned());
    let app = Application::build(settings, pinion).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    TestApp {
        address: public,
        sim,
        client_id: app_info.client_id,
        client_secret: app_info.client_secret,
        api_tokens: if with_users {
            api_tokens.try_into().unwrap()
        } else {
            [String::new(), String::new()]
        },
        setup_key,
        data_dir: dir.path().to_owned(),
        store,
        _dir: dir,
        _shutdown: tx,
    }
}

/// One browser: a cookie jar, redirects not followed (tests look at them).
pub struct Browser {
    pub http: reqwest::Client,
    pub address: String,
}

/// The value of the first hidden `csrf` field in `html`.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("the page has a CSRF field") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

impl TestApp {
    /// A fresh browser, not signed in.
    pub fn browser(&self) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            address: self.address.clone(),
        }
    }

    /// A browser signed in as `username`.
    pub async fn signed_in(&self, username: &str) -> Browser {
        let browser = self.browser();
        let response = browser.sign_in(username, PASSWORD).await;
        assert_eq!(response.status(), 303, "sign-in failed");
        assert_eq!(response.headers()["location"], "/credentials");
        browser
    }
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    /// The page's body, asserting a 200.
    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    /// Gives consent at `consent` (the simulator's authorize URL) as
    /// [`PINNER`], who approves without pages, and follows the redirect
    /// back to the server's callback; returns the callback's answer.
    pub async fn approve_as_pinner(&self, consent: &str) -> reqwest::Response {
        let approved = self
            .http
            .get(format!("{consent}&username={PINNER}"))
            .send()
            .await
            .unwrap();
        assert_eq!(approved.status(), 302, "the simulator redirects back");
        let callback = approved.headers()["location"].to_str().unwrap().to_owned();
        self.http.get(&callback).send().await.unwrap()
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token of this browser's session, read from a page.
    pub async fn csrf(&self) -> String {
        csrf_in(&self.page("/credentials").await)
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> reqwest::Response {
        let form = self.page("/sign-in").await;
        let csrf = csrf_in(&form);
        self.post_form(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    /// Adds a credential through the overlay with Save; returns its id.
    pub async fn add_credential(&self, name: &str, client_id: &str, secret: &str) -> String {
        let csrf = self.csrf().await;
        let response = self
            .post_form(
                "/credentials/new",
                &[
                    ("csrf", &csrf),
                    ("name", name),
                    ("description", "Team boards"),
                    ("client_id", client_id),
                    ("client_secret", secret),
                    ("scopes", "boards:read,pins:read,user_accounts:read"),
                    ("return_to", "/sources/new"),
                    ("action", "save"),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        location
            .strip_prefix("/sources/new?selected=")
            .expect("Save returns to the Authenticate screen")
            .to_owned()
    }
}

impl TestApp {
    /// Adds a credential for the simulator's app through the overlay and
    /// authorizes it (the simulator user approves without pages); returns
    /// its id.
    pub async fn authorized_credential(&self, browser: &Browser, name: &str) -> String {
        self.authorized_credential_with(browser, name, "boards:read,pins:read,user_accounts:read")
            .await
    }

    /// [`TestApp::authorized_credential`] asking for `scopes`.
    pub async fn authorized_credential_with(
        &self,
        browser: &Browser,
        name: &str,
        scopes: &str,
    ) -> String {
        self.sim
            .control()
            .set_auto_approve(PINNER, true)
            .await
            .unwrap();
        let csrf = browser.csrf().await;
        let response = browser
            .post_form(
                "/credentials/new",
                &[
                    ("csrf", &csrf),
                    ("name", name),
                    ("client_id", &self.client_id),
                    ("client_secret", &self.client_secret),
                    ("scopes", scopes),
                    ("action", "authorize"),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        let consent = response.headers()["location"].to_str().unwrap().to_owned();
        let landed = browser.approve_as_pinner(&consent).await;
        assert_eq!(landed.status(), 303, "the callback failed");
        let landing = landed.headers()["location"].to_str().unwrap().to_owned();
        landing
            .strip_prefix("/credentials/")
            .and_then(|rest| rest.strip_suffix("/edit?authorized=1&return_to=/sources/new"))
            .expect("the callback lands on the credential's overlay")
            .to_owned()
    }
}
