//! The canary test (SECURITY.md R11 and R12): the real values of the client
//! secret, every access and refresh token, every authorization code, state
//! and PKCE verifier of a whole server run never appear in the logs (captured
//! at TRACE, spans included), in any API response or callback page, or in the
//! raw SQLite files.
//!
//! The run goes through the JSON API against the simulator over loopback
//! HTTP: create a credential with a marker client secret, authorize it
//! (headless consent), check, force refreshes, change the secret, hit error
//! paths (a transient 503, a dropped code exchange, a replayed and a denied
//! callback, a revoked grant), authorize again, let the background refresher
//! refresh, and delete. The values are read off the wire by a small recording
//! proxy between Pinion and the simulator's `/v5` API (the token requests
//! carry the code, verifier and refresh token; their answers the tokens) and
//! from the consent redirect (code and state).
//!
//! `tracing` caches each callsite's interest on first use, so the capturing
//! subscriber is installed once, before anything logs, and this file is its
//! own test binary with a single test.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use pinion_domain::{Role, Username};
use pinion_server::{Application, Settings};
use pinion_simulator::{AppSpec, FaultKind, FaultSpec, SimConfig};
use serde_json::Value;

/// Every secret value seen during the run.
#[derive(Default)]
struct Markers(Mutex<Vec<(&'static str, String)>>);

impl Markers {
    fn add(&self, kind: &'static str, value: &str) {
        if value.len() >= 8 {
            let mut values = self.0.lock().unwrap();
            if !values.iter().any(|(_, v)| v == value) {
                values.push((kind, value.to_owned()));
            }
        }
    }

    fn all(&self) -> Vec<(&'static str, String)> {
        self.0.lock().unwrap().clone()
    }

    fn count(&self, kind: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k == kind)
            .count()
    }
}

/// The log buffer the subscriber writes to.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs a TRACE subscriber (events, span creation and close with their
/// fields, and `log` records) writing into the returned buffer.
fn capture_logs() -> LogBuffer {
    use tracing_subscriber::fmt::format::FmtSpan;
    use tracing_subscriber::util::SubscriberInitExt;
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .finish()
        .try_init()
        .expect("the only subscriber of this test binary");
    buffer
}

/// A proxy for the simulator's `/v5` API that records every secret value it
/// carries.
#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    markers: Arc<Markers>,
}

async fn proxy(
    State(proxy): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok())
        && let Some(token) = auth.strip_prefix("Bearer ")
    {
        proxy.markers.add("access token", token);
    }
    for (key, value) in url::form_urlencoded::parse(&body) {
        match key.as_ref() {
            "code" => proxy.markers.add("authorization code", &value),
            "code_verifier" => proxy.markers.add("PKCE verifier", &value),
            "refresh_token" => proxy.markers.add("refresh token", &value),
            _ => {}
        }
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = proxy
        .http
        .request(method, format!("{}{path}", proxy.upstream))
        .body(body);
    for name in ["authorization", "content-type", "accept"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    let Ok(answer) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    let content_type = answer.headers().get("content-type").cloned();
    let Ok(bytes) = answer.bytes().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    if let Ok(json) = serde_json::from_slice::<Value>(&bytes) {
        for (field, kind) in [
            ("access_token", "access token"),
            ("refresh_token", "refresh token"),
        ] {
            if let Some(value) = json[field].as_str() {
                proxy.markers.add(kind, value);
            }
        }
    }
    let mut response = (status, bytes).into_response();
    if let Some(value) = content_type {
        response.headers_mut().insert("content-type", value);
    }
    response
}

/// Everything Pinion answered, to be scanned.
#[derive(Default)]
struct Responses(Vec<String>);

impl Responses {
    /// Records a response's status, headers (but `Set-Cookie`, which carries
    /// the browser binding by design) and body; returns the body.
    async fn record(&mut self, response: reqwest::Response) -> (StatusCode, String) {
        let status = response.status();
        let mut text = format!("{status}\n");
        for (name, value) in response.headers() {
            if name != "set-cookie" {
                text.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or("")));
            }
        }
        let body = response.text().await.unwrap();
        text.push_str(&body);
        self.0.push(text);
        (status, body)
    }
}

struct Run {
    address: String,
    api_token: String,
    http: reqwest::Client,
    sim: pinion_simulator::RunningSimulator,
    markers: Arc<Markers>,
    responses: Responses,
}

impl Run {
    async fn call(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, String) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(&self.api_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        self.responses.record(response).await
    }

