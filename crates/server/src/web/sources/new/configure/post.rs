//! `POST /sources/new/configure`: creates the source and goes to the sources
//! page; invalid input comes back with errors next to their fields.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use pinion_service::{ServiceError, SourceInput};

use super::{FormTarget, SourceValues, form as source_form};
use crate::AppState;
use crate::web::credentials::edit::usable;
use crate::web::{Session, WebError};

/// The form's fields. `streams` repeats, so the body is parsed by hand.
#[derive(Default)]
pub(crate) struct SourceForm {
    pub(crate) csrf: String,
    pub(crate) credential: String,
    pub(crate) name: String,
    pub(crate) streams: Vec<String>,
    pub(crate) output_kind: String,
    pub(crate) output_path: String,
    pub(crate) sync_mode: String,
}

pub(crate) fn parse(body: &[u8]) -> SourceForm {
    let mut form = SourceForm::default();
    for (key, value) in url::form_urlencoded::parse(body) {
        let value = value.into_owned();
        match key.as_ref() {
            "csrf" => form.csrf = value,
            "credential" => form.credential = value,
            "name" => form.name = value,
            "streams" => form.streams.push(value),
            "output_kind" => form.output_kind = value,
            "output_path" => form.output_path = value,
            "sync_mode" => form.sync_mode = value,
            _ => {}
        }
    }
    form
}

/// Creates the source.
pub async fn post(
    State(state): State<AppState>,
    session: Session,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let form = parse(&body);
    session.check_csrf(&form.csrf)?;
    let credential = usable(&state, &session, &form.credential).await?;
    let input = SourceInput {
        name: form.name.clone(),
        credential_id: form.credential.clone(),
        streams: form.streams.clone(),
        output_kind: form.output_kind.clone(),
        output_path: form.output_path.clone(),
        sync_mode: form.sync_mode.clone(),
    };
    let errors = match state.sources.create(&session.user, &input).await {
        Ok(source) => {
            return Ok(Redirect::to(&format!("/sources?created={}", source.id)).into_response());
        }
        Err(ServiceError::Validation(errors)) => errors.0,
        Err(other) => return Err(other.into()),
    };
    let values = SourceValues {
        name: form.name,
        streams: form.streams,
        output_kind: form.output_kind,
        output_path: form.output_path,
        sync_mode: form.sync_mode,
    };
    let page = source_form(
        &session,
        (&credential).into(),
        &values,
        &errors,
        FormTarget::New,
    );
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_streams_are_all_kept() {
        let form = parse(b"csrf=t&streams=boards&streams=pins&output_kind=jsonl&name=a%20b");
        assert_eq!(form.streams, vec!["boards", "pins"]);
        assert_eq!(form.name, "a b");
        assert_eq!(form.csrf, "t");
    }
}
