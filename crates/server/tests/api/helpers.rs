//! `spawn_app()`: a real Pinion server on 127.0.0.1:0 with a fresh database,
//! and a client with one method per endpoint; `spawn_with_simulator()`: the same
//! server pointed at a simulator with one app and one user.

use pinion_domain::{Role, Username};
use pinion_server::{Application, Settings};
use serde_json::{Value, json};

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    /// API token of user `alice`.
    pub alice: String,
    /// API token of user `bob`.
    pub bob: String,
    /// API token of admin `root`.
    pub admin: String,
    /// The server's store, for setting up what the API cannot make directly
    /// (a run caught while it runs, a destination without Pinterest).
    pub store: std::sync::Arc<dyn pinion_store::Store>,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let store = pinion_testkit::open_data_dir(dir.path()).await;
    let mut tokens = Vec::new();
    for (name, role) in [
        ("alice", Role::User),
        ("bob", Role::User),
        ("root", Role::Admin),
    ] {
        let (_, token) = store
            .create_user_with_token(&Username::parse(name).unwrap(), role)
            .await
            .unwrap();
        tokens.push(token.expose_secret().to_owned());
    }
    let mut service =
        pinion_service::Settings::new(Settings::parse_public_url("http://127.0.0.1:8080").unwrap());
    // Webhook endpoints of the tests are on loopback only.
    service.notifications.addresses.allow_loopback = true;
    let pinion = pinion_service::Pinion::with_store(store.clone(), service).unwrap();
    let app = Application::build(Settings::new("127.0.0.1:0".parse().unwrap()), pinion)
        .await
        .unwrap();
    let address = format!("http://{}", app.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    let admin = tokens.pop().unwrap();
    let bob = tokens.pop().unwrap();
    let alice = tokens.pop().unwrap();
    TestApp {
        address,
        http: reqwest::Client::new(),
        alice,
        bob,
        admin,
        store,
        _dir: dir,
        _shutdown: tx,
    }
}

impl TestApp {
    /// The server's SQLite file, for writes made around the server.
    pub fn database(&self) -> std::path::PathBuf {
        self._dir.path().join("pinion.db")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post_credential(&self, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/api/v1/credentials"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_credentials(&self, token: &str) -> reqwest::Response {
        self.http
            .get(self.url("/api/v1/credentials"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_credential(&self, token: &str, id: &str) -> reqwest::Response {
        self.http
            .get(self.url(&format!("/api/v1/credentials/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch_credential(&self, token: &str, id: &str, body: &Value) -> reqwest::Response {
        self.http
            .patch(self.url(&format!("/api/v1/credentials/{id}")))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete_credential(&self, token: &str, id: &str) -> reqwest::Response {
        self.http
            .delete(self.url(&format!("/api/v1/credentials/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Creates a valid credential for `token`'s user and returns its id.
    pub async fn create_credential(&self, token: &str, name: &str) -> String {
        let response = self
            .post_credential(
                token,
                &json!({
                    "name": name,
                    "client_id": "1484362",
                    "client_secret": "CANARY-client-secret-4b1d",
                }),
            )
            .await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }
}

/// A server whose Pinterest is a simulator with one registered app (redirect
/// URI = this server's callback) and one user, `pinner`.
pub struct SimApp {
    pub address: String,
    /// API token of user `alice`.
    pub token: String,
    pub sim: pinion_simulator::RunningSimulator,
    /// A client that follows no redirect, as an API client would.
    pub http: reqwest::Client,
    pub client_id: String,
    pub client_secret: String,
    pub dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Spawns a simulator and a server pointed at it; `pinner` signs in with
/// `password` and approves without the pages when `auto_approve` is set.
pub async fn spawn_with_simulator(password: &str, auto_approve: bool) -> SimApp {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", pinion_testkit::free_port())
        .parse()
        .unwrap();
    let public = format!("http://{addr}");
    let app = pinion_simulator::AppSpec {
        name: "Pinion".into(),
        redirect_uris: vec![format!("{public}/oauth/pinterest/callback")],
        ..Default::default()
    };
    let user = pinion_testkit::pinterest_user("pinner", password, auto_approve, Default::default());
    let (sim, app) =
        pinion_testkit::simulator_with(pinion_simulator::SimConfig::for_tests(), &app, &user).await;
    let dir = tempfile::tempdir().unwrap();
    let store = pinion_testkit::open_data_dir(dir.path()).await;
    let (_, token) = store
        .create_user_with_token(&Username::parse("alice").unwrap(), Role::User)
        .await
        .unwrap();
    let mut service = pinion_service::Settings::new(Settings::parse_public_url(&public).unwrap());
    service.pinterest_oauth_url = sim.oauth_url();
    service.pinterest_api_url = sim.api_url();
    // Webhook endpoints of the tests are on loopback only.
    service.notifications.addresses.allow_loopback = true;
    let pinion = pinion_service::Pinion::with_store(store, service).unwrap();
    let server = Application::build(Settings::new(addr), pinion)
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until_stopped(async {
        let _ = rx.await;
    }));
    SimApp {
        address: public,
        token: token.expose_secret().to_owned(),
        sim,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        client_id: app.client_id,
        client_secret: app.client_secret,
        dir,
        _shutdown: tx,
    }
}

impl SimApp {
    /// `method path` with `token` and a JSON `body`; the status and the
    /// JSON answer (`Null` when there is none).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A second user, `bob`, with an API token.
    pub async fn bob(&self) -> String {
        self.user("bob", Role::User).await
    }

    /// Another user `name` with `role`; their API token.
    pub async fn user(&self, name: &str, role: Role) -> String {
        let store = pinion_testkit::open_data_dir(self.dir.path()).await;
        let (_, token) = store
            .create_user_with_token(&Username::parse(name).unwrap(), role)
            .await
            .unwrap();
        token.expose_secret().to_owned()
    }

    /// Creates a credential for alice and authorizes it headlessly.
    pub async fn authorized_credential(&self) -> String {
        let (status, created) = self
            .send(
                reqwest::Method::POST,
                "/api/v1/credentials",
                Some(&self.token),
                Some(json!({
                    "name": "Publisher",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "scopes": "boards:read,pins:read,pins:write,user_accounts:read",
                })),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let (status, started) = self
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/credentials/{id}/authorize"),
                Some(&self.token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{started}");
        let url = started["authorization_url"].as_str().unwrap();
        let approved = self.http.get(url).send().await.unwrap();
        assert_eq!(approved.status(), 302);
        let callback = approved.headers()["location"].to_str().unwrap().to_owned();
        let done = self.http.get(&callback).send().await.unwrap();
        assert_eq!(done.status(), 303);
        id
    }
}
