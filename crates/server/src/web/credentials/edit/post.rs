//! `POST /credentials/{id}/edit`: `save` stores what changed (name,
//! description, Client ID, a new Client Secret, Access Scope, rate limit)
//! and returns to where the user came from with the tile selected;
//! `authorize` (the overlay's Save and authorize, and the tiles' Reauthorize
//! button, which sends no fields) stores what changed, then starts a new
//! authorization. Only fields that differ from the stored credential are
//! sent to the service, so a form sent back unchanged writes nothing.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use pinion_domain::{ClientSecret, CredentialPatchInput, FieldError};
use pinion_service::ServiceError;
use serde::Deserialize;

use super::get::{EditValues, overlay};
use super::owned;
use crate::AppState;
use crate::web::credentials::{authorize, safe_return_to, scopes};
use crate::web::{Session, WebError};

/// The overlay's fields.
#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    name: Option<String>,
    description: Option<String>,
    rate_tier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scopes: Option<String>,
    #[serde(default)]
    action: String,
    return_to: Option<String>,
    /// The scope picker's checkboxes (`scope.<scope>`) and marker.
    #[serde(flatten)]
    picked: HashMap<String, String>,
}

/// Saves or authorizes.
pub async fn post(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<EditForm>,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<pinion_domain::CredentialId>(&id)?;
    session.check_csrf(&form.csrf)?;
    let record = owned(&state, &session, &id).await?;
    let return_to = safe_return_to(form.return_to.as_deref());
    let current = EditValues::of(&record);
    let scopes = scopes::posted(form.scopes.as_deref(), &form.picked);
    let changed = |sent: &Option<String>, stored: &str| sent.clone().filter(|v| v != stored);
    let patch = CredentialPatchInput {
        name: changed(&form.name, &current.name),
        description: changed(&form.description, &current.description),
        rate_tier: changed(&form.rate_tier, &current.rate_tier),
        client_id: changed(&form.client_id, &current.client_id),
        client_secret: form
            .client_secret
            .clone()
            .filter(|secret| !secret.is_empty())
            .map(ClientSecret::new),
        // The same scopes in another order or spelling are no change.
        scopes: scopes.filter(|text| {
            pinion_domain::ScopeSet::parse(text).map_or(true, |set| set != record.scopes)
        }),
    };
    let nothing_changed = patch.name.is_none()
        && patch.description.is_none()
        && patch.rate_tier.is_none()
        && patch.client_id.is_none()
        && patch.client_secret.is_none()
        && patch.scopes.is_none();
    let result = if nothing_changed {
        Ok(record.clone())
    } else {
        state.credentials.update(&session.user, &id, &patch).await
    };
    let errors = match result {
        Ok(updated) if form.action == "authorize" => {
            return authorize::start(&state, &session, &updated.id, return_to).await;
        }
        Ok(updated) => {
            return Ok(
                Redirect::to(&format!("{return_to}?selected={}", updated.id)).into_response(),
            );
        }
        Err(ServiceError::Validation(errors)) => errors.0,
        Err(ServiceError::Conflict { field, message }) => vec![FieldError::new(field, message)],
        Err(other) => return Err(other.into()),
    };
    let page = overlay(
        &session,
        &record,
        &EditValues {
            name: form.name.clone().unwrap_or(current.name),
            description: form.description.clone().unwrap_or(current.description),
            rate_tier: form.rate_tier.clone().unwrap_or(current.rate_tier),
            client_id: form.client_id.clone().unwrap_or(current.client_id),
            scopes: patch.scopes.clone().unwrap_or(current.scopes),
        },
        None,
        return_to,
        &errors,
    );
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response())
}
