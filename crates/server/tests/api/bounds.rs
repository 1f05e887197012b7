//! Issue 12, items 11 and 12: the API and its OpenAPI document agree (every
//! error is the JSON error body with a documented status; values outside a
//! documented range are refused; bodies the document allows are accepted),
//! and what one user can make Pinion do is bounded (open authorization
//! flows per credential; checks answered from a recent result).

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_with_simulator};

async fn document(app: &TestApp) -> Value {
    app.http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Sends `body` as `content_type` to `POST path` as alice; the status, the
/// content type and the body as JSON.
async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (u16, String, Value) {
    let mut request = app.http.post(app.url(path)).bearer_auth(&app.alice);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.body(body).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("POST {path}: not JSON ({status} {content_type}): {text}"));
    (status, content_type, json)
}

#[tokio::test]
async fn body_errors_are_the_json_error_body_with_their_own_status() {
    let app = spawn_app().await;
    let id = app.create_credential(&app.alice, "Bodies").await;
    let authorize = format!("/api/v1/credentials/{id}/authorize");
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(70 * 1024));
    let cases: Vec<(&str, Option<&str>, String, u16, &str)> = vec![
        // The optional body of `authorize` answered text/plain before.
        (
            &authorize,
            Some("application/json"),
            "{not json".into(),
            400,
            "invalid_json",
        ),
        (
            &authorize,
            Some("text/plain"),
            "{}".into(),
            415,
            "invalid_json",
        ),
        (
            &authorize,
            Some("application/json"),
            r#"{"bind_browser": 3}"#.into(),
            422,
            "invalid_json",
        ),
        // A struct is never taken from an array of its fields.
        (
            &authorize,
            Some("application/json"),
            "[]".into(),
            422,
            "invalid_json",
        ),
        (
            "/api/v1/tokens",
            Some("application/json"),
            r#"["ci"]"#.into(),
            422,
            "invalid_json",
        ),
        (
            "/api/v1/tokens",
            None,
            r#"{"name": "ci"}"#.into(),
            415,
            "invalid_json",
        ),
        (
            "/api/v1/tokens",
            Some("application/json"),
            r#"{"name": "ci""#.into(),
            400,
            "invalid_json",
        ),
        // Over the 64 KiB limit: 413, not 400.
        (
            "/api/v1/tokens",
            Some("application/json"),
            big.clone(),
            413,
            "body_too_large",
        ),
        (
            "/api/v1/credentials",
            Some("application/json"),
            big,
            413,
            "body_too_large",
        ),
    ];
    for (path, content_type, body, status, code) in cases {
        let (got, got_type, error) = post_raw(&app, path, content_type, body).await;
        assert_eq!(got, status, "POST {path} {content_type:?}: {error}");
        assert_eq!(got_type, "application/json", "POST {path}");
        assert_eq!(error["error"]["code"], code, "POST {path}: {error}");
        assert!(error["error"]["message"].is_string(), "{error}");
    }
    // The optional body may be left out, or be `null`.
    for body in ["", "null"] {
        let content_type = (!body.is_empty()).then_some("application/json");
        let (status, _, started) = post_raw(&app, &authorize, content_type, body).await;
        assert_eq!(status, 200, "{body:?}: {started}");
    }
    // A malformed path segment is a JSON 400 too.
    let response = app
        .http
        .get(app.url("/api/v1/credentials/%FF"))
        .bearer_auth(&app.alice)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "bad_request", "{error}");
}

