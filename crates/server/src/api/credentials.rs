//! `/api/v1/credentials`: create, list, read, change and delete credentials.
//!
//! Responses carry metadata only: `client_secret` is `"set"`, tokens appear as
//! their expiry times. Another user's credential is a 404, as is an unknown id.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use pinion_domain::{ClientSecret, CredentialInput, CredentialPatchInput};
use pinion_domain::{Credential, CredentialId, User};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::{ApiError, ApiUser};
use crate::AppState;

/// A secret field of a request body, wrapped as soon as it is parsed.
#[derive(Deserialize, ToSchema)]
#[schema(value_type = String, format = Password)]
#[serde(transparent)]
pub struct SecretField(String);

impl std::fmt::Debug for SecretField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretField([REDACTED])")
    }
}

impl SecretField {
    fn into_secret(self) -> ClientSecret {
        ClientSecret::new(self.0)
    }
}

/// `POST /api/v1/credentials`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCredential {
    /// Credential Name: 1 to 100 characters once trimmed, no control
    /// characters; unique among the owner's credentials.
    #[schema(
        pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x1f\x7f-\x9f]{0,98}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"#
    )]
    pub name: String,
    /// Credential Description: up to 1,000 characters once trimmed; line
    /// breaks and tabs allowed, other control characters not. Blank or null:
    /// none.
    #[serde(default)]
    #[schema(
        pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]{0,998}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?$"#
    )]
    pub description: Option<String>,
    /// The app's Client ID: its digits (1 to 32), surrounding white space
    /// ignored.
    #[schema(
        pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[0-9]{1,32}[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"#
    )]
    pub client_id: String,
    /// The app's Client Secret; write-only: printable ASCII without spaces,
    /// 1 to 512 characters, surrounding white space ignored.
    #[schema(value_type = String, format = Password, write_only, pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[!-~]{1,512}[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"#)]
    pub client_secret: SecretField,
    /// Access Scope, comma or space separated, or a list.
    #[serde(default)]
    pub scopes: Option<ScopesField>,
}

/// Scopes as a string (`"boards:read,pins:read"`) or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ScopesField {
    /// Comma- or space-separated.
    Text(String),
    /// One scope per element.
    List(Vec<String>),
}

/// Every scope Pinterest defines, as the document lists them.
fn scope_names() -> Vec<&'static str> {
    pinion_domain::Scope::ALL
        .iter()
        .map(|s| s.as_str())
        .collect()
}

impl utoipa::PartialSchema for ScopesField {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
        let names = scope_names();
        // Scopes separated by commas or white space (control characters
        // other than tab and line breaks refused); blank: the default set.
        let separator = r", \t\n\r\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
        let blank = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
        let scope = names.join("|");
        let pattern = format!(
            "^(?:[{blank}]*|[{separator}]*(?:{scope})(?:[{separator}]+(?:{scope}))*[{separator}]*)$"
        );
        let one_of = OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(pattern))
                    .description(Some(
                        "Comma- or space-separated scopes; blank asks for the default set \
                         (`boards:read,pins:read,user_accounts:read`)",
                    )),
            )
            .item(
                ArrayBuilder::new()
                    .items(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(names)),
                    )
                    .description(Some(
                        "One scope per element; an empty list asks for the default set",
                    )),
            )
            .build();
        utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::OneOf(one_of))
    }
}

impl utoipa::ToSchema for ScopesField {}

impl ScopesField {
    fn into_text(self) -> String {
        match self {
            ScopesField::Text(text) => text,
            ScopesField::List(list) => list.join(","),
        }
    }
}

