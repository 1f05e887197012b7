//! `GET /sources/new`: the Authenticate screen that starts a new data source:
//! the user's credentials (and those shared with them) as tiles to pick from (radio buttons), plus Add
//! Credential, which opens the overlay and comes back here with the new tile
//! selected. Continue goes to the streams and output.

use axum::extract::{Query, State};
use axum::response::Html;
use maud::html;
use serde::Deserialize;

use crate::AppState;
use crate::web::credentials::tile::pick_tile;
use crate::web::layout::page;
use crate::web::{Session, WebError};

/// The page's query.
#[derive(Deserialize)]
pub struct AuthenticateQuery {
    /// The picked credential.
    selected: Option<String>,
    /// Set when Continue was pressed with no tile picked.
    pick: Option<String>,
}

/// Renders the Authenticate screen.
pub async fn get(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<AuthenticateQuery>,
) -> Result<Html<String>, WebError> {
    let usable = state.credentials.list_usable(&session.user).await?;
    let csrf = session.csrf();
    let content = html! {
        h1 { "New data source" }
        p class="step" { "Authenticate: pick the Pinterest credential this source reads with, or add one." }
        @if query.pick.is_some() {
            p class="notice bad" role="alert" { "Pick a credential tile first, or add a credential, then press Continue." }
        }
        form method="get" action="/sources/new/configure" {
            div class="tiles" {
                @for credential in usable.iter() {
                    (pick_tile(credential, query.selected.as_deref(), &csrf))
                }
                a class="tile add" href="/credentials/new?return_to=/sources/new" { "+ Add Credential" }
            }
            @if !usable.is_empty() {
                div class="buttons" { button class="primary" type="submit" { "Continue" } }
            }
        }
    };
    Ok(Html(
        page("New data source", &session, content).into_string(),
    ))
}
