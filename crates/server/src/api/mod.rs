//! The JSON API under `/api/v1`.

mod auth;
pub mod credentials;
mod error;

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
        .fallback(|| async { ApiError::not_found("route") })
}
