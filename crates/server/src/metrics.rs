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

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

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
/// class.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let status = match response.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    let labels = [
        ("method", method),
        ("route", route),
        ("status", status.to_owned()),
    ];
    metrics::counter!("pinion_http_requests_total", &labels).increment(1);
    metrics::histogram!(LATENCY, &labels).record(started.elapsed().as_secs_f64());
    response
}
