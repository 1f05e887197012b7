//! What can go wrong calling Pinterest, sorted by what the caller must do.
//!
//! Pinterest answers errors with `{"code": <int>, "message": "..."}` (and
//! sometimes `status` and `message_detail`). [`ErrorBody`] keeps that body
//! parsed; [`ApiError`] maps it, together with the HTTP status and transport
//! failures, to one variant per course of action (see [`ApiError::action`]).
//! Every variant names the endpoint by method and path template and, where
//! Pinterest sent one, the `x-pinterest-rid` request id. No variant ever holds
//! a token or a full URL.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use crate::endpoint::Endpoint;
use crate::token::TokenSourceError;

/// Pinterest's request id (`x-pinterest-rid`), for support tickets and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How much of an unparseable body an error keeps, in bytes.
const SNIPPET_BYTES: usize = 300;

/// A Pinterest error body, parsed leniently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    /// Pinterest's numeric code (`2` authentication failed, `3` missing scope,
    /// `8` rate limited, `40` board not found…), when the body had one.
    pub code: Option<i64>,
    /// The message, or the start of the raw body when it was not JSON.
    pub message: String,
    /// The optional `status` field (e.g. `failure`).
    pub status: Option<String>,
    /// The optional `message_detail` field.
    pub message_detail: Option<String>,
}

impl ErrorBody {
    /// Parses an error body; a body that is not Pinterest's JSON shape keeps
    /// its first few hundred bytes as the message.
    pub fn parse(body: &[u8]) -> Self {
        if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
            let code = map
                .get("code")
                .and_then(|c| c.as_i64().or_else(|| c.as_str()?.parse().ok()));
            let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
            if code.is_some() || map.contains_key("message") {
                return Self {
                    code,
                    message: text("message").unwrap_or_default(),
                    status: text("status"),
                    message_detail: text("message_detail"),
                };
            }
        }
        Self {
            code: None,
            message: snippet(body),
            status: None,
            message_detail: None,
        }
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "code {code}: {}", self.message)?,
            None if self.message.is_empty() => f.write_str("no error body")?,
            None => write!(f, "{}", self.message)?,
        }
        if let Some(detail) = &self.message_detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

/// The start of a body as text, with control characters escaped.
pub(crate) fn snippet(body: &[u8]) -> String {
    let cut = &body[..body.len().min(SNIPPET_BYTES)];
    let mut text: String = String::from_utf8_lossy(cut).escape_debug().to_string();
    if body.len() > SNIPPET_BYTES {
        text.push('…');
    }
    text
}

/// Why an attempt failed in a way that may succeed if repeated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransientCause {
    /// Pinterest answered 5xx.
    ServerError {
        /// The HTTP status.
        status: u16,
        /// The parsed body.
        body: ErrorBody,
    },
    /// The connect or total timeout fired.
    Timeout,
    /// The connection could not be made; the request was not sent.
    Connect(String),
    /// The connection failed after the request may have been sent.
    Connection(String),
    /// The body ended early or the connection dropped while reading it.
    TruncatedBody(String),
    /// A 2xx body that is not the JSON this endpoint returns.
    MalformedBody {
        /// What the parser said.
        error: String,
        /// The start of the body.
        snippet: String,
    },
}

impl fmt::Display for TransientCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransientCause::ServerError { status, body } => write!(f, "HTTP {status} ({body})"),
            TransientCause::Timeout => f.write_str("timed out"),
            TransientCause::Connect(e) => write!(f, "could not connect: {e}"),
            TransientCause::Connection(e) => write!(f, "connection failed: {e}"),
            TransientCause::TruncatedBody(e) => write!(f, "response body cut short: {e}"),
            TransientCause::MalformedBody { error, snippet } => {
                write!(f, "malformed response body ({error}): {snippet}")
            }
        }
    }
}

