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

pub(crate) fn total(run: &RunRecord) -> u64 {
    run.streams.iter().map(|s| s.records).sum()
}

/// How long a finished run took, in words (`2.4 s`, `3 min 5 s`).
pub(crate) fn duration(run: &RunRecord) -> Option<String> {
    let started = run.started_at?;
    let finished = run.finished_at?;
    let ms = (finished - started).num_milliseconds().max(0);
    Some(if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    })
}

/// Records per run over the source's listed runs (oldest left), as an
/// inline SVG bar chart: one bar per run, its height the run's records,
/// failed runs marked; each bar says its numbers to screen readers and on
/// hover.
pub(crate) fn records_chart(runs: &[RunRecord]) -> Markup {
    const WIDTH: u64 = 600;
    const HEIGHT: u64 = 120;
    let runs: Vec<&RunRecord> = runs.iter().rev().filter(|r| r.status.is_final()).collect();
    let most = runs.iter().map(|r| total(r)).max().unwrap_or(0).max(1);
    let slot = WIDTH / (runs.len().max(1) as u64);
    let bar = (slot * 7 / 10).max(2);
    html! {
        figure class="chart" {
            svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (HEIGHT + 2) }
                role="img" aria-labelledby="chart-title" preserveAspectRatio="none" {
                title id="chart-title" { "Records per run, oldest first; the most was " (most) "." }
                line x1="0" y1=(HEIGHT) x2=(WIDTH) y2=(HEIGHT) class="axis" {}
                @for (i, run) in runs.iter().enumerate() {
                    @let records = total(run);
                    @let height = (records * (HEIGHT - 4) / most).max(1);
                    rect x=(i as u64 * slot + (slot - bar) / 2) y=(HEIGHT - height) width=(bar) height=(height)
                        class={ "bar run-" (run.status.as_str()) } {
                        title { (when(run.started_at)) ": " (records) " records, " (run.status.label()) }
                    }
                }
            }
            figcaption { "Records per run, oldest first (" (runs.len()) " runs; the tallest is " (most) ")." }
        }
    }
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
    let credential = state
        .credentials
        .label_for(&session.user, &source.credential_id)
        .await?;
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
            dt { "Credential" }
            @match &credential {
                Ok(name) => dd class="credential" { (name) },
                Err(problem) => dd class="credential unusable" { (problem) "; edit the settings to pick another." },
            }
            dt { "Streams" } dd class="streams" { (source.streams.join(", ")) }
            dt { "Output" } dd { (source.output_kind) " · " code { "outputs/" (source.output_path) } }
            dt { "Sync mode" } dd class="sync-mode" { (source.sync_mode.label()) }
            dt { "Created" } dd { (when(Some(source.created_at))) }
        }
        p class="actions" { a class="button edit-source" href={ "/sources/" (source.id) "/edit" } { "Edit settings" } }
        (run_button(&source, &csrf))
        (schedule_section(&source, schedule.as_ref(), query.schedule.as_deref(), &values, &errors, &csrf))
        h2 { "Runs" }
        @if runs.is_empty() {
            p class="hint" { "No runs yet." }
        } @else {
            (records_chart(&runs))
            table class="runs" {
                thead { tr { th { "Run" } th { "Status" } th { "Started" } th { "Took" } th { "Records" } } }
                tbody {
                    @for run in &runs {
                        tr {
                            td { a href={ "/sources/" (source.id) "/runs/" (run.id) } { (when(Some(run.created_at))) } }
                            td { span class={ "status run-" (run.status.as_str()) } { (run.status.label()) } }
                            td { (when(run.started_at)) }
                            td { (duration(run).unwrap_or_default()) }
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
        p class="notice bad" role="alert" { (crate::web::layout::prose(message)) }
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
) -> Result<Response, WebError> {
    let id = WebError::path_id::<pinion_domain::SourceId>(&id)?;
    let run_id = WebError::path_id::<pinion_domain::RunId>(&run_id)?;
    let source = state.sources.get(&session.user, &id).await?;
    let run = state.runs.get(&session.user, &source.id, &run_id).await?;
    let finished = run.status.is_final();
    let here = format!("/sources/{}/runs/{}", source.id, run.id);
    // The output is the source's, as its latest run left it: shown on that
    // run's page once it has ended.
    let latest = state
        .runs
        .list(&session.user, &source.id)
        .await?
        .first()
        .is_some_and(|latest| latest.id == run.id);
    let output = if finished && latest {
        Some(
            state
                .runs
                .output(&session.user, &source.id, PREVIEW_RECORDS)
                .await?,
        )
    } else {
        None
    };
    let origins = image_origins(&state);
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
                p class="notice bad run-error" role="alert" { (crate::web::layout::prose(error)) }
            }
            @if !finished {
                p class="refresh" { a href=(here) { "Refresh" } }
            }
        }
        @if let Some(output) = &output {
            (output_section(&source, output, &origins))
        } @else if finished {
            p class="hint output-replaced" { "A later run of this source replaced its output: see the latest run." }
        }
        @if finished {
            form class="delete-run" method="post" action={ (here) "/delete" } {
                input type="hidden" name="csrf" value=(session.csrf());
                button type="submit" { "Delete this run" }
            }
        }
        p { a href={ "/sources/" (source.id) } { "Back to the source" } }
    };
    let mut response = Html(page("Run", &session, content).into_string()).into_response();
    // The preview may show pins' images from Pinterest's image host.
    if let Ok(policy) =
        axum::http::HeaderValue::from_str(&crate::headers::csp_with_images(&origins))
    {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, policy);
    }
    Ok(response)
}

