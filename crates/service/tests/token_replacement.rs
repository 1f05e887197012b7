//! A new authorization replaces the previous grant whole (review finding 3):
//! `replace_tokens`, which the authorization callback uses, clears a refresh
//! token, its expiry and granted scopes that the new response omits, while
//! `set_tokens`, used by refreshes, keeps them. Runs on SQLite, and on
//! PostgreSQL too when `PINION_TEST_POSTGRES_URL` is set.

mod support;

use pinion_domain::{AccessToken, RefreshToken, ScopeSet};
use pinion_simulator::SimConfig;
use pinion_store::TokenSet;

fn only_access(token: &str) -> TokenSet {
    TokenSet {
        access_token: AccessToken::new(token),
        access_token_expires_at: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
        refresh_token: None,
        refresh_token_expires_at: None,
        granted_scopes: None,
    }
}

async fn check(db: &support::TestDb) {
    let store = db.store(4).await;
    let (sim, app) = support::simulator(SimConfig::for_tests()).await;
    let (_, ids) = support::authorized_credentials(&store, &sim, &app, 1, 1).await;
    let id = &ids[0];
    let before = store.credential_secrets(id).await.unwrap();
    assert!(before.refresh_token.is_some());
    assert!(before.record.granted_scopes.is_some());

    // A refresh whose answer omits the refresh token keeps the stored one.
    let refreshed = store
        .set_tokens(id, &only_access("pina_refreshed"), before.record.version)
        .await
        .unwrap();
    let kept = store.credential_secrets(id).await.unwrap();
    assert_eq!(
        kept.refresh_token.as_ref().map(RefreshToken::expose_secret),
        before
            .refresh_token
            .as_ref()
            .map(RefreshToken::expose_secret)
    );
    assert_eq!(
        kept.record.refresh_token_expires_at,
        before.record.refresh_token_expires_at
    );
    assert_eq!(kept.record.granted_scopes, before.record.granted_scopes);

    // A new authorization whose answer omits them leaves none of the old grant.
    let replaced = store
        .replace_tokens(id, &only_access("pina_new_grant"), refreshed.version)
        .await
        .unwrap();
    assert!(replaced.has_access_token);
    assert!(!replaced.has_refresh_token);
    assert!(replaced.refresh_token_expires_at.is_none());
    assert!(replaced.granted_scopes.is_none());
    let after = store.credential_secrets(id).await.unwrap();
    assert!(after.refresh_token.is_none());
    assert_eq!(
        after.access_token.as_ref().map(AccessToken::expose_secret),
        Some("pina_new_grant")
    );

    // Given a full answer it stores it, and it is a compare-and-set too.
    let full = TokenSet {
        refresh_token: Some(RefreshToken::new("pinr_new_grant")),
        refresh_token_expires_at: Some(chrono::Utc::now() + chrono::Duration::days(60)),
        granted_scopes: Some(ScopeSet::parse("boards:read").unwrap()),
        ..only_access("pina_newer")
    };
    assert!(
        store
            .replace_tokens(id, &full, refreshed.version)
            .await
            .is_err()
    );
    let stored = store
        .replace_tokens(id, &full, replaced.version)
        .await
        .unwrap();
    assert!(stored.has_refresh_token);
    assert_eq!(
        stored.granted_scopes.clone().unwrap().to_space_separated(),
        "boards:read"
    );
}

#[tokio::test]
async fn a_new_authorization_clears_what_its_response_omits_but_a_refresh_keeps_it_on_sqlite() {
    check(&support::TestDb::sqlite()).await;
}

#[tokio::test]
async fn a_new_authorization_clears_what_its_response_omits_but_a_refresh_keeps_it_on_postgres() {
    if let Some(db) = support::TestDb::postgres("a_new_authorization_clears_what_it_omits") {
        check(&db).await;
    }
}
