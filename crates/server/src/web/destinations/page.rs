//! `/destinations/{id}`: one destination's page (issue 15): its board and
//! the credential that publishes there; **Publish** one pin from a form or
//! many from an uploaded JSON Lines or CSV file, with each row's outcome
//! (the pin's id, why a row was refused, or "already published"), and the
//! history of publishes; **Repoint** to another credential (after its
//! credential was deleted, say: the board must be one of the new
//! credential's account's boards); **Delete** behind a confirmation box.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{Markup, html};
use pinion_domain::record::{DestinationRecord, PublishRecord};
use pinion_domain::{DestinationId, FieldError};
use pinion_service::{
    CSV_COLUMNS, MAX_PUBLISH_ROWS, PinFields, PublishInput, RowOutcome, RowResult, ServiceError,
};
use serde::Deserialize;

use crate::AppState;
use crate::web::layout::{page, when};
use crate::web::{Session, WebError};

/// The page's query: what just happened.
#[derive(Deserialize, Default)]
pub struct PageQuery {
    repointed: Option<String>,
    confirm: Option<String>,
}

/// The repoint form.
#[derive(Deserialize)]
pub struct RepointForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    credential_id: String,
}

/// The delete form.
#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    confirm: Option<String>,
}

/// What a page shows besides the destination: a repoint problem, what the
/// publish form held and its errors, a publish's outcome.
#[derive(Default)]
struct Extra<'a> {
    problem: Option<&'a str>,
    pin: PinFields,
    errors: Vec<FieldError>,
    published: Option<(&'a PublishRecord, &'a [RowResult])>,
}

async fn render(
    state: &AppState,
    session: &Session,
    destination: &DestinationRecord,
    query: &PageQuery,
    extra: Extra<'_>,
) -> Result<String, WebError> {
    let problem = extra.problem;
    let history = state
        .destinations
        .publishes(&session.user, &destination.id)
        .await?;
    let label = state
        .credentials
        .label_for(&session.user, &destination.credential_id)
        .await?;
    let usable = state.credentials.list_usable(&session.user).await?;
    let csrf = session.csrf();
    let id = destination.id.as_str();
    let content = html! {
        h1 { (destination.name) }
        @if query.repointed.is_some() {
            p class="notice saved" role="status" { "The destination now publishes with the credential you picked." }
        }
        dl class="facts" {
            dt { "Board" } dd class="board" { (destination.board_name) " (" (destination.board_id) ")" }
            dt { "Credential" } @match &label {
                Ok(name) => dd class="credential" { (name) },
                Err(problem) => dd class="credential unusable" { (problem) ": pick another credential below to publish again." },
            }
            dt { "Created" } dd { (when(Some(destination.created_at))) }
        }
        @if let Some((record, rows)) = extra.published {
            (outcome(record, rows))
        }
        (publish_forms(destination, &csrf, &extra.pin, &extra.errors))
        (history_section(&history))
        h2 { "Repoint" }
        form class="repoint" method="post" action={ "/destinations/" (id) "/repoint" } {
            input type="hidden" name="csrf" value=(csrf);
            div class={ "field" @if problem.is_some() { " invalid" } } {
                label for="credential_id" { "Publish with" }
                select id="credential_id" name="credential_id"
                    aria-describedby=[problem.is_some().then_some("credential_id-error")] {
                    @for item in usable.iter() {
                        option value=(item.record.id.as_str())
                            selected[item.record.id == destination.credential_id] {
                            (item.record.name.as_str())
                            @if let Some(owner) = &item.shared_by { " (shared by " (owner.as_str()) ")" }
                        }
                    }
                }
                p class="hint" {
                    "The credential's Pinterest account must have this board. Each credential keeps its own record of what it published: "
                    "rows published with the previous credential are created again if you publish them after repointing."
                }
                @if let Some(problem) = problem { p class="error" id="credential_id-error" { (crate::web::layout::prose(problem)) } }
            }
            div class="buttons" { button type="submit" { "Repoint" } }
        }
        h2 { "Delete" }
        @if query.confirm.is_some() {
            p class="notice bad" role="alert" { "Tick the box to confirm the deletion." }
        }
        form class="delete-destination" method="post" action={ "/destinations/" (id) "/delete" } {
            input type="hidden" name="csrf" value=(csrf);
            label { input type="checkbox" name="confirm" value="yes"; " Delete this destination. Pins already published stay on Pinterest." }
            div class="buttons" { button type="submit" { "Delete" } }
        }
        p { a href="/destinations" { "All destinations" } }
    };
    Ok(page(&destination.name, session, content).into_string())
}

