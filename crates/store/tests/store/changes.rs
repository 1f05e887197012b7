//! The change feed moves on every committed write (by this process at once,
//! by any other writer soon after) and never on a read, so a result kept
//! under a generation is dropped as soon as the data may differ.

use std::time::{Duration, Instant};

use pinion_domain::{Role, Username};
use pinion_store::ChangeFeed;

use crate::helpers::{TestDb, keyring, new_credential, user};

/// Waits up to 10 s for `condition`; true if it came.
async fn eventually(condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    condition()
}

/// Waits for the watcher to run and to have noticed every earlier write
/// (on SQLite it also sees this process's own writes, a poll later).
async fn settled(feed: &ChangeFeed) {
    assert!(
        eventually(|| feed.generation().is_some()).await,
        "the change watcher never started"
    );
    let quiet = pinion_store::SQLITE_POLL * 10;
    loop {
        let seen = feed.generation();
        tokio::time::sleep(quiet).await;
        if feed.generation() == seen {
            return;
        }
    }
}

pub async fn the_change_feed_moves_on_every_write_here_and_elsewhere(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let feed = store.changes().clone();
    settled(&feed).await;

    // Reads leave it where it is.
    let before = feed.generation().unwrap();
    store.list_users().await.unwrap();
    store.list_all_credentials().await.unwrap();
    assert!(feed.is_current(before));

    // A write through the store has moved it by the time the call returns.
    let owner = user(&*store, "alice").await;
    assert!(!feed.is_current(before));
    let created = store
        .create_credential(&owner, &new_credential("Boards", "secret-one"))
        .await
        .unwrap();

    // A second store on the same database in this process shares the feed.
    let second = db.connect(keyring(&[(1, 1)])).await;
    settled(&feed).await;
    let seen = feed.generation().unwrap();
    second
        .create_user(&Username::parse("bob").unwrap(), Role::User)
        .await
        .unwrap();
    assert!(!feed.is_current(seen));

    // A write that bypasses Pinion's stores, as another process's would,
    // moves it too, once the watcher notices.
    let mut raw = db.raw().await;
    let sealed = raw
        .sealed(created.id.as_str(), "client_secret_sealed")
        .await;
    let seen = feed.generation().unwrap();
    raw.set_sealed(created.id.as_str(), "client_secret_sealed", sealed)
        .await;
    assert!(
        eventually(|| !feed.is_current(seen)).await,
        "a write by another connection went unnoticed"
    );
}
