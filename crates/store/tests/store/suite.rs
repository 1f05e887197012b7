//! The store suite: behaviour every backend must share (create, read, update,
//! delete, uniqueness, rollback, compare-and-set, token handling, users and API
//! tokens). `main.rs` runs each function on SQLite and on PostgreSQL.

use chrono::{Duration, Utc};
use pinion_domain::{
    AccessToken, ApiToken, ClientId, ClientSecret, CredentialId, CredentialName, CredentialStatus,
    CredentialUpdate, Description, RefreshToken, Role, ScopeSet, Username,
};
use pinion_store::{StoreError, TokenSet};

use crate::helpers::{TestDb, keyring, new_credential, user};

fn tokens(access: &str, refresh: Option<&str>) -> TokenSet {
    TokenSet {
        access_token: AccessToken::new(access),
        access_token_expires_at: Some(Utc::now() + Duration::days(30)),
        refresh_token: refresh.map(RefreshToken::new),
        refresh_token_expires_at: refresh.map(|_| Utc::now() + Duration::days(60)),
        granted_scopes: Some(ScopeSet::parse("boards:read pins:read").unwrap()),
    }
}

pub async fn created_credential_reads_back_as_metadata_only(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let created = store
        .create_credential(&owner, &new_credential("Marketing", "secret-1"))
        .await
        .unwrap();
    assert_eq!(created.status, CredentialStatus::NeedsAuthorization);
    assert_eq!(created.version, 1);
    assert!(created.client_secret_set);
    assert!(!created.has_tokens());
    assert_eq!(created.provider, "pinterest");

    let read = store.get_credential(&created.id).await.unwrap();
    assert_eq!(read, created);
    assert_eq!(read.name.as_str(), "Marketing");
    assert_eq!(read.description.clone().unwrap().as_str(), "made by a test");
    assert_eq!(read.scopes, ScopeSet::default_requested());
    let debug = format!("{created:?}");
    assert!(!debug.contains("secret-1"), "{debug}");

    let secrets = store.credential_secrets(&created.id).await.unwrap();
    assert_eq!(secrets.client_secret.expose_secret(), "secret-1");
    assert!(secrets.access_token.is_none() && secrets.refresh_token.is_none());
    assert!(!format!("{secrets:?}").contains("secret-1"));
}

pub async fn credentials_are_listed_per_owner_and_in_full(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    for name in ["b-second", "A-first"] {
        store
            .create_credential(&alice, &new_credential(name, "s"))
            .await
            .unwrap();
    }
    store
        .create_credential(&bob, &new_credential("bobs", "s"))
        .await
        .unwrap();
    let names = |records: Vec<pinion_store::CredentialRecord>| {
        records
            .into_iter()
            .map(|r| r.name.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.list_credentials(&alice).await.unwrap()),
        ["A-first", "b-second"]
    );
    assert_eq!(names(store.list_credentials(&bob).await.unwrap()), ["bobs"]);
    assert_eq!(store.list_all_credentials().await.unwrap().len(), 3);
    let nobody = pinion_domain::UserId::generate();
    assert!(store.list_credentials(&nobody).await.unwrap().is_empty());
}

pub async fn missing_records_are_not_found(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let id = CredentialId::generate();
    for result in [
        store.get_credential(&id).await.map(|_| ()),
        store.credential_secrets(&id).await.map(|_| ()),
        store.delete_credential(&id).await,
        store
            .set_status(&id, CredentialStatus::Error, None, None)
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(
                result,
                Err(StoreError::NotFound {
                    entity: "credential"
                })
            ),
            "{result:?}"
        );
    }
    let owner = pinion_domain::UserId::generate();
    let err = store
        .create_credential(&owner, &new_credential("x", "s"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { entity: "user" }),
        "{err:?}"
    );
}

