//! The OpenAPI 3.1 document of `/api/v1`, generated from the code.
//!
//! Each handler carries `#[utoipa::path(...)]` (method, path relative to
//! `/api/v1`, parameters, bodies, responses) and is registered in
//! [`super::routes`] with `utoipa_axum::routes!`, which adds the route to the
//! router and the operation to the document in the same call: a route cannot
//! be served without being documented. Request and response types derive
//! `utoipa::ToSchema`; types owned by other crates are described here by
//! schema-only mirrors (their names are the ones the document uses), which the
//! tests check against real responses.
//!
//! The document is served without authentication at `GET /api/v1/openapi.json`:
//! it describes the API's shape only, never data.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Where the API is served; [`super::routes`] puts it before every
/// handler's path, in the router and in the document alike.
pub const PREFIX: &str = "/api/v1";

/// The document's fixed parts; the paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Pinion API",
        description = "Pinterest OAuth credentials, data sources and destinations. \
            Every operation but this document needs `Authorization: Bearer <API token>` \
            (create one with `pinion users token`). Errors are \
            `{\"error\": {\"code\", \"message\", \"field\"}}`; another user's object \
            answers 404, exactly like an unknown id.",
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(ErrorBody, ErrorDetail, FieldErrorSchema)),
    tags(
        (name = "credentials", description = "Pinterest app credentials and their OAuth tokens"),
        (name = "sources", description = "Saved data sources"),
        (name = "destinations", description = "Pinterest boards that pins are published to"),
        (name = "webhooks", description = "Webhook endpoints notified of credential and run events (Standard Webhooks), and their delivery logs"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme (API tokens).
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A Pinion API token: `Authorization: Bearer <token>`."))
                    .build(),
            ),
        );
    }
}

/// The whole document, with paths under [`PREFIX`], every operation
/// listing the errors every route can answer ([`add_common_errors`]).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = super::routes().split_for_parts().1;
    add_common_errors(&mut doc);
    require_a_field(&mut doc, "UpdateCredential");
    schedule_is_one_of(&mut doc);
    doc
}

/// Says that a schedule is an interval or a cron expression, never both,
/// with patterns a generated example always satisfies: intervals from 1
/// minute to 366 days, cron expressions of numbers and `*` (days of the
/// month up to 28, so every one matches a date), and every IANA zone.
/// The server accepts more (lists, ranges, steps, names, seconds when the
/// operator allows them) and explains what it refuses.
fn schedule_is_one_of(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;
    let zones: Vec<&str> = pinion_domain::schedule::time_zone_names().collect();
    let schema = serde_json::json!({
        "description": "Exactly one of `every` (an interval) and `cron` (with an optional `time_zone`).",
        "oneOf": [
            {
                "type": "object",
                "title": "Interval",
                "required": ["every"],
                "additionalProperties": false,
                "properties": {
                    "every": {
                        "type": "string",
                        "description": "An interval: numbers with units `s`, `m`, `h`, `d`, e.g. `15m`, `2h`, `1h30m`; at least the server's shortest interval (1 minute unless the operator allows less), at most 366 days.",
                        "example": "1h",
                        "pattern": "^(?:[1-9][0-9]{0,3}m|[1-9][0-9]{0,2}h|[1-9][0-9]?d|[12][0-9]{2}d|3[0-5][0-9]d|36[0-6]d)$"
                    }
                }
            },
            {
                "type": "object",
                "title": "Cron",
                "required": ["cron"],
                "additionalProperties": false,
                "properties": {
                    "cron": {
                        "type": "string",
                        "description": "A five-field cron expression: minute, hour, day of month, month, day of week, e.g. `0 6 * * 1-5`.",
                        "example": "0 6 * * 1",
                        "pattern": "^(?:\\*|[0-5]?[0-9]) (?:\\*|1?[0-9]|2[0-3]) (?:\\*|[1-9]|1[0-9]|2[0-8]) (?:\\*|[1-9]|1[0-2]) (?:\\*|[0-6])$"
                    },
                    "time_zone": {
                        "type": "string",
                        "description": "The IANA time zone the expression is read in; UTC when absent.",
                        "example": "Europe/Paris",
                        "enum": zones
                    }
                }
            }
        ]
    });
    let schema: RefOr<Schema> =
        serde_json::from_value(schema).expect("the schedule schema is a valid schema");
    if let Some(components) = doc.components.as_mut() {
        components.schemas.insert("SetSchedule".to_owned(), schema);
    }
}

/// Says that object schema `name` needs at least one property (utoipa 5.5's
/// `min_properties` attribute writes `maxProperties` instead).
fn require_a_field(doc: &mut utoipa::openapi::OpenApi, name: &str) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;
    let schema = doc
        .components
        .as_mut()
        .and_then(|components| components.schemas.get_mut(name));
    if let Some(RefOr::T(Schema::Object(object))) = schema {
        object.min_properties = Some(1);
    }
}

