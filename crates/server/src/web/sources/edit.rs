//! `/sources/{id}/edit`: change a source's name, credential, streams,
//! output and sync mode (issue 15). The form is the new-source form with the
//! source's values and a choice of the credentials the user may use; Save
//! changes goes back to the source's page. A source with a run still going
//! is not changed: the form comes back saying so. A source whose credential
//! was deleted or is no longer shared can still be edited, keeping it (its
//! runs fail until the credential is usable again) or switching to another.
//! Its schedule is set on the source's page.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use pinion_domain::{FieldError, SourceId};
use pinion_service::{ServiceError, SourceInput};

use super::new::configure::{CredentialLabel, FormTarget, SourceValues, form, parse};
use crate::AppState;
use crate::web::{Session, WebError};

/// The credentials the user may switch the source to, and the name of the
/// source's own (from that list when it is on it), or why it cannot be
/// used now.
async fn choices_and_label(
    state: &AppState,
    session: &Session,
    source: &pinion_domain::record::SourceRecord,
) -> Result<(pinion_service::UsableList, String), WebError> {
    let choices = state.credentials.list_usable(&session.user).await?;
    let label = match choices
        .iter()
        .find(|item| item.record.id == source.credential_id)
    {
        Some(item) => item.record.name.as_str().to_owned(),
        None => state
            .credentials
            .label_for(&session.user, &source.credential_id)
            .await?
            .unwrap_or_else(|problem| problem),
    };
    Ok((choices, label))
}

/// The form with the source's current settings.
pub async fn get(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let id = WebError::path_id::<SourceId>(&id)?;
    let source = state.sources.get(&session.user, &id).await?;
    let (choices, label) = choices_and_label(&state, &session, &source).await?;
    let values = SourceValues {
        name: source.name.clone(),
        streams: source.streams.clone(),
        output_kind: source.output_kind.clone(),
        output_path: source.output_path.clone(),
        sync_mode: source.sync_mode.as_str().to_owned(),
    };
    Ok(Html(
        form(
            &session,
            CredentialLabel {
                id: source.credential_id.as_str(),
                name: &label,
            },
            &values,
            &[],
            FormTarget::Edit(&source.id, &choices),
        )
        .into_string(),
    ))
}

/// Saves the changes; invalid input or a run still going comes back with
/// the error and everything typed.
pub async fn post(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<SourceId>(&id)?;
    let posted = parse(&body);
    session.check_csrf(&posted.csrf)?;
    let source = state.sources.get(&session.user, &id).await?;
    let credential_id = match posted.credential.trim() {
        "" => source.credential_id.as_str().to_owned(),
        picked => picked.to_owned(),
    };
    let input = SourceInput {
        name: posted.name.clone(),
        credential_id,
        streams: posted.streams.clone(),
        output_kind: posted.output_kind.clone(),
        output_path: posted.output_path.clone(),
        sync_mode: posted.sync_mode.clone(),
    };
    let (status, errors) = match state.sources.update(&session.user, &id, &input).await {
        Ok(source) => {
            return Ok(Redirect::to(&format!("/sources/{}?saved=1", source.id)).into_response());
        }
        Err(ServiceError::Validation(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, errors.0),
        Err(ServiceError::Conflict { field, message }) => {
            (StatusCode::CONFLICT, vec![FieldError::new(field, message)])
        }
        // The picked credential was deleted or unshared since the form was
        // drawn, or never was the user's to pick.
        Err(err @ ServiceError::NotShared { .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![FieldError::new("credential_id", err.to_string())],
        ),
        Err(ServiceError::NotFound { what: "credential" }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![FieldError::new(
                "credential_id",
                "that credential no longer exists or is not yours to use; pick another",
            )],
        ),
        Err(other) => return Err(other.into()),
    };
    let (choices, label) = choices_and_label(&state, &session, &source).await?;
    let values = SourceValues {
        name: posted.name,
        streams: posted.streams,
        output_kind: posted.output_kind,
        output_path: posted.output_path,
        sync_mode: posted.sync_mode,
    };
    let page = form(
        &session,
        CredentialLabel {
            id: source.credential_id.as_str(),
            name: &label,
        },
        &values,
        &errors,
        FormTarget::Edit(&source.id, &choices),
    );
    Ok((status, Html(page.into_string())).into_response())
}
