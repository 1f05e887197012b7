//! Pinterest's JSON error responses: `{code, message}` with the HTTP status and numeric
//! code Pinterest uses for each situation.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::wire::ErrorBody;

/// An error answered to a Pinterest API caller.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{status} code {code}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Pinterest's numeric code.
    pub code: i64,
    /// Message.
    pub message: String,
}

/// Message of Pinterest's code 2.
pub const AUTH_FAILED: &str = "Authentication failed.";
/// Message of Pinterest's code 3.
pub const INSUFFICIENT_SCOPE: &str = "Your token does not have sufficient permissions to perform this operation. Please ensure your token is authorized with the correct set of scopes.";
/// Message of Pinterest's code 8.
pub const RATE_LIMITED: &str = "This request exceeded a rate limit. This can happen if the client exceeds one of the published rate limits within a short time window.";
/// Message of Pinterest's code 283.
pub const INVALID_GRANT: &str = "The authorization grant is invalid";

impl ApiError {
    /// An error with any status and code.
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 401 code 2: missing, invalid, expired or revoked token, or bad client credentials.
    pub fn auth_failed() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 2, AUTH_FAILED)
    }

    /// 401 code 3: the token lacks a scope.
    pub fn insufficient_scope() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 3, INSUFFICIENT_SCOPE)
    }

    /// 401 code 283: bad authorization code or refresh token.
    pub fn invalid_grant() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 283, INVALID_GRANT)
    }

    /// 400 code 1: invalid parameters.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 1, message)
    }

    /// 404 code 40.
    pub fn board_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, 40, "Board not found.")
    }

    /// 404 code 50.
    pub fn pin_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, 50, "Pin not found.")
    }

    /// 404 code 2031.
    pub fn section_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            2031,
            "Sorry! We couldn't find this board section.",
        )
    }

    /// 403 code 29.
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            29,
            "You are not permitted to access that resource.",
        )
    }

    /// 429 code 8.
    pub fn rate_limited() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, 8, RATE_LIMITED)
    }
}

/// Serialises any JSON value into a response with the given status.
pub fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut res = (status, bytes).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            res
        }
        Err(err) => {
            tracing::error!(error = %err, "Could not serialise a response.");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &ErrorBody {
                code: self.code,
                message: &self.message,
            },
        )
    }
}
