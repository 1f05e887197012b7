//! Knowing when the database changed, cheaply enough to ask on every request.
//!
//! A [`ChangeFeed`] is a counter that moves whenever a write may have changed
//! what a cached read returned. Callers that keep a read result remember the
//! [`Generation`] they read *before* asking the database, and trust the result
//! only while the feed still reports that generation; a write that lands
//! after the read began therefore always invalidates it.
//!
//! The counter moves from three sources:
//!
//! - every write this process commits through a store on the same database
//!   (every store opened on one file or URL in a process shares one feed), after
//!   the commit, so a request that follows a write never sees an older result;
//! - writes by other processes (the CLI, other replicas): on SQLite a watcher
//!   connection polls `PRAGMA data_version` every [`SQLITE_POLL`]; on
//!   PostgreSQL a listener receives the `pinion_changes` notifications that
//!   triggers send on commit (migration 0050), and asks its connection
//!   `SELECT 1` after each idle second, so a connection lost without a word
//!   (its notifications with it) is noticed within a few seconds;
//! - the watcher itself: while it is not running (not yet started, its
//!   connection lost) the feed reports no generation at all, and callers
//!   must read the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

/// How often the SQLite watcher asks whether another process wrote.
pub const SQLITE_POLL: Duration = Duration::from_millis(20);

/// How long a lost watcher waits before connecting again.
const RECONNECT_AFTER: Duration = Duration::from_millis(500);

/// How long the PostgreSQL listener waits for a notification before asking
/// its connection whether it is still there.
const PG_IDLE_CHECK: Duration = Duration::from_secs(1);

/// How long that question may take before the connection counts as lost.
const PG_PING_TIMEOUT: Duration = Duration::from_secs(3);

/// A point in a [`ChangeFeed`]'s history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

/// Counts changes to one database; cheap to clone and to read.
#[derive(Debug, Clone)]
pub struct ChangeFeed {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    generation: AtomicU64,
    watched: AtomicBool,
    watcher_started: AtomicBool,
}

impl ChangeFeed {
    /// The feed for the database at `location` (a canonical file path or a
    /// URL), shared by every store this process opens on it.
    pub(crate) fn for_location(location: &str) -> Self {
        static FEEDS: OnceLock<Mutex<HashMap<String, Weak<Inner>>>> = OnceLock::new();
        let mut feeds = FEEDS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        feeds.retain(|_, feed| feed.strong_count() > 0);
        if let Some(inner) = feeds.get(location).and_then(Weak::upgrade) {
            return Self { inner };
        }
        let inner = Arc::new(Inner::default());
        feeds.insert(location.to_owned(), Arc::downgrade(&inner));
        Self { inner }
    }

    /// The current generation, or `None` while changes by other processes
    /// could go unnoticed (then nothing read earlier may be trusted).
    pub fn generation(&self) -> Option<Generation> {
        // Read the counter first: a watcher that stops afterwards bumps it, so
        // a result tagged with this value is invalidated either way.
        let generation = self.inner.generation.load(Ordering::Acquire);
        self.inner
            .watched
            .load(Ordering::Acquire)
            .then_some(Generation(generation))
    }

    /// Whether a result read at `generation` still holds.
    pub fn is_current(&self, generation: Generation) -> bool {
        self.generation() == Some(generation)
    }

    /// Notes a committed write.
    pub(crate) fn bump(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Claims the right to run this feed's watcher; only the first caller
    /// gets it, so stores sharing a feed run one watcher between them.
    fn claim_watcher(&self) -> bool {
        !self.inner.watcher_started.swap(true, Ordering::AcqRel)
    }

    fn set_watched(&self, watched: bool) {
        self.inner.watched.store(watched, Ordering::Release);
        self.bump();
    }

    fn downgrade(&self) -> Weak<Inner> {
        Arc::downgrade(&self.inner)
    }
}

/// Held by a running watcher: however the watcher ends (its runtime shut
/// down, say), the feed stops vouching for cached reads and a later store on
/// the same database may start a new watcher.
struct WatcherGuard(Weak<Inner>);

impl Drop for WatcherGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.0.upgrade() {
            let feed = ChangeFeed { inner };
            feed.set_watched(false);
            feed.inner.watcher_started.store(false, Ordering::Release);
        }
    }
}

