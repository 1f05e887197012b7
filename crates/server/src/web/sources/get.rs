//! `GET /sources`: the user's data sources, newest first, each with the
//! credential it reads with, its streams and its output.

use axum::extract::{Query, State};
use axum::response::Html;
use maud::html;
use serde::Deserialize;

use crate::AppState;
use crate::web::layout::{page, when};
use crate::web::{Session, WebError};

/// The page's query.
#[derive(Deserialize)]
pub struct SourcesQuery {
    /// A source just created, outlined.
    created: Option<String>,
}

/// Renders the list.
pub async fn get(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<SourcesQuery>,
) -> Result<Html<String>, WebError> {
    let sources = state.sources.list(&session.user).await?;
    let credentials = state.credentials.list(&session.user).await?;
    let credential_name = |id: &str| {
        credentials
            .iter()
            .find(|c| c.id.as_str() == id)
            .map(|c| c.name.as_str().to_owned())
            .unwrap_or_else(|| "a deleted credential".to_owned())
    };
    let content = html! {
        h1 { "Data sources" }
        div class="tiles" {
            @for source in &sources {
                @let selected = query.created.as_deref() == Some(source.id.as_str());
                div class={ "tile source" @if selected { " selected" } } data-source=(source.id) {
                    h2 { (source.name) }
                    dl {
                        dt { "Credential" } dd { (credential_name(&source.credential_id)) }
                        dt { "Streams" } dd class="streams" { (source.streams.join(", ")) }
                        dt { "Output" } dd { (source.output_kind) " · " code { (source.output_path) } }
                        dt { "Created" } dd { (when(Some(source.created_at))) }
                    }
                }
            }
            a class="tile add" href="/sources/new" { "+ New data source" }
        }
    };
    Ok(Html(page("Data sources", &session, content).into_string()))
}
