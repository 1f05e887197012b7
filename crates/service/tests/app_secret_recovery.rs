//! A credential refused for its app settings comes back (review finding 2),
//! against the simulator over loopback: after the app secret is reset the
//! credential is in `error`; updating its client secret to the new one makes
//! it `active` again and refreshing works with the tokens it kept, with no
//! new authorization.

mod support;

use pinion_domain::{ClientSecret, CredentialPatchInput, CredentialStatus};
use pinion_service::{Credentials, RefreshError};
use pinion_simulator::SimConfig;

#[tokio::test]
async fn a_new_client_secret_returns_a_credential_in_error_to_active_without_reauthorization() {
    let db = support::TestDb::sqlite();
    let store = db.store(4).await;
    let (sim, app) = support::simulator(SimConfig::for_tests()).await;
    let (alice, ids) = support::authorized_credentials(&store, &sim, &app, 1, 1).await;
    let id = ids[0].clone();
    let manager = support::manager(store.clone(), &sim);

    let new_secret = sim
        .control()
        .reset_app_secret(&app.client_id)
        .await
        .unwrap();
    let err = manager.refresh(&id).await.unwrap_err();
    assert!(matches!(err, RefreshError::AppCredentials { .. }), "{err}");
    let record = store.get_credential(&id).await.unwrap();
    assert_eq!(record.status, CredentialStatus::Error);
    assert!(record.has_refresh_token);

    let updated = Credentials::new(store.clone())
        .update(
            &alice,
            &id,
            &CredentialPatchInput {
                client_secret: Some(ClientSecret::new(new_secret)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.status, CredentialStatus::Active);
    assert!(updated.last_error.is_none(), "{:?}", updated.last_error);
    let stored = store.get_credential(&id).await.unwrap();
    assert_eq!(stored.refresh.failures, 0);
    assert!(stored.refresh.next_refresh_at.is_none());

    sim.control().reset_stats().await.unwrap();
    manager.refresh(&id).await.unwrap();
    assert!(manager.access_token(&id).await.is_ok());
    let stats = sim.control().stats().await.unwrap();
    assert_eq!(stats.grant_type("authorization_code"), 0, "{stats:?}");
    assert_eq!(stats.grant_type_succeeded("refresh_token"), 1, "{stats:?}");
}

#[tokio::test]
async fn a_new_client_secret_leaves_a_credential_without_tokens_as_it_was() {
    let db = support::TestDb::sqlite();
    let store = db.store(4).await;
    let (sim, app) = support::simulator(SimConfig::for_tests()).await;
    let (alice, ids) = support::authorized_credentials(&store, &sim, &app, 1, 1).await;
    let credentials = Credentials::new(store.clone());
    // A new app id drops the tokens; a later secret change must not pretend
    // the credential is usable.
    let other_app = sim
        .control()
        .register_test_app("Other app", support::REDIRECT)
        .await
        .unwrap();
    let moved = credentials
        .update(
            &alice,
            &ids[0],
            &CredentialPatchInput {
                client_id: Some(other_app.client_id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.status, CredentialStatus::NeedsAuthorization);
    let updated = credentials
        .update(
            &alice,
            &ids[0],
            &CredentialPatchInput {
                client_secret: Some(ClientSecret::new(other_app.client_secret.clone())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.status, CredentialStatus::NeedsAuthorization);
}
