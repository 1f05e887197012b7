//! `GET /sources`: the user's data sources, newest first, each with the
//! credential it reads with, its streams, its output, its latest run
//! (status, when, how long, how many records) and its schedule.

use axum::extract::{Query, State};
use axum::response::Html;
use maud::html;
use serde::Deserialize;

use crate::AppState;
use crate::web::layout::{page, when};
use crate::web::sources::runs::{duration, run_button, total};
use crate::web::{Session, WebError};

/// The page's query.
#[derive(Deserialize)]
pub struct SourcesQuery {
    /// A source just created, outlined.
    created: Option<String>,
    /// Set after a source was deleted.
    deleted: Option<String>,
}

/// Renders the list.
pub async fn get(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<SourcesQuery>,
) -> Result<Html<String>, WebError> {
    let sources = state.sources.list(&session.user).await?;
    // The credential's name, or why a run would fail (deleted, or a share
    // withdrawn by its owner).
    let mut labels = std::collections::HashMap::new();
    for item in &sources {
        if !labels.contains_key(&item.credential_id) {
            let label = state
                .credentials
                .label_for(&session.user, &item.credential_id)
                .await?;
            labels.insert(item.credential_id.clone(), label);
        }
    }
    let schedules: std::collections::HashMap<_, _> = state
        .schedules
        .list(&session.user)
        .await?
        .into_iter()
        .map(|schedule| (schedule.source_id.clone(), schedule))
        .collect();
    // Each source's latest run.
    let mut last_runs = std::collections::HashMap::new();
    for source in &sources {
        if let Some(run) = state.runs.last(&session.user, &source.id).await? {
            last_runs.insert(source.id.clone(), run);
        }
    }
    let csrf = session.csrf();
    let content = html! {
        h1 { "Data sources" }
        @if query.deleted.is_some() {
            p class="notice source-deleted" role="status" { "The source and its runs were deleted." }
        }
        div class="tiles" {
            @for source in &sources {
                @let selected = query.created.as_deref() == Some(source.id.as_str());
                div class={ "tile source" @if selected { " selected" } } data-source=(source.id) {
                    h2 { a href={ "/sources/" (source.id) } { (source.name) } }
                    dl {
                        dt { "Credential" } @match labels.get(&source.credential_id) {
                            Some(Err(problem)) => dd class="credential unusable" { (problem) },
                            Some(Ok(name)) => dd class="credential" { (name) },
                            None => dd {},
                        }
                        dt { "Streams" } dd class="streams" { (source.streams.join(", ")) }
                        dt { "Output" } dd { (source.output_kind) " · " code { "outputs/" (source.output_path) } }
                        dt { "Sync mode" } dd class="sync-mode" { (source.sync_mode.label()) }
                        dt { "Last run" } @match last_runs.get(&source.id) {
                            None => dd class="last-run" { "Never run" },
                            Some(run) => dd class="last-run" {
                                a href={ "/sources/" (source.id) "/runs/" (run.id) } {
                                    span class={ "status run-" (run.status.as_str()) } { (run.status.label()) }
                                }
                                " " (when(run.started_at.or(Some(run.created_at))))
                                @if let Some(took) = duration(run) { ", took " (took) }
                                ", " (total(run)) " records"
                            },
                        }
                        dt { "Schedule" } @match schedules.get(&source.id) {
                            None => dd class="schedule" { "On demand" },
                            Some(schedule) if schedule.paused => dd class="schedule" { (schedule.description) " (paused)" },
                            Some(schedule) => dd class="schedule" { (schedule.description) "; next run " (when(schedule.next_run_at)) },
                        }
                    }
                    div class="actions" {
                        (run_button(source, &csrf))
                        a href={ "/sources/" (source.id) } { "Runs" }
                    }
                }
            }
            a class="tile add" href="/sources/new" { "+ New data source" }
        }
    };
    Ok(Html(page("Data sources", &session, content).into_string()))
}
