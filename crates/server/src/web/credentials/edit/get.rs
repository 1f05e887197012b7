//! `GET /credentials/{id}/edit`: the overlay for a stored credential. After
//! an authorization (`?authorized=1`) it asks Pinterest which account the
//! tokens belong to and shows it with the granted scopes. The client secret
//! is shown only as "set".

use axum::extract::{Path, Query, State};
use axum::response::Html;
use maud::{Markup, html};
use pinion_domain::Credential;
use pinion_domain::FieldError;
use serde::Deserialize;

use super::owned;
use crate::AppState;
use crate::web::credentials::safe_return_to;
use crate::web::layout::{page, text_field, when};
use crate::web::{Session, WebError};

/// The page's query.
#[derive(Deserialize)]
pub struct EditQuery {
    authorized: Option<String>,
    return_to: Option<String>,
}

/// What the overlay shows about the authorized account.
#[derive(Debug, Default)]
pub struct AccountView {
    /// The Pinterest username, when the check reached Pinterest.
    pub username: Option<String>,
    /// A problem with the check, safe to show.
    pub problem: Option<String>,
}

/// What the edit form holds: as typed, or the credential's own.
#[derive(Debug, Clone, Default)]
pub struct EditValues {
    /// Credential Name.
    pub name: String,
    /// Credential Description.
    pub description: String,
    /// Rate limit: `standard`, `trial`, `N/min` or `unlimited`.
    pub rate_tier: String,
    /// Client ID.
    pub client_id: String,
    /// Access Scope, comma-separated.
    pub scopes: String,
}

impl EditValues {
    /// The values stored for `record`.
    pub fn of(record: &Credential) -> Self {
        Self {
            name: record.name.as_str().to_owned(),
            description: record
                .description
                .as_ref()
                .map(|d| d.as_str().to_owned())
                .unwrap_or_default(),
            rate_tier: record.rate_tier.to_string(),
            client_id: record.client_id.as_str().to_owned(),
            scopes: record.scopes.to_comma_separated(),
        }
    }
}

/// The overlay of `record`, with the fields as `values` holds them.
pub fn overlay(
    session: &Session,
    record: &Credential,
    values: &EditValues,
    account: Option<&AccountView>,
    return_to: &str,
    errors: &[FieldError],
) -> Markup {
    let id = record.id.as_str();
    let error_of = |field: &str| {
        errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
    };
    let content = html! {
        section class="overlay" role="dialog" aria-labelledby="overlay-title" {
            h1 id="overlay-title" { "Credential: " (record.name.as_str()) }
            @if let Some(account) = account {
                div class="notice authorized" role="status" {
                    "Authorized"
                    @if let Some(username) = &account.username {
                        " as " strong class="account" { (username) }
                    }
                    ". Granted scopes: "
                    span class="granted-scopes" {
                        @match &record.granted_scopes {
                            Some(granted) => (granted.to_comma_separated()),
                            None => "none",
                        }
                    }
                    @if let Some(problem) = &account.problem { br; (problem) }
                }
            }
            form method="post" action={ "/credentials/" (id) "/edit" } {
                input type="hidden" name="csrf" value=(session.csrf());
                input type="hidden" name="return_to" value=(return_to);
                @let name_error = error_of("name");
                div class={ "field" @if name_error.is_some() { " invalid" } } {
                    label for="name" { "Credential Name" }
                    input type="text" id="name" name="name" value=(values.name);
                    @if let Some(error) = name_error { p class="error" { (crate::web::layout::prose(error)) } }
                }
                @let description_error = error_of("description");
                div class={ "field" @if description_error.is_some() { " invalid" } } {
                    label for="description" { "Credential Description" }
                    textarea id="description" name="description" rows="2" { (values.description) }
                    p class="hint" { "Descriptions help others understand the resource." }
                    @if let Some(error) = description_error { p class="error" { (crate::web::layout::prose(error)) } }
                }
                (text_field(
                    "client_id",
                    "Client ID",
                    &values.client_id,
                    Some("Your Pinterest app's ID. Changing it discards the tokens: the credential must be authorized again."),
                    errors,
                ))
                @let secret_error = error_of("client_secret");
                div class={ "field" @if secret_error.is_some() { " invalid" } } {
                    label for="client_secret" { "Client Secret" }
                    input type="password" id="client_secret" name="client_secret" value=""
                        autocomplete="new-password"
                        aria-describedby="client_secret-hint";
                    p class="hint" id="client_secret-hint" {
                        "Stored secret: " span class="secret-state" { @if record.client_secret_set { "set" } @else { "not set" } } ". "
                        "Type a new one to replace it, or leave the field empty to keep it. It is stored encrypted and never shown."
                        @if !errors.is_empty() && secret_error.is_none() {
                            " For your safety a secret typed before this error was not kept: type it again."
                        }
                    }
                    @if let Some(error) = secret_error { p class="error" id="client_secret-error" { (crate::web::layout::prose(error)) } }
                }
                (crate::web::credentials::scopes::picker(&values.scopes, record.granted_scopes.as_ref(), errors))
                (text_field(
                    "rate_tier",
                    "Rate limit",
                    &values.rate_tier,
                    Some("How fast Pinion calls Pinterest with this credential: standard (Pinterest's standard access), trial, a number of requests a minute such as 600/min, or unlimited."),
                    errors,
                ))
                table class="info" {
                    tr { th { "Status" } td { span class={ "status " (record.status.as_str()) } { (record.status.label()) } } }
                    tr { th { "Granted scopes" } td class="granted-scopes" {
                        @match &record.granted_scopes {
                            Some(granted) => (granted.to_comma_separated()),
                            None => "none granted yet",
                        }
                    } }
                    tr { th { "Expires" } td { (when(record.access_token_expires_at)) } }
                }
                @if needs_authorization(record) {
                    p class="notice warn" role="status" {
                        "The scopes asked for differ from those granted, or the credential is not authorized: "
                        "press Save and authorize to ask Pinterest again."
                    }
                }
                div class="buttons" {
                    a class="button" href=(return_to) { "Cancel" }
                    button type="submit" name="action" value="authorize" { "Save and authorize" }
                    button class="primary" type="submit" name="action" value="save" { "Save" }
                }
            }
        }
    };
    page("Credential", session, content)
}

/// True when an authorization would change what the credential may do:
/// it holds no grant, or the scopes asked for are not what was granted.
fn needs_authorization(record: &Credential) -> bool {
    match &record.granted_scopes {
        Some(granted) => *granted != record.scopes,
        None => true,
    }
}

/// Renders the overlay; after an authorization, checks the account first.
pub async fn get(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<EditQuery>,
) -> Result<Html<String>, WebError> {
    let id = WebError::path_id::<pinion_domain::CredentialId>(&id)?;
    let mut record = owned(&state, &session, &id).await?;
    let account = if query.authorized.as_deref() == Some("1") {
        let view = match state.lifecycle.check(&session.user, &record.id).await {
            Ok(report) => AccountView {
                username: report.account_username,
                problem: report.error,
            },
            Err(err) => {
                tracing::warn!(credential_id = %record.id, error = %err, "Could not check the account after authorizing.");
                AccountView {
                    username: None,
                    problem: Some("The account could not be checked just now.".to_owned()),
                }
            }
        };
        record = owned(&state, &session, &id).await?;
        Some(view)
    } else {
        None
    };
    let values = EditValues::of(&record);
    let return_to = safe_return_to(query.return_to.as_deref());
    Ok(Html(
        overlay(&session, &record, &values, account.as_ref(), return_to, &[]).into_string(),
    ))
}
