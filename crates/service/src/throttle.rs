//! Sign-in throttling: failed password sign-ins are counted per username and
//! per client address, and once either passes its limit within the window,
//! further attempts are refused without checking the password until the
//! window ends.
//!
//! The username key is the name as typed (trimmed, lower-cased), whether or
//! not such a user exists, so the answer never tells a known user from an
//! unknown one. An attempt is counted as a failure the moment it is let
//! through ([`SignInThrottle::begin`], one step under the lock), so attempts
//! sent together cannot all pass while the first ones are still being
//! checked; a successful sign-in then clears its username's count and gives
//! the client its attempt back, and an attempt that could not be checked (a
//! store error) gives both back. The counts
//! live in this process: each `pinion serve` replica throttles on its own, so
//! with N replicas an attacker gets at most N times the limit.
//!
//! Memory is bounded whatever an attacker sends: a username is kept as its
//! SHA-256 (32 bytes, however long the name typed), an IPv6 client as its
//! /64 network (one host usually holds a whole /64, so counting single
//! addresses would let it start afresh with each), and at most
//! [`MAX_KEYS`] keys are kept: expired ones go first, then the oldest.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Failed sign-ins allowed per username within [`WINDOW`].
pub const MAX_FAILURES_PER_USERNAME: u32 = 5;
/// Failed sign-ins allowed per client address within [`WINDOW`] (many users
/// can share an address behind a NAT, so it is looser).
pub const MAX_FAILURES_PER_CLIENT: u32 = 50;
/// How long failures are remembered, counted from the first in a series.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// The most usernames and client networks remembered at once (about 80
/// bytes each, so under 20 MB in all).
pub const MAX_KEYS: usize = 200_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// SHA-256 of the trimmed, lower-cased name.
    Username([u8; 32]),
    /// An IPv4 address, or the /64 network of an IPv6 one.
    Client(IpAddr),
}

impl Key {
    fn username(username: &str) -> Self {
        Self::Username(Sha256::digest(username.trim().to_lowercase().as_bytes()).into())
    }

    fn client(client: IpAddr) -> Self {
        Self::Client(match client {
            IpAddr::V4(_) => client,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let network = u128::from(v6) & (u128::MAX << 64);
                    IpAddr::V6(Ipv6Addr::from(network))
                }
            },
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    first: Instant,
    count: u32,
}

/// Counts failed sign-ins; see the module docs.
#[derive(Debug)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<Key, Failures>>,
    max_keys: usize,
}

impl Default for SignInThrottle {
    fn default() -> Self {
        Self::with_max_keys(MAX_KEYS)
    }
}

impl SignInThrottle {
    fn with_max_keys(max_keys: usize) -> Self {
        Self {
            failures: Mutex::default(),
            max_keys,
        }
    }

    fn keys(username: &str, client: Option<IpAddr>) -> Vec<(Key, u32)> {
        let mut keys = vec![(Key::username(username), MAX_FAILURES_PER_USERNAME)];
        if let Some(client) = client {
            keys.push((Key::client(client), MAX_FAILURES_PER_CLIENT));
        }
        keys
    }

    /// `Some(wait)` when an attempt for `username` from `client` must be
    /// refused now, with how long until it may be tried again.
    pub fn check(&self, username: &str, client: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        Self::refusal(&failures, username, client, now)
    }

    fn refusal(
        failures: &HashMap<Key, Failures>,
        username: &str,
        client: Option<IpAddr>,
        now: Instant,
    ) -> Option<Duration> {
        Self::keys(username, client)
            .into_iter()
            .filter_map(|(key, limit)| {
                let entry = failures.get(&key)?;
                let ends = entry.first + WINDOW;
                (entry.count >= limit && now < ends).then(|| ends - now)
            })
            .max()
    }

    /// Lets an attempt for `username` from `client` through, counting it as
    /// a failure at once, or refuses it with how long until it may be tried
    /// again. Follow it with [`Self::succeeded`] when the password matched,
    /// or [`Self::abandoned`] when it could not be checked.
    pub fn begin(
        &self,
        username: &str,
        client: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(wait) = Self::refusal(&failures, username, client, now) {
            return Err(wait);
        }
        self.record(&mut failures, username, client, now);
        Ok(())
    }

    /// Records a failed attempt.
    pub fn failed(&self, username: &str, client: Option<IpAddr>, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        self.record(&mut failures, username, client, now);
    }

    fn record(
        &self,
        failures: &mut HashMap<Key, Failures>,
        username: &str,
        client: Option<IpAddr>,
        now: Instant,
    ) {
        if failures.len() + 2 > self.max_keys {
            make_room(failures, self.max_keys, now);
        }
        for (key, _) in Self::keys(username, client) {
            let entry = failures.entry(key).or_insert(Failures {
                first: now,
                count: 0,
            });
            if now >= entry.first + WINDOW {
                *entry = Failures {
                    first: now,
                    count: 0,
                };
            }
            entry.count += 1;
        }
    }

