//! `GET /credentials`: the credentials page, one tile per credential the
//! user owns.

use axum::extract::{Query, State};
use axum::response::Html;
use maud::html;
use serde::Deserialize;

use super::tile::{TileMode, tile};
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
    let records = state.credentials.list(&session.user).await?;
    let csrf = session.csrf();
    let content = html! {
        h1 { "Credentials" }
        div class="tiles" {
            @for record in &records {
                (tile(record, query.selected.as_deref() == Some(record.id.as_str()), TileMode::Manage, &csrf))
            }
            a class="tile add" href="/credentials/new?return_to=/credentials" { "+ Add Credential" }
        }
    };
    Ok(Html(page("Credentials", &session, content).into_string()))
}
