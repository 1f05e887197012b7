//! Sign-in throttling that slows guessing without letting anyone lock a user
//! out (SECURITY.md R31).
//!
//! # Design
//!
//! Locking a username after a few failures (Pinion's first design) lets
//! anyone who knows the name stop its owner from signing in, and locking an
//! address locks out everyone behind the same NAT or reverse proxy. OWASP's
//! Authentication Cheat Sheet ("Account Lockout") warns that lockout is a
//! denial of service and recommends counting per (account, source) and
//! slowing down rather than locking; NIST SP 800-63B §5.2.2 asks for rate
//! limiting of failed attempts on an account (at most 100 in a row) and
//! lists increasing delays and trusting clients that have signed in before
//! as ways to do it without lockout. So failures are counted three ways:
//!
//! - **Per (username, client)**: [`MAX_FAILURES_PER_PAIR`] failures within
//!   [`WINDOW`] of the first, then that client is refused for that username
//!   until the window ends. Guessing one username from one client stays as
//!   slow as before: 5 tries per 15 minutes. Nobody else's failures count
//!   here, so the right password from the user's own client is never refused
//!   because of a stranger.
//! - **Per client** (an address; an IPv6 one by its /64): a bucket of
//!   [`CLIENT_BURST`] failures that leaks one every [`CLIENT_LEAK`] (50 per
//!   15 minutes). A full bucket refuses new attempts from the client only
//!   until the next failure leaks out (at most 18 s), so a NAT or proxy is
//!   slowed, not shut out for 15 minutes, and one client spraying a common
//!   password over many usernames is held to 200 tries an hour.
//! - **Per username, from every client**: a bucket that leaks one failure
//!   every [`USERNAME_LEAK`] (5 per 15 minutes). Past
//!   [`USERNAME_FREE_FAILURES`], a client that has itself failed for that
//!   username must wait a delay since its last failure that doubles with
//!   each further failure from anywhere (1 s, 2 s, 4 s … up to
//!   [`USERNAME_MAX_DELAY`]). An attack spread over many addresses thus gets
//!   each of them a try every few minutes at most, while a client with no
//!   failure for the username is never refused or delayed by it: the right
//!   password from the user's own client always goes through.
//!
//! An attempt is counted as a failure the moment it is let through
//! ([`SignInThrottle::begin`], one step under the lock), so attempts sent
//! together cannot all pass while the first ones are still being checked. A
//! successful sign-in clears the (username, client) count and gives the
//! client and the username their attempt back; an attempt that could not be
//! checked (a store error) gives all three back.
//!
//! The username key is the name as typed (trimmed, lower-cased), whether or
//! not such a user exists, so the answer never tells a known user from an
//! unknown one. The counts live in this process: each `pinion serve`
//! replica throttles on its own, so with N replicas an attacker gets at most
//! N times the limits.
//!
//! What is left: an attacker behind the same address as the user (one NAT)
//! shares the user's client bucket and can keep it full, slowing the user's
//! first try to one every 18 s at worst; OWASP's "device cookies" would let
//! a browser that signed in before skip it.
//!
//! Memory is bounded whatever an attacker sends: a username is kept as its
//! SHA-256 (32 bytes, however long the name typed), a (username, client)
//! pair as the SHA-256 of both, an IPv6 client as its /64 network (one host
//! usually holds a whole /64, so counting single addresses would let it
//! start afresh with each), and at most [`MAX_KEYS`] keys are kept: spent
//! ones go first, then those with the fewest failures, then the oldest.
//! (`governor`'s keyed limiters count successes too and cannot give an
//! attempt back, so the few counters here are kept by hand.)

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Failed sign-ins allowed per (username, client) within [`WINDOW`].
pub const MAX_FAILURES_PER_PAIR: u32 = 5;
/// How long a (username, client) pair's failures are remembered, counted
/// from the first in a series.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed sign-ins a client may have in its bucket (many users can share
/// an address behind a NAT, so it is looser than the pair's).
pub const CLIENT_BURST: u32 = 50;
/// How often one failure leaks out of a client's bucket (50 per 15 minutes).
pub const CLIENT_LEAK: Duration = Duration::from_secs(18);
/// Failures of a username, from anywhere, before its slowdown starts.
pub const USERNAME_FREE_FAILURES: u32 = 5;
/// How often one failure leaks out of a username's count (5 per 15 minutes).
pub const USERNAME_LEAK: Duration = Duration::from_secs(3 * 60);
/// The longest a client with failures for a username under attack waits
/// between its tries.
pub const USERNAME_MAX_DELAY: Duration = Duration::from_secs(5 * 60);
/// The highest a username's count goes: enough for the longest delay, so
/// the slowdown ends about an hour after an attack does.
const USERNAME_MAX_COUNT: u32 = USERNAME_FREE_FAILURES + 20;
/// The most keys remembered at once (about 100 bytes each, so about 20 MB
/// in all).
pub const MAX_KEYS: usize = 200_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// SHA-256 of the trimmed, lower-cased name and the client's key.
    Pair([u8; 32]),
    /// An IPv4 address, or the /64 network of an IPv6 one.
    Client(IpAddr),
    /// SHA-256 of the trimmed, lower-cased name.
    Username([u8; 32]),
}

