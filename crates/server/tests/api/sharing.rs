//! Sharing and the activity log through the JSON API: another user gets 404
//! for a credential until it is shared with them; a collaborator can pick it
//! for a source but gets 403 on every route that would show or change it;
//! after the owner withdraws the share it is "no longer shared with you";
//! and the activity log records a whole flow with actors and no secret.

use std::sync::Arc;

use pinion_domain::{CredentialId, Role, Username};
use pinion_store::Store;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_with_simulator};

async fn call(
    http: &reqwest::Client,
    method: Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Every route that shows or changes credential `id`, with a body where one
/// is needed.
fn settings_routes(id: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, format!("/api/v1/credentials/{id}"), None),
        (
            Method::PATCH,
            format!("/api/v1/credentials/{id}"),
            Some(json!({"name": "Taken over"})),
        ),
        (Method::DELETE, format!("/api/v1/credentials/{id}"), None),
        (
            Method::POST,
            format!("/api/v1/credentials/{id}/authorize"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/credentials/{id}/check"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/credentials/{id}/refresh"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/credentials/{id}/shares"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/credentials/{id}/shares"),
            Some(json!({"username": "root"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/credentials/{id}/shares/bob"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/credentials/{id}/activity"),
            None,
        ),
    ]
}

fn source_body(credential: &str, path: &str) -> Value {
    json!({
        "name": "Bob's boards",
        "credential_id": credential,
        "streams": ["boards"],
        "output": {"kind": "jsonl", "path": path},
    })
}

/// `POST /api/v1/sources` as `token` with `credential`. The output is given
/// as a name in the outputs folder; a server that still takes absolute
/// paths refuses that on `output_path` only, and gets the path form.
async fn post_source(
    http: &reqwest::Client,
    url: String,
    token: &str,
    credential: &str,
) -> reqwest::Response {
    let response = call(
        http,
        Method::POST,
        url.clone(),
        token,
        Some(source_body(credential, "bob-boards")),
    )
    .await;
    if response.status() != 422 {
        return response;
    }
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["field"], "output_path", "{error}");
    call(
        http,
        Method::POST,
        url,
        token,
        Some(source_body(credential, "/tmp/pinion-bob-boards")),
    )
    .await
}

