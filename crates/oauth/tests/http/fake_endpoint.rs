//! A fake Pinterest token endpoint for tests: an axum server on 127.0.0.1:0
//! that records every request it receives and answers with a test-supplied
//! function, plus a client configured to use it.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use pinion_domain::{ClientId, ClientSecret, Clock};
use pinion_oauth::{OAuthConfig, PinterestOAuth, RedirectUri};
use tokio::task::JoinHandle;

/// One request as the fake endpoint saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    /// The form body as ordered pairs.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

type BoxedResponse = Pin<Box<dyn Future<Output = Response> + Send>>;
type Responder = Arc<dyn Fn(Recorded) -> BoxedResponse + Send + Sync>;

/// A running fake endpoint; stopped when dropped.
pub struct FakeEndpoint {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: JoinHandle<()>,
}

impl Drop for FakeEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeEndpoint {
    /// Starts a fake endpoint answering every request with `respond`.
    pub async fn spawn<F, Fut>(respond: F) -> Self
    where
        F: Fn(Recorded) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        let respond: Responder = Arc::new(move |request| Box::pin(respond(request)));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let respond = respond.clone();
                let recorded = recorded.clone();
                async move {
                    let request = Recorded {
                        method,
                        path: uri.path().to_owned(),
                        headers,
                        body,
                    };
                    recorded.lock().unwrap().push(request.clone());
                    respond(request).await
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            addr,
            requests,
            task,
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The API base URL to configure (`http://127.0.0.1:PORT/v5`).
    pub fn api_url(&self) -> String {
        format!("http://{}/v5", self.addr)
    }

    /// A client pointed at this endpoint, with short timeouts.
    pub fn client(&self) -> PinterestOAuth {
        self.client_with(|_| {})
    }

    /// A client pointed at this endpoint, after `adjust` edits the config.
    pub fn client_with(&self, adjust: impl FnOnce(&mut OAuthConfig)) -> PinterestOAuth {
        let mut config =
            OAuthConfig::from_urls(&format!("http://{}/oauth/", self.addr), &self.api_url())
                .unwrap();
        config.connect_timeout = Duration::from_secs(2);
        config.request_timeout = Duration::from_secs(5);
        config.max_retry_after = Duration::from_secs(60);
        adjust(&mut config);
        PinterestOAuth::new(config, Arc::new(FixedClock(now()))).unwrap()
    }
}

/// A clock stuck at one instant.
#[derive(Debug)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// The instant every test client believes it is.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

/// A JSON answer with a status.
pub fn json(status: u16, body: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_owned(),
    )
        .into_response()
}

/// A JSON answer with extra headers.
pub fn json_with_headers(status: u16, body: &str, headers: &[(&'static str, &str)]) -> Response {
    let mut response = json(status, body);
    for (name, value) in headers {
        response.headers_mut().insert(*name, value.parse().unwrap());
    }
    response
}

/// An answer with any content type.
pub fn typed(status: u16, content_type: &str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type.parse().unwrap());
    response
}

/// The documented code-exchange answer (FACTS §2).
pub const CODE_ANSWER: &str = r#"{"access_token":"pina_access_1","refresh_token":"pinr_refresh_1",
 "response_type":"authorization_code","token_type":"bearer","expires_in":2592000,
 "refresh_token_expires_in":5184000,"scope":"boards:read boards:write pins:read"}"#;

pub fn client_id() -> ClientId {
    ClientId::parse("1234567").unwrap()
}

pub fn redirect_uri() -> RedirectUri {
    RedirectUri::parse("http://127.0.0.1:8080/oauth/pinterest/callback").unwrap()
}

/// A client secret with the characters RFC 6749 §2.3.1's encoding is about.
pub fn awkward_secret() -> ClientSecret {
    ClientSecret::new("s3:cr%et+/ x")
}