pub async fn update_changes_fields_bumps_version_and_reseals_the_secret(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let created = store
        .create_credential(&owner, &new_credential("Old", "secret-old"))
        .await
        .unwrap();
    let update = CredentialUpdate {
        name: Some(CredentialName::parse("New").unwrap()),
        description: Some(None),
        client_secret: Some(ClientSecret::new("secret-new")),
        scopes: Some(ScopeSet::parse("pins:read").unwrap()),
        ..CredentialUpdate::default()
    };
    let updated = store
        .update_credential(&created.id, &update, Some(created.version))
        .await
        .unwrap();
    assert_eq!(updated.name.as_str(), "New");
    assert_eq!(updated.description, None);
    assert_eq!(updated.scopes.to_comma_separated(), "pins:read");
    assert_eq!(updated.version, created.version + 1);
    assert!(updated.updated_at >= created.updated_at);
    assert_eq!(store.get_credential(&created.id).await.unwrap(), updated);
    let secrets = store.credential_secrets(&created.id).await.unwrap();
    assert_eq!(secrets.client_secret.expose_secret(), "secret-new");

    // An empty update changes nothing, not even the version.
    let same = store
        .update_credential(&created.id, &CredentialUpdate::default(), None)
        .await
        .unwrap();
    assert_eq!(same, updated);
}

pub async fn changing_the_client_id_discards_tokens(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let created = store
        .create_credential(&owner, &new_credential("c", "s"))
        .await
        .unwrap();
    let active = store
        .set_tokens(&created.id, &tokens("acc", Some("ref")), created.version)
        .await
        .unwrap();
    // Same client id: tokens stay.
    let same = CredentialUpdate {
        client_id: Some(ClientId::parse("1484362").unwrap()),
        description: Some(Some(Description::parse("d").unwrap().unwrap())),
        ..CredentialUpdate::default()
    };
    let kept = store
        .update_credential(&created.id, &same, None)
        .await
        .unwrap();
    assert!(kept.has_access_token && kept.has_refresh_token);
    assert_eq!(kept.status, CredentialStatus::Active);

    let other_app = CredentialUpdate {
        client_id: Some(ClientId::parse("999").unwrap()),
        ..CredentialUpdate::default()
    };
    let reset = store
        .update_credential(&created.id, &other_app, Some(kept.version))
        .await
        .unwrap();
    assert!(!reset.has_tokens());
    assert_eq!(reset.status, CredentialStatus::NeedsAuthorization);
    assert_eq!(reset.granted_scopes, None);
    assert_eq!(reset.version, active.version + 2);
    let secrets = store.credential_secrets(&created.id).await.unwrap();
    assert!(secrets.access_token.is_none() && secrets.refresh_token.is_none());
}

