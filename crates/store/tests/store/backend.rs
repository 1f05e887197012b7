//! Backend-specific behaviour: the embedded default's key file, a locked SQLite
//! database, an unreachable PostgreSQL server, and redacted `Debug` output of
//! the store's secret-holding types.

use std::sync::Arc;

use pinion_domain::CredentialStatus;
use pinion_store::{KeySource, StoreError};
use secrecy::SecretString;
use sqlx::Connection;

use crate::helpers::{TestDb, keyring, new_credential, options, user};

#[tokio::test]
async fn sqlite_embedded_default_generates_its_key_file_once() {
    let db = TestDb::sqlite();
    crate::keys::the_embedded_default_generates_its_key_file_once(&db).await;
}

#[tokio::test]
async fn sqlite_database_is_in_wal_mode() {
    let db = TestDb::sqlite();
    let store = db.connect(keyring(&[(1, 1)])).await;
    let mut raw = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.location))
        .await
        .unwrap();
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    raw.close().await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn sqlite_locked_database_gives_a_clear_error_and_writes_nothing() {
    let db = TestDb::sqlite();
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let existing = store
        .create_credential(&owner, &new_credential("existing", "s"))
        .await
        .unwrap();

    // Another process holds the write lock.
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.location))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();

    let err = store
        .create_credential(&owner, &new_credential("blocked", "s"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("locked") && message.contains("nothing was written"),
        "{message}"
    );
    let err = store
        .set_status(
            &existing.id,
            pinion_domain::CredentialStatus::Error,
            Some("x"),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    // Reads still work while the lock is held (WAL).
    assert_eq!(store.list_credentials(&owner).await.unwrap().len(), 1);

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();
    assert_eq!(store.list_credentials(&owner).await.unwrap().len(), 1);
    assert_eq!(
        store.get_credential(&existing.id).await.unwrap(),
        existing,
        "the failed status change wrote nothing"
    );
    // And writes work again once the lock is gone.
    store
        .create_credential(&owner, &new_credential("blocked", "s"))
        .await
        .unwrap();
}

#[tokio::test]
async fn sqlite_full_database_gives_a_clear_error_writes_nothing_and_keeps_working() {
    let db = TestDb::sqlite();
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let kept = store
        .create_credential(&owner, &new_credential("kept", "s"))
        .await
        .unwrap();
    store.close().await;
    let pages = page_count(&db).await;

    // The file may not grow past its current size: a full disk. One
    // connection, so every later call reuses the one that saw the failure.
    let full = pinion_store::connect_with(
        &db.location,
        KeySource::Given(Arc::new(keyring(&[(1, 1)]))),
        pinion_store::ConnectOptions {
            max_connections: 1,
            sqlite_max_page_count: Some(pages),
            ..options()
        },
    )
    .await
    .unwrap()
    .store;
    let description = "d".repeat(1000);
    let mut created = vec![kept.id.clone()];
    let err = loop {
        assert!(created.len() < 500, "the database never filled up");
        let mut new = new_credential(&format!("filler-{}", created.len()), "s");
        new.description = pinion_domain::Description::parse(&description).unwrap();
        match full.create_credential(&owner, &new).await {
            Ok(record) => created.push(record.id.clone()),
            Err(err) => break err,
        }
    };
    assert!(err.is_transient(), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("full") && message.contains("nothing was written"),
        "{message}"
    );

    // Nothing of the failed write is stored, and the connection that failed
    // still reads and writes.
    let listed = full.list_credentials(&owner).await.unwrap();
    assert_eq!(listed.len(), created.len());
    assert!(listed.iter().all(|c| created.contains(&c.id)));
    // A small update fits in the pages already there.
    full.set_status(&kept.id, CredentialStatus::Error, Some("x"), None)
        .await
        .unwrap();
    full.delete_credential(&created[created.len() - 1])
        .await
        .unwrap();
    let refilled = full
        .create_credential(&owner, &new_credential("after-space-was-freed", "s"))
        .await
        .unwrap();
    assert_eq!(
        full.credential_secrets(&refilled.id)
            .await
            .unwrap()
            .client_secret
            .expose_secret(),
        "s"
    );
    full.close().await;
}

/// The page count of the SQLite file, read by a connection of its own.
async fn page_count(db: &TestDb) -> u32 {
    let mut raw = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.location))
        .await
        .unwrap();
    let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    raw.close().await.unwrap();
    u32::try_from(pages).unwrap()
}

#[tokio::test]
async fn unreachable_postgres_gives_a_clear_error() {
    // Port 1 on loopback: nothing listens there, so the connection is refused
    // at once and the test never leaves the machine.
    let mut settings = options();
    settings.connect_timeout = std::time::Duration::from_secs(3);
    let err = pinion_store::connect_with(
        "postgres://pinion:hunter2@127.0.0.1:1/pinion",
        KeySource::Given(Arc::new(keyring(&[(1, 1)]))),
        settings,
    )
    .await
    .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    let message = format!("{err} {err:?}");
    assert!(message.contains("unavailable"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn debug_output_of_stores_and_key_sources_is_redacted() {
    use base64::Engine;
    let key_b64 = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
    let db = TestDb::sqlite();
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let created = store
        .create_credential(&owner, &new_credential("c", "CANARY-client-secret"))
        .await
        .unwrap();
    let secrets = store.credential_secrets(&created.id).await.unwrap();
    let inline = KeySource::Inline(SecretString::from(key_b64.clone()));
    let outputs = [
        format!("{store:?}"),
        format!("{secrets:?}"),
        format!("{secrets:#?}"),
        format!("{inline:?}"),
        format!("{:?}", keyring(&[(1, 1)])),
        format!("{:?}", KeySource::Given(Arc::new(keyring(&[(1, 1)])))),
    ];
    for output in outputs {
        assert!(!output.contains("CANARY"), "{output}");
        assert!(!output.contains(&key_b64), "{output}");
        assert!(!output.contains("1, 1, 1, 1"), "{output}");
    }
}
