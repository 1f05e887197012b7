//! Counters a sync reports: requests, retries, 429s, refreshes and time spent
//! waiting. Shared by every clone of a client.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Live counters, updated with relaxed atomics.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    refreshes: AtomicU64,
    pacing_wait_us: AtomicU64,
    retry_wait_us: AtomicU64,
    bytes_received: AtomicU64,
}

/// A snapshot of a client's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent (every attempt counts).
    pub requests: u64,
    /// Attempts repeated after a transient failure or a 429.
    pub retries: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Token refreshes asked for after a 401.
    pub refreshes: u64,
    /// Time spent waiting for the client-side rate budget or a header pause.
    pub pacing_wait: Duration,
    /// Time spent sleeping before retries (backoff and 429 waits).
    pub retry_wait: Duration,
    /// Response body bytes received (after decompression).
    pub bytes_received: u64,
}

impl ClientStats {
    /// The counts accumulated since `earlier`, e.g. for one stream of a run.
    pub fn since(&self, earlier: &ClientStats) -> ClientStats {
        ClientStats {
            requests: self.requests.saturating_sub(earlier.requests),
            retries: self.retries.saturating_sub(earlier.retries),
            rate_limited: self.rate_limited.saturating_sub(earlier.rate_limited),
            refreshes: self.refreshes.saturating_sub(earlier.refreshes),
            pacing_wait: self.pacing_wait.saturating_sub(earlier.pacing_wait),
            retry_wait: self.retry_wait.saturating_sub(earlier.retry_wait),
            bytes_received: self.bytes_received.saturating_sub(earlier.bytes_received),
        }
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

impl Counters {
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn refresh(&self) {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn pacing_wait(&self, waited: Duration) {
        self.pacing_wait_us
            .fetch_add(micros(waited), Ordering::Relaxed);
    }

    pub(crate) fn retry_wait(&self, waited: Duration) {
        self.retry_wait_us
            .fetch_add(micros(waited), Ordering::Relaxed);
    }

    pub(crate) fn bytes(&self, n: usize) {
        self.bytes_received.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ClientStats {
        ClientStats {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            refreshes: self.refreshes.load(Ordering::Relaxed),
            pacing_wait: Duration::from_micros(self.pacing_wait_us.load(Ordering::Relaxed)),
            retry_wait: Duration::from_micros(self.retry_wait_us.load(Ordering::Relaxed)),
            bytes_received: self.bytes_received.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_subtracts_an_earlier_snapshot() {
        let counters = Counters::default();
        counters.request();
        let before = counters.snapshot();
        counters.request();
        counters.retry();
        counters.retry_wait(Duration::from_millis(5));
        let delta = counters.snapshot().since(&before);
        assert_eq!(delta.requests, 1);
        assert_eq!(delta.retries, 1);
        assert_eq!(delta.retry_wait, Duration::from_millis(5));
        assert_eq!(delta.rate_limited, 0);
    }
}
