//! The strictness table: requests Pinterest refuses, each checked for the exact HTTP
//! status and Pinterest error code.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ALL_READ, REDIRECT, TestSim, assert_error, start};

#[tokio::test]
async fn a_wrong_client_secret_is_401_code_2() {
    let t = start().await;
    let res = t
        .http
        .post(t.sim.token_url())
        .basic_auth(&t.app.client_id, Some("wrong"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "boards:read"),
        ])
        .send()
        .await
        .unwrap();
    assert_error(res, 401, 2).await;
}

#[tokio::test]
async fn missing_or_malformed_basic_auth_is_401_code_2() {
    let t = start().await;
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "boards:read"),
    ];
    let res = t
        .http
        .post(t.sim.token_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_error(res, 401, 2).await;
    let raw = format!("Basic {}:{}", t.app.client_id, t.app.client_secret);
    let res = t
        .http
        .post(t.sim.token_url())
        .header("authorization", raw)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_error(res, 401, 2).await;
    let mut body_only = form.to_vec();
    body_only.push(("client_id", &t.app.client_id));
    body_only.push(("client_secret", &t.app.client_secret));
    let res = t
        .http
        .post(t.sim.token_url())
        .form(&body_only)
        .send()
        .await
        .unwrap();
    assert_error(res, 401, 2).await;
}

#[tokio::test]
async fn a_json_token_request_is_400_code_1() {
    let t = start().await;
    let code = t.code("boards:read").await;
    let res = t
        .http
        .post(t.sim.token_url())
        .basic_auth(&t.app.client_id, Some(&t.app.client_secret))
        .json(&json!({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}))
        .send()
        .await
        .unwrap();
    assert_error(res, 400, 1).await;
}

#[tokio::test]
async fn missing_token_parameters_are_400_code_1() {
    let t = start().await;
    for form in [
        vec![("code", "x")],
        vec![("grant_type", "password")],
        vec![
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
        ],
        vec![("grant_type", "authorization_code"), ("code", "abc")],
        vec![("grant_type", "refresh_token")],
        vec![("grant_type", "client_credentials")],
        vec![
            ("grant_type", "client_credentials"),
            ("scope", "read_public"),
        ],
        vec![
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
            ("scope", "boards:read"),
        ],
    ] {
        assert_error(t.token_request(&form).await, 400, 1).await;
    }
}

#[tokio::test]
async fn a_redirect_uri_mismatch_at_the_token_endpoint_is_401_code_283() {
    let t = start().await;
    let code = t.code("boards:read").await;
    let res = t
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/callback/"),
        ])
        .await;
    assert_error(res, 401, 283).await;
}

#[tokio::test]
async fn a_redirect_uri_mismatch_at_authorize_is_an_error_page_and_never_a_redirect() {
    let t = start().await;
    for uri in [
        "http://127.0.0.1:9/callback/",
        "http://127.0.0.1:9/callback?x=1",
        "http://127.0.0.1:9/CALLBACK",
        "https://evil.example/callback",
    ] {
        let res = t
            .http
            .get(t.sim.oauth_url())
            .query(&[
                ("client_id", t.app.client_id.as_str()),
                ("redirect_uri", uri),
                ("response_type", "code"),
                ("scope", "boards:read"),
                ("username", "alice"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 400, "for {uri}");
        assert!(res.headers().get("location").is_none());
        assert!(res.text().await.unwrap().contains("redirect_uri"));
    }
}

#[tokio::test]
async fn unknown_scopes_and_bad_response_types_are_error_pages() {
    let t = start().await;
    let res = t
        .authorize("boards:read,read_public", &[("username", "alice")])
        .await;
    assert_eq!(res.status().as_u16(), 400);
    assert!(res.headers().get("location").is_none());
    let res = t
        .authorize(
            "boards:read",
            &[("username", "alice"), ("response_type", "token")],
        )
        .await;
    assert_eq!(res.status().as_u16(), 400);
}

#[tokio::test]
async fn a_reused_code_is_401_code_283_and_revokes_its_tokens() {
    let t = start().await;
    let code = t.code("boards:read").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let first: Value = t.token_request(&form).await.json().await.unwrap();
    let token = first["access_token"].as_str().unwrap();
    assert_eq!(t.get(token, "/boards").await.status().as_u16(), 200);
    assert_error(t.token_request(&form).await, 401, 283).await;
    assert_error(t.get(token, "/boards").await, 401, 2).await;
    let res = t
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_error(res, 401, 283).await;
}

#[tokio::test]
async fn a_code_from_another_app_is_401_code_283() {
    let t = start().await;
    let code = t.code("boards:read").await;
    let other = t
        .sim
        .control()
        .register_test_app("Other", REDIRECT)
        .await
        .unwrap();
    let res = t
        .http
        .post(t.sim.token_url())
        .basic_auth(&other.client_id, Some(&other.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_error(res, 401, 283).await;
}

#[tokio::test]
async fn an_old_refresh_token_after_rotation_is_401_code_283() {
    let t = start().await;
    let first = t.tokens("boards:read").await;
    let old = first["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", old)];
    assert_eq!(t.token_request(&form).await.status().as_u16(), 200);
    assert_error(t.token_request(&form).await, 401, 283).await;
}

#[tokio::test]
async fn a_narrowed_then_widened_scope_is_400_code_1() {
    let t = start().await;
    let first = t.tokens("boards:read,pins:read").await;
    let narrowed: Value = t
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ("scope", "boards:read"),
        ])
        .await
        .json()
        .await
        .unwrap();
    let res = t
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", narrowed["refresh_token"].as_str().unwrap()),
            ("scope", "boards:read,pins:read"),
        ])
        .await;
    assert_error(res, 400, 1).await;
}

