//! The JSON API's one error type and its body,
//! `{"error": {"code", "message", "field"}}`.
//!
//! Client errors explain themselves; internal errors answer with a generic
//! message and are logged in full (never with a secret: no error type of ours
//! carries one).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pinion_domain::FieldError;
use pinion_service::ServiceError;
use serde::Serialize;

/// An API failure.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<&'static str>,
    errors: Vec<FieldError>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldError],
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            errors: Vec::new(),
        }
    }

    /// 401: no valid API token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API token is required: send `Authorization: Bearer <token>`",
        )
    }

    /// 404 for an object the caller may not see or that does not exist.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 400: the request itself is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 500 with a generic message; `cause` goes to the log only.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "Request failed.");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; the details are in the server log",
        )
    }

    /// A failed refresh: 409 when the credential itself must be fixed, 503
    /// when trying later may work.
    pub fn from_refresh(err: pinion_service::RefreshError) -> Self {
        use pinion_service::RefreshError;
        match &err {
            RefreshError::NotFound => Self::not_found("credential"),
            RefreshError::NotAuthorized => {
                Self::new(StatusCode::CONFLICT, "not_authorized", err.to_string())
            }
            RefreshError::NeedsReauthorization { .. } => Self::new(
                StatusCode::CONFLICT,
                "needs_reauthorization",
                err.to_string(),
            ),
            RefreshError::AppCredentials { .. } => {
                Self::new(StatusCode::CONFLICT, "app_credentials", err.to_string())
            }
            RefreshError::Unavailable { .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "refresh_unavailable",
                err.to_string(),
            ),
            RefreshError::Store(_) => Self::internal(&err),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Validation(errors) => {
                let first = errors.first().cloned();
                Self {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    code: "validation_failed",
                    message: errors.to_string(),
                    field: first.map(|e| e.field),
                    errors: errors.0,
                }
            }
            ServiceError::NotFound { what } => Self::not_found(what),
            ServiceError::Forbidden(why) => Self::new(StatusCode::FORBIDDEN, "forbidden", why),
            ServiceError::Conflict { field, message } => Self {
                field: Some(field),
                ..Self::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    format!("{field}: {message}"),
                )
            },
            ServiceError::Stale => Self::new(StatusCode::CONFLICT, "stale", err.to_string()),
            ServiceError::Unavailable(_) => {
                tracing::warn!(error = %err, "Database unavailable.");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; nothing was changed, try again shortly",
                )
            }
            ServiceError::Store(_) => Self::internal(&err),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = match rejection {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        // axum's messages name the field and position but never echo values.
        Self::new(status, "invalid_json", rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field,
                errors: &self.errors,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
