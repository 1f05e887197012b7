//! Keys: rotation (online, in batches, resumable), retirement only when unused,
//! reloading a key file another process extended, and refusing a wrong, missing
//! or malformed key without changing anything on disk.

use std::sync::Arc;

use chrono::Utc;
use pinion_domain::{AccessToken, CredentialId, RefreshToken};
use pinion_store::keys::{DEFAULT_KEY_FILE, add_key_version, generate_key_file};
use pinion_store::{KeySource, Store, StoreError, TokenSet};
use secrecy::SecretString;

use crate::helpers::{TestDb, keyring, new_credential, user};

/// Creates `count` credentials with tokens; returns their ids.
async fn populate(store: &dyn Store, count: usize) -> Vec<CredentialId> {
    let owner = user(store, "owner").await;
    let mut ids = Vec::new();
    for i in 0..count {
        let created = store
            .create_credential(
                &owner,
                &new_credential(&format!("c{i}"), &format!("cs-{i}")),
            )
            .await
            .unwrap();
        let tokens = TokenSet {
            access_token: AccessToken::new(format!("at-{i}")),
            access_token_expires_at: Some(Utc::now()),
            // Every third credential has no refresh token.
            refresh_token: (i % 3 != 0).then(|| RefreshToken::new(format!("rt-{i}"))),
            refresh_token_expires_at: None,
            granted_scopes: None,
        };
        store
            .set_tokens(&created.id, &tokens, created.version)
            .await
            .unwrap();
        ids.push(created.id.clone());
    }
    ids
}

/// Asserts every credential still opens to its original values.
async fn assert_all_readable(store: &dyn Store, ids: &[CredentialId]) {
    for (i, id) in ids.iter().enumerate() {
        let secrets = store.credential_secrets(id).await.unwrap();
        assert_eq!(secrets.client_secret.expose_secret(), format!("cs-{i}"));
        assert_eq!(
            secrets.access_token.unwrap().expose_secret(),
            format!("at-{i}")
        );
        assert_eq!(
            secrets.refresh_token.map(|t| t.expose_secret().to_owned()),
            (i % 3 != 0).then(|| format!("rt-{i}"))
        );
    }
}

fn count_of(status: &pinion_store::KeyringStatus, version: u32) -> u64 {
    status
        .versions
        .iter()
        .find(|v| v.version == version)
        .map_or(0, |v| v.sealed_values)
}

pub async fn rotation_reencrypts_in_batches_resumes_and_retires_the_old_key(db: &TestDb) {
    let ids = {
        let store = db.connect(keyring(&[(1, 1)])).await;
        let ids = populate(&*store, 25).await;
        store.close().await;
        ids
    };
    // 25 client secrets, 25 access tokens, 16 refresh tokens.
    let total = 25 + 25 + 16;

    // A process with the new key registers it at connect.
    let rotating = db.connect(keyring(&[(1, 1), (2, 2)])).await;
    let status = rotating.keyring_status().await.unwrap();
    assert_eq!(status.active, 2);
    assert_eq!(count_of(&status, 1), total);
    assert_eq!(status.pending_reencryption(), total);
    assert!(status.versions.iter().all(|v| v.registered && v.loaded));
    let err = rotating.retire_key(1).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::KeyInUse { version: 1, reason } if reason.contains(&total.to_string())),
        "{err:?}"
    );

    // Two batches, then the process "dies".
    assert_eq!(rotating.reencrypt_batch(10).await.unwrap(), 10);
    assert_eq!(rotating.reencrypt_batch(10).await.unwrap(), 10);
    let status = rotating.keyring_status().await.unwrap();
    assert!(count_of(&status, 1) < total && count_of(&status, 2) > 0);
    // Mid-rotation, everything reads, from either process.
    assert_all_readable(&*rotating, &ids).await;
    rotating.close().await;

    // A restart resumes where it stopped.
    let resumed = db.connect(keyring(&[(1, 1), (2, 2)])).await;
    let mut batches = Vec::new();
    let rewritten = pinion_store::reencrypt_all(&*resumed, 2, |n| batches.push(n))
        .await
        .unwrap();
    assert_eq!(rewritten, 5);
    assert_eq!(batches, [2, 2, 1]);
    let status = resumed.keyring_status().await.unwrap();
    assert_eq!(count_of(&status, 1), 0);
    assert_eq!(count_of(&status, 2), total);
    assert_eq!(status.pending_reencryption(), 0);
    assert_eq!(resumed.reencrypt_batch(10).await.unwrap(), 0);
    assert_all_readable(&*resumed, &ids).await;
    // Re-encryption does not disturb compare-and-set writers.
    assert_eq!(resumed.get_credential(&ids[0]).await.unwrap().version, 2);

    let err = resumed.retire_key(2).await.unwrap_err();
    assert!(
        matches!(err, StoreError::KeyInUse { version: 2, .. }),
        "{err:?}"
    );
    assert!(matches!(
        resumed.retire_key(7).await,
        Err(StoreError::NotFound { .. })
    ));
    resumed.retire_key(1).await.unwrap();
    resumed.close().await;

    // Restarting with the retired key still in the keyring does not make it
    // required again.
    let still_listed = db.connect(keyring(&[(1, 1), (2, 2)])).await;
    let status = still_listed.keyring_status().await.unwrap();
    assert!(
        status
            .versions
            .iter()
            .all(|v| v.version != 1 || !v.registered),
        "{status:?}"
    );
    still_listed.close().await;

    // The old key can now be dropped from the keyring.
    let new_only = db.connect(keyring(&[(2, 2)])).await;
    assert_all_readable(&*new_only, &ids).await;
    let status = new_only.keyring_status().await.unwrap();
    assert_eq!(
        status
            .versions
            .iter()
            .map(|v| v.version)
            .collect::<Vec<_>>(),
        [2]
    );
}

