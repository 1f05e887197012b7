//! Client-side pacing: stay under Pinterest's rate limits instead of
//! collecting 429s (SECURITY.md R26).
//!
//! Each rate-limit category gets a GCRA budget ([`governor`]), plus one
//! universal budget for all requests (100/s per user and app on standard
//! access). Budgets come from Pinterest's published numbers (FACTS.md §5),
//! multiplied by a scale factor (default 0.95) so a run uses most of the quota
//! without touching it. The `x-ratelimit-remaining`/`x-ratelimit-reset`
//! headers adjust the pace when present: remaining 0 pauses the category until
//! the reset, and a remaining quota too small for our pace spreads the rest of
//! the window evenly. A 429 pauses the category for every clone of the client.
//! The limiter runs on tokio's clock, so tests can pause and advance time.

use std::num::NonZeroU32;
use std::ops::Add;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use crate::endpoint::RateCategory;
pub use pinion_domain::RateTier;

/// A number of requests allowed per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Requests allowed per `per`.
    pub requests: u32,
    /// The period.
    pub per: Duration,
    /// How many requests may go out back to back; `None` means one second's
    /// share of the budget (at least 1), which keeps any rolling window
    /// close to the budget.
    pub burst: Option<u32>,
}

impl Budget {
    /// `requests` per minute.
    pub const fn per_minute(requests: u32) -> Self {
        Self {
            requests,
            per: Duration::from_secs(60),
            burst: None,
        }
    }

    /// `requests` per second.
    pub const fn per_second(requests: u32) -> Self {
        Self {
            requests,
            per: Duration::from_secs(1),
            burst: None,
        }
    }

    /// `requests` per day.
    pub const fn per_day(requests: u32) -> Self {
        Self {
            requests,
            per: Duration::from_secs(86_400),
            burst: None,
        }
    }

    /// The budget after applying `scale`: at least one request per period.
    fn scaled(self, scale: f64) -> Budget {
        let requests = ((f64::from(self.requests) * scale).floor() as u32).max(1);
        Budget { requests, ..self }
    }

    fn burst_size(&self) -> u32 {
        match self.burst {
            Some(burst) => burst.clamp(1, self.requests.max(1)),
            None => {
                let second = Duration::from_secs(1).min(self.per);
                let share = (f64::from(self.requests) * second.as_secs_f64()
                    / self.per.as_secs_f64())
                .ceil() as u32;
                share.clamp(1, self.requests.max(1))
            }
        }
    }

    fn quota(&self) -> Option<Quota> {
        let requests = NonZeroU32::new(self.requests)?;
        let burst = NonZeroU32::new(self.burst_size())?;
        Quota::with_period(self.per / requests.get()).map(|q| q.allow_burst(burst))
    }
}

/// The budgets a [`Pacer`] enforces.
#[derive(Debug, Clone, PartialEq)]
pub struct RateBudgets {
    categories: Vec<Option<Budget>>,
    universal: Option<Budget>,
    scale: f64,
    max_header_pause: Duration,
}

/// The default share of Pinterest's published limits the client uses.
pub const DEFAULT_SCALE: f64 = 0.95;

impl RateBudgets {
    /// Pinterest's standard-access limits per user and app (FACTS.md §5),
    /// scaled by [`DEFAULT_SCALE`]. `ads_read` and `ads_conversions` are
    /// published as 120,000/min, which the universal 100/s caps anyway; we
    /// budget 6,000/min. `msot_write` has no published number; we budget
    /// 100/min like the other writes.
    pub fn standard() -> Self {
        use RateCategory::*;
        let mut budgets = Self::unlimited();
        budgets.universal = Some(Budget::per_second(100));
        budgets.scale = DEFAULT_SCALE;
        for (category, per_minute) in [
            (OrgRead, 1_000),
            (OrgWrite, 100),
            (OrgAnalytics, 60),
            (AdsRead, 6_000),
            (AdsWrite, 400),
            (AdsAnalytics, 300),
            (AdsConversions, 6_000),
            (CatalogsRead, 100),
            (CatalogsWrite, 100),
            (TrendsRead, 60),
            (AdvancedAuctionRead, 50),
            (AdvancedAuctionWrite, 25),
            (MsotWrite, 100),
        ] {
            budgets.categories[category.index()] = Some(Budget::per_minute(per_minute));
        }
        budgets
    }

