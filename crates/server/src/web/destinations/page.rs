//! `/destinations/{id}`: one destination's page (issue 15): its board and
//! the credential that publishes there; **Repoint** to another credential
//! (after its credential was deleted, say: the board must be one of the new
//! credential's account's boards); **Delete** behind a confirmation box.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;
use pinion_domain::DestinationId;
use pinion_domain::record::DestinationRecord;
use pinion_service::ServiceError;
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

async fn render(
    state: &AppState,
    session: &Session,
    destination: &DestinationRecord,
    query: &PageQuery,
    problem: Option<&str>,
) -> Result<String, WebError> {
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
        p class="hint" {
            "Publish pins to this board with " code { "pinion publish --credential " (destination.credential_id) " --board " (destination.board_id) " --input pins.jsonl" } "."
        }
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
                p class="hint" { "The credential's Pinterest account must have this board." }
                @if let Some(problem) = problem { p class="error" id="credential_id-error" { (problem) } }
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
        render(&state, &session, &destination, &query, None).await?,
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
    let page = render(
        &state,
        &session,
        &destination,
        &PageQuery::default(),
        Some(&problem),
    )
    .await?;
    Ok((status, Html(page)).into_response())
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