    /// Clears a username's count after a successful sign-in, and gives
    /// `client` back the attempt [`Self::begin`] counted.
    pub fn succeeded(&self, username: &str, client: Option<IpAddr>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&Key::username(username));
        if let Some(client) = client {
            give_back(&mut failures, &Key::client(client));
        }
    }

    /// Gives back the attempt [`Self::begin`] counted, when the password
    /// could not be checked at all.
    pub fn abandoned(&self, username: &str, client: Option<IpAddr>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for (key, _) in Self::keys(username, client) {
            give_back(&mut failures, &key);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

/// Takes one attempt off `key`'s count, forgetting it at zero.
fn give_back(failures: &mut HashMap<Key, Failures>, key: &Key) {
    if let Some(entry) = failures.get_mut(key) {
        entry.count = entry.count.saturating_sub(1);
        if entry.count == 0 {
            failures.remove(key);
        }
    }
}

/// Drops expired keys and, if that is not enough, a quarter of the rest, the
/// fewest failures first and then the oldest, so a lock in force is the last
/// thing a flood of new names can push out, and the next few thousand
/// failures need no sweep (each sweep is linear).
fn make_room(failures: &mut HashMap<Key, Failures>, max_keys: usize, now: Instant) {
    failures.retain(|_, entry| now < entry.first + WINDOW);
    let keep = max_keys / 4 * 3;
    if failures.len() > keep {
        let mut order: Vec<(u32, Instant, Key)> = failures
            .iter()
            .map(|(key, entry)| (entry.count, entry.first, key.clone()))
            .collect();
        let cut = order.len() - keep;
        order.select_nth_unstable_by(cut, |a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for (_, _, key) in &order[..cut] {
            failures.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    #[test]
    fn a_username_is_locked_after_its_limit_until_the_window_ends() {
        let throttle = SignInThrottle::default();
        let start = Instant::now();
        for _ in 0..MAX_FAILURES_PER_USERNAME {
            assert_eq!(throttle.check("Alice", CLIENT, start), None);
            throttle.failed("Alice", CLIENT, start);
        }
        let wait = throttle.check("alice ", None, start).expect("locked");
        assert_eq!(wait, WINDOW);
        // Another name from the same address is still allowed.
        assert_eq!(throttle.check("bob", CLIENT, start), None);
        assert_eq!(throttle.check("alice", CLIENT, start + WINDOW), None);
    }

    #[test]
    fn a_success_clears_the_username_and_a_client_has_its_own_limit() {
        let throttle = SignInThrottle::default();
        let now = Instant::now();
        for _ in 0..MAX_FAILURES_PER_USERNAME - 1 {
            throttle.failed("carol", CLIENT, now);
        }
        throttle.succeeded("carol", CLIENT);
        throttle.failed("carol", CLIENT, now);
        assert_eq!(throttle.check("carol", CLIENT, now), None);

        for n in 0..MAX_FAILURES_PER_CLIENT {
            throttle.failed(&format!("user{n}"), CLIENT, now);
        }
        assert!(throttle.check("someone-new", CLIENT, now).is_some());
        assert_eq!(throttle.check("someone-new", None, now), None);
    }

    #[test]
    fn attempts_let_through_together_count_before_any_is_checked() {
        let throttle = SignInThrottle::default();
        let now = Instant::now();
        // Five attempts in flight at once: the sixth is refused before any
        // of them has been answered.
        for _ in 0..MAX_FAILURES_PER_USERNAME {
            assert_eq!(throttle.begin("dave", CLIENT, now), Ok(()));
        }
        assert_eq!(throttle.begin("dave", CLIENT, now), Err(WINDOW));
        // One that could not be checked gives its attempt back.
        throttle.abandoned("dave", CLIENT);
        assert_eq!(throttle.begin("dave", CLIENT, now), Ok(()));
        // A success clears the name and gives the client its attempt back.
        throttle.succeeded("dave", CLIENT);
        assert_eq!(throttle.check("dave", CLIENT, now), None);
        // The client still has the four failed attempts of dave.
        let left = MAX_FAILURES_PER_CLIENT - (MAX_FAILURES_PER_USERNAME - 1);
        for n in 0..left {
            assert_eq!(throttle.check("someone-new", CLIENT, now), None, "{n}");
            assert_eq!(throttle.begin(&format!("user{n}"), CLIENT, now), Ok(()));
        }
        assert!(throttle.check("someone-new", CLIENT, now).is_some());
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_network() {
        let throttle = SignInThrottle::default();
        let now = Instant::now();
        for n in 0..MAX_FAILURES_PER_CLIENT {
            let host: Ipv6Addr = format!("2001:db8:1:2::{:x}", n + 1).parse().unwrap();
            throttle.failed(&format!("user{n}"), Some(IpAddr::V6(host)), now);
        }
        let same_network: Ipv6Addr = "2001:db8:1:2:ffff::1".parse().unwrap();
        let next_network: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        assert!(
            throttle
                .check("new", Some(IpAddr::V6(same_network)), now)
                .is_some()
        );
        assert_eq!(
            throttle.check("new", Some(IpAddr::V6(next_network)), now),
            None
        );
        // An IPv4 address written as IPv6 is the IPv4 address.
        let mapped: Ipv6Addr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(
            Key::client(IpAddr::V6(mapped)),
            Key::client(CLIENT.unwrap())
        );
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_names_and_a_lock_in_force_stays() {
        let max_keys = 1_000;
        let throttle = SignInThrottle::with_max_keys(max_keys);
        let start = Instant::now();
        for _ in 0..MAX_FAILURES_PER_USERNAME {
            throttle.failed("victim", None, start);
        }
        let later = start + Duration::from_secs(1);
        let long_name = "x".repeat(1_000);
        for n in 0..10 * max_keys {
            let client = IpAddr::V4(std::net::Ipv4Addr::from(n as u32));
            throttle.failed(&format!("{long_name}{n}"), Some(client), later);
        }
        assert!(throttle.len() <= max_keys, "{} keys", throttle.len());
        assert!(throttle.check("victim", None, later).is_some());
    }
}