    /// Pinterest's trial-access limits: 1,000 requests a day in all, 300 a
    /// day for writes, scaled by [`DEFAULT_SCALE`].
    pub fn trial() -> Self {
        use RateCategory::*;
        let mut budgets = Self::unlimited();
        budgets.universal = Some(Budget::per_day(1_000));
        budgets.scale = DEFAULT_SCALE;
        for category in RateCategory::ALL {
            let per_day = if matches!(category, OrgWrite | AdsWrite) {
                300
            } else {
                1_000
            };
            budgets.categories[category.index()] = Some(Budget::per_day(per_day));
        }
        budgets
    }

    /// The budgets of `tier`: Pinterest's standard or trial access, a custom
    /// number of requests a minute in every category (under the universal
    /// 100 a second), or none.
    pub fn for_tier(tier: RateTier) -> Self {
        match tier {
            RateTier::Standard => Self::standard(),
            RateTier::Trial => Self::trial(),
            RateTier::Unlimited => Self::unlimited(),
            RateTier::PerMinute(per_minute) => {
                let mut budgets = Self::standard();
                for category in RateCategory::ALL {
                    budgets.categories[category.index()] = Some(Budget::per_minute(per_minute));
                }
                budgets
            }
        }
    }

    /// No client-side budget at all (header pauses and 429 pauses still apply).
    pub fn unlimited() -> Self {
        Self {
            categories: vec![None; RateCategory::ALL.len()],
            universal: None,
            scale: 1.0,
            max_header_pause: Duration::from_secs(120),
        }
    }

    /// Multiplies every budget by `scale` (e.g. 0.5 for half of Pinterest's
    /// limits). Values outside `(0, 1]` are clamped into it.
    pub fn with_scale(mut self, scale: f64) -> Self {
        self.scale = if scale.is_finite() && scale > 0.0 {
            scale.min(1.0)
        } else {
            1.0
        };
        self
    }

    /// Sets or removes one category's budget (before scaling).
    pub fn with_budget(mut self, category: RateCategory, budget: Option<Budget>) -> Self {
        self.categories[category.index()] = budget;
        self
    }

    /// Sets or removes the budget shared by all requests (before scaling).
    pub fn with_universal(mut self, budget: Option<Budget>) -> Self {
        self.universal = budget;
        self
    }

    /// The longest pause a `x-ratelimit-reset` header can impose.
    pub fn with_max_header_pause(mut self, max: Duration) -> Self {
        self.max_header_pause = max;
        self
    }

    /// The budget the pacer enforces for `category`, after scaling.
    pub fn effective(&self, category: RateCategory) -> Option<Budget> {
        self.categories[category.index()].map(|b| b.scaled(self.scale))
    }

    /// The universal budget the pacer enforces, after scaling.
    pub fn effective_universal(&self) -> Option<Budget> {
        self.universal.map(|b| b.scaled(self.scale))
    }

    /// The scale factor.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Default for RateBudgets {
    fn default() -> Self {
        Self::standard()
    }
}

/// Governor's clock, backed by tokio's (pausable) clock.
#[derive(Debug, Clone, Copy, Default)]
struct TokioClock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct TokioInstant(Instant);

impl Add<Nanos> for TokioInstant {
    type Output = TokioInstant;

    fn add(self, rhs: Nanos) -> TokioInstant {
        TokioInstant(self.0 + Duration::from(rhs))
    }
}

impl Reference for TokioInstant {
    fn duration_since(&self, earlier: Self) -> Nanos {
        Nanos::from(self.0.saturating_duration_since(earlier.0))
    }

    fn saturating_sub(&self, duration: Nanos) -> Self {
        TokioInstant(
            self.0
                .checked_sub(Duration::from(duration))
                .unwrap_or(self.0),
        )
    }
}

impl Clock for TokioClock {
    type Instant = TokioInstant;

    fn now(&self) -> TokioInstant {
        TokioInstant(Instant::now())
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<TokioInstant>>;

async fn take(limiter: &Limiter) {
    loop {
        match limiter.check() {
            Ok(()) => return,
            Err(not_until) => tokio::time::sleep(not_until.wait_time_from(TokioClock.now())).await,
        }
    }
}

/// A remaining quota spread evenly until the window resets.
#[derive(Debug, Clone, Copy)]
struct Spread {
    until: Instant,
    gap: Duration,
    next_at: Instant,
}

#[derive(Debug, Default)]
struct Hold {
    paused_until: Option<Instant>,
    spread: Option<Spread>,
}

struct CategoryPace {
    limiter: Option<Limiter>,
    requests_per_second: Option<f64>,
    hold: Mutex<Hold>,
}

/// Enforces [`RateBudgets`] for one credential. Shared (in an `Arc`) by every
/// clone of a client.
pub struct Pacer {
    universal: Option<Limiter>,
    categories: Vec<CategoryPace>,
    max_header_pause: Duration,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer")
            .field("max_header_pause", &self.max_header_pause)
            .finish_non_exhaustive()
    }
}

impl Pacer {
    /// A pacer enforcing `budgets`.
    pub fn new(budgets: &RateBudgets) -> Self {
        let limiter = |budget: Option<Budget>| {
            budget
                .and_then(|b| b.quota())
                .map(|quota| Limiter::direct_with_clock(quota, TokioClock))
        };
        let categories = RateCategory::ALL
            .iter()
            .map(|category| {
                let budget = budgets.effective(*category);
                CategoryPace {
                    limiter: limiter(budget),
                    requests_per_second: budget
                        .map(|b| f64::from(b.requests) / b.per.as_secs_f64()),
                    hold: Mutex::new(Hold::default()),
                }
            })
            .collect();
        Self {
            universal: limiter(budgets.effective_universal()),
            categories,
            max_header_pause: budgets.max_header_pause,
        }
    }

