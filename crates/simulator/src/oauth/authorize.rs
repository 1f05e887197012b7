//! The authorization endpoint `GET /oauth/` with its sign-in (`POST /oauth/login`) and
//! consent (`POST /oauth/consent`) forms.
//!
//! Every problem with `client_id` or `redirect_uri` (and, by the simulator's choice, every
//! other parameter problem) gives an HTML error page; the browser is only ever redirected
//! to a URI registered on the app, with `code` and `state` on approval or
//! `error=access_denied` and `state` on refusal.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::pages::{self, Carried};
use super::session::{self, same_secret};
use crate::ops::ScopeSet;
use crate::params::Params;
use crate::state::Shared;

/// A validated authorize request.
struct Validated {
    carried: Carried,
    app_name: String,
    scopes: ScopeSet,
}

/// Validates the authorize parameters; `Err` is the error page to show.
fn validate(state: &Shared, params: &Params) -> Result<Validated, Box<Response>> {
    let bad = |msg: &str| Box::new(pages::error(StatusCode::BAD_REQUEST, msg));
    let client_id = params.get("client_id").map_err(|e| bad(&e.0))?;
    let consumer_id = params.get("consumer_id").map_err(|e| bad(&e.0))?;
    let client_id = match (client_id, consumer_id) {
        (Some(a), Some(b)) if a != b => {
            return Err(bad("client_id and consumer_id disagree."));
        }
        (Some(a), _) | (None, Some(a)) if !a.is_empty() => a.to_owned(),
        _ => return Err(bad("Missing required parameter 'client_id'.")),
    };
    let store = state.store();
    let Some(app) = store.apps.get(&client_id) else {
        return Err(bad("This app is not registered with Pinterest."));
    };
    let redirect_uri = params
        .required("redirect_uri")
        .map_err(|e| bad(&e.0))?
        .to_owned();
    if !app.redirect_uris.contains(&redirect_uri) {
        return Err(bad(
            "The redirect_uri does not match any redirect URI registered for this app.",
        ));
    }
    match params.get("response_type").map_err(|e| bad(&e.0))? {
        Some("code") => {}
        Some(_) => return Err(bad("response_type must be 'code'.")),
        None => return Err(bad("Missing required parameter 'response_type'.")),
    }
    let scope_text = params.required("scope").map_err(|e| bad(&e.0))?.to_owned();
    let scopes = ScopeSet::parse_list(&scope_text)
        .map_err(|unknown| bad(&format!("Unknown scope '{unknown}'.")))?;
    if scopes.is_empty() {
        return Err(bad("At least one scope is required."));
    }
    let state_param = params
        .get("state")
        .map_err(|e| bad(&e.0))?
        .map(str::to_owned);
    Ok(Validated {
        carried: Carried {
            client_id,
            redirect_uri,
            scope: scope_text,
            state: state_param,
        },
        app_name: app.name.clone(),
        scopes,
    })
}

/// Builds the redirect back to the client with extra query pairs.
fn redirect_back(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => return pages::error(StatusCode::BAD_REQUEST, "Invalid redirect URI."),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    let mut res = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn approve(state: &Shared, user: usize, v: &Validated) -> Response {
    let code = state.tokens().issue_code(
        user,
        &v.carried.client_id,
        &v.carried.redirect_uri,
        v.scopes,
    );
    tracing::info!(client_id = %v.carried.client_id, "Issued an authorization code.");
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = &v.carried.state {
        pairs.push(("state", s));
    }
    redirect_back(&v.carried.redirect_uri, &pairs)
}

fn with_cookie(mut res: Response, session_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(session_id)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// `GET /oauth/`.
pub async fn authorize(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match Params::parse(query.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return pages::error(StatusCode::BAD_REQUEST, &e.0),
    };
    let v = match validate(&state, &params) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let hint = params.get("username").ok().flatten().map(str::to_owned);

    if let Some((_, session)) = state.sessions.of_request(&headers)
        && let Some(user) = session.user
    {
        let (auto, username) = {
            let store = state.store();
            let u = &store.users[user];
            (u.auto_approve, u.username.clone())
        };
        if auto {
            return approve(&state, user, &v);
        }
        return pages::consent(&v.carried, &session.csrf, &v.app_name, &username, v.scopes);
    }

    // No signed-in browser: an auto-approving user named by the hint, or the only
    // auto-approving user, plays the person who signs in and clicks Accept.
    let auto_user = {
        let store = state.store();
        match &hint {
            Some(name) => store
                .user_index(name)
                .filter(|i| store.users[*i].auto_approve),
            None => {
                let mut auto = store
                    .users
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| u.auto_approve);
                match (auto.next(), auto.next()) {
                    (Some((i, _)), None) => Some(i),
                    _ => None,
                }
            }
        }
    };
    if let Some(user) = auto_user {
        return approve(&state, user, &v);
    }

    let (id, session) = state.sessions.start(None);
    with_cookie(
        pages::login(
            &v.carried,
            &session.csrf,
            hint.as_deref().unwrap_or(""),
            None,
        ),
        &id,
    )
}

fn form_params(headers: &HeaderMap, body: &str) -> Result<Params, Box<Response>> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(Box::new(pages::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Forms must be submitted as application/x-www-form-urlencoded.",
        )));
    }
    Params::parse(body).map_err(|e| Box::new(pages::error(StatusCode::BAD_REQUEST, &e.0)))
}