    /// Starts a flow through the API and approves it at the simulator;
    /// returns the callback URL (recording its code and state).
    async fn approved_callback(&mut self, id: &str) -> String {
        let response = self
            .http
            .post(format!(
                "{}/api/v1/credentials/{id}/authorize",
                self.address
            ))
            .bearer_auth(&self.api_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        // This answer carries the state on purpose (the user must open the
        // URL), so it is checked for every marker but the state below.
        let body: Value = response.json().await.unwrap();
        let url = body["authorization_url"].as_str().unwrap().to_owned();
        self.responses
            .0
            .push(body.to_string().replace(&state_of(&url), "[state]"));
        let consent = self.http.get(&url).send().await.unwrap();
        assert_eq!(consent.status(), 302);
        let callback = consent.headers()["location"].to_str().unwrap().to_owned();
        let parsed = url::Url::parse(&callback).unwrap();
        for (key, value) in parsed.query_pairs() {
            match key.as_ref() {
                "code" => self.markers.add("authorization code", &value),
                "state" => self.markers.add("state", &value),
                _ => {}
            }
        }
        callback
    }

    async fn get_page(&mut self, url: &str) -> StatusCode {
        let response = self.http.get(url).send().await.unwrap();
        self.responses.record(response).await.0
    }

    async fn fault_once(&self, kind: FaultKind) {
        self.sim
            .control()
            .inject_fault(&FaultSpec {
                path_prefix: "/v5/oauth/token".into(),
                method: None,
                kind,
                count: Some(1),
                duration_ms: None,
            })
            .await
            .unwrap();
    }
}

fn state_of(url: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned()
}

fn unique(label: &str) -> String {
    format!(
        "CANARY-{label}-{}",
        &pinion_domain::CredentialId::generate().as_str()[5..]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_of_a_whole_run_reaches_logs_responses_or_the_database() {
    let logs = capture_logs();
    let markers = Arc::new(Markers::default());
    let client_secret = unique("client-secret");
    let second_secret = unique("second-secret");
    markers.add("client secret", &client_secret);
    markers.add("client secret", &second_secret);

    // The simulator, with short-lived access tokens so the background
    // refresher has work, and an app whose secret is a marker.
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", pinion_testkit::free_port())
        .parse()
        .unwrap();
    let public = format!("http://{addr}");
    let (sim, app_info) = pinion_testkit::simulator_with(
        SimConfig {
            access_token_ttl: Duration::from_secs(3),
            ..SimConfig::for_tests()
        },
        &AppSpec {
            client_secret: Some(client_secret.clone()),
            name: "Canary".into(),
            redirect_uris: vec![format!("{public}/oauth/pinterest/callback")],
            ..AppSpec::default()
        },
        &pinion_testkit::pinterest_user("pinner", "pw", true, Default::default()),
    )
    .await;

    // The recording proxy in front of the simulator's API.
    let proxy_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}/v5", proxy_listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(proxy).with_state(Proxy {
        upstream: sim.base_url(),
        http: reqwest::Client::new(),
        markers: markers.clone(),
    });
    tokio::spawn(async move { axum::serve(proxy_listener, router).await });

    let dir = tempfile::tempdir().unwrap();
    let connect = || async { pinion_testkit::open_data_dir(dir.path()).await };
    let store = connect().await;
    let (_, api_token) = store
        .create_user_with_token(&Username::parse("alice").unwrap(), Role::User)
        .await
        .unwrap();
    markers.add("API token", api_token.expose_secret());
    let oauth_url = sim.oauth_url();
    let pinion = |store| {
        let mut service =
            pinion_service::Settings::new(Settings::parse_public_url(&public).unwrap());
        service.pinterest_oauth_url = oauth_url.clone();
        service.pinterest_api_url = proxy_url.clone();
        pinion_service::Pinion::with_store(store, service).unwrap()
    };

