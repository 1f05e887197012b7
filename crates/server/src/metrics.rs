//! Prometheus metrics at `GET /metrics`.
//!
//! Library crates count through the `metrics` facade (`pinion_refreshes_total`
//! by outcome in `service::tokens`, `pinion_authorization_flows_started_total`
//! and `pinion_authorization_flows_completed_total` by outcome in
//! `service::authorization`, `pinion_sync_records_written_total` by stream in
//! `sync::run`); this module installs the process's one Prometheus recorder and
//! adds HTTP request counts and latencies labelled by method, route template
//! (never the concrete path, which holds ids) and status class. Labels are
//! fixed vocabularies: no credential name, id or secret is ever a label.
//!
//! `/metrics` needs no authentication, as Prometheus scrapers expect; it shows
//! counts only. Operators who expose Pinion publicly should keep the path off
//! their reverse proxy.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{OnceLock, RwLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::extract::MatchedPath;
use axum::http::{Method, Request, Response, header};
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

const LATENCY: &str = "pinion_http_request_duration_seconds";

/// The process's recorder handle; installed on first use. When another
/// recorder was installed first (an embedding program), `/metrics` renders
/// this unused recorder's empty output rather than failing.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(LATENCY.to_owned()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ],
            )
            .expect("fixed, non-empty buckets");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("A metrics recorder was already installed; /metrics stays empty.");
        }
        // Histogram samples are folded into buckets by upkeep (or a scrape).
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            })
            .expect("a thread can be started");
        handle
    })
}

/// Installs the recorder (idempotent); called when the router is built.
pub fn install() {
    handle();
}

/// `GET /metrics`: the Prometheus text format.
pub async fn render() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle().render(),
    )
}

/// Counts every request and times it, by method, route template and status
/// class. Methods other than the eight of RFC 9110 and PATCH are counted as
/// `other`, so a client cannot grow the label set.
///
/// Applied with `Router::layer`, so it wraps each route after routing and
/// reads the route template from [`MatchedPath`]. A tower layer rather than
/// `axum::middleware::from_fn`: that boxes the rest of the stack and the
/// future on every request, this wraps the future in place.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackLayer;

impl<S> Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track { inner }
    }
}

/// The service [`TrackLayer`] makes.
#[derive(Debug, Clone)]
pub struct Track<S> {
    inner: S,
}

impl<S, B, ResBody> Service<Request<B>> for Track<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = TrackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        TrackFuture {
            started: Instant::now(),
            method: method_label(request.method()),
            route: request.extensions().get::<MatchedPath>().cloned(),
            inner: self.inner.call(request),
        }
    }
}

pin_project! {
    /// A request's response future, counted and timed when it completes.
    pub struct TrackFuture<F> {
        #[pin]
        inner: F,
        started: Instant,
        method: &'static str,
        route: Option<MatchedPath>,
    }
}

impl<F, ResBody, E> Future for TrackFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            let class = (response.status().as_u16() / 100).clamp(1, 5) as usize - 1;
            let route = this.route.as_ref().map_or("unmatched", MatchedPath::as_str);
            let (requests, latency) = request_handles(this.method, route, class);
            requests.increment(1);
            latency.record(this.started.elapsed().as_secs_f64());
        }
        Poll::Ready(result)
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

type Handles = (metrics::Counter, metrics::Histogram);

/// The request counter and latency histogram of one method, route and status
/// class, registered once and then kept: registering costs a lookup by
/// labels in the recorder, and the label set is small and fixed (route
/// templates, not paths).
fn request_handles(method: &'static str, route: &str, class: usize) -> Handles {
    type ByRoute = HashMap<&'static str, HashMap<String, [Option<Handles>; 5]>>;
    static HANDLES: OnceLock<RwLock<ByRoute>> = OnceLock::new();
    let handles = HANDLES.get_or_init(Default::default);
    let known = handles
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(method)
        .and_then(|routes| routes.get(route))
        .and_then(|classes| classes[class].clone());
    if let Some(known) = known {
        return known;
    }
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", STATUS_CLASSES[class].to_owned()),
    ];
    let registered = (
        metrics::counter!("pinion_http_requests_total", &labels),
        metrics::histogram!(LATENCY, &labels),
    );
    handles
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .entry(method)
        .or_default()
        .entry(route.to_owned())
        .or_default()[class] = Some(registered.clone());
    registered
}
