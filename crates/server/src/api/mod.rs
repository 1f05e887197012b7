//! The JSON API under `/api/v1`.
//!
//! Every route is registered in [`routes`] through `utoipa_axum::routes!`
//! from a handler annotated with `#[utoipa::path]`, so the router and the
//! OpenAPI document (`GET /api/v1/openapi.json`, see [`openapi`]) are built
//! from the same list. Register new routes there the same way, never with a
//! bare `.route(...)` (a test refuses that).
//!
//! Handlers declare paths relative to `/api/v1`; [`routes`] registers them at
//! their full paths rather than nesting a router under the prefix, so no
//! request pays for rewriting its URI. An unknown path under the prefix gets
//! the API's JSON 404 from [`not_found`], the whole router's fallback.

mod auth;
pub mod credentials;
pub mod destinations;
mod error;
mod extract;
pub mod openapi;
pub mod runs;
pub mod schedules;
pub mod sharing;
pub mod sources;
pub mod tokens;
pub mod usage;
pub mod webhooks;

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

pub use auth::ApiUser;
pub use error::ApiError;

use crate::AppState;

/// The `/api/v1` routes, at their full paths.
pub fn router() -> Router<AppState> {
    routes().split_for_parts().0
}

/// The answer for a path no route matches: the API's JSON 404 under
/// `/api/v1`, a bare 404 elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    let path = uri.path();
    let api = path
        .strip_prefix(openapi::PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    if api {
        ApiError::not_found("route").into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

/// Every `/api/v1` route with its documentation, under [`openapi::PREFIX`].
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    [
        routes!(openapi::openapi_json),
        routes!(credentials::list, credentials::create),
        routes!(credentials::get, credentials::update, credentials::delete),
        routes!(credentials::authorize),
        routes!(credentials::check),
        routes!(credentials::refresh),
        routes!(usage::usage),
        // Sharing and the activity log (issue 6).
        routes!(sharing::list_shares, sharing::create_share),
        routes!(sharing::delete_share),
        routes!(sharing::activity),
        routes!(sharing::shared_with_me),
        // Data sources (issue 6).
        routes!(sources::list, sources::create),
        routes!(sources::get, sources::update, sources::delete),
        // Schedules (issue 14).
        routes!(schedules::get, schedules::set, schedules::delete),
        routes!(schedules::pause),
        routes!(schedules::resume),
        routes!(runs::start, runs::list),
        routes!(runs::get, runs::delete),
        // API tokens (issue 6).
        routes!(tokens::create, tokens::list),
        routes!(tokens::revoke),
        routes!(destinations::list, destinations::create),
        routes!(
            destinations::get,
            destinations::repoint,
            destinations::delete
        ),
        // Webhook notifications (issue 14).
        routes!(webhooks::list, webhooks::create),
        routes!(webhooks::get, webhooks::update, webhooks::delete),
        routes!(webhooks::rotate_secret),
        routes!(webhooks::test),
        routes!(webhooks::deliveries),
    ]
    .into_iter()
    .fold(
        OpenApiRouter::with_openapi(openapi::ApiDoc::openapi()),
        |router, routes| router.routes(under_prefix(routes)),
    )
}

/// `routes` with each of its paths (relative to `/api/v1`) made absolute.
fn under_prefix(
    (schemas, mut paths, method_router): UtoipaMethodRouter<AppState>,
) -> UtoipaMethodRouter<AppState> {
    paths.paths = std::mem::take(&mut paths.paths)
        .into_iter()
        .map(|(path, item)| (format!("{}{path}", openapi::PREFIX), item))
        .collect();
    (schemas, paths, method_router)
}