pub async fn a_process_with_an_old_key_file_reloads_it_after_rotation(db: &TestDb) {
    let key_file = db.dir.path().join("keys");
    generate_key_file(&key_file).unwrap();
    let old = db
        .try_connect(KeySource::File(key_file.clone()))
        .await
        .unwrap();
    let ids = populate(&*old, 4).await;

    // Another process rotates: adds version 2 and re-encrypts everything.
    assert_eq!(add_key_version(&key_file).unwrap(), 2);
    let rotating = db
        .try_connect(KeySource::File(key_file.clone()))
        .await
        .unwrap();
    pinion_store::reencrypt_all(&*rotating, 100, |_| {})
        .await
        .unwrap();

    // The first process still reads every row (it reloads the key file) and
    // now seals new values with version 2.
    assert_all_readable(&*old, &ids).await;
    let owner = user(&*old, "second-owner").await;
    old.create_credential(&owner, &new_credential("after", "s"))
        .await
        .unwrap();
    let status = old.keyring_status().await.unwrap();
    assert_eq!(status.active, 2);
    assert_eq!(count_of(&status, 1), 0);
    rotating.retire_key(1).await.unwrap();
}

pub async fn a_process_without_the_new_key_names_the_record_it_cannot_open(db: &TestDb) {
    // One process has its key in code, another in a file that will not get the
    // new version; neither can load it.
    let old_file = db.dir.path().join("old-keys");
    generate_key_file(&old_file).unwrap();
    let from_file = db
        .try_connect(KeySource::File(old_file.clone()))
        .await
        .unwrap();
    let ids = populate(&*from_file, 2).await;
    let old_ring = pinion_store::keys::read_key_file(&old_file).unwrap();
    let in_code = db.connect(old_ring).await;

    let new_file = db.dir.path().join("new-keys");
    std::fs::copy(&old_file, &new_file).unwrap();
    add_key_version(&new_file).unwrap();
    let rotating = db.try_connect(KeySource::File(new_file)).await.unwrap();
    pinion_store::reencrypt_all(&*rotating, 10, |_| {})
        .await
        .unwrap();

    for old in [&in_code, &from_file] {
        let err = old.credential_secrets(&ids[0]).await.unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(&err, StoreError::Decrypt { row_id, .. } if row_id == ids[0].as_str()),
            "{err:?}"
        );
        assert!(text.contains("key version 2"), "{text}");
        // Metadata needs no key.
        assert!(old.get_credential(&ids[0]).await.is_ok());
    }
}

