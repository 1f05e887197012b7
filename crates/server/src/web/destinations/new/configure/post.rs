//! `POST /destinations/new/configure`: stores the destination and goes to
//! the destinations page; invalid input comes back with errors by its fields.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use pinion_service::{DestinationInput, ServiceError};
use serde::Deserialize;

use super::get::boards_or_message;
use crate::AppState;
use crate::web::credentials::edit::usable;
use crate::web::{Session, WebError};

/// The form's fields.
#[derive(Deserialize)]
pub struct DestinationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    board_id: String,
}

/// Creates the destination.
pub async fn post(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<DestinationForm>,
) -> Result<Response, WebError> {
    session.check_csrf(&form.csrf)?;
    let credential = usable(&state, &session, &form.credential).await?;
    let input = DestinationInput {
        name: form.name.clone(),
        credential_id: form.credential.clone(),
        board_id: form.board_id.clone(),
    };
    let errors = match state.destinations.create(&session.user, &input).await {
        Ok(destination) => {
            return Ok(
                Redirect::to(&format!("/destinations?created={}", destination.id)).into_response(),
            );
        }
        Err(ServiceError::Validation(errors)) => errors.0,
        Err(other) => return Err(other.into()),
    };
    let boards = boards_or_message(
        state
            .destinations
            .boards(&session.user, &credential.id)
            .await,
    )?;
    let page = super::form(
        &session,
        &credential,
        &boards,
        &form.name,
        &form.board_id,
        &errors,
    );
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response())
}