#[tokio::test]
async fn query_values_outside_their_documented_range_are_refused() {
    let app = spawn_app().await;
    let id = app.create_credential(&app.alice, "Queried").await;
    let doc = document(&app).await;
    let parameter = |path: &str, name: &str| -> Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} documents no `{name}`"))["schema"]
            .clone()
    };
    let limit = parameter("/api/v1/credentials/{id}/activity", "limit");
    assert_eq!(
        (limit["minimum"].as_i64(), limit["maximum"].as_i64()),
        (Some(1), Some(200))
    );
    let runs = parameter("/api/v1/credentials/{id}/usage", "runs");
    assert_eq!(
        (runs["minimum"].as_i64(), runs["maximum"].as_i64()),
        (Some(0), Some(100))
    );
    let scope = parameter("/api/v1/credentials", "scope");
    assert_eq!(scope["enum"], json!(["mine", "all"]), "{scope}");

    let get = |path: String| {
        let app = &app;
        async move {
            let response = app
                .http
                .get(app.url(&path))
                .bearer_auth(&app.alice)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    for (query, field) in [
        (
            format!("/api/v1/credentials/{id}/activity?limit=2147483648"),
            "limit",
        ),
        (
            format!("/api/v1/credentials/{id}/activity?limit=201"),
            "limit",
        ),
        (
            format!("/api/v1/credentials/{id}/activity?limit=0"),
            "limit",
        ),
        (
            format!("/api/v1/credentials/{id}/activity?before=0"),
            "before",
        ),
        (
            format!("/api/v1/credentials/{id}/usage?runs=2147483648"),
            "runs",
        ),
        (format!("/api/v1/credentials/{id}/usage?runs=101"), "runs"),
        ("/api/v1/credentials?scope=".to_owned(), "scope"),
    ] {
        let (status, error) = get(query.clone()).await;
        assert_eq!(status, 400, "{query}: {error}");
        assert_eq!(error["error"]["code"], "invalid_query", "{query}: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{query}: {message}");
    }
    for query in [
        format!("/api/v1/credentials/{id}/activity?limit=200"),
        format!("/api/v1/credentials/{id}/activity?limit=1&before=9007199254740991"),
        format!("/api/v1/credentials/{id}/usage?runs=100"),
        format!("/api/v1/credentials/{id}/usage?runs=0"),
        "/api/v1/credentials?scope=mine".to_owned(),
    ] {
        let (status, body) = get(query.clone()).await;
        assert_eq!(status, 200, "{query}: {body}");
    }
}

/// True when `instance` is valid under the documented schema `name`.
fn allowed(doc: &Value, name: &str, instance: &Value) -> bool {
    let schema = json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": doc["components"],
    });
    jsonschema::options()
        .should_validate_formats(false)
        .build(&schema)
        .unwrap()
        .is_valid(instance)
}

#[tokio::test]
async fn request_bodies_are_accepted_exactly_when_the_document_allows_them() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let id = app.create_credential(&app.alice, "Schema").await;
    let patch = format!("/api/v1/credentials/{id}");
    let cases: Vec<(&str, &str, &str, Value)> = vec![
        ("POST", "/api/v1/tokens", "CreateToken", json!({"name": ""})),
        (
            "POST",
            "/api/v1/tokens",
            "CreateToken",
            json!({"name": "   "}),
        ),
        (
            "POST",
            "/api/v1/tokens",
            "CreateToken",
            json!({"name": "x".repeat(65)}),
        ),
        (
            "POST",
            "/api/v1/tokens",
            "CreateToken",
            json!({"name": "bell\u{7}"}),
        ),
        (
            "POST",
            "/api/v1/tokens",
            "CreateToken",
            json!({"name": " ci runner "}),
        ),
        (
            "POST",
            "/api/v1/tokens",
            "CreateToken",
            json!({"name": "x".repeat(64)}),
        ),
        ("PATCH", &patch, "UpdateCredential", json!({})),
        ("PATCH", &patch, "UpdateCredential", json!({"name": null})),
        (
            "PATCH",
            &patch,
            "UpdateCredential",
            json!({"name": "Renamed", "description": null}),
        ),
        (
            "PATCH",
            &patch,
            "UpdateCredential",
            json!({"description": ""}),
        ),
        (
            "PATCH",
            &patch,
            "UpdateCredential",
            json!({"client_id": " 123 "}),
        ),
        (
            "PATCH",
            &patch,
            "UpdateCredential",
            json!({"client_id": "12a"}),
        ),
        (
            "PATCH",
            &patch,
            "UpdateCredential",
            json!({"scopes": "boards:read pins:read"}),
        ),
        (
            "PATCH",
            &patch,
            "UpdateCredential",
            json!({"scopes": "boards:reed"}),
        ),
        (
            "PATCH",
            &patch,
            "UpdateCredential",
            json!({"scopes": ["pins:read"]}),
        ),
        (
            "PATCH",
            &patch,
            "UpdateCredential",
            json!({"client_secret": "has space"}),
        ),
        (
            "POST",
            "/api/v1/credentials",
            "CreateCredential",
            json!({"name": "\tTabbed ", "client_id": "1", "client_secret": "s"}),
        ),
        (
            "POST",
            "/api/v1/credentials",
            "CreateCredential",
            json!({"name": "x".repeat(101), "client_id": "1", "client_secret": "s"}),
        ),
        (
            "POST",
            "/api/v1/credentials",
            "CreateCredential",
            json!({"name": "Described", "client_id": "1", "client_secret": "s", "description": null}),
        ),
    ];
    for (method, path, schema, body) in cases {
        let documented = allowed(&doc, schema, &body);
        let response = app
            .http
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&app.alice)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            status < 300,
            documented,
            "{method} {path} {body}: the document says {}, the API answered {status} {answer}",
            if documented { "valid" } else { "invalid" },
        );
        if !documented {
            assert_eq!(status, 422, "{method} {path} {body}: {answer}");
        }
    }
}

