//! `GET /destinations/new/configure?credential=…`: the boards of the
//! credential's account, read from Pinterest, to pick one; and the template
//! `post.rs` renders again with errors next to their fields.

use axum::extract::{Query, State};
use axum::response::Html;
use maud::{Markup, html};
use pinion_domain::Credential;
use pinion_domain::FieldError;
use pinion_service::{BoardChoice, ServiceError};
use serde::Deserialize;

use crate::AppState;
use crate::web::credentials::edit::usable;
use crate::web::layout::page;
use crate::web::{Session, WebError};

/// The page's query.
#[derive(Deserialize)]
pub struct ConfigureQuery {
    #[serde(default)]
    credential: String,
}

/// The form; `boards` is `Err` with a message when Pinterest could not be read.
pub fn form(
    session: &Session,
    credential: &Credential,
    boards: &Result<Vec<BoardChoice>, String>,
    name: &str,
    board_id: &str,
    errors: &[FieldError],
) -> Markup {
    let error_of = |field: &str| {
        errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
    };
    let content = html! {
        h1 { "New destination" }
        p class="step" {
            "Publishes with credential " strong class="credential" { (credential.name.as_str()) } "."
        }
        form class="overlay" method="post" action="/destinations/new/configure" {
            input type="hidden" name="csrf" value=(session.csrf());
            input type="hidden" name="credential" value=(credential.id.as_str());
            @let name_error = error_of("name");
            div class={ "field" @if name_error.is_some() { " invalid" } } {
                label for="name" { "Destination name" }
                input type="text" id="name" name="name" value=(name);
                @if let Some(error) = name_error { p class="error" id="name-error" { (crate::web::layout::prose(error)) } }
            }
            @let board_error = error_of("board_id");
            fieldset class={ "field" @if board_error.is_some() { " invalid" } } {
                legend { "Board" }
                @match boards {
                    Ok(boards) if boards.is_empty() => p class="hint" { "This account has no boards yet." },
                    Ok(boards) => {
                        @for board in boards {
                            label class="choice board" {
                                input type="radio" name="board_id" value=(board.id) checked[board.id == board_id];
                                " " (board.name)
                            }
                        }
                    },
                    Err(message) => p class="notice bad" role="alert" { (crate::web::layout::prose(message)) },
                }
                @if let Some(error) = board_error { p class="error" id="board_id-error" { (crate::web::layout::prose(error)) } }
            }
            div class="buttons" {
                a class="button" href={ "/destinations/new?selected=" (credential.id.as_str()) } { "Back" }
                button class="primary" type="submit" { "Create destination" }
            }
        }
    };
    page("New destination", session, content)
}

/// What to show when the boards cannot be read.
pub fn boards_or_message(
    result: Result<Vec<BoardChoice>, ServiceError>,
) -> Result<Result<Vec<BoardChoice>, String>, WebError> {
    match result {
        Ok(boards) => Ok(Ok(boards)),
        Err(err @ ServiceError::Upstream { .. }) => Ok(Err(format!(
            "Pinterest could not be asked for the boards just now ({err}). Check or reauthorize the credential."
        ))),
        Err(other) => Err(other.into()),
    }
}

/// Renders the board picker for a credential the user owns or that is
/// shared with them; anything else is 404.
pub async fn get(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<ConfigureQuery>,
) -> Result<Html<String>, WebError> {
    let credential = usable(&state, &session, &query.credential).await?;
    let boards = boards_or_message(
        state
            .destinations
            .boards(&session.user, &credential.id)
            .await,
    )?;
    Ok(Html(
        form(&session, &credential, &boards, "", "", &[]).into_string(),
    ))
}