/// Where pins' images may come from: Pinterest's image host, and the
/// origin of the configured Pinterest API (the simulator serves its pins'
/// images itself).
fn image_origins(state: &AppState) -> Vec<String> {
    let mut origins = vec!["https://i.pinimg.com".to_owned()];
    if let Ok(api) = url::Url::parse(&state.pinion.settings().pinterest_api_url) {
        let origin = api.origin().ascii_serialization();
        if !origins.contains(&origin) && origin != "null" {
            origins.push(origin);
        }
    }
    origins
}

/// A pin record's small image and its alternative text, when its origin
/// is one the page may load from.
fn pin_image(record: &serde_json::Value, origins: &[String]) -> Option<(String, String)> {
    let images = record.get("media")?.get("images")?;
    let url = ["150x150", "400x300", "600x"]
        .iter()
        .find_map(|size| images.get(size)?.get("url")?.as_str())?;
    let parsed = url::Url::parse(url).ok()?;
    if !origins.contains(&parsed.origin().ascii_serialization()) {
        return None;
    }
    let alt = ["alt_text", "title"]
        .iter()
        .find_map(|field| record.get(field)?.as_str().filter(|t| !t.is_empty()))
        .unwrap_or("A pin's image")
        .to_owned();
    Some((url.to_owned(), alt))
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

/// Records of each stream shown in a run's preview.
const PREVIEW_RECORDS: usize = 5;

/// The longest a previewed record is shown, in characters.
const PREVIEW_CHARS: usize = 400;

/// Where the output is, its files to download and the first records of
/// each stream.
fn output_section(
    source: &SourceRecord,
    output: &pinion_service::SourceOutput,
    origins: &[String],
) -> Markup {
    html! {
        section class="output" aria-labelledby="output-title" {
            h2 id="output-title" { "Output" }
            p {
                "The source writes to " code class="output-location" { (output.shown) }
                " in the server's data directory"
                @if source.output_kind == "sqlite" { " (a SQLite file, a table per stream)" } @else { " (a folder, a JSON Lines file per stream)" }
                ". Each run replaces it; this is what is there now."
            }
            @if output.files.is_empty() {
                p class="hint" { "Nothing was written yet." }
            } @else {
                ul class="downloads" {
                    @for file in &output.files {
                        li {
                            a href={ "/sources/" (source.id) "/output/" (file.name) } download=(file.name) { "Download " (file.name) }
                            " (" (bytes(file.bytes)) ")"
                        }
                    }
                }
            }
            @for (stream, records) in &output.previews {
                h3 { (stream) }
                @if records.is_empty() {
                    p class="hint" { "No records." }
                } @else {
                    p class="hint" { "The first " (records.len()) " record(s):" }
                    ol class="preview" data-stream=(stream) {
                        @for record in records {
                            li {
                                @if let Some((url, alt)) = pin_image(record, origins) {
                                    img class="pin-image" src=(url) alt=(alt) width="75" height="75" loading="lazy";
                                }
                                pre { (shorten_json(record)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn shorten_json(record: &serde_json::Value) -> String {
    let text = record.to_string();
    if text.chars().count() <= PREVIEW_CHARS {
        return text;
    }
    let mut short: String = text.chars().take(PREVIEW_CHARS).collect();
    short.push('…');
    short
}

fn bytes(n: u64) -> String {
    match n {
        0..1_024 => format!("{n} bytes"),
        1_024..1_048_576 => format!("{:.1} KiB", n as f64 / 1_024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// `GET /sources/{id}/output/{file}`: a file of the source's output, as an
/// attachment.
pub async fn download(
    State(state): State<AppState>,
    session: Session,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<pinion_domain::SourceId>(&id)?;
    let path = state.runs.output_file(&session.user, &id, &file).await?;
    let opened = tokio::fs::File::open(&path).await.map_err(|err| {
        tracing::warn!(error = %err, "Could not open an output file.");
        WebError::NotFound
    })?;
    let content_type = if file.ends_with(".jsonl") {
        "application/jsonl; charset=utf-8"
    } else {
        "application/vnd.sqlite3"
    };
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(opened));
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, content_type.to_owned()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        body,
    )
        .into_response())
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
