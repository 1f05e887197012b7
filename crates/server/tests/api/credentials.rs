//! `/api/v1/credentials`: the happy path, access control, and every kind of
//! bad input refused with the field named and nothing stored.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn anonymous_and_bad_tokens_get_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let anonymous = app
        .http
        .get(app.url("/api/v1/credentials"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    for token in ["pin_wrong", ""] {
        let response = app.get_credentials(token).await;
        assert_eq!(response.status(), 401, "{token:?}");
    }
    let basic = app
        .http
        .get(app.url("/api/v1/credentials"))
        .basic_auth("alice", Some(&app.alice))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
}

#[tokio::test]
async fn a_created_credential_is_listed_with_defaults_and_never_shows_its_secret() {
    let app = spawn_app().await;
    let response = app
        .post_credential(
            &app.alice,
            &json!({
                "name": "  Marketing boards ",
                "description": "Read-only access for the data team",
                "client_id": "1484362",
                "client_secret": "CANARY-client-secret-4b1d",
            }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let text = response.text().await.unwrap();
    assert!(!text.contains("CANARY"), "{text}");
    let created: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(created["name"], "Marketing boards");
    assert_eq!(created["client_secret"], "set");
    assert_eq!(created["status"], "needs_authorization");
    assert_eq!(
        created["scopes"],
        json!(["boards:read", "pins:read", "user_accounts:read"])
    );
    assert!(created["id"].as_str().unwrap().starts_with("cred_"));

    let list = app.get_credentials(&app.alice).await.text().await.unwrap();
    assert!(!list.contains("CANARY"), "{list}");
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn scopes_may_be_given_as_text_or_a_list() {
    let app = spawn_app().await;
    for (name, scopes) in [
        ("space", json!("boards:read pins:read ads:read")),
        ("list", json!(["ads:read", "boards:read", "pins:read"])),
    ] {
        let response = app
            .post_credential(
                &app.alice,
                &json!({"name": name, "client_id": "1", "client_secret": "s", "scopes": scopes}),
            )
            .await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["scopes"],
            json!(["ads:read", "boards:read", "pins:read"])
        );
    }
}

#[tokio::test]
async fn another_users_credential_is_404_on_every_route_and_an_admin_can_only_read() {
    let app = spawn_app().await;
    let id = app.create_credential(&app.alice, "Alice's").await;
    assert_eq!(app.get_credential(&app.bob, &id).await.status(), 404);
    assert_eq!(
        app.patch_credential(&app.bob, &id, &json!({"name": "Bob's"}))
            .await
            .status(),
        404
    );
    assert_eq!(app.delete_credential(&app.bob, &id).await.status(), 404);
    let bob_list: Value = app.get_credentials(&app.bob).await.json().await.unwrap();
    assert_eq!(bob_list["items"], json!([]));

    assert_eq!(app.get_credential(&app.admin, &id).await.status(), 200);
    assert_eq!(app.delete_credential(&app.admin, &id).await.status(), 404);
    let all = app
        .http
        .get(app.url("/api/v1/credentials?scope=all"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), 200);
    let all = all.text().await.unwrap();
    assert!(!all.contains("CANARY"));
    let forbidden = app
        .http
        .get(app.url("/api/v1/credentials?scope=all"))
        .bearer_auth(&app.bob)
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    // Still intact for its owner.
    assert_eq!(app.get_credential(&app.alice, &id).await.status(), 200);
}

#[tokio::test]
async fn update_and_delete_work_for_the_owner() {
    let app = spawn_app().await;
    let id = app.create_credential(&app.alice, "Before").await;
    let response = app
        .patch_credential(
            &app.alice,
            &id,
            &json!({"name": "After", "description": "", "scopes": "boards:read,boards:read_secret"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], "After");
    assert_eq!(body["description"], Value::Null);
    assert_eq!(body["scopes"], json!(["boards:read", "boards:read_secret"]));

    assert_eq!(app.delete_credential(&app.alice, &id).await.status(), 204);
    assert_eq!(app.get_credential(&app.alice, &id).await.status(), 404);
    assert_eq!(app.delete_credential(&app.alice, &id).await.status(), 404);
}

#[tokio::test]
async fn every_invalid_field_is_refused_naming_it_and_nothing_is_stored() {
    let app = spawn_app().await;
    app.create_credential(&app.alice, "Taken").await;
    let valid = json!({"name": "New", "client_id": "1484362", "client_secret": "s3cret"});
    let with = |key: &str, value: Value| {
        let mut body = valid.clone();
        body[key] = value;
        body
    };
    let cases = [
        (with("name", json!("")), 422, "name"),
        (with("name", json!("   ")), 422, "name"),
        (with("name", json!("n".repeat(101))), 422, "name"),
        (with("name", json!("Taken")), 409, "name"),
        (with("name", json!("taken")), 409, "name"),
        (with("name", json!("bad\u{0}name")), 422, "name"),
        (
            with("description", json!("d".repeat(1001))),
            422,
            "description",
        ),
        (with("description", json!("bell\u{7}")), 422, "description"),
        (with("client_id", json!("")), 422, "client_id"),
        (with("client_id", json!("not-digits")), 422, "client_id"),
        (with("client_secret", json!("")), 422, "client_secret"),
        (with("client_secret", json!("a b")), 422, "client_secret"),
        (
            with("scopes", json!("boards:read,boards:fly")),
            422,
            "scopes",
        ),
        (with("scopes", json!("")), 201, ""),
    ];
    for (body, status, field) in cases {
        let response = app.post_credential(&app.alice, &body).await;
        assert_eq!(response.status(), status, "{body}");
        if status == 201 {
            let id = response.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned();
            app.delete_credential(&app.alice, &id).await;
            continue;
        }
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{body} -> {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
    let list: Value = app.get_credentials(&app.alice).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
}

#[tokio::test]
async fn malformed_bodies_get_4xx_in_the_error_format() {
    let app = spawn_app().await;
    let cases: [(&str, &str, u16); 4] = [
        ("application/json", "{not json", 400),
        ("application/json", r#"{"name": "x"}"#, 422),
        (
            "application/json",
            r#"{"name":"x","client_id":"1","client_secret":"s","extra":1}"#,
            422,
        ),
        (
            "text/plain",
            r#"{"name":"x","client_id":"1","client_secret":"s"}"#,
            415,
        ),
    ];
    for (content_type, body, status) in cases {
        let response = app
            .http
            .post(app.url("/api/v1/credentials"))
            .bearer_auth(&app.alice)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_json");
    }
    let list: Value = app.get_credentials(&app.alice).await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn malformed_query_strings_get_400_in_the_error_format_naming_the_parameter() {
    let app = spawn_app().await;
    let id = app.create_credential(&app.alice, "Queried").await;
    for (path, parameter) in [
        (format!("/api/v1/credentials/{id}/usage?runs=abc"), "runs"),
        (
            format!("/api/v1/credentials/{id}/activity?limit=-1"),
            "limit",
        ),
        (
            format!("/api/v1/credentials/{id}/activity?before=x"),
            "before",
        ),
    ] {
        let response = app
            .http
            .get(app.url(&path))
            .bearer_auth(&app.alice)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_query", "{path}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(parameter), "{path}: {message}");
    }
}

#[tokio::test]
async fn an_empty_patch_is_refused() {
    let app = spawn_app().await;
    let id = app.create_credential(&app.alice, "Same").await;
    let response = app.patch_credential(&app.alice, &id, &json!({})).await;
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["field"], "update");
}

/// Polls `GET /api/v1/credentials` with `token` for up to 5 s until `done`.
async fn listing_until(
    app: &crate::helpers::TestApp,
    token: &str,
    done: impl Fn(u16, &Value) -> bool,
) -> (u16, Value) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let response = app.get_credentials(token).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        if done(status, &body) || std::time::Instant::now() > deadline {
            return (status, body);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_listing_and_token_checks_follow_writes_made_around_the_server() {
    use sqlx::Connection;

    let app = spawn_app().await;
    let id = app.create_credential(&app.alice, "Before").await;
    // Listed twice: the second answer may come from memory.
    for _ in 0..2 {
        let body: Value = app.get_credentials(&app.alice).await.json().await.unwrap();
        assert_eq!(body["items"][0]["name"], "Before");
    }
    // A write through the API shows at once.
    let renamed = app
        .patch_credential(&app.alice, &id, &json!({"name": "Through the API"}))
        .await;
    assert_eq!(renamed.status(), 200);
    let body: Value = app.get_credentials(&app.alice).await.json().await.unwrap();
    assert_eq!(body["items"][0]["name"], "Through the API");

    // Writes by another process (the CLI, another replica) are made here with
    // a connection of their own, bypassing the server entirely.
    let mut other =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", app.database().display()))
            .await
            .unwrap();
    sqlx::query("UPDATE credentials SET name = 'Elsewhere', name_key = 'elsewhere' WHERE id = $1")
        .bind(&id)
        .execute(&mut other)
        .await
        .unwrap();
    let (_, body) = listing_until(&app, &app.alice, |_, body| {
        body["items"][0]["name"] == "Elsewhere"
    })
    .await;
    assert_eq!(body["items"][0]["name"], "Elsewhere", "{body}");

    // Revoking the token elsewhere ends its use here.
    sqlx::query("UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP")
        .execute(&mut other)
        .await
        .unwrap();
    let (status, body) = listing_until(&app, &app.alice, |status, _| status == 401).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(app.get_credentials(&app.bob).await.status(), 401);
}

#[tokio::test]
async fn a_credentials_rate_tier_defaults_to_standard_and_is_changed_by_patch() {
    let app = spawn_app().await;
    let id = app.create_credential(&app.alice, "Boards").await;
    let shown: Value = app
        .http
        .get(app.url(&format!("/api/v1/credentials/{id}")))
        .bearer_auth(&app.alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["rate_tier"], "standard");

    for (tier, shown_as) in [
        ("trial", "trial"),
        (" 600/min ", "600/min"),
        ("Unlimited", "unlimited"),
    ] {
        let changed = app
            .patch_credential(&app.alice, &id, &json!({"rate_tier": tier}))
            .await;
        assert_eq!(changed.status(), 200, "{tier}");
        let body: Value = changed.json().await.unwrap();
        assert_eq!(body["rate_tier"], shown_as);
    }
    for bad in ["fast", "0/min", "600"] {
        let refused = app
            .patch_credential(&app.alice, &id, &json!({"rate_tier": bad}))
            .await;
        assert_eq!(refused.status(), 422, "{bad}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["field"], "rate_tier", "{body}");
    }
}
