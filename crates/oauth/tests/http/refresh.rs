//! Refresh: what is sent, and how rotation and omissions come back.

use chrono::TimeDelta;
use pinion_domain::{RefreshToken, ScopeSet};

use crate::fake_endpoint::*;

const REFRESH_ANSWER: &str = r#"{"access_token":"pina_access_2","response_type":"refresh_token",
 "token_type":"bearer","expires_in":2592000,"scope":"boards:read","refresh_token":"pinr_refresh_2",
 "refresh_token_expires_in":5184000,"refresh_token_expires_at":1777766400}"#;

#[tokio::test]
async fn refresh_sends_the_refresh_grant_without_scope_by_default() {
    let endpoint = FakeEndpoint::spawn(|_| async { json(200, REFRESH_ANSWER) }).await;
    let tokens = endpoint
        .client()
        .refresh(
            &client_id(),
            &awkward_secret(),
            &RefreshToken::new("pinr_refresh_1"),
            None,
        )
        .await
        .unwrap();
    let request = &endpoint.requests()[0];
    assert_eq!(request.path, "/v5/oauth/token");
    assert!(
        request
            .header("authorization")
            .unwrap()
            .starts_with("Basic ")
    );
    assert_eq!(
        request.form(),
        vec![
            ("grant_type".to_string(), "refresh_token".to_string()),
            ("refresh_token".to_string(), "pinr_refresh_1".to_string()),
        ]
    );
    // The rotated refresh token comes back, with the earlier of its two expiries.
    assert_eq!(tokens.access_token.expose_secret(), "pina_access_2");
    assert_eq!(
        tokens.refresh_token.unwrap().expose_secret(),
        "pinr_refresh_2"
    );
    let relative = now() + TimeDelta::seconds(5_184_000);
    let absolute = chrono::DateTime::from_timestamp(1_777_766_400, 0).unwrap();
    assert_eq!(
        tokens.refresh_token_expires_at,
        Some(relative.min(absolute))
    );
}

#[tokio::test]
async fn refresh_sends_narrowed_scopes_comma_separated() {
    let endpoint = FakeEndpoint::spawn(|_| async { json(200, REFRESH_ANSWER) }).await;
    let scopes = ScopeSet::parse("pins:read boards:read").unwrap();
    endpoint
        .client()
        .refresh(
            &client_id(),
            &awkward_secret(),
            &RefreshToken::new("r"),
            Some(&scopes),
        )
        .await
        .unwrap();
    let form = endpoint.requests()[0].form();
    assert_eq!(
        form.last().unwrap(),
        &("scope".to_string(), "boards:read,pins:read".to_string())
    );
}

#[tokio::test]
async fn refresh_answer_without_a_refresh_token_leaves_it_absent() {
    let endpoint = FakeEndpoint::spawn(|_| async {
        json(
            200,
            r#"{"access_token":"pina_3","token_type":"bearer","expires_in":3600,"scope":"boards:read"}"#,
        )
    })
    .await;
    let tokens = endpoint
        .client()
        .refresh(
            &client_id(),
            &awkward_secret(),
            &RefreshToken::new("r"),
            None,
        )
        .await
        .unwrap();
    assert!(tokens.refresh_token.is_none());
    assert!(tokens.refresh_token_expires_at.is_none());
    assert_eq!(tokens.access_token_expires_at, now() + TimeDelta::hours(1));
}
