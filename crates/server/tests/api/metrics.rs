//! `GET /metrics`: after an authorization flow and a refresh against the
//! simulator, the counters moved, and no label holds a credential's name, id
//! or any secret.

use serde_json::{Value, json};

use crate::helpers::spawn_with_simulator;

/// The value of the sample of `name` whose labels include every `labels`
/// pair, if any.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn a_flow_and_a_refresh_show_in_the_metrics_without_names_or_secrets() {
    let app = spawn_with_simulator("pw", true).await;
    let post = |path: String, body: Option<Value>| {
        let mut request = app
            .http
            .post(format!("{}{path}", app.address))
            .bearer_auth(&app.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let created = post(
        "/api/v1/credentials".into(),
        Some(json!({
            "name": "Quarterly boards",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        })),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let started: Value = post(format!("/api/v1/credentials/{id}/authorize"), None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let approved = app
        .http
        .get(started["authorization_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let callback = approved.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(app.http.get(&callback).send().await.unwrap().status(), 303);
    let refreshed = post(format!("/api/v1/credentials/{id}/refresh"), None)
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);

    let response = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "no token needed");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    // The recorder is process-wide and other tests run beside this one:
    // each counter is at least what this test did.
    let at_least_one = |name: &str, labels: &[&str]| {
        let value = sample(&text, name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"));
        assert!(value >= 1.0, "{name} {labels:?} = {value}");
    };
    at_least_one("pinion_authorization_flows_started_total", &[]);
    at_least_one(
        "pinion_authorization_flows_completed_total",
        &["outcome=\"authorized\""],
    );
    at_least_one("pinion_refreshes_total", &["outcome=\"refreshed\""]);
    at_least_one(
        "pinion_http_requests_total",
        &[
            "method=\"POST\"",
            "route=\"/api/v1/credentials/{id}/refresh\"",
            "status=\"2xx\"",
        ],
    );
    at_least_one(
        "pinion_http_request_duration_seconds_count",
        &["route=\"/api/v1/credentials\""],
    );

    for secret_or_name in [
        "Quarterly boards",
        id.as_str(),
        app.client_id.as_str(),
        app.client_secret.as_str(),
        callback.as_str(),
        started["flow_id"].as_str().unwrap(),
    ] {
        assert!(
            !text.contains(secret_or_name),
            "/metrics contains `{secret_or_name}`"
        );
    }
}

#[tokio::test]
async fn requests_with_made_up_methods_share_one_label_and_are_counted_on_each_request() {
    let app = spawn_with_simulator("pw", true).await;
    let brew = reqwest::Method::from_bytes(b"BREWCOFFEE").unwrap();
    for _ in 0..3 {
        let response = app
            .http
            .request(brew.clone(), format!("{}/api/v1/credentials", app.address))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    let text = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !text.contains("BREWCOFFEE"),
        "a client-chosen method is a label"
    );
    let counted = sample(
        &text,
        "pinion_http_requests_total",
        &[
            "method=\"other\"",
            "route=\"/api/v1/credentials\"",
            "status=\"4xx\"",
        ],
    )
    .unwrap_or_else(|| panic!("no `other` sample in\n{text}"));
    // The recorder is process-wide: at least this test's three.
    assert!(counted >= 3.0, "{counted}");
}
