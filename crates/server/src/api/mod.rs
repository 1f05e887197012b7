//! The JSON API under `/api/v1`.
//!
//! Every route is registered in [`routes`] through `utoipa_axum::routes!`
//! from a handler annotated with `#[utoipa::path]`, so the router and the
//! OpenAPI document (`GET /api/v1/openapi.json`, see [`openapi`]) are built
//! from the same list. Register new routes there the same way, never with a
//! bare `.route(...)` (a test refuses that).

mod auth;
pub mod credentials;
pub mod destinations;
mod error;
pub mod openapi;
pub mod runs;
pub mod sharing;
pub mod sources;
pub mod tokens;
pub mod usage;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::ApiUser;
pub use error::ApiError;

use crate::AppState;

/// Routes under `/api/v1`.
pub fn router() -> Router<AppState> {
    let (router, _) = routes().split_for_parts();
    router.fallback(|| async { ApiError::not_found("route") })
}

/// Every `/api/v1` route with its documentation; paths are relative to
/// `/api/v1`.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(credentials::list, credentials::create))
        .routes(routes!(
            credentials::get,
            credentials::update,
            credentials::delete
        ))
        .routes(routes!(credentials::authorize))
        .routes(routes!(credentials::check))
        .routes(routes!(credentials::refresh))
        .routes(routes!(usage::usage))
        // Sharing and the activity log (issue 6).
        .routes(routes!(sharing::list_shares, sharing::create_share))
        .routes(routes!(sharing::delete_share))
        .routes(routes!(sharing::activity))
        .routes(routes!(sharing::shared_with_me))
        // Data sources (issue 6).
        .routes(routes!(sources::list, sources::create))
        .routes(routes!(sources::get, sources::delete))
        .routes(routes!(runs::start, runs::list))
        .routes(routes!(runs::get, runs::delete))
        // API tokens (issue 6).
        .routes(routes!(tokens::create, tokens::list))
        .routes(routes!(tokens::revoke))
        .routes(routes!(destinations::list, destinations::create))
        .routes(routes!(destinations::get, destinations::delete))
}
