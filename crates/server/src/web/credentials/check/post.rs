//! `POST /credentials/{id}/check`: asks Pinterest for the account with the
//! credential (refreshing the token if needed, which is how a revoked grant
//! is found) and shows the information screen with the outcome.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::AppState;
use crate::web::{Session, WebError};

/// The form's one field.
#[derive(Deserialize)]
pub struct CheckForm {
    #[serde(default)]
    csrf: String,
}

/// Checks, then shows the information screen (`?checked=ok|failed`).
pub async fn post(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<CheckForm>,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<pinion_domain::CredentialId>(&id)?;
    session.check_csrf(&form.csrf)?;
    // A person pressed Check, perhaps just after changing something on
    // Pinterest: ask Pinterest now rather than reuse a recent answer.
    let report = state.lifecycle.check_now(&session.user, &id).await?;
    let outcome = if report.ok { "ok" } else { "failed" };
    Ok(Redirect::to(&format!("/credentials/{id}/info?checked={outcome}")).into_response())
}
