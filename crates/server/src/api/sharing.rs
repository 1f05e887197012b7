//! Sharing and the activity log in the JSON API (issue 6):
//!
//! - `GET /api/v1/credentials/{id}/shares`: who the credential is shared
//!   with (owner and admins);
//! - `POST /api/v1/credentials/{id}/shares` `{"username"}`: share it (owner);
//! - `DELETE /api/v1/credentials/{id}/shares/{username}`: withdraw (owner);
//! - `GET /api/v1/credentials/{id}/activity?limit=&before=`: the log, newest
//!   first (owner and admins; admins also after deletion);
//! - `GET /api/v1/shared-credentials`: the credentials shared with the
//!   caller, as tiles show them (no app settings).
//!
//! Access: a collaborator gets 403 `forbidden` on every route above for a
//! credential shared with them (they see its tile, so its existence is no
//! secret to them) and on every settings route of `/credentials/{id}`; any
//! other user gets the same 404 as for an unknown id.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use pinion_domain::record::{ActivityRecord, ShareRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::{ApiError, ApiUser};
use crate::AppState;

/// A collaborator of a credential.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Share)]
pub struct ShareView {
    /// The collaborator's username.
    username: String,
    /// When it was shared with them.
    shared_at: DateTime<Utc>,
}

impl From<&ShareRecord> for ShareView {
    fn from(share: &ShareRecord) -> Self {
        Self {
            username: share.username.as_str().to_owned(),
            shared_at: share.created_at,
        }
    }
}

/// `GET /api/v1/credentials/{id}/shares` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareList {
    /// The collaborators, by username.
    items: Vec<ShareView>,
}

/// `POST /api/v1/credentials/{id}/shares`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateShare {
    /// The username of the user to share with (letters, digits, `.`, `_`,
    /// `-`; case does not matter). An unknown username answers 404.
    #[schema(
        pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[A-Za-z0-9][A-Za-z0-9._-]{0,63}[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"#
    )]
    pub username: String,
}

/// One entry of a credential's activity log. Never holds a secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ActivityEntry)]
pub struct ActivityView {
    /// Increasing with time; pass the last one seen as `before` for the next page.
    id: i64,
    /// When it happened.
    at: DateTime<Utc>,
    /// The acting user's username, or `system` (the token refresher).
    actor: String,
    /// `created`, `edited`, `authorized`, `authorization_failed`,
    /// `authorization_declined`, `refreshed`, `refresh_failed`, `checked`,
    /// `used_by_run`, `shared`, `share_withdrawn` or `deleted`.
    event: String,
    /// What it is about: a collaborator's username, a source or destination
    /// id, a refresh failure's class, a check's `ok` or `failed`.
    subject: Option<String>,
    /// More words for people: granted scopes, a classified reason.
    detail: Option<String>,
    /// The credential's name at the time.
    credential_name: String,
}

impl From<&ActivityRecord> for ActivityView {
    fn from(entry: &ActivityRecord) -> Self {
        Self {
            id: entry.id,
            at: entry.at,
            actor: entry.actor.clone(),
            event: entry.event.clone(),
            subject: entry.subject.clone(),
            detail: entry.detail.clone(),
            credential_name: entry.credential_name.clone(),
        }
    }
}

/// `GET /api/v1/credentials/{id}/activity` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityList {
    /// Newest first.
    items: Vec<ActivityView>,
    /// Pass as `before` for older entries; `null` when there are none.
    next_before: Option<i64>,
}

/// The largest `before`: the largest integer every JSON reader holds exactly.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// `GET /api/v1/credentials/{id}/activity` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// At most this many entries (1 to 200, default 50).
    #[serde(default)]
    #[param(nullable = false, minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// Only entries older than this entry id (a `next_before`).
    #[serde(default)]
    #[param(nullable = false, minimum = 1, maximum = 9007199254740991_i64)]
    before: Option<i64>,
}

/// A credential shared with the caller, as its tile shows it: no app
/// settings.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SharedCredential)]
pub struct SharedCredentialView {
    id: String,
    name: String,
    description: Option<String>,
    /// The owner's username.
    shared_by: String,
    /// `needs_authorization`, `active`, `needs_reauthorization` or `error`.
    status: &'static str,
    status_label: &'static str,
    granted_scopes: Option<Vec<&'static str>>,
}

/// `GET /api/v1/shared-credentials` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharedCredentialList {
    /// Oldest share first.
    items: Vec<SharedCredentialView>,
}

