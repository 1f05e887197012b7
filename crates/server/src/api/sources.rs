//! `/api/v1/sources`: the JSON side of the data-source screens (issue 6):
//! create, list, read and delete sources. Another user's source is a 404,
//! as is an unknown id; a source can only be made with a credential the
//! caller owns or one shared with them. A source with a run still going is
//! not deleted (409).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use pinion_service::SourceInput;
use pinion_store::SourceRecord;
use serde::Deserialize;
use utoipa::ToSchema;

use super::openapi::{ErrorBody, Source};
use super::{ApiError, ApiUser};
use crate::AppState;

/// `POST /api/v1/sources`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    /// A name for people.
    pub name: String,
    /// The credential to read with (one the caller owns).
    pub credential_id: String,
    /// Streams: `user_account`, `boards`, `board_sections`, `board_pins`,
    /// `pins`, `ad_accounts`.
    pub streams: Vec<String>,
    /// Where to write.
    pub output: OutputBody,
}

/// A source's output.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputBody {
    /// `jsonl` or `sqlite`.
    pub kind: String,
    /// A name under the server's outputs folder (`<data dir>/outputs/<user
    /// id>/`), e.g. `weekly` or `reports/boards.db`: letters, digits, `.`,
    /// `_`, `-`, parts separated by `/`, no leading dot.
    pub path: String,
}

/// `POST /api/v1/sources`: answers 201 with the source.
#[utoipa::path(
    post,
    operation_id = "create_source",
    path = "/sources",
    tag = "sources",
    request_body = CreateSource,
    responses(
        (status = 201, description = "Created", body = Source),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "The credential is unknown or not the caller's", body = ErrorBody),
        (status = 422, description = "A field is invalid; `field` names it", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    body: Result<Json<CreateSource>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(body) = body?;
    let input = SourceInput {
        name: body.name,
        credential_id: body.credential_id,
        streams: body.streams,
        output_kind: body.output.kind,
        output_path: body.output.path,
    };
    let source = state.sources.create(&user, &input).await?;
    Ok((StatusCode::CREATED, Json(source)))
}

/// `GET /api/v1/sources`: the caller's sources, newest first.
#[utoipa::path(
    get,
    operation_id = "list_sources",
    path = "/sources",
    tag = "sources",
    responses(
        (status = 200, description = "The caller's sources", body = Vec<Source>),
        (status = 401, description = "No valid API token", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<SourceRecord>>, ApiError> {
    Ok(Json(state.sources.list(&user).await?))
}

/// `GET /api/v1/sources/{id}`
#[utoipa::path(
    get,
    operation_id = "get_source",
    path = "/sources/{id}",
    tag = "sources",
    params(("id" = String, Path, description = "A source id, `src_…`")),
    responses(
        (status = 200, description = "The source", body = Source),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<SourceRecord>, ApiError> {
    Ok(Json(state.sources.get(&user, &id).await?))
}

/// `DELETE /api/v1/sources/{id}`: deletes the source with its runs and the
/// sync state of its job; 204. Its output files stay.
#[utoipa::path(
    delete,
    operation_id = "delete_source",
    path = "/sources/{id}",
    tag = "sources",
    params(("id" = String, Path, description = "A source id, `src_…`")),
    responses(
        (status = 204, description = "Deleted, with its runs"),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
        (status = 409, description = "A run of this source is still going; nothing was deleted", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.sources.delete(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