#[tokio::test]
async fn a_collaborator_can_use_a_shared_credential_but_not_see_or_change_it() {
    let app = spawn_app().await;
    let id = app.create_credential(&app.alice, "Boards").await;

    // Before sharing, bob gets the 404 of an unknown id everywhere.
    for (method, path, body) in settings_routes(&id) {
        let response = call(&app.http, method.clone(), app.url(&path), &app.bob, body).await;
        assert_eq!(response.status(), 404, "{method} {path}");
    }
    let refused = post_source(&app.http, app.url("/api/v1/sources"), &app.bob, &id).await;
    assert_eq!(refused.status(), 404);

    // Only the owner shares; a username that does not exist is a 409
    // `unknown_user` on `username` (a well-formed body is never a 422, and a
    // 404 means the credential), a second share a 409.
    let shares = app.url(&format!("/api/v1/credentials/{id}/shares"));
    let unknown = call(
        &app.http,
        Method::POST,
        shares.clone(),
        &app.alice,
        Some(json!({"username": "nobody"})),
    )
    .await;
    assert_eq!(unknown.status(), 409);
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["error"]["field"],
        "username"
    );
    let shared = call(
        &app.http,
        Method::POST,
        shares.clone(),
        &app.alice,
        Some(json!({"username": "bob"})),
    )
    .await;
    assert_eq!(shared.status(), 201);
    assert_eq!(shared.json::<Value>().await.unwrap()["username"], "bob");
    let again = call(
        &app.http,
        Method::POST,
        shares.clone(),
        &app.alice,
        Some(json!({"username": "bob"})),
    )
    .await;
    assert_eq!(again.status(), 409);
    let list: Value = call(&app.http, Method::GET, shares.clone(), &app.alice, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["username"], "bob", "{list}");

    // The collaborator sees the tile's part, marked as shared by alice.
    let mine: Value = call(
        &app.http,
        Method::GET,
        app.url("/api/v1/shared-credentials"),
        &app.bob,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let item = &mine["items"][0];
    assert_eq!(item["id"], id.as_str(), "{mine}");
    assert_eq!(item["shared_by"], "alice");
    assert!(item.get("client_id").is_none(), "{item}");
    let text = mine.to_string();
    assert!(!text.contains("CANARY"), "{text}");

    // Every settings route is a 403 that says why; nothing changed.
    for (method, path, body) in settings_routes(&id) {
        let response = call(&app.http, method.clone(), app.url(&path), &app.bob, body).await;
        assert_eq!(response.status(), 403, "{method} {path}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "forbidden", "{method} {path}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("only its owner"),
            "{error}"
        );
    }
    let owner_view: Value = app
        .get_credential(&app.alice, &id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(owner_view["name"], "Boards");

    // But bob can make a source with it.
    let source = post_source(&app.http, app.url("/api/v1/sources"), &app.bob, &id).await;
    assert_eq!(source.status(), 201);

    // An admin lists every credential, never a secret.
    let all = app
        .http
        .get(app.url("/api/v1/credentials?scope=all"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), 200);
    let all = all.text().await.unwrap();
    assert!(all.contains(&id) && !all.contains("CANARY"), "{all}");

    // The owner withdraws; bob is a stranger again, and what used it says so.
    let withdraw = call(
        &app.http,
        Method::DELETE,
        app.url(&format!("/api/v1/credentials/{id}/shares/bob")),
        &app.alice,
        None,
    )
    .await;
    assert_eq!(withdraw.status(), 204);
    let twice = call(
        &app.http,
        Method::DELETE,
        app.url(&format!("/api/v1/credentials/{id}/shares/bob")),
        &app.alice,
        None,
    )
    .await;
    assert_eq!(twice.status(), 404);
    assert_eq!(app.get_credential(&app.bob, &id).await.status(), 404);
    let refused = post_source(&app.http, app.url("/api/v1/sources"), &app.bob, &id).await;
    assert_eq!(refused.status(), 403);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "not_shared");
    assert_eq!(
        error["error"]["message"],
        "credential \"Boards\" is no longer shared with you"
    );
    let mine: Value = call(
        &app.http,
        Method::GET,
        app.url("/api/v1/shared-credentials"),
        &app.bob,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 0);
}

/// A second connection to the server's SQLite file, for adding users and
/// reading the tokens the flow stored (to look for them in the log).
async fn side_store(dir: &std::path::Path) -> Arc<dyn Store> {
    pinion_testkit::open_data_dir(dir).await
}

fn query_value(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in the URL"))
}

