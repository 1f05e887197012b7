//! `/api/v1/webhooks`: the caller's webhook endpoints (issue 14). Creating
//! one, and rotating its secret, answers with the signing secret, shown
//! that once; nothing else ever shows it. Another user's endpoint is a 404,
//! exactly like an unknown id (admins included). The delivery log lists
//! each message with every attempt (time, status code or error, duration).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use pinion_domain::WebhookId;
use pinion_domain::webhook::{WebhookDelivery, WebhookEndpoint};
use pinion_service::notifications::{MAX_DELIVERIES_LISTED, WebhookInput, WebhookPatch};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::{ApiError, ApiUser};
use crate::AppState;

/// `POST /api/v1/webhooks`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where events are posted: `https://…`, or `http://` on a loopback
    /// address; private and link-local addresses only where the operator
    /// allows them; at most 2,048 characters, no user name or password, no
    /// `#fragment`; letters, digits and `. _ ~ : / ? & = % -` only; a host
    /// name of letters, digits and inner hyphens. The pattern describes what
    /// is always accepted; the server also accepts IP literals, one-label
    /// hosts and percent-encoded characters where the rules above allow.
    #[schema(
        max_length = 2048,
        pattern = r#"^https://(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,4}[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?::[1-9][0-9]{0,3})?(?:/[A-Za-z0-9._~-]{0,40}){0,4}(?:\?[A-Za-z0-9._~=&-]{0,80})?$"#
    )]
    pub url: String,
    /// The events to receive: `*` (every event but `run.succeeded`) and/or
    /// names.
    #[schema(min_items = 1)]
    pub events: Vec<EventName>,
    /// Words for people: up to 1,000 characters once trimmed; line breaks
    /// and tabs allowed, other control characters not. Blank or null: none.
    #[serde(default)]
    #[schema(
        pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]{0,998}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?$"#
    )]
    pub description: Option<String>,
}

/// An event an endpoint can subscribe to, or `*` for every event but
/// `run.succeeded`.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub enum EventName {
    /// Every event but `run.succeeded`.
    #[serde(rename = "*")]
    All,
    /// Pinterest refused the grant.
    #[serde(rename = "credential.needs_reauthorization")]
    NeedsReauthorization,
    /// A credential works again after one of the two alerts.
    #[serde(rename = "credential.recovered")]
    Recovered,
    /// Refreshes failed three times in a row.
    #[serde(rename = "credential.refresh_failing")]
    RefreshFailing,
    /// A run failed.
    #[serde(rename = "run.failed")]
    RunFailed,
    /// A run succeeded (opt-in).
    #[serde(rename = "run.succeeded")]
    RunSucceeded,
    /// A run was taken over.
    #[serde(rename = "run.taken_over")]
    RunTakenOver,
}

impl EventName {
    fn as_str(self) -> &'static str {
        match self {
            Self::All => pinion_domain::webhook::ALL_EVENTS,
            Self::NeedsReauthorization => "credential.needs_reauthorization",
            Self::Recovered => "credential.recovered",
            Self::RefreshFailing => "credential.refresh_failing",
            Self::RunFailed => "run.failed",
            Self::RunSucceeded => "run.succeeded",
            Self::RunTakenOver => "run.taken_over",
        }
    }
}

fn names(events: Vec<EventName>) -> Vec<String> {
    events.into_iter().map(|e| e.as_str().to_owned()).collect()
}

/// `PATCH /api/v1/webhooks/{id}`: fields left out stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    /// A new URL, as at creation.
    #[schema(
        max_length = 2048,
        pattern = r#"^https://(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,4}[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?::[1-9][0-9]{0,3})?(?:/[A-Za-z0-9._~-]{0,40}){0,4}(?:\?[A-Za-z0-9._~=&-]{0,80})?$"#
    )]
    pub url: Option<String>,
    /// New events (at least one).
    #[schema(min_items = 1)]
    pub events: Option<Vec<EventName>>,
    /// A new description (an empty one clears it); as at creation.
    #[schema(
        pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]{0,998}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?$"#
    )]
    pub description: Option<String>,
    /// `true` enables the endpoint again (clearing why it was disabled);
    /// `false` disables it.
    pub enabled: Option<bool>,
}

