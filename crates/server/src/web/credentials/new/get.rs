//! `GET /credentials/new`: the Add New Credential overlay, and its template
//! (also rendered again by `post.rs` with errors next to their fields).
//!
//! The Client Secret is a password field that is never filled in from what
//! was typed: after an error it must be typed again, and once stored it is
//! only ever shown as "set".

use axum::extract::{Query, State};
use axum::response::Html;
use maud::{Markup, html};
use pinion_domain::{FieldError, ScopeSet};
use serde::Deserialize;

use crate::AppState;
use crate::web::credentials::safe_return_to;
use crate::web::layout::{field_error, page, text_field};
use crate::web::{Session, WebError};

/// What the user typed (never the secret), to show the form again.
#[derive(Debug, Default, Clone)]
pub struct OverlayValues {
    /// Credential Name.
    pub name: String,
    /// Credential Description.
    pub description: String,
    /// Client ID.
    pub client_id: String,
    /// Access Scope.
    pub scopes: String,
    /// Where Save returns to.
    pub return_to: &'static str,
}

/// The page's query.
#[derive(Deserialize)]
pub struct NewQuery {
    return_to: Option<String>,
}

/// The overlay, with `values` kept and `errors` next to their fields.
pub fn overlay(session: &Session, values: &OverlayValues, errors: &[FieldError]) -> Markup {
    let secret_error = field_error(errors, "client_secret");
    let general: Vec<&FieldError> = errors
        .iter()
        .filter(|e| {
            ![
                "name",
                "description",
                "client_id",
                "client_secret",
                "scopes",
            ]
            .contains(&e.field)
        })
        .collect();
    let content = html! {
        section class="overlay" role="dialog" aria-labelledby="overlay-title" {
            h1 id="overlay-title" { "Add New Credential" }
            @for error in general {
                p class="notice bad" role="alert" { (crate::web::layout::prose(&error.message)) }
            }
            form method="post" action="/credentials/new" novalidate {
                input type="hidden" name="csrf" value=(session.csrf());
                input type="hidden" name="return_to" value=(values.return_to);
                (text_field("name", "Credential Name", &values.name, None, errors))
                @let description_error = field_error(errors, "description");
                div class={ "field" @if description_error.is_some() { " invalid" } } {
                    label for="description" { "Credential Description" }
                    textarea id="description" name="description" rows="2" { (values.description) }
                    p class="hint" { "Descriptions help others understand the resource." }
                    @if let Some(error) = description_error { p class="error" { (crate::web::layout::prose(error)) } }
                }
                (text_field("client_id", "Client ID", &values.client_id, Some("Your Pinterest app's ID, from developers.pinterest.com."), errors))
                div class={ "field" @if secret_error.is_some() { " invalid" } } {
                    label for="client_secret" { "Client Secret" }
                    input type="password" id="client_secret" name="client_secret" value=""
                        autocomplete="off";
                    p class="hint" { "Stored encrypted; it is never shown again." }
                    @if !errors.is_empty() && secret_error.is_none() {
                        p class="hint retype" { "For your safety the secret is not kept when the form comes back: type it again." }
                    }
                    @if let Some(error) = secret_error { p class="error" id="client_secret-error" { (crate::web::layout::prose(error)) } }
                }
                (crate::web::credentials::scopes::picker(&values.scopes, None, errors))
                div class="buttons" {
                    a class="button" href=(values.return_to) { "Cancel" }
                    button type="submit" name="action" value="save" { "Save" }
                    button class="primary" type="submit" name="action" value="authorize" { "Authorize" }
                }
            }
        }
    };
    page("Add New Credential", session, content)
}

/// Renders the empty overlay with the default scopes.
pub async fn get(
    State(_state): State<AppState>,
    session: Session,
    Query(query): Query<NewQuery>,
) -> Result<Html<String>, WebError> {
    let values = OverlayValues {
        scopes: ScopeSet::DEFAULT_TEXT.to_owned(),
        return_to: safe_return_to(query.return_to.as_deref()),
        ..OverlayValues::default()
    };
    Ok(Html(overlay(&session, &values, &[]).into_string()))
}
