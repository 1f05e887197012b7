//! `/api/v1/tokens`: the caller's API tokens (issue 6). Creating one answers
//! 201 with the token, shown this once; listing never shows tokens; deleting
//! revokes one by its public id (another user's id is a 404).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use pinion_domain::record::ApiTokenInfo;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath};
use super::openapi::ErrorBody;
use super::{ApiError, ApiUser};
use crate::AppState;

/// `POST /api/v1/tokens`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// A name for people, e.g. what uses it: 1 to 64 characters once
    /// trimmed, no control characters.
    #[schema(
        pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x1f\x7f-\x9f]{0,62}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"#
    )]
    pub name: String,
}

/// An API token as listed (`pinion_domain::record::ApiTokenInfo`): never the token.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ApiTokenEntry {
    /// `tok_` and 16 hex digits.
    id: String,
    /// A name for people; null for tokens made before names existed.
    name: Option<String>,
    /// When it was issued.
    created_at: DateTime<Utc>,
    /// When it last authenticated a request (to the minute).
    last_used_at: Option<DateTime<Utc>>,
}

/// A new token: the listing entry and the token, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// The listing entry.
    #[schema(value_type = ApiTokenEntry)]
    pub info: ApiTokenInfo,
    /// The token: send it as `Authorization: Bearer <token>`. It is stored
    /// only as a hash and cannot be shown again.
    pub token: String,
}

/// `POST /api/v1/tokens`: 201 with the token, shown this once.
#[utoipa::path(
    post,
    operation_id = "create_token",
    path = "/tokens",
    tag = "tokens",
    request_body = CreateToken,
    responses(
        (status = 201, description = "Created; the token is in this answer only", body = CreatedToken),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 422, description = "The name is invalid", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<impl IntoResponse, ApiError> {
    let (token, info) = state.users.create_named_token(&user, &body.name).await?;
    let created = CreatedToken {
        info,
        token: token.expose_secret().to_owned(),
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /api/v1/tokens`: the caller's tokens, newest first.
#[utoipa::path(
    get,
    operation_id = "list_tokens",
    path = "/tokens",
    tag = "tokens",
    responses(
        (status = 200, description = "The caller's unrevoked tokens", body = Vec<ApiTokenEntry>),
        (status = 401, description = "No valid API token", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<ApiTokenInfo>>, ApiError> {
    Ok(Json(state.users.tokens(&user).await?))
}

/// `DELETE /api/v1/tokens/{id}`: revokes one; 204.
#[utoipa::path(
    delete,
    operation_id = "revoke_token",
    path = "/tokens/{id}",
    tag = "tokens",
    params(("id" = String, Path, description = "A token id, `tok_…`")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, revoked, or not the caller's", body = ErrorBody),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = ApiError::path_id::<pinion_domain::ApiTokenId>(&id, "API token")?;
    state.users.revoke_token(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