fn normalized(username: &str) -> String {
    username.trim().to_lowercase()
}

fn client_network(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V4(_) => client,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & (u128::MAX << 64);
                IpAddr::V6(Ipv6Addr::from(network))
            }
        },
    }
}

impl Key {
    fn username(username: &str) -> Self {
        Self::Username(Sha256::digest(normalized(username).as_bytes()).into())
    }

    fn client(client: IpAddr) -> Self {
        Self::Client(client_network(client))
    }

    fn pair(username: &str, client: Option<IpAddr>) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"pinion sign-in pair v1\0");
        match client.map(client_network) {
            Some(IpAddr::V4(v4)) => {
                hasher.update([4u8]);
                hasher.update(v4.octets());
            }
            Some(IpAddr::V6(v6)) => {
                hasher.update([6u8]);
                hasher.update(v6.octets());
            }
            None => hasher.update([0u8]),
        }
        hasher.update(normalized(username).as_bytes());
        Self::Pair(hasher.finalize().into())
    }
}

/// One key's failures. For a pair, `count` failures since `since` (the
/// window's start) and the latest at `last`; for a client or a username, a
/// leaky bucket: `count` failures, of which the next leaks out one period
/// after `since`.
#[derive(Debug, Clone, Copy)]
struct Failures {
    since: Instant,
    last: Instant,
    count: u32,
}

impl Failures {
    fn new(now: Instant) -> Self {
        Self {
            since: now,
            last: now,
            count: 0,
        }
    }
}

/// How often a bucket key leaks, or `None` for a pair (a fixed window).
fn leak(key: &Key) -> Option<Duration> {
    match key {
        Key::Pair(_) => None,
        Key::Client(_) => Some(CLIENT_LEAK),
        Key::Username(_) => Some(USERNAME_LEAK),
    }
}

/// Brings `entry` up to `now`: a pair's window ends, a bucket leaks.
fn settle(key: &Key, entry: &mut Failures, now: Instant) {
    match leak(key) {
        None => {
            if now >= entry.since + WINDOW {
                *entry = Failures::new(now);
            }
        }
        Some(period) => {
            let elapsed = now.saturating_duration_since(entry.since);
            let leaked = (elapsed.as_nanos() / period.as_nanos()).min(u128::from(u32::MAX)) as u32;
            if leaked >= entry.count {
                entry.count = 0;
                entry.since = now;
            } else if leaked > 0 {
                entry.count -= leaked;
                entry.since += period * leaked;
            }
        }
    }
}

/// True when `entry` holds nothing worth keeping at `now`.
fn spent(key: &Key, entry: &Failures, now: Instant) -> bool {
    let mut settled = *entry;
    settle(key, &mut settled, now);
    settled.count == 0
}

