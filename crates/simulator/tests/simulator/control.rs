//! The control API and the behaviour it switches: grants revoked, faults injected, call
//! statistics, rate limits with Pinterest's headers, and the request-id header.

use std::time::{Duration, Instant};

use pinion_simulator::{FaultKind, FaultSpec};
use serde_json::Value;

use crate::helpers::{ALL_READ, assert_error, small_shape, start, start_with, test_config};

fn fault(prefix: &str, kind: FaultKind, count: Option<u64>) -> FaultSpec {
    FaultSpec {
        path_prefix: prefix.into(),
        method: None,
        kind,
        count,
        duration_ms: None,
    }
}

#[tokio::test]
async fn revoking_a_grant_kills_access_and_refresh_tokens() {
    let t = start().await;
    let body = t.tokens("boards:read").await;
    let revoked = t
        .sim
        .control()
        .revoke_grant("alice", &t.app.client_id)
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    assert_error(
        t.get(body["access_token"].as_str().unwrap(), "/boards")
            .await,
        401,
        2,
    )
    .await;
    let res = t
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_error(res, 401, 283).await;
}

#[tokio::test]
async fn expired_access_tokens_can_still_be_refreshed() {
    let t = start().await;
    let body = t.tokens("boards:read").await;
    let n = t
        .sim
        .control()
        .expire_access_tokens("alice", Some(&t.app.client_id))
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_error(
        t.get(body["access_token"].as_str().unwrap(), "/boards")
            .await,
        401,
        2,
    )
    .await;
    let res = t
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(res.status().as_u16(), 200);
}

