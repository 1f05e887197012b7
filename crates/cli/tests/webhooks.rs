//! Health checks and webhook notifications (issue 14) with a real `pinion
//! serve`: its health checker runs every few seconds, a grant revoked at the
//! simulator turns the credential into "needs reauthorization" within about
//! one interval, and a receiver on loopback gets
//! `credential.needs_reauthorization`; after re-authorizing through the
//! server it gets `credential.recovered`. Every signature is verified by an
//! independent implementation, the `standardwebhooks` package from PyPI
//! (run with `python3`, or `PINION_PYTHON`): this test fails, never skips,
//! without it (`.ci/run` installs it). A second endpoint answers 500 five
//! times and then 204: the event arrives on the sixth attempt, with the
//! same `webhook-id` on every one, and the delivery log shows six attempts
//! with their status codes. No payload or header holds a secret, a token or
//! a code.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use pinion_simulator::{AppSpec, DataShape, SimConfig};
use pinion_testkit::{REDIRECT, ServerOutput, free_port, no_redirects, pinterest_user, wait_for};
use serde_json::{Value, json};

/// How often the server checks each credential in this test.
const CHECK_INTERVAL: Duration = Duration::from_secs(3);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Requests to `/flaky` answered 500 so far, by message id.
    flaky_failures: Arc<Mutex<HashMap<String, usize>>>,
}

impl Receiver {
    fn received(&self, path: &str) -> Vec<Received> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    fn events(&self, path: &str, event_type: &str) -> Vec<Received> {
        self.received(path)
            .into_iter()
            .filter(|r| serde_json::from_str::<Value>(&r.body).unwrap()["type"] == event_type)
            .collect()
    }
}

async fn record(receiver: &Receiver, path: &str, headers: &HeaderMap, body: String) {
    let headers = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    receiver.got.lock().unwrap().push(Received {
        path: path.to_owned(),
        headers,
        body,
    });
}

