//! Webhooks over the API (issue 14): a run that fails queues `run.failed`
//! for the owner's endpoints that subscribe to it (`*` included), never for
//! one that lists only the opt-in `run.succeeded`; invalid input names its
//! field; the secret appears only in the answers that create or rotate it.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_failed_run_is_queued_for_subscribed_endpoints_and_secrets_are_shown_once() {
    let app = spawn_app().await;
    let send = |method: Method, path: String, body: Option<Value>| {
        let mut request = app
            .http
            .request(method, app.url(&format!("/api/v1{path}")))
            .bearer_auth(&app.alice);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let mut hooks = Vec::new();
    for events in [
        json!(["run.failed"]),
        json!(["*"]),
        json!(["run.succeeded"]),
    ] {
        let (status, created) = send(
            Method::POST,
            "/webhooks".into(),
            Some(json!({"url": "http://127.0.0.1:9/hook", "events": events})),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        hooks.push(created);
    }
    let ids: Vec<String> = hooks
        .iter()
        .map(|h| h["webhook"]["id"].as_str().unwrap().to_owned())
        .collect();

    // Invalid input: 422 naming the field, nothing stored.
    let (status, error) = send(
        Method::POST,
        "/webhooks".into(),
        Some(json!({"url": "https://169.254.169.254/latest", "events": ["*"]})),
    )
    .await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["error"]["field"], "url");
    let (status, error) = send(
        Method::PATCH,
        format!("/webhooks/{}", ids[0]),
        Some(json!({"events": []})),
    )
    .await;
    assert_eq!((status, &error["error"]["field"]), (422, &json!("events")));
    let (status, error) = send(
        Method::GET,
        format!("/webhooks/{}/deliveries?limit=500", ids[0]),
        None,
    )
    .await;
    assert_eq!((status, &error["error"]["field"]), (400, &json!("limit")));

    // A run of an unauthorized credential fails at once.
    let credential = app.create_credential(&app.alice, "Boards").await;
    let (status, source) = send(
        Method::POST,
        "/sources".into(),
        Some(json!({
            "name": "Weekly",
            "credential_id": credential,
            "streams": ["boards"],
            "output": {"kind": "jsonl", "path": "out"},
        })),
    )
    .await;
    assert_eq!(status, 201, "{source}");
    let source = source["id"].as_str().unwrap().to_owned();
    let (status, run) = send(Method::POST, format!("/sources/{source}/runs"), None).await;
    assert_eq!(status, 202, "{run}");
    let run_id = run["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let events = |log: &Value| -> Vec<String> {
        log.as_array()
            .unwrap()
            .iter()
            .map(|d| d["event_type"].as_str().unwrap().to_owned())
            .collect()
    };
    loop {
        let (_, log) = send(
            Method::GET,
            format!("/webhooks/{}/deliveries", ids[1]),
            None,
        )
        .await;
        if events(&log).contains(&"run.failed".to_owned()) {
            break;
        }
        assert!(Instant::now() < deadline, "no run.failed queued: {log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, first) = send(
        Method::GET,
        format!("/webhooks/{}/deliveries", ids[0]),
        None,
    )
    .await;
    assert_eq!(events(&first), vec!["run.failed"]);
    let (_, opt_in) = send(
        Method::GET,
        format!("/webhooks/{}/deliveries", ids[2]),
        None,
    )
    .await;
    assert_eq!(events(&opt_in), Vec::<String>::new());
    let (_, run) = send(
        Method::GET,
        format!("/sources/{source}/runs/{run_id}"),
        None,
    )
    .await;
    assert_eq!(run["status"], "failed");

    // The secret: in the creating answer and the rotating one, nowhere else.
    let secret = hooks[0]["secret"].as_str().unwrap().to_owned();
    let (status, rotated) = send(
        Method::POST,
        format!("/webhooks/{}/rotate-secret", ids[0]),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    for path in [
        "/webhooks".to_owned(),
        format!("/webhooks/{}", ids[0]),
        format!("/webhooks/{}/deliveries", ids[0]),
    ] {
        let (_, body) = send(Method::GET, path.clone(), None).await;
        let text = body.to_string();
        assert!(
            !text.contains(&secret) && !text.contains(&new_secret),
            "{path}"
        );
    }
    // Disable and enable again.
    let (status, disabled) = send(
        Method::PATCH,
        format!("/webhooks/{}", ids[0]),
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!((status, &disabled["enabled"]), (200, &json!(false)));
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("alice")
    );
    let (status, _) = send(Method::POST, format!("/webhooks/{}/test", ids[0]), None).await;
    assert_eq!(status, 409);
    let (status, enabled) = send(
        Method::PATCH,
        format!("/webhooks/{}", ids[0]),
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!((status, &enabled["disabled_reason"]), (200, &Value::Null));
    let (status, queued) = send(Method::POST, format!("/webhooks/{}/test", ids[0]), None).await;
    assert_eq!(status, 202, "{queued}");
    assert!(queued["message_id"].as_str().unwrap().starts_with("msg_"));
}
