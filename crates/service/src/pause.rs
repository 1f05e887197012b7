//! Pause points for the crash tests (issue 4: SIGKILL around a refresh).
//!
//! In debug builds only, a refresh stops at the point named by the
//! environment variable `PINION_TEST_PAUSE_AT` (`before_request`,
//! `after_response` or `after_write`): it prints `PINION_TEST_PAUSED_AT=<point>`
//! on stderr and sleeps for an hour, so a test can kill the process there with
//! SIGKILL. Release builds compile the check away entirely, so production
//! binaries never read the variable.

/// Where a refresh can be paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PausePoint {
    /// The lease is written; the token request is not sent yet.
    BeforeRequest,
    /// Pinterest answered with new tokens; nothing is stored yet.
    AfterResponse,
    /// The new tokens are committed.
    AfterWrite,
}

impl PausePoint {
    #[cfg(debug_assertions)]
    fn name(self) -> &'static str {
        match self {
            Self::BeforeRequest => "before_request",
            Self::AfterResponse => "after_response",
            Self::AfterWrite => "after_write",
        }
    }
}

/// The environment variable naming the point to pause at (debug builds only).
#[cfg(debug_assertions)]
pub(crate) const PAUSE_ENV: &str = "PINION_TEST_PAUSE_AT";

/// Pauses here for an hour when this debug build was asked to; a no-op in
/// release builds.
pub(crate) async fn pause_point(point: PausePoint) {
    #[cfg(debug_assertions)]
    if std::env::var(PAUSE_ENV).is_ok_and(|wanted| wanted == point.name()) {
        use std::io::Write;
        let mut stderr = std::io::stderr();
        let _ = writeln!(stderr, "PINION_TEST_PAUSED_AT={}", point.name());
        let _ = stderr.flush();
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}
