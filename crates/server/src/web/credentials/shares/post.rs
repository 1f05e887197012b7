//! `POST /credentials/{id}/shares`: shares the credential with the user
//! named in the form, then shows the information screen with the outcome
//! (`?shared=<username>`, or the error next to the username field).

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use pinion_service::ServiceError;
use serde::Deserialize;

use crate::AppState;
use crate::web::credentials::edit::owned;
use crate::web::{Session, WebError};

/// The share form.
#[derive(Deserialize)]
pub struct ShareForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
}

/// Shares, or returns to the screen with the reason it could not.
pub async fn post(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<ShareForm>,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<pinion_domain::CredentialId>(&id)?;
    session.check_csrf(&form.csrf)?;
    let record = owned(&state, &session, &id).await?;
    let outcome = state
        .credentials
        .share(&session.user, &record.id, &form.username)
        .await;
    let query = match outcome {
        Ok(share) => format!("shared={}", share.username.as_str()),
        Err(ServiceError::Validation(_)) => "share_error=unknown".to_owned(),
        Err(ServiceError::Conflict { .. }) => "share_error=already".to_owned(),
        Err(other) => return Err(other.into()),
    };
    Ok(Redirect::to(&format!("/credentials/{}/info?{query}#share", record.id)).into_response())
}
