//! Read results kept in memory until the database changes.
//!
//! A [`ReadCache`] keeps values read from the store, each tagged with the
//! store's [`Generation`] taken *before* the read, and hands a value back only
//! while the store's [`ChangeFeed`] still reports that generation (and the
//! value is younger than the caller's `max_age`). Any committed write, by this
//! process or another, moves the feed on, so a cached value never outlives the
//! data it was read from by more than the feed's notice (immediate for this
//! process's writes; see [`pinion_store::ChangeFeed`] for other processes).
//!
//! The cache holds at most `capacity` entries; when full, it starts over
//! empty, which costs some reads and never serves anything wrong.
//!
//! Misses are loaded once: requests that miss the same key at the same time
//! (every request in flight just after a write) wait for one load and share
//! its result, instead of each asking the database. Loads are serialised per
//! stripe of keys (a fixed set of locks chosen by the key's hash), so the
//! cache needs no bookkeeping per key; loads of keys in different stripes run
//! side by side. A caller waits at most `LOAD_WAIT` (250 ms) for the load before
//! it, then loads by itself: a load that hangs (a database that stopped
//! answering) never holds up the requests queued behind it for longer, and
//! they fail as they did without the cache.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pinion_store::{ChangeFeed, Generation};

/// Values read from the store under keys `K`, valid until the store changes.
#[derive(Debug)]
pub struct ReadCache<K, V> {
    feed: ChangeFeed,
    capacity: usize,
    entries: Mutex<HashMap<K, Entry<V>>>,
    hasher: RandomState,
    loading: [tokio::sync::Mutex<()>; LOAD_STRIPES],
}

/// How many keys may be loaded at once (at most one per stripe).
const LOAD_STRIPES: usize = 16;

/// How long a miss waits for the load of its stripe before loading by itself;
/// a listing of 50 credentials loads in a few milliseconds.
const LOAD_WAIT: Duration = Duration::from_millis(250);

#[derive(Debug)]
struct Entry<V> {
    generation: Generation,
    filled_at: Instant,
    value: V,
}

impl<K: Eq + Hash, V: Clone> ReadCache<K, V> {
    /// An empty cache over `feed`, keeping at most `capacity` entries.
    pub fn new(feed: ChangeFeed, capacity: usize) -> Self {
        Self {
            feed,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
            hasher: RandomState::new(),
            loading: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
        }
    }

    /// The value under `key` if it was read at the current generation and
    /// less than `max_age` ago; otherwise `load`'s, kept when `load` found
    /// one and no write happened while it ran. A miss first waits for a
    /// load of its stripe already under way, and takes that load's value
    /// if it is for the same key. `load` is called on a miss only, so a hit
    /// builds no query and copies no key.
    pub async fn get_or_load<E, F>(
        &self,
        key: &K,
        max_age: Duration,
        load: impl FnOnce() -> F,
    ) -> Result<Option<V>, E>
    where
        K: Clone,
        F: Future<Output = Result<Option<V>, E>>,
    {
        if let Some(value) = self.get(key, max_age) {
            return Ok(Some(value));
        }
        // One load per stripe at a time: whoever waited here finds the value
        // the load before it kept, unless that one found nothing or a write
        // came in between.
        let stripe = self.hasher.hash_one(key) as usize % LOAD_STRIPES;
        let _loading = tokio::time::timeout(LOAD_WAIT, self.loading[stripe].lock())
            .await
            .ok();
        if let Some(value) = self.get(key, max_age) {
            return Ok(Some(value));
        }
        // Taken before the read, so a write during it leaves the value out.
        let generation = self.feed.generation();
        let value = load().await?;
        if let (Some(generation), Some(value)) = (generation, &value) {
            self.insert(key.clone(), generation, value.clone());
        }
        Ok(value)
    }

    fn get(&self, key: &K, max_age: Duration) -> Option<V> {
        let current = self.feed.generation()?;
        let entries = self.lock();
        let entry = entries.get(key)?;
        (entry.generation == current && entry.filled_at.elapsed() < max_age)
            .then(|| entry.value.clone())
    }