#[tokio::test]
async fn counted_status_faults_apply_then_disappear() {
    let t = start().await;
    let token = t.access_token(ALL_READ).await;
    let c = t.sim.control();
    c.inject_fault(&fault(
        "/v5/boards",
        FaultKind::Status { status: 503 },
        Some(2),
    ))
    .await
    .unwrap();
    assert_eq!(t.get(&token, "/boards").await.status().as_u16(), 503);
    assert_eq!(t.get(&token, "/user_account").await.status().as_u16(), 200);
    assert_eq!(t.get(&token, "/boards").await.status().as_u16(), 503);
    assert_eq!(t.get(&token, "/boards").await.status().as_u16(), 200);
    assert!(c.faults().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_rate_limit_storm_answers_429_code_8_with_headers() {
    let t = start().await;
    let token = t.access_token(ALL_READ).await;
    t.sim
        .control()
        .inject_fault(&FaultSpec {
            duration_ms: Some(60_000),
            ..fault("/v5/", FaultKind::RateLimit, None)
        })
        .await
        .unwrap();
    for _ in 0..3 {
        let res = t.get(&token, "/boards").await;
        assert!(res.headers().contains_key("x-ratelimit-reset"));
        assert_error(res, 429, 8).await;
    }
    t.sim.control().clear_faults().await.unwrap();
    assert_eq!(t.get(&token, "/boards").await.status().as_u16(), 200);
}

#[tokio::test]
async fn latency_faults_delay_the_answer() {
    let t = start().await;
    let token = t.access_token(ALL_READ).await;
    t.sim
        .control()
        .inject_fault(&fault(
            "/v5/boards",
            FaultKind::Latency { ms: 300 },
            Some(1),
        ))
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(t.get(&token, "/boards").await.status().as_u16(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn malformed_truncated_and_dropped_answers_break_the_client_side() {
    let t = start().await;
    let token = t.access_token(ALL_READ).await;
    let c = t.sim.control();
    c.inject_fault(&fault("/v5/boards", FaultKind::MalformedJson, Some(1)))
        .await
        .unwrap();
    let res = t.get(&token, "/boards").await;
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.json::<Value>().await.is_err());

    c.inject_fault(&fault("/v5/boards", FaultKind::TruncatedBody, Some(1)))
        .await
        .unwrap();
    let res = t.get(&token, "/boards").await;
    assert_eq!(
        res.status().as_u16(),
        200,
        "the head arrives before the cut"
    );
    assert!(res.bytes().await.is_err(), "a truncated body is an error");

    c.inject_fault(&fault("/v5/boards", FaultKind::DropConnection, Some(1)))
        .await
        .unwrap();
    let outcome = t
        .http
        .get(format!("{}/boards", t.sim.api_url()))
        .bearer_auth(&token)
        .send()
        .await;
    match outcome {
        Err(_) => {}
        Ok(res) => assert!(res.bytes().await.is_err(), "the connection was dropped"),
    }
    assert_eq!(t.get(&token, "/boards").await.status().as_u16(), 200);
}

fn on(method: &str, prefix: &str, kind: FaultKind) -> FaultSpec {
    FaultSpec {
        method: Some(method.into()),
        ..fault(prefix, kind, Some(1))
    }
}

async fn board_pin_ids(t: &crate::helpers::TestSim, token: &str, board: &str) -> Vec<String> {
    let page: Value = t
        .get(token, &format!("/boards/{board}/pins?page_size=250"))
        .await
        .json()
        .await
        .unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_applied_write_can_lose_its_answer_and_lists_can_lag_behind_it() {
    let t = start().await;
    let token = t.access_token(crate::helpers::ALL).await;
    let boards: Value = t.get(&token, "/boards").await.json().await.unwrap();
    let board = boards["items"][0]["id"].as_str().unwrap().to_owned();
    let c = t.sim.control();
    let before = board_pin_ids(&t, &token, &board).await.len();
    let pin = |title: &str| {
        serde_json::json!({"board_id": board, "title": title,
            "media_source": {"source_type": "image_url", "url": "https://example.com/a.jpg"}})
    };

    // Applied, then a 503: the pin exists although the answer said otherwise.
    c.inject_fault(&on(
        "POST",
        "/v5/pins",
        FaultKind::AppliedThenStatus { status: 503 },
    ))
    .await
    .unwrap();
    let res = t
        .send_json(reqwest::Method::POST, &token, "/pins", &pin("one"))
        .await;
    assert_error(res, 503, 503).await;
    assert_eq!(board_pin_ids(&t, &token, &board).await.len(), before + 1);

    // Applied, then the connection is dropped.
    c.inject_fault(&on("POST", "/v5/pins", FaultKind::AppliedThenDrop))
        .await
        .unwrap();
    let outcome = t
        .http
        .post(format!("{}/pins", t.sim.api_url()))
        .bearer_auth(&token)
        .json(&pin("two"))
        .send()
        .await;
    match outcome {
        Err(_) => {}
        Ok(res) => assert!(res.bytes().await.is_err(), "the answer was dropped"),
    }
    assert_eq!(board_pin_ids(&t, &token, &board).await.len(), before + 2);

    // A refused write keeps its real answer (and changes nothing).
    c.inject_fault(&on("POST", "/v5/pins", FaultKind::AppliedThenDrop))
        .await
        .unwrap();
    let res = t
        .send_json(
            reqwest::Method::POST,
            &token,
            "/pins",
            &serde_json::json!({"board_id": board}),
        )
        .await;
    assert_eq!(res.status().as_u16(), 400);

    // A lagging list leaves out pins written within the lag, and only them;
    // the pin itself can be read by id.
    let created: Value = t
        .send_json(reqwest::Method::POST, &token, "/pins", &pin("three"))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    c.inject_fault(&FaultSpec {
        count: None,
        ..on(
            "GET",
            "/v5/boards/",
            FaultKind::StaleListing { ms: 3_600_000 },
        )
    })
    .await
    .unwrap();
    let lagging = board_pin_ids(&t, &token, &board).await;
    assert_eq!(lagging.len(), before, "every written pin is within the lag");
    assert!(!lagging.iter().any(|p| p == id));
    assert_eq!(t.get(&token, &format!("/pins/{id}")).await.status(), 200);
    c.clear_faults().await.unwrap();
    assert!(
        board_pin_ids(&t, &token, &board)
            .await
            .iter()
            .any(|p| p == id)
    );
}

#[tokio::test]
async fn faults_that_make_no_sense_for_their_method_are_refused() {
    let t = start().await;
    let c = t.sim.control();
    for spec in [
        fault("/v5/pins", FaultKind::AppliedThenDrop, Some(1)),
        on("GET", "/v5/pins", FaultKind::AppliedThenDrop),
        on(
            "POST",
            "/v5/pins",
            FaultKind::AppliedThenStatus { status: 429 },
        ),
        on("POST", "/v5/boards", FaultKind::StaleListing { ms: 10 }),
        fault("/v5/boards", FaultKind::StaleListing { ms: 10 }, None),
    ] {
        assert!(c.inject_fault(&spec).await.is_err(), "{spec:?} accepted");
    }
    assert!(c.faults().await.unwrap().is_empty());
}

#[tokio::test]
async fn statistics_count_calls_per_endpoint_and_grant_type() {
    let t = start().await;
    let body = t.tokens("boards:read").await;
    let c = t.sim.control();
    c.reset_stats().await.unwrap();
    let res = t
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let token = body["access_token"].as_str().unwrap();
    let boards: Value = t.get(token, "/boards").await.json().await.unwrap();
    let id = boards["items"][0]["id"].as_str().unwrap();
    t.get(token, &format!("/boards/{id}")).await;
    t.get(token, &format!("/boards/{id}")).await;
    let stats = c.stats().await.unwrap();
    assert_eq!(stats.grant_type("refresh_token"), 1);
    assert_eq!(stats.grant_type_succeeded("refresh_token"), 1);
    assert_eq!(stats.grant_type("authorization_code"), 0);
    assert_eq!(stats.endpoint("POST /v5/oauth/token"), 1);
    assert_eq!(stats.endpoint("GET /v5/boards"), 1);
    assert_eq!(stats.endpoint("GET /v5/boards/{board_id}"), 2);
}

#[tokio::test]
async fn rate_limits_are_per_category_with_pinterest_headers() {
    let mut config = test_config();
    config.rate_limits_enabled = true;
    config.rate_limit_scale = 0.005;
    config.universal_rate_limit_per_second = None;
    let t = start_with(config, small_shape()).await;
    let token = t.access_token(ALL_READ).await;
    // org_read: 1000 * 0.005 = 5 per window; the token exchange counted against the app.
    for i in 0..5 {
        let res = t.get(&token, "/boards").await;
        assert_eq!(res.status().as_u16(), 200, "request {i}");
        assert_eq!(res.headers()["x-ratelimit-limit"], "5");
        assert_eq!(
            res.headers()["x-ratelimit-remaining"].to_str().unwrap(),
            (4 - i).to_string()
        );
    }
    let res = t.get(&token, "/boards").await;
    let reset: u64 = res.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&reset));
    assert_error(res, 429, 8).await;
    // ads_read is a separate quota.
    assert_eq!(t.get(&token, "/ad_accounts").await.status().as_u16(), 200);
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let t = start().await;
    let token = t.access_token(ALL_READ).await;
    for res in [
        t.get(&token, "/boards").await,
        t.get("bad", "/boards").await,
        t.get(&token, "/nowhere").await,
        t.http.get(t.sim.oauth_url()).send().await.unwrap(),
        t.token_request(&[]).await,
    ] {
        assert!(res.headers().contains_key("x-pinterest-rid"));
    }
}

#[tokio::test]
async fn control_api_refuses_duplicates_and_unknown_users() {
    let t = start().await;
    let c = t.sim.control();
    let err = c
        .register_app(&pinion_simulator::AppSpec {
            client_id: Some(t.app.client_id.clone()),
            name: "Again".into(),
            redirect_uris: vec!["http://127.0.0.1:1/cb".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        pinion_simulator::ControlError::Refused { status: 409, .. }
    ));
    let err = c.user("nobody").await.unwrap_err();
    assert!(matches!(
        err,
        pinion_simulator::ControlError::Refused { status: 404, .. }
    ));
    let err = c
        .register_app(&pinion_simulator::AppSpec {
            client_id: Some("abc".into()),
            name: "Letters".into(),
            redirect_uris: vec!["http://127.0.0.1:1/cb".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        pinion_simulator::ControlError::Refused { status: 400, .. }
    ));
}

#[tokio::test]
async fn the_default_configuration_has_a_demo_app_and_user() {
    let sim = pinion_simulator::spawn(pinion_simulator::SimConfig::for_tests())
        .await
        .unwrap();
    let apps = sim.control().apps().await.unwrap();
    assert_eq!(apps[0].client_id, "1484363");
    assert_eq!(
        apps[0].redirect_uris,
        ["http://127.0.0.1:8080/oauth/pinterest/callback"]
    );
    assert_eq!(sim.control().users().await.unwrap()[0].username, "demo");
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(sim.api_url(), format!("{}/v5", sim.base_url()));
    sim.shutdown().await;
}