/// `POST /oauth/login`.
pub async fn login(State(state): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let params = match form_params(&headers, &body) {
        Ok(p) => p,
        Err(page) => return *page,
    };
    let Some((session_id, session)) = state.sessions.of_request(&headers) else {
        return pages::error(
            StatusCode::FORBIDDEN,
            "Your session expired or cookies are disabled. Start again from the app.",
        );
    };
    let csrf = params.get("csrf_token").ok().flatten().unwrap_or("");
    if !same_secret(csrf, &session.csrf) {
        return pages::error(
            StatusCode::FORBIDDEN,
            "The form was not valid. Start again.",
        );
    }
    let v = match validate(&state, &params) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let username = params
        .get("username")
        .ok()
        .flatten()
        .unwrap_or("")
        .to_owned();
    let password = params.get("password").ok().flatten().unwrap_or("");
    let user = {
        let store = state.store();
        store
            .user_index(&username)
            .filter(|i| same_secret(&store.users[*i].password, password))
    };
    let Some(user) = user else {
        tracing::info!("A sign-in attempt failed.");
        return pages::login(
            &v.carried,
            &session.csrf,
            &username,
            Some("The username or password you entered is incorrect."),
        );
    };
    // A new session id on sign-in prevents session fixation.
    state.sessions.end(&session_id);
    let (new_id, new_session) = state.sessions.start(Some(user));
    let (auto, name) = {
        let store = state.store();
        (
            store.users[user].auto_approve,
            store.users[user].username.clone(),
        )
    };
    let res = if auto {
        approve(&state, user, &v)
    } else {
        pages::consent(&v.carried, &new_session.csrf, &v.app_name, &name, v.scopes)
    };
    with_cookie(res, &new_id)
}

/// `POST /oauth/consent`.
pub async fn consent(State(state): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let params = match form_params(&headers, &body) {
        Ok(p) => p,
        Err(page) => return *page,
    };
    let Some((_, session)) = state.sessions.of_request(&headers) else {
        return pages::error(
            StatusCode::FORBIDDEN,
            "Your session expired. Start again from the app.",
        );
    };
    let csrf = params.get("csrf_token").ok().flatten().unwrap_or("");
    if !same_secret(csrf, &session.csrf) {
        return pages::error(
            StatusCode::FORBIDDEN,
            "The form was not valid. Start again.",
        );
    }
    let Some(user) = session.user else {
        return pages::error(StatusCode::FORBIDDEN, "Log in first.");
    };
    let v = match validate(&state, &params) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    match params.get("decision").ok().flatten() {
        Some("accept") => approve(&state, user, &v),
        Some("decline") => {
            let mut pairs = vec![("error", "access_denied")];
            if let Some(s) = &v.carried.state {
                pairs.push(("state", s));
            }
            redirect_back(&v.carried.redirect_uri, &pairs)
        }
        _ => pages::error(StatusCode::BAD_REQUEST, "Choose Give access or Decline."),
    }
}
