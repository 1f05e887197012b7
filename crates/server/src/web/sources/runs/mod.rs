//! `/sources/{id}…`: a source's page with its runs, Run, and a run's page.
//!
//! - `GET /sources/{id}`: the source, a Run button and its recent runs.
//! - `POST /sources/{id}/runs`: starts a run (CSRF form) and goes to it.
//! - `GET /sources/{id}/runs/{run_id}`: the run's status and per-stream
//!   counts, and at the end any errors. Without JavaScript an unfinished
//!   run's page refreshes itself (`<noscript>` meta refresh) and has a
//!   Refresh link; with it, `/static/pinion.js` polls
//! - `GET /sources/{id}/runs/{run_id}/progress`: the run as JSON, and
//!   updates the page in place.
//! - `POST /sources/{id}/delete`: deletes the source with its runs and the
//!   sync state of its job, once the confirmation box is ticked
//!   (`confirm=yes`); otherwise back to the source's page asking for it.
//! - `POST /sources/{id}/runs/{run_id}/delete`: deletes a finished run.
//!
//! Both deletions answer 409 with a page saying why while a run is going.
//! Another user's source or run is a 404, as for an unknown id.

use axum::Json;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{Markup, html};
use pinion_domain::record::{RunRecord, SourceRecord};
use pinion_service::ServiceError;
use serde::Deserialize;

use crate::AppState;
use crate::web::layout::{page, when};
use crate::web::sources::schedule::{ScheduleValues, schedule_section};
use crate::web::{Session, WebError};
use pinion_domain::FieldError;

/// A form with only the CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

