//! Sign-in throttling: failed password sign-ins are counted per username and
//! per client address, and once either passes its limit within the window,
//! further attempts are refused without checking the password until the
//! window ends.
//!
//! The username key is the name as typed (trimmed, lower-cased), whether or
//! not such a user exists, so the answer never tells a known user from an
//! unknown one. A successful sign-in clears its username's count. The counts
//! live in this process: each `pinion serve` replica throttles on its own, so
//! with N replicas an attacker gets at most N times the limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed sign-ins allowed per username within [`WINDOW`].
pub const MAX_FAILURES_PER_USERNAME: u32 = 5;
/// Failed sign-ins allowed per client address within [`WINDOW`] (many users
/// can share an address behind a NAT, so it is looser).
pub const MAX_FAILURES_PER_CLIENT: u32 = 50;
/// How long failures are remembered, counted from the first in a series.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Keys kept before expired ones are swept, so memory stays bounded.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Username(String),
    Client(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    first: Instant,
    count: u32,
}

/// Counts failed sign-ins; see the module docs.
#[derive(Debug, Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<Key, Failures>>,
}

impl SignInThrottle {
    fn keys(username: &str, client: Option<IpAddr>) -> Vec<(Key, u32)> {
        let mut keys = vec![(
            Key::Username(username.trim().to_lowercase()),
            MAX_FAILURES_PER_USERNAME,
        )];
        if let Some(client) = client {
            keys.push((Key::Client(client), MAX_FAILURES_PER_CLIENT));
        }
        keys
    }

    /// `Some(wait)` when an attempt for `username` from `client` must be
    /// refused now, with how long until it may be tried again.
    pub fn check(&self, username: &str, client: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        Self::keys(username, client)
            .into_iter()
            .filter_map(|(key, limit)| {
                let entry = failures.get(&key)?;
                let ends = entry.first + WINDOW;
                (entry.count >= limit && now < ends).then(|| ends - now)
            })
            .max()
    }

    /// Records a failed attempt.
    pub fn failed(&self, username: &str, client: Option<IpAddr>, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, entry| now < entry.first + WINDOW);
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

    /// Clears a username's count after a successful sign-in.
    pub fn succeeded(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&Key::Username(username.trim().to_lowercase()));
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
        throttle.succeeded("carol");
        throttle.failed("carol", CLIENT, now);
        assert_eq!(throttle.check("carol", CLIENT, now), None);

        for n in 0..MAX_FAILURES_PER_CLIENT {
            throttle.failed(&format!("user{n}"), CLIENT, now);
        }
        assert!(throttle.check("someone-new", CLIENT, now).is_some());
        assert_eq!(throttle.check("someone-new", None, now), None);
    }
}
