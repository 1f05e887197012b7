//! `/setup`: the first account of an empty install, made in the browser.
//!
//! `pinion serve` started on a store with no account makes a one-time setup
//! key and writes it to `setup-key` in the data directory (0600), for whoever
//! runs Pinion; the key is never logged nor put in a URL. The page asks for it, a username and a
//! password, creates that account as an admin (the key stands for the
//! operator) and signs it in. While an account exists, or when the server
//! has no key, the page is a 404. The form carries the sign-in form's
//! signed double-submit token (SECURITY.md R33).

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{Markup, html};
use pinion_domain::{FieldError, Password};
use pinion_service::ServiceError;
use serde::Deserialize;

use crate::AppState;
use crate::web::WebError;
use crate::web::layout::{field_error, prose, public_page, text_field};
use crate::web::session::signin_cookie;
use crate::web::sign_in::{form_token_ok, signed_in_response};

/// Whether the page may be used now: the server has a key and no account
/// exists. Once an account is found the key is closed, so the sign-in page
/// stops asking the store. A database error counts as no (the sign-in page
/// still works).
pub(crate) async fn open(state: &AppState) -> bool {
    let Some(key) = &state.setup_key else {
        return false;
    };
    if key.is_closed() {
        return false;
    }
    match state.sessions.needs_first_account().await {
        Ok(true) => true,
        Ok(false) => {
            key.close();
            false
        }
        Err(_) => false,
    }
}

/// The form's fields.
#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    setup_key: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

fn form(csrf: &str, username: &str, errors: &[FieldError]) -> Markup {
    let general: Vec<&FieldError> = errors
        .iter()
        .filter(|e| !["setup_key", "username", "password"].contains(&e.field))
        .collect();
    let secret_field = |id: &'static str, label: &str, autocomplete: &str, hint: &str| {
        let error = field_error(errors, id);
        html! {
            div class={ "field" @if error.is_some() { " invalid" } } {
                label for=(id) { (label) }
                input type="password" id=(id) name=(id) autocomplete=(autocomplete) required
                    aria-invalid=[error.map(|_| "true")]
                    aria-describedby={ (id) "-hint" @if error.is_some() { " " (id) "-error" } };
                p class="hint" id={ (id) "-hint" } { (prose(hint)) }
                @if let Some(error) = error {
                    p class="error" id={ (id) "-error" } { (prose(error)) }
                }
            }
        }
    };
    public_page(
        "Create the first account",
        html! {
            h1 { "Create the first account" }
            p {
                (prose("This Pinion has no account yet. The first one is an admin; more are made with `pinion users create`."))
            }
            @for error in general {
                p class="notice bad" role="alert" { (prose(&error.message)) }
            }
            form method="post" action="/setup" novalidate {
                input type="hidden" name="csrf" value=(csrf);
                (secret_field("setup_key", "Setup key", "off",
                    "The key in the file `setup-key` in Pinion's data directory (`pinion serve` says where when it starts), such as `3f9a-…`. It works once."))
                (text_field("username", "Username", username,
                    Some("Letters, digits, dots, underscores and hyphens."), errors))
                (secret_field("password", "Password", "new-password",
                    "At least 12 characters. Not kept on this page if something is wrong."))
                div class="buttons" {
                    button class="primary" type="submit" { "Create and sign in" }
                }
            }
            p { a href="/sign-in" { "Back to sign in" } }
        },
    )
}

/// The page with a fresh signed form token (and its cookie).
fn page(state: &AppState, status: StatusCode, username: &str, errors: &[FieldError]) -> Response {
    let value = state.sessions.issue_signin_token();
    (
        status,
        [(header::SET_COOKIE, signin_cookie(&state.public_url, &value))],
        Html(form(&value, username, errors).into_string()),
    )
        .into_response()
}

/// `GET /setup`
pub async fn get(State(state): State<AppState>) -> Result<Response, WebError> {
    if !open(&state).await {
        return Err(WebError::NotFound);
    }
    Ok(page(&state, StatusCode::OK, "", &[]))
}

/// `POST /setup`: creates the account and signs it in, or shows the form
/// again with every error next to its field (the username kept).
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> Result<Response, WebError> {
    let Some(key) = state.setup_key.as_ref() else {
        return Err(WebError::NotFound);
    };
    if !form_token_ok(&state, &headers, &form.csrf) {
        return Err(WebError::BadSignInForm);
    }
    let password = Password::new(form.password);
    let created = state
        .sessions
        .create_first_account(key, &form.setup_key, &form.username, &password)
        .await;
    let errors = match created {
        Ok(signed_in) => return signed_in_response(&state, &signed_in),
        Err(ServiceError::Validation(errors)) => errors.0,
        Err(ServiceError::Forbidden(reason)) => vec![FieldError::new("setup_key", reason)],
        // Someone made the first account meanwhile: sign in instead.
        Err(ServiceError::Conflict { .. }) => {
            return Ok(Redirect::to("/sign-in").into_response());
        }
        Err(other) => return Err(other.into()),
    };
    Ok(page(
        &state,
        StatusCode::UNPROCESSABLE_ENTITY,
        &form.username,
        &errors,
    ))
}
