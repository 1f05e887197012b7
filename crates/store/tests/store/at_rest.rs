//! Secrets at rest: no plaintext in the stored bytes, and a sealed value that
//! was moved, altered or truncated fails to open with an error naming the
//! record, never yielding another record's secret.

use chrono::Utc;
use pinion_domain::{AccessToken, ClientSecret, CredentialUpdate, RefreshToken, ScopeSet};
use pinion_store::{StoreError, TokenSet};

use crate::helpers::{TestDb, keyring, new_credential, user};
use crate::suite::contains;

const MARKERS: [&str; 4] = [
    "MARKER-client-secret-5d1e",
    "MARKER-access-token-91ac",
    "MARKER-refresh-token-0b7f",
    "MARKER-updated-secret-c3a2",
];

pub async fn no_secret_appears_in_the_stored_bytes(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let created = store
            .create_credential(
                &owner,
                &new_credential(&format!("VISIBLE-name-{i}"), &format!("{}-{i}", MARKERS[0])),
            )
            .await
            .unwrap();
        let tokens = TokenSet {
            access_token: AccessToken::new(format!("{}-{i}", MARKERS[1])),
            access_token_expires_at: Some(Utc::now()),
            refresh_token: Some(RefreshToken::new(format!("{}-{i}", MARKERS[2]))),
            refresh_token_expires_at: None,
            granted_scopes: Some(ScopeSet::default_requested()),
        };
        store
            .set_tokens(&created.id, &tokens, created.version)
            .await
            .unwrap();
        ids.push(created.id.clone());
    }
    let update = CredentialUpdate {
        client_secret: Some(ClientSecret::new(MARKERS[3])),
        ..CredentialUpdate::default()
    };
    store
        .update_credential(&ids[0], &update, None)
        .await
        .unwrap();

    // Scan while the store is open (SQLite: main file and WAL) and after it
    // closed (everything checkpointed into the main file).
    for phase in ["open", "closed"] {
        if phase == "closed" {
            store.close().await;
        }
        let raw = db.raw_bytes();
        // The scan does see stored data: non-secret names are in plain sight.
        assert!(
            contains(&raw, b"VISIBLE-name-7"),
            "{phase}: scan saw no data"
        );
        for marker in MARKERS {
            assert!(
                !contains(&raw, marker.as_bytes()),
                "{phase}: found {marker} in the stored bytes"
            );
        }
    }
}

pub async fn ciphertext_moved_between_rows_or_columns_fails_to_decrypt(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let a = store
        .create_credential(&owner, &new_credential("a", "secret-of-a"))
        .await
        .unwrap();
    let b = store
        .create_credential(&owner, &new_credential("b", "secret-of-b"))
        .await
        .unwrap();
    let tokens = TokenSet {
        access_token: AccessToken::new("access-of-a"),
        access_token_expires_at: None,
        refresh_token: Some(RefreshToken::new("refresh-of-a")),
        refresh_token_expires_at: None,
        granted_scopes: None,
    };
    store.set_tokens(&a.id, &tokens, a.version).await.unwrap();
    let mut raw = db.raw().await;

    // B's sealed client secret copied into A.
    let original = raw.sealed(a.id.as_str(), "client_secret_sealed").await;
    let from_b = raw.sealed(b.id.as_str(), "client_secret_sealed").await;
    raw.set_sealed(a.id.as_str(), "client_secret_sealed", from_b)
        .await;
    let err = store.credential_secrets(&a.id).await.unwrap_err();
    assert_decrypt_error(&err, "client_secret", a.id.as_str());
    // Metadata stays readable; B is unaffected.
    assert!(store.get_credential(&a.id).await.is_ok());
    assert_eq!(
        store
            .credential_secrets(&b.id)
            .await
            .unwrap()
            .client_secret
            .expose_secret(),
        "secret-of-b"
    );
    raw.set_sealed(a.id.as_str(), "client_secret_sealed", original.clone())
        .await;
    assert!(store.credential_secrets(&a.id).await.is_ok());

    // A's refresh token copied over its access token (another column).
    let access = raw.sealed(a.id.as_str(), "access_token_sealed").await;
    let refresh = raw.sealed(a.id.as_str(), "refresh_token_sealed").await;
    raw.set_sealed(a.id.as_str(), "access_token_sealed", refresh)
        .await;
    let err = store.credential_secrets(&a.id).await.unwrap_err();
    assert_decrypt_error(&err, "access_token", a.id.as_str());
    raw.set_sealed(a.id.as_str(), "access_token_sealed", access)
        .await;

    // A bit flip in the header, the nonce, the body and the tag; a truncation.
    for position in [0, 3, 10, original.len() / 2, original.len() - 1] {
        let mut flipped = original.clone();
        flipped[position] ^= 0x10;
        raw.set_sealed(a.id.as_str(), "client_secret_sealed", flipped)
            .await;
        let err = store.credential_secrets(&a.id).await.unwrap_err();
        assert_decrypt_error(&err, "client_secret", a.id.as_str());
    }
    raw.set_sealed(
        a.id.as_str(),
        "client_secret_sealed",
        original[..original.len() - 20].to_vec(),
    )
    .await;
    let err = store.credential_secrets(&a.id).await.unwrap_err();
    assert_decrypt_error(&err, "client_secret", a.id.as_str());
    raw.close().await;
}

fn assert_decrypt_error(err: &StoreError, expected_column: &str, expected_row: &str) {
    match err {
        StoreError::Decrypt {
            table,
            column,
            row_id,
            ..
        } => {
            assert_eq!(*table, "credentials");
            assert_eq!(*column, expected_column);
            assert_eq!(row_id, expected_row);
        }
        other => panic!("expected a decryption error, got {other:?}"),
    }
    let text = format!("{err} {err:?}");
    assert!(text.contains(expected_row), "{text}");
    for secret in ["secret-of", "access-of", "refresh-of"] {
        assert!(!text.contains(secret), "{text}");
    }
}
