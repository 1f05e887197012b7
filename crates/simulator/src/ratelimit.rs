//! Fixed-window rate limiting per user, app and category, with Pinterest's Standard-access
//! numbers scaled by the configured factor, plus the universal per-second limit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ops::Category;

/// The outcome of counting one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateInfo {
    /// The window's limit (`x-ratelimit-limit`).
    pub limit: u32,
    /// Requests left in the window (`x-ratelimit-remaining`).
    pub remaining: u32,
    /// Whole seconds until the window resets (`x-ratelimit-reset`).
    pub reset_secs: u64,
    /// Whether this request is over the limit.
    pub exceeded: bool,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

/// Which bucket a request counts against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// A category of one user's calls through one app.
    Category(Option<usize>, String, Category),
    /// The universal per-second limit of one user through one app.
    Universal(Option<usize>, String),
}

/// The limiter.
pub struct RateLimiter {
    enabled: bool,
    scale: f64,
    window: Duration,
    universal: Option<u32>,
    windows: Mutex<HashMap<Bucket, Window>>,
}

impl RateLimiter {
    /// A limiter; `scale` multiplies each category's per-window limit.
    pub fn new(enabled: bool, scale: f64, window: Duration, universal: Option<u32>) -> Self {
        Self {
            enabled,
            scale,
            window,
            universal,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// The effective limit of a category.
    pub fn limit_of(&self, category: Category) -> u32 {
        ((f64::from(category.per_minute()) * self.scale).ceil() as u32).max(1)
    }

    fn count(&self, bucket: Bucket, limit: u32, window: Duration) -> RateInfo {
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, w| now.duration_since(w.started) < window.max(self.window));
        }
        let w = map.entry(bucket).or_insert(Window {
            started: now,
            count: 0,
        });
        if now.duration_since(w.started) >= window {
            *w = Window {
                started: now,
                count: 0,
            };
        }
        let exceeded = w.count >= limit;
        if !exceeded {
            w.count += 1;
        }
        let left = window.saturating_sub(now.duration_since(w.started));
        RateInfo {
            limit,
            remaining: limit.saturating_sub(w.count),
            reset_secs: left.as_secs() + u64::from(left.subsec_nanos() > 0),
            exceeded,
        }
    }

    /// Counts one request of `user` (none for app-only calls) through `client_id` in
    /// `category`; `None` when limits are off.
    pub fn check(
        &self,
        user: Option<usize>,
        client_id: &str,
        category: Category,
    ) -> Option<RateInfo> {
        if !self.enabled {
            return None;
        }
        if let Some(per_second) = self.universal {
            let info = self.count(
                Bucket::Universal(user, client_id.to_owned()),
                per_second,
                Duration::from_secs(1),
            );
            if info.exceeded {
                return Some(info);
            }
        }
        Some(self.count(
            Bucket::Category(user, client_id.to_owned(), category),
            self.limit_of(category),
            self.window,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_per_category_and_scaled() {
        let rl = RateLimiter::new(true, 0.01, Duration::from_secs(60), None);
        for i in 0..10 {
            let info = rl.check(Some(0), "1", Category::OrgRead).unwrap();
            assert!(!info.exceeded, "request {i} should pass");
        }
        let info = rl.check(Some(0), "1", Category::OrgRead).unwrap();
        assert!(info.exceeded);
        assert_eq!(info.limit, 10);
        assert_eq!(info.remaining, 0);
        assert!(info.reset_secs > 0 && info.reset_secs <= 60);
        assert!(!rl.check(Some(0), "1", Category::OrgWrite).unwrap().exceeded);
        assert!(!rl.check(Some(1), "1", Category::OrgRead).unwrap().exceeded);
        assert!(!rl.check(Some(0), "2", Category::OrgRead).unwrap().exceeded);
    }

    #[test]
    fn disabled_limits_count_nothing() {
        let rl = RateLimiter::new(false, 1.0, Duration::from_secs(60), Some(1));
        assert!(rl.check(Some(0), "1", Category::OrgRead).is_none());
    }
}