impl CsrfForm {
    /// The token sent.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The Run button, for the sources page and the source's page.
pub fn run_button(source: &SourceRecord, csrf: &str) -> Markup {
    html! {
        form class="run" method="post" action={ "/sources/" (source.id) "/runs" } {
            input type="hidden" name="csrf" value=(csrf);
            button class="primary" type="submit" { "Run" }
        }
    }
}

fn total(run: &RunRecord) -> u64 {
    run.streams.iter().map(|s| s.records).sum()
}

/// The deletion form of a source.
#[derive(Deserialize)]
pub struct DeleteSourceForm {
    #[serde(default)]
    csrf: String,
    confirm: Option<String>,
}

/// The source page's query.
#[derive(Deserialize, Default)]
pub struct SourcePageQuery {
    /// Set when a delete was sent without ticking the confirmation box.
    confirm: Option<String>,
    /// Set after a run was deleted.
    run_deleted: Option<String>,
    /// What just happened to the schedule: `saved`, `paused`, `resumed`,
    /// `removed`.
    pub(crate) schedule: Option<String>,
    /// Set after the source's settings were saved.
    pub(crate) saved: Option<String>,
}

/// `GET /sources/{id}`
pub async fn source_page(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<SourcePageQuery>,
) -> Result<Html<String>, WebError> {
    let id = WebError::path_id::<pinion_domain::SourceId>(&id)?;
    let source = state.sources.get(&session.user, &id).await?;
    Ok(Html(
        render_source(&state, &session, source, &query, None).await?,
    ))
}

/// The source's page; `form` is a schedule form sent back with its errors.
pub(crate) async fn render_source(
    state: &AppState,
    session: &Session,
    source: SourceRecord,
    query: &SourcePageQuery,
    form: Option<(ScheduleValues, Vec<FieldError>)>,
) -> Result<String, WebError> {
    let runs = state.runs.list(&session.user, &source.id).await?;
    let schedule = state.schedules.get(&session.user, &source.id).await?;
    let csrf = session.csrf();
    let (values, errors) =
        form.unwrap_or_else(|| (ScheduleValues::from_schedule(schedule.as_ref()), Vec::new()));
    let content = html! {
        h1 { (source.name) }
        @if query.run_deleted.is_some() {
            p class="notice run-deleted" role="status" { "The run was deleted." }
        }
        @if query.saved.is_some() {
            p class="notice saved" role="status" { "The source's settings were saved; the next run uses them." }
        }
        dl class="facts" {
            dt { "Streams" } dd class="streams" { (source.streams.join(", ")) }
            dt { "Output" } dd { (source.output_kind) " · " code { "outputs/" (source.output_path) } }
            dt { "Created" } dd { (when(Some(source.created_at))) }
        }
        p class="actions" { a class="button edit-source" href={ "/sources/" (source.id) "/edit" } { "Edit settings" } }
        (run_button(&source, &csrf))
        (schedule_section(&source, schedule.as_ref(), query.schedule.as_deref(), &values, &errors, &csrf))
        h2 { "Runs" }
        @if runs.is_empty() {
            p class="hint" { "No runs yet." }
        } @else {
            table class="runs" {
                thead { tr { th { "Run" } th { "Status" } th { "Started" } th { "Finished" } th { "Records" } } }
                tbody {
                    @for run in &runs {
                        tr {
                            td { a href={ "/sources/" (source.id) "/runs/" (run.id) } { (when(Some(run.created_at))) } }
                            td { span class={ "status run-" (run.status.as_str()) } { (run.status.label()) } }
                            td { (when(run.started_at)) }
                            td { (when(run.finished_at)) }
                            td class="num" { (total(run)) }
                        }
                    }
                }
            }
        }
        h2 { "Delete" }
        @if query.confirm.is_some() {
            p class="notice bad" role="alert" { "Tick the box to confirm the deletion." }
        }
        form class="delete-source" method="post" action={ "/sources/" (source.id) "/delete" } {
            input type="hidden" name="csrf" value=(csrf);
            label { input type="checkbox" name="confirm" value="yes"; " Delete this source and all its runs; this cannot be undone. Its output files stay." }
            div class="buttons" { button type="submit" { "Delete" } }
        }
        p { a href="/sources" { "All sources" } }
    };
    Ok(page(&source.name, session, content).into_string())
}

/// A 409 page: `message` about `source`, with a link back to it.
fn conflict_page(session: &Session, source: &SourceRecord, message: &str) -> Response {
    let content = html! {
        h1 { (source.name) }
        p class="notice bad" role="alert" { (message) }
        p { a href={ "/sources/" (source.id) } { "Back to the source" } }
    };
    (
        StatusCode::CONFLICT,
        Html(page(&source.name, session, content).into_string()),
    )
        .into_response()
}

/// `POST /sources/{id}/delete`: deletes the source once confirmed and goes
/// to the sources page.
pub async fn delete_source(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<DeleteSourceForm>,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<pinion_domain::SourceId>(&id)?;
    session.check_csrf(&form.csrf)?;
    let source = state.sources.get(&session.user, &id).await?;
    if form.confirm.as_deref() != Some("yes") {
        return Ok(
            Redirect::to(&format!("/sources/{}?confirm=missing", source.id)).into_response(),
        );
    }
    match state.sources.delete(&session.user, &source.id).await {
        Ok(()) => Ok(Redirect::to("/sources?deleted=1").into_response()),
        Err(ServiceError::Conflict { message, .. }) => {
            Ok(conflict_page(&session, &source, &message))
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /sources/{id}/runs/{run_id}/delete`: deletes a finished run and
/// goes back to the source's page.
pub async fn delete_run(
    State(state): State<AppState>,
    session: Session,
    Path((id, run_id)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<pinion_domain::SourceId>(&id)?;
    let run_id = WebError::path_id::<pinion_domain::RunId>(&run_id)?;
    session.check_csrf(&form.csrf)?;
    let source = state.sources.get(&session.user, &id).await?;
    match state.runs.delete(&session.user, &source.id, &run_id).await {
        Ok(()) => {
            Ok(Redirect::to(&format!("/sources/{}?run_deleted=1", source.id)).into_response())
        }
        Err(ServiceError::Conflict { message, .. }) => {
            Ok(conflict_page(&session, &source, &message))
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /sources/{id}/runs`: starts a run and shows it.
pub async fn start(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<pinion_domain::SourceId>(&id)?;
    session.check_csrf(&form.csrf)?;
    match state.runs.start(&session.user, &id).await {
        Ok(run) => Ok(
            Redirect::to(&format!("/sources/{}/runs/{}", run.source_id, run.id)).into_response(),
        ),
        Err(ServiceError::Conflict { message, .. }) => {
            let source = state.sources.get(&session.user, &id).await?;
            Ok(conflict_page(&session, &source, &message))
        }
        Err(other) => Err(other.into()),
    }
}

/// `GET /sources/{id}/runs/{run_id}`
pub async fn run_page(
    State(state): State<AppState>,
    session: Session,
    Path((id, run_id)): Path<(String, String)>,
) -> Result<Html<String>, WebError> {
    let id = WebError::path_id::<pinion_domain::SourceId>(&id)?;
    let run_id = WebError::path_id::<pinion_domain::RunId>(&run_id)?;
    let source = state.sources.get(&session.user, &id).await?;
    let run = state.runs.get(&session.user, &source.id, &run_id).await?;
    let finished = run.status.is_final();
    let here = format!("/sources/{}/runs/{}", source.id, run.id);
    let content = html! {
        @if !finished {
            noscript { meta http-equiv="refresh" content="2"; }
        }
        h1 { "Run of " (source.name) }
        div class="run" data-run-progress={ (here) "/progress" } data-final=(finished) {
            p {
                "Status: "
                span class={ "status run-status run-" (run.status.as_str()) } { (run.status.label()) }
            }
            dl class="facts" {
                dt { "Started" } dd class="run-started" { (when(run.started_at)) }
                dt { "Finished" } dd class="run-finished" { (when(run.finished_at)) }
                @if run.taken_over_at.is_some() {
                    dt { "Taken over" }
                    dd class="run-taken-over" {
                        (when(run.taken_over_at))
                        " — the process running it stopped; another took it over and resumed it from its checkpoint"
                    }
                }
            }
            table class="run-counts" {
                thead { tr { th { "Stream" } th { "Records" } th { "Outcome" } th { "Notes" } } }
                tbody {
                    @for count in &run.streams {
                        tr data-stream=(count.stream) {
                            td class="stream" { (count.stream) }
                            td class="records num" { (count.records) }
                            td class="outcome" { (count.outcome.as_deref().map_or(if finished { "" } else { "…" }, outcome_label)) }
                            td class="note" { (count.error.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
            @if let Some(error) = &run.error {
                p class="notice bad run-error" role="alert" { (error) }
            }
            @if !finished {
                p class="refresh" { a href=(here) { "Refresh" } }
            }
        }
        @if finished {
            form class="delete-run" method="post" action={ (here) "/delete" } {
                input type="hidden" name="csrf" value=(session.csrf());
                button type="submit" { "Delete this run" }
            }
        }
        p { a href={ "/sources/" (source.id) } { "Back to the source" } }
    };
    Ok(Html(page("Run", &session, content).into_string()))
}

/// `GET /sources/{id}/runs/{run_id}/progress`: the run as JSON for the
/// page's script.
pub async fn progress(
    State(state): State<AppState>,
    session: Session,
    Path((id, run_id)): Path<(String, String)>,
) -> Result<Json<RunRecord>, WebError> {
    let id = WebError::path_id::<pinion_domain::SourceId>(&id)?;
    let run_id = WebError::path_id::<pinion_domain::RunId>(&run_id)?;
    let run = state.runs.get(&session.user, &id, &run_id).await?;
    Ok(Json(run))
}

/// A stream's stored outcome in words for people.
fn outcome_label(outcome: &str) -> &str {
    match outcome {
        "done" => "Done",
        "skipped" => "Skipped",
        "failed" => "Failed",
        "running" => "Running",
        "not_started" => "Not started",
        other => other,
    }
}
