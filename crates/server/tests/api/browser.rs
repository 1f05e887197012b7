//! The browser path of the authorization flow (issue 4): a cookie-keeping
//! HTTP client plays the browser through the simulator's real sign-in and
//! consent pages, submitting their HTML forms, and the browser-bound
//! callback makes the credential `active`. Declining on the consent page
//! ends in a clear refusal and no token request.

use serde_json::Value;

use crate::helpers::{SimApp, spawn_with_simulator};

/// A server and a simulator whose one user signs in on the pages.
struct BrowserApp(SimApp);

impl std::ops::Deref for BrowserApp {
    type Target = SimApp;

    fn deref(&self) -> &SimApp {
        &self.0
    }
}

async fn spawn() -> BrowserApp {
    BrowserApp(spawn_with_simulator("correct horse", false).await)
}

/// A browser: keeps cookies, follows no redirect by itself.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Undoes the HTML escaping of an attribute value.
fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in one tag's text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// A form of `page`: its action and its hidden fields, as a browser would
/// submit them.
fn form(page: &str, id: &str) -> (String, Vec<(String, String)>) {
    let start = page
        .find(&format!("<form id=\"{id}\""))
        .unwrap_or_else(|| panic!("no form `{id}` on the page:\n{page}"));
    let end = page[start..].find("</form>").unwrap() + start;
    let html = &page[start..end];
    let action = attribute(&html[..html.find('>').unwrap()], "action").unwrap();
    let mut fields = Vec::new();
    for piece in html.split("<input").skip(1) {
        let tag = &piece[..piece.find('>').unwrap()];
        if attribute(tag, "type").as_deref() == Some("hidden") {
            fields.push((
                attribute(tag, "name").unwrap(),
                attribute(tag, "value").unwrap_or_default(),
            ));
        }
    }
    (action, fields)
}

impl BrowserApp {
    async fn create_credential(&self, browser: &reqwest::Client) -> String {
        let response = browser
            .post(format!("{}/api/v1/credentials", self.address))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({
                "name": "Boards",
                "client_id": self.client_id,
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

    /// Starts a browser-bound flow and walks the simulator's pages: sign in
    /// on the login form, then press `decision` on the consent form. Returns
    /// the redirect back to Pinion.
    async fn through_the_pages(
        &self,
        browser: &reqwest::Client,
        id: &str,
        decision: &str,
    ) -> String {
        let started = browser
            .post(format!(
                "{}/api/v1/credentials/{id}/authorize",
                self.address
            ))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({"bind_browser": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 200);
        assert!(
            started.headers().get("set-cookie").is_some(),
            "a bound flow sets a cookie"
        );
        let url = started.json::<Value>().await.unwrap()["authorization_url"]
            .as_str()
            .unwrap()
            .to_owned();

        // The sign-in page.
        let login_page = browser.get(&url).send().await.unwrap();
        assert_eq!(login_page.status(), 200);
        let login_page = login_page.text().await.unwrap();
        let (action, mut fields) = form(&login_page, "login");
        fields.push(("username".into(), "pinner".into()));
        fields.push(("password".into(), "correct horse".into()));
        let consent_page = browser
            .post(format!("{}{action}", self.sim.base_url()))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(consent_page.status(), 200);
        let consent_page = consent_page.text().await.unwrap();
        assert!(consent_page.contains("Give access"), "{consent_page}");

        // The consent page.
        let (action, mut fields) = form(&consent_page, "consent");
        fields.push(("decision".into(), decision.into()));
        let back = browser
            .post(format!("{}{action}", self.sim.base_url()))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), 302);
        let location = back.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with(&format!("{}/oauth/pinterest/callback?", self.address)),
            "{location}"
        );
        location
    }
}

#[tokio::test]
async fn the_browser_signs_in_and_gives_access_on_the_real_pages_and_the_credential_becomes_active()
{
    let app = spawn().await;
    let browser = browser();
    let id = app.create_credential(&browser).await;
    let callback = app.through_the_pages(&browser, &id, "accept").await;

    // The browser follows the redirect, carrying its binding cookie.
    let done = browser.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), 303);
    let location = done.headers()["location"].to_str().unwrap().to_owned();
    // A browser-bound flow lands on the credential's page in the web UI.
    assert_eq!(location, format!("/credentials/{id}/edit?authorized=1"));

    let record: Value = browser
        .get(format!("{}/api/v1/credentials/{id}", app.address))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(record["status"], "active", "{record}");
    let stats = app.sim.control().stats().await.unwrap();
    assert_eq!(
        stats.grant_type_succeeded("authorization_code"),
        1,
        "{stats:?}"
    );

    // The same browser can check the credential against the API.
    let check: Value = browser
        .post(format!("{}/api/v1/credentials/{id}/check", app.address))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["account_username"], "pinner");
}

#[tokio::test]
async fn declining_on_the_real_consent_page_is_refused_clearly_without_a_token_request() {
    let app = spawn().await;
    let browser = browser();
    let id = app.create_credential(&browser).await;
    let callback = app.through_the_pages(&browser, &id, "decline").await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let refused = browser.get(&callback).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let page = refused.text().await.unwrap();
    assert!(page.contains("Access was not granted"), "{page}");
    let stats = app.sim.control().stats().await.unwrap();
    assert_eq!(stats.endpoint("POST /v5/oauth/token"), 0, "{stats:?}");
    let record: Value = browser
        .get(format!("{}/api/v1/credentials/{id}", app.address))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(record["status"], "needs_authorization", "{record}");
}