/// A pagination anomaly that would otherwise loop forever or stop silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaginationProblem {
    /// Pinterest returned a bookmark this stream had already followed.
    BookmarkRepeated {
        /// How many pages had been read.
        pages: u64,
    },
    /// Too many pages in a row had no items but still a bookmark.
    EmptyPagesWithBookmark {
        /// How many in a row.
        pages: u32,
    },
}

impl fmt::Display for PaginationProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaginationProblem::BookmarkRepeated { pages } => {
                write!(
                    f,
                    "Pinterest repeated a bookmark after {pages} pages (pagination loop)"
                )
            }
            PaginationProblem::EmptyPagesWithBookmark { pages } => {
                write!(f, "{pages} empty pages in a row still carried a bookmark")
            }
        }
    }
}

/// What the caller should do about an [`ApiError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorAction {
    /// Try the same request later (after the given wait, when known); the
    /// client already retried as often as it was configured to.
    RetryLater(Option<Duration>),
    /// The credential must be authorized again by its user.
    Reauthorize,
    /// A write may or may not have been applied: look before writing again.
    Reconcile,
    /// The request itself is wrong or not allowed; repeating it will not help.
    GiveUp,
}

fn rid(request_id: &Option<RequestId>) -> String {
    match request_id {
        Some(id) => format!(" [x-pinterest-rid {id}]"),
        None => String::new(),
    }
}

/// A failed call to Pinterest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// Pinterest kept answering 429 after the configured number of waits.
    #[error("{endpoint}: rate limited (HTTP 429, {body}) {attempts} times in a row; retry after {retry_after:?}{}", rid(.request_id))]
    RateLimited {
        /// The operation.
        endpoint: Endpoint,
        /// How long Pinterest asked to wait the last time (capped).
        retry_after: Duration,
        /// How many 429 answers in a row.
        attempts: u32,
        /// The last 429 body (`code` 8 normally).
        body: ErrorBody,
        /// The last request id.
        request_id: Option<RequestId>,
    },
    /// A read failed on every attempt with 5xx, timeouts, dropped connections
    /// or malformed bodies.
    #[error("{endpoint}: failed after {attempts} attempts, last cause: {cause}{}", rid(.request_id))]
    Transient {
        /// The operation.
        endpoint: Endpoint,
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        cause: TransientCause,
        /// The last request id.
        request_id: Option<RequestId>,
    },
    /// A write may have been applied: it failed after it may have reached
    /// Pinterest (5xx, timeout, dropped connection, unreadable 2xx body). It
    /// was not repeated.
    #[error("{endpoint}: outcome unknown, the write may have been applied: {cause}{}", rid(.request_id))]
    Ambiguous {
        /// The operation.
        endpoint: Endpoint,
        /// What went wrong.
        cause: TransientCause,
        /// The request id, if a response arrived.
        request_id: Option<RequestId>,
    },
    /// Pinterest rejected the token again after one refresh, or the token
    /// source says the credential can no longer get tokens.
    #[error("{endpoint}: the credential needs to be authorized again: {reason}{}", rid(.request_id))]
    NeedsReauthorization {
        /// The operation.
        endpoint: Endpoint,
        /// Why.
        reason: String,
        /// The request id of the last 401, if any.
        request_id: Option<RequestId>,
    },
    /// 401 code 3: the token was not granted a scope this operation needs.
    /// Authorizing again with the missing scope fixes it; retrying does not.
    #[error("{endpoint}: the credential's token lacks a scope this operation needs ({body}){}", rid(.request_id))]
    MissingScope {
        /// The operation.
        endpoint: Endpoint,
        /// Pinterest's body (code 3).
        body: ErrorBody,
        /// The request id.
        request_id: Option<RequestId>,
    },
    /// 404: the board (code 40), pin (50), section (2031) or user (30) does
    /// not exist or is not visible.
    #[error("{endpoint}: not found ({body}){}", rid(.request_id))]
    NotFound {
        /// The operation.
        endpoint: Endpoint,
        /// Pinterest's body.
        body: ErrorBody,
        /// The request id.
        request_id: Option<RequestId>,
    },
    /// 400: Pinterest refused the parameters (code 1 normally).
    #[error("{endpoint}: bad request ({body}){}", rid(.request_id))]
    BadRequest {
        /// The operation.
        endpoint: Endpoint,
        /// Pinterest's body.
        body: ErrorBody,
        /// The request id.
        request_id: Option<RequestId>,
    },
    /// 403 (code 29), or 401 with a code that says the user may not access
    /// this object (code 7, 29): not fixed by refreshing.
    #[error("{endpoint}: not permitted (HTTP {status}, {body}){}", rid(.request_id))]
    Forbidden {
        /// The operation.
        endpoint: Endpoint,
        /// 403 or 401.
        status: u16,
        /// Pinterest's body.
        body: ErrorBody,
        /// The request id.
        request_id: Option<RequestId>,
    },
    /// Any other status this client does not expect, including redirects
    /// (which are never followed) and 409.
    #[error("{endpoint}: unexpected HTTP {status} ({body}){}", rid(.request_id))]
    UnexpectedStatus {
        /// The operation.
        endpoint: Endpoint,
        /// The HTTP status.
        status: u16,
        /// Pinterest's body.
        body: ErrorBody,
        /// The request id.
        request_id: Option<RequestId>,
    },
    /// The response was larger than the configured cap.
    #[error("{endpoint}: response larger than the {limit_bytes}-byte limit{}", rid(.request_id))]
    ResponseTooLarge {
        /// The operation.
        endpoint: Endpoint,
        /// The cap.
        limit_bytes: usize,
        /// The request id.
        request_id: Option<RequestId>,
    },
    /// The token source failed for a reason other than lost authorization.
    #[error("{endpoint}: {source}")]
    TokenUnavailable {
        /// The operation.
        endpoint: Endpoint,
        /// The token source's error.
        #[source]
        source: TokenSourceError,
    },
    /// The request was refused before it was sent (an invalid id, page size
    /// or analytics window).
    #[error("{endpoint}: invalid request: {reason}")]
    InvalidRequest {
        /// The operation.
        endpoint: Endpoint,
        /// What is wrong, in the caller's terms.
        reason: String,
    },
    /// The bookmark chain was broken; the stream stopped rather than loop or
    /// stop silently.
    #[error("{endpoint}: {problem}")]
    Pagination {
        /// The operation.
        endpoint: Endpoint,
        /// What went wrong.
        problem: PaginationProblem,
    },
}