/// `PATCH /api/v1/credentials/{id}`: at least one field; a field left out
/// stays as it is (`null` is not a value: leave the field out instead). An
/// empty patch is refused (422), so a mistyped field name never passes as
/// "nothing to change".
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCredential {
    /// A new name, with the rules of `name` at creation.
    #[serde(default, deserialize_with = "present")]
    #[schema(
        nullable = false,
        pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x1f\x7f-\x9f]{0,98}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"#
    )]
    pub name: Option<String>,
    /// A new description; blank clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(
        nullable = false,
        pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]{0,998}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?$"#
    )]
    pub description: Option<String>,
    /// A new Client ID.
    #[serde(default, deserialize_with = "present")]
    #[schema(
        nullable = false,
        pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[0-9]{1,32}[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"#
    )]
    pub client_id: Option<String>,
    /// A new Client Secret.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, format = Password, write_only, pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[!-~]{1,512}[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"#)]
    pub client_secret: Option<SecretField>,
    /// New requested scopes; blank restores the default.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub scopes: Option<ScopesField>,
    /// How fast Pinion calls Pinterest with this credential: `standard`
    /// (Pinterest's standard access), `trial`, a number of requests a
    /// minute in every rate-limit category such as `600/min`, or
    /// `unlimited`.
    #[serde(default, deserialize_with = "present")]
    #[schema(
        nullable = false,
        example = "standard",
        pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?i:standard|trial|unlimited|[0-9]{1,7}/min)[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"#
    )]
    pub rate_tier: Option<String>,
}

