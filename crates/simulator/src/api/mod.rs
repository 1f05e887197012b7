//! The v5 REST API: routes, and the request parsing every operation shares (path ids,
//! pagination parameters, bookmarks, JSON bodies and the `ad_account_id` parameter).

pub mod ads;
pub mod auth;
pub mod boards;
pub mod columns;
pub mod pins;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use axum::middleware;
use axum::routing::get;
use serde_json::{Map, Value};

use crate::bookmark::{Cursor, ListKind};
use crate::error::ApiError;
use crate::params::Params;
use crate::state::Shared;

/// The routes under `/v5` (without the token endpoint).
pub fn routes(state: Shared) -> Router<Shared> {
    Router::new()
        .route("/v5/user_account", get(ads::user_account))
        .route("/v5/boards", get(boards::list).post(boards::create))
        .route(
            "/v5/boards/{board_id}",
            get(boards::get_one)
                .patch(boards::update)
                .delete(boards::delete),
        )
        .route("/v5/boards/{board_id}/pins", get(boards::list_pins))
        .route(
            "/v5/boards/{board_id}/sections",
            get(boards::list_sections).post(boards::create_section),
        )
        .route(
            "/v5/boards/{board_id}/sections/{section_id}/pins",
            get(boards::list_section_pins),
        )
        .route("/v5/pins", get(pins::list).post(pins::create))
        .route(
            "/v5/pins/{pin_id}",
            get(pins::get_one).patch(pins::update).delete(pins::delete),
        )
        .route("/v5/ad_accounts", get(ads::list))
        .route("/v5/ad_accounts/{ad_account_id}", get(ads::get_one))
        .route(
            "/v5/ad_accounts/{ad_account_id}/analytics",
            get(ads::analytics),
        )
        .route_layer(middleware::from_fn_with_state(state, auth::authenticate))
}

/// Parses the query string.
pub fn query(raw: Option<String>) -> Result<Params, ApiError> {
    Params::parse(raw.as_deref().unwrap_or("")).map_err(|e| ApiError::invalid(e.0))
}

/// Parses a numeric path id; anything else is 400 code 1.
pub fn path_id(text: &str, name: &str) -> Result<u64, ApiError> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(format!(
            "Parameter '{name}' must be a numeric id (was {text})"
        )));
    }
    text.parse()
        .map_err(|_| ApiError::invalid(format!("Parameter '{name}' is out of range")))
}

/// `page_size`: 1 to 250, default 25.
pub fn page_size(params: &Params) -> Result<usize, ApiError> {
    match params
        .get("page_size")
        .map_err(|e| ApiError::invalid(e.0))?
    {
        None => Ok(25),
        Some(text) => {
            let n: i64 = text.parse().map_err(|_| {
                ApiError::invalid(format!(
                    "Parameter 'page_size' was not numeric (was {text})"
                ))
            })?;
            if !(1..=250).contains(&n) {
                return Err(ApiError::invalid(format!(
                    "Parameter 'page_size' must be between 1 and 250 (was {n})"
                )));
            }
            Ok(n as usize)
        }
    }
}

/// Checks the optional `bookmark` against this list and returns its positions.
pub fn bookmark(
    state: &Shared,
    params: &Params,
    kind: ListKind,
    user: u64,
    context: u64,
) -> Result<Option<[u64; 3]>, ApiError> {
    match params.get("bookmark").map_err(|e| ApiError::invalid(e.0))? {
        None => Ok(None),
        Some(text) => state
            .bookmarks
            .verify(text, kind, user, context)
            .map(Some)
            .ok_or_else(|| ApiError::invalid("Invalid bookmark.")),
    }
}

/// Signs the bookmark of the next page.
pub fn sign(state: &Shared, kind: ListKind, user: u64, context: u64, pos: [u64; 3]) -> String {
    state.bookmarks.sign(&Cursor {
        kind,
        user,
        context,
        pos,
    })
}

/// Checks the optional `ad_account_id` parameter: digits, at most 18, an account the
/// caller owns. The operation user stays the caller, as ad accounts are not shared here.
pub fn check_ad_account_param(
    state: &Shared,
    params: &Params,
    user: usize,
) -> Result<(), ApiError> {
    let Some(text) = params
        .get("ad_account_id")
        .map_err(|e| ApiError::invalid(e.0))?
    else {
        return Ok(());
    };
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(format!(
            "Parameter 'ad_account_id' must be at most 18 digits (was {text})"
        )));
    }
    let id: u64 = text
        .parse()
        .map_err(|_| ApiError::invalid("Parameter 'ad_account_id' is out of range"))?;
    let store = state.store();
    match store.ad_accounts.get(&id) {
        Some(ad) if ad.owner == user => Ok(()),
        _ => Err(ApiError::forbidden()),
    }
}

/// Parses a JSON object body; the content type must be JSON.
pub fn json_object(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::invalid(
            "The request body must be JSON (Content-Type: application/json).",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid("The request body must be a JSON object.")),
        Err(_) => Err(ApiError::invalid("The request body is not valid JSON.")),
    }
}

/// A field that may be absent, `null` or a string.
pub enum Field<T> {
    /// Not in the body.
    Absent,
    /// `null`.
    Null,
    /// A value.
    Value(T),
}

/// Reads an optional string field with a maximum length in characters.
pub fn string_field(
    map: &Map<String, Value>,
    name: &str,
    max_chars: Option<usize>,
) -> Result<Field<String>, ApiError> {
    match map.get(name) {
        None => Ok(Field::Absent),
        Some(Value::Null) => Ok(Field::Null),
        Some(Value::String(s)) => {
            if let Some(max) = max_chars {
                let n = s.chars().count();
                if n > max {
                    return Err(ApiError::invalid(format!(
                        "Parameter '{name}' is too long: {n} characters, at most {max} allowed."
                    )));
                }
            }
            Ok(Field::Value(s.clone()))
        }
        Some(_) => Err(ApiError::invalid(format!(
            "Parameter '{name}' must be a string."
        ))),
    }
}

/// Reads an optional boolean field.
pub fn bool_field(map: &Map<String, Value>, name: &str) -> Result<Option<bool>, ApiError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::invalid(format!(
            "Parameter '{name}' must be a boolean."
        ))),
    }
}

/// Whether a string is an absolute http(s) URL.
pub fn is_http_url(text: &str) -> bool {
    url::Url::parse(text)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}
