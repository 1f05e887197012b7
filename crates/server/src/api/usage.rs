//! `GET /api/v1/credentials/{id}/usage`: what the credential information
//! screen lists under "Used by": the sources and destinations using a
//! credential and the latest runs of the caller's sources among them. The
//! owner sees every source and destination using it, a collaborator only
//! their own; anyone else gets 404, as for an unknown id.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use pinion_domain::record::RunRecord;
use pinion_service::{CredentialUsage, MAX_USAGE_RUNS, USAGE_RUNS_LISTED};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::runs::Run;
use super::{ApiError, ApiUser};
use crate::AppState;

/// The query of `GET /api/v1/credentials/{id}/usage`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// How many recent runs to return (0 to 100, default 10).
    #[param(nullable = false, minimum = 0, maximum = 100)]
    runs: Option<u32>,
}

/// What uses a credential.
#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    /// The credential, `cred_…`.
    credential_id: String,
    /// The sources reading with it, by name (a collaborator sees only
    /// their own).
    sources: Vec<SourceUse>,
    /// The destinations writing with it, by name (a collaborator sees only
    /// their own).
    destinations: Vec<DestinationUse>,
    /// The latest runs of the caller's sources among `sources`, newest
    /// first.
    #[schema(value_type = Vec<Run>)]
    recent_runs: Vec<RunRecord>,
}

/// A source using the credential.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceUse {
    /// `src_…`.
    id: String,
    /// A name for people.
    name: String,
    /// The username of the user who owns the source.
    owner_username: String,
    /// Stream names, in the order chosen.
    streams: Vec<String>,
    /// When it was created.
    created_at: DateTime<Utc>,
}

/// A destination using the credential.
#[derive(Debug, Serialize, ToSchema)]
pub struct DestinationUse {
    /// `dst_…`.
    id: String,
    /// A name for people.
    name: String,
    /// The username of the user who owns the destination.
    owner_username: String,
    /// The Pinterest board pins are published to.
    board_id: String,
    /// The board's name when it was picked.
    board_name: String,
    /// When it was created.
    created_at: DateTime<Utc>,
}

impl Usage {
    fn new(credential_id: String, usage: CredentialUsage) -> Self {
        Self {
            credential_id,
            sources: usage
                .sources
                .into_iter()
                .map(|used| SourceUse {
                    id: used.source.id.to_string(),
                    name: used.source.name,
                    owner_username: used.owner_username.as_str().to_owned(),
                    streams: used.source.streams,
                    created_at: used.source.created_at,
                })
                .collect(),
            destinations: usage
                .destinations
                .into_iter()
                .map(|used| DestinationUse {
                    id: used.destination.id.to_string(),
                    name: used.destination.name,
                    owner_username: used.owner_username.as_str().to_owned(),
                    board_id: used.destination.board_id,
                    board_name: used.destination.board_name,
                    created_at: used.destination.created_at,
                })
                .collect(),
            recent_runs: usage.recent_runs,
        }
    }
}

/// `GET /api/v1/credentials/{id}/usage`
#[utoipa::path(
    get,
    operation_id = "credential_usage",
    path = "/credentials/{id}/usage",
    tag = "credentials",
    params(
        ("id" = String, Path, description = "A credential id, `cred_…`"),
        UsageQuery,
    ),
    responses(
        (status = 200, description = "The sources and destinations using the credential, and the caller's recent runs of those sources", body = Usage),
        (status = 400, description = "A malformed query string", body = ErrorBody),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or neither the caller's nor shared with them", body = ErrorBody),
    )
)]
pub async fn usage(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<UsageQuery>,
) -> Result<Json<Usage>, ApiError> {
    let id = ApiError::path_id::<pinion_domain::CredentialId>(&id, "credential")?;
    let runs = query.runs.unwrap_or(USAGE_RUNS_LISTED);
    if runs > MAX_USAGE_RUNS {
        return Err(ApiError::invalid_query(
            "runs",
            format_args!("must be at most {MAX_USAGE_RUNS}"),
        ));
    }
    let usage = state.credentials.usage(&user, &id, runs).await?;
    Ok(Json(Usage::new(id.to_string(), usage)))
}
