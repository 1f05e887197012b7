//! Building the router and serving it until shutdown.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::routing::get;
use pinion_service::{Credentials, Users};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::{AppState, Settings, api, headers, health};

/// Largest request body accepted, in bytes.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// A bound, ready-to-serve Pinion server.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Binds the listener and builds the router from `settings`.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen)
            .await
            .map_err(|err| anyhow::anyhow!("cannot listen on {}: {err}", settings.listen))?;
        let state = AppState {
            users: Users::new(settings.store.clone()),
            credentials: Credentials::new(settings.store.clone()),
            store: settings.store,
            public_url: settings.public_url,
        };
        Ok(Self {
            listener,
            router: router(state),
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// The whole router: API, probes, security headers, request tracing that logs
/// the method and path only (a query string may carry an OAuth code or state).
pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api/v1", api::router())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(headers::security_headers))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                )
            }),
        )
}
