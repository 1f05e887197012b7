//! The JSON API's one error type and its body,
//! `{"error": {"code", "message", "field"}}`.
//!
//! Client errors explain themselves; internal errors answer with a generic
//! message and are logged in full (never with a secret: no error type of ours
//! carries one).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
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
    field: Option<std::borrow::Cow<'static, str>>,
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
    /// The id in a path as its type; a malformed one is the same 404 as
    /// an unknown one, so an id's shape tells nothing.
    pub fn path_id<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, Self> {
        text.parse().map_err(|_| Self::not_found(what))
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// The same error naming request field `field`.
    pub fn with_field(self, field: &'static str) -> Self {
        Self {
            field: Some(field.into()),
            ..self
        }
    }

    /// 409 with `code`: the request conflicts with what is stored.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 422 with `code`: a well-formed request the API cannot take.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 400: the request itself is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 400: query parameter `name` is outside what the document allows.
    pub fn invalid_query(name: &'static str, message: impl std::fmt::Display) -> Self {
        Self {
            field: Some(name.into()),
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("invalid query string: {name}: {message}"),
            )
        }
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
            _ if err.is_database_unavailable() => {
                tracing::warn!(error = %err, "Database unavailable during a refresh.");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; try again shortly (tokens Pinterest already \
                     issued are kept and stored when it is back)",
                )
            }
            RefreshError::StorePending(_) | RefreshError::Store(_) => Self::internal(&err),
        }
    }

    /// 503 `unavailable`: the database could not be reached, or did not
    /// answer in time, so nothing was changed. The response carries
    /// `Retry-After` (added to every 503 by the router,
    /// [`crate::limits::retry_after_on_503`]); never a 500,
    /// since trying again shortly is exactly what the client should do.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the database is unavailable; nothing was changed, try again shortly",
        )
    }

    /// 503 `timeout`: the request took longer than the server allows
    /// ([`crate::limits::REQUEST_TIMEOUT`]). It may or may not have taken
    /// effect; read the object again before repeating a write.
    pub fn timed_out() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long and was stopped; check its effect, then try again shortly",
        )
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
                    field: first.map(|e| e.field.into()),
                    errors: errors.0,
                }
            }
            ServiceError::NotFound { what } => Self::not_found(what),
            ServiceError::Forbidden(why) => Self::new(StatusCode::FORBIDDEN, "forbidden", why),
            ServiceError::NotShared { .. } => {
                Self::new(StatusCode::FORBIDDEN, "not_shared", err.to_string())
            }
            ServiceError::Conflict { field, message } => Self {
                field: Some(field.into()),
                ..Self::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    format!("{field}: {message}"),
                )
            },
            ServiceError::NotAuthorized { .. } => Self {
                field: Some("credential_id".into()),
                ..Self::new(
                    StatusCode::CONFLICT,
                    "credential_not_authorized",
                    err.to_string(),
                )
            },
            ServiceError::Stale => Self::new(StatusCode::CONFLICT, "stale", err.to_string()),
            ServiceError::Throttled { .. } => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "throttled", err.to_string())
            }
            ServiceError::Unavailable(_) => {
                tracing::warn!(error = %err, "Database unavailable.");
                Self::unavailable()
            }
            ServiceError::Upstream { .. } => {
                tracing::warn!(error = %err, "Pinterest could not be used.");
                Self::unavailable()
            }
            ServiceError::Internal { .. } => Self::internal(&err),
            ServiceError::Store(store) if store.is_transient() => {
                tracing::warn!(error = %store, "Database unavailable.");
                Self::unavailable()
            }
            ServiceError::Store(_) => Self::internal(&err),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        // axum's own statuses: 415 for a missing or wrong content type, 422
        // for a body of the wrong shape, 413 for one over the server's body
        // limit, 400 for malformed JSON.
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::new(
                status,
                "body_too_large",
                format!(
                    "the request body is larger than the limit of {} KiB",
                    crate::startup::MAX_BODY_BYTES / 1024
                ),
            );
        }
        let (message, field) = match &rejection {
            // serde's text for a wrongly typed or invalid value quotes the
            // value (a client secret sent as a number, say): name the field
            // and the kind of problem only.
            JsonRejection::JsonDataError(_) => data_error_message(&rejection.body_text()),
            _ => (rejection.body_text(), None),
        };
        Self {
            field: field.map(Into::into),
            ..Self::new(status, "invalid_json", message)
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        // serde names the parameter and the problem, e.g. "runs: invalid
        // digit found in string"; query parameters here carry no secret.
        let text = rejection.body_text();
        let message = text
            .strip_prefix("Failed to deserialize query string: ")
            .unwrap_or(&text);
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("invalid query string: {message}"),
        )
    }
}

