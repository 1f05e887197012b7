//! Shares and the activity log: a share is active, withdrawn or never made;
//! withdrawing and deleting log in the same transaction; the log is
//! append-only, newest first, paginated, and outlives its credential.

use pinion_domain::{Role, UserId, Username};
use pinion_store::{ActivityEvent, NewActivity, ShareState, Store, StoreError};

use crate::helpers::{Raw, TestDb, keyring, new_credential};

fn activity(
    credential: &pinion_store::CredentialRecord,
    actor: Option<&UserId>,
    event: ActivityEvent,
    subject: Option<&str>,
) -> NewActivity {
    NewActivity {
        credential_id: credential.id.clone(),
        credential_name: credential.name.as_str().to_owned(),
        actor_id: actor.cloned(),
        actor: if actor.is_some() { "alice" } else { "system" }.to_owned(),
        event,
        subject: subject.map(str::to_owned),
        detail: None,
    }
}

async fn account(store: &dyn Store, name: &str) -> pinion_store::User {
    store
        .create_user(&Username::parse(name).unwrap(), Role::User)
        .await
        .unwrap()
}

pub async fn shares_are_active_withdrawn_or_never_made_and_log_in_one_transaction(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = account(&*store, "alice").await;
    let bob = account(&*store, "bob").await;
    let carol = account(&*store, "carol").await;
    let credential = store
        .create_credential(&alice.id, &new_credential("Boards", "app-secret"))
        .await
        .unwrap();
    let id = &credential.id;

    assert_eq!(
        store.share_state(id, &bob.id).await.unwrap(),
        ShareState::None
    );
    let shared = activity(
        &credential,
        Some(&alice.id),
        ActivityEvent::Shared,
        Some("bob"),
    );
    let share = store
        .share_credential(id, &bob.id, &alice.id, &shared)
        .await
        .unwrap();
    assert_eq!(share.username.as_str(), "bob");
    assert_eq!(share.shared_by, alice.id);
    assert_eq!(
        store.share_state(id, &bob.id).await.unwrap(),
        ShareState::Active
    );
    // Sharing twice is a conflict on the username, and logs nothing more.
    let err = store
        .share_credential(id, &bob.id, &alice.id, &shared)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                field: "username",
                ..
            }
        ),
        "{err:?}"
    );
    let shared_carol = activity(
        &credential,
        Some(&alice.id),
        ActivityEvent::Shared,
        Some("carol"),
    );
    store
        .share_credential(id, &carol.id, &alice.id, &shared_carol)
        .await
        .unwrap();
    let names: Vec<_> = store
        .list_shares(id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.username.as_str().to_owned())
        .collect();
    assert_eq!(names, ["bob", "carol"]);
    assert_eq!(
        store.credentials_shared_with(&bob.id).await.unwrap(),
        vec![id.clone()]
    );

    let withdrawn = activity(
        &credential,
        Some(&alice.id),
        ActivityEvent::ShareWithdrawn,
        Some("bob"),
    );
    assert!(store.withdraw_share(id, &bob.id, &withdrawn).await.unwrap());
    assert!(!store.withdraw_share(id, &bob.id, &withdrawn).await.unwrap());
    assert_eq!(
        store.share_state(id, &bob.id).await.unwrap(),
        ShareState::Withdrawn
    );
    assert!(
        store
            .credentials_shared_with(&bob.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.list_shares(id).await.unwrap().len(), 1);

    // Sharing again renews the withdrawn share.
    store
        .share_credential(id, &bob.id, &alice.id, &shared)
        .await
        .unwrap();
    assert_eq!(
        store.share_state(id, &bob.id).await.unwrap(),
        ShareState::Active
    );

    let events: Vec<_> = store
        .list_activity(id, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.event, a.subject.unwrap_or_default()))
        .collect();
    let expected = [
        ("shared", "bob"),
        ("share_withdrawn", "bob"),
        ("shared", "carol"),
        ("shared", "bob"),
    ];
    // Newest first; the refused second share and the no-op withdrawal
    // logged nothing.
    assert_eq!(events.len(), expected.len(), "{events:?}");
    for ((event, subject), (want_event, want_subject)) in events.iter().zip(expected) {
        assert_eq!(event, want_event);
        assert_eq!(subject, want_subject);
    }

    // Sharing an unknown credential is not found.
    let ghost = pinion_domain::CredentialId::generate();
    let mut ghost_activity = shared.clone();
    ghost_activity.credential_id = ghost.clone();
    assert!(matches!(
        store
            .share_credential(&ghost, &bob.id, &alice.id, &ghost_activity)
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn the_activity_log_is_paginated_append_only_and_outlives_its_credential(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = account(&*store, "alice").await;
    let bob = account(&*store, "bob").await;
    let credential = store
        .create_credential(&alice.id, &new_credential("Boards", "app-secret"))
        .await
        .unwrap();
    let id = credential.id.clone();
    for event in [
        ActivityEvent::Created,
        ActivityEvent::Authorized,
        ActivityEvent::Refreshed,
    ] {
        store
            .append_activity(&activity(&credential, Some(&alice.id), event, None))
            .await
            .unwrap();
    }
    store
        .append_activity(&activity(
            &credential,
            None,
            ActivityEvent::RefreshFailed,
            Some("transient"),
        ))
        .await
        .unwrap();
    store
        .share_credential(
            &id,
            &bob.id,
            &alice.id,
            &activity(
                &credential,
                Some(&alice.id),
                ActivityEvent::Shared,
                Some("bob"),
            ),
        )
        .await
        .unwrap();

    let first = store.list_activity(&id, None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|a| a.event.as_str()).collect::<Vec<_>>(),
        ["shared", "refresh_failed"]
    );
    assert_eq!(first[1].actor, "system");
    assert_eq!(first[1].actor_id, None);
    let rest = store
        .list_activity(&id, Some(first[1].id), 10)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|a| a.event.as_str()).collect::<Vec<_>>(),
        ["refreshed", "authorized", "created"]
    );
    assert_eq!(
        rest[2].actor_id.as_ref().map(|id| id.as_str()),
        Some(alice.id.as_str())
    );

    store
        .delete_credential_logged(
            &id,
            &activity(&credential, Some(&alice.id), ActivityEvent::Deleted, None),
        )
        .await
        .unwrap();
    assert!(matches!(
        store.get_credential(&id).await,
        Err(StoreError::NotFound { .. })
    ));
    // The shares went with the credential; the log stayed, deletion on top.
    assert_eq!(
        store.share_state(&id, &bob.id).await.unwrap(),
        ShareState::None
    );
    let log = store.list_activity(&id, None, 100).await.unwrap();
    assert_eq!(log.len(), 6);
    assert_eq!(log[0].event, "deleted");
    assert_eq!(log[0].credential_name, "Boards");
    // Deleting again is not found and logs nothing.
    assert!(matches!(
        store
            .delete_credential_logged(
                &id,
                &activity(&credential, Some(&alice.id), ActivityEvent::Deleted, None),
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.list_activity(&id, None, 100).await.unwrap().len(), 6);

    // Append-only: the database refuses to change or remove a row.
    let mut raw = db.raw().await;
    for statement in [
        "UPDATE credential_activity SET detail = 'x'",
        "DELETE FROM credential_activity",
    ] {
        let refused = match &mut raw {
            Raw::Sqlite(conn) => sqlx::query(statement).execute(conn).await.map(|_| ()),
            Raw::Postgres(conn) => sqlx::query(statement).execute(conn).await.map(|_| ()),
        };
        assert!(refused.is_err(), "the log accepted `{statement}`");
    }
}
