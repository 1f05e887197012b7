//! The JSON API under `/api/v1`.

mod auth;
pub mod credentials;
mod error;
pub mod sources;

use axum::Router;
use axum::routing::{get, post};

pub use auth::ApiUser;
pub use error::ApiError;

use crate::AppState;

/// Routes under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/credentials",
            get(credentials::list).post(credentials::create),
        )
        .route(
            "/credentials/{id}",
            get(credentials::get)
                .patch(credentials::update)
                .delete(credentials::delete),
        )
        .route("/credentials/{id}/authorize", post(credentials::authorize))
        .route("/credentials/{id}/check", post(credentials::check))
        .route("/credentials/{id}/refresh", post(credentials::refresh))
        // Data sources (issue 6).
        .route("/sources", get(sources::list).post(sources::create))
        .route("/sources/{id}", get(sources::get))
        .fallback(|| async { ApiError::not_found("route") })
}
