//! The token endpoint's happy paths: response shapes, prefixes, rotation, narrowing,
//! client credentials, and the parameters Pinterest accepts and ignores.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{REDIRECT, start};

#[tokio::test]
async fn code_exchange_returns_pinterest_shaped_tokens() {
    let t = start().await;
    let body = t.tokens("boards:read,pins:read").await;
    assert_eq!(body["response_type"], "authorization_code");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["refresh_token_expires_in"], 600);
    assert!(body["refresh_token_expires_at"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(body["scope"], "boards:read pins:read");
    assert!(body["access_token"].as_str().unwrap().starts_with("pina"));
    assert!(body["refresh_token"].as_str().unwrap().starts_with("pinr"));
}

#[tokio::test]
async fn space_separated_scopes_are_accepted_on_the_authorize_page() {
    let t = start().await;
    let body = t.tokens("boards:read pins:read").await;
    assert_eq!(body["scope"], "boards:read pins:read");
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token_and_may_narrow_the_scope() {
    let t = start().await;
    let first = t.tokens("boards:read,pins:read").await;
    let res = t
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ("scope", "boards:read"),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let second: Value = res.json().await.unwrap();
    assert_eq!(second["response_type"], "refresh_token");
    assert_eq!(second["scope"], "boards:read");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert!(second["refresh_token_expires_at"].is_i64());
    let token = second["access_token"].as_str().unwrap();
    assert_eq!(t.get(token, "/boards").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn continuous_refresh_and_pkce_parameters_are_accepted_and_ignored() {
    let t = start().await;
    let res = t
        .authorize(
            "boards:read",
            &[
                ("username", "alice"),
                ("refreshable", "True"),
                ("code_challenge", "abc"),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let res = t
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("continuous_refresh", "true"),
            ("code_verifier", "whatever"),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let res = t
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ("refresh_on", "true"),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn consumer_id_is_an_alias_of_client_id() {
    let t = start().await;
    let res = t
        .http
        .get(t.sim.oauth_url())
        .query(&[
            ("consumer_id", t.app.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "boards:read"),
            ("username", "alice"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(REDIRECT));
    assert!(location.contains("code="));
    assert!(!location.contains("state="));
}

#[tokio::test]
async fn client_credentials_tokens_act_as_the_app_owner() {
    let t = start().await;
    let res = t
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("scope", "user_accounts:read"),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["response_type"], "client_credentials");
    assert!(body.get("refresh_token").is_none());
    let token = body["access_token"].as_str().unwrap();
    assert!(token.starts_with("pinc"));
    let me: Value = t.get(token, "/user_account").await.json().await.unwrap();
    assert_eq!(me["username"], "alice");
}

#[tokio::test]
async fn a_client_secret_with_reserved_characters_works_when_form_encoded() {
    let t = start().await;
    let app = t
        .sim
        .control()
        .register_app(&pinion_simulator::AppSpec {
            client_secret: Some("se:cr%et+1".into()),
            name: "Odd".into(),
            redirect_uris: vec![REDIRECT.into()],
            owner: Some("alice".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let encoded = format!("{}:{}", app.client_id, "se%3Acr%25et%2B1");
    let header = format!("Basic {}", STANDARD.encode(encoded.as_bytes()));
    let res = t
        .http
        .post(t.sim.token_url())
        .header("authorization", header)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "boards:read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_reset_secret_stops_minting_but_keeps_existing_tokens() {
    let t = start().await;
    let token = t.access_token("boards:read").await;
    t.sim
        .control()
        .reset_app_secret(&t.app.client_id)
        .await
        .unwrap();
    let res = t
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("scope", "boards:read"),
        ])
        .await;
    crate::helpers::assert_error(res, 401, 2).await;
    assert_eq!(t.get(&token, "/boards").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_expired_refresh_token_is_an_invalid_grant() {
    let mut config = crate::helpers::test_config();
    config.refresh_token_ttl = std::time::Duration::from_secs(1);
    let t = crate::helpers::start_with(config, crate::helpers::small_shape()).await;
    let body = t.tokens("boards:read").await;
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let res = t
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ])
        .await;
    crate::helpers::assert_error(res, 401, 283).await;
}

#[tokio::test]
async fn an_authorization_code_past_its_configured_life_is_an_invalid_grant() {
    let mut config = crate::helpers::test_config();
    config.code_ttl = std::time::Duration::from_secs(1);
    let t = crate::helpers::start_with(config, crate::helpers::small_shape()).await;
    let exchange = |code: String| {
        let t = &t;
        async move {
            t.token_request(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ])
            .await
        }
    };
    let fresh = t.code("boards:read").await;
    let stale = t.code("boards:read").await;
    assert_eq!(exchange(fresh).await.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    crate::helpers::assert_error(exchange(stale).await, 401, 283).await;
}

#[tokio::test]
async fn an_access_token_past_its_configured_life_is_401_code_2_until_refreshed() {
    let mut config = crate::helpers::test_config();
    config.access_token_ttl = std::time::Duration::from_secs(1);
    let t = crate::helpers::start_with(config, crate::helpers::small_shape()).await;
    let body = t.tokens("boards:read").await;
    assert_eq!(body["expires_in"], 1);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(t.get(token, "/boards").await.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    crate::helpers::assert_error(t.get(token, "/boards").await, 401, 2).await;
    let res = t
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let refreshed: Value = res.json().await.unwrap();
    let token = refreshed["access_token"].as_str().unwrap();
    assert_eq!(t.get(token, "/boards").await.status(), StatusCode::OK);
}
