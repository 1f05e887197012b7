//! A small fake of Pinterest's v5 API for this crate's integration tests.
//!
//! It serves on 127.0.0.1 over real HTTP, records every request (method,
//! path, decoded query, headers, body, time) and answers either from a
//! script of one-off replies, consumed in order by the next requests, or
//! from its data set: paginated lists keyed by path with opaque bookmarks,
//! single objects, and the writes the client makes. It checks the Bearer
//! token against the tokens it accepts and answers 401 code 2 otherwise, as
//! Pinterest does. Scripted faults include dropped connections (the
//! connection is closed without an answer), bodies cut off mid-stream and
//! slow answers.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::time::Instant;

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub raw_query: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Recorded {
    /// The first value of a query parameter.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a query parameter.
    pub fn params(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn authorization(&self) -> Option<&str> {
        self.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
    }

    pub fn json_body(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// A scripted answer for one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A JSON answer with extra headers.
    Json {
        status: u16,
        body: Value,
        headers: Vec<(&'static str, String)>,
    },
    /// Raw bytes (e.g. malformed JSON) with status 200 or another.
    Raw { status: u16, body: &'static str },
    /// A 200 whose body stops after `prefix` and then fails mid-stream.
    Truncated { prefix: &'static str },
    /// Close the connection without answering.
    Drop,
    /// Wait, then answer from the data set.
    Delay(Duration),
    /// Answer from the data set (a pass-through in a script).
    Normal,
}

impl Reply {
    pub fn error(status: u16, code: i64, message: &str) -> Self {
        Reply::Json {
            status,
            body: json!({"code": code, "message": message}),
            headers: vec![],
        }
    }

    pub fn rate_limited(reset_seconds: &str) -> Self {
        Reply::Json {
            status: 429,
            body: json!({"code": 8, "message": "This request exceeded a rate limit."}),
            headers: vec![
                ("x-ratelimit-reset", reset_seconds.to_owned()),
                ("x-ratelimit-remaining", "0".into()),
            ],
        }
    }

    pub fn with_header(self, name: &'static str, value: &str) -> Self {
        match self {
            Reply::Json {
                status,
                body,
                mut headers,
            } => {
                headers.push((name, value.to_owned()));
                Reply::Json {
                    status,
                    body,
                    headers,
                }
            }
            other => other,
        }
    }
}

#[derive(Default)]
struct Data {
    lists: HashMap<String, Vec<Value>>,
    objects: HashMap<String, Value>,
    next_id: u64,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    script: VecDeque<Reply>,
    tokens: HashSet<String>,
    data: Data,
    headers_on_every_reply: Vec<(&'static str, String)>,
    rid: u64,
}

/// The running fake.
#[derive(Clone)]
pub struct FakePinterest {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Clone)]
struct Conn {
    fake: FakePinterest,
    kill: Arc<Notify>,
}

impl FakePinterest {
    /// Starts the fake, accepting `token` as a valid access token.
    pub async fn start(token: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = FakePinterest {
            addr,
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        fake.accept_token(token);
        let server = fake.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let kill = Arc::new(Notify::new());
                let conn = Conn {
                    fake: server.clone(),
                    kill: Arc::clone(&kill),
                };
                let app = Router::new().fallback(handle).with_state(conn);
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let serve =
                        hyper::server::conn::http1::Builder::new().serve_connection(io, service);
                    tokio::select! {
                        _ = serve => {}
                        _ = kill.notified() => {}
                    }
                });
            }
        });
        fake
    }

    /// The base URL to give the client.
    pub fn base_url(&self) -> String {
        format!("http://{}/v5", self.addr)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    pub fn accept_token(&self, token: &str) {
        self.lock().tokens.insert(token.to_owned());
    }

    pub fn revoke_token(&self, token: &str) {
        self.lock().tokens.remove(token);
    }

    /// Queues one-off replies for the next requests.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().script.extend(replies);
    }

    /// Adds a header to every answer.
    pub fn header_on_every_reply(&self, name: &'static str, value: &str) {
        self.lock()
            .headers_on_every_reply
            .push((name, value.to_owned()));
    }

    /// Sets the items of the list at `path` (e.g. `/v5/boards`).
    pub fn set_list(&self, path: &str, items: Vec<Value>) {
        self.lock().data.lists.insert(path.to_owned(), items);
    }

    /// Sets the object at `path`.
    pub fn set_object(&self, path: &str, object: Value) {
        self.lock().data.objects.insert(path.to_owned(), object);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub fn request_count(&self) -> usize {
        self.lock().requests.len()
    }

    pub fn script_left(&self) -> usize {
        self.lock().script.len()
    }
}

async fn handle(
    State(conn): State<Conn>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fake = &conn.fake;
    let raw_query = uri.query().unwrap_or_default().to_owned();
    let query: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    let recorded = Recorded {
        method: method.clone(),
        path: uri.path().to_owned(),
        raw_query,
        query,
        headers: headers.clone(),
        body,
        at: Instant::now(),
    };
    let (reply, rid, common) = {
        let mut inner = fake.lock();
        inner.requests.push(recorded.clone());
        inner.rid += 1;
        (
            inner.script.pop_front().unwrap_or(Reply::Normal),
            inner.rid,
            inner.headers_on_every_reply.clone(),
        )
    };
    let mut response = match reply {
        Reply::Json {
            status,
            body,
            headers,
        } => {
            let mut response =
                (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
            for (name, value) in headers {
                response.headers_mut().insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_str(&value).unwrap(),
                );
            }
            response
        }
        Reply::Raw { status, body } => Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap(),
        Reply::Truncated { prefix } => {
            // The headers and the first bytes go out, then the connection
            // breaks mid-body.
            use futures::StreamExt;
            let head =
                futures::stream::once(async move { Ok(Bytes::from_static(prefix.as_bytes())) });
            let cut = futures::stream::once(async {
                tokio::time::sleep(Duration::from_millis(30)).await;
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "cut",
                ))
            });
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from_stream(head.chain(cut)))
                .unwrap()
        }
        Reply::Drop => {
            conn.kill.notify_one();
            std::future::pending::<()>().await;
            unreachable!()
        }
        Reply::Delay(duration) => {
            tokio::time::sleep(duration).await;
            serve_data(fake, &recorded)
        }
        Reply::Normal => serve_data(fake, &recorded),
    };
    let headers = response.headers_mut();
    headers.insert(
        "x-pinterest-rid",
        HeaderValue::from_str(&format!("rid-{rid}")).unwrap(),
    );
    for (name, value) in common {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

fn error(status: StatusCode, code: i64, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

/// Answers like Pinterest from the data set.
fn serve_data(fake: &FakePinterest, request: &Recorded) -> Response {
    let token = request
        .authorization()
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let mut inner = fake.lock();
    if !inner.tokens.contains(&token) {
        return error(StatusCode::UNAUTHORIZED, 2, "Authentication failed.");
    }
    let path = request.path.clone();
    match request.method {
        Method::GET => {
            if let Some(items) = inner.data.lists.get(&path) {
                let page_size: usize = match request.param("page_size").map(str::parse) {
                    None => 25,
                    Some(Ok(n)) if (1..=250).contains(&n) => n,
                    Some(_) => return error(StatusCode::BAD_REQUEST, 1, "Invalid page_size"),
                };
                let start = match request.param("bookmark") {
                    None => 0,
                    Some(b) => match b.strip_prefix("bm~").and_then(|n| n.parse::<usize>().ok()) {
                        Some(n) => n,
                        None => return error(StatusCode::BAD_REQUEST, 1, "Invalid bookmark"),
                    },
                };
                let end = (start + page_size).min(items.len());
                let page: Vec<Value> = items[start.min(end)..end].to_vec();
                let bookmark = if end < items.len() {
                    json!(format!("bm~{end}"))
                } else {
                    Value::Null
                };
                return axum::Json(json!({"items": page, "bookmark": bookmark})).into_response();
            }
            match inner.data.objects.get(&path) {
                Some(object) => axum::Json(object.clone()).into_response(),
                None => error(StatusCode::NOT_FOUND, 40, "Board not found."),
            }
        }
        Method::POST => {
            inner.data.next_id += 1;
            let mut object = serde_json::from_slice::<Value>(&request.body).unwrap_or(json!({}));
            object["id"] = json!(format!("{}", 9_000_000 + inner.data.next_id));
            let list_path = path.clone();
            inner
                .data
                .lists
                .entry(list_path)
                .or_default()
                .push(object.clone());
            (StatusCode::CREATED, axum::Json(object)).into_response()
        }
        Method::PATCH => match inner.data.objects.get_mut(&path) {
            Some(object) => {
                if let (Some(target), Ok(Value::Object(changes))) = (
                    object.as_object_mut(),
                    serde_json::from_slice::<Value>(&request.body),
                ) {
                    target.extend(changes);
                }
                axum::Json(object.clone()).into_response()
            }
            None => error(StatusCode::NOT_FOUND, 50, "Pin not found."),
        },
        Method::DELETE => match inner.data.objects.remove(&path) {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => error(StatusCode::NOT_FOUND, 50, "Pin not found."),
        },
        _ => error(StatusCode::METHOD_NOT_ALLOWED, 1, "Method not allowed"),
    }
}
