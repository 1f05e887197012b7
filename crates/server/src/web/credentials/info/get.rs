//! `GET /credentials/{id}/info`: everything about one credential except its
//! secrets, with the actions Edit, Reauthorize, Check, Share (a username
//! form and the collaborators, each with Withdraw) and Delete (behind a
//! confirmation box), what uses it (every source and destination, others'
//! marked with their owner, and the last 10 runs of the user's own sources
//! among them, linked to their pages), and the activity log, newest first,
//! 25 at a time.
//! Only the owner sees it: a collaborator gets 403, anyone else 404.

use axum::extract::{Path, Query, State};
use axum::response::Html;
use maud::html;
use serde::Deserialize;

use pinion_service::USAGE_RUNS_LISTED;

use crate::AppState;
use crate::web::credentials::edit::owned;
use crate::web::layout::{page, when};
use crate::web::{Session, WebError};

/// The page's query.
#[derive(Deserialize)]
pub struct InfoQuery {
    /// Set when a delete was sent without ticking the confirmation box.
    confirm: Option<String>,
    /// `ok` or `failed` after a check.
    checked: Option<String>,
    /// The collaborator just added.
    shared: Option<String>,
    /// `unknown` or `already` when sharing failed.
    share_error: Option<String>,
    /// The collaborator whose share was just withdrawn.
    withdrawn: Option<String>,
    /// Show activity entries older than this entry id.
    before: Option<i64>,
}

/// Activity entries per page.
const ACTIVITY_PAGE: u32 = 25;

