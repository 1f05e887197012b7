//! Building the router and serving it until shutdown.

use std::net::SocketAddr;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, Request};
use axum::routing::get;
use std::sync::Arc;

use anyhow::Context;
use pinion_service::{Pinion, Refresher};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::state::Services;
use crate::{AppState, Settings, api, headers, health, limits, oauth};

/// Largest request body accepted, in bytes.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// How many users' credential listings the API keeps in memory.
const CACHED_CREDENTIAL_LISTS: usize = 10_000;

/// A bound, ready-to-serve Pinion server.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    refresher: Option<Refresher>,
    refresh_lease: std::time::Duration,
    schedules: pinion_service::Schedules,
    max_connections: Option<usize>,
    runs: pinion_service::Runs,
    health: Option<pinion_service::HealthChecker>,
    deliverer: Option<pinion_service::Deliverer>,
}

impl Application {
    /// Binds the listener and builds the router over `pinion`'s services.
    pub async fn build(settings: Settings, pinion: Pinion) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let refresher = settings
            .refresher
            .clone()
            .map(|config| pinion.refresher(config));
        let runs = pinion.runs.clone();
        let schedules = pinion.schedules.clone();
        let refresh_lease = pinion.refresh_lease();
        let health = settings
            .check_interval
            .map(|interval| pinion.health_checker(interval));
        let deliverer = settings.deliver_webhooks.then(|| pinion.deliverer());
        let state = AppState::new(Services {
            credential_lists: Arc::new(pinion_service::cache::ReadCache::new(
                pinion.changes().clone(),
                CACHED_CREDENTIAL_LISTS,
            )),
            public_url: pinion.settings().public_url.clone(),
            setup_key: settings.setup_key.clone(),
            pinion,
        });
        Ok(Self {
            listener,
            router: router(state),
            refresher,
            refresh_lease,
            schedules,
            max_connections: settings.max_connections,
            runs,
            health,
            deliverer,
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    /// First resolves refreshes left in flight by a process that died (any
    /// marker older than the lease), then runs the background refresher
    /// until the same shutdown. Source runs left by a process that stopped
    /// are taken over first, then every few seconds (see
    /// `pinion_service::runs`); at shutdown this process's runs stop and
    /// release their leases. The health checker and the webhook deliverer
    /// (issue 14) run beside them until the same shutdown.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        // Before the refresher, which forgets the files of ended instances.
        if let Err(err) = self.runs.take_over_abandoned().await {
            tracing::warn!(error = %err, "Could not look for runs to take over.");
        }
        let supervisor = {
            let runs = self.runs.clone();
            let mut stop_rx = stop_rx.clone();
            tokio::spawn(async move {
                runs.supervise(async move {
                    let _ = stop_rx.wait_for(|stopped| *stopped).await;
                })
                .await;
            })
        };
        // Every replica schedules; each slot is taken once through the
        // database (`pinion_service::Schedules`).
        let scheduler = {
            let schedules = self.schedules.clone();
            let mut stop_rx = stop_rx.clone();
            tokio::spawn(async move {
                schedules
                    .run_until_stopped(async move {
                        let _ = stop_rx.wait_for(|stopped| *stopped).await;
                    })
                    .await;
            })
        };
        let refresher_task = self.refresher.map(|refresher| {
            let lease = self.refresh_lease;
            let mut stop_rx = stop_rx.clone();
            tokio::spawn(async move {
                if let Err(err) = refresher.recover_interrupted(lease).await {
                    tracing::warn!(error = %err, "Could not resolve interrupted refreshes.");
                }
                refresher
                    .run_until_stopped(async move {
                        let _ = stop_rx.wait_for(|stopped| *stopped).await;
                    })
                    .await;
            })
        });
        let background: Vec<tokio::task::JoinHandle<()>> = {
            let health = self.health.map(|checker| {
                let mut stop_rx = stop_rx.clone();
                tokio::spawn(async move {
                    checker
                        .run_until_stopped(async move {
                            let _ = stop_rx.wait_for(|stopped| *stopped).await;
                        })
                        .await;
                })
            });
            let deliverer = self.deliverer.map(|deliverer| {
                let mut stop_rx = stop_rx.clone();
                tokio::spawn(async move {
                    deliverer
                        .run_until_stopped(async move {
                            let _ = stop_rx.wait_for(|stopped| *stopped).await;
                        })
                        .await;
                })
            });
            health.into_iter().chain(deliverer).collect()
        };
        // Header read and idle keep-alive bounded, connections capped below
        // the open-file limit (issue 12, SECURITY.md R30).
        let allowed = crate::connections::connection_cap();
        let max_connections = match self.max_connections {
            Some(asked) if asked > allowed => {
                tracing::warn!(
                    asked,
                    allowed,
                    "PINION_MAX_CONNECTIONS is above what the open-file limit allows; \
                     accepting may fail with \"Too many open files\"."
                );
                asked
            }
            Some(asked) => asked,
            None => allowed,
        };
        let result =
            crate::connections::serve(self.listener, self.router, max_connections, shutdown).await;
        let _ = stop_tx.send(true);
        if let Some(task) = refresher_task {
            let _ = task.await;
        }
        let _ = scheduler.await;
        let _ = supervisor.await;
        for task in background {
            let _ = task.await;
        }
        result
    }
}

/// The whole router: API, probes, security headers, request tracing that logs
/// the method and path only (a query string may carry an OAuth code or state),
/// `Retry-After` on every 503, and the bounds on a request's time
/// (`crate::limits`): the whole request and each wait for body bytes.
///
/// The middleware is one `ServiceBuilder` stack given to a single
/// `Router::layer` call: each such call wraps every route in another boxed
/// service, which each request would pay for again.
pub fn router(state: AppState) -> Router {
    crate::metrics::install();
    let https = state.public_url.scheme() == "https";
    let middleware = ServiceBuilder::new()
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                )
            }),
        )
        .map_response(headers::security_headers(https))
        .map_response(limits::retry_after_on_503)
        .layer(crate::metrics::TrackLayer)
        .layer(HandleErrorLayer::new(limits::on_middleware_error))
        .timeout(limits::REQUEST_TIMEOUT)
        .layer(RequestBodyTimeoutLayer::new(limits::BODY_READ_TIMEOUT))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    Router::new()
        .merge(api::router())
        .merge(oauth::router())
        .merge(crate::web::router())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::metrics::render))
        .fallback(api::not_found)
        .with_state(state)
        .layer(middleware)
}
