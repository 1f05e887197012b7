//! A strict local stand-in for Pinterest's OAuth and v5 API.
//!
//! The simulator serves the authorization pages (`/oauth/`), the token endpoint
//! (`/v5/oauth/token`), the v5 REST operations Pinion uses, and a control API under
//! `/_sim/` that tests use to register apps and users, revoke grants, expire tokens,
//! inject faults and read call statistics. It depends on no other Pinion crate, so the
//! client is never tested against its own types. See the crate README for the rules it
//! enforces and where it deliberately differs from Pinterest.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = pinion_simulator::spawn(pinion_simulator::SimConfig::default()).await?;
//! println!("authorize at {}, call the API at {}", sim.oauth_url(), sim.api_url());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod config;
pub mod control;
pub mod model;
pub mod ops;
pub mod server;
pub mod standalone;

pub(crate) mod api;
pub(crate) mod bookmark;
pub(crate) mod control_api;
pub(crate) mod error;
pub(crate) mod faults;
pub(crate) mod generate;
pub(crate) mod media;
pub(crate) mod oauth;
pub(crate) mod params;
pub(crate) mod ratelimit;
pub(crate) mod state;
pub(crate) mod store;
pub(crate) mod tokens;
pub(crate) mod wire;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use config::{Fixtures, SimConfig};
pub use control::{Control, ControlError};
pub use model::{
    AccountType, AppInfo, AppSpec, DataShape, FaultInfo, FaultKind, FaultSpec, Stats, Stream,
    UserInfo, UserSpec,
};
pub use server::{RunningSimulator, spawn, spawn_on};
pub use state::BuildError;

/// A handle on a router's state, for serving it yourself with [`server::serve`].
#[derive(Clone)]
pub struct SimHandle(pub(crate) state::Shared);

impl SimHandle {
    /// The configuration the simulator runs with.
    pub fn config(&self) -> &SimConfig {
        &self.0.config
    }
}

async fn not_found() -> Response {
    error::ApiError::new(StatusCode::NOT_FOUND, 404, "Resource not found.").into_response()
}

fn build(state: state::Shared) -> Router {
    let pinterest = Router::new()
        .route("/oauth/", get(oauth::authorize::authorize))
        .route("/oauth", get(oauth::authorize::authorize))
        .route("/oauth/login", post(oauth::authorize::login))
        .route("/oauth/consent", post(oauth::authorize::consent))
        .route("/v5/oauth/token", post(oauth::token::token))
        .merge(api::routes(state.clone()))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            state::surface,
        ));
    Router::new()
        .merge(pinterest)
        .merge(control_api::routes())
        .route("/media/{size}/{a}/{b}/{c}/{file}", get(media::image))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            state::request_id,
        ))
        .with_state(state)
}

/// Builds the simulator's router and a handle on its state; fails when a fixture is
/// refused (a duplicate or malformed app or user).
pub fn try_router(config: SimConfig) -> Result<(Router, SimHandle), BuildError> {
    let state = state::SimState::build(config)?;
    Ok((build(state.clone()), SimHandle(state)))
}

/// Builds the simulator's router.
///
/// # Panics
///
/// Panics when the configuration's fixtures are refused (a duplicate or malformed app
/// or user), which is a mistake in the caller's literal configuration; use
/// [`try_router`] for fixtures read at run time.
pub fn router(config: SimConfig) -> Router {
    match try_router(config) {
        Ok((router, _)) => router,
        Err(err) => panic!("the simulator's fixtures were refused: {err:?}"),
    }
}
