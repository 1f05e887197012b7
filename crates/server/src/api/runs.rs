//! `/api/v1/sources/{id}/runs`: running a source (issue 6). A run starts in
//! the background and answers 202 with the queued run; reading it shows the
//! per-stream counts so far and, at the end, the status and any error. A
//! finished run can be deleted; one still going answers 409. Another user's
//! source or run is a 404, as is an unknown id.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use pinion_domain::record::RunRecord;
use utoipa::ToSchema;

use super::extract::ApiPath;
use super::openapi::ErrorBody;
use super::{ApiError, ApiUser};
use crate::AppState;

/// A run of a source (`pinion_domain::record::RunRecord`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Run {
    /// `run_…`.
    id: String,
    /// The source it runs.
    source_id: String,
    /// The owning user's id.
    owner: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    status: String,
    /// Records per stream, so far or at the end.
    streams: Vec<RunStream>,
    /// Why it failed (never a secret).
    error: Option<String>,
    /// When it was asked for.
    created_at: DateTime<Utc>,
    /// When it started reading.
    started_at: Option<DateTime<Utc>>,
    /// When it ended.
    finished_at: Option<DateTime<Utc>>,
    /// When a process took it over after the one running it stopped (it
    /// resumed from its checkpoint); null if never.
    taken_over_at: Option<DateTime<Utc>>,
}

/// One stream of a run (`pinion_domain::record::RunStreamCount`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RunStream {
    /// The stream's name.
    stream: String,
    /// Records committed.
    records: u64,
    /// `done`, `skipped`, `failed`, `not_started`…; null while it runs.
    outcome: Option<String>,
    /// Why it failed or was skipped.
    error: Option<String>,
}

/// `POST /api/v1/sources/{id}/runs`: starts a run; 202 with the queued run.
#[utoipa::path(
    post,
    operation_id = "start_run",
    path = "/sources/{id}/runs",
    tag = "sources",
    params(("id" = String, Path, description = "A source id, `src_…`")),
    responses(
        (status = 202, description = "Queued; poll the run for progress", body = Run),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
        (status = 409, description = "A run of this source is still going", body = ErrorBody),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ApiError::path_id::<pinion_domain::SourceId>(&id, "source")?;
    let run = state.runs.start(&user, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

/// `GET /api/v1/sources/{id}/runs`: the source's recent runs, newest first.
#[utoipa::path(
    get,
    operation_id = "list_runs",
    path = "/sources/{id}/runs",
    tag = "sources",
    params(("id" = String, Path, description = "A source id, `src_…`")),
    responses(
        (status = 200, description = "The source's last 20 runs, newest first", body = Vec<Run>),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Vec<RunRecord>>, ApiError> {
    let id = ApiError::path_id::<pinion_domain::SourceId>(&id, "source")?;
    Ok(Json(state.runs.list(&user, &id).await?))
}

/// `GET /api/v1/sources/{id}/runs/{run_id}`
#[utoipa::path(
    get,
    operation_id = "get_run",
    path = "/sources/{id}/runs/{run_id}",
    tag = "sources",
    params(
        ("id" = String, Path, description = "A source id, `src_…`"),
        ("run_id" = String, Path, description = "A run id, `run_…`"),
    ),
    responses(
        (status = 200, description = "The run", body = Run),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath((id, run_id)): ApiPath<(String, String)>,
) -> Result<Json<RunRecord>, ApiError> {
    let id = ApiError::path_id::<pinion_domain::SourceId>(&id, "source")?;
    let run_id = ApiError::path_id::<pinion_domain::RunId>(&run_id, "run")?;
    Ok(Json(state.runs.get(&user, &id, &run_id).await?))
}

/// `DELETE /api/v1/sources/{id}/runs/{run_id}`: deletes a finished run; 204.
#[utoipa::path(
    delete,
    operation_id = "delete_run",
    path = "/sources/{id}/runs/{run_id}",
    tag = "sources",
    params(
        ("id" = String, Path, description = "A source id, `src_…`"),
        ("run_id" = String, Path, description = "A run id, `run_…`"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
        (status = 409, description = "The run is still going; it was not deleted", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath((id, run_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = ApiError::path_id::<pinion_domain::SourceId>(&id, "source")?;
    let run_id = ApiError::path_id::<pinion_domain::RunId>(&run_id, "run")?;
    state.runs.delete(&user, &id, &run_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