#[tokio::test]
async fn the_activity_log_records_a_whole_flow_with_actors_and_no_secret() {
    let app = spawn_with_simulator("pw", true).await;
    let store = side_store(app.dir.path()).await;
    let (_, bob) = store
        .create_user_with_token(&Username::parse("bob").unwrap(), Role::User)
        .await
        .unwrap();
    let (_, admin) = store
        .create_user_with_token(&Username::parse("root").unwrap(), Role::Admin)
        .await
        .unwrap();
    let (bob, admin) = (
        bob.expose_secret().to_owned(),
        admin.expose_secret().to_owned(),
    );
    let url = |path: &str| format!("{}{path}", app.address);
    let alice = app.token.as_str();
    let mut secrets = vec![app.client_secret.clone()];

    let created = call(
        &app.http,
        Method::POST,
        url("/api/v1/credentials"),
        alice,
        Some(json!({
            "name": "Boards",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "scopes": "boards:read,pins:read,user_accounts:read",
        })),
    )
    .await;
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Authorize (the simulator approves without its pages).
    let started: Value = call(
        &app.http,
        Method::POST,
        url(&format!("/api/v1/credentials/{id}/authorize")),
        alice,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let consent = started["authorization_url"].as_str().unwrap().to_owned();
    secrets.push(query_value(&consent, "state"));
    let approved = app.http.get(&consent).send().await.unwrap();
    assert_eq!(approved.status(), 302);
    let callback = approved.headers()["location"].to_str().unwrap().to_owned();
    secrets.push(query_value(&callback, "code"));
    assert_eq!(app.http.get(&callback).send().await.unwrap().status(), 303);

    let authorized = store
        .credential_secrets(&id.parse::<CredentialId>().unwrap())
        .await
        .unwrap();
    secrets.push(authorized.access_token.unwrap().expose_secret().to_owned());
    secrets.push(authorized.refresh_token.unwrap().expose_secret().to_owned());
    for action in ["refresh", "check"] {
        let response = call(
            &app.http,
            Method::POST,
            url(&format!("/api/v1/credentials/{id}/{action}")),
            alice,
            None,
        )
        .await;
        assert_eq!(response.status(), 200, "{action}");
    }
    let stored = store
        .credential_secrets(&id.parse::<CredentialId>().unwrap())
        .await
        .unwrap();
    secrets.push(stored.access_token.unwrap().expose_secret().to_owned());
    secrets.push(stored.refresh_token.unwrap().expose_secret().to_owned());

    let shared = call(
        &app.http,
        Method::POST,
        url(&format!("/api/v1/credentials/{id}/shares")),
        alice,
        Some(json!({"username": "bob"})),
    )
    .await;
    assert_eq!(shared.status(), 201);
    // The collaborator sees no log.
    let hidden = call(
        &app.http,
        Method::GET,
        url(&format!("/api/v1/credentials/{id}/activity")),
        &bob,
        None,
    )
    .await;
    assert_eq!(hidden.status(), 403);
    let withdrawn = call(
        &app.http,
        Method::DELETE,
        url(&format!("/api/v1/credentials/{id}/shares/bob")),
        alice,
        None,
    )
    .await;
    assert_eq!(withdrawn.status(), 204);

    // Paginated: two entries, then the rest from `next_before`.
    let first: Value = call(
        &app.http,
        Method::GET,
        url(&format!("/api/v1/credentials/{id}/activity?limit=2")),
        alice,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let before = first["next_before"].as_i64().expect("a next page");
    let rest = call(
        &app.http,
        Method::GET,
        url(&format!(
            "/api/v1/credentials/{id}/activity?limit=50&before={before}"
        )),
        alice,
        None,
    )
    .await;
    assert_eq!(rest.status(), 200);

    let deleted = call(
        &app.http,
        Method::DELETE,
        url(&format!("/api/v1/credentials/{id}")),
        alice,
        None,
    )
    .await;
    assert_eq!(deleted.status(), 204);
    // The owner no longer finds it; an admin still reads its log.
    let gone = call(
        &app.http,
        Method::GET,
        url(&format!("/api/v1/credentials/{id}/activity")),
        alice,
        None,
    )
    .await;
    assert_eq!(gone.status(), 404);
    let log = call(
        &app.http,
        Method::GET,
        url(&format!("/api/v1/credentials/{id}/activity")),
        &admin,
        None,
    )
    .await;
    assert_eq!(log.status(), 200);
    let text = log.text().await.unwrap();
    let log: Value = serde_json::from_str(&text).unwrap();
    let entries: Vec<(String, String, String)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
                e["subject"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("created", "alice", ""),
        ("authorized", "alice", ""),
        ("refreshed", "alice", ""),
        ("checked", "alice", "ok"),
        ("shared", "alice", "bob"),
        ("share_withdrawn", "alice", "bob"),
        ("deleted", "alice", ""),
    ];
    let got: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|(e, a, s)| (e.as_str(), a.as_str(), s.as_str()))
        .collect();
    assert_eq!(got, expected, "{text}");
    let authorized = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "authorized")
        .unwrap();
    assert!(
        authorized["detail"]
            .as_str()
            .unwrap()
            .contains("granted scopes: boards:read"),
        "{authorized}"
    );
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["at"].is_string())
    );

    // No secret of the flow is anywhere in the log.
    assert_eq!(secrets.len(), 7);
    for secret in &secrets {
        assert!(secret.len() >= 8, "a secret too short to search for");
        assert!(
            !text.contains(secret.as_str()),
            "a secret is in the activity log"
        );
    }
}
