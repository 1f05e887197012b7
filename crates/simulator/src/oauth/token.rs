//! The token endpoint `POST /v5/oauth/token`: HTTP Basic client authentication, a
//! form-encoded body, and the `authorization_code`, `refresh_token` and
//! `client_credentials` grants with Pinterest's response shapes and error codes.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use crate::error::{ApiError, json_response};
use crate::oauth::session::same_secret;
use crate::ops::{Category, ScopeSet};
use crate::params::{Params, form_decode};
use crate::state::Shared;
use crate::tokens::{GrantError, Issued};

/// The success body; `response_type` tells the variants apart.
#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    response_type: &'static str,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_expires_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_expires_at: Option<i64>,
}

fn token_json(issued: &Issued, response_type: &'static str) -> Response {
    let body = TokenResponse {
        access_token: &issued.access_token,
        response_type,
        token_type: "bearer",
        expires_in: issued.expires_in,
        scope: issued.scopes.to_space_separated(),
        refresh_token: issued.refresh_token.as_deref(),
        refresh_token_expires_in: issued.refresh_expires_in,
        refresh_token_expires_at: issued.refresh_expires_at,
    };
    json_response(StatusCode::OK, &body)
}

/// Parses `Authorization: Basic …` into (client id, secret), each form-decoded as
/// RFC 6749 section 2.3.1 requires.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// `POST /v5/oauth/token`.
pub async fn token(State(state): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let grant_label = Params::parse(&body)
        .ok()
        .and_then(|p| p.get("grant_type").ok().flatten().map(str::to_owned))
        .unwrap_or_else(|| "(none)".to_owned());
    let (res, rate) = handle(&state, &headers, &body);
    let ok = res.as_ref().is_ok();
    state.count_grant(&grant_label, ok);
    let mut res = match res {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(grant_type = %grant_label, status = e.status.as_u16(), code = e.code, "Refused a token request.");
            e.into_response()
        }
    };
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    if let Some(info) = rate {
        crate::api::auth::rate_headers(h, &info);
    }
    res
}

type Outcome = (
    Result<Response, ApiError>,
    Option<crate::ratelimit::RateInfo>,
);

fn handle(state: &Shared, headers: &HeaderMap, body: &str) -> Outcome {
    let Some((client_id, secret)) = basic_credentials(headers) else {
        return (Err(ApiError::auth_failed()), None);
    };
    let (known, owner) = {
        let store = state.store();
        match store.apps.get(&client_id) {
            Some(app) => (
                same_secret(&app.secret, &secret),
                app.owner.as_deref().and_then(|o| store.user_index(o)),
            ),
            None => (false, None),
        }
    };
    if !known {
        return (Err(ApiError::auth_failed()), None);
    }
    let rate = state.limiter.check(None, &client_id, Category::OrgRead);
    if rate.is_some_and(|r| r.exceeded) {
        return (Err(ApiError::rate_limited()), rate);
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return (
            Err(ApiError::invalid(
                "The request body must be application/x-www-form-urlencoded.",
            )),
            rate,
        );
    }
    (grant(state, &client_id, owner, body), rate)
}

fn grant(
    state: &Shared,
    client_id: &str,
    owner: Option<usize>,
    body: &str,
) -> Result<Response, ApiError> {
    let params = Params::parse(body).map_err(|e| ApiError::invalid(e.0))?;
    let p = |name: &str| params.get(name).map_err(|e| ApiError::invalid(e.0));
    if let Some(body_client) = p("client_id")?
        && body_client != client_id
    {
        return Err(ApiError::auth_failed());
    }
    let parse_scope = |text: &str| {
        ScopeSet::parse_list(text)
            .map_err(|unknown| ApiError::invalid(format!("Unknown scope '{unknown}'.")))
            .and_then(|s| {
                if s.is_empty() {
                    Err(ApiError::invalid("Parameter 'scope' is empty."))
                } else {
                    Ok(s)
                }
            })
    };
    match p("grant_type")? {
        Some("authorization_code") => {
            let code = params
                .required("code")
                .map_err(|e| ApiError::invalid(e.0))?;
            let redirect_uri = params
                .required("redirect_uri")
                .map_err(|e| ApiError::invalid(e.0))?;
            let issued = state
                .tokens()
                .redeem_code(code, client_id, redirect_uri)
                .map_err(|_| ApiError::invalid_grant())?;
            tracing::info!(client_id = %client_id, "Exchanged an authorization code.");
            Ok(token_json(&issued, "authorization_code"))
        }
        Some("refresh_token") => {
            let refresh = params
                .required("refresh_token")
                .map_err(|e| ApiError::invalid(e.0))?;
            let scope = p("scope")?.map(parse_scope).transpose()?;
            let issued =
                state
                    .tokens()
                    .refresh(refresh, client_id, scope)
                    .map_err(|e| match e {
                        GrantError::InvalidGrant => ApiError::invalid_grant(),
                        GrantError::ScopeWidened => ApiError::invalid(
                            "The requested scope exceeds the scope originally granted.",
                        ),
                    })?;
            tracing::info!(client_id = %client_id, "Refreshed a token.");
            Ok(token_json(&issued, "refresh_token"))
        }
        Some("client_credentials") => {
            let scope = parse_scope(
                params
                    .required("scope")
                    .map_err(|e| ApiError::invalid(e.0))?,
            )?;
            let Some(owner) = owner else {
                return Err(ApiError::invalid_grant());
            };
            let issued = state.tokens().client_credentials(owner, client_id, scope);
            Ok(token_json(&issued, "client_credentials"))
        }
        Some(other) => Err(ApiError::invalid(format!(
            "Unsupported grant_type '{other}'."
        ))),
        None => Err(ApiError::invalid(
            "Missing required parameter 'grant_type'.",
        )),
    }
}
