//! `/api/v1/sources/{id}/schedule`: when a source runs by itself (issue 14).
//! `PUT` sets or changes it (an interval, or a cron expression in a time
//! zone), `DELETE` removes it, `pause` and `resume` stop and restart it
//! without losing it. Another user's source is a 404, as is an unknown id.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use pinion_domain::SourceId;
use pinion_service::{Schedule, ScheduleInput};
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath};
use super::openapi::{ErrorBody, ScheduleBody};
use super::{ApiError, ApiUser};
use crate::AppState;

/// `PUT /api/v1/sources/{id}/schedule`: exactly one of `every` and `cron`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSchedule {
    /// An interval: numbers with units `s`, `m`, `h`, `d`, e.g. `15m`,
    /// `2h`, `1h30m`; at least the server's shortest interval (1 minute
    /// unless the operator allows less), at most 366 days.
    #[schema(max_length = 40, example = "1h")]
    #[serde(default, deserialize_with = "present_string")]
    pub every: Option<String>,
    /// A five-field cron expression (minute, hour, day of month, month,
    /// day of week), e.g. `0 6 * * 1-5`.
    #[schema(max_length = 200, example = "0 6 * * 1-5")]
    #[serde(default, deserialize_with = "present_string")]
    pub cron: Option<String>,
    /// The IANA time zone the cron expression is read in, e.g.
    /// `Europe/Paris`; UTC when absent. Only with `cron`.
    #[schema(max_length = 64, example = "Europe/Paris")]
    #[serde(default, deserialize_with = "present_string")]
    pub time_zone: Option<String>,
}

/// A field that may be left out but, when given, is a string: `null` is
/// refused as the schema says, rather than read as "left out".
fn present_string<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    String::deserialize(deserializer).map(Some)
}

fn source_id(text: &str) -> Result<SourceId, ApiError> {
    ApiError::path_id::<SourceId>(text, "source")
}

/// `GET /api/v1/sources/{id}/schedule`
#[utoipa::path(
    get,
    operation_id = "get_schedule",
    path = "/sources/{id}/schedule",
    tag = "sources",
    params(("id" = String, Path, description = "A source id, `src_…`")),
    responses(
        (status = 200, description = "The source's schedule", body = ScheduleBody),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown source, not the caller's, or not scheduled", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Schedule>, ApiError> {
    let id = source_id(&id)?;
    match state.schedules.get(&user, &id).await? {
        Some(schedule) => Ok(Json(schedule)),
        None => Err(ApiError::not_found("schedule")),
    }
}

/// `PUT /api/v1/sources/{id}/schedule`: sets or changes the schedule; the
/// first run is one interval from now or the expression's next match. A
/// paused schedule stays paused.
#[utoipa::path(
    put,
    operation_id = "set_schedule",
    path = "/sources/{id}/schedule",
    tag = "sources",
    params(("id" = String, Path, description = "A source id, `src_…`")),
    request_body = SetSchedule,
    responses(
        (status = 200, description = "The schedule as set", body = ScheduleBody),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown source, or not the caller's", body = ErrorBody),
        (status = 422, description = "A field is invalid; `field` names it", body = ErrorBody),
    )
)]
pub async fn set(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SetSchedule>,
) -> Result<Json<Schedule>, ApiError> {
    let id = source_id(&id)?;
    let input = ScheduleInput {
        every: body.every,
        cron: body.cron,
        time_zone: body.time_zone,
    };
    Ok(Json(state.schedules.set(&user, &id, &input).await?))
}

/// `DELETE /api/v1/sources/{id}/schedule`: the source runs only on demand
/// again; 204.
#[utoipa::path(
    delete,
    operation_id = "delete_schedule",
    path = "/sources/{id}/schedule",
    tag = "sources",
    params(("id" = String, Path, description = "A source id, `src_…`")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown source, not the caller's, or not scheduled", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = source_id(&id)?;
    state.schedules.remove(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/sources/{id}/schedule/pause`: no run starts until resumed.
#[utoipa::path(
    post,
    operation_id = "pause_schedule",
    path = "/sources/{id}/schedule/pause",
    tag = "sources",
    params(("id" = String, Path, description = "A source id, `src_…`")),
    responses(
        (status = 200, description = "The paused schedule", body = ScheduleBody),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown source, or not the caller's", body = ErrorBody),
        (status = 409, description = "The source has no schedule", body = ErrorBody),
    )
)]
pub async fn pause(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Schedule>, ApiError> {
    let id = source_id(&id)?;
    Ok(Json(state.schedules.pause(&user, &id).await?))
}

/// `POST /api/v1/sources/{id}/schedule/resume`: runs start again from the
/// first slot after now (slots missed while paused do not run).
#[utoipa::path(
    post,
    operation_id = "resume_schedule",
    path = "/sources/{id}/schedule/resume",
    tag = "sources",
    params(("id" = String, Path, description = "A source id, `src_…`")),
    responses(
        (status = 200, description = "The resumed schedule", body = ScheduleBody),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown source, or not the caller's", body = ErrorBody),
        (status = 409, description = "The source has no schedule", body = ErrorBody),
    )
)]
pub async fn resume(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Schedule>, ApiError> {
    let id = source_id(&id)?;
    Ok(Json(state.schedules.resume(&user, &id).await?))
}