    fn pace(&self, category: RateCategory) -> &CategoryPace {
        &self.categories[category.index()]
    }

    /// Waits until a request in `category` may go out, and returns how long
    /// that took.
    pub async fn acquire(&self, category: RateCategory) -> Duration {
        let start = Instant::now();
        if let Some(limiter) = &self.universal {
            take(limiter).await;
        }
        let pace = self.pace(category);
        if let Some(limiter) = &pace.limiter {
            take(limiter).await;
        }
        loop {
            let wake = {
                let mut hold = pace.hold.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                match (hold.paused_until, hold.spread) {
                    (Some(until), _) if until > now => Some(until),
                    (_, Some(spread)) if spread.until <= now => {
                        hold.spread = None;
                        None
                    }
                    (_, Some(spread)) if spread.next_at > now => Some(spread.next_at),
                    (_, Some(mut spread)) => {
                        spread.next_at = now + spread.gap;
                        hold.spread = Some(spread);
                        None
                    }
                    _ => None,
                }
            };
            match wake {
                Some(until) => tokio::time::sleep_until(until).await,
                None => break,
            }
        }
        start.elapsed()
    }

    /// Stops requests in `category` for `duration` (capped), e.g. after a 429.
    pub fn pause(&self, category: RateCategory, duration: Duration) {
        let until = Instant::now() + duration.min(self.max_header_pause);
        let mut hold = self
            .pace(category)
            .hold
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        hold.paused_until = Some(
            hold.paused_until
                .map_or(until, |current| current.max(until)),
        );
    }

    /// Adjusts the pace from a response's `x-ratelimit-remaining` and
    /// `x-ratelimit-reset` (seconds) headers.
    pub fn observe(&self, category: RateCategory, remaining: Option<u64>, reset: Option<Duration>) {
        let (Some(remaining), Some(reset)) = (remaining, reset) else {
            return;
        };
        let reset = reset.min(self.max_header_pause);
        if remaining == 0 {
            self.pause(category, reset);
            return;
        }
        let pace = self.pace(category);
        let ours = pace.requests_per_second.unwrap_or(f64::INFINITY);
        let theirs = remaining as f64 / reset.as_secs_f64().max(0.001);
        let mut hold = pace.hold.lock().unwrap_or_else(|e| e.into_inner());
        if theirs < ours {
            let now = Instant::now();
            let gap = reset / u32::try_from(remaining).unwrap_or(u32::MAX);
            let next_at = hold.spread.map_or(now, |s| s.next_at);
            hold.spread = Some(Spread {
                until: now + reset,
                gap,
                next_at,
            });
        } else {
            hold.spread = None;
        }
    }

