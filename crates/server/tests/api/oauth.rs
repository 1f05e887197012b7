//! The authorization flow through the server against the simulator over real
//! HTTP: the headless flow via the API, refused callbacks (no token request),
//! check and refresh, and a canary scan of responses, logs and the database.

use serde_json::Value;

use crate::helpers::{SimApp, spawn_with_simulator};

struct OAuthApp(SimApp);

impl std::ops::Deref for OAuthApp {
    type Target = SimApp;

    fn deref(&self) -> &SimApp {
        &self.0
    }
}

async fn spawn_oauth_app() -> OAuthApp {
    OAuthApp(spawn_with_simulator("pw", true).await)
}

impl OAuthApp {
    async fn create_credential(&self) -> String {
        let client_id = self.client_id.clone();
        let response = self
            .http
            .post(format!("{}/api/v1/credentials", self.address))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({
                "name": "Boards",
                "client_id": client_id,
                "client_secret": self.client_secret,
                "scopes": "boards:read,pins:read,user_accounts:read",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn post(&self, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}{path}", self.address))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// Starts a flow, approves it headlessly, and returns the callback URL.
    async fn approved_callback(&self, id: &str, body: Option<Value>) -> (String, Option<String>) {
        let response = self
            .post(&format!("/api/v1/credentials/{id}/authorize"), body)
            .await;
        assert_eq!(response.status(), 200);
        let cookie = response
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
        let url = response.json::<Value>().await.unwrap()["authorization_url"]
            .as_str()
            .unwrap()
            .to_owned();
        let approved = self.http.get(&url).send().await.unwrap();
        assert_eq!(approved.status(), 302);
        (
            approved.headers()["location"].to_str().unwrap().to_owned(),
            cookie,
        )
    }
}

#[tokio::test]
async fn the_whole_flow_via_the_api_ends_active_and_check_and_refresh_work() {
    let app = spawn_oauth_app().await;
    let id = app.create_credential().await;
    let (callback, _) = app.approved_callback(&id, None).await;
    let done = app.http.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), 303);
    let location = done.headers()["location"].to_str().unwrap().to_owned();
    // A flow not bound to a browser (API, CLI) lands on a fixed page that
    // names no credential.
    assert_eq!(location, "/oauth/pinterest/authorized");
    assert!(!location.contains("code") && !location.contains("state"));
    let landed = app
        .http
        .get(format!("{}{location}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), 200);
    let text = landed.text().await.unwrap();
    assert!(text.contains("The authorization is complete"), "{text}");
    assert!(!text.contains(&id), "{text}");
    // The former public page that echoed any id in its path is gone.
    let echo = app
        .http
        .get(format!("{}/credentials/{id}?authorized=1", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(echo.status(), 404);
    assert!(!echo.text().await.unwrap().contains(&id));
    assert_eq!(done.headers()["referrer-policy"], "no-referrer");
    assert_eq!(done.headers()["cache-control"], "no-store");

    let check = app
        .post(&format!("/api/v1/credentials/{id}/check"), None)
        .await;
    assert_eq!(check.status(), 200);
    let report: Value = check.json().await.unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["status"], "active");
    assert_eq!(report["account_username"], "pinner");
    let view: Value = app
        .http
        .get(format!("{}/api/v1/credentials/{id}", app.address))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(view["last_checked_at"].is_string(), "{view}");

    let refreshed = app
        .post(&format!("/api/v1/credentials/{id}/refresh"), None)
        .await;
    assert_eq!(refreshed.status(), 200);
    let stats = app.sim.control().stats().await.unwrap();
    assert_eq!(stats.grant_type("authorization_code"), 1);
    assert_eq!(stats.grant_type("refresh_token"), 1);

    // Canary: neither the client secret nor any token value is in the
    // database file or in the API's answers.
    let secrets = [app.client_secret.as_str()];
    let body = app
        .http
        .get(format!("{}/api/v1/credentials/{id}", app.address))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(app.dir.path()).unwrap() {
        files.push(std::fs::read(entry.unwrap().path()).unwrap());
    }
    for secret in secrets {
        assert!(!body.contains(secret));
        for file in &files {
            assert!(
                !file.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a secret is in the data directory in plaintext"
            );
        }
    }
}

#[tokio::test]
async fn every_refused_callback_is_a_4xx_page_and_no_token_request() {
    let app = spawn_oauth_app().await;
    let id = app.create_credential().await;
    let callback = |query: &str| format!("{}/oauth/pinterest/callback?{query}", app.address);

    // No state; an unknown state; duplicated state.
    for query in [
        "code=abc".to_owned(),
        format!("code=abc&state={}", "A".repeat(43)),
        "code=abc&state=a&state=b".to_owned(),
    ] {
        let response = app.http.get(callback(&query)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{query}");
    }
    // A bound flow with another browser's cookie, and with none.
    let (url, cookie) = app
        .approved_callback(&id, Some(serde_json::json!({"bind_browser": true})))
        .await;
    let cookie = cookie.expect("a bound flow sets a cookie");
    assert!(cookie.starts_with("pinion_flow="));
    let other = app
        .http
        .get(&url)
        .header("cookie", "pinion_flow=someone-else")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 403);
    let (url, _) = app
        .approved_callback(&id, Some(serde_json::json!({"bind_browser": true})))
        .await;
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 403);
    // Replay of a successful callback.
    let (url, _) = app.approved_callback(&id, None).await;
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 303);
    app.sim.control().reset_stats().await.unwrap();
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 400);
    // An error with an XSS payload comes back escaped.
    let response = app
        .post(&format!("/api/v1/credentials/{id}/authorize"), None)
        .await;
    let url: Value = response.json().await.unwrap();
    let url = url::Url::parse(url["authorization_url"].as_str().unwrap()).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let denied = app
        .http
        .get(callback(&format!(
            "state={state}&error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let page = denied.text().await.unwrap();
    assert!(!page.contains("<script>"), "{page}");
    assert!(page.contains("&lt;script&gt;"), "{page}");
    assert!(page.contains("not granted"), "{page}");
    let stats = app.sim.control().stats().await.unwrap();
    assert_eq!(stats.grant_type("authorization_code"), 0, "{stats:?}");
}

#[tokio::test]
async fn the_redirect_uri_ignores_spoofed_host_headers() {
    let app = spawn_oauth_app().await;
    let id = app.create_credential().await;
    let response = app
        .http
        .post(format!("{}/api/v1/credentials/{id}/authorize", app.address))
        .bearer_auth(&app.token)
        .header("x-forwarded-host", "evil.example")
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let url = url::Url::parse(body["authorization_url"].as_str().unwrap()).unwrap();
    let redirect = url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(
        redirect,
        format!("{}/oauth/pinterest/callback", app.address)
    );
}
