//! `GET /sign-in`: the sign-in form, with a fresh server-signed
//! double-submit CSRF cookie (`Sessions::issue_signin_token`).

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};

use crate::AppState;
use crate::web::layout::public_page;
use crate::web::session::signin_cookie;

/// The form, with `error` above it and `username` kept; `setup` adds the
/// way to the first account of an empty install.
pub fn form(csrf: &str, username: &str, error: Option<&str>, setup: bool) -> Markup {
    public_page(
        "Sign in",
        html! {
            h1 { "Sign in to Pinion" }
            @if setup {
                p class="notice setup" {
                    "No account exists yet. "
                    a href="/setup" { "Create the first account" }
                    " with the setup key in Pinion's data directory."
                }
            }
            @if let Some(error) = error {
                p class="notice bad" role="alert" { (crate::web::layout::prose(error)) }
            }
            form method="post" action="/sign-in" {
                input type="hidden" name="csrf" value=(csrf);
                div class="field" {
                    label for="username" { "Username" }
                    input type="text" id="username" name="username" value=(username)
                        autocomplete="username" required autofocus;
                }
                div class="field" {
                    label for="password" { "Password" }
                    input type="password" id="password" name="password"
                        autocomplete="current-password" required;
                }
                div class="buttons" {
                    button class="primary" type="submit" { "Sign in" }
                }
            }
        },
    )
}

/// Renders the form and sets the cookie its CSRF token must match.
pub async fn get(State(state): State<AppState>) -> Response {
    let value = state.sessions.issue_signin_token();
    let cookie = signin_cookie(&state.public_url, &value);
    let setup = crate::web::setup::open(&state).await;
    (
        [(header::SET_COOKIE, cookie)],
        Html(form(&value, "", None, setup).into_string()),
    )
        .into_response()
}