async fn first_board(t: &TestSim, token: &str) -> String {
    let boards: Value = t.get(token, "/boards").await.json().await.unwrap();
    boards["items"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn page_sizes_outside_1_to_250_and_non_numeric_are_400_code_1() {
    let t = start().await;
    let token = t.access_token(ALL_READ).await;
    let board = first_board(&t, &token).await;
    for size in ["251", "0", "-1", "3e", "", "25.0"] {
        for path in ["/boards", "/pins", "/ad_accounts"] {
            let res = t.get(&token, &format!("{path}?page_size={size}")).await;
            assert_error(res, 400, 1).await;
        }
        let res = t
            .get(&token, &format!("/boards/{board}/pins?page_size={size}"))
            .await;
        assert_error(res, 400, 1).await;
    }
    assert_eq!(
        t.get(&token, "/boards?page_size=250")
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        t.get(&token, "/boards?page_size=1").await.status().as_u16(),
        200
    );
}

#[tokio::test]
async fn a_forged_or_foreign_bookmark_is_400_code_1() {
    let t = start().await;
    let token = t.access_token(ALL_READ).await;
    let page: Value = t
        .get(&token, "/boards?page_size=1")
        .await
        .json()
        .await
        .unwrap();
    let real = page["bookmark"].as_str().unwrap().to_owned();
    let mut bytes: Vec<char> = real.chars().collect();
    bytes[10] = if bytes[10] == 'A' { 'B' } else { 'A' };
    let forged: String = bytes.into_iter().collect();
    for bookmark in [forged.as_str(), "bm-1", "", "AAAA"] {
        let res = t
            .http
            .get(format!("{}/boards", t.sim.api_url()))
            .query(&[("bookmark", bookmark)])
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_error(res, 400, 1).await;
    }
    // A genuine bookmark of another list is refused as well.
    let res = t
        .http
        .get(format!("{}/pins", t.sim.api_url()))
        .query(&[("bookmark", real.as_str())])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(res, 400, 1).await;
}

#[tokio::test]
async fn a_token_in_the_query_string_is_401_code_2() {
    let t = start().await;
    let token = t.access_token(ALL_READ).await;
    let url = format!("{}/boards?access_token={token}", t.sim.api_url());
    assert_error(t.http.get(&url).send().await.unwrap(), 401, 2).await;
    // Even alongside a valid header.
    let res = t.http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_error(res, 401, 2).await;
}

#[tokio::test]
async fn missing_invalid_and_expired_tokens_are_401_code_2() {
    let t = start().await;
    let url = format!("{}/boards", t.sim.api_url());
    assert_error(t.http.get(&url).send().await.unwrap(), 401, 2).await;
    let res = t
        .http
        .get(&url)
        .bearer_auth("pina_nope")
        .send()
        .await
        .unwrap();
    assert_error(res, 401, 2).await;
    let token = t.access_token("boards:read").await;
    let res = t
        .http
        .get(&url)
        .basic_auth("x", Some(&token))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, 2).await;
    t.sim
        .control()
        .expire_access_tokens("alice", None)
        .await
        .unwrap();
    assert_error(t.get(&token, "/boards").await, 401, 2).await;
}

#[tokio::test]
async fn a_missing_scope_is_401_code_3() {
    let first = start().await;
    let t = &first;
    // The returned scope covers every scope the user approved for the app before, so
    // each narrow token comes from a simulator of its own.
    let token = t.access_token("pins:read").await;
    let t = start().await;
    let board_token = t.access_token("boards:read").await;
    assert_error(first.get(&token, "/boards").await, 401, 3).await;
    assert_error(first.get(&token, "/pins").await, 401, 3).await;
    assert_error(first.get(&token, "/user_account").await, 401, 3).await;
    assert_error(first.get(&token, "/ad_accounts").await, 401, 3).await;
    let board_token_scopes = t.get(&board_token, "/boards").await.status();
    assert_eq!(board_token_scopes.as_u16(), 200);
    let board = first_board(&t, &board_token).await;
    assert_error(
        t.get(&board_token, &format!("/boards/{board}/pins")).await,
        401,
        3,
    )
    .await;
    let res = t
        .send_json(
            Method::POST,
            &board_token,
            "/boards",
            &json!({"name": "New"}),
        )
        .await;
    assert_error(res, 401, 3).await;
}

#[tokio::test]
async fn unknown_boards_pins_and_sections_are_404_with_their_codes() {
    let t = start().await;
    let token = t.access_token(ALL_READ).await;
    assert_error(t.get(&token, "/boards/1").await, 404, 40).await;
    assert_error(t.get(&token, "/boards/1/pins").await, 404, 40).await;
    assert_error(t.get(&token, "/pins/1").await, 404, 50).await;
    let board = first_board(&t, &token).await;
    let res = t
        .get(&token, &format!("/boards/{board}/sections/1/pins"))
        .await;
    assert_error(res, 404, 2031).await;
    assert_error(t.get(&token, "/boards/abc").await, 400, 1).await;
}

#[tokio::test]
async fn secret_boards_need_the_secret_scope() {
    let t = start().await;
    let public = t.access_token("boards:read,pins:read").await;
    let full = t.access_token(ALL_READ).await;
    let all: Value = t
        .get(&full, "/boards?page_size=250")
        .await
        .json()
        .await
        .unwrap();
    let visible: Value = t
        .get(&public, "/boards?page_size=250")
        .await
        .json()
        .await
        .unwrap();
    let secret: Vec<&Value> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["privacy"] == "SECRET")
        .collect();
    assert!(!secret.is_empty(), "the test data has a secret board");
    assert!(
        visible["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["privacy"] != "SECRET")
    );
    let id = secret[0]["id"].as_str().unwrap();
    assert_error(t.get(&public, &format!("/boards/{id}")).await, 404, 40).await;
    assert_error(t.get(&public, "/boards?privacy=SECRET").await, 401, 3).await;
    let pins: Value = t
        .get(&full, &format!("/boards/{id}/pins"))
        .await
        .json()
        .await
        .unwrap();
    let pin = pins["items"][0]["id"].as_str().unwrap();
    assert_error(t.get(&public, &format!("/pins/{pin}")).await, 404, 50).await;
}

#[tokio::test]
async fn pin_creation_enforces_board_media_and_length_limits() {
    let t = start().await;
    let token = t.access_token(crate::helpers::ALL).await;
    let board = first_board(&t, &token).await;
    let media = json!({"source_type": "image_url", "url": "https://example.com/a.jpg"});
    let cases = [
        (json!({"media_source": media}), 400, 1),
        (json!({"board_id": board}), 400, 1),
        (json!({"board_id": "1", "media_source": media}), 404, 40),
        (
            json!({"board_id": board, "board_section_id": "1", "media_source": media}),
            404,
            2031,
        ),
        (
            json!({"board_id": board, "media_source": {"source_type": "image_url"}}),
            400,
            1,
        ),
        (
            json!({"board_id": board, "media_source": {"source_type": "gif"}}),
            400,
            1,
        ),
        (
            json!({"board_id": board, "media_source": media, "title": "x".repeat(101)}),
            400,
            1,
        ),
        (
            json!({"board_id": board, "media_source": media, "description": "x".repeat(801)}),
            400,
            1,
        ),
        (
            json!({"board_id": board, "media_source": media, "alt_text": "x".repeat(501)}),
            400,
            1,
        ),
        (
            json!({"board_id": board, "media_source": media, "link": format!("https://e.com/{}", "x".repeat(2040))}),
            400,
            1,
        ),
    ];
    for (body, status, code) in cases {
        let res = t.send_json(Method::POST, &token, "/pins", &body).await;
        assert_error(res, status, code).await;
    }
    let ok = json!({
        "board_id": board,
        "media_source": media,
        "title": "x".repeat(100),
        "description": "y".repeat(800),
        "alt_text": "z".repeat(500),
        "link": format!("https://e.com/{}", "x".repeat(2030)),
    });
    let res = t.send_json(Method::POST, &token, "/pins", &ok).await;
    assert_eq!(res.status().as_u16(), 201);
}
