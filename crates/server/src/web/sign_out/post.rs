//! `POST /sign-out`: ends the session (after the CSRF check) and clears the
//! cookie.

use axum::Form;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::AppState;
use crate::web::session::clearing_session_cookie;
use crate::web::{Session, WebError};

/// The sign-out form's one field.
#[derive(Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

/// Ends the session and goes to the sign-in page.
pub async fn post(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<SignOutForm>,
) -> Result<Response, WebError> {
    session.check_csrf(&form.csrf)?;
    state.sessions.sign_out(&session.token).await?;
    Ok((
        [(
            header::SET_COOKIE,
            clearing_session_cookie(&state.public_url),
        )],
        Redirect::to("/sign-in"),
    )
        .into_response())
}
