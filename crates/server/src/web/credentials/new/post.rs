//! `POST /credentials/new`: stores the credential from the overlay. Button
//! `save` returns to the Authenticate screen with the new tile selected;
//! `authorize` goes on to Pinterest's consent page. On invalid input the
//! overlay comes back with each error next to its field and everything typed
//! except the secret.

use std::collections::HashMap;

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use pinion_domain::{ClientSecret, CredentialInput, FieldError};
use pinion_service::ServiceError;
use serde::Deserialize;

use super::{OverlayValues, overlay};
use crate::AppState;
use crate::web::credentials::{authorize, safe_return_to, scopes};
use crate::web::{Session, WebError};

/// The overlay's fields.
#[derive(Deserialize)]
pub struct NewCredentialForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    action: String,
    return_to: Option<String>,
    /// The scope picker's checkboxes (`scope.<scope>`) and marker.
    #[serde(flatten)]
    picked: HashMap<String, String>,
}

/// Creates the credential, then saves or authorizes.
pub async fn post(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<NewCredentialForm>,
) -> Result<Response, WebError> {
    session.check_csrf(&form.csrf)?;
    let return_to = safe_return_to(form.return_to.as_deref());
    let scopes = scopes::posted(Some(&form.scopes), &form.picked).unwrap_or_default();
    let input = CredentialInput {
        name: form.name.clone(),
        description: Some(form.description.clone()),
        client_id: form.client_id.clone(),
        client_secret: (!form.client_secret.is_empty())
            .then(|| ClientSecret::new(form.client_secret)),
        scopes: Some(scopes.clone()),
    };
    let errors = match state
        .credentials
        .create(&session.user, &session.user.id, &input)
        .await
    {
        Ok(record) => {
            return if form.action == "authorize" {
                authorize::start(&state, &session, &record.id, return_to).await
            } else {
                Ok(Redirect::to(&format!("{return_to}?selected={}", record.id)).into_response())
            };
        }
        Err(ServiceError::Validation(errors)) => errors.0,
        Err(ServiceError::Conflict { field, message }) => vec![FieldError::new(field, message)],
        Err(other) => return Err(other.into()),
    };
    let values = OverlayValues {
        name: form.name,
        description: form.description,
        client_id: form.client_id,
        scopes,
        return_to,
    };
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        Html(overlay(&session, &values, &errors).into_string()),
    )
        .into_response())
}