/// A field that may be left out but is never `null`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A credential as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Credential)]
pub struct CredentialView {
    id: String,
    owner: String,
    name: String,
    description: Option<String>,
    provider: String,
    client_id: String,
    /// `"set"`: the secret is write-only.
    #[schema(example = "set")]
    client_secret: &'static str,
    scopes: Vec<&'static str>,
    granted_scopes: Option<Vec<&'static str>>,
    /// How fast Pinion calls Pinterest with it: `standard`, `trial`,
    /// `N/min` or `unlimited`.
    #[schema(example = "standard")]
    rate_tier: String,
    /// `needs_authorization`, `active`, `needs_reauthorization` or `error`.
    status: &'static str,
    status_label: &'static str,
    last_error: Option<String>,
    access_token_expires_at: Option<DateTime<Utc>>,
    refresh_token_expires_at: Option<DateTime<Utc>>,
    last_refreshed_at: Option<DateTime<Utc>>,
    /// When Pinion last asked Pinterest whether the credential works
    /// (`POST …/check`); `null` if never.
    last_checked_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&Credential> for CredentialView {
    fn from(record: &Credential) -> Self {
        Self {
            id: record.id.to_string(),
            owner: record.owner.to_string(),
            name: record.name.to_string(),
            description: record.description.as_ref().map(|d| d.as_str().to_owned()),
            provider: record.provider.clone(),
            client_id: record.client_id.to_string(),
            client_secret: if record.client_secret_set {
                "set"
            } else {
                "not_set"
            },
            scopes: record.scopes.iter().map(|s| s.as_str()).collect(),
            granted_scopes: record
                .granted_scopes
                .as_ref()
                .map(|set| set.iter().map(|s| s.as_str()).collect()),
            rate_tier: record.rate_tier.to_string(),
            status: record.status.as_str(),
            status_label: record.status.label(),
            last_error: record.last_error.clone(),
            access_token_expires_at: record.access_token_expires_at,
            refresh_token_expires_at: record.refresh_token_expires_at,
            last_refreshed_at: record.last_refreshed_at,
            last_checked_at: record.last_checked_at,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// `GET /api/v1/credentials` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `mine` (the default) lists the caller's credentials; `all` every
    /// user's (admins only).
    #[serde(default)]
    #[param(inline, nullable = false)]
    scope: Option<ListScope>,
}

/// Whose credentials `GET /api/v1/credentials` lists.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListScope {
    /// The caller's.
    Mine,
    /// Every user's (admins only).
    All,
}

/// `GET /api/v1/credentials` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialList {
    /// The credentials, newest first.
    items: Vec<CredentialView>,
}

impl CredentialList {
    fn of(records: &[Credential]) -> Self {
        Self {
            items: records.iter().map(CredentialView::from).collect(),
        }
    }
}

/// `POST /api/v1/credentials`: 201 with the new credential.
#[utoipa::path(
    post,
    operation_id = "create_credential",
    path = "/credentials",
    tag = "credentials",
    request_body = CreateCredential,
    responses(
        (status = 201, description = "Created", body = CredentialView),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "A field is invalid; `field` names it", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(body): ApiJson<CreateCredential>,
) -> Result<impl IntoResponse, ApiError> {
    let input = CredentialInput {
        name: body.name,
        description: body.description,
        client_id: body.client_id,
        client_secret: Some(body.client_secret.into_secret()),
        scopes: body.scopes.map(ScopesField::into_text),
    };
    let record = state.credentials.create(&user, &user.id, &input).await?;
    Ok((StatusCode::CREATED, Json(CredentialView::from(&record))))
}

/// `GET /api/v1/credentials`: the caller's credentials (`?scope=all`: every
/// user's, for admins).
#[utoipa::path(
    get,
    operation_id = "list_credentials",
    path = "/credentials",
    tag = "credentials",
    params(ListQuery),
    responses(
        (status = 200, description = "The credentials (metadata only)", body = CredentialList),
        (status = 400, description = "Unknown `scope`, or a malformed query string", body = ErrorBody),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 403, description = "`scope=all` by a non-admin", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let records = match query.scope.unwrap_or(ListScope::Mine) {
        ListScope::Mine => return own_list(&state, &user).await,
        ListScope::All => state.credentials.list_all(&user).await?,
    };
    Ok(Json(CredentialList::of(&records)).into_response())
}

/// The caller's own credentials, answered from memory until the store
/// changes: the listing is the API's most frequent call, and rendering 50
/// credentials costs far more than sending them.
async fn own_list(state: &AppState, user: &User) -> Result<Response, ApiError> {
    let load = || async {
        let records = state.credentials.list(user).await?;
        let body = serde_json::to_vec(&CredentialList::of(&records))
            .map_err(|err| ApiError::internal(&err))?;
        Ok::<_, ApiError>(Some(Bytes::from(body)))
    };
    let body = state
        .credential_lists
        .get_or_load(&user.id, Duration::MAX, load)
        .await?
        .unwrap_or_default();
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// `GET /api/v1/credentials/{id}`
#[utoipa::path(
    get,
    operation_id = "get_credential",
    path = "/credentials/{id}",
    tag = "credentials",
    params(("id" = String, Path, description = "A credential id, `cred_…`")),
    responses(
        (status = 200, description = "The credential", body = CredentialView),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CredentialView>, ApiError> {
    let id = ApiError::path_id::<CredentialId>(&id, "credential")?;
    let record = state.credentials.get(&user, &id).await?;
    Ok(Json(CredentialView::from(&record)))
}

/// `PATCH /api/v1/credentials/{id}`
#[utoipa::path(
    patch,
    operation_id = "update_credential",
    path = "/credentials/{id}",
    tag = "credentials",
    params(("id" = String, Path, description = "A credential id, `cred_…`")),
    request_body = UpdateCredential,
    responses(
        (status = 200, description = "The changed credential", body = CredentialView),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
        (status = 409, description = "The name is taken, or a concurrent change won", body = ErrorBody),
        (status = 422, description = "A field is invalid; `field` names it", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateCredential>,
) -> Result<Json<CredentialView>, ApiError> {
    let patch = CredentialPatchInput {
        name: body.name,
        description: body.description,
        client_id: body.client_id,
        client_secret: body.client_secret.map(SecretField::into_secret),
        scopes: body.scopes.map(ScopesField::into_text),
        rate_tier: body.rate_tier,
    };
    let id = ApiError::path_id::<CredentialId>(&id, "credential")?;
    let record = state.credentials.update(&user, &id, &patch).await?;
    Ok(Json(CredentialView::from(&record)))
}

/// `DELETE /api/v1/credentials/{id}`: 204.
#[utoipa::path(
    delete,
    operation_id = "delete_credential",
    path = "/credentials/{id}",
    tag = "credentials",
    params(("id" = String, Path, description = "A credential id, `cred_…`")),
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
    let id = ApiError::path_id::<CredentialId>(&id, "credential")?;
    state.credentials.delete(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/credentials/{id}/authorize` body (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeBody {
    /// Bind the flow to the calling browser with a cookie (for the web UI).
    #[serde(default)]
    pub bind_browser: bool,
}

/// `POST /api/v1/credentials/{id}/authorize`: starts a flow and answers
/// `{"authorization_url", "flow_id", "expires_at"}`. The URL carries the
/// state: show it to the user, never log it.
#[utoipa::path(
    post,
    operation_id = "authorize_credential",
    path = "/credentials/{id}/authorize",
    tag = "credentials",
    params(("id" = String, Path, description = "A credential id, `cred_…`")),
    request_body(content = Option<AuthorizeBody>, description = "Optional"),
    responses(
        (status = 200, description = "A flow started: send the user to `authorization_url`", body = AuthorizationStarted),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
    )
)]
pub async fn authorize(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
    body: Option<ApiJson<Option<AuthorizeBody>>>,
) -> Result<axum::response::Response, ApiError> {
    let id = ApiError::path_id::<CredentialId>(&id, "credential")?;
    let body = body.and_then(|ApiJson(b)| b).unwrap_or_default();
    let binding = body
        .bind_browser
        .then(pinion_service::BrowserBinding::random);
    let started = state
        .authorizations
        .start(&user, &id, binding.as_ref())
        .await?;
    let mut response = Json(AuthorizationStarted {
        authorization_url: started.url.as_str().to_owned(),
        flow_id: started.flow_id.as_str().to_owned(),
        expires_at: started.expires_at,
    })
    .into_response();
    if let Some(binding) = binding {
        let cookie = crate::oauth::binding_cookie(&state.public_url, &binding);
        response.headers_mut().insert(
            axum::http::header::SET_COOKIE,
            axum::http::HeaderValue::from_str(&cookie).map_err(|err| ApiError::internal(&err))?,
        );
    }
    Ok(response)
}

/// A started authorization flow.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizationStarted {
    /// Pinterest's consent page for this flow; it carries the flow's state:
    /// show it to the user, never log it.
    authorization_url: String,
    /// The flow's id (`flow_…`).
    flow_id: String,
    /// When the flow stops being accepted.
    expires_at: DateTime<Utc>,
}

/// `POST /api/v1/credentials/{id}/check`: calls `GET /v5/user_account` with
/// the credential and reports status, account, scopes and expiries. A check
/// within 30 s of the last one of the unchanged credential answers that
/// one's result (`cached: true`, `checked_at`) without calling Pinterest.
#[utoipa::path(
    post,
    operation_id = "check_credential",
    path = "/credentials/{id}/check",
    tag = "credentials",
    params(("id" = String, Path, description = "A credential id, `cred_…`")),
    responses(
        (status = 200, description = "What the check found (`ok` false with `error` when Pinterest refused)", body = super::openapi::CheckReport),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
    )
)]
pub async fn check(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<pinion_service::CheckReport>, ApiError> {
    let id = ApiError::path_id::<CredentialId>(&id, "credential")?;
    Ok(Json(state.lifecycle.check(&user, &id).await?))
}

/// `POST /api/v1/credentials/{id}/refresh`: forces a refresh and answers
/// with the credential; a failure is a 409 (`needs_reauthorization`,
/// `app_credentials`, `not_authorized`) or 503 (retry later) naming why.
#[utoipa::path(
    post,
    operation_id = "refresh_credential",
    path = "/credentials/{id}/refresh",
    tag = "credentials",
    params(("id" = String, Path, description = "A credential id, `cred_…`")),
    responses(
        (status = 200, description = "Refreshed", body = CredentialView),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
        (status = 409, description = "The credential must be fixed: `code` says how", body = ErrorBody),
        (status = 503, description = "Pinterest could not be reached; try later", body = ErrorBody),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CredentialView>, ApiError> {
    let id = ApiError::path_id::<CredentialId>(&id, "credential")?;
    match state.lifecycle.refresh(&user, &id).await? {
        Ok(credential) => Ok(Json(CredentialView::from(&credential))),
        Err(err) => Err(ApiError::from_refresh(err)),
    }
}
