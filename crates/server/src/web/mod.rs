//! The web UI (issue 6): server-rendered HTML that works without JavaScript.
//!
//! Routes follow the URL, one file per method, the template (a `maud`
//! function) next to its handler:
//!
//! - `GET|POST /sign-in`, `POST /sign-out`: password sign-in and sessions
//!   (`session.rs` explains the cookies and CSRF tokens).
//! - `GET|POST /setup`: the first account of an empty install, for whoever
//!   has the setup key `pinion serve` printed; 404 once any account exists.
//! - `GET /credentials`: the credentials page, one tile per credential.
//! - `GET|POST /credentials/new`: the Add New Credential overlay (a normal
//!   page without JavaScript).
//! - `GET|POST /credentials/{id}/edit`: the overlay for a stored credential,
//!   where Authorize returns to show the account and granted scopes.
//! - `GET /credentials/{id}/info`: the credential information screen.
//! - `POST /credentials/{id}/delete`: deletion, after a confirmation box.
//! - `POST /credentials/{id}/check`: a check against Pinterest.
//! - `POST /credentials/{id}/shares`, `POST
//!   /credentials/{id}/shares/{username}/withdraw`: sharing with a
//!   collaborator and withdrawing it (the owner only).
//! - `GET /sources/new`: "New data source" starts at the Authenticate
//!   screen: the tiles plus Add Credential.
//! - `GET|POST /sources/new/configure`: the source's streams and output.
//! - `GET /sources`: the user's sources.
//! - `GET /destinations/new`, `GET|POST /destinations/new/configure`,
//!   `GET /destinations`: the same for destinations, which pick a board.
//! - `GET /destinations/{id}` and its forms (`publish`, `upload`,
//!   `repoint`, `delete`): one destination's page.
//! - `GET /sources/{id}`, `POST /sources/{id}/runs`,
//!   `GET /sources/{id}/runs/{run_id}` (and `…/progress`, its JSON): a
//!   source's page, Run, and a run's progress and counts (`sources/runs`).
//! - `POST /sources/{id}/delete` (with a confirmation box), `POST
//!   /sources/{id}/runs/{run_id}/delete`: deleting a source with its runs,
//!   or one finished run; 409 while a run is going.
//! - `GET|POST /settings/tokens`, `POST /settings/tokens/{id}/revoke`: the
//!   user's API tokens (`tokens`).
//! - `GET|POST /webhooks`, `GET /webhooks/{id}`, `POST
//!   /webhooks/{id}/{test,rotate-secret,enabled,delete}`: the user's webhook
//!   endpoints, their delivery logs and "send a test event" (`webhooks`).
//! - `GET /static/…`: the stylesheet and the one script (progressive:
//!   the overlay as a dialog, live run progress); nothing is loaded from
//!   elsewhere.
//!
//! Every page needs a session: without one the answer is a 303 to
//! `/sign-in`. Another user's credential is a 404 page, exactly as for an id
//! that does not exist; a collaborator gets a 403 page for every screen or
//! form that would show or change a credential shared with them. Every
//! state-changing form carries the session's CSRF token and is refused with
//! 403 without it. `tests/web/access.rs` lists every route of this router
//! (and of `oauth.rs` and `startup.rs`) in one table and checks these rules
//! on each; a route added here fails that test until it is listed there.

pub(crate) mod credentials;
mod destinations;
mod error;
mod layout;
mod session;
mod setup;
mod sign_in;
mod sign_out;
mod sources;
mod static_files;
mod tokens;
mod webhooks;

use axum::Router;
use axum::routing::{get, post};

pub use error::WebError;
pub use session::{SESSION_COOKIE_PLAIN, SESSION_COOKIE_SECURE, Session, session_cookie_name};

use crate::AppState;

/// Routes of the web UI.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/credentials") }),
        )
        .route("/sign-in", get(sign_in::get).post(sign_in::post))
        .route("/setup", get(setup::get).post(setup::post))
        .route("/sign-out", post(sign_out::post))
        .route("/credentials", get(credentials::get))
        .route(
            "/credentials/new",
            get(credentials::new::get).post(credentials::new::post),
        )
        .route(
            "/credentials/{id}/edit",
            get(credentials::edit::get).post(credentials::edit::post),
        )
        .route("/credentials/{id}/info", get(credentials::info::get))
        .route("/credentials/{id}/delete", post(credentials::delete::post))
        .route("/credentials/{id}/check", post(credentials::check::post))
        .route("/credentials/{id}/shares", post(credentials::shares::post))
        .route(
            "/credentials/{id}/shares/{username}/withdraw",
            post(credentials::shares::withdraw::post),
        )
        .route("/sources", get(sources::get))
        .route("/sources/new", get(sources::new::get))
        .route(
            "/sources/new/configure",
            get(sources::new::configure::get).post(sources::new::configure::post),
        )
        .route("/destinations", get(destinations::get))
        .route("/destinations/new", get(destinations::new::get))
        .route("/destinations/{id}", get(destinations::page::get))
        .route(
            "/destinations/{id}/repoint",
            post(destinations::page::repoint),
        )
        .route(
            "/destinations/{id}/delete",
            post(destinations::page::delete),
        )
        .route(
            "/destinations/{id}/publish",
            post(destinations::page::publish),
        )
        .route(
            "/destinations/{id}/upload",
            post(destinations::page::upload).layer(axum::extract::DefaultBodyLimit::max(
                destinations::page::MAX_UPLOAD_BYTES,
            )),
        )
        .route(
            "/destinations/new/configure",
            get(destinations::new::configure::get).post(destinations::new::configure::post),
        )
        .route("/sources/{id}", get(sources::runs::source_page))
        .route(
            "/sources/{id}/edit",
            get(sources::edit::get).post(sources::edit::post),
        )
        .route("/sources/{id}/delete", post(sources::runs::delete_source))
        .route("/sources/{id}/output/{file}", get(sources::runs::download))
        .route("/sources/{id}/schedule", post(sources::schedule::set))
        .route(
            "/sources/{id}/schedule/pause",
            post(sources::schedule::pause),
        )
        .route(
            "/sources/{id}/schedule/resume",
            post(sources::schedule::resume),
        )
        .route(
            "/sources/{id}/schedule/delete",
            post(sources::schedule::remove),
        )
        .route("/sources/{id}/runs", post(sources::runs::start))
        .route("/sources/{id}/runs/{run_id}", get(sources::runs::run_page))
        .route(
            "/sources/{id}/runs/{run_id}/delete",
            post(sources::runs::delete_run),
        )
        .route(
            "/sources/{id}/runs/{run_id}/progress",
            get(sources::runs::progress),
        )
        .route("/settings/tokens", get(tokens::get).post(tokens::post))
        .route("/settings/tokens/{id}/revoke", post(tokens::revoke))
        .route("/webhooks", get(webhooks::get).post(webhooks::post))
        .route("/webhooks/{id}", get(webhooks::endpoint_page))
        .route("/webhooks/{id}/test", post(webhooks::test))
        .route(
            "/webhooks/{id}/rotate-secret",
            post(webhooks::rotate_secret),
        )
        .route("/webhooks/{id}/enabled", post(webhooks::set_enabled))
        .route("/webhooks/{id}/delete", post(webhooks::delete))
        .route("/static/{file}", get(static_files::get))
}
