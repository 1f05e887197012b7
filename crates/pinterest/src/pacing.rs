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
//!
//! Pinterest counts per user and app, not per client, so a pacer can also
//! draw from a [`SharedBudget`]: a ledger all processes see (Pinion keeps it
//! in its database), with one GCRA lane per category and one for the
//! universal limit, keyed by (app, Pinterest account). Each request then
//! reserves its place in every lane it counts against, wherever it is sent
//! from, and waits until that place comes; the pacer's own limiters are used
//! only while the ledger cannot be reached. See [`BudgetLedger`].

use std::num::NonZeroU32;
use std::ops::Add;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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

    /// This budget as a lane of a shared ledger: one request every
    /// `per / requests`, with `burst - 1` of them allowed early.
    fn lane(&self, name: &'static str) -> Option<Lane> {
        let requests = NonZeroU32::new(self.requests)?;
        let interval = self.per / requests.get();
        Some(Lane {
            name,
            interval,
            tolerance: interval * (self.burst_size() - 1),
        })
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

/// One budget of a [`SharedBudget`], as the generic cell rate algorithm
/// (GCRA) sees it: requests are due `interval` apart, and one may go out up
/// to `tolerance` before it is due (so `tolerance / interval + 1` can go back
/// to back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lane {
    /// The lane's name within its key: a category (`org_read`) or
    /// `universal`.
    pub name: &'static str,
    /// The time between two requests at the budget's pace.
    pub interval: Duration,
    /// How early a request may go out.
    pub tolerance: Duration,
}

impl Lane {
    /// How long to wait before sending, for a request whose reservation
    /// moved the lane's theoretical arrival time to `ahead` from now: it was
    /// due one interval before that, and may go `tolerance` early.
    pub fn wait(&self, ahead: Duration) -> Duration {
        ahead.saturating_sub(self.interval + self.tolerance)
    }

    /// How far ahead of now the theoretical arrival time must be for no
    /// request to go out for `pause`.
    pub fn hold_ahead(&self, pause: Duration) -> Duration {
        pause + self.tolerance
    }
}

/// Why a [`BudgetLedger`] could not answer.
pub type LedgerError = Box<dyn std::error::Error + Send + Sync>;

/// Where a [`SharedBudget`]'s lanes are kept, so that every process drawing
/// on one key sees the others' requests. Each lane holds one number, its
/// theoretical arrival time (TAT): the time at which the lane will have
/// caught up with every request reserved so far.
///
/// A reservation moves the TAT to `max(TAT, now) + interval` in one atomic
/// step and reports how far ahead of now it then is; [`Lane::wait`] turns
/// that into the wait. Every reservation succeeds and waits its turn, so
/// processes are served in the order they asked. The ledger's clock must be
/// one clock for all its users (Pinion's is the database server's).
#[async_trait::async_trait]
pub trait BudgetLedger: Send + Sync + 'static {
    /// Reserves one request in each of `lanes` of `key`, returning for each
    /// lane, in order, how far ahead of now its TAT is after the
    /// reservation.
    async fn reserve(&self, key: &str, lanes: &[Lane]) -> Result<Vec<Duration>, LedgerError>;

    /// Moves the TAT of `lane` of `key` to at least `ahead` from now (never
    /// back), so no process sends in that lane before then.
    async fn hold(&self, key: &str, lane: &Lane, ahead: Duration) -> Result<(), LedgerError>;
}

/// A rate budget shared through a [`BudgetLedger`] under one key: Pinion
/// uses one key per (app client id, Pinterest account).
#[derive(Clone)]
pub struct SharedBudget {
    ledger: Arc<dyn BudgetLedger>,
    key: String,
}

impl SharedBudget {
    /// The budget of `key` in `ledger`.
    pub fn new(ledger: Arc<dyn BudgetLedger>, key: impl Into<String>) -> Self {
        Self {
            ledger,
            key: key.into(),
        }
    }

    /// The key every request of this budget draws from.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl std::fmt::Debug for SharedBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBudget")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl PartialEq for SharedBudget {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.ledger, &other.ledger) && self.key == other.key
    }
}

/// A [`BudgetLedger`] in this process's memory, on tokio's clock: for tests,
/// and for clients that share a budget only among themselves.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    lanes: Mutex<std::collections::HashMap<(String, &'static str), Instant>>,
}

#[async_trait::async_trait]
impl BudgetLedger for MemoryLedger {
    async fn reserve(&self, key: &str, lanes: &[Lane]) -> Result<Vec<Duration>, LedgerError> {
        let now = Instant::now();
        let mut map = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        Ok(lanes
            .iter()
            .map(|lane| {
                let tat = map.entry((key.to_owned(), lane.name)).or_insert(now);
                *tat = (*tat).max(now) + lane.interval;
                *tat - now
            })
            .collect())
    }