    /// When requests in `category` may go out again, if a pause is in force
    /// (for showing "rate-limited until T").
    pub fn paused_until(&self, category: RateCategory) -> Option<Instant> {
        let hold = self
            .pace(category)
            .hold
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        hold.paused_until.filter(|until| *until > Instant::now())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rate_tiers_parse_print_and_set_every_category() {
        for (text, tier) in [
            ("standard", RateTier::Standard),
            ("Trial", RateTier::Trial),
            ("unlimited", RateTier::Unlimited),
            (" 600/min ", RateTier::PerMinute(600)),
        ] {
            assert_eq!(text.parse::<RateTier>(), Ok(tier), "{text}");
        }
        assert_eq!(RateTier::PerMinute(600).to_string(), "600/min");
        for bad in ["fast", "600", "0/min", "-5/min", "1.5/min", "9999999/min"] {
            assert!(bad.parse::<RateTier>().is_err(), "{bad}");
        }
        let custom = RateBudgets::for_tier(RateTier::PerMinute(600));
        for category in RateCategory::ALL {
            assert_eq!(
                custom.effective(*category),
                Some(Budget::per_minute(570)),
                "{category:?}: 600 scaled by 0.95"
            );
        }
        assert_eq!(
            custom.effective_universal(),
            RateBudgets::standard().effective_universal()
        );
        assert_eq!(
            RateBudgets::for_tier(RateTier::Unlimited),
            RateBudgets::unlimited()
        );
        assert_eq!(
            RateBudgets::for_tier(RateTier::default()),
            RateBudgets::standard()
        );
    }

    use super::*;

    async fn count_in(pacer: &Pacer, category: RateCategory, window: Duration) -> u32 {
        let end = Instant::now() + window;
        let mut n = 0;
        loop {
            pacer.acquire(category).await;
            if Instant::now() >= end {
                return n;
            }
            n += 1;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn standard_org_read_allows_at_most_the_scaled_budget_per_minute() {
        let pacer = Pacer::new(&RateBudgets::standard());
        let n = count_in(&pacer, RateCategory::OrgRead, Duration::from_secs(60)).await;
        // 950 per minute plus a one-second burst of 16, under Pinterest's 1,000.
        assert!((940..=966).contains(&n), "{n} requests in a minute");
        let n = count_in(&pacer, RateCategory::OrgRead, Duration::from_secs(60)).await;
        assert!(
            (940..=960).contains(&n),
            "{n} requests in the second minute"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn org_write_is_paced_to_95_per_minute() {
        let pacer = Pacer::new(&RateBudgets::standard());
        let n = count_in(&pacer, RateCategory::OrgWrite, Duration::from_secs(120)).await;
        assert!((188..=192).contains(&n), "{n} writes in two minutes");
    }

    #[tokio::test(start_paused = true)]
    async fn scale_lowers_every_budget() {
        let budgets = RateBudgets::standard().with_scale(0.1);
        assert_eq!(
            budgets.effective(RateCategory::OrgRead).unwrap().requests,
            100
        );
        let pacer = Pacer::new(&budgets);
        let n = count_in(&pacer, RateCategory::OrgRead, Duration::from_secs(60)).await;
        assert!((99..=102).contains(&n), "{n}");
    }

    #[tokio::test(start_paused = true)]
    async fn categories_do_not_share_a_budget() {
        let pacer = Pacer::new(&RateBudgets::standard());
        for _ in 0..100 {
            pacer.acquire(RateCategory::OrgWrite).await;
        }
        let waited = pacer.acquire(RateCategory::OrgRead).await;
        assert_eq!(waited, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_remaining_pauses_the_category_until_reset() {
        let pacer = Pacer::new(&RateBudgets::unlimited());
        pacer.observe(RateCategory::OrgRead, Some(0), Some(Duration::from_secs(7)));
        assert!(pacer.paused_until(RateCategory::OrgRead).is_some());
        let waited = pacer.acquire(RateCategory::OrgRead).await;
        assert!(
            waited >= Duration::from_secs(7) && waited < Duration::from_secs(8),
            "{waited:?}"
        );
        assert_eq!(pacer.acquire(RateCategory::OrgWrite).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn header_pause_is_capped() {
        let pacer =
            Pacer::new(&RateBudgets::unlimited().with_max_header_pause(Duration::from_secs(30)));
        pacer.observe(
            RateCategory::OrgRead,
            Some(0),
            Some(Duration::from_secs(1_000_000_000)),
        );
        let waited = pacer.acquire(RateCategory::OrgRead).await;
        assert!(waited <= Duration::from_secs(31), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn low_remaining_quota_is_spread_over_the_window() {
        let pacer = Pacer::new(&RateBudgets::standard());
        pacer.observe(
            RateCategory::OrgRead,
            Some(10),
            Some(Duration::from_secs(10)),
        );
        let n = count_in(&pacer, RateCategory::OrgRead, Duration::from_secs(10)).await;
        assert!(
            (9..=11).contains(&n),
            "{n} requests for 10 remaining in 10 s"
        );
        // After the window the normal budget applies again.
        let n = count_in(&pacer, RateCategory::OrgRead, Duration::from_secs(1)).await;
        assert!(n >= 15, "{n}");
    }

    #[test]
    fn trial_budgets_are_per_day() {
        let budgets = RateBudgets::trial();
        assert_eq!(
            budgets.effective(RateCategory::OrgWrite).unwrap(),
            Budget {
                requests: 285,
                ..Budget::per_day(300)
            }
        );
        assert_eq!(budgets.effective_universal().unwrap().requests, 950);
    }
}