/// The delay a client with failures for a username must leave since its
/// last one, when the username has `failures` from anywhere.
pub fn username_delay(failures: u32) -> Duration {
    if failures < USERNAME_FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - USERNAME_FREE_FAILURES).min(20);
    Duration::from_secs(1u64 << doublings).min(USERNAME_MAX_DELAY)
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

    fn keys(username: &str, client: Option<IpAddr>) -> Vec<Key> {
        let mut keys = vec![Key::pair(username, client), Key::username(username)];
        if let Some(client) = client {
            keys.push(Key::client(client));
        }
        keys
    }

    /// The counts of `key` as of `now` (zero when unknown).
    fn settled(failures: &HashMap<Key, Failures>, key: &Key, now: Instant) -> Failures {
        let mut entry = failures
            .get(key)
            .copied()
            .unwrap_or_else(|| Failures::new(now));
        settle(key, &mut entry, now);
        entry
    }

    /// `Some(wait)` when an attempt for `username` from `client` would be
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
        let mut waits = Vec::new();
        let pair = Self::settled(failures, &Key::pair(username, client), now);
        if pair.count >= MAX_FAILURES_PER_PAIR {
            waits.push(pair.since + WINDOW - now);
        }
        if let Some(client) = client {
            let key = Key::client(client);
            let bucket = Self::settled(failures, &key, now);
            if bucket.count >= CLIENT_BURST {
                waits.push((bucket.since + CLIENT_LEAK).saturating_duration_since(now));
            }
        }
        // The username's slowdown reaches only clients that failed for it.
        if pair.count > 0 {
            let name = Self::settled(failures, &Key::username(username), now);
            let next = pair.last + username_delay(name.count);
            if next > now {
                waits.push(next - now);
            }
        }
        waits
            .into_iter()
            .max()
            .map(|wait| wait.max(Duration::from_millis(1)))
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
        if failures.len() + 3 > self.max_keys {
            make_room(&mut failures, self.max_keys, now);
        }
        for key in Self::keys(username, client) {
            let entry = failures.entry(key.clone()).or_insert(Failures::new(now));
            settle(&key, entry, now);
            if entry.count == 0 {
                entry.since = now;
            }
            entry.count = match key {
                Key::Username(_) => (entry.count + 1).min(USERNAME_MAX_COUNT),
                _ => entry.count.saturating_add(1),
            };
            entry.last = now;
        }
        Ok(())
    }

    /// Clears the (username, client) count after a successful sign-in, and
    /// gives the client and the username back the attempt
    /// [`Self::begin`] counted.
    pub fn succeeded(&self, username: &str, client: Option<IpAddr>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&Key::pair(username, client));
        give_back(&mut failures, &Key::username(username));
        if let Some(client) = client {
            give_back(&mut failures, &Key::client(client));
        }
    }

    /// Gives back the attempt [`Self::begin`] counted, when the password
    /// could not be checked at all.
    pub fn abandoned(&self, username: &str, client: Option<IpAddr>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for key in Self::keys(username, client) {
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

/// Drops spent keys and, if that is not enough, a quarter of the rest, the
/// fewest failures first and then the oldest, so a refusal in force is the
/// last thing a flood of new names can push out, and the next few thousand
/// failures need no sweep (each sweep is linear).
fn make_room(failures: &mut HashMap<Key, Failures>, max_keys: usize, now: Instant) {
    failures.retain(|key, entry| !spent(key, entry, now));
    let keep = max_keys / 4 * 3;
    if failures.len() > keep {
        let mut order: Vec<(u32, Instant, Key)> = failures
            .iter()
            .map(|(key, entry)| (entry.count, entry.last, key.clone()))
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

    fn address(n: u32) -> Option<IpAddr> {
        Some(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n)))
    }

    #[test]
    fn a_client_guessing_one_username_gets_five_tries_per_window() {
        let throttle = SignInThrottle::default();
        let start = Instant::now();
        for _ in 0..MAX_FAILURES_PER_PAIR {
            assert_eq!(throttle.begin("Alice", CLIENT, start), Ok(()));
        }
        let wait = throttle.check("alice ", CLIENT, start).expect("refused");
        assert_eq!(wait, WINDOW);
        // Another name from the same address is still allowed.
        assert_eq!(throttle.check("bob", CLIENT, start), None);
        assert_eq!(throttle.check("alice", CLIENT, start + WINDOW), None);
    }

    #[test]
    fn strangers_failures_never_refuse_the_users_own_client() {
        let throttle = SignInThrottle::default();
        let start = Instant::now();
        // A thousand failures for alice from a hundred other addresses.
        for round in 0..10u32 {
            let now = start + Duration::from_secs(u64::from(round));
            for n in 0..100 {
                let _ = throttle.begin("alice", address(n), now);
            }
        }
        let now = start + Duration::from_secs(10);
        // Alice's own client, with no failure, goes straight through.
        assert_eq!(throttle.check("alice", CLIENT, now), None);
        assert_eq!(throttle.begin("alice", CLIENT, now), Ok(()));
        throttle.succeeded("alice", CLIENT);
        assert_eq!(throttle.check("alice", CLIENT, now), None);
        // The strangers are slowed: each may try again only after the
        // longest delay, however many addresses they have.
        let wait = throttle.check("alice", address(7), now).expect("slowed");
        assert!(
            wait >= USERNAME_MAX_DELAY - Duration::from_secs(10),
            "{wait:?}"
        );
        assert!(
            throttle
                .check("alice", address(7), now + USERNAME_MAX_DELAY)
                .is_none()
        );
        // A user who mistyped once under attack waits, and is not locked.
        assert_eq!(throttle.begin("alice", CLIENT, now), Ok(()));
        let wait = throttle.check("alice", CLIENT, now).expect("slowed");
        assert!(wait <= USERNAME_MAX_DELAY, "{wait:?}");
        assert_eq!(throttle.check("alice", CLIENT, now + wait), None);
    }

    #[test]
    fn the_username_delay_doubles_past_the_free_failures() {
        assert_eq!(username_delay(0), Duration::ZERO);
        assert_eq!(username_delay(USERNAME_FREE_FAILURES - 1), Duration::ZERO);
        assert_eq!(
            username_delay(USERNAME_FREE_FAILURES),
            Duration::from_secs(1)
        );
        assert_eq!(
            username_delay(USERNAME_FREE_FAILURES + 3),
            Duration::from_secs(8)
        );
        assert_eq!(username_delay(u32::MAX), USERNAME_MAX_DELAY);
    }

    #[test]
    fn a_full_client_bucket_slows_the_client_for_one_leak_not_a_window() {
        let throttle = SignInThrottle::default();
        let now = Instant::now();
        for n in 0..CLIENT_BURST {
            assert_eq!(throttle.begin(&format!("user{n}"), CLIENT, now), Ok(()));
        }
        assert_eq!(
            throttle.check("someone-new", CLIENT, now),
            Some(CLIENT_LEAK)
        );
        assert_eq!(throttle.check("someone-new", None, now), None);
        // One failure leaks out after CLIENT_LEAK: one more try.
        let later = now + CLIENT_LEAK;
        assert_eq!(throttle.begin("someone-new", CLIENT, later), Ok(()));
        assert!(throttle.check("another", CLIENT, later).is_some());
    }

    #[test]
    fn attempts_let_through_together_count_before_any_is_checked() {
        let throttle = SignInThrottle::default();
        let now = Instant::now();
        // Five attempts in flight at once: the sixth is refused before any
        // of them has been answered.
        for _ in 0..MAX_FAILURES_PER_PAIR {
            assert_eq!(throttle.begin("dave", CLIENT, now), Ok(()));
        }
        assert_eq!(throttle.begin("dave", CLIENT, now), Err(WINDOW));
        // One that could not be checked gives its attempt back.
        throttle.abandoned("dave", CLIENT);
        assert_eq!(throttle.begin("dave", CLIENT, now), Ok(()));
        // A success clears the pair and gives the client its attempt back.
        throttle.succeeded("dave", CLIENT);
        assert_eq!(throttle.check("dave", CLIENT, now), None);
        // The client still has the four failed attempts of dave.
        let left = CLIENT_BURST - (MAX_FAILURES_PER_PAIR - 1);
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
        for n in 0..CLIENT_BURST {
            let host: Ipv6Addr = format!("2001:db8:1:2::{:x}", n + 1).parse().unwrap();
            assert_eq!(
                throttle.begin(&format!("user{n}"), Some(IpAddr::V6(host)), now),
                Ok(())
            );
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
        assert_eq!(
            Key::pair("a", Some(IpAddr::V6(mapped))),
            Key::pair("A ", CLIENT)
        );
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_names_and_a_refusal_in_force_stays() {
        let max_keys = 1_000;
        let throttle = SignInThrottle::with_max_keys(max_keys);
        let start = Instant::now();
        for _ in 0..MAX_FAILURES_PER_PAIR {
            assert_eq!(throttle.begin("victim", CLIENT, start), Ok(()));
        }
        let later = start + Duration::from_secs(1);
        let long_name = "x".repeat(1_000);
        for n in 0..10 * max_keys {
            let client = IpAddr::V4(std::net::Ipv4Addr::from(n as u32));
            let _ = throttle.begin(&format!("{long_name}{n}"), Some(client), later);
        }
        assert!(throttle.len() <= max_keys, "{} keys", throttle.len());
        assert!(throttle.check("victim", CLIENT, later).is_some());
    }
}
