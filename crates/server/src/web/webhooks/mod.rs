//! `/webhooks`: the signed-in user's webhook endpoints (issue 14).
//!
//! - `GET /webhooks`: the endpoints and a form to add one.
//! - `POST /webhooks`: adds one and shows its signing secret once, on the
//!   answer to the POST itself (never in a URL).
//! - `GET /webhooks/{id}`: the endpoint, why it is disabled if it is, its
//!   actions and its delivery log (every attempt with its time, status code
//!   or error and duration).
//! - `POST /webhooks/{id}/test`: queues a test event.
//! - `POST /webhooks/{id}/rotate-secret`: a new secret, shown once.
//! - `POST /webhooks/{id}/enabled`: enables (`enabled=true`) or disables it.
//! - `POST /webhooks/{id}/delete`: deletes it with its log.
//!
//! Another user's endpoint is a 404, as for an unknown id; every form
//! carries the session's CSRF token.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{Markup, html};
use pinion_domain::webhook::{EventType, WebhookEndpoint};
use pinion_domain::{WebhookId, WebhookSecret};
use pinion_service::ServiceError;
use pinion_service::notifications::WebhookInput;
use serde::Deserialize;

use crate::AppState;
use crate::web::layout::{page, when};
use crate::web::{Session, WebError};

/// What the add form holds. `events` repeats, so the body is parsed by hand.
#[derive(Default)]
struct AddForm {
    csrf: String,
    url: String,
    events: Vec<String>,
    description: String,
}

fn parse_add(body: &[u8]) -> AddForm {
    let mut form = AddForm::default();
    for (key, value) in url::form_urlencoded::parse(body) {
        let value = value.into_owned();
        match key.as_ref() {
            "csrf" => form.csrf = value,
            "url" => form.url = value,
            "events" => form.events.push(value),
            "description" => form.description = value,
            _ => {}
        }
    }
    form
}

/// A form with only its CSRF token.
#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
}

/// The enable/disable form.
#[derive(Deserialize)]
pub struct EnabledForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    enabled: String,
}

/// The pages' notices.
#[derive(Deserialize)]
pub struct Notice {
    deleted: Option<String>,
    tested: Option<String>,
    changed: Option<String>,
}

const SECRET_HINT: &str = "Copy it now: it is not shown again. Receivers verify each \
     request's webhook-signature with it (Standard Webhooks).";

fn secret_box(secret: &WebhookSecret) -> Markup {
    html! {
        div class="notice token-created" role="status" {
            p { "Signing secret. " (SECRET_HINT) }
            div class="copy-row" {
                input type="text" id="new-secret" readonly value=(secret.expose_secret()) aria-label="The signing secret";
                button type="button" class="copy" data-copy="#new-secret" hidden { "Copy" }
            }
        }
    }
}

fn state_label(endpoint: &WebhookEndpoint) -> &'static str {
    if endpoint.enabled {
        "Enabled"
    } else {
        "Disabled"
    }
}

