//! `POST /credentials/{id}/shares/{username}/withdraw`: withdraws a share;
//! the collaborator's sources that use the credential then fail to run with
//! "credential X is no longer shared with you".

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::AppState;
use crate::web::credentials::edit::owned;
use crate::web::{Session, WebError};

/// The Withdraw button's form.
#[derive(Deserialize)]
pub struct WithdrawForm {
    #[serde(default)]
    csrf: String,
}

/// Withdraws, then shows the information screen (`?withdrawn=<username>`).
pub async fn post(
    State(state): State<AppState>,
    session: Session,
    Path((id, username)): Path<(String, String)>,
    Form(form): Form<WithdrawForm>,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<pinion_domain::CredentialId>(&id)?;
    session.check_csrf(&form.csrf)?;
    let record = owned(&state, &session, &id).await?;
    state
        .credentials
        .withdraw_share(&session.user, &record.id, &username)
        .await?;
    let username: String = username
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect();
    Ok(Redirect::to(&format!(
        "/credentials/{}/info?withdrawn={username}#share",
        record.id
    ))
    .into_response())
}