pub async fn delete_removes_the_credential_and_its_tokens(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let created = store
        .create_credential(&owner, &new_credential("c", "s"))
        .await
        .unwrap();
    store
        .set_tokens(&created.id, &tokens("acc", Some("ref")), 1)
        .await
        .unwrap();
    store.delete_credential(&created.id).await.unwrap();
    assert!(matches!(
        store.get_credential(&created.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(store.list_credentials(&owner).await.unwrap().is_empty());
    let status = store.keyring_status().await.unwrap();
    assert_eq!(status.versions[0].sealed_values, 0, "{status:?}");
    // The name is free again.
    store
        .create_credential(&owner, &new_credential("c", "s"))
        .await
        .unwrap();
}

pub async fn names_are_unique_per_owner_ignoring_case(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    store
        .create_credential(&alice, &new_credential("Marketing", "s"))
        .await
        .unwrap();
    for name in ["Marketing", "marketing", "MARKETING"] {
        let err = store
            .create_credential(&alice, &new_credential(name, "s"))
            .await
            .unwrap_err();
        match err {
            StoreError::Conflict { field, message } => {
                assert_eq!(field, "name");
                assert!(message.contains("case-insensitively"), "{message}");
            }
            other => panic!("expected a name conflict, got {other:?}"),
        }
    }
    // Another owner may use the same name.
    store
        .create_credential(&bob, &new_credential("Marketing", "s"))
        .await
        .unwrap();
    assert_eq!(store.list_credentials(&alice).await.unwrap().len(), 1);

    // Renaming onto a taken name is a conflict too.
    let other = store
        .create_credential(&alice, &new_credential("Sales", "s"))
        .await
        .unwrap();
    let rename = CredentialUpdate {
        name: Some(CredentialName::parse("marketing").unwrap()),
        ..CredentialUpdate::default()
    };
    let err = store
        .update_credential(&other.id, &rename, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { field: "name", .. }),
        "{err:?}"
    );
}

pub async fn a_failed_update_rolls_back_every_field(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    store
        .create_credential(&owner, &new_credential("Taken", "s"))
        .await
        .unwrap();
    let target = store
        .create_credential(&owner, &new_credential("Mine", "original-secret"))
        .await
        .unwrap();
    // Several fields at once, one of which (the name) conflicts.
    let update = CredentialUpdate {
        name: Some(CredentialName::parse("taken").unwrap()),
        description: Some(Some(Description::parse("changed").unwrap().unwrap())),
        client_secret: Some(ClientSecret::new("new-secret")),
        scopes: Some(ScopeSet::parse("ads:read").unwrap()),
        client_id: Some(ClientId::parse("42").unwrap()),
        rate_tier: Some(pinion_domain::RateTier::Trial),
    };
    assert!(
        store
            .update_credential(&target.id, &update, None)
            .await
            .is_err()
    );
    assert_eq!(store.get_credential(&target.id).await.unwrap(), target);
    let secrets = store.credential_secrets(&target.id).await.unwrap();
    assert_eq!(secrets.client_secret.expose_secret(), "original-secret");

    // A stale expected version writes nothing either.
    let stale = CredentialUpdate {
        description: Some(None),
        ..CredentialUpdate::default()
    };
    let err = store
        .update_credential(&target.id, &stale, Some(target.version + 5))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::VersionConflict { expected, found } if expected == target.version + 5 && found == target.version),
        "{err:?}"
    );
    assert_eq!(store.get_credential(&target.id).await.unwrap(), target);
}

