//! Injected faults: per path prefix, for a number of requests or for a while, the
//! simulator delays, fails, rate-limits, corrupts, truncates or drops its answers,
//! applies a write and then loses its answer, or serves lists that lag behind writes.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::error::ApiError;
use crate::model::{FaultInfo, FaultKind, FaultSpec};

struct Rule {
    info: FaultInfo,
    until: Option<Instant>,
}

/// The registry of active faults.
#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Rule>>,
    next_id: AtomicU64,
}

impl Faults {
    /// Adds a fault and returns its id.
    pub fn add(&self, spec: FaultSpec) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let until = spec
            .duration_ms
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        self.lock().push(Rule {
            info: FaultInfo {
                id,
                spec,
                applied: 0,
            },
            until,
        });
        id
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Rule>> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The active faults.
    pub fn list(&self) -> Vec<FaultInfo> {
        let now = Instant::now();
        let mut rules = self.lock();
        rules.retain(|r| r.until.is_none_or(|u| u > now));
        rules.iter().map(|r| r.info.clone()).collect()
    }

    /// Removes one fault; false when it did not exist.
    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.lock();
        let before = rules.len();
        rules.retain(|r| r.info.id != id);
        rules.len() != before
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The fault to apply to this request, if any; counts it against the fault's budget.
    pub fn take(&self, method: &str, path: &str) -> Option<FaultKind> {
        let now = Instant::now();
        let mut rules = self.lock();
        rules.retain(|r| {
            r.until.is_none_or(|u| u > now) && r.info.spec.count.is_none_or(|c| r.info.applied < c)
        });
        let rule = rules.iter_mut().find(|r| {
            path.starts_with(&r.info.spec.path_prefix)
                && r.info
                    .spec
                    .method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
        })?;
        rule.info.applied += 1;
        Some(rule.info.spec.kind.clone())
    }
}

/// A body stream that fails after sending `prefix`, which makes the server abort the
/// connection part-way through the response. The pause before the failure lets the
/// status line, headers and prefix reach the client first.
fn failing_body(prefix: &'static [u8]) -> Body {
    use futures::StreamExt;
    let head = futures::stream::iter((!prefix.is_empty()).then(|| Ok(Bytes::from_static(prefix))));
    let fail = futures::stream::once(async move {
        if !prefix.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "injected fault",
        ))
    });
    Body::from_stream(head.chain(fail))
}

tokio::task_local! {
    /// Set while a request under a `stale_listing` fault is served: written
    /// pins created after this instant are left out of lists.
    static LISTING_CUTOFF: Instant;
}

/// Serves `inner` with lists lagging by `lag` (see [`listing_cutoff`]).
pub async fn with_listing_lag<F: std::future::Future>(lag: Duration, inner: F) -> F::Output {
    let cutoff = Instant::now().checked_sub(lag).unwrap_or_else(Instant::now);
    LISTING_CUTOFF.scope(cutoff, inner).await
}

/// While a `stale_listing` fault applies to the current request: the instant
/// after which written pins are not listed yet.
pub fn listing_cutoff() -> Option<Instant> {
    LISTING_CUTOFF.try_with(|cutoff| *cutoff).ok()
}

/// What an `applied_then_*` fault sends instead of a successful answer to a
/// request that was served; other answers go out unchanged.
pub fn replace_answer(kind: &FaultKind, served: Response) -> Response {
    if !served.status().is_success() {
        return served;
    }
    match kind {
        FaultKind::AppliedThenDrop => Response::new(failing_body(b"")),
        FaultKind::AppliedThenStatus { status } => {
            response_for(&FaultKind::Status { status: *status }).unwrap_or(served)
        }
        _ => served,
    }
}

/// The response a fault answers with before the request is served; `None`
/// for the faults that serve it (latency, `applied_then_*`, stale listing).
pub fn response_for(kind: &FaultKind) -> Option<Response> {
    match kind {
        FaultKind::Latency { .. }
        | FaultKind::AppliedThenDrop
        | FaultKind::AppliedThenStatus { .. }
        | FaultKind::StaleListing { .. } => None,
        FaultKind::Status { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            Some(
                ApiError::new(
                    status,
                    i64::from(status.as_u16()),
                    status.canonical_reason().unwrap_or("Server error"),
                )
                .into_response(),
            )
        }
        FaultKind::RateLimit => {
            let mut res = ApiError::rate_limited().into_response();
            let h = res.headers_mut();
            h.insert("x-ratelimit-limit", HeaderValue::from_static("1000"));
            h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            h.insert("x-ratelimit-reset", HeaderValue::from_static("60"));
            Some(res)
        }
        FaultKind::MalformedJson => {
            let mut res = (
                StatusCode::OK,
                "{\"items\": [{\"id\": \"1\", \"name\": \"trunc",
            )
                .into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Some(res)
        }
        FaultKind::TruncatedBody => {
            let mut res = Response::new(failing_body(b"{\"items\": [{\"id\": \"1\", "));
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Some(res)
        }
        FaultKind::DropConnection => Some(Response::new(failing_body(b""))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(count: Option<u64>) -> FaultSpec {
        FaultSpec {
            path_prefix: "/v5/boards".into(),
            method: None,
            kind: FaultKind::Status { status: 503 },
            count,
            duration_ms: None,
        }
    }

    #[test]
    fn a_counted_fault_applies_exactly_that_many_times() {
        let faults = Faults::default();
        faults.add(spec(Some(2)));
        assert!(faults.take("GET", "/v5/boards/1").is_some());
        assert!(faults.take("GET", "/v5/pins").is_none());
        assert!(faults.take("GET", "/v5/boards").is_some());
        assert!(faults.take("GET", "/v5/boards").is_none());
    }

    #[test]
    fn an_expired_fault_no_longer_applies() {
        let faults = Faults::default();
        let mut s = spec(None);
        s.duration_ms = Some(0);
        faults.add(s);
        assert!(faults.take("GET", "/v5/boards").is_none());
        assert!(faults.list().is_empty());
    }
}