/// A message for a JSON body of the wrong shape that names the field (when
/// it is a plain path) and the kind of problem, and quotes no value; with
/// the field's path (`output.kind`, `streams[1]`) for the error's `field`.
fn data_error_message(text: &str) -> (String, Option<String>) {
    let detail = text
        .split_once("target type: ")
        .map_or(text, |(_, detail)| detail);
    let plain = |name: &str| {
        !name.is_empty()
            && name.len() <= 100
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '-'))
    };
    let backticked = |reason: &str, prefix: &str| {
        reason
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name.to_owned())
            .filter(|name| plain(name))
    };
    let (path, reason) = match detail.split_once(": ") {
        Some((path, reason)) if plain(path) && path != "." => (Some(path), reason),
        _ => (None, detail),
    };
    if let Some(name) = backticked(reason, "missing field `") {
        return match path {
            Some(path) => (
                format!("`{path}` is missing the field `{name}`"),
                Some(format!("{path}.{name}")),
            ),
            None => (format!("the field `{name}` is missing"), Some(name)),
        };
    }
    if reason.starts_with("unknown field") {
        // The path ends in the unknown name itself, which came from the body.
        return ("the body has a field that is not known".to_owned(), None);
    }
    let what = if reason.starts_with("invalid type") {
        "has the wrong type"
    } else {
        "has an invalid value"
    };
    match path {
        Some(path) => (format!("`{path}` {what}"), Some(path.to_owned())),
        None => (format!("the JSON body {what}"), None),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
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

#[cfg(test)]
mod tests {
    use axum::extract::FromRequest;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        client_secret: Option<String>,
    }

    async fn rejection(body: &'static str) -> ApiError {
        let request = axum::http::Request::builder()
            .method("POST")
            .header(header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(body))
            .unwrap();
        match Json::<Body>::from_request(request, &()).await {
            Ok(body) => panic!("accepted {body:?}"),
            Err(rejection) => ApiError::from(rejection),
        }
    }

    #[tokio::test]
    async fn a_wrongly_typed_secret_is_named_but_never_quoted_back() {
        for body in [
            r#"{"name": "n", "client_secret": 918273645546372819}"#,
            r#"{"name": "n", "client_secret": ["s3cr3t-value-in-a-list"]}"#,
            r#"{"name": "n", "client_secret": {"s3cr3t-value-as-a-key": 1}}"#,
        ] {
            let err = rejection(body).await;
            assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(
                !err.message.contains("918273645546372819"),
                "{}",
                err.message
            );
            assert!(!err.message.contains("s3cr3t"), "{}", err.message);
            assert!(err.message.contains("client_secret"), "{}", err.message);
            assert_eq!(err.field.as_deref(), Some("client_secret"));
        }
    }

    #[tokio::test]
    async fn missing_and_unknown_fields_are_still_explained() {
        let missing = rejection(r#"{"client_secret": "x"}"#).await;
        assert!(missing.message.contains("`name`"), "{}", missing.message);
        assert_eq!(missing.field.as_deref(), Some("name"));
        let unknown = rejection(r#"{"name": "n", "s3cr3t-key": 1}"#).await;
        assert!(!unknown.message.contains("s3cr3t"), "{}", unknown.message);
        assert!(unknown.message.contains("not known"), "{}", unknown.message);
        assert_eq!(unknown.field, None, "the unknown name came from the body");
    }
}