#[tokio::test]
async fn a_destination_with_an_unauthorized_credential_is_a_409_naming_why() {
    let app = spawn_app().await;
    let id = app.create_credential(&app.alice, "Not yet").await;
    let (status, _, error) = post_raw(
        &app,
        "/api/v1/destinations",
        Some("application/json"),
        json!({"name": "Board", "credential_id": id, "board_id": "1"}).to_string(),
    )
    .await;
    assert_eq!(status, 409, "{error}");
    assert_eq!(
        error["error"]["code"], "credential_not_authorized",
        "{error}"
    );
    assert_eq!(error["error"]["field"], "credential_id", "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("authorize"), "{message}");
    assert!(!message.contains("database"), "{message}");
    // And the document says so.
    let doc = document(&app).await;
    let responses = &doc["paths"]["/api/v1/destinations"]["post"]["responses"];
    assert!(
        responses["409"]["description"]
            .as_str()
            .unwrap()
            .contains("credential_not_authorized"),
        "{responses}"
    );
}

#[tokio::test]
async fn every_operation_documents_the_errors_it_can_answer() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if path == "/api/v1/openapi.json" {
                continue;
            }
            checked += 1;
            let responses = operation["responses"].as_object().unwrap();
            let parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut expected = vec!["401", "500", "503"];
            if operation.get("requestBody").is_some() {
                expected.extend(["400", "413", "415", "422"]);
            }
            if parameters.iter().any(|p| p["in"] == "query") {
                expected.push("400");
            }
            if parameters.iter().any(|p| p["in"] == "path") {
                expected.extend(["400", "404"]);
            }
            for status in expected {
                let response = responses
                    .get(status)
                    .unwrap_or_else(|| panic!("{method} {path} does not document {status}"));
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error",
                    "{method} {path} {status}"
                );
            }
            let retry_after = &responses["503"]["headers"]["Retry-After"];
            assert_eq!(
                retry_after["schema"]["type"], "integer",
                "{method} {path}: 503 documents no Retry-After"
            );
        }
    }
    assert!(checked >= 28, "{checked} operations");
}

/// How many of `flows` are open (neither consumed, failed nor expired).
async fn open_flows(app: &TestApp, flows: &[String]) -> usize {
    let now = chrono::Utc::now();
    let mut open = 0;
    for id in flows {
        let flow = app.store.get_flow(&id.parse().unwrap()).await.unwrap();
        if flow.consumed_at.is_none() && flow.outcome.is_none() && flow.expires_at > now {
            open += 1;
        }
    }
    open
}

