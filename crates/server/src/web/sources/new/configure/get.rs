//! `GET /sources/new/configure?credential=…`: the picked credential, the
//! streams to read (checkboxes) and the output, and the template `post.rs`
//! renders again with errors next to their fields.

use axum::extract::{Query, State};
use axum::response::Html;
use maud::{Markup, html};
use pinion_domain::Credential;
use pinion_domain::{FieldError, SyncMode};
use pinion_service::{OUTPUTS, STREAMS, UsableCredential};
use serde::Deserialize;

use crate::AppState;
use crate::web::credentials::edit::usable;
use crate::web::layout::page;
use crate::web::{Session, WebError};

/// What the user chose, to show the form again.
#[derive(Debug, Clone)]
pub struct SourceValues {
    /// The source's name.
    pub name: String,
    /// Picked stream names.
    pub streams: Vec<String>,
    /// `jsonl` or `sqlite`.
    pub output_kind: String,
    /// The output's path.
    pub output_path: String,
    /// `full_refresh` or `incremental`.
    pub sync_mode: String,
}

impl Default for SourceValues {
    fn default() -> Self {
        Self {
            name: String::new(),
            streams: vec!["boards".into(), "board_pins".into()],
            output_kind: "jsonl".into(),
            output_path: String::new(),
            sync_mode: SyncMode::default().as_str().to_owned(),
        }
    }
}

/// The page's query.
#[derive(Deserialize)]
pub struct ConfigureQuery {
    #[serde(default)]
    credential: String,
}

/// Which source the form makes: a new one, or changes to source `id`.
#[derive(Debug, Clone, Copy)]
pub enum FormTarget<'a> {
    /// `POST /sources/new/configure`.
    New,
    /// `POST /sources/{id}/edit`, offering the credentials the user may
    /// switch the source to.
    Edit(&'a pinion_domain::SourceId, &'a [UsableCredential]),
}

/// The credential a source form names: its id and what to call it (its
/// name, or why it cannot be used now).
#[derive(Debug, Clone, Copy)]
pub struct CredentialLabel<'a> {
    /// `cred_…`.
    pub id: &'a str,
    /// Its name, or the reason it is unusable.
    pub name: &'a str,
}

impl<'a> From<&'a Credential> for CredentialLabel<'a> {
    fn from(credential: &'a Credential) -> Self {
        Self {
            id: credential.id.as_str(),
            name: credential.name.as_str(),
        }
    }
}

