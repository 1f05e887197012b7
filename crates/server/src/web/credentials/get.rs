//! `GET /credentials`: the credentials page, one tile per credential the
//! user owns, then the tiles of credentials shared with them ("Shared by
//! <owner>", without actions).

use axum::extract::{Query, State};
use axum::response::Html;
use maud::html;
use serde::Deserialize;

use super::tile::{TileMode, shared_tile, tile};
use crate::AppState;
use crate::web::layout::page;
use crate::web::{Session, WebError};

/// The page's query.
#[derive(Deserialize)]
pub struct CredentialsQuery {
    /// A credential to outline.
    selected: Option<String>,
}

/// Renders the tiles.
pub async fn get(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<CredentialsQuery>,
) -> Result<Html<String>, WebError> {
    let usable = state.credentials.list_usable(&session.user).await?;
    let csrf = session.csrf();
    let selected = |id: &str| query.selected.as_deref() == Some(id);
    let content = html! {
        h1 { "Credentials" }
        div class="tiles" {
            @for credential in usable.iter().filter(|c| c.shared_by.is_none()) {
                (tile(&credential.record, selected(credential.record.id.as_str()), TileMode::Manage, &csrf))
            }
            a class="tile add" href="/credentials/new?return_to=/credentials" { "+ Add Credential" }
        }
        @if usable.iter().any(|c| c.shared_by.is_some()) {
            h2 { "Shared with you" }
            div class="tiles shared-with-you" {
                @for credential in usable.iter() {
                    @if let Some(owner) = &credential.shared_by {
                        (shared_tile(&credential.record, owner.as_str(), selected(credential.record.id.as_str()), TileMode::Manage, &csrf))
                    }
                }
            }
        }
    };
    Ok(Html(page("Credentials", &session, content).into_string()))
}