#[tokio::test]
async fn open_authorization_flows_per_credential_are_capped_and_the_newest_stay() {
    let app = spawn_app().await;
    let id = app.create_credential(&app.alice, "Flows").await;
    let url = app.url(&format!("/api/v1/credentials/{id}/authorize"));
    let start = || {
        let (http, url, token) = (app.http.clone(), url.clone(), app.alice.clone());
        async move {
            let response = http.post(url).bearer_auth(token).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    // 60 at once: never more than the cap stay open.
    let mut flows: Vec<String> = futures_join_all((0..60).map(|_| start()))
        .await
        .iter()
        .map(|started| started["flow_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(flows.len(), 60);
    let cap = pinion_store::MAX_OPEN_FLOWS_PER_CREDENTIAL;
    assert_eq!(open_flows(&app, &flows).await, cap);
    // One at a time: the newest stay open, the oldest is expired, and its
    // waiter is told why.
    let mut latest = Vec::new();
    for _ in 0..=cap {
        latest.push(start().await["flow_id"].as_str().unwrap().to_owned());
    }
    flows.extend(latest.iter().cloned());
    assert_eq!(open_flows(&app, &flows).await, cap);
    assert_eq!(
        open_flows(&app, &latest[1..]).await,
        cap,
        "the newest stay open"
    );
    let oldest = app
        .store
        .get_flow(&latest[0].parse().unwrap())
        .await
        .unwrap();
    assert_eq!(oldest.outcome, Some(pinion_store::FlowOutcome::Failed));
    assert!(oldest.expires_at <= chrono::Utc::now());
    assert!(oldest.message.unwrap().contains("newer authorization"));
    // Another credential's flows are not touched.
    let other = app.create_credential(&app.alice, "Other").await;
    let (status, _, started) = post_raw(
        &app,
        &format!("/api/v1/credentials/{other}/authorize"),
        None,
        "",
    )
    .await;
    assert_eq!(status, 200);
    let other_flow = vec![started["flow_id"].as_str().unwrap().to_owned()];
    assert_eq!(open_flows(&app, &other_flow).await, 1);
    assert_eq!(open_flows(&app, &flows).await, cap);
}

/// Runs every future at once (no extra dependency for one join).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for future in futures {
        set.spawn(future);
    }
    let mut out = Vec::new();
    while let Some(result) = set.join_next().await {
        out.push(result.unwrap());
    }
    out
}

#[tokio::test]
async fn checks_of_one_credential_reuse_a_recent_result_instead_of_calling_pinterest() {
    let app = spawn_with_simulator("pinner-password", true).await;
    let id = app.authorized_credential().await;
    app.sim.control().reset_stats().await.unwrap();

    // 50 checks at once: one call to Pinterest; every answer says when the
    // check was made, all but one that it is a reused result.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let http = app.http.clone();
        let url = format!("{}/api/v1/credentials/{id}/check", app.address);
        let token = app.token.clone();
        set.spawn(async move {
            let response = http.post(url).bearer_auth(token).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        });
    }
    let mut reports = Vec::new();
    while let Some(report) = set.join_next().await {
        reports.push(report.unwrap());
    }
    let stats = app.sim.control().stats().await.unwrap();
    assert_eq!(stats.endpoint("GET /v5/user_account"), 1, "{stats:?}");
    assert!(reports.iter().all(|r| r["ok"] == true), "{reports:?}");
    let fresh = reports.iter().filter(|r| r["cached"] == false).count();
    assert_eq!(fresh, 1, "{reports:?}");
    let made = &reports[0]["checked_at"];
    assert!(made.is_string(), "{made}");
    assert!(
        reports.iter().all(|r| &r["checked_at"] == made),
        "{reports:?}"
    );

    // A changed credential (here: refreshed) is checked again.
    let (status, refreshed) = app
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/credentials/{id}/refresh"),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{refreshed}");
    let (status, report) = app
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/credentials/{id}/check"),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["cached"], false, "{report}");
    let stats = app.sim.control().stats().await.unwrap();
    assert_eq!(stats.endpoint("GET /v5/user_account"), 2, "{stats:?}");
}
