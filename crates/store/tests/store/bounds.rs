//! Issue 12's bounds in the store: open authorization flows per credential
//! are capped (the oldest expire) under any number of concurrent starts, and
//! a credential's latest check result is kept, replaced and deleted with it.

use std::time::Duration;

use pinion_store::{FlowOutcome, MAX_OPEN_FLOWS_PER_CREDENTIAL, NewFlow, StoredCheck};

use crate::helpers::{TestDb, keyring, new_credential, user};

fn flow(
    credential: &pinion_domain::CredentialId,
    owner: &pinion_domain::UserId,
    n: usize,
) -> NewFlow {
    NewFlow {
        credential_id: credential.clone(),
        user_id: owner.clone(),
        started_by_operator: true,
        state_hash: format!("{n:064x}"),
        redirect_uri: "http://127.0.0.1:8080/oauth/pinterest/callback".into(),
        pkce_verifier: pinion_domain::PkceVerifier::new("a-verifier"),
        browser_binding_hash: None,
        ttl: Duration::from_secs(600),
    }
}

pub async fn concurrent_flows_past_the_cap_expire_the_oldest(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let credential = store
        .create_credential(&owner, &new_credential("Flows", "secret-one"))
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..40 {
        let (store, new) = (store.clone(), flow(&credential.id, &owner, n));
        tasks.spawn(async move { store.create_flow(&new).await.unwrap().id });
    }
    let mut ids = Vec::new();
    while let Some(id) = tasks.join_next().await {
        ids.push(id.unwrap());
    }
    let now = chrono::Utc::now();
    let mut open = 0;
    for id in &ids {
        let record = store.get_flow(id).await.unwrap();
        if record.expires_at > now && record.consumed_at.is_none() {
            assert_eq!(record.outcome, None);
            open += 1;
        } else {
            assert_eq!(record.outcome, Some(FlowOutcome::Failed));
            assert!(record.message.unwrap().contains("newer authorization"));
        }
    }
    assert_eq!(open, MAX_OPEN_FLOWS_PER_CREDENTIAL);
    // Only open flows can be consumed: the expired ones' states are refused.
    let mut consumed = 0;
    for n in 0..40 {
        if store
            .consume_flow(&format!("{n:064x}"))
            .await
            .unwrap()
            .is_some()
        {
            consumed += 1;
        }
    }
    assert_eq!(consumed, MAX_OPEN_FLOWS_PER_CREDENTIAL);
    // Consumed flows no longer count: a new one expires nothing.
    let newest = store
        .create_flow(&flow(&credential.id, &owner, 99))
        .await
        .unwrap();
    assert!(
        store
            .consume_flow(&format!("{:064x}", 99))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.get_flow(&newest.id).await.unwrap().outcome, None);
}

pub async fn the_latest_check_is_kept_replaced_and_deleted_with_its_credential(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let credential = store
        .create_credential(&owner, &new_credential("Checked", "secret-one"))
        .await
        .unwrap();
    assert_eq!(store.latest_check(&credential.id).await.unwrap(), None);
    let at = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6);
    let first = StoredCheck {
        credential_id: credential.id.clone(),
        credential_version: credential.version,
        checked_at: at,
        ok: true,
        account_username: Some("pinner".into()),
        account_type: Some("BUSINESS".into()),
        error: None,
    };
    store.save_check(&first).await.unwrap();
    assert_eq!(
        store.latest_check(&credential.id).await.unwrap(),
        Some(first.clone())
    );
    let second = StoredCheck {
        ok: false,
        account_username: None,
        account_type: None,
        error: Some("Pinterest refused the token".into()),
        checked_at: at + chrono::Duration::seconds(1),
        ..first
    };
    store.save_check(&second).await.unwrap();
    assert_eq!(
        store.latest_check(&credential.id).await.unwrap(),
        Some(second)
    );
    // Saving a check changes nothing of the credential.
    assert_eq!(
        store.get_credential(&credential.id).await.unwrap().version,
        credential.version
    );
    store.delete_credential(&credential.id).await.unwrap();
    assert_eq!(store.latest_check(&credential.id).await.unwrap(), None);
}