/// Adds to every operation the error statuses it can answer without its
/// handler saying so, keeping a handler's own description where it has one:
///
/// - every operation behind a token: 401 (no valid token), 500, and 503 with
///   `Retry-After` (the database is unavailable);
/// - an operation with a JSON body: 400 (malformed JSON), 413 (larger than
///   the server's body limit), 415 (no `Content-Type: application/json`) and
///   422 (a body of the wrong shape, or a field the code refuses);
/// - an operation with query parameters: 400 (a malformed or out-of-range
///   parameter);
/// - an operation with path parameters: 400 (a malformed path) and 404.
pub fn add_common_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    for (path, item) in doc.paths.paths.iter_mut() {
        let public = path == &format!("{PREFIX}/openapi.json");
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let parameters = operation.parameters.as_deref().unwrap_or_default();
            let has_query = parameters
                .iter()
                .any(|p| matches!(p.parameter_in, ParameterIn::Query));
            let has_path = parameters
                .iter()
                .any(|p| matches!(p.parameter_in, ParameterIn::Path));
            let has_body = operation.request_body.is_some();
            let mut add = |status: &str, description: &str| {
                let response = operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error_response(description).into());
                if let (utoipa::openapi::RefOr::T(response), "503") = (response, status) {
                    // A handler's own 503 gets the header too.
                    response
                        .headers
                        .entry("Retry-After".to_owned())
                        .or_insert_with(retry_after);
                }
            };
            if has_body {
                add("400", "The body is not well-formed JSON");
                add("413", "The body is larger than the server's limit (64 KiB)");
                add(
                    "415",
                    "The body is not sent as `Content-Type: application/json`",
                );
                add(
                    "422",
                    "The body has the wrong shape, or a field is invalid; `field` names it",
                );
            }
            if has_query {
                add(
                    "400",
                    "A query parameter is malformed or outside its documented range; `field` names it",
                );
            }
            if has_path {
                add("400", "A malformed path");
                add("404", "Unknown, or not the caller's");
            }
            if !public {
                add("401", "No valid API token");
                add(
                    "500",
                    "Something went wrong on the server's side; the details are in its log",
                );
                add(
                    "503",
                    "The database (or Pinterest, where the operation calls it) is unavailable; \
                     nothing was changed: try again after `Retry-After` seconds",
                );
            }
        }
    }
}

/// A response with the common error body.
fn error_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Error")))
                .build(),
        )
        .build()
}

/// The `Retry-After` header of a 503: seconds to wait.
fn retry_after() -> utoipa::openapi::header::Header {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::{ObjectBuilder, Type};
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0)),
        )
        .description(Some("Seconds to wait before trying again"))
        .build()
}

static DOCUMENT_JSON: LazyLock<String> = LazyLock::new(|| {
    document()
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
});

/// `GET /api/v1/openapi.json`
#[utoipa::path(
    get,
    operation_id = "openapi_document",
    path = "/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json"))
)]
pub async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT_JSON.as_str(),
    )
}

/// Every error: `{"error": {"code", "message", "field"}}`.
#[derive(ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// Machine-readable: `unauthorized`, `not_found`, `bad_request`,
    /// `invalid_json`, `invalid_query`, `body_too_large`, `validation_failed`,
    /// `conflict`, `unknown_user`, `stale`, `forbidden`, `credential_not_authorized`,
    /// `not_authorized`, `needs_reauthorization`, `app_credentials`,
    /// `refresh_unavailable`, `unavailable`, `internal`, `too_many_requests`.
    code: String,
    /// For people; never contains a secret.
    message: String,
    /// The first request field at fault, if any.
    field: Option<String>,
    /// Every field at fault (validation failures only).
    #[schema(nullable = false)]
    errors: Option<Vec<FieldErrorSchema>>,
}

/// One field at fault.
#[derive(ToSchema)]
#[schema(as = FieldError)]
#[allow(dead_code)]
pub struct FieldErrorSchema {
    /// The field's name in the request body.
    field: String,
    /// What is wrong with it.
    message: String,
}

/// A saved data source (`pinion_domain::record::SourceRecord`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Source {
    /// `src_…`.
    id: String,
    /// The owning user's id.
    owner: String,
    /// The credential it reads with.
    credential_id: String,
    /// A name for people.
    name: String,
    /// Stream names, in the order chosen.
    streams: Vec<String>,
    /// `jsonl` or `sqlite`.
    output_kind: String,
    /// Where the output goes on the server.
    output_path: String,
    /// How its runs read.
    sync_mode: super::sources::SyncModeName,
    /// When it was created.
    created_at: DateTime<Utc>,
}

/// When a source runs by itself (`pinion_service::Schedule`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ScheduleBody {
    /// The scheduled source, `src_…`.
    source_id: String,
    /// The interval (`15m`, `1h30m`), for an interval schedule.
    every: Option<String>,
    /// The five-field cron expression, for a cron schedule.
    cron: Option<String>,
    /// The IANA zone the cron expression is read in (`UTC` for intervals).
    time_zone: String,
    /// The cadence for people: `every 15m`, `0 6 * * 1-5 (Europe/Paris)`.
    description: String,
    /// True while paused.
    paused: bool,
    /// When the next run is due; null while paused.
    next_run_at: Option<DateTime<Utc>>,
    /// When a slot was last taken.
    last_fired_at: Option<DateTime<Utc>>,
    /// The run the last slot started.
    last_run_id: Option<String>,
    /// Why the last slot started no run (e.g. the previous run was still
    /// going).
    last_note: Option<String>,
}

/// What a check found (`pinion_service::CheckReport`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CheckReport {
    /// True when Pinterest answered with the account.
    ok: bool,
    /// The credential's status after the check: `needs_authorization`, `active`,
    /// `needs_reauthorization`, `error`.
    status: String,
    /// The Pinterest account's username.
    account_username: Option<String>,
    /// `PINNER` or `BUSINESS`.
    account_type: Option<String>,
    /// The scopes Pinterest granted.
    granted_scopes: Vec<String>,
    /// When the access token expires.
    access_token_expires_at: Option<DateTime<Utc>>,
    /// When the refresh token expires.
    refresh_token_expires_at: Option<DateTime<Utc>>,
    /// What went wrong, if anything.
    error: Option<String>,
    /// When Pinterest answered this check.
    checked_at: DateTime<Utc>,
    /// True when this is the answer of a check of the unchanged credential
    /// made less than 30 s ago (at `checked_at`), reused without calling
    /// Pinterest again.
    cached: bool,
}
