//! `/api/v1/destinations`: the JSON side of the destination screens (issue
//! 6): create, list, read, repoint and delete destinations (a Pinterest board that
//! pins are published to, and the credential that writes there). Another
//! user's destination is a 404, as is an unknown id.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use pinion_domain::record::DestinationRecord;
use pinion_service::DestinationInput;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath};
use super::openapi::ErrorBody;
use super::{ApiError, ApiUser};
use crate::AppState;

/// `POST /api/v1/destinations`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDestination {
    /// A name for people: 1 to 100 characters once trimmed.
    #[schema(
        pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[\s\S]{0,98}[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"#
    )]
    pub name: String,
    /// The credential to publish with (one the caller can use).
    pub credential_id: String,
    /// The Pinterest board to publish to: one of the credential's account's
    /// boards, checked with Pinterest when the destination is created.
    #[schema(min_length = 1)]
    pub board_id: String,
}

/// A destination as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Destination)]
pub struct DestinationView {
    /// `dst_…`.
    id: String,
    /// The owning user's id.
    owner: String,
    /// The credential it publishes with.
    credential_id: String,
    /// A name for people.
    name: String,
    /// The Pinterest board's id.
    board_id: String,
    /// The board's name when it was picked.
    board_name: String,
    /// When it was created.
    created_at: DateTime<Utc>,
}

impl From<DestinationRecord> for DestinationView {
    fn from(record: DestinationRecord) -> Self {
        Self {
            id: record.id.to_string(),
            owner: record.owner.to_string(),
            credential_id: record.credential_id.to_string(),
            name: record.name,
            board_id: record.board_id,
            board_name: record.board_name,
            created_at: record.created_at,
        }
    }
}

/// `POST /api/v1/destinations`: answers 201 with the destination.
#[utoipa::path(
    post,
    operation_id = "create_destination",
    path = "/destinations",
    tag = "destinations",
    request_body = CreateDestination,
    responses(
        (status = 201, description = "Created", body = DestinationView),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "The credential is unknown or not usable by the caller", body = ErrorBody),
        (status = 409, description = "`credential_not_authorized`: the credential is not authorized with Pinterest (yet, or any more); authorize it first", body = ErrorBody),
        (status = 422, description = "A field is invalid; `field` names it", body = ErrorBody),
        (status = 503, description = "Pinterest could not be asked for the boards", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(body): ApiJson<CreateDestination>,
) -> Result<impl IntoResponse, ApiError> {
    let input = DestinationInput {
        name: body.name,
        credential_id: body.credential_id,
        board_id: body.board_id,
    };
    let destination = state.destinations.create(&user, &input).await?;
    Ok((
        StatusCode::CREATED,
        Json(DestinationView::from(destination)),
    ))
}

/// `GET /api/v1/destinations`: the caller's destinations, newest first.
#[utoipa::path(
    get,
    operation_id = "list_destinations",
    path = "/destinations",
    tag = "destinations",
    responses(
        (status = 200, description = "The caller's destinations", body = Vec<DestinationView>),
        (status = 401, description = "No valid API token", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<DestinationView>>, ApiError> {
    let destinations = state.destinations.list(&user).await?;
    Ok(Json(
        destinations
            .into_iter()
            .map(DestinationView::from)
            .collect(),
    ))
}

/// `GET /api/v1/destinations/{id}`
#[utoipa::path(
    get,
    operation_id = "get_destination",
    path = "/destinations/{id}",
    tag = "destinations",
    params(("id" = String, Path, description = "A destination id, `dst_…`")),
    responses(
        (status = 200, description = "The destination", body = DestinationView),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DestinationView>, ApiError> {
    let id = ApiError::path_id::<pinion_domain::DestinationId>(&id, "destination")?;
    Ok(Json(state.destinations.get(&user, &id).await?.into()))
}

/// `PATCH /api/v1/destinations/{id}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepointDestination {
    /// The credential to publish with from now on: one the caller owns or
    /// one shared with them, authorized, whose account has the board.
    pub credential_id: String,
}

/// `PATCH /api/v1/destinations/{id}`: publishes with another credential
/// (after its credential was deleted, say); 200 with the destination.
#[utoipa::path(
    patch,
    operation_id = "repoint_destination",
    path = "/destinations/{id}",
    tag = "destinations",
    params(("id" = String, Path, description = "A destination id, `dst_…`")),
    request_body = RepointDestination,
    responses(
        (status = 200, description = "Repointed", body = DestinationView),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "The destination or the credential is unknown or not the caller's", body = ErrorBody),
        (status = 409, description = "The credential is not authorized", body = ErrorBody),
        (status = 422, description = "The credential's account does not have the board; `field` is `credential_id`", body = ErrorBody),
        (status = 503, description = "Pinterest could not be asked for the boards", body = ErrorBody),
    )
)]
pub async fn repoint(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RepointDestination>,
) -> Result<Json<DestinationView>, ApiError> {
    let id = ApiError::path_id::<pinion_domain::DestinationId>(&id, "destination")?;
    Ok(Json(
        state
            .destinations
            .repoint(&user, &id, &body.credential_id)
            .await?
            .into(),
    ))
}

/// `DELETE /api/v1/destinations/{id}`: 204.
#[utoipa::path(
    delete,
    operation_id = "delete_destination",
    path = "/destinations/{id}",
    tag = "destinations",
    params(("id" = String, Path, description = "A destination id, `dst_…`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = ApiError::path_id::<pinion_domain::DestinationId>(&id, "destination")?;
    state.destinations.delete(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