impl ApiError {
    /// What the caller should do next.
    pub fn action(&self) -> ErrorAction {
        match self {
            ApiError::RateLimited { retry_after, .. } => {
                ErrorAction::RetryLater(Some(*retry_after))
            }
            ApiError::Transient { .. } | ApiError::TokenUnavailable { .. } => {
                ErrorAction::RetryLater(None)
            }
            ApiError::Ambiguous { .. } => ErrorAction::Reconcile,
            ApiError::NeedsReauthorization { .. } | ApiError::MissingScope { .. } => {
                ErrorAction::Reauthorize
            }
            ApiError::NotFound { .. }
            | ApiError::BadRequest { .. }
            | ApiError::Forbidden { .. }
            | ApiError::UnexpectedStatus { .. }
            | ApiError::ResponseTooLarge { .. }
            | ApiError::InvalidRequest { .. }
            | ApiError::Pagination { .. } => ErrorAction::GiveUp,
        }
    }

    /// The operation that failed.
    pub fn endpoint(&self) -> &Endpoint {
        match self {
            ApiError::RateLimited { endpoint, .. }
            | ApiError::Transient { endpoint, .. }
            | ApiError::Ambiguous { endpoint, .. }
            | ApiError::NeedsReauthorization { endpoint, .. }
            | ApiError::MissingScope { endpoint, .. }
            | ApiError::NotFound { endpoint, .. }
            | ApiError::BadRequest { endpoint, .. }
            | ApiError::Forbidden { endpoint, .. }
            | ApiError::UnexpectedStatus { endpoint, .. }
            | ApiError::ResponseTooLarge { endpoint, .. }
            | ApiError::TokenUnavailable { endpoint, .. }
            | ApiError::InvalidRequest { endpoint, .. }
            | ApiError::Pagination { endpoint, .. } => endpoint,
        }
    }

