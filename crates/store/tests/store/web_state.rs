//! Browser sessions (the web UI's table): a session names its user until it
//! expires or is deleted; a user's sessions can be ended together.

use crate::helpers::{credential_id, destination_id, source_id};
use chrono::Duration;
use pinion_domain::{Role, Username};

use crate::helpers::{TestDb, keyring};

pub async fn a_session_names_its_user_until_it_expires_or_is_deleted(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = store
        .create_user(&Username::parse("alice").unwrap(), Role::User)
        .await
        .unwrap();
    let now = chrono::Utc::now();
    store
        .create_session(&alice.id, "live", now + Duration::hours(1))
        .await
        .unwrap();
    store
        .create_session(&alice.id, "old", now - Duration::seconds(1))
        .await
        .unwrap();

    assert_eq!(
        store.session_user("live").await.unwrap().unwrap().id,
        alice.id
    );
    assert!(store.session_user("old").await.unwrap().is_none());
    assert!(store.session_user("unknown").await.unwrap().is_none());

    assert_eq!(store.purge_sessions(now).await.unwrap(), 1);
    assert!(store.delete_session("live").await.unwrap());
    assert!(!store.delete_session("live").await.unwrap());
    assert!(store.session_user("live").await.unwrap().is_none());
}

pub async fn deleting_a_users_sessions_signs_out_every_browser(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = store
        .create_user(&Username::parse("alice").unwrap(), Role::User)
        .await
        .unwrap();
    let bob = store
        .create_user(&Username::parse("bob").unwrap(), Role::User)
        .await
        .unwrap();
    let later = chrono::Utc::now() + Duration::hours(1);
    for hash in ["one", "two"] {
        store.create_session(&alice.id, hash, later).await.unwrap();
    }
    store.create_session(&bob.id, "bobs", later).await.unwrap();
    assert_eq!(store.delete_user_sessions(&alice.id).await.unwrap(), 2);
    assert!(store.session_user("one").await.unwrap().is_none());
    assert_eq!(
        store.session_user("bobs").await.unwrap().unwrap().id,
        bob.id
    );
}

pub async fn sources_are_listed_per_owner_and_per_credential(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = store
        .create_user(&Username::parse("alice").unwrap(), Role::User)
        .await
        .unwrap();
    let bob = store
        .create_user(&Username::parse("bob").unwrap(), Role::User)
        .await
        .unwrap();
    let source =
        |id: &str, owner: &pinion_domain::UserId, credential: &str| pinion_store::SourceRecord {
            id: pinion_domain::SourceId::from_trusted(id.to_owned()),
            owner: owner.clone(),
            credential_id: pinion_domain::CredentialId::from_trusted(credential.to_owned()),
            name: format!("Source {id}"),
            streams: vec!["boards".into(), "board_pins".into()],
            output_kind: "jsonl".into(),
            output_path: "/var/lib/pinion/out".into(),
            sync_mode: pinion_domain::SyncMode::default(),
            created_at: chrono::Utc::now(),
        };
    store
        .create_source(&source("src_a", &alice.id, "cred_1"))
        .await
        .unwrap();
    store
        .create_source(&source("src_b", &bob.id, "cred_1"))
        .await
        .unwrap();
    store
        .create_source(&source("src_c", &alice.id, "cred_2"))
        .await
        .unwrap();

    let got = store.get_source(&source_id("src_a")).await.unwrap();
    assert_eq!(got.streams, vec!["boards", "board_pins"]);
    assert_eq!(got.owner, alice.id);
    assert!(matches!(
        store.get_source(&source_id("src_nope")).await,
        Err(pinion_store::StoreError::NotFound { .. })
    ));
    let mine: Vec<_> = store
        .list_sources(&alice.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id.to_string())
        .collect();
    assert_eq!(mine.len(), 2);
    assert!(mine.contains(&"src_a".to_owned()) && mine.contains(&"src_c".to_owned()));
    let using: Vec<_> = store
        .sources_using_credential(&credential_id("cred_1"))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id.to_string())
        .collect();
    assert_eq!(using, vec!["src_a", "src_b"]);
}

pub async fn destinations_are_listed_per_owner_and_per_credential(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = store
        .create_user(&Username::parse("alice").unwrap(), Role::User)
        .await
        .unwrap();
    let bob = store
        .create_user(&Username::parse("bob").unwrap(), Role::User)
        .await
        .unwrap();
    let destination = |id: &str, owner: &pinion_domain::UserId, credential: &str| {
        pinion_store::DestinationRecord {
            id: pinion_domain::DestinationId::from_trusted(id.to_owned()),
            owner: owner.clone(),
            credential_id: pinion_domain::CredentialId::from_trusted(credential.to_owned()),
            name: format!("Destination {id}"),
            board_id: "549755885175".into(),
            board_name: "Recipes".into(),
            created_at: chrono::Utc::now(),
        }
    };
    store
        .create_destination(&destination("dst_a", &alice.id, "cred_1"))
        .await
        .unwrap();
    store
        .create_destination(&destination("dst_b", &bob.id, "cred_2"))
        .await
        .unwrap();
    let got = store
        .get_destination(&destination_id("dst_a"))
        .await
        .unwrap();
    assert_eq!(got.owner, alice.id);
    assert_eq!(got.board_name, "Recipes");
    assert!(matches!(
        store.get_destination(&destination_id("dst_nope")).await,
        Err(pinion_store::StoreError::NotFound { .. })
    ));
    let mine = store.list_destinations(&alice.id).await.unwrap();
    assert_eq!(mine.len(), 1);
    let using = store
        .destinations_using_credential(&credential_id("cred_2"))
        .await
        .unwrap();
    assert_eq!(using.len(), 1);
    assert_eq!(using[0].id, "dst_b");
}
