//! The shared state of one simulator and the middleware that applies to every request:
//! the `x-pinterest-rid` header, call statistics, injected faults and a log line that
//! never contains a query string, a header value or a body.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use crate::bookmark::BookmarkKey;
use crate::config::SimConfig;
use crate::faults::{self, Faults};
use crate::model::{FaultKind, Stats};
use crate::oauth::session::Sessions;
use crate::ratelimit::RateLimiter;
use crate::store::Store;
use crate::tokens::{Lifetimes, Tokens};

/// Everything one simulator holds.
pub struct SimState {
    pub config: SimConfig,
    store: RwLock<Store>,
    tokens: Mutex<Tokens>,
    pub sessions: Sessions,
    pub limiter: RateLimiter,
    pub faults: Faults,
    stats: Mutex<Stats>,
    pub bookmarks: BookmarkKey,
    rid: AtomicU64,
}

/// The state as handlers receive it.
pub type Shared = Arc<SimState>;

/// Why the state could not be built from a configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A fixture app or user was refused.
    #[error("fixture refused")]
    Fixture(#[from] crate::store::StoreError),
}

impl SimState {
    /// Builds the state and registers the fixtures.
    pub fn build(config: SimConfig) -> Result<Shared, BuildError> {
        let mut store = Store::new(config.seed, config.media_base_url.clone());
        for user in config.fixtures.users.clone() {
            let mut user = user;
            user.auto_approve |= config.auto_approve;
            store.add_user(user)?;
        }
        for app in config.fixtures.apps.clone() {
            store.add_app(app)?;
        }
        let tokens = Tokens::new(Lifetimes {
            access: config.access_token_ttl,
            refresh: config.refresh_token_ttl,
            code: config.code_ttl,
        });
        let limiter = RateLimiter::new(
            config.rate_limits_enabled,
            config.rate_limit_scale,
            config.rate_limit_window,
            config.universal_rate_limit_per_second,
        );
        Ok(Arc::new(Self {
            rid: AtomicU64::new(crate::generate::mix(config.seed ^ 0x4e1d)),
            config,
            store: RwLock::new(store),
            tokens: Mutex::new(tokens),
            sessions: Sessions::default(),
            limiter,
            faults: Faults::default(),
            stats: Mutex::new(Stats::default()),
            bookmarks: BookmarkKey::random(),
        }))
    }

    /// Read access to the data.
    pub fn store(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access to the data.
    pub fn store_mut(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The token store.
    pub fn tokens(&self) -> MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The statistics.
    pub fn stats(&self) -> MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a token request of a grant type.
    pub fn count_grant(&self, grant_type: &str, succeeded: bool) {
        let mut stats = self.stats();
        *stats.grant_types.entry(grant_type.to_owned()).or_default() += 1;
        if succeeded {
            *stats
                .grant_types_succeeded
                .entry(grant_type.to_owned())
                .or_default() += 1;
        }
    }

    fn next_rid(&self) -> String {
        let n = self.rid.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}", crate::generate::mix(n))
    }
}

/// Adds `x-pinterest-rid` to every response and logs one line per request.
pub async fn request_id(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    // The path alone is logged: query strings carry codes and states.
    let path_for_log = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    let rid = state.next_rid();
    if let Ok(value) = HeaderValue::from_str(&rid) {
        res.headers_mut().insert("x-pinterest-rid", value);
    }
    tracing::debug!(
        method = %method,
        path = %path_for_log,
        status = res.status().as_u16(),
        elapsed_us = started.elapsed().as_micros() as u64,
        rid = %rid,
        "Served a request."
    );
    res
}

/// Counts calls per endpoint and applies injected faults on the Pinterest surface.
pub async fn surface(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "(unmatched)".to_owned());
    {
        let mut stats = state.stats();
        *stats
            .endpoints
            .entry(format!("{method} {route}"))
            .or_default() += 1;
    }
    if let Some(kind) = state.faults.take(&method, req.uri().path()) {
        tracing::info!(method = %method, route = %route, fault = ?kind, "Injected a fault.");
        match kind {
            FaultKind::Latency { ms } => {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            FaultKind::AppliedThenDrop | FaultKind::AppliedThenStatus { .. } => {
                let served = next.run(req).await;
                return faults::replace_answer(&kind, served);
            }
            FaultKind::StaleListing { ms } => {
                let lag = std::time::Duration::from_millis(ms);
                return faults::with_listing_lag(lag, next.run(req)).await;
            }
            _ => {
                if let Some(res) = faults::response_for(&kind) {
                    return res;
                }
            }
        }
    }
    next.run(req).await
}