    async fn hold(&self, key: &str, lane: &Lane, ahead: Duration) -> Result<(), LedgerError> {
        let now = Instant::now();
        let mut map = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        let tat = map.entry((key.to_owned(), lane.name)).or_insert(now);
        *tat = (*tat).max(now + ahead);
        Ok(())
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
    lane: Option<Lane>,
    requests_per_second: Option<f64>,
    hold: Mutex<Hold>,
}

/// Enforces [`RateBudgets`] for one credential. Shared (in an `Arc`) by every
/// clone of a client.
pub struct Pacer {
    universal: Option<Limiter>,
    universal_lane: Option<Lane>,
    categories: Vec<CategoryPace>,
    max_header_pause: Duration,
    shared: Option<SharedBudget>,
    /// Whether the shared ledger's last answer was an error (logged once
    /// per outage, not per request).
    ledger_down: AtomicBool,
    /// Until when the ledger is not asked again after it failed, so a
    /// database that is away costs one failed call per [`LEDGER_RETRY`],
    /// not one (with its timeout) per request.
    ledger_retry_at: Mutex<Option<Instant>>,
}

/// How long a pacer whose ledger failed paces alone before asking it again.
pub const LEDGER_RETRY: Duration = Duration::from_secs(5);

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer")
            .field("max_header_pause", &self.max_header_pause)
            .finish_non_exhaustive()
    }
}

impl Pacer {
    /// A pacer enforcing `budgets` in this process alone.
    pub fn new(budgets: &RateBudgets) -> Self {
        Self::with_shared(budgets, None)
    }

