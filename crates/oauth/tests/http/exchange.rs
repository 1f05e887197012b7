//! The code exchange: what is sent, and how the answer is read.

use base64::Engine;
use chrono::TimeDelta;
use pinion_domain::{AuthorizationCode, PkceVerifier};

use crate::fake_endpoint::*;

#[tokio::test]
async fn exchange_sends_basic_auth_and_the_exact_form_pinterest_expects() {
    let endpoint = FakeEndpoint::spawn(|_| async { json(200, CODE_ANSWER) }).await;
    let oauth = endpoint.client();
    let verifier = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    let tokens = oauth
        .exchange_code(
            &client_id(),
            &awkward_secret(),
            &AuthorizationCode::new("code-123"),
            &redirect_uri(),
            &verifier,
        )
        .await
        .unwrap();

    let requests = endpoint.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v5/oauth/token");
    assert_eq!(
        request.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let basic = request.header("authorization").unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        "1234567:s3%3Acr%25et%2B%2F+x"
    );
    assert_eq!(
        request.form(),
        vec![
            ("grant_type".to_string(), "authorization_code".to_string()),
            ("code".to_string(), "code-123".to_string()),
            (
                "redirect_uri".to_string(),
                "http://127.0.0.1:8080/oauth/pinterest/callback".to_string()
            ),
            (
                "code_verifier".to_string(),
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_string()
            ),
        ]
    );

    assert_eq!(tokens.access_token.expose_secret(), "pina_access_1");
    assert_eq!(
        tokens.refresh_token.as_ref().unwrap().expose_secret(),
        "pinr_refresh_1"
    );
    assert_eq!(tokens.received_at, now());
    assert_eq!(tokens.access_token_expires_at, now() + TimeDelta::days(30));
    assert_eq!(
        tokens.refresh_token_expires_at,
        Some(now() + TimeDelta::days(60))
    );
    assert_eq!(
        tokens.scopes.unwrap().to_comma_separated(),
        "boards:read,boards:write,pins:read"
    );
}

#[tokio::test]
async fn exchange_adds_continuous_refresh_only_when_configured() {
    let endpoint = FakeEndpoint::spawn(|_| async { json(200, CODE_ANSWER) }).await;
    let oauth = endpoint.client_with(|config| config.continuous_refresh = true);
    oauth
        .exchange_code(
            &client_id(),
            &awkward_secret(),
            &AuthorizationCode::new("c"),
            &redirect_uri(),
            &PkceVerifier::new("v"),
        )
        .await
        .unwrap();
    let form = endpoint.requests()[0].form();
    assert_eq!(form.len(), 5);
    assert_eq!(
        form[4],
        ("continuous_refresh".to_string(), "true".to_string())
    );
}

#[tokio::test]
async fn exchange_accepts_expires_in_sent_as_a_string() {
    let endpoint = FakeEndpoint::spawn(|_| async {
        json(
            200,
            r#"{"access_token":"pina_a","token_type":"bearer","expires_in":"2592000","scope":"pins:read"}"#,
        )
    })
    .await;
    let tokens = endpoint
        .client()
        .exchange_code(
            &client_id(),
            &awkward_secret(),
            &AuthorizationCode::new("c"),
            &redirect_uri(),
            &PkceVerifier::new("v"),
        )
        .await
        .unwrap();
    assert_eq!(tokens.access_token_expires_at, now() + TimeDelta::days(30));
    assert!(tokens.refresh_token.is_none());
}

#[tokio::test]
async fn exchange_with_a_refused_code_is_invalid_grant() {
    let endpoint = FakeEndpoint::spawn(|_| async {
        json(
            401,
            r#"{"code":283,"message":"The authorization grant is invalid"}"#,
        )
    })
    .await;
    let err = endpoint
        .client()
        .exchange_code(
            &client_id(),
            &awkward_secret(),
            &AuthorizationCode::new("used-code"),
            &redirect_uri(),
            &PkceVerifier::new("v"),
        )
        .await
        .unwrap_err();
    assert!(err.needs_reauthorization(), "{err:?}");
    assert_eq!(endpoint.requests().len(), 1);
}
