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
    let mut sealed = raw
        .sealed(created.id.as_str(), "client_secret_sealed")
        .await;
    // Different bytes: SQLite skips writing a cell whose content is
    // unchanged, and such a write moves nothing another connection can see.
    let last = sealed.len() - 1;
    sealed[last] ^= 1;
    // Only a write after the watcher caught up with the ones above counts.
    settled(&feed).await;
    let seen = feed.generation().unwrap();
    raw.set_sealed(created.id.as_str(), "client_secret_sealed", sealed)
        .await;
    assert!(
        eventually(|| !feed.is_current(seen)).await,
        "a write by another connection went unnoticed"
    );
}

pub async fn consuming_a_flow_and_appending_activity_move_the_feed_at_once(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let feed = store.changes().clone();
    settled(&feed).await;
    let owner = user(&*store, "alice").await;
    let credential = store
        .create_credential(&owner, &new_credential("Boards", "secret-one"))
        .await
        .unwrap();
    store
        .create_flow(&pinion_store::NewFlow {
            credential_id: credential.id.clone(),
            user_id: owner.clone(),
            started_by_operator: false,
            state_hash: "cd".repeat(32),
            redirect_uri: "http://127.0.0.1:8080/oauth/pinterest/callback".into(),
            pkce_verifier: pinion_domain::PkceVerifier::new("a-verifier"),
            browser_binding_hash: None,
            ttl: Duration::from_secs(600),
        })
        .await
        .unwrap();
    settled(&feed).await;

    // Checked as soon as each call returns: the watcher (which would notice
    // these on SQLite a poll later, and never on PostgreSQL, whose triggers
    // leave these tables out) has no part in it.
    let before = feed.generation().unwrap();
    let consumed = store.consume_flow(&"cd".repeat(32)).await.unwrap();
    assert!(consumed.is_some());
    assert!(!feed.is_current(before), "consume_flow left the feed");

    let before = feed.generation().unwrap();
    store
        .append_activity(&pinion_store::NewActivity {
            credential_id: credential.id.clone(),
            credential_name: "Boards".into(),
            actor_id: Some(owner.clone()),
            actor: "alice".into(),
            event: pinion_store::ActivityEvent::Edited,
            subject: None,
            detail: None,
        })
        .await
        .unwrap();
    assert!(!feed.is_current(before), "append_activity left the feed");
    store.close().await;
}

/// A TCP relay to `upstream` that can go silent: once `frozen`, it passes
/// nothing on and closes nothing, as a NAT or firewall that forgot a
/// connection does. Returns its address.
async fn silent_relay(
    upstream: std::net::SocketAddr,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::net::SocketAddr {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn pipe(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let Ok(read) = from.read(&mut buffer).await else {
                return;
            };
            if read == 0 {
                return;
            }
            if frozen.load(Ordering::SeqCst) {
                // Hold both ends open and pass nothing on, ever.
                std::future::pending::<()>().await;
            }
            if to.write_all(&buffer[..read]).await.is_err() {
                return;
            }
        }
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                continue;
            };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::spawn(pipe(client_read, server_write, frozen.clone()));
            tokio::spawn(pipe(server_read, client_write, frozen.clone()));
        }
    });
    address
}

#[tokio::test]
async fn postgres_a_listener_connection_that_goes_silent_stops_vouching_for_cached_reads() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let Some(db) = TestDb::postgres("listener_connection_goes_silent") else {
        return;
    };
    let mut url = url::Url::parse(&db.location).unwrap();
    let upstream = tokio::net::lookup_host((
        url.host_str().unwrap().to_owned(),
        url.port().unwrap_or(5432),
    ))
    .await
    .unwrap()
    .next()
    .unwrap();
    let frozen = Arc::new(AtomicBool::new(false));
    let relay = silent_relay(upstream, frozen.clone()).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(relay.port())).unwrap();
    let store = pinion_store::connect_with(
        url.as_str(),
        pinion_store::KeySource::Given(Arc::new(keyring(&[(1, 1)]))),
        crate::helpers::options(),
    )
    .await
    .unwrap()
    .store;
    let feed = store.changes().clone();
    settled(&feed).await;

    // Nothing is closed and nothing arrives: notifications would be lost
    // without a word, so the feed must stop vouching for what was read.
    frozen.store(true, Ordering::SeqCst);
    assert!(
        eventually(|| feed.generation().is_none()).await,
        "the feed still vouches for cached reads over a silent connection"
    );
}