/// A receiver on 127.0.0.1: `/ok` answers 204; `/flaky` answers 500 to the
/// first five attempts of each message, then 204.
async fn start_receiver() -> (Receiver, String) {
    let receiver = Receiver::default();
    let app = axum::Router::new()
        .route(
            "/ok",
            axum::routing::post(
                |State(r): State<Receiver>, headers: HeaderMap, body: String| async move {
                    record(&r, "/ok", &headers, body).await;
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/flaky",
            axum::routing::post(
                |State(r): State<Receiver>, headers: HeaderMap, body: String| async move {
                    record(&r, "/flaky", &headers, body).await;
                    let id = headers
                        .get("webhook-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let failed = {
                        let mut failures = r.flaky_failures.lock().unwrap();
                        let count = failures.entry(id).or_default();
                        *count += 1;
                        *count <= 5
                    };
                    if failed {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::NO_CONTENT
                    }
                },
            ),
        )
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (receiver, base)
}

/// The Python that has `standardwebhooks`: `PINION_PYTHON`, or `python3`.
fn python() -> String {
    std::env::var("PINION_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Fails the test when the independent verifier is missing.
fn require_standardwebhooks() {
    let status = std::process::Command::new(python())
        .args(["-c", "import standardwebhooks"])
        .status();
    assert!(
        matches!(status, Ok(s) if s.success()),
        "this test verifies signatures with the `standardwebhooks` package from PyPI: \
         `python3 -m pip install standardwebhooks` (or set PINION_PYTHON to a Python that \
         has it; `scripts/test` does this)"
    );
}

/// Verifies `request` with `standardwebhooks.Webhook(secret).verify(...)`.
fn verify_with_python(dir: &Path, secret: &str, request: &Received) {
    let file = dir.join(format!("request-{}.json", rand_suffix()));
    std::fs::write(
        &file,
        json!({"secret": secret, "headers": request.headers, "body": request.body}).to_string(),
    )
    .unwrap();
    let output = std::process::Command::new(python())
        .arg("-c")
        .arg(
            "import json, sys, standardwebhooks\n\
             d = json.load(open(sys.argv[1]))\n\
             standardwebhooks.Webhook(d['secret']).verify(d['body'], d['headers'])\n\
             print('verified')",
        )
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).contains("verified"),
        "standardwebhooks refused the signature: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // A body changed by one byte is refused, so the check above means something.
    let mut tampered = request.clone();
    tampered.body.push(' ');
    std::fs::write(
        &file,
        json!({"secret": secret, "headers": tampered.headers, "body": tampered.body}).to_string(),
    )
    .unwrap();
    let output = std::process::Command::new(python())
        .arg("-c")
        .arg(
            "import json, sys, standardwebhooks\n\
             d = json.load(open(sys.argv[1]))\n\
             standardwebhooks.Webhook(d['secret']).verify(d['body'], d['headers'])",
        )
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success(), "a tampered body was accepted");
}

fn rand_suffix() -> String {
    format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

struct Server {
    child: tokio::process::Child,
    base: String,
    output: ServerOutput,
    http: reqwest::Client,
    token: String,
}

impl Server {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn status(&self, credential: &str) -> String {
        let (code, body) = self
            .send(
                reqwest::Method::GET,
                &format!("/api/v1/credentials/{credential}"),
                None,
            )
            .await;
        assert_eq!(code, 200, "{body}");
        body["status"].as_str().unwrap().to_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_is_found_announced_signed_and_its_recovery_too() {
    require_standardwebhooks();
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/oauth/pinterest/callback");
    let (sim, app) = pinion_testkit::simulator_with(
        SimConfig::for_tests(),
        &AppSpec {
            name: "Webhooks".into(),
            redirect_uris: vec![REDIRECT.into(), callback.clone()],
            ..AppSpec::default()
        },
        &pinterest_user(support::PINNER, "pw", true, DataShape::default()),
    )
    .await;
    let data_dir = tempfile::tempdir().unwrap();
    let store = support::open_data_dir(data_dir.path()).await;
    let alice =
        support::authorized_with_scopes(&store, &sim, &app, "boards:read,user_accounts:read").await;
    let credential = alice.id.as_str().to_owned();
    let before = store.credential_secrets(&alice.id).await.unwrap();

    let (receiver, receiver_base) = start_receiver().await;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pinion"));
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--check-interval", "3s", "--webhook-retry-unit", "200us"])
        .arg("--webhook-allow-loopback")
        .env("PINION_DATA_DIR", data_dir.path())
        .env("PINTEREST_OAUTH_URL", sim.oauth_url())
        .env("PINTEREST_API_URL", sim.api_url())
        .env("RUST_LOG", "info")
        .env_remove("PINION_DATABASE_URL")
        .env_remove("PINION_MASTER_KEY")
        .env_remove("PINION_MASTER_KEY_FILE")
        .env_remove("PINION_PUBLIC_URL")
        .env_remove("PINION_LISTEN")
        .env_remove("PINION_CHECK_INTERVAL")
        .env_remove("PINION_WEBHOOK_RETRY_UNIT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap();
    let (output, base) =
        ServerOutput::read_address(child.stderr.take().unwrap(), "Pinion is serving on ").await;
    let server = Server {
        child,
        base,
        output,
        http: no_redirects(),
        token: alice.api_token.clone(),
    };

    // Two endpoints: one for the credential events, one that fails five times.
    let (code, ok) = server
        .send(
            reqwest::Method::POST,
            "/api/v1/webhooks",
            Some(json!({
                "url": format!("{receiver_base}/ok"),
                "events": ["credential.needs_reauthorization", "credential.recovered"],
                "description": "Alerts",
            })),
        )
        .await;
    assert_eq!(code, 201, "{ok}");
    let ok_secret = ok["secret"].as_str().unwrap().to_owned();
    assert!(ok_secret.starts_with("whsec_"));
    let (code, flaky) = server
        .send(
            reqwest::Method::POST,
            "/api/v1/webhooks",
            Some(json!({"url": format!("{receiver_base}/flaky"), "events": ["*"]})),
        )
        .await;
    assert_eq!(code, 201, "{flaky}");
    let flaky_id = flaky["webhook"]["id"].as_str().unwrap().to_owned();
    let flaky_secret = flaky["secret"].as_str().unwrap().to_owned();
    // The secret is shown once: listings never hold it.
    let (_, listed) = server
        .send(reqwest::Method::GET, "/api/v1/webhooks", None)
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains(&ok_secret));

    // Revoke the grant on Pinterest; the health checker notices.
    assert_eq!(server.status(&credential).await, "active");
    let revoked_at = Instant::now();
    let families = sim
        .control()
        .revoke_grant(support::PINNER, &app.client_id)
        .await
        .unwrap();
    assert!(families > 0);
    let limit = CHECK_INTERVAL * 2 + Duration::from_secs(20);
    wait_for(
        limit,
        "the revoked grant to show as needs_reauthorization",
        || async { server.status(&credential).await == "needs_reauthorization" },
    )
    .await;
    let found_after = revoked_at.elapsed();
    eprintln!("needs_reauthorization {found_after:?} after the revocation");
    assert!(
        found_after <= CHECK_INTERVAL * 2 + Duration::from_secs(5),
        "found only after {found_after:?} with checks every {CHECK_INTERVAL:?}"
    );
    wait_for(
        Duration::from_secs(30),
        "credential.needs_reauthorization at /ok",
        || async {
            !receiver
                .events("/ok", "credential.needs_reauthorization")
                .is_empty()
        },
    )
    .await;
    let needs = receiver.events("/ok", "credential.needs_reauthorization");
    assert_eq!(needs.len(), 1, "{needs:?}");
    verify_with_python(data_dir.path(), &ok_secret, &needs[0]);
    let payload: Value = serde_json::from_str(&needs[0].body).unwrap();
    assert_eq!(payload["data"]["credential_id"], credential.as_str());
    assert_eq!(payload["data"]["status"], "needs_reauthorization");
    assert!(payload["timestamp"].as_str().unwrap().ends_with('Z'));

    // The activity log shows the system's check.
    let (_, activity) = server
        .send(
            reqwest::Method::GET,
            &format!("/api/v1/credentials/{credential}/activity"),
            None,
        )
        .await;
    assert!(
        activity.to_string().contains("\"checked\"") && activity.to_string().contains("system"),
        "{activity}"
    );

    // Authorize again through the server: credential.recovered.
    let (code, started) = server
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/credentials/{credential}/authorize"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{started}");
    let consent = server
        .http
        .get(started["authorization_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(consent.status(), 302);
    let back = consent.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&callback), "{back}");
    let done = server.http.get(&back).send().await.unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(server.status(&credential).await, "active");
    wait_for(
        Duration::from_secs(30),
        "credential.recovered at /ok",
        || async { !receiver.events("/ok", "credential.recovered").is_empty() },
    )
    .await;
    let recovered = receiver.events("/ok", "credential.recovered");
    assert_eq!(recovered.len(), 1);
    verify_with_python(data_dir.path(), &ok_secret, &recovered[0]);

    // The flaky endpoint: five 500s, then the sixth attempt is taken.
    let deliveries_path = format!("/api/v1/webhooks/{flaky_id}/deliveries");
    wait_for(
        Duration::from_secs(60),
        "six attempts at /flaky",
        || async {
            let (code, body) = server
                .send(reqwest::Method::GET, &deliveries_path, None)
                .await;
            assert_eq!(code, 200, "{body}");
            body.as_array()
                .unwrap()
                .iter()
                .find(|d| d["event_type"] == "credential.needs_reauthorization")
                .is_some_and(|d| d["state"] == "delivered")
        },
    )
    .await;
    let (_, log) = server
        .send(reqwest::Method::GET, &deliveries_path, None)
        .await;
    let delivery = log
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event_type"] == "credential.needs_reauthorization")
        .unwrap()
        .clone();
    let codes: Vec<i64> = delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, vec![500, 500, 500, 500, 500, 204], "{delivery}");
    let attempts = receiver.events("/flaky", "credential.needs_reauthorization");
    assert_eq!(attempts.len(), 6);
    let ids: Vec<&String> = attempts.iter().map(|r| &r.headers["webhook-id"]).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(ids[0].as_str(), delivery["id"].as_str().unwrap());
    verify_with_python(data_dir.path(), &flaky_secret, &attempts[5]);

    // No secret, token or code anywhere in what the receiver got.
    let after = store.credential_secrets(&alice.id).await.unwrap();
    let mut canaries = vec![
        app.client_secret.clone(),
        alice.api_token.clone(),
        ok_secret.clone(),
        flaky_secret.clone(),
    ];
    for secrets in [&before, &after] {
        canaries.extend(
            secrets
                .access_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
        );
        canaries.extend(
            secrets
                .refresh_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
        );
    }
    let code = url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    canaries.push(code);
    let everything: Vec<Received> = receiver.got.lock().unwrap().clone();
    assert!(everything.len() >= 8);
    for request in &everything {
        let text = format!("{:?} {}", request.headers, request.body);
        for canary in &canaries {
            assert!(
                !text.contains(canary.as_str()),
                "a secret in a webhook: {text}"
            );
        }
    }
    let log = server.output.text();
    for canary in [&ok_secret, &flaky_secret] {
        assert!(
            !log.contains(canary.as_str()),
            "a webhook secret in the server's log"
        );
    }
    drop(server.child);
}
