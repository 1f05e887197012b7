//! `/settings/tokens`: the signed-in user's API tokens for the JSON API.
//!
//! - `GET /settings/tokens`: the tokens (name, id, created, last used; never
//!   the token) and a form to create one.
//! - `POST /settings/tokens`: creates a token and shows it once, on the
//!   answer to the POST itself (never in a URL), with a copy hint.
//! - `POST /settings/tokens/{id}/revoke`: revokes one (another user's id is
//!   a 404, as for an unknown one).

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{Markup, html};
use pinion_domain::ApiToken;
use pinion_service::ServiceError;
use serde::Deserialize;

use crate::AppState;
use crate::web::layout::{page, when};
use crate::web::{Session, WebError};

/// The create form.
#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// The revoke form.
#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
}

/// The page's query.
#[derive(Deserialize)]
pub struct TokensQuery {
    revoked: Option<String>,
}

async fn render(
    state: &AppState,
    session: &Session,
    created: Option<(&ApiToken, &str)>,
    notice: Option<&str>,
    name: &str,
    name_error: Option<&str>,
) -> Result<Markup, WebError> {
    let tokens = state.users.tokens(&session.user).await?;
    let csrf = session.csrf();
    let content = html! {
        h1 { "API tokens" }
        p class="step" {
            "Tokens let scripts use Pinion's JSON API as you: send one as "
            code { "Authorization: Bearer <token>" } "."
        }
        @if let Some((token, token_name)) = created {
            div class="notice token-created" role="status" {
                p { "Token " strong { (token_name) } " created. Copy it now: it is not shown again." }
                div class="copy-row" {
                    input type="text" id="new-token" readonly value=(token.expose_secret()) aria-label="The new token";
                    button type="button" class="copy" data-copy="#new-token" hidden { "Copy" }
                }
            }
        }
        @if let Some(notice) = notice { p class="notice" role="status" { (notice) } }
        form class="overlay narrow-form" method="post" action="/settings/tokens" {
            input type="hidden" name="csrf" value=(csrf);
            div class={ "field" @if name_error.is_some() { " invalid" } } {
                label for="name" { "Token name" }
                input type="text" id="name" name="name" value=(name) maxlength="64";
                p class="hint" { "What uses it, e.g. \"Weekly export script\"." }
                @if let Some(error) = name_error { p class="error" id="name-error" { (crate::web::layout::prose(error)) } }
            }
            div class="buttons" { button class="primary" type="submit" { "Create token" } }
        }
        @if tokens.is_empty() {
            p class="hint" { "You have no API tokens." }
        } @else {
            table class="tokens" {
                thead { tr { th { "Name" } th { "Id" } th { "Created" } th { "Last used" } th {} } }
                tbody {
                    @for token in &tokens {
                        tr data-token=(token.id) {
                            td class="name" { (token.name.as_deref().unwrap_or("(unnamed)")) }
                            td { code { (token.id) } }
                            td { (when(Some(token.created_at))) }
                            td class="last-used" { (when(token.last_used_at)) }
                            td {
                                form method="post" action={ "/settings/tokens/" (token.id) "/revoke" } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button type="submit" class="revoke" { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page("API tokens", session, content))
}

/// `GET /settings/tokens`
pub async fn get(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<TokensQuery>,
) -> Result<Html<String>, WebError> {
    let notice = query.revoked.is_some().then_some("The token was revoked.");
    Ok(Html(
        render(&state, &session, None, notice, "", None)
            .await?
            .into_string(),
    ))
}

/// `POST /settings/tokens`
pub async fn post(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<CreateForm>,
) -> Result<Response, WebError> {
    session.check_csrf(&form.csrf)?;
    match state
        .users
        .create_named_token(&session.user, &form.name)
        .await
    {
        Ok((token, info)) => {
            let name = info.name.clone().unwrap_or_default();
            let page = render(&state, &session, Some((&token, &name)), None, "", None).await?;
            Ok(Html(page.into_string()).into_response())
        }
        Err(ServiceError::Validation(errors)) => {
            let message = errors
                .0
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            let page = render(&state, &session, None, None, &form.name, Some(&message)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /settings/tokens/{id}/revoke`
pub async fn revoke(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Result<Response, WebError> {
    session.check_csrf(&form.csrf)?;
    let id = WebError::path_id::<pinion_domain::ApiTokenId>(&id)?;
    state.users.revoke_token(&session.user, &id).await?;
    Ok(Redirect::to("/settings/tokens?revoked=1").into_response())
}
