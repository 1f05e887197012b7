//! `POST /credentials/{id}/edit`: `save` stores the name and description and
//! returns to the Authenticate screen with the tile selected; `authorize`
//! (also the tiles' Reauthorize button) starts a new authorization.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use pinion_domain::{CredentialPatchInput, FieldError};
use pinion_service::ServiceError;
use serde::Deserialize;

use super::get::{EditValues, overlay};
use super::owned;
use crate::AppState;
use crate::web::credentials::{authorize, safe_return_to};
use crate::web::{Session, WebError};

/// The overlay's fields.
#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    name: Option<String>,
    description: Option<String>,
    rate_tier: Option<String>,
    #[serde(default)]
    action: String,
    return_to: Option<String>,
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
    if form.action == "authorize" {
        return authorize::start(&state, &session, &record.id).await;
    }
    let patch = CredentialPatchInput {
        name: form.name.clone(),
        description: form.description.clone(),
        rate_tier: form.rate_tier.clone(),
        ..CredentialPatchInput::default()
    };
    let errors = match state.credentials.update(&session.user, &id, &patch).await {
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
            name: form.name.clone().unwrap_or_default(),
            description: form.description.clone().unwrap_or_default(),
            rate_tier: form.rate_tier.clone().unwrap_or_default(),
        },
        None,
        return_to,
        &errors,
    );
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response())
}