/// The list page with the add form, `form` refilled after an error.
async fn render_list(
    state: &AppState,
    session: &Session,
    created: Option<(&WebhookEndpoint, &WebhookSecret)>,
    notice: Option<&str>,
    form: &AddForm,
    error: Option<(&str, String)>,
) -> Result<Markup, WebError> {
    let endpoints = state.webhooks.list(&session.user, None).await?;
    let csrf = session.csrf();
    let field_error = |field: &str| {
        error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, message)| message.clone())
    };
    let checked = |name: &str| form.events.iter().any(|e| e == name);
    let content = html! {
        h1 { "Webhooks" }
        p class="step" {
            "Pinion posts events to your endpoints, signed per the Standard Webhooks "
            "specification: a credential that needs re-authorization or recovers, token "
            "refreshes that keep failing, runs that fail (or succeed, if you ask), runs taken "
            "over. Failed deliveries are retried for more than a day."
        }
        @if let Some((endpoint, secret)) = created {
            p class="notice" role="status" { "Added " a href={ "/webhooks/" (endpoint.id) } { (endpoint.url) } "." }
            (secret_box(secret))
        }
        @if let Some(notice) = notice { p class="notice" role="status" { (notice) } }
        form class="overlay narrow-form" method="post" action="/webhooks" {
            input type="hidden" name="csrf" value=(csrf);
            div class={ "field" @if field_error("url").is_some() { " invalid" } } {
                label for="url" { "Endpoint URL" }
                input type="url" id="url" name="url" value=(form.url) maxlength="2048" placeholder="https://hooks.example.com/pinion";
                p class="hint" { "https, or http on this machine's loopback address." }
                @if let Some(message) = field_error("url") { p class="error" id="url-error" { (crate::web::layout::prose(message)) } }
            }
            fieldset class={ "field" @if field_error("events").is_some() { " invalid" } } {
                legend { "Events" }
                label { input type="checkbox" name="events" value="*" checked[form.events.is_empty() || checked("*")]; " Every event but run.succeeded" }
                @for event in EventType::SUBSCRIBABLE {
                    label { input type="checkbox" name="events" value=(event.as_str()) checked[checked(event.as_str())]; " " code { (event.as_str()) } }
                }
                @if let Some(message) = field_error("events") { p class="error" id="events-error" { (crate::web::layout::prose(message)) } }
            }
            div class={ "field" @if field_error("description").is_some() { " invalid" } } {
                label for="description" { "Description (optional)" }
                input type="text" id="description" name="description" value=(form.description) maxlength="500";
                @if let Some(message) = field_error("description") { p class="error" { (crate::web::layout::prose(message)) } }
            }
            div class="buttons" { button class="primary" type="submit" { "Add endpoint" } }
        }
        @if endpoints.is_empty() {
            p class="hint" { "You have no webhook endpoints." }
        } @else {
            table class="tokens webhooks" {
                thead { tr { th { "URL" } th { "Events" } th { "State" } th { "Created" } } }
                tbody {
                    @for endpoint in &endpoints {
                        tr data-webhook=(endpoint.id) {
                            td { a href={ "/webhooks/" (endpoint.id) } { (endpoint.url) } }
                            td { (endpoint.events.join(", ")) }
                            td { (state_label(endpoint)) @if let Some(why) = &endpoint.disabled_reason { br; small { (why) } } }
                            td { (when(Some(endpoint.created_at))) }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Webhooks", session, content))
}

/// `GET /webhooks`
pub async fn get(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<Notice>,
) -> Result<Html<String>, WebError> {
    let notice = query
        .deleted
        .is_some()
        .then_some("The endpoint was deleted.");
    let page = render_list(&state, &session, None, notice, &AddForm::default(), None).await?;
    Ok(Html(page.into_string()))
}

/// `POST /webhooks`
pub async fn post(
    State(state): State<AppState>,
    session: Session,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let form = parse_add(&body);
    session.check_csrf(&form.csrf)?;
    let input = WebhookInput {
        url: form.url.clone(),
        events: form.events.clone(),
        description: Some(form.description.clone()),
    };
    match state.webhooks.create(&session.user, None, &input).await {
        Ok((endpoint, secret)) => {
            let page = render_list(
                &state,
                &session,
                Some((&endpoint, &secret)),
                None,
                &AddForm::default(),
                None,
            )
            .await?;
            Ok(Html(page.into_string()).into_response())
        }
        Err(err @ (ServiceError::Validation(_) | ServiceError::Conflict { .. })) => {
            let field = err.field().unwrap_or("url");
            let message = match &err {
                ServiceError::Validation(errors) => errors
                    .0
                    .first()
                    .map(|e| e.message.clone())
                    .unwrap_or_default(),
                other => other.to_string(),
            };
            let page =
                render_list(&state, &session, None, None, &form, Some((field, message))).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// The endpoint's page with its delivery log.
async fn render_endpoint(
    state: &AppState,
    session: &Session,
    id: &WebhookId,
    secret: Option<&WebhookSecret>,
    notice: Option<&str>,
) -> Result<Markup, WebError> {
    let endpoint = state.webhooks.get(&session.user, id).await?;
    let deliveries = state.webhooks.deliveries(&session.user, id, None).await?;
    let csrf = session.csrf();
    let base = format!("/webhooks/{}", endpoint.id);
    let content = html! {
        p { a href="/webhooks" { "← Webhooks" } }
        h1 { "Webhook" }
        @if let Some(notice) = notice { p class="notice" role="status" { (notice) } }
        @if let Some(secret) = secret { (secret_box(secret)) }
        dl class="facts" {
            dt { "URL" } dd { code { (endpoint.url) } }
            dt { "Events" } dd { (endpoint.events.join(", ")) }
            @if let Some(description) = &endpoint.description { dt { "Description" } dd { (description) } }
            dt { "State" } dd data-state=(state_label(&endpoint)) { (state_label(&endpoint)) }
            @if let Some(why) = &endpoint.disabled_reason { dt { "Why" } dd class="disabled-reason" { (why) } }
            @if let Some(since) = endpoint.failing_since { dt { "Failing since" } dd { (when(Some(since))) } }
        }
        div class="buttons" {
            form method="post" action={ (base) "/test" } {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" class="primary" { "Send a test event" }
            }
            form method="post" action={ (base) "/enabled" } {
                input type="hidden" name="csrf" value=(csrf);
                @if endpoint.enabled {
                    input type="hidden" name="enabled" value="false";
                    button type="submit" { "Disable" }
                } @else {
                    input type="hidden" name="enabled" value="true";
                    button type="submit" { "Enable again" }
                }
            }
            form method="post" action={ (base) "/rotate-secret" } {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Rotate the secret" }
            }
            form method="post" action={ (base) "/delete" } {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" class="danger" { "Delete" }
            }
        }
        h2 { "Deliveries" }
        @if deliveries.is_empty() {
            p class="hint" { "Nothing was sent to this endpoint yet." }
        } @else {
            table class="deliveries" {
                thead { tr { th { "Event" } th { "Message" } th { "State" } th { "Attempts" } } }
                tbody {
                    @for delivery in &deliveries {
                        tr data-delivery=(delivery.id) {
                            td { code { (delivery.event_type) } br; small { (when(Some(delivery.created_at))) } }
                            td { code { (delivery.id) } }
                            td { (delivery.state.as_str())
                                @if let Some(next) = delivery.next_attempt_at { br; small { "next " (when(Some(next))) } } }
                            td {
                                ol class="attempts" {
                                    @for attempt in &delivery.attempts {
                                        li {
                                            (attempt.at.format("%Y-%m-%d %H:%M:%S UTC").to_string()) " · "
                                            @match (attempt.status_code, &attempt.error) {
                                                (Some(code), _) => { "HTTP " (code) }
                                                (None, Some(error)) => { (error) }
                                                (None, None) => {}
                                            }
                                            " · " (attempt.duration_ms) " ms"
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Webhook", session, content))
}

/// `GET /webhooks/{id}`
pub async fn endpoint_page(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<Notice>,
) -> Result<Html<String>, WebError> {
    let id = WebError::path_id::<WebhookId>(&id)?;
    let notice = if query.tested.is_some() {
        Some("A test event was queued; it appears below once sent.")
    } else if query.changed.is_some() {
        Some("Saved.")
    } else {
        None
    };
    let page = render_endpoint(&state, &session, &id, None, notice).await?;
    Ok(Html(page.into_string()))
}

/// `POST /webhooks/{id}/test`
pub async fn test(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Result<Response, WebError> {
    session.check_csrf(&form.csrf)?;
    let id = WebError::path_id::<WebhookId>(&id)?;
    match state.webhooks.send_test(&session.user, &id).await {
        Ok(_) => Ok(Redirect::to(&format!("/webhooks/{id}?tested=1")).into_response()),
        Err(ServiceError::Conflict { message, .. }) => {
            let page = render_endpoint(&state, &session, &id, None, Some(&message)).await?;
            Ok((StatusCode::CONFLICT, Html(page.into_string())).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /webhooks/{id}/rotate-secret`
pub async fn rotate_secret(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Result<Response, WebError> {
    session.check_csrf(&form.csrf)?;
    let id = WebError::path_id::<WebhookId>(&id)?;
    let (_, secret) = state.webhooks.rotate_secret(&session.user, &id).await?;
    let page = render_endpoint(
        &state,
        &session,
        &id,
        Some(&secret),
        Some("The secret was replaced; the old one no longer signs."),
    )
    .await?;
    Ok(Html(page.into_string()).into_response())
}

/// `POST /webhooks/{id}/enabled`
pub async fn set_enabled(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<EnabledForm>,
) -> Result<Response, WebError> {
    session.check_csrf(&form.csrf)?;
    let id = WebError::path_id::<WebhookId>(&id)?;
    let patch = pinion_service::WebhookPatch {
        enabled: Some(form.enabled == "true"),
        ..Default::default()
    };
    state.webhooks.update(&session.user, &id, &patch).await?;
    Ok(Redirect::to(&format!("/webhooks/{id}?changed=1")).into_response())
}

/// `POST /webhooks/{id}/delete`
pub async fn delete(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Result<Response, WebError> {
    session.check_csrf(&form.csrf)?;
    let id = WebError::path_id::<WebhookId>(&id)?;
    state.webhooks.delete(&session.user, &id).await?;
    Ok(Redirect::to("/webhooks?deleted=1").into_response())
}
