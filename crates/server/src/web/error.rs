//! The web UI's one error type: each variant renders a small HTML page with
//! the right status. Internal causes go to the log, never to the page.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use pinion_service::ServiceError;

/// A failed page request.
#[derive(Debug)]
pub enum WebError {
    /// The object does not exist or belongs to someone else (same answer).
    NotFound,
    /// The form's CSRF token is missing or wrong.
    BadCsrf,
    /// The sign-in form's token is missing, differs from its cookie, was not
    /// issued by this server, or has expired.
    BadSignInForm,
    /// The request is not allowed, with a reason safe to show.
    Forbidden(String),
    /// The request could not be read (a broken upload, or one over its
    /// size limit), with a reason safe to show.
    BadRequest(String),
    /// The request conflicts with the object's state now (a page older than
    /// a change made elsewhere), with what to do.
    Conflict(String),
    /// The database is unavailable or did not answer in time: 503 with
    /// `Retry-After`, never a 500, so the user knows to try again shortly.
    Unavailable,
    /// Pinterest could not be used just now: 503 with `Retry-After`.
    PinterestUnavailable,
    /// The request took longer than the server allows
    /// ([`crate::limits::REQUEST_TIMEOUT`]): 503 with `Retry-After`.
    TimedOut,
    /// Something failed on our side; the cause is logged.
    Internal,
}

impl WebError {
    /// The id in a path as its type; a malformed one is the same 404 as an
    /// unknown one.
    pub fn path_id<T: std::str::FromStr>(text: &str) -> Result<T, Self> {
        text.parse().map_err(|_| WebError::NotFound)
    }
}

impl From<ServiceError> for WebError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::NotFound { .. } => WebError::NotFound,
            ServiceError::Forbidden(reason) => WebError::Forbidden(reason.to_owned()),
            ServiceError::NotShared { .. } => WebError::Forbidden(err.to_string()),
            ServiceError::Conflict { message, .. } => WebError::Conflict(message),
            ServiceError::Unavailable(_) => {
                tracing::warn!(error = %err, "Database unavailable.");
                WebError::Unavailable
            }
            ServiceError::Upstream { .. } => {
                tracing::warn!(error = %err, "Pinterest could not be used.");
                WebError::PinterestUnavailable
            }
            ServiceError::Store(store) if store.is_transient() => {
                tracing::warn!(error = %store, "Database unavailable.");
                WebError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "A page request failed.");
                WebError::Internal
            }
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut back = ("/credentials", "Back to credentials");
        let (status, title, message) = match self {
            WebError::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or it is not yours.".to_owned(),
            ),
            WebError::BadCsrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form is missing its security token or it has expired. Go back, reload the page and try again.".to_owned(),
            ),
            WebError::BadSignInForm => {
                back = ("/sign-in", "Sign in again");
                (
                    StatusCode::FORBIDDEN,
                    "Sign-in form not accepted",
                    "This sign-in form was not issued by Pinion, or it has expired. Open the \
                     sign-in page again and sign in from there."
                        .to_owned(),
                )
            }
            WebError::Forbidden(reason) => (StatusCode::FORBIDDEN, "Not allowed", reason),
            WebError::BadRequest(reason) => (StatusCode::BAD_REQUEST, "Not understood", reason),
            WebError::Conflict(reason) => {
                back = ("/sources", "Back to sources");
                (
                    StatusCode::CONFLICT,
                    "Not possible now",
                    format!("{reason}. Reload the page to see the latest state."),
                )
            }
            WebError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again shortly",
                "Pinion cannot reach its database right now; nothing was changed. Try again in a few seconds.".to_owned(),
            ),
            WebError::PinterestUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again shortly",
                "Pinterest could not be used just now; nothing was changed. Try again in a minute, and check the credential if it keeps failing.".to_owned(),
            ),
            WebError::TimedOut => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again shortly",
                "This took too long and was stopped. Check whether it took effect, then try again in a few seconds.".to_owned(),
            ),
            WebError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Something went wrong on our side; the details are in the server log.".to_owned(),
            ),
        };
        let body = html! {
            (maud::DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · Pinion" }
                    link rel="stylesheet" href="/static/pinion.css";
                }
                body {
                    main class="narrow" {
                        h1 { (title) }
                        p { (message) }
                        p { a href=(back.0) { (back.1) } }
                    }
                }
            }
        };
        let mut response = (status, Html(body.into_string())).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            crate::limits::add_retry_after(&mut response);
        }
        response
    }
}