/// Watches a SQLite file for commits by other connections and processes.
///
/// The watcher holds its own connection outside the pool and stops when the
/// last store on the file is dropped. Needs a tokio runtime; without one
/// the feed stays unwatched and callers read the database every time.
pub(crate) fn watch_sqlite(feed: &ChangeFeed, options: sqlx::sqlite::SqliteConnectOptions) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if !feed.claim_watcher() {
        return;
    }
    let weak = feed.downgrade();
    runtime.spawn(async move {
        use sqlx::Connection;
        let _guard = WatcherGuard(weak.clone());
        loop {
            let Some(feed) = weak.upgrade().map(|inner| ChangeFeed { inner }) else {
                return;
            };
            let mut conn = match sqlx::sqlite::SqliteConnection::connect_with(&options).await {
                Ok(conn) => conn,
                Err(err) => {
                    tracing::debug!(error = %err, "The change watcher could not open the database.");
                    drop(feed);
                    tokio::time::sleep(RECONNECT_AFTER).await;
                    continue;
                }
            };
            let mut last: Option<i64> = None;
            drop(feed);
            loop {
                let Some(feed) = weak.upgrade().map(|inner| ChangeFeed { inner }) else {
                    let _ = conn.close().await;
                    return;
                };
                // Not a cached statement: a cached one may keep its read
                // transaction open between polls, and with it an old snapshot.
                let version = sqlx::query_scalar::<_, i64>("PRAGMA data_version")
                    .persistent(false)
                    .fetch_one(&mut conn)
                    .await;
                match version {
                    Ok(version) => {
                        if last.is_some_and(|last| last != version) {
                            feed.bump();
                        }
                        if last.is_none() {
                            feed.set_watched(true);
                        }
                        last = Some(version);
                    }
                    Err(err) => {
                        tracing::debug!(error = %err, "The change watcher lost the database.");
                        feed.set_watched(false);
                        break;
                    }
                }
                drop(feed);
                tokio::time::sleep(SQLITE_POLL).await;
            }
            tokio::time::sleep(RECONNECT_AFTER).await;
        }
    });
}

/// The PostgreSQL channel the change triggers notify.
pub(crate) const PG_CHANNEL: &str = "pinion_changes";

/// Listens for the change notifications of other replicas and processes.
pub(crate) fn watch_postgres(feed: &ChangeFeed, pool: sqlx::PgPool) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if !feed.claim_watcher() {
        return;
    }
    let weak = feed.downgrade();
    runtime.spawn(async move {
        let _guard = WatcherGuard(weak.clone());
        loop {
            if weak.strong_count() == 0 || pool.is_closed() {
                return;
            }
            let listener = async {
                let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
                listener.listen(PG_CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            }
            .await;
            let mut listener = match listener {
                Ok(listener) => listener,
                Err(err) => {
                    tracing::debug!(error = %err, "The change listener could not connect.");
                    tokio::time::sleep(RECONNECT_AFTER).await;
                    continue;
                }
            };
            match weak.upgrade() {
                Some(inner) => ChangeFeed { inner }.set_watched(true),
                None => return,
            }
            loop {
                // Wake now and then to notice that the stores are gone.
                let next = tokio::time::timeout(PG_IDLE_CHECK, listener.try_recv()).await;
                let Some(feed) = weak.upgrade().map(|inner| ChangeFeed { inner }) else {
                    return;
                };
                match next {
                    Err(_elapsed) => {
                        // An idle connection can be dropped on the way (a NAT
                        // or firewall forgetting it) without either end being
                        // told, and its notifications with it: ask it
                        // something, so a dead one is noticed within seconds
                        // and a live one is never idle for long.
                        let ping = tokio::time::timeout(
                            PG_PING_TIMEOUT,
                            sqlx::query("SELECT 1").execute(&mut listener),
                        )
                        .await;
                        if !matches!(ping, Ok(Ok(_))) {
                            tracing::debug!("The change listener's connection stopped answering.");
                            feed.set_watched(false);
                            break;
                        }
                    }
                    Ok(Ok(Some(_notification))) => feed.bump(),
                    // `None`: the connection was lost, and notifications with it.
                    Ok(Ok(None)) | Ok(Err(_)) => {
                        tracing::debug!("The change listener lost its connection.");
                        feed.set_watched(false);
                        break;
                    }
                }
            }
            tokio::time::sleep(RECONNECT_AFTER).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unwatched_feed_reports_no_generation() {
        let feed = ChangeFeed::for_location("test:unwatched");
        assert_eq!(feed.generation(), None);
        feed.set_watched(true);
        let before = feed.generation().unwrap();
        assert!(feed.is_current(before));
        feed.bump();
        assert!(!feed.is_current(before));
        let after = feed.generation().unwrap();
        feed.set_watched(false);
        assert!(!feed.is_current(after));
    }

    #[test]
    fn stores_on_one_location_share_a_feed_and_others_do_not() {
        let a = ChangeFeed::for_location("test:shared");
        let b = ChangeFeed::for_location("test:shared");
        let other = ChangeFeed::for_location("test:other");
        a.set_watched(true);
        other.set_watched(true);
        let seen_by_b = b.generation().unwrap();
        let seen_by_other = other.generation().unwrap();
        a.bump();
        assert!(!b.is_current(seen_by_b));
        assert!(other.is_current(seen_by_other));
    }
}
