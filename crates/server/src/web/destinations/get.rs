//! `GET /destinations`: the user's destinations, newest first, each with its
//! board and the credential that publishes there.

use axum::extract::{Query, State};
use axum::response::Html;
use maud::html;
use serde::Deserialize;

use crate::AppState;
use crate::web::layout::{page, when};
use crate::web::{Session, WebError};

/// The page's query.
#[derive(Deserialize)]
pub struct DestinationsQuery {
    /// A destination just created, outlined.
    created: Option<String>,
    /// Set after a destination was deleted.
    deleted: Option<String>,
}

/// Renders the list.
pub async fn get(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<DestinationsQuery>,
) -> Result<Html<String>, WebError> {
    let destinations = state.destinations.list(&session.user).await?;
    // The credential's name, or why a run would fail (deleted, or a share
    // withdrawn by its owner).
    let mut labels = std::collections::HashMap::new();
    for item in &destinations {
        if !labels.contains_key(&item.credential_id) {
            let label = state
                .credentials
                .label_for(&session.user, &item.credential_id)
                .await?;
            labels.insert(item.credential_id.clone(), label);
        }
    }
    let content = html! {
        h1 { "Destinations" }
        @if query.deleted.is_some() {
            p class="notice" role="status" { "The destination was deleted." }
        }
        div class="tiles" {
            @for destination in &destinations {
                @let selected = query.created.as_deref() == Some(destination.id.as_str());
                div class={ "tile destination" @if selected { " selected" } } data-destination=(destination.id) {
                    h2 { a href={ "/destinations/" (destination.id) } { (destination.name) } }
                    dl {
                        dt { "Board" } dd class="board" { (destination.board_name) }
                        dt { "Credential" } @match labels.get(&destination.credential_id) {
                            Some(Err(problem)) => dd class="credential unusable" { (problem) },
                            Some(Ok(name)) => dd class="credential" { (name) },
                            None => dd {},
                        }
                        dt { "Created" } dd { (when(Some(destination.created_at))) }
                    }
                }
            }
            a class="tile add" href="/destinations/new" { "+ New destination" }
        }
    };
    Ok(Html(page("Destinations", &session, content).into_string()))
}
