//! `POST /credentials/{id}/delete`: deletes the credential when the
//! confirmation box was ticked; otherwise back to the information screen.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::AppState;
use crate::web::credentials::edit::owned;
use crate::web::{Session, WebError};

/// The deletion form.
#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    confirm: Option<String>,
}

/// Deletes, or asks for the confirmation.
pub async fn post(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<DeleteForm>,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<pinion_domain::CredentialId>(&id)?;
    session.check_csrf(&form.csrf)?;
    let record = owned(&state, &session, &id).await?;
    if form.confirm.as_deref() != Some("yes") {
        return Ok(
            Redirect::to(&format!("/credentials/{}/info?confirm=missing", record.id))
                .into_response(),
        );
    }
    state.credentials.delete(&session.user, &record.id).await?;
    Ok(Redirect::to("/credentials").into_response())
}