/// Renders the screen.
pub async fn get(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<InfoQuery>,
) -> Result<Html<String>, WebError> {
    let id = WebError::path_id::<pinion_domain::CredentialId>(&id)?;
    let record = owned(&state, &session, &id).await?;
    let usage = state
        .credentials
        .usage(&session.user, &record.id, USAGE_RUNS_LISTED)
        .await?;
    let source_names: std::collections::HashMap<&str, &str> = usage
        .sources
        .iter()
        .map(|used| (used.source.id.as_str(), used.source.name.as_str()))
        .collect();
    let shares = state.credentials.shares(&session.user, &record.id).await?;
    let activity = state
        .credentials
        .activity(&session.user, &record.id, query.before, ACTIVITY_PAGE)
        .await?;
    let older = (activity.len() == ACTIVITY_PAGE as usize)
        .then(|| activity.last().map(|e| e.id))
        .flatten();
    let csrf = session.csrf();
    let id = record.id.as_str();
    let content = html! {
        h1 { (record.name.as_str()) }
        @match query.checked.as_deref() {
            Some("ok") => p class="notice checked" role="status" { "Checked: Pinterest accepted the credential." },
            Some(_) => p class="notice bad checked" role="alert" { "Checked: Pinterest did not accept the credential; see the status below." },
            None => {},
        }
        @if let Some(description) = &record.description { p { (description.as_str()) } }
        table class="info" {
            tr { th { "Status" } td { span class={ "status " (record.status.as_str()) } { (record.status.label()) } } }
            @if let Some(reason) = &record.last_error { tr { th { "Reason" } td class="reason" { (reason) } } }
            tr { th { "Client ID" } td { (record.client_id.as_str()) } }
            tr { th { "Client Secret" } td { @if record.client_secret_set { "set" } @else { "not set" } } }
            tr { th { "Requested scopes" } td { (record.scopes.to_comma_separated()) } }
            tr { th { "Granted scopes" } td class="granted-scopes" {
                @match &record.granted_scopes { Some(g) => (g.to_comma_separated()), None => "none granted yet" }
            } }
            tr { th { "Last refreshed" } td { (when(record.last_refreshed_at)) } }
            tr { th { "Access expires" } td { (when(record.access_token_expires_at)) } }
            tr { th { "Refresh token expires" } td { (when(record.refresh_token_expires_at)) } }
            tr { th { "Validity last checked" } td class="last-checked" { (when(record.last_checked_at)) } }
            tr { th { "Created" } td { (when(Some(record.created_at))) } }
        }
        div class="actions" {
            a class="button" href={ "/credentials/" (id) "/edit?return_to=/credentials" } { "Edit" }
            form method="post" action={ "/credentials/" (id) "/edit" } {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="action" value="authorize";
                button type="submit" { "Reauthorize" }
            }
            form method="post" action={ "/credentials/" (id) "/check" } {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Check" }
            }
        }
        h2 id="used-by" { "Used by" }
        @if usage.sources.is_empty() && usage.destinations.is_empty() {
            p class="used-by" { "No source or destination uses this credential yet." }
        } @else {
            ul class="used-by" {
                @for used in &usage.sources {
                    @let source = &used.source;
                    @let label = format!("{} (source: {})", source.name, source.streams.join(", "));
                    li data-source=(source.id) {
                        @if source.owner == session.user.id {
                            a href={ "/sources/" (source.id) } { (label) }
                        } @else {
                            (label) " · " span class="owner" { (used.owner_username.as_str()) "'s" }
                        }
                    }
                }
                @for used in &usage.destinations {
                    @let destination = &used.destination;
                    li data-destination=(destination.id) {
                        (destination.name) " (destination: board " (destination.board_name) ")"
                        @if destination.owner != session.user.id {
                            " · " span class="owner" { (used.owner_username.as_str()) "'s" }
                        }
                    }
                }
            }
        }
        h2 id="recent-runs" { "Recent runs" }
        @if usage.recent_runs.is_empty() {
            p class="recent-runs" { "None of your sources has run with this credential yet." }
        } @else {
            table class="runs recent-runs" {
                thead { tr { th { "Run" } th { "Source" } th { "Status" } th { "Started" } th { "Finished" } th { "Records" } th { "Error" } } }
                tbody {
                    @for run in &usage.recent_runs {
                        tr data-run=(run.id) {
                            td { a href={ "/sources/" (run.source_id) "/runs/" (run.id) } { (when(Some(run.created_at))) } }
                            td { (source_names.get(run.source_id.as_str()).copied().unwrap_or(run.source_id.as_str())) }
                            td { span class={ "status run-" (run.status.as_str()) } { (run.status.label()) } }
                            td { (when(run.started_at)) }
                            td { (when(run.finished_at)) }
                            td class="num" { (run.streams.iter().map(|s| s.records).sum::<u64>()) }
                            td class="run-error" { (run.error.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
        h2 id="share" { "Share" }
        p class="hint" { "A collaborator can pick this credential for their own sources and destinations, but cannot see or change its settings, reauthorize or delete it. You can withdraw a share at any time; their sources that use it then stop running." }
        @if let Some(username) = &query.shared {
            p class="notice shared" role="status" { "Shared with " strong { (username) } "." }
        }
        @if let Some(username) = &query.withdrawn {
            p class="notice withdrawn" role="status" { "The share with " strong { (username) } " was withdrawn." }
        }
        form class="share" method="post" action={ "/credentials/" (id) "/shares" } {
            input type="hidden" name="csrf" value=(csrf);
            @let share_error = match query.share_error.as_deref() {
                Some("already") => Some("It is already shared with this user."),
                Some(_) => Some("No user has this username."),
                None => None,
            };
            div class={ "field" @if share_error.is_some() { " invalid" } } {
                label for="share-username" { "Username" }
                input type="text" id="share-username" name="username" autocomplete="off";
                @if let Some(error) = share_error { p class="error" { (crate::web::layout::prose(error)) } }
            }
            div class="buttons" { button type="submit" { "Share" } }
        }
        @if shares.is_empty() {
            p class="collaborators" { "Not shared with anyone." }
        } @else {
            ul class="collaborators" {
                @for share in &shares {
                    li data-collaborator=(share.username.as_str()) {
                        strong { (share.username.as_str()) }
                        " since " (when(Some(share.created_at)))
                        form class="inline" method="post" action={ "/credentials/" (id) "/shares/" (share.username.as_str()) "/withdraw" } {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Withdraw" }
                        }
                    }
                }
            }
        }
        h2 id="activity" { "Activity" }
        @if activity.is_empty() {
            p class="activity" { "Nothing recorded yet." }
        } @else {
            table class="activity" {
                thead { tr { th { "When" } th { "Who" } th { "What" } th { "Details" } } }
                tbody {
                    @for entry in &activity {
                        tr data-event=(entry.event) {
                            td { (when(Some(entry.at))) }
                            td class="actor" { (entry.actor) }
                            td class="event" {
                                (pinion_domain::record::ActivityEvent::parse(&entry.event).map_or(entry.event.as_str(), |e| e.label()))
                            }
                            td class="detail" {
                                @if let Some(subject) = &entry.subject { (subject) }
                                @if entry.subject.is_some() && entry.detail.is_some() { ": " }
                                @if let Some(detail) = &entry.detail { (detail) }
                            }
                        }
                    }
                }
            }
            @if let Some(before) = older {
                p { a href={ "/credentials/" (id) "/info?before=" (before) "#activity" } { "Older entries" } }
            }
        }
        h2 { "Delete" }
        @let in_use = usage.sources.len() + usage.destinations.len();
        @if in_use == 0 {
            p class="delete-effect" { "Nothing uses this credential: deleting it removes it, its tokens and its shares." }
        } @else {
            div class="delete-effect" {
                p {
                    "Deleting it removes it, its tokens and its shares, and stops "
                    (in_use) @if in_use == 1 { " thing that uses it:" } @else { " things that use it:" }
                }
                ul {
                    @for used in &usage.sources {
                        li { "Source " strong { (used.source.name) } ": it is kept with its runs and outputs, but cannot run again." }
                    }
                    @for used in &usage.destinations {
                        li { "Destination " strong { (used.destination.name) } ": it is kept with its publish history, but cannot publish again." }
                    }
                }
            }
        }
        @if query.confirm.is_some() {
            p class="notice bad" role="alert" { "Tick the box to confirm the deletion." }
        }
        form method="post" action={ "/credentials/" (id) "/delete" } {
            input type="hidden" name="csrf" value=(csrf);
            label { input type="checkbox" name="confirm" value="yes"; " Delete this credential and its tokens; this cannot be undone." }
            div class="buttons" { button type="submit" { "Delete" } }
        }
    };
    Ok(Html(
        page(record.name.as_str(), &session, content).into_string(),
    ))
}
