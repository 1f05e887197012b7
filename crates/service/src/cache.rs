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

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pinion_store::{ChangeFeed, Generation};

/// Values read from the store under keys `K`, valid until the store changes.
#[derive(Debug)]
pub struct ReadCache<K, V> {
    feed: ChangeFeed,
    capacity: usize,
    entries: Mutex<HashMap<K, Entry<V>>>,
}

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
        }
    }

    /// The value under `key` if it was read at the current generation and
    /// less than `max_age` ago; otherwise `load`'s, kept when `load` found
    /// one and no write happened while it ran.
    pub async fn get_or_load<E>(
        &self,
        key: K,
        max_age: Duration,
        load: impl Future<Output = Result<Option<V>, E>>,
    ) -> Result<Option<V>, E> {
        if let Some(value) = self.get(&key, max_age) {
            return Ok(Some(value));
        }
        // Taken before the read, so a write during it leaves the value out.
        let generation = self.feed.generation();
        let value = load.await?;
        if let (Some(generation), Some(value)) = (generation, &value) {
            self.insert(key, generation, value.clone());
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