/// `GET /destinations/{id}`
pub async fn get(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Html<String>, WebError> {
    let id = WebError::path_id::<DestinationId>(&id)?;
    let destination = state.destinations.get(&session.user, &id).await?;
    Ok(Html(
        render(&state, &session, &destination, &query, Extra::default()).await?,
    ))
}

/// `POST /destinations/{id}/repoint`
pub async fn repoint(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<RepointForm>,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<DestinationId>(&id)?;
    session.check_csrf(&form.csrf)?;
    let destination = state.destinations.get(&session.user, &id).await?;
    let (status, problem) = match state
        .destinations
        .repoint(&session.user, &id, &form.credential_id)
        .await
    {
        Ok(done) => {
            return Ok(
                Redirect::to(&format!("/destinations/{}?repointed=1", done.id)).into_response(),
            );
        }
        Err(ServiceError::Validation(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            errors
                .0
                .into_iter()
                .map(|e| e.message)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Err(err @ ServiceError::NotAuthorized { .. }) => (
            StatusCode::CONFLICT,
            format!("{err}; authorize it on the Credentials page first"),
        ),
        Err(ServiceError::NotFound { .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "pick one of your credentials or one shared with you".to_owned(),
        ),
        Err(other) => return Err(other.into()),
    };
    respond(
        &state,
        &session,
        &destination,
        status,
        Extra {
            problem: Some(&problem),
            ..Extra::default()
        },
    )
    .await
}

/// `POST /destinations/{id}/delete`: deletes once confirmed and goes to the
/// destinations page.
pub async fn delete(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<DeleteForm>,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<DestinationId>(&id)?;
    session.check_csrf(&form.csrf)?;
    let destination = state.destinations.get(&session.user, &id).await?;
    if form.confirm.as_deref() != Some("yes") {
        return Ok(
            Redirect::to(&format!("/destinations/{}?confirm=missing", destination.id))
                .into_response(),
        );
    }
    state.destinations.delete(&session.user, &id).await?;
    Ok(Redirect::to("/destinations?deleted=1").into_response())
}

/// The page with `extra`, answered with `status` (a form's outcome).
async fn respond(
    state: &AppState,
    session: &Session,
    destination: &DestinationRecord,
    status: StatusCode,
    extra: Extra<'_>,
) -> Result<Response, WebError> {
    let page = render(state, session, destination, &PageQuery::default(), extra).await?;
    Ok((status, Html(page)).into_response())
}

/// A row's outcome in words, and the pin's id or the reasons.
fn row_words(outcome: &RowOutcome) -> (&'static str, String) {
    let id = |id: &Option<String>| id.clone().unwrap_or_default();
    match outcome {
        RowOutcome::Created { id: pin } => ("Created", id(pin)),
        RowOutcome::AlreadyPublished { id: pin } => ("Already published", id(pin)),
        RowOutcome::Reconciled { id: pin } => ("Created (found after a lost answer)", id(pin)),
        RowOutcome::Rejected { reasons } => ("Refused", reasons.join("; ")),
        RowOutcome::Duplicate => ("Repeats an earlier row", String::new()),
        RowOutcome::Unfinished { reason } => (
            "Not finished: publish again",
            reason.clone().unwrap_or_default(),
        ),
    }
}

fn counts(record: &PublishRecord) -> String {
    format!(
        "{} row(s): {} created, {} already published, {} refused, {} not finished",
        record.rows, record.created, record.already_published, record.rejected, record.unfinished
    )
}

/// The outcome of the publish just made, row by row.
fn outcome(record: &PublishRecord, rows: &[RowResult]) -> Markup {
    let class = if record.rejected > 0 || record.unfinished > 0 {
        "notice warn"
    } else {
        "notice saved"
    };
    html! {
        section class="publish-outcome" aria-labelledby="outcome-title" {
            h2 id="outcome-title" { "Published" }
            p class=(class) role="status" { (counts(record)) "." }
            (rows_table(rows))
        }
    }
}

fn rows_table(rows: &[RowResult]) -> Markup {
    html! {
        table class="publish-rows" {
            thead { tr { th { "Row" } th { "Outcome" } th { "Pin or reason" } } }
            tbody {
                @for row in rows {
                    @let (words, detail) = row_words(&row.outcome);
                    tr data-line=(row.line) {
                        td class="num" { (row.line) }
                        td class="outcome" { (words) }
                        td class="detail" { (detail) }
                    }
                }
            }
        }
    }
}

/// The form for one pin and the upload of many.
fn publish_forms(
    destination: &DestinationRecord,
    csrf: &str,
    pin: &PinFields,
    errors: &[FieldError],
) -> Markup {
    let id = destination.id.as_str();
    let field =
        |name: &'static str, label: &'static str, value: &str, hint: Option<&'static str>| {
            crate::web::layout::text_field(name, label, value, hint, errors)
        };
    let rows_error = crate::web::layout::field_error(errors, "rows");
    let general: Vec<&FieldError> = errors
        .iter()
        .filter(|e| {
            ![
                "rows",
                "title",
                "description",
                "link",
                "alt_text",
                "image_url",
            ]
            .contains(&e.field)
        })
        .collect();
    html! {
        h2 { "Publish" }
        @for error in general {
            p class="notice bad publish-problem" role="alert" { (crate::web::layout::prose(&error.message)) }
        }
        p class="hint" {
            "Pins are created on " strong { (destination.board_name) } " with the destination's credential. "
            "A row already published (from here or with " code { "pinion publish" } " and the same credential) is not created again."
        }
        form class="publish-one" method="post" action={ "/destinations/" (id) "/publish" } novalidate {
            input type="hidden" name="csrf" value=(csrf);
            (field("image_url", "Image URL", &pin.image_url, Some("The address of the pin's image (http or https); Pinterest fetches it.")))
            (field("title", "Title", &pin.title, Some("At most 100 characters.")))
            @let description_error = crate::web::layout::field_error(errors, "description");
            div class={ "field" @if description_error.is_some() { " invalid" } } {
                label for="description" { "Description" }
                textarea id="description" name="description" rows="2" { (pin.description) }
                p class="hint" { "At most 800 characters." }
                @if let Some(error) = description_error { p class="error" id="description-error" { (crate::web::layout::prose(error)) } }
            }
            (field("link", "Link", &pin.link, Some("Where the pin leads (http or https).")))
            (field("alt_text", "Alt text", &pin.alt_text, Some("Describes the image for people who cannot see it; at most 500 characters.")))
            div class="buttons" { button class="primary" type="submit" { "Publish this pin" } }
        }
        form class="publish-many" method="post" action={ "/destinations/" (id) "/upload" } enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(csrf);
            div class={ "field" @if rows_error.is_some() { " invalid" } } {
                label for="file" { "A file of pins (JSON Lines or CSV)" }
                input type="file" id="file" name="file" accept=".jsonl,.json,.csv,text/csv,application/jsonl"
                    aria-describedby="file-hint";
                p class="hint" id="file-hint" {
                    "Up to " (MAX_PUBLISH_ROWS) " pins at a time (" code { "pinion publish" } " takes files of any size): one JSON object per line, or CSV with a header row. Fields: "
                    (CSV_COLUMNS.join(", ")) " (image_url is required; key names a row so it is never published twice)."
                }
                @if let Some(error) = rows_error { p class="error" id="file-error" { (crate::web::layout::prose(error)) } }
            }
            div class="field" {
                label for="rows" { "Or paste them" }
                textarea id="rows" name="rows" rows="4" {}
            }
            fieldset class="field" {
                legend { "Pasted rows are" }
                label class="choice" { input type="radio" name="format" value="jsonl" checked; " JSON Lines" }
                label class="choice" { input type="radio" name="format" value="csv"; " CSV" }
            }
            div class="buttons" { button type="submit" { "Publish these pins" } }
        }
    }
}

/// Earlier publishes, newest first, each with its rows behind a disclosure.
fn history_section(history: &[PublishRecord]) -> Markup {
    html! {
        h2 { "History" }
        @if history.is_empty() {
            p class="hint" { "Nothing published from this page yet." }
        } @else {
            ul class="publish-history" {
                @for record in history {
                    li data-publish=(record.id) {
                        details {
                            summary { (when(Some(record.created_at))) ": " (counts(record)) }
                            @let rows: Vec<RowResult> = serde_json::from_str(&record.results).unwrap_or_default();
                            (rows_table(&rows))
                        }
                    }
                }
            }
        }
    }
}

/// The publish form's fields.
#[derive(Deserialize)]
pub struct PublishForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    link: String,
    #[serde(default)]
    alt_text: String,
    #[serde(default)]
    image_url: String,
}

/// Publishes `input` and renders the page with the outcome, or with the
/// errors (422) and, for the form, what was typed.
async fn publish_and_render(
    state: &AppState,
    session: &Session,
    destination: &DestinationRecord,
    input: PublishInput,
) -> Result<Response, WebError> {
    let pin = match &input {
        PublishInput::Form(pin) => pin.clone(),
        _ => PinFields::default(),
    };
    match state
        .destinations
        .publish(&session.user, &destination.id, &input)
        .await
    {
        Ok(published) => {
            respond(
                state,
                session,
                destination,
                StatusCode::OK,
                Extra {
                    published: Some((&published.record, &published.rows)),
                    ..Extra::default()
                },
            )
            .await
        }
        Err(ServiceError::Validation(errors)) => {
            respond(
                state,
                session,
                destination,
                StatusCode::UNPROCESSABLE_ENTITY,
                Extra {
                    pin,
                    errors: errors.0,
                    ..Extra::default()
                },
            )
            .await
        }
        Err(err @ ServiceError::NotAuthorized { .. }) => {
            let message =
                format!("{err}; authorize it on the Credentials page, or repoint the destination");
            respond(
                state,
                session,
                destination,
                StatusCode::CONFLICT,
                Extra {
                    pin,
                    errors: vec![FieldError::new("rows", message)],
                    ..Extra::default()
                },
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /destinations/{id}/publish`: one pin from the form.
pub async fn publish(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<PublishForm>,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<DestinationId>(&id)?;
    session.check_csrf(&form.csrf)?;
    let destination = state.destinations.get(&session.user, &id).await?;
    let input = PublishInput::Form(PinFields {
        title: form.title,
        description: form.description,
        link: form.link,
        alt_text: form.alt_text,
        image_url: form.image_url,
    });
    publish_and_render(&state, &session, &destination, input).await
}

/// The largest upload, in bytes: 1,000 rows of about 1 KiB.
pub const MAX_UPLOAD_BYTES: usize = 1024 * 1024;

/// `POST /destinations/{id}/upload`: many pins from a JSON Lines or CSV
/// file sent as `multipart/form-data` (field `file`), or pasted as text in
/// a urlencoded form (field `rows`, with `format` `jsonl` or `csv`). A
/// file's name says which (`.csv`, `.jsonl`, `.json`); otherwise text that
/// does not start with a JSON object is read as CSV.
pub async fn upload(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    use axum::extract::FromRequest;
    let id = WebError::path_id::<DestinationId>(&id)?;
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut csrf = String::new();
    let mut file: Option<(String, String)> = None;
    // Rows pasted instead of a file, and their format.
    let mut pasted = String::new();
    let mut format = String::new();
    if content_type.starts_with("multipart/form-data") {
        let unreadable = |err: axum::extract::multipart::MultipartError| {
            WebError::BadRequest(format!(
                "The upload could not be read ({}). Files may be up to {} KiB; go back and try again.",
                err.body_text(),
                MAX_UPLOAD_BYTES / 1024
            ))
        };
        let request = axum::http::Request::builder()
            .header(axum::http::header::CONTENT_TYPE, &content_type)
            .body(axum::body::Body::from(body))
            .map_err(|_| WebError::Internal)?;
        let mut multipart = axum::extract::Multipart::from_request(request, &())
            .await
            .map_err(|err| {
                WebError::BadRequest(format!("The upload could not be read ({err})."))
            })?;
        while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
            match field.name() {
                Some("csrf") => csrf = field.text().await.map_err(unreadable)?,
                Some("file") => {
                    let name = field.file_name().unwrap_or("").to_owned();
                    let bytes = field.bytes().await.map_err(unreadable)?;
                    if !bytes.is_empty() {
                        file = Some((name, String::from_utf8_lossy(&bytes).into_owned()));
                    }
                }
                Some("rows") => pasted = field.text().await.map_err(unreadable)?,
                Some("format") => format = field.text().await.map_err(unreadable)?,
                _ => {}
            }
        }
    } else {
        for (key, value) in url::form_urlencoded::parse(&body) {
            match key.as_ref() {
                "csrf" => csrf = value.into_owned(),
                "rows" => pasted = value.into_owned(),
                "format" => format = value.into_owned(),
                _ => {}
            }
        }
    }
    if file.is_none() && !pasted.trim().is_empty() {
        let name = match format.as_str() {
            "csv" => "pasted.csv",
            "jsonl" => "pasted.jsonl",
            _ => "",
        };
        file = Some((name.to_owned(), pasted));
    }
    session.check_csrf(&csrf)?;
    let destination = state.destinations.get(&session.user, &id).await?;
    let Some((name, text)) = file else {
        return respond(
            &state,
            &session,
            &destination,
            StatusCode::UNPROCESSABLE_ENTITY,
            Extra {
                errors: vec![FieldError::new(
                    "rows",
                    "choose a file to upload, or paste rows",
                )],
                ..Extra::default()
            },
        )
        .await;
    };
    let text = text.trim_start_matches('\u{feff}').to_owned();
    let lower = name.to_ascii_lowercase();
    let csv = if lower.ends_with(".csv") {
        true
    } else if lower.ends_with(".jsonl") || lower.ends_with(".json") {
        false
    } else {
        !text.trim_start().starts_with('{')
    };
    let input = if csv {
        PublishInput::Csv(text)
    } else {
        PublishInput::Jsonl(text)
    };
    publish_and_render(&state, &session, &destination, input).await
}