/// A webhook endpoint (`pinion_domain::webhook::WebhookEndpoint`): never its secret.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Webhook {
    /// `whk_…`.
    id: String,
    /// The user whose events it receives.
    owner: String,
    /// Where events are posted.
    url: String,
    /// Words for people.
    description: Option<String>,
    /// The events it receives.
    events: Vec<String>,
    /// False when disabled; nothing is sent to it then.
    enabled: bool,
    /// Why it is disabled (by its owner, or by Pinion after it failed for days).
    disabled_reason: Option<String>,
    /// When it was disabled.
    disabled_at: Option<DateTime<Utc>>,
    /// Since when every attempt has failed; null after a success.
    failing_since: Option<DateTime<Utc>>,
    /// When it was created.
    created_at: DateTime<Utc>,
    /// When its settings or secret last changed.
    updated_at: DateTime<Utc>,
}

/// An endpoint with its signing secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecret {
    /// The endpoint.
    #[schema(value_type = Webhook)]
    pub webhook: WebhookEndpoint,
    /// The signing secret (`whsec_…`): verify `webhook-signature` with it
    /// (Standard Webhooks). It is stored sealed and cannot be shown again.
    pub secret: String,
}

/// One attempt (`pinion_domain::webhook::DeliveryAttempt`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WebhookAttempt {
    /// 1 for the first attempt.
    attempt: i64,
    /// When it started.
    at: DateTime<Utc>,
    /// The endpoint's HTTP status, if it answered.
    status_code: Option<i64>,
    /// Why it failed, for people.
    error: Option<String>,
    /// How long it took, in milliseconds.
    duration_ms: i64,
}

/// One message to the endpoint (`pinion_domain::webhook::WebhookDelivery`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Delivery {
    /// The message id, sent as `webhook-id` on every attempt.
    id: String,
    /// The endpoint.
    endpoint_id: String,
    /// The event, e.g. `credential.recovered` or `webhook.test`.
    event_type: String,
    /// When the event happened.
    created_at: DateTime<Utc>,
    /// `pending`, `delivered` or `failed`.
    state: String,
    /// When the next attempt is due, while pending.
    next_attempt_at: Option<DateTime<Utc>>,
    /// When it was delivered or given up.
    finished_at: Option<DateTime<Utc>>,
    /// Every attempt, oldest first.
    attempts: Vec<WebhookAttempt>,
}

/// The answer of `POST /api/v1/webhooks/{id}/test`.
#[derive(Serialize, ToSchema)]
pub struct TestQueued {
    /// The test message's id; follow it in the delivery log.
    pub message_id: String,
}

/// The query of `GET /api/v1/webhooks/{id}/deliveries`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// How many of the newest deliveries to return (1 to 100, default 20).
    #[param(nullable = false, minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

fn webhook_id(id: &str) -> Result<WebhookId, ApiError> {
    ApiError::path_id::<WebhookId>(id, "webhook")
}

