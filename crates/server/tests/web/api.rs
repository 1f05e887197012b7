//! The JSON API of what the UI does with sources: created from a credential
//! the caller owns, listed and read only by their owner, with field errors in
//! the API's error body.

use serde_json::{Value, json};

use crate::helpers::{SECRET_CANARY, spawn_app};

#[tokio::test]
async fn sources_via_the_api_belong_to_their_owner_and_report_field_errors() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let credential = alice
        .add_credential("Boards", "1484362", SECRET_CANARY)
        .await;
    let [alice_token, bob_token] = &app.api_tokens;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}/api/v1{path}", app.address);
    let body = json!({
        "name": "API source",
        "credential_id": credential,
        "streams": ["boards", "pins"],
        "output": {"kind": "sqlite", "path": "reports/api.db"},
    });

    let anonymous = http.get(url("/sources")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let stolen = http
        .post(url("/sources"))
        .bearer_auth(bob_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), 404, "bob used alice's credential");

    let created = http
        .post(url("/sources"))
        .bearer_auth(alice_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let source: Value = created.json().await.unwrap();
    let id = source["id"].as_str().unwrap().to_owned();
    assert_eq!(source["streams"], json!(["boards", "pins"]));
    assert_eq!(source["credential_id"], credential.as_str());

    let read = http
        .get(url(&format!("/sources/{id}")))
        .bearer_auth(alice_token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let hidden = http
        .get(url(&format!("/sources/{id}")))
        .bearer_auth(bob_token)
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), 404);
    let bobs: Value = http
        .get(url("/sources"))
        .bearer_auth(bob_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bobs, json!([]));

    let mut bad = body.clone();
    bad["streams"] = json!([]);
    let refused = http
        .post(url("/sources"))
        .bearer_auth(alice_token)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["field"], "streams", "{error}");
}