    /// Pinterest's numeric error code, when the failure came with one.
    pub fn pinterest_code(&self) -> Option<i64> {
        match self {
            ApiError::RateLimited { body, .. }
            | ApiError::MissingScope { body, .. }
            | ApiError::NotFound { body, .. }
            | ApiError::BadRequest { body, .. }
            | ApiError::Forbidden { body, .. }
            | ApiError::UnexpectedStatus { body, .. } => body.code,
            ApiError::Transient {
                cause: TransientCause::ServerError { body, .. },
                ..
            }
            | ApiError::Ambiguous {
                cause: TransientCause::ServerError { body, .. },
                ..
            } => body.code,
            _ => None,
        }
    }

    /// Pinterest's request id of the last response, when there was one.
    pub fn request_id(&self) -> Option<&RequestId> {
        match self {
            ApiError::RateLimited { request_id, .. }
            | ApiError::Transient { request_id, .. }
            | ApiError::Ambiguous { request_id, .. }
            | ApiError::NeedsReauthorization { request_id, .. }
            | ApiError::MissingScope { request_id, .. }
            | ApiError::NotFound { request_id, .. }
            | ApiError::BadRequest { request_id, .. }
            | ApiError::Forbidden { request_id, .. }
            | ApiError::UnexpectedStatus { request_id, .. }
            | ApiError::ResponseTooLarge { request_id, .. } => request_id.as_ref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::{BOARDS_LIST_PINS, PINS_CREATE};

    #[test]
    fn error_body_parses_pinterest_shape_with_optional_fields() {
        let body = ErrorBody::parse(
            br#"{"code":2,"message":"Authentication failed.","status":"failure"}"#,
        );
        assert_eq!(body.code, Some(2));
        assert_eq!(body.message, "Authentication failed.");
        assert_eq!(body.status.as_deref(), Some("failure"));
        let body =
            ErrorBody::parse(br#"{"code":8,"message":"slow down","message_detail":"spam?"}"#);
        assert_eq!(body.to_string(), "code 8: slow down (spam?)");
    }

    #[test]
    fn error_body_keeps_a_short_escaped_snippet_of_non_json() {
        let raw = format!("<html>\n{}</html>", "x".repeat(1000));
        let body = ErrorBody::parse(raw.as_bytes());
        assert_eq!(body.code, None);
        assert!(body.message.starts_with("<html>\\n"), "{}", body.message);
        assert!(body.message.len() < 320);
    }

    #[test]
    fn errors_name_endpoint_template_and_request_id() {
        let err = ApiError::Transient {
            endpoint: BOARDS_LIST_PINS.clone(),
            attempts: 4,
            cause: TransientCause::ServerError {
                status: 503,
                body: ErrorBody::parse(b""),
            },
            request_id: Some(RequestId("rid-1".into())),
        };
        let text = err.to_string();
        assert!(
            text.starts_with("GET /boards/{board_id}/pins: failed after 4 attempts"),
            "{text}"
        );
        assert!(
            text.contains("HTTP 503") && text.contains("rid-1"),
            "{text}"
        );
        assert_eq!(err.action(), ErrorAction::RetryLater(None));
    }

    #[test]
    fn ambiguous_writes_ask_for_reconciliation() {
        let err = ApiError::Ambiguous {
            endpoint: PINS_CREATE.clone(),
            cause: TransientCause::Timeout,
            request_id: None,
        };
        assert_eq!(err.action(), ErrorAction::Reconcile);
        assert!(err.to_string().contains("may have been applied"));
    }
}
