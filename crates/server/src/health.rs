//! `/healthz` (the process is up) and `/readyz` (it can reach its database).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::AppState;

/// The longest `/readyz` waits for the database before answering 503, so a
/// load balancer's probe (often given 2 s) gets an answer from a replica
/// whose database accepts connections and never replies (issue 12). The
/// store's own bound (its pool's acquire timeout) is about as long; this
/// one holds whatever the store does.
pub const READY_TIMEOUT: Duration = Duration::from_millis(1500);

/// Always 200 while the process serves requests.
pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

/// 200 when the database answers within [`READY_TIMEOUT`], 503 (with
/// `Retry-After`, added to every 503 by the router) otherwise.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let reason = match tokio::time::timeout(READY_TIMEOUT, state.ready()).await {
        Ok(Ok(_)) => {
            return (StatusCode::OK, Json(serde_json::json!({"status": "ready"})));
        }
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "Readiness check failed.");
            "database unreachable"
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = READY_TIMEOUT.as_millis(),
                "Readiness check failed: the database did not answer in time."
            );
            "database did not answer in time"
        }
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({"status": "unavailable", "reason": reason})),
    )
}