pub async fn set_tokens_is_a_compare_and_set(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let created = store
        .create_credential(&owner, &new_credential("c", "s"))
        .await
        .unwrap();
    let first = store
        .set_tokens(
            &created.id,
            &tokens("acc-1", Some("ref-1")),
            created.version,
        )
        .await
        .unwrap();
    assert_eq!(first.status, CredentialStatus::Active);
    assert_eq!(first.version, created.version + 1);
    assert!(first.last_refreshed_at.is_some());
    assert_eq!(
        first.granted_scopes.as_ref().unwrap().to_space_separated(),
        "boards:read pins:read"
    );

    // A writer that read the old version loses, and nothing changes.
    let err = store
        .set_tokens(
            &created.id,
            &tokens("acc-2", Some("ref-2")),
            created.version,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::VersionConflict { expected, found } if expected == created.version && found == first.version),
        "{err:?}"
    );
    let secrets = store.credential_secrets(&created.id).await.unwrap();
    assert_eq!(secrets.access_token.unwrap().expose_secret(), "acc-1");
    assert_eq!(secrets.refresh_token.unwrap().expose_secret(), "ref-1");
    assert_eq!(secrets.record, first);

    // Of many concurrent writers holding the same version, exactly one wins.
    let attempts = (0..8).map(|i| {
        let store = store.clone();
        let id = first.id.clone();
        let version = first.version;
        tokio::spawn(async move {
            store
                .set_tokens(
                    &id,
                    &tokens(&format!("acc-{i}"), Some(&format!("ref-{i}"))),
                    version,
                )
                .await
        })
    });
    let mut won = Vec::new();
    for (i, attempt) in attempts.enumerate() {
        match attempt.await.unwrap() {
            Ok(_) => won.push(i),
            Err(StoreError::VersionConflict { .. }) => {}
            Err(StoreError::Unavailable { .. }) if !db.is_postgres() => {
                // A SQLite writer that waited past the busy timeout wrote nothing.
            }
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(won.len(), 1, "{won:?}");
    let secrets = store.credential_secrets(&first.id).await.unwrap();
    assert_eq!(
        secrets.access_token.unwrap().expose_secret(),
        format!("acc-{}", won[0])
    );
    assert_eq!(
        secrets.refresh_token.unwrap().expose_secret(),
        format!("ref-{}", won[0])
    );
    assert_eq!(secrets.record.version, first.version + 1);
}

pub async fn a_token_set_without_refresh_token_keeps_the_stored_one(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let created = store
        .create_credential(&owner, &new_credential("c", "s"))
        .await
        .unwrap();
    let first = store
        .set_tokens(&created.id, &tokens("acc-1", Some("ref-1")), 1)
        .await
        .unwrap();
    let mut refresh_only_access = tokens("acc-2", None);
    refresh_only_access.granted_scopes = None;
    let second = store
        .set_tokens(&created.id, &refresh_only_access, first.version)
        .await
        .unwrap();
    assert!(second.has_refresh_token);
    assert_eq!(
        second.refresh_token_expires_at,
        first.refresh_token_expires_at
    );
    assert_eq!(second.granted_scopes, first.granted_scopes);
    let secrets = store.credential_secrets(&created.id).await.unwrap();
    assert_eq!(secrets.access_token.unwrap().expose_secret(), "acc-2");
    assert_eq!(secrets.refresh_token.unwrap().expose_secret(), "ref-1");
}

pub async fn set_status_records_the_error_and_tokens_clear_it(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let created = store
        .create_credential(&owner, &new_credential("c", "s"))
        .await
        .unwrap();
    let active = store
        .set_tokens(&created.id, &tokens("a", Some("r")), 1)
        .await
        .unwrap();
    let revoked = store
        .set_status(
            &created.id,
            CredentialStatus::NeedsReauthorization,
            Some("Pinterest no longer accepts this authorization"),
            Some(active.version),
        )
        .await
        .unwrap();
    assert_eq!(revoked.status, CredentialStatus::NeedsReauthorization);
    assert_eq!(
        revoked.last_error.as_deref(),
        Some("Pinterest no longer accepts this authorization")
    );
    assert_eq!(revoked.version, active.version + 1);
    // Tokens are kept until re-authorization replaces them.
    assert!(revoked.has_tokens());
    let err = store
        .set_status(
            &created.id,
            CredentialStatus::Error,
            None,
            Some(active.version),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VersionConflict { .. }), "{err:?}");
    let again = store
        .set_tokens(&created.id, &tokens("a2", Some("r2")), revoked.version)
        .await
        .unwrap();
    assert_eq!(again.status, CredentialStatus::Active);
    assert_eq!(again.last_error, None);
}