/// `GET /api/v1/credentials/{id}/shares`: the collaborators.
#[utoipa::path(
    get,
    path = "/credentials/{id}/shares",
    tag = "credentials",
    params(("id" = String, Path, description = "A credential id, `cred_…`")),
    responses(
        (status = 200, description = "The collaborators", body = ShareList),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 403, description = "The credential is shared with the caller", body = ErrorBody),
        (status = 404, description = "No such credential, or not the caller's", body = ErrorBody),
    )
)]
pub async fn list_shares(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ShareList>, ApiError> {
    let id = ApiError::path_id::<pinion_domain::CredentialId>(&id, "credential")?;
    let shares = state.credentials.shares(&user, &id).await?;
    Ok(Json(ShareList {
        items: shares.iter().map(ShareView::from).collect(),
    }))
}

/// `POST /api/v1/credentials/{id}/shares`: 201 with the share.
#[utoipa::path(
    post,
    path = "/credentials/{id}/shares",
    tag = "credentials",
    params(("id" = String, Path, description = "A credential id, `cred_…`")),
    request_body = CreateShare,
    responses(
        (status = 201, description = "Shared", body = ShareView),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 403, description = "The credential is shared with the caller", body = ErrorBody),
        (status = 404, description = "No such credential, or not the caller's", body = ErrorBody),
        (status = 409, description = "`unknown_user`: no user has this username; `conflict`: it is the owner's, or the credential is shared with them already", body = ErrorBody),
    )
)]
pub async fn create_share(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CreateShare>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ApiError::path_id::<pinion_domain::CredentialId>(&id, "credential")?;
    let share = match state.credentials.share(&user, &id, &body.username).await {
        Ok(share) => share,
        // The only field of the body: a well-formed username that names no
        // user, or the owner's own, conflicts with the users there are
        // (409), so a body the document allows is never a 422 (and a 404
        // stays "no such credential").
        Err(pinion_service::ServiceError::Validation(errors)) => {
            let message = errors.to_string();
            return Err(if message.contains("no user") {
                ApiError::conflict("unknown_user", "no user has this username")
                    .with_field("username")
            } else {
                ApiError::from(pinion_service::ServiceError::Conflict {
                    field: "username",
                    message: "you own this credential already".to_owned(),
                })
            });
        }
        Err(err) => return Err(err.into()),
    };
    Ok((StatusCode::CREATED, Json(ShareView::from(&share))))
}

/// `DELETE /api/v1/credentials/{id}/shares/{username}`: 204.
#[utoipa::path(
    delete,
    path = "/credentials/{id}/shares/{username}",
    tag = "credentials",
    params(
        ("id" = String, Path, description = "A credential id, `cred_…`"),
        ("username" = String, Path, description = "The collaborator"),
    ),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 403, description = "The credential is shared with the caller", body = ErrorBody),
        (status = 404, description = "No such credential or share", body = ErrorBody),
    )
)]
pub async fn delete_share(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath((id, username)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = ApiError::path_id::<pinion_domain::CredentialId>(&id, "credential")?;
    state
        .credentials
        .withdraw_share(&user, &id, &username)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/credentials/{id}/activity`: the log, newest first.
#[utoipa::path(
    get,
    path = "/credentials/{id}/activity",
    tag = "credentials",
    params(("id" = String, Path, description = "A credential id, `cred_…`"), ActivityQuery),
    responses(
        (status = 200, description = "Log entries, newest first", body = ActivityList),
        (status = 400, description = "A malformed query string", body = ErrorBody),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 403, description = "The credential is shared with the caller", body = ErrorBody),
        (status = 404, description = "No such credential, or not the caller's", body = ErrorBody),
    )
)]
pub async fn activity(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ActivityQuery>,
) -> Result<Json<ActivityList>, ApiError> {
    let id = ApiError::path_id::<pinion_domain::CredentialId>(&id, "credential")?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=pinion_service::MAX_ACTIVITY_PAGE).contains(&limit) {
        return Err(ApiError::invalid_query(
            "limit",
            format_args!("must be from 1 to {}", pinion_service::MAX_ACTIVITY_PAGE),
        ));
    }
    if query
        .before
        .is_some_and(|before| !(1..=MAX_SAFE_INTEGER).contains(&before))
    {
        return Err(ApiError::invalid_query(
            "before",
            format_args!("must be from 1 to {MAX_SAFE_INTEGER}"),
        ));
    }
    let entries = state
        .credentials
        .activity(&user, &id, query.before, limit)
        .await?;
    let full_page = entries.len() >= limit.clamp(1, pinion_service::MAX_ACTIVITY_PAGE) as usize;
    let next_before = if full_page {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Json(ActivityList {
        items: entries.iter().map(ActivityView::from).collect(),
        next_before,
    }))
}

/// `GET /api/v1/shared-credentials`: the credentials shared with the caller.
#[utoipa::path(
    get,
    path = "/shared-credentials",
    tag = "credentials",
    responses(
        (status = 200, description = "Credentials shared with the caller", body = SharedCredentialList),
        (status = 401, description = "No valid API token", body = ErrorBody),
    )
)]
pub async fn shared_with_me(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<SharedCredentialList>, ApiError> {
    let usable = state.credentials.list_usable(&user).await?;
    let items = usable
        .iter()
        .filter_map(|c| {
            let shared_by = c.shared_by.as_ref()?;
            let record = &c.record;
            Some(SharedCredentialView {
                id: record.id.to_string(),
                name: record.name.to_string(),
                description: record.description.as_ref().map(|d| d.as_str().to_owned()),
                shared_by: shared_by.as_str().to_owned(),
                status: record.status.as_str(),
                status_label: record.status.label(),
                granted_scopes: record
                    .granted_scopes
                    .as_ref()
                    .map(|set| set.iter().map(|s| s.as_str()).collect()),
            })
        })
        .collect();
    Ok(Json(SharedCredentialList { items }))
}
