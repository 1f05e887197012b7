//! The log canary: a full OAuth and API session at TRACE level leaves no secret (client
//! secret, password, code, access or refresh token) anywhere in the simulator's logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::helpers::{ALL_READ, REDIRECT, start};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_reaches_the_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    // A global subscriber: a scoped one misses events whose callsites other tests of this
    // binary registered first.
    tracing::subscriber::set_global_default(subscriber).expect("only this test installs one");

    let t = start().await;
    let code = t.code(ALL_READ).await;
    let tokens: serde_json::Value = t
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    t.get(&access, "/boards").await;
    let refreshed: serde_json::Value = t
        .token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await
        .json()
        .await
        .unwrap();
    t.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await;
    t.http
        .post(t.sim.token_url())
        .basic_auth(&t.app.client_id, Some("wrong-secret-canary"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "boards:read"),
        ])
        .send()
        .await
        .unwrap();
    let app_secret = t.app.client_secret.clone();
    drop(t);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("Served a request."),
        "the capture saw the simulator's logs"
    );
    for secret in [
        code.as_str(),
        access.as_str(),
        refresh.as_str(),
        refreshed["access_token"].as_str().unwrap(),
        refreshed["refresh_token"].as_str().unwrap(),
        "wrong-secret-canary",
        app_secret.as_str(),
        "correct horse",
    ] {
        assert!(!logs.contains(secret), "a secret leaked into the logs");
    }
}