/// Bytes that must not change when a connection is refused.
fn snapshot(db: &TestDb) -> Vec<u8> {
    if db.is_postgres() {
        db.raw_bytes()
    } else {
        // The last connection to close checkpoints the WAL into the main file
        // and removes it; wait for that so the main file alone is the state.
        let wal = std::path::PathBuf::from(format!("{}-wal", db.location));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
            assert!(
                std::time::Instant::now() < deadline,
                "the WAL was not checkpointed after the connections closed"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::fs::read(db.sqlite_path()).unwrap()
    }
}

pub async fn a_wrong_missing_or_malformed_key_is_refused_with_a_clear_message(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    populate(&*store, 3).await;
    store.close().await;
    drop(store);

    let given = |versions: &[(u32, u8)]| KeySource::Given(Arc::new(keyring(versions)));
    let err = db.try_connect(given(&[(1, 9)])).await.unwrap_err();
    assert!(
        matches!(err, StoreError::KeyMismatch { version: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("does not match"), "{err}");

    let err = db.try_connect(given(&[(2, 2)])).await.unwrap_err();
    assert!(
        matches!(err, StoreError::KeyMissing { version: 1, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("version 1") && message.contains("PINION_MASTER_KEY"),
        "{message}"
    );

    // Malformed inline keys never reach the database, and the message names
    // the variable but not the value.
    let short = base64_of(&[7u8; 31]);
    let source = KeySource::Inline(SecretString::from(short.clone()));
    let err = db.try_connect(source).await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("exactly 32 bytes"), "{message}");
    assert!(message.contains("PINION_MASTER_KEY"), "{message}");
    assert!(!message.contains(&short), "{message}");
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub async fn refusals_leave_the_database_byte_identical(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    populate(&*store, 3).await;
    store.close().await;
    drop(store);
    let before = snapshot(db);
    let given = |versions: &[(u32, u8)]| KeySource::Given(Arc::new(keyring(versions)));
    for source in [
        given(&[(1, 9)]),
        given(&[(2, 2)]),
        given(&[(1, 9), (2, 2)]),
        KeySource::Inline(SecretString::from(base64_of(&[1u8; 16]))),
        KeySource::File(db.dir.path().join("no-such-key-file")),
    ] {
        let description = source.describe();
        let result = db.try_connect(source).await;
        assert!(result.is_err(), "{description} was accepted");
        assert!(
            snapshot(db) == before,
            "refusing {description} changed the database"
        );
    }
    // The right key still works afterwards.
    let store = db.connect(keyring(&[(1, 1)])).await;
    assert_eq!(store.list_all_credentials().await.unwrap().len(), 3);
}

/// SQLite only: the data-directory key file is generated for a new database,
/// reused later, and its loss is refused without touching the database.
pub async fn the_embedded_default_generates_its_key_file_once(db: &TestDb) {
    let key_file = db.dir.path().join(DEFAULT_KEY_FILE);
    let source = KeySource::DataDirFile(key_file.clone());
    let connected =
        pinion_store::connect_with(&db.location, source.clone(), crate::helpers::options())
            .await
            .unwrap();
    assert_eq!(
        connected.key_notice,
        Some(pinion_store::KeyNotice::GeneratedKeyFile(key_file.clone()))
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let ids = populate(&*connected.store, 2).await;
    connected.store.close().await;
    drop(connected);

    let again = pinion_store::connect_with(&db.location, source.clone(), crate::helpers::options())
        .await
        .unwrap();
    assert_eq!(again.key_notice, None);
    assert_all_readable(&*again.store, &ids).await;
    again.store.close().await;
    drop(again);

    // Losing the key file is refused, not answered with a new key.
    let before = snapshot(db);
    std::fs::remove_file(&key_file).unwrap();
    let err = db.try_connect(source).await.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, StoreError::KeyMissing { version: 1, .. }),
        "{err:?}"
    );
    assert!(message.contains("does not exist"), "{message}");
    assert!(!key_file.exists(), "a new key file must not be generated");
    assert!(snapshot(db) == before, "the refusal changed the database");
}

pub async fn rotation_also_reencrypts_authorization_flows(db: &TestDb) {
    let old = db.connect(keyring(&[(1, 1)])).await;
    let ids = populate(&*old, 1).await;
    let owner = &old.get_credential(&ids[0]).await.unwrap().owner;
    let flow = pinion_store::NewFlow {
        credential_id: ids[0].clone(),
        user_id: owner.clone(),
        started_by_operator: false,
        state_hash: "ab".repeat(32),
        redirect_uri: "http://127.0.0.1:8080/oauth/pinterest/callback".into(),
        pkce_verifier: pinion_domain::PkceVerifier::new("verifier-under-key-1"),
        browser_binding_hash: None,
        ttl: std::time::Duration::from_secs(600),
    };
    old.create_flow(&flow).await.unwrap();
    old.close().await;

    let rotating = db.connect(keyring(&[(1, 1), (2, 2)])).await;
    // The credential has two sealed values (client secret, access token),
    // the flow one.
    assert_eq!(
        count_of(&rotating.keyring_status().await.unwrap(), 1),
        2 + 1
    );
    // The credential fills the first batch of one; the flow comes next.
    assert_eq!(rotating.reencrypt_batch(1).await.unwrap(), 1);
    assert_eq!(rotating.reencrypt_batch(1).await.unwrap(), 1);
    assert_eq!(rotating.reencrypt_batch(1).await.unwrap(), 0);
    rotating.retire_key(1).await.unwrap();
    rotating.close().await;

    let new_only = db.connect(keyring(&[(2, 2)])).await;
    let consumed = new_only
        .consume_flow(&"ab".repeat(32))
        .await
        .unwrap()
        .expect("the flow is still there");
    assert_eq!(
        consumed.pkce_verifier.expose_secret(),
        "verifier-under-key-1"
    );
}
