//! `/api/v1/sources`: the JSON side of the data-source screens (issue 6):
//! create, list and read sources. Another user's source is a 404, as is an
//! unknown id; a source can only be made with a credential the caller owns.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use pinion_service::SourceInput;
use pinion_store::SourceRecord;
use serde::Deserialize;

use super::{ApiError, ApiUser};
use crate::AppState;

/// `POST /api/v1/sources`
#[derive(Debug, Deserialize)]
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputBody {
    /// `jsonl` or `sqlite`.
    pub kind: String,
    /// An absolute path on the server.
    pub path: String,
}

/// `POST /api/v1/sources`: answers 201 with the source.
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
pub async fn list(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<SourceRecord>>, ApiError> {
    Ok(Json(state.sources.list(&user).await?))
}

/// `GET /api/v1/sources/{id}`
pub async fn get(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<SourceRecord>, ApiError> {
    Ok(Json(state.sources.get(&user, &id).await?))
}