    /// A pacer enforcing `budgets`, drawn from `shared` when given (its own
    /// limiters then serve only while the ledger cannot be reached).
    pub fn with_shared(budgets: &RateBudgets, shared: Option<SharedBudget>) -> Self {
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
                    lane: budget.and_then(|b| b.lane(category.as_str())),
                    requests_per_second: budget
                        .map(|b| f64::from(b.requests) / b.per.as_secs_f64()),
                    hold: Mutex::new(Hold::default()),
                }
            })
            .collect();
        let universal = budgets.effective_universal();
        Self {
            universal: limiter(universal),
            universal_lane: universal.and_then(|b| b.lane("universal")),
            categories,
            max_header_pause: budgets.max_header_pause,
            shared,
            ledger_down: AtomicBool::new(false),
            ledger_retry_at: Mutex::new(None),
        }
    }

    /// The shared budget this pacer draws from, if any.
    pub fn shared(&self) -> Option<&SharedBudget> {
        self.shared.as_ref()
    }

    /// Reserves a request of `category` in the shared ledger and waits for
    /// its turn. `false` when there is no ledger to ask or it did not
    /// answer, and this process's own limiters must pace the request.
    async fn acquire_shared(&self, category: RateCategory) -> bool {
        let Some(shared) = &self.shared else {
            return false;
        };
        let lanes: Vec<Lane> = self
            .universal_lane
            .into_iter()
            .chain(self.pace(category).lane)
            .collect();
        if lanes.is_empty() {
            return true;
        }
        {
            let retry_at = self
                .ledger_retry_at
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if retry_at.is_some_and(|at| Instant::now() < at) {
                return false;
            }
        }
        match shared.ledger.reserve(&shared.key, &lanes).await {
            Ok(ahead) => {
                if self.ledger_down.swap(false, Ordering::Relaxed) {
                    tracing::info!("The shared rate budget answers again; pacing with it.");
                }
                let wait = lanes
                    .iter()
                    .zip(ahead)
                    .map(|(lane, ahead)| lane.wait(ahead))
                    .max()
                    .unwrap_or_default();
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                true
            }
            Err(err) => {
                *self
                    .ledger_retry_at
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + LEDGER_RETRY);
                if !self.ledger_down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %err, "The shared rate budget could not be reached; pacing this client alone until it answers.");
                }
                false
            }
        }
    }

    fn pace(&self, category: RateCategory) -> &CategoryPace {
        &self.categories[category.index()]
    }

    /// Waits until a request in `category` may go out, and returns how long
    /// that took.
    pub async fn acquire(&self, category: RateCategory) -> Duration {
        let start = Instant::now();
        let pace = self.pace(category);
        if !self.acquire_shared(category).await {
            if let Some(limiter) = &self.universal {
                take(limiter).await;
            }
            if let Some(limiter) = &pace.limiter {
                take(limiter).await;
            }
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

    /// Stops requests in `category` for `duration` (capped), e.g. after a 429:
    /// in this pacer, and, in the background, for every process drawing on
    /// the same shared budget.
    pub fn pause(&self, category: RateCategory, duration: Duration) {
        let duration = duration.min(self.max_header_pause);
        if let (Some(shared), Some(lane)) = (&self.shared, self.pace(category).lane)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let shared = shared.clone();
            runtime.spawn(async move {
                if let Err(err) = shared
                    .ledger
                    .hold(&shared.key, &lane, lane.hold_ahead(duration))
                    .await
                {
                    tracing::debug!(error = %err, "Could not pause the shared rate budget.");
                }
            });
        }
        let until = Instant::now() + duration;
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

    #[tokio::test(start_paused = true)]
    async fn pacers_sharing_a_ledger_together_stay_within_one_budget() {
        let ledger: Arc<dyn BudgetLedger> = Arc::new(MemoryLedger::default());
        let budgets = RateBudgets::standard();
        let pacers: Vec<Arc<Pacer>> = (0..3)
            .map(|_| {
                Arc::new(Pacer::with_shared(
                    &budgets,
                    Some(SharedBudget::new(Arc::clone(&ledger), "app:account")),
                ))
            })
            .collect();
        let counts = futures::future::join_all(pacers.iter().map(|pacer| {
            let pacer = Arc::clone(pacer);
            async move { count_in(&pacer, RateCategory::OrgRead, Duration::from_secs(60)).await }
        }))
        .await;
        let total: u32 = counts.iter().sum();
        // Alone each would send 950 + a burst; together they share that.
        assert!((940..=966).contains(&total), "{counts:?}");
        assert!(
            counts.iter().all(|n| *n > 250),
            "every pacer gets its turn: {counts:?}"
        );
        // Another key is another budget.
        let other = Pacer::with_shared(
            &budgets,
            Some(SharedBudget::new(Arc::clone(&ledger), "app:other")),
        );
        assert_eq!(other.acquire(RateCategory::OrgRead).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_reaches_every_pacer_of_the_shared_budget() {
        let ledger: Arc<dyn BudgetLedger> = Arc::new(MemoryLedger::default());
        let shared = || Some(SharedBudget::new(Arc::clone(&ledger), "k"));
        let first = Pacer::with_shared(&RateBudgets::standard(), shared());
        let second = Pacer::with_shared(&RateBudgets::standard(), shared());
        first.pause(RateCategory::OrgRead, Duration::from_secs(5));
        tokio::task::yield_now().await;
        let waited = second.acquire(RateCategory::OrgRead).await;
        assert!(
            waited >= Duration::from_secs(5) && waited < Duration::from_secs(6),
            "{waited:?}"
        );
    }

    #[derive(Debug, Default)]
    struct DownLedger {
        asked: std::sync::atomic::AtomicU32,
    }

    #[async_trait::async_trait]
    impl BudgetLedger for DownLedger {
        async fn reserve(&self, _: &str, _: &[Lane]) -> Result<Vec<Duration>, LedgerError> {
            self.asked.fetch_add(1, Ordering::Relaxed);
            Err("the database is away".into())
        }
        async fn hold(&self, _: &str, _: &Lane, _: Duration) -> Result<(), LedgerError> {
            Err("the database is away".into())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn without_its_ledger_a_pacer_keeps_its_own_budget() {
        let ledger = Arc::new(DownLedger::default());
        let pacer = Pacer::with_shared(
            &RateBudgets::standard(),
            Some(SharedBudget::new(ledger.clone(), "k")),
        );
        let n = count_in(&pacer, RateCategory::OrgRead, Duration::from_secs(60)).await;
        assert!((940..=966).contains(&n), "{n} requests in a minute");
        // Asked again every LEDGER_RETRY, not for every request.
        let asked = ledger.asked.load(Ordering::Relaxed);
        assert!((12..=13).contains(&asked), "asked {asked} times");
    }

    #[test]
    fn a_lane_waits_for_its_turn_less_its_tolerance() {
        let lane = Budget::per_minute(600).lane("org_read").unwrap();
        assert_eq!(lane.interval, Duration::from_millis(100));
        assert_eq!(lane.tolerance, Duration::from_millis(900), "a burst of 10");
        assert_eq!(lane.wait(Duration::from_millis(100)), Duration::ZERO);
        assert_eq!(lane.wait(Duration::from_millis(1_000)), Duration::ZERO);
        assert_eq!(
            lane.wait(Duration::from_millis(1_500)),
            Duration::from_millis(500)
        );
        assert_eq!(
            lane.hold_ahead(Duration::from_secs(2)),
            Duration::from_millis(2_900)
        );
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