    // Phase 1: the API, without the background refresher (so the faults hit
    // the calls they are meant for).
    let mut first = Settings::new(addr);
    first.refresher = None;
    let app = Application::build(first, pinion(store.clone()))
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let mut run = Run {
        address: public.clone(),
        api_token: api_token.expose_secret().to_owned(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        sim,
        markers: markers.clone(),
        responses: Responses::default(),
    };
    let post = reqwest::Method::POST;

    let (status, body) = run
        .call(
            post.clone(),
            "/api/v1/credentials",
            Some(serde_json::json!({
                "name": "Canary boards",
                "client_id": app_info.client_id,
                "client_secret": client_secret,
                "scopes": "boards:read,pins:read,user_accounts:read",
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = format!("/api/v1/credentials/{id}");

    // Authorize, then replay the same callback (refused, 400).
    let callback = run.approved_callback(&id).await;
    assert_eq!(run.get_page(&callback).await, 303);
    assert_eq!(run.get_page(&callback).await, 400);
    // A denied callback on a fresh flow (403), echoing the state back.
    let denied = run.approved_callback(&id).await;
    let state = state_of(&denied);
    let denied_url = format!(
        "{public}/oauth/pinterest/callback?error=access_denied&state={}",
        url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>()
    );
    assert_eq!(run.get_page(&denied_url).await, 403);

    // Check and forced refreshes through the API.
    let (status, body) = run.call(post.clone(), &format!("{base}/check"), None).await;
    assert_eq!(status, 200, "{body}");
    for _ in 0..3 {
        let (status, body) = run
            .call(post.clone(), &format!("{base}/refresh"), None)
            .await;
        assert_eq!(status, 200, "{body}");
    }
    // An expired access token at the API: the check refreshes once and retries.
    run.sim
        .control()
        .expire_access_tokens("pinner", Some(&app_info.client_id))
        .await
        .unwrap();
    let (status, body) = run.call(post.clone(), &format!("{base}/check"), None).await;
    assert_eq!(status, 200, "{body}");
    // A transient failure (503 at the token endpoint).
    run.fault_once(FaultKind::Status { status: 503 }).await;
    let (status, body) = run
        .call(post.clone(), &format!("{base}/refresh"), None)
        .await;
    assert_eq!(status, 503, "{body}");
    // A new client secret (write-only), registered at the simulator too.
    let rotated = reqwest::Client::new()
        .post(format!(
            "{}/_sim/apps/{}/reset_secret",
            run.sim.base_url(),
            app_info.client_id
        ))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    markers.add("client secret", rotated["client_secret"].as_str().unwrap());
    let (status, body) = run
        .call(
            reqwest::Method::PATCH,
            &base,
            Some(serde_json::json!({"client_secret": rotated["client_secret"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // A code exchange whose connection drops: the user is asked to start again.
    let callback = run.approved_callback(&id).await;
    run.fault_once(FaultKind::DropConnection).await;
    assert_eq!(run.get_page(&callback).await, 502);
    // Authorize again with the new secret, then revoke: the refresh says why.
    let callback = run.approved_callback(&id).await;
    assert_eq!(run.get_page(&callback).await, 303);
    run.sim
        .control()
        .revoke_grant("pinner", &app_info.client_id)
        .await
        .unwrap();
    let (status, body) = run
        .call(post.clone(), &format!("{base}/refresh"), None)
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = run.call(post.clone(), &format!("{base}/check"), None).await;
    assert_eq!(status, 200, "{body}");
    // Authorize once more for the background phase.
    let callback = run.approved_callback(&id).await;
    assert_eq!(run.get_page(&callback).await, 303);
    let (status, _) = run.call(reqwest::Method::GET, &base, None).await;
    assert_eq!(status, 200);
    let (status, _) = run
        .call(reqwest::Method::GET, "/api/v1/credentials", None)
        .await;
    assert_eq!(status, 200);
    let _ = stop.send(());
    server.await.unwrap().unwrap();

    // Phase 2: the same database served with the background refresher, until
    // it has refreshed the 3-second token twice.
    let mut second = Settings::new(addr);
    second.refresher = Some(pinion_service::RefresherConfig {
        interval: Duration::from_millis(200),
        ..Default::default()
    });
    let app = Application::build(second, pinion(store.clone()))
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let before = run.sim.control().stats().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = run.sim.control().stats().await.unwrap();
        if now.grant_type_succeeded("refresh_token")
            >= before.grant_type_succeeded("refresh_token") + 2
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the background refresher did not refresh"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _) = run.call(reqwest::Method::DELETE, &base, None).await;
    assert_eq!(status, 204);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    store.close().await;

    // The run really produced every kind of secret, and TRACE logs.
    for kind in [
        "client secret",
        "access token",
        "refresh token",
        "authorization code",
        "state",
        "PKCE verifier",
    ] {
        assert!(markers.count(kind) >= 1, "no {kind} was seen");
    }
    assert!(
        markers.count("access token") >= 6,
        "{}",
        markers.count("access token")
    );
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    for expected in [
        "TRACE",
        "Refreshed the tokens.",
        "Refreshed due credentials.",
        "The token refresh failed.",
        "The code exchange failed.",
        "credential_id=",
    ] {
        assert!(logs.contains(expected), "the logs lack `{expected}`");
    }

    // The scan.
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
    }
    assert!(files.iter().any(|(name, _)| name.ends_with("pinion.db")));
    let mut leaks = Vec::new();
    for (kind, value) in markers.all() {
        if logs.contains(&value) {
            leaks.push(format!("{kind} in the logs"));
        }
        for response in &run.responses.0 {
            if response.contains(&value) {
                leaks.push(format!("{kind} in an API response"));
            }
        }
        for (name, bytes) in &files {
            if bytes.windows(value.len()).any(|w| w == value.as_bytes()) {
                leaks.push(format!("{kind} in {name}"));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked: {leaks:?}");
    // Simulator tokens have recognisable prefixes; none may show anywhere.
    for prefix in ["pina_", "pinr_", "pinc_"] {
        assert!(
            !logs.contains(prefix),
            "a token prefix `{prefix}` in the logs"
        );
        assert!(
            run.responses.0.iter().all(|r| !r.contains(prefix)),
            "a token prefix `{prefix}` in a response"
        );
    }
}
