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
}

/// Renders the list.
pub async fn get(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<DestinationsQuery>,
) -> Result<Html<String>, WebError> {
    let destinations = state.destinations.list(&session.user).await?;
    let credentials = state.credentials.list(&session.user).await?;
    let credential_name = |id: &str| {
        credentials
            .iter()
            .find(|c| c.id.as_str() == id)
            .map(|c| c.name.as_str().to_owned())
            .unwrap_or_else(|| "a deleted credential".to_owned())
    };
    let content = html! {
        h1 { "Destinations" }
        div class="tiles" {
            @for destination in &destinations {
                @let selected = query.created.as_deref() == Some(destination.id.as_str());
                div class={ "tile destination" @if selected { " selected" } } data-destination=(destination.id) {
                    h2 { (destination.name) }
                    dl {
                        dt { "Board" } dd class="board" { (destination.board_name) }
                        dt { "Credential" } dd { (credential_name(&destination.credential_id)) }
                        dt { "Created" } dd { (when(Some(destination.created_at))) }
                    }
                }
            }
            a class="tile add" href="/destinations/new" { "+ New destination" }
        }
    };
    Ok(Html(page("Destinations", &session, content).into_string()))
}
