//! `/sources/{id}/edit`: change a source's name, streams and output (issue
//! 15). The form is the new-source form with the source's values; Save
//! changes goes back to the source's page. A source with a run still going
//! is not changed: the form comes back saying so. A source whose credential
//! was deleted or is no longer shared can still be edited (its runs fail
//! until the credential is usable again). Its schedule is set on the
//! source's page; its credential can be changed through the API
//! (`PUT /api/v1/sources/{id}`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use pinion_domain::{FieldError, SourceId};
use pinion_service::{ServiceError, SourceInput};

use super::new::configure::{CredentialLabel, FormTarget, SourceValues, form, parse};
use crate::AppState;
use crate::web::{Session, WebError};

/// The name of the source's credential, or why it cannot be used now.
async fn credential_label(
    state: &AppState,
    session: &Session,
    source: &pinion_domain::record::SourceRecord,
) -> Result<String, WebError> {
    Ok(state
        .credentials
        .label_for(&session.user, &source.credential_id)
        .await?
        .unwrap_or_else(|problem| problem))
}

/// The form with the source's current settings.
pub async fn get(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let id = WebError::path_id::<SourceId>(&id)?;
    let source = state.sources.get(&session.user, &id).await?;
    let label = credential_label(&state, &session, &source).await?;
    let values = SourceValues {
        name: source.name.clone(),
        streams: source.streams.clone(),
        output_kind: source.output_kind.clone(),
        output_path: source.output_path.clone(),
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
            FormTarget::Edit(&source.id),
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
    let label = credential_label(&state, &session, &source).await?;
    let input = SourceInput {
        name: posted.name.clone(),
        credential_id: source.credential_id.as_str().to_owned(),
        streams: posted.streams.clone(),
        output_kind: posted.output_kind.clone(),
        output_path: posted.output_path.clone(),
    };
    let (status, errors) = match state.sources.update(&session.user, &id, &input).await {
        Ok(source) => {
            return Ok(Redirect::to(&format!("/sources/{}?saved=1", source.id)).into_response());
        }
        Err(ServiceError::Validation(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, errors.0),
        Err(ServiceError::Conflict { field, message }) => {
            (StatusCode::CONFLICT, vec![FieldError::new(field, message)])
        }
        Err(other) => return Err(other.into()),
    };
    let values = SourceValues {
        name: posted.name,
        streams: posted.streams,
        output_kind: posted.output_kind,
        output_path: posted.output_path,
    };
    let page = form(
        &session,
        CredentialLabel {
            id: source.credential_id.as_str(),
            name: &label,
        },
        &values,
        &errors,
        FormTarget::Edit(&source.id),
    );
    Ok((status, Html(page.into_string())).into_response())
}