    fn insert(&self, key: K, generation: Generation, value: V) {
        if !self.feed.is_current(generation) {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                generation,
                filled_at: Instant::now(),
                value,
            },
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Entry<V>>> {
        // A panic while holding the lock leaves a map that is still sound.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Waits (at most 10 s) until `feed`'s watcher reports a generation: before
/// that a [`ReadCache`] keeps nothing, so a test of caching must wait.
#[cfg(test)]
pub(crate) async fn feed_started(feed: &ChangeFeed) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while feed.generation().is_none() {
        assert!(
            Instant::now() < deadline,
            "the change watcher never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until `feed`'s generation has held still for ten watcher polls:
/// the SQLite watcher has seen the writes made before the call (it bumps
/// the feed again when it notices them, up to a poll later, or more on a
/// loaded machine), so a read cached now is not dropped by an old write.
#[cfg(test)]
pub(crate) async fn feed_settled(feed: &ChangeFeed) {
    feed_started(feed).await;
    let mut last = feed.generation();
    let mut still = 0;
    while still < 10 {
        tokio::time::sleep(pinion_store::SQLITE_POLL).await;
        let now = feed.generation();
        if now == last {
            still += 1;
        } else {
            still = 0;
            last = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    async fn watched_feed(dir: &tempfile::TempDir) -> (Arc<dyn pinion_store::Store>, ChangeFeed) {
        let keys = pinion_store::KeySource::Given(Arc::new(pinion_store::Keyring::generate()));
        let store = pinion_store::connect(dir.path().join("cache.db").to_str().unwrap(), keys)
            .await
            .unwrap()
            .store;
        let feed = store.changes().clone();
        feed_started(&feed).await;
        // Let the watcher notice the migrations' writes before measuring.
        tokio::time::sleep(pinion_store::SQLITE_POLL * 10).await;
        (store, feed)
    }

    /// Asks `cache` for key 1, with a load that answers `result`.
    async fn load(
        cache: &ReadCache<u32, u64>,
        result: Result<Option<u64>, ()>,
    ) -> Result<Option<u64>, ()> {
        cache
            .get_or_load(&1, Duration::MAX, || async { result })
            .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_of_one_key_share_one_load() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, feed) = watched_feed(&dir).await;
        let cache = Arc::new(ReadCache::<u32, u64>::new(feed, 8));
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let (cache, loads) = (cache.clone(), loads.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_load(&1, Duration::MAX, || async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok::<_, ()>(Some(42))
                    })
                    .await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok(Some(42)));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1, "one load for 32 misses");
    }

    #[tokio::test]
    async fn a_load_that_hangs_holds_up_the_next_miss_only_for_the_load_wait() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, feed) = watched_feed(&dir).await;
        let cache = Arc::new(ReadCache::<u32, u64>::new(feed, 8));
        let stuck = cache.clone();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let hanging = tokio::spawn(async move {
            stuck
                .get_or_load(&1, Duration::MAX, || async {
                    started_tx.send(()).unwrap();
                    std::future::pending::<Result<Option<u64>, ()>>().await
                })
                .await
        });
        started_rx.await.unwrap();
        let next = tokio::time::timeout(LOAD_WAIT * 20, load(&cache, Ok(Some(7))))
            .await
            .expect("the second miss waited on the hung load");
        assert_eq!(next, Ok(Some(7)));
        hanging.abort();
    }

    #[tokio::test]
    async fn a_load_that_found_nothing_or_failed_is_tried_again_by_the_next_caller() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, feed) = watched_feed(&dir).await;
        let cache = ReadCache::<u32, u64>::new(feed, 8);
        let nothing = load(&cache, Ok(None)).await;
        assert_eq!(nothing, Ok(None));
        let failed = load(&cache, Err(())).await;
        assert_eq!(failed, Err(()));
        let found = load(&cache, Ok(Some(5))).await;
        assert_eq!(found, Ok(Some(5)));
    }

    #[tokio::test]
    async fn a_write_moves_every_key_to_a_fresh_load() {
        let dir = tempfile::tempdir().unwrap();
        let (store, feed) = watched_feed(&dir).await;
        let cache = ReadCache::<u32, u64>::new(feed, 8);
        let first = load(&cache, Ok(Some(1))).await;
        assert_eq!(first, Ok(Some(1)));
        let kept = load(&cache, Ok(Some(2))).await;
        assert_eq!(kept, Ok(Some(1)), "answered from memory");
        store
            .create_user(
                &pinion_domain::Username::parse("writer").unwrap(),
                pinion_domain::Role::User,
            )
            .await
            .unwrap();
        let reloaded = load(&cache, Ok(Some(3))).await;
        assert_eq!(reloaded, Ok(Some(3)), "read again after the write");
    }
}