/// The form for a source reading with `credential`.
pub fn form(
    session: &Session,
    credential: CredentialLabel<'_>,
    values: &SourceValues,
    errors: &[FieldError],
    target: FormTarget<'_>,
) -> Markup {
    let (title, action, back, submit) = match target {
        FormTarget::New => (
            "New data source".to_owned(),
            "/sources/new/configure".to_owned(),
            format!("/sources/new?selected={}", credential.id),
            "Create source",
        ),
        FormTarget::Edit(id, _) => (
            "Edit data source".to_owned(),
            format!("/sources/{id}/edit"),
            format!("/sources/{id}"),
            "Save changes",
        ),
    };
    let general: Vec<&FieldError> = errors
        .iter()
        .filter(|e| {
            ![
                "name",
                "credential_id",
                "streams",
                "output_kind",
                "output_path",
                "sync_mode",
            ]
            .contains(&e.field)
        })
        .collect();
    let error_of = |field: &str| {
        errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
    };
    let content = html! {
        h1 { (title) }
        @if let FormTarget::New = target {
            p class="step" {
                "Reads with credential " strong class="credential" { (credential.name) } "."
            }
        }
        @for error in general {
            p class="notice bad" role="alert" { (crate::web::layout::prose(&error.message)) }
        }
        form class="overlay" method="post" action=(action) {
            input type="hidden" name="csrf" value=(session.csrf());
            @match target {
                FormTarget::New => {
                    input type="hidden" name="credential" value=(credential.id);
                }
                FormTarget::Edit(_, choices) => {
                    (credential_picker(credential, choices, error_of("credential_id")))
                }
            }
            @let name_error = error_of("name");
            div class={ "field" @if name_error.is_some() { " invalid" } } {
                label for="name" { "Source name" }
                input type="text" id="name" name="name" value=(values.name);
                @if let Some(error) = name_error { p class="error" id="name-error" { (crate::web::layout::prose(error)) } }
            }
            @let streams_error = error_of("streams");
            fieldset class={ "field" @if streams_error.is_some() { " invalid" } } {
                legend { "Streams" }
                @for (stream, label) in STREAMS {
                    label class="choice" {
                        input type="checkbox" name="streams" value=(stream)
                            checked[values.streams.iter().any(|s| s == stream)];
                        " " (label)
                    }
                }
                @if let Some(error) = streams_error { p class="error" id="streams-error" { (crate::web::layout::prose(error)) } }
            }
            @let kind_error = error_of("output_kind");
            fieldset class={ "field" @if kind_error.is_some() { " invalid" } } {
                legend { "Output" }
                @for (kind, label) in OUTPUTS {
                    label class="choice" {
                        input type="radio" name="output_kind" value=(kind)
                            checked[values.output_kind == *kind];
                        " " (label)
                    }
                }
                @if let Some(error) = kind_error { p class="error" id="output_kind-error" { (crate::web::layout::prose(error)) } }
            }
            @let path_error = error_of("output_path");
            div class={ "field" @if path_error.is_some() { " invalid" } } {
                label for="output_path" { "Output name" }
                input type="text" id="output_path" name="output_path" value=(values.output_path);
                p class="hint" { "A name in your outputs folder on the server, such as " code { "weekly" } ": a folder for JSON Lines, a file for SQLite (" code { "reports/boards.db" } ")." }
                @if let Some(error) = path_error { p class="error" id="output_path-error" { (crate::web::layout::prose(error)) } }
            }
            @let mode_error = error_of("sync_mode");
            fieldset class={ "field" @if mode_error.is_some() { " invalid" } } {
                legend { "Sync mode" }
                @for mode in SyncMode::ALL {
                    label class="choice" {
                        input type="radio" name="sync_mode" value=(mode.as_str())
                            checked[values.sync_mode == mode.as_str()];
                        " " (mode.label()) ": " (mode.description())
                    }
                }
                @if let Some(error) = mode_error { p class="error" id="sync_mode-error" { (crate::web::layout::prose(error)) } }
            }
            div class="buttons" {
                a class="button" href=(back) { "Back" }
                button class="primary" type="submit" { (submit) }
            }
        }
    };
    page(&title, session, content)
}

/// The edit form's choice of credential: those the user may use, and the
/// source's own when it is no longer usable (so saving other changes keeps
/// it), labelled with why.
fn credential_picker(
    current: CredentialLabel<'_>,
    choices: &[UsableCredential],
    error: Option<String>,
) -> Markup {
    let current_usable = choices
        .iter()
        .any(|item| item.record.id.as_str() == current.id);
    html! {
        div class={ "field" @if error.is_some() { " invalid" } } {
            label for="credential" { "Reads with" }
            select id="credential" name="credential"
                aria-describedby=[error.is_some().then_some("credential-error")] {
                @if !current_usable {
                    option value=(current.id) selected { "Now: " (current.name) }
                }
                @for item in choices {
                    option value=(item.record.id.as_str())
                        selected[item.record.id.as_str() == current.id] {
                        (item.record.name.as_str())
                        @if let Some(owner) = &item.shared_by { " (shared by " (owner.as_str()) ")" }
                    }
                }
            }
            p class="hint" {
                "Another credential starts the next run afresh: its Pinterest account's boards and pins are read from the beginning."
            }
            @if let Some(error) = error { p class="error" id="credential-error" { (crate::web::layout::prose(&error)) } }
        }
    }
}

/// Renders the form for a credential the user owns or that is shared with
/// them; anything else is 404. Continue with no tile picked goes back to
/// the tiles, which say to pick one.
pub async fn get(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<ConfigureQuery>,
) -> Result<axum::response::Response, WebError> {
    use axum::response::IntoResponse;
    if query.credential.trim().is_empty() {
        return Ok(axum::response::Redirect::to("/sources/new?pick=1").into_response());
    }
    let credential = usable(&state, &session, &query.credential).await?;
    Ok(Html(
        form(
            &session,
            (&credential).into(),
            &SourceValues::default(),
            &[],
            FormTarget::New,
        )
        .into_string(),
    )
    .into_response())
}
