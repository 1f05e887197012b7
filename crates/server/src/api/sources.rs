//! `/api/v1/sources`: the JSON side of the data-source screens (issue 6):
//! create, list, read, change and delete sources. Another user's source is a 404,
//! as is an unknown id; a source can only be made with a credential the
//! caller owns or one shared with them. A source with a run still going is
//! neither changed nor deleted (409).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use pinion_domain::SyncMode;
use pinion_domain::record::SourceRecord;
use pinion_service::SourceInput;
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath};
use super::openapi::{ErrorBody, Source};
use super::{ApiError, ApiUser};
use crate::AppState;

/// `POST /api/v1/sources`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    /// A name for people: 1 to 100 characters once trimmed.
    #[schema(
        pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[\s\S]{0,98}[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"#
    )]
    pub name: String,
    /// The credential to read with (one the caller owns).
    pub credential_id: String,
    /// Streams: `user_account`, `boards`, `board_sections`, `board_pins`,
    /// `pins`, `ad_accounts` (at least one; repeats are ignored).
    #[schema(min_items = 1, inline)]
    pub streams: Vec<StreamName>,
    /// Where to write.
    pub output: OutputBody,
    /// `full_refresh` (the default): every run reads everything;
    /// `incremental`: runs skip boards whose pins did not change since the
    /// last successful run.
    #[serde(default)]
    pub sync_mode: Option<SyncModeName>,
}

impl From<CreateSource> for SourceInput {
    fn from(body: CreateSource) -> Self {
        SourceInput {
            name: body.name,
            credential_id: body.credential_id,
            streams: body
                .streams
                .into_iter()
                .map(|stream| stream.as_str().to_owned())
                .collect(),
            output_kind: body.output.kind.as_str().to_owned(),
            output_path: body.output.path,
            sync_mode: body
                .sync_mode
                .map_or(SyncMode::default(), SyncModeName::mode)
                .as_str()
                .to_owned(),
        }
    }
}

/// A stream a source can read (`pinion_service::STREAMS`).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StreamName {
    /// The account.
    UserAccount,
    /// Boards.
    Boards,
    /// Board sections.
    BoardSections,
    /// The pins of each board.
    BoardPins,
    /// Pins.
    Pins,
    /// Ad accounts.
    AdAccounts,
}

/// How a source's runs read (`pinion_domain::SyncMode`).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[schema(as = SyncMode)]
#[serde(rename_all = "snake_case")]
pub enum SyncModeName {
    /// Every run reads everything.
    FullRefresh,
    /// Runs skip boards whose pins did not change since the last successful run.
    Incremental,
}

impl SyncModeName {
    fn mode(self) -> SyncMode {
        match self {
            SyncModeName::FullRefresh => SyncMode::FullRefresh,
            SyncModeName::Incremental => SyncMode::Incremental,
        }
    }
}

/// Where a source can write (`pinion_service::OUTPUTS`).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// JSON Lines files.
    Jsonl,
    /// An SQLite database.
    Sqlite,
}

impl StreamName {
    fn as_str(self) -> &'static str {
        match self {
            Self::UserAccount => "user_account",
            Self::Boards => "boards",
            Self::BoardSections => "board_sections",
            Self::BoardPins => "board_pins",
            Self::Pins => "pins",
            Self::AdAccounts => "ad_accounts",
        }
    }
}

impl OutputKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Jsonl => "jsonl",
            Self::Sqlite => "sqlite",
        }
    }
}

/// A source's output.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputBody {
    /// `jsonl` or `sqlite`.
    #[schema(inline)]
    pub kind: OutputKind,
    /// A name under the server's outputs folder (`<data dir>/outputs/<user
    /// id>/`), e.g. `weekly` or `reports/boards.db`: letters, digits, `.`,
    /// `_`, `-`, parts separated by `/` (at most 4), each starting with a
    /// letter or digit; at most 200 characters.
    #[schema(
        max_length = 200,
        pattern = r#"^[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*){0,3}$"#
    )]
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
    ApiJson(body): ApiJson<CreateSource>,
) -> Result<impl IntoResponse, ApiError> {
    let input = SourceInput::from(body);
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
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SourceRecord>, ApiError> {
    let id = ApiError::path_id::<pinion_domain::SourceId>(&id, "source")?;
    Ok(Json(state.sources.get(&user, &id).await?))
}

/// `PUT /api/v1/sources/{id}`: replaces the source's settings (the same
/// body as creating it); 200 with the source. Its runs stay; a change of
/// credential, streams or output makes the next run start afresh.
#[utoipa::path(
    put,
    operation_id = "update_source",
    path = "/sources/{id}",
    tag = "sources",
    params(("id" = String, Path, description = "A source id, `src_…`")),
    request_body = CreateSource,
    responses(
        (status = 200, description = "Changed", body = Source),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "The source or the credential is unknown or not the caller's", body = ErrorBody),
        (status = 409, description = "A run of this source is still going; nothing was changed", body = ErrorBody),
        (status = 422, description = "A field is invalid; `field` names it", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CreateSource>,
) -> Result<Json<SourceRecord>, ApiError> {
    let id = ApiError::path_id::<pinion_domain::SourceId>(&id, "source")?;
    let input = SourceInput::from(body);
    Ok(Json(state.sources.update(&user, &id, &input).await?))
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
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = ApiError::path_id::<pinion_domain::SourceId>(&id, "source")?;
    state.sources.delete(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
