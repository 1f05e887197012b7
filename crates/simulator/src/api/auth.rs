//! Authentication, scope checks and rate limiting of the v5 REST API, applied by one
//! middleware to every implemented operation before its handler runs.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::ops::{self, Scope, ScopeSet};
use crate::params::Params;
use crate::ratelimit::RateInfo;
use crate::state::Shared;
use crate::store::Viewer;
use crate::tokens::TokenKind;

/// The authenticated caller of an operation.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The operation user's index.
    pub user: usize,
    /// The operation user's account id.
    pub user_id: u64,
    /// The token's scopes.
    pub scopes: ScopeSet,
}

impl Caller {
    /// The caller as a viewer of data.
    pub fn viewer(&self) -> Viewer {
        Viewer {
            user: self.user,
            scopes: self.scopes,
        }
    }

    /// Fails with 401 code 3 unless the token has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::insufficient_scope())
        }
    }
}

/// Writes the `x-ratelimit-*` headers.
pub fn rate_headers(headers: &mut HeaderMap, info: &RateInfo) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(info.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(info.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(info.reset_secs));
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

fn with_cache_headers(mut res: Response) -> Response {
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    res
}

/// Authenticates the bearer token, counts the request against its rate limit and checks
/// the operation's scopes.
pub async fn authenticate(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let Some(op) = ops::find(req.method().as_str(), &route) else {
        return next.run(req).await;
    };
    let query = req.uri().query().unwrap_or("");
    // A token in the query string is refused even alongside a valid header.
    if Params::parse(query).is_ok_and(|p| p.has("access_token")) || query.contains("access_token=")
    {
        return with_cache_headers(ApiError::auth_failed().into_response());
    }
    let record = bearer(req.headers()).and_then(|t| state.tokens().check_access(t));
    let Some(record) = record else {
        return with_cache_headers(ApiError::auth_failed().into_response());
    };
    let user_id = state.store().users.get(record.user).map(|u| u.id);
    let Some(user_id) = user_id else {
        return with_cache_headers(ApiError::auth_failed().into_response());
    };
    let rate = state
        .limiter
        .check(Some(record.user), &record.client_id, op.category);
    let mut res = if rate.is_some_and(|r| r.exceeded) {
        *state
            .stats()
            .rate_limited
            .entry(op.category.as_str().to_owned())
            .or_default() += 1;
        ApiError::rate_limited().into_response()
    } else if record.kind == TokenKind::Client && !op.client_credentials
        || !record.scopes.contains_all(op.scopes)
    {
        ApiError::insufficient_scope().into_response()
    } else {
        req.extensions_mut().insert(Caller {
            user: record.user,
            user_id,
            scopes: record.scopes,
        });
        next.run(req).await
    };
    if let Some(info) = rate {
        rate_headers(res.headers_mut(), &info);
    }
    with_cache_headers(res)
}