/// `POST /api/v1/webhooks`: 201 with the endpoint and its secret, shown this once.
#[utoipa::path(
    post,
    operation_id = "create_webhook",
    path = "/webhooks",
    tag = "webhooks",
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "Created; the secret is in this answer only", body = WebhookWithSecret),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 409, description = "The caller has the most endpoints allowed", body = ErrorBody),
        (status = 422, description = "A field is invalid (`field` names it)", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<impl IntoResponse, ApiError> {
    let input = WebhookInput {
        url: body.url,
        events: names(body.events),
        description: body.description,
    };
    let (webhook, secret) = state.webhooks.create(&user, None, &input).await?;
    let created = WebhookWithSecret {
        webhook,
        secret: secret.expose_secret().to_owned(),
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /api/v1/webhooks`: the caller's endpoints, oldest first.
#[utoipa::path(
    get,
    operation_id = "list_webhooks",
    path = "/webhooks",
    tag = "webhooks",
    responses(
        (status = 200, description = "The caller's endpoints", body = Vec<Webhook>),
        (status = 401, description = "No valid API token", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<WebhookEndpoint>>, ApiError> {
    Ok(Json(state.webhooks.list(&user, None).await?))
}

/// `GET /api/v1/webhooks/{id}`
#[utoipa::path(
    get,
    operation_id = "get_webhook",
    path = "/webhooks/{id}",
    tag = "webhooks",
    params(("id" = String, Path, description = "A webhook id, `whk_…`")),
    responses(
        (status = 200, description = "The endpoint", body = Webhook),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    Ok(Json(state.webhooks.get(&user, &webhook_id(&id)?).await?))
}

/// `PATCH /api/v1/webhooks/{id}`: changes the URL, events or description,
/// or enables or disables the endpoint.
#[utoipa::path(
    patch,
    operation_id = "update_webhook",
    path = "/webhooks/{id}",
    tag = "webhooks",
    params(("id" = String, Path, description = "A webhook id, `whk_…`")),
    request_body = UpdateWebhook,
    responses(
        (status = 200, description = "The endpoint as changed", body = Webhook),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
        (status = 422, description = "A field is invalid (`field` names it); nothing changed", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    let patch = WebhookPatch {
        url: body.url,
        events: body.events.map(names),
        description: body.description,
        enabled: body.enabled,
    };
    Ok(Json(
        state
            .webhooks
            .update(&user, &webhook_id(&id)?, &patch)
            .await?,
    ))
}

/// `DELETE /api/v1/webhooks/{id}`: deletes the endpoint and its log; 204.
#[utoipa::path(
    delete,
    operation_id = "delete_webhook",
    path = "/webhooks/{id}",
    tag = "webhooks",
    params(("id" = String, Path, description = "A webhook id, `whk_…`")),
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
    state.webhooks.delete(&user, &webhook_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/webhooks/{id}/rotate-secret`: a new signing secret, shown
/// this once; the old one stops signing at once.
#[utoipa::path(
    post,
    operation_id = "rotate_webhook_secret",
    path = "/webhooks/{id}/rotate-secret",
    tag = "webhooks",
    params(("id" = String, Path, description = "A webhook id, `whk_…`")),
    responses(
        (status = 200, description = "The endpoint and its new secret, shown this once", body = WebhookWithSecret),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
    )
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<WebhookWithSecret>, ApiError> {
    let (webhook, secret) = state
        .webhooks
        .rotate_secret(&user, &webhook_id(&id)?)
        .await?;
    Ok(Json(WebhookWithSecret {
        webhook,
        secret: secret.expose_secret().to_owned(),
    }))
}

/// `POST /api/v1/webhooks/{id}/test`: queues a `webhook.test` event for
/// this endpoint; 202 with its message id.
#[utoipa::path(
    post,
    operation_id = "test_webhook",
    path = "/webhooks/{id}/test",
    tag = "webhooks",
    params(("id" = String, Path, description = "A webhook id, `whk_…`")),
    responses(
        (status = 202, description = "Queued; see the delivery log", body = TestQueued),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
        (status = 409, description = "The endpoint is disabled", body = ErrorBody),
    )
)]
pub async fn test(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let message = state.webhooks.send_test(&user, &webhook_id(&id)?).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(TestQueued {
            message_id: message.as_str().to_owned(),
        }),
    ))
}

/// `GET /api/v1/webhooks/{id}/deliveries`: the newest messages with every attempt.
#[utoipa::path(
    get,
    operation_id = "list_webhook_deliveries",
    path = "/webhooks/{id}/deliveries",
    tag = "webhooks",
    params(
        ("id" = String, Path, description = "A webhook id, `whk_…`"),
        DeliveriesQuery,
    ),
    responses(
        (status = 200, description = "The newest deliveries, newest first, each with its attempts", body = Vec<Delivery>),
        (status = 400, description = "A malformed query string", body = ErrorBody),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
    )
)]
pub async fn deliveries(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Vec<WebhookDelivery>>, ApiError> {
    if let Some(limit) = query.limit
        && !(1..=MAX_DELIVERIES_LISTED).contains(&limit)
    {
        return Err(ApiError::invalid_query(
            "limit",
            format!("must be between 1 and {MAX_DELIVERIES_LISTED}"),
        ));
    }
    Ok(Json(
        state
            .webhooks
            .deliveries(&user, &webhook_id(&id)?, query.limit)
            .await?,
    ))
}
