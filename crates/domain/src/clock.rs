//! The source of wall-clock time, injected so tests can control expiry.

use chrono::{DateTime, Utc};

/// Something that tells the current time.
///
/// Production code uses [`SystemClock`]; tests pass a clock they can move.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