pub async fn users_and_api_tokens(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = Username::parse("alice").unwrap();
    let (created, token) = store
        .create_user_with_token(&alice, Role::Admin)
        .await
        .unwrap();
    assert_eq!(created.role, Role::Admin);
    assert!(!created.has_password);
    let err = store.create_user(&alice, Role::User).await.unwrap_err();
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
    // The failed creation left no second user and no token behind.
    assert_eq!(store.list_users().await.unwrap().len(), 1);
    let bob = store
        .create_user(&Username::parse("bob").unwrap(), Role::User)
        .await
        .unwrap();
    assert_eq!(
        store
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.username.as_str().to_owned())
            .collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    assert_eq!(store.get_user(&bob.id).await.unwrap(), bob);
    assert_eq!(store.get_user_by_username(&alice).await.unwrap(), created);
    assert!(matches!(
        store
            .get_user_by_username(&Username::parse("carol").unwrap())
            .await,
        Err(StoreError::NotFound { entity: "user" })
    ));

    assert_eq!(
        store.user_for_api_token(&token).await.unwrap().unwrap().id,
        created.id
    );
    let second = store.create_api_token(&bob.id).await.unwrap();
    assert_ne!(second.expose_secret(), token.expose_secret());
    assert_eq!(
        store.user_for_api_token(&second).await.unwrap().unwrap().id,
        bob.id
    );
    assert!(
        store
            .user_for_api_token(&ApiToken::random())
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.revoke_api_token(&token).await.unwrap());
    assert!(!store.revoke_api_token(&token).await.unwrap());
    assert!(store.user_for_api_token(&token).await.unwrap().is_none());
    assert_eq!(store.revoke_api_tokens(&bob.id).await.unwrap(), 1);
    assert!(store.user_for_api_token(&second).await.unwrap().is_none());
    // Only hashes are stored.
    let raw = db.raw_bytes();
    for plaintext in [token.expose_secret(), second.expose_secret()] {
        assert!(!contains(&raw, plaintext.as_bytes()));
    }

    store
        .set_password_hash(
            &bob.id,
            Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
        )
        .await
        .unwrap();
    assert!(store.get_user(&bob.id).await.unwrap().has_password);
    assert!(
        store
            .password_hash(&bob.id)
            .await
            .unwrap()
            .unwrap()
            .starts_with("$argon2id$")
    );
    assert!(matches!(
        store
            .set_password_hash(&pinion_domain::UserId::generate(), None)
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

/// True when `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

pub async fn a_check_is_recorded_without_touching_anything_else(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let created = store
        .create_credential(&owner, &new_credential("c", "s"))
        .await
        .unwrap();
    assert_eq!(created.last_checked_at, None);
    let at = chrono::Utc::now();
    store.record_check(&created.id, at).await.unwrap();
    let checked = store.get_credential(&created.id).await.unwrap();
    let stored = checked.last_checked_at.expect("recorded");
    assert!(
        (stored - at).num_milliseconds().abs() < 1,
        "{stored} vs {at}"
    );
    assert_eq!(checked.version, created.version);
    assert_eq!(checked.updated_at, created.updated_at);
    // A later compare-and-set write keeps it.
    let active = store
        .set_tokens(&created.id, &tokens("a", Some("r")), created.version)
        .await
        .unwrap();
    assert_eq!(active.last_checked_at, Some(stored));
    let unknown = pinion_domain::CredentialId::generate();
    assert!(matches!(
        store.record_check(&unknown, at).await,
        Err(StoreError::NotFound { .. })
    ));
}

/// The first user is made once, whichever of several pools (processes on one
/// database) asks at the same time, and comes with its password.
pub async fn only_one_first_user_is_made_across_pools(db: &TestDb) {
    let first = db.connect(keyring(&[(1, 1)])).await;
    let second = db.connect(keyring(&[(1, 1)])).await;
    let mut attempts = tokio::task::JoinSet::new();
    for n in 0..8 {
        let store = if n % 2 == 0 { &first } else { &second }.clone();
        let name = Username::parse(&format!("admin{n}")).unwrap();
        attempts.spawn(async move {
            store
                .create_first_user(&name, Role::Admin, "$argon2id$stand-in")
                .await
                .unwrap()
        });
    }
    let made: Vec<_> = attempts.join_all().await.into_iter().flatten().collect();
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(made[0].has_password);
    let users = first.list_users().await.unwrap();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(
        first.password_hash(&users[0].id).await.unwrap().as_deref(),
        Some("$argon2id$stand-in")
    );
    let later = Username::parse("later").unwrap();
    assert!(
        second
            .create_first_user(&later, Role::Admin, "$argon2id$stand-in")
            .await
            .unwrap()
            .is_none()
    );
}
