//! `GET /credentials/{id}/info`: everything about one credential except its
//! secrets, with the actions Edit, Reauthorize and Delete (behind a
//! confirmation box).

use axum::extract::{Path, Query, State};
use axum::response::Html;
use maud::html;
use serde::Deserialize;

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
}

/// Renders the screen.
pub async fn get(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<InfoQuery>,
) -> Result<Html<String>, WebError> {
    let record = owned(&state, &session, &id).await?;
    let sources = state
        .sources
        .using_credential(&session.user, record.id.as_str())
        .await?;
    let destinations = state
        .destinations
        .using_credential(&session.user, record.id.as_str())
        .await?;
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
        h2 { "Used by" }
        @if sources.is_empty() && destinations.is_empty() {
            p class="used-by" { "No source or destination uses this credential yet." }
        } @else {
            ul class="used-by" {
                @for source in &sources {
                    li { (source.name) " (source: " (source.streams.join(", ")) ")" }
                }
                @for destination in &destinations {
                    li { (destination.name) " (destination: board " (destination.board_name) ")" }
                }
            }
        }
        h2 { "Delete" }
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
